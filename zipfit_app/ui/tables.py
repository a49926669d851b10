"""How the app's tables show rows: column settings for sample tables, and rows as they are, shortened to read."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from zipfit_core.analysis.explore import text_preview


def score_columns(score_range: tuple[float, float]) -> dict:
    """Column settings for sample tables: the score as a bar (as in the paper's Table 1) from the lowest to the
    highest score of the pool (`ScoreIndex.score_range()`)."""
    low, high = score_range
    return {
        "score": st.column_config.ProgressColumn("score", format="%.4f", min_value=low,
                                                 max_value=max(high, low + 1e-9)),
        "text": st.column_config.TextColumn("beginning of the text", width="large"),
        "rank": st.column_config.NumberColumn("rank", format="%d"),
        "row": st.column_config.NumberColumn("row", format="%d"),
    }


def display_rows(table: pd.DataFrame, n_rows: int = 20, first: str | None = None) -> pd.DataFrame:
    """The first rows, column `first` leading, long strings shortened to one line (tables never render HTML)."""
    shown = table.head(n_rows).copy()
    if first in shown.columns:
        shown = shown[[first, *(name for name in shown.columns if name != first)]]
    for name in shown.columns:
        if shown[name].dtype == object:
            shown[name] = shown[name].map(lambda value: text_preview(value, 120) if isinstance(value, str) else value)
    return shown


def composition_columns(table) -> dict:
    """Column labels for the composition table: `NAME_share` reads as `NAME, share of kept`."""
    config = {"pool": st.column_config.NumberColumn("pool, rows", format="%d"),
              "pool_share": st.column_config.NumberColumn("pool, share", format="percent")}
    for name in table.columns:
        if name in config:
            continue
        if name.endswith("_share"):
            config[name] = st.column_config.NumberColumn(f"{name.removesuffix('_share')}, share of kept",
                                                         format="percent")
        else:
            config[name] = st.column_config.NumberColumn(f"{name}, rows kept", format="%d")
    return config
