"""Explore's Dropped rows: every row the export leaves out, with the reason (below the cut, a copy of a target or
evaluation row, a near-duplicate of a better row, excluded by hand or by a pattern, over its group's cap), counted
and filterable by reason, best first; ticked rows can be kept anyway or handed back to the cut."""

from __future__ import annotations

import numpy as np
import streamlit as st

from zipfit_core.analysis.curation import BELOW_THE_CUT, reasons_out

from ..state.session import show, widget
from . import curation
from .context import ExploreContext, selectable_table
from .shaping import selection_actions

LISTED_ROWS = 200
ALL_REASONS = "every reason"


def dropped_rows(context: ExploreContext) -> None:
    """The rows the export (with Export's curation settings) leaves out, by reason."""
    st.markdown("**Rows the export leaves out, and why.** The same switches as on Export:")
    settings = curation.curation_toggles(context, "dropped")
    state = curation.check_state(context) if settings.decontaminate else None
    flags = state.flags if state is not None else None
    if state is not None and flags is None and state.references:
        st.caption("The contamination check is still running: copies are listed once it is done.")
    curated = curation.curated_selection(context, settings, flags)
    codes, labels = reasons_out(curated)
    counts = np.bincount(codes[codes >= 0], minlength=len(labels))
    present = [label for label, count in zip(labels, counts) if count]
    options = [ALL_REASONS, *present]
    if widget("dropped.reason") not in options:  # a reason this cut no longer has: back to all
        show("dropped.reason", ALL_REASONS)
    chosen = st.radio("Reason", options, key="dropped.reason", horizontal=True,
                      format_func=lambda label: label if label == ALL_REASONS
                      else f"{label} ({int(counts[labels.index(label)]):,})")
    ranked = context.index.ranked
    wanted = codes[ranked] >= 0 if chosen == ALL_REASONS else codes[ranked] == labels.index(chosen)
    rows = ranked[wanted][:LISTED_ROWS]
    total = int(wanted.sum())
    st.caption(f"{total:,} rows{f' (the best {LISTED_ROWS} shown)' if total > LISTED_ROWS else ''}; the export keeps "
               f"{curated.selection.n_rows:,}. Tick rows to keep them anyway, or to hand rows you left out back to "
               "the cut." + (" Rows below the cut are the best of the rest." if chosen in (ALL_REASONS, BELOW_THE_CUT)
                             else ""))
    if len(rows) == 0:
        return
    why = [labels[code] for code in codes[rows]]
    picked = selectable_table(context, rows, f"dropped.rows.{chosen}.{context.cut_key}", extra={"why": why})
    selection_actions(context, picked, "dropped")
