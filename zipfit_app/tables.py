"""Column settings shared by the app's sample tables."""

from __future__ import annotations

import numpy as np
import streamlit as st


def score_columns(scores: np.ndarray) -> dict:
    """Column settings for sample tables: the score as a bar (as in the paper's Table 1)."""
    finite = scores[np.isfinite(scores)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    return {
        "score": st.column_config.ProgressColumn("score", format="%.4f", min_value=low,
                                                 max_value=max(high, low + 1e-9)),
        "text": st.column_config.TextColumn("beginning of the text", width="large"),
        "rank": st.column_config.NumberColumn("rank", format="%d"),
        "row": st.column_config.NumberColumn("row", format="%d"),
    }
