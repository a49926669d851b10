"""Explore's search over a pool (`zipfit_core.analysis.search.search_rows`: Arrow kernels over the stored texts,
batch by batch), answered once per pool and question and shared by every session."""

from __future__ import annotations

import numpy as np
import streamlit as st

from zipfit_core.analysis.search import RowSearch, search_rows
from zipfit_core.data.loading import LoadedTexts

from .loaders import char_counts


@st.cache_resource(max_entries=16, show_spinner="Searching the pool...")
def _matching(fingerprint: str, search: RowSearch, _source: LoadedTexts) -> np.ndarray:
    return search_rows(search, _source.texts, _source.table, char_counts(_source))


def matching_rows(source: LoadedTexts, search: RowSearch) -> np.ndarray:
    """The pool's rows `search` finds, ascending (ZipFitError: an unknown column)."""
    return _matching(source.fingerprint, search, source)
