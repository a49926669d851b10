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
