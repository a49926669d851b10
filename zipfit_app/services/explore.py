"""What Explore and Score compute once per shown scores, cached in the server process by a version that
changes with the numbers: the ranking, groups and histogram, the score-against-length sample.

A cut change then costs a few milliseconds of `zipfit_core.analysis.explore` work
(benchmarks/bench_explore.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from zipfit_core.analysis.compare import length_bias, score_length_sample
from zipfit_core.analysis.explore import (
    GroupIndex,
    Histogram,
    ScoreIndex,
    build_group_index,
    build_score_index,
    group_columns,
    score_histogram,
)
from zipfit_core.data.loading import LoadedTexts

from .loaders import char_counts, token_counts
from .scores import ShownScores

NO_GROUP = "(none)"
DEFAULT_GROUP_COLUMNS = ("domain", "source", "kind", "category", "label", "type", "language", "split")


@st.cache_resource(max_entries=4, show_spinner="Ranking the scores...")
def _score_index(version: str, _scores: np.ndarray, _tokens: np.ndarray, _chars: np.ndarray) -> ScoreIndex:
    return build_score_index(_scores, token_counts=_tokens, n_chars=_chars)


def score_index_for(shown: ShownScores, source: LoadedTexts) -> ScoreIndex:
    """The ranking of the shown scores with the pool's token counts and lengths, cached by version."""
    return _score_index(shown.version, shown.scores, token_counts(source), char_counts(source))


@st.cache_resource(max_entries=8, show_spinner=False)
def groups_and_histogram(version: str, column: str | None, _index: ScoreIndex,
                         _values) -> tuple[GroupIndex | None, Histogram]:
    """Groups by a column (or none) and the histogram stacked by them, cached by scores version and column."""
    groups = build_group_index(_values, _index, column) if column else None
    return groups, score_histogram(_index, groups)


@st.cache_resource(max_entries=4, show_spinner=False)
def length_view(version: str, _scores: np.ndarray, _chars: np.ndarray) -> tuple[pd.DataFrame, float | None]:
    """A sample of (length, score) points and the score-length rank correlation."""
    sample = score_length_sample({"zipfit": _scores}, _chars, max_points=3000)
    bias = length_bias({"zipfit": _scores}, _chars)
    correlation = float(bias["spearman_score_length"].iloc[0]) if len(bias) else None
    return sample, correlation


@st.cache_resource(max_entries=8, show_spinner=False)
def _group_options(fingerprint: str, text_field: str | None, _table: pd.DataFrame) -> list[str]:
    return group_columns(_table, exclude=[text_field])


def group_options(source: LoadedTexts) -> list[str]:
    """The pool's columns worth grouping by (the text column aside), found once per pool: pages ask on every
    rerun, and each column's distinct values are counted."""
    return _group_options(source.fingerprint, source.text_field, source.table)


def group_column(chosen: str | None, source: LoadedTexts) -> str | None:
    """The column to group by: the one chosen (NO_GROUP for none), else a well-known name the pool has, else its
    first column worth grouping by."""
    options = group_options(source)
    if chosen == NO_GROUP:
        return None
    if chosen in options:
        return chosen
    return next((name for name in DEFAULT_GROUP_COLUMNS if name in options), options[0] if options else None)
