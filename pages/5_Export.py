"""Export: write the rows the cut keeps, with a manifest that reproduces them."""

import streamlit as st

from zipfit_app import curation_panel, datasets, explore_panel, export_panel

st.title("Export")
context = explore_panel.load_context()
if context is None:
    st.stop()
if not context.shown.complete:
    st.info(f"Scoring is still running ({context.shown.targets_seen} of {context.shown.n_targets} targets): "
            "exports use the exact scores, so this page waits for them.", icon=":material/hourglass_top:")
    st.page_link("pages/2_Score.py", label="See the progress", icon=":material/speed:")
    st.stop()

settings, ready = curation_panel.export_options(context)
if not ready:
    st.stop()
curated = curation_panel.curated_selection(context, settings, datasets.token_counts(context.source))
export_panel.summary(context, curated.selection)
curation_panel.removed_summary(curated)
kind, include_score = export_panel.options()
export_panel.deliver(context, curated, kind, include_score)
