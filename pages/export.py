"""Export: write the rows the cut keeps, with a manifest that reproduces them."""

import streamlit as st

from zipfit_app import curation_panel, cut_panel, datasets, explore_panel, export_panel
from zipfit_app.frame import require_frame

require_frame()  # a first request naming this page runs it alone: draw the whole app instead

st.title("Export")
context = explore_panel.load_context()
if context is None:
    st.stop()
cut_panel.notices(context)
if not context.shown.complete:
    st.info(f"Scoring is still running ({context.shown.targets_seen} of {context.shown.n_targets} targets): "
            "exports use the exact scores, so this page waits for them.", icon=":material/hourglass_top:")
    st.page_link("pages/score.py", label="See the progress", icon=":material/speed:")
    st.stop()

settings, ready = curation_panel.export_options(context)
if not ready:
    st.stop()
curated = curation_panel.curated_selection(context, settings, datasets.token_counts(context.source))
export_panel.summary(curated.selection)
curation_panel.removed_summary(curated)
kind, include_score = export_panel.options()
export_panel.preview(context, curated.selection, include_score)
export_panel.deliver(context, curated, kind, include_score)
