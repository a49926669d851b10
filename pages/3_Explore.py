"""Explore: the score distribution, the cut, the rows on either side of it, and any row in full."""

import streamlit as st

from zipfit_app import curation_panel
from zipfit_app import explore_panel as panel

st.title("Explore")
context = panel.load_context()
if context is None:
    st.stop()
panel.preview_notice(context)

controls, chart = st.columns([2, 3], gap="large")
with controls:
    panel.cut_controls(context)
    panel.cut_counts(context)
    panel.group_picker(context)
with chart:
    panel.histogram(context)
    panel.composition_table(context)
    if context.shown.complete:
        st.page_link("pages/5_Export.py", label=f"Export these {context.summary.n_kept:,} rows",
                     icon=":material/download:")

curation_panel.explore_section(context)
panel.sample_tabs(context)
panel.row_detail(context, notes=curation_panel.row_note)
