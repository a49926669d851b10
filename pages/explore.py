"""Explore: the score distribution, the cut, the rows on either side of it, and any row in full."""

import streamlit as st

from zipfit_app import curation_panel, cut_panel, row_panel
from zipfit_app import explore_panel as panel
from zipfit_app.frame import require_frame

require_frame()  # a first request naming this page runs it alone: draw the whole app instead

st.title("Explore")
context = panel.load_context()
if context is None:
    st.stop()
panel.preview_notice(context)
cut_panel.notices(context)

controls, chart = st.columns([2, 3], gap="large")
with controls:
    cut_panel.cut_controls(context)
    cut_panel.cut_counts(context)
    panel.group_picker(context)
with chart:
    cut_panel.histogram(context)
    panel.composition_table(context)
    if context.shown.complete:
        st.page_link("pages/export.py", label=f"Export these {context.summary.n_kept:,} rows",
                     icon=":material/download:")

curation_panel.explore_section(context)
panel.sample_tabs(context)
row_panel.row_detail(context, notes=curation_panel.row_note)
