"""Score: compress every source with every target in a background job, with a live preview."""

import streamlit as st

from zipfit_app import datasets, scoring
from zipfit_app.markdown import literal
from zipfit_app.score_panel import cached_results_panel, codec_settings, progress_panel
from zipfit_app.view import get_view
from zipfit_core.errors import ZipFitError

st.title("Score")

try:
    source, target = datasets.current("source"), datasets.current("target")
except ZipFitError as error:
    st.error(literal(error), icon=":material/error:")
    source = target = None
if source is None or target is None:
    st.info("Load a source pool and a target set first.", icon=":material/info:")
    st.page_link("pages/1_Data.py", label="Go to Data", icon=":material/database:")
    cached_results_panel()
    st.stop()

pairs = len(source.texts) * len(target.texts)
st.markdown(f"**{len(source.texts):,} source rows** x **{len(target.texts):,} targets** = {pairs:,} compressions "
            f"of a source joined with a target.")
codec_settings()
view = get_view()
job_id = scoring.current_job(view) or scoring.attach_cached(source, target, view)

state = None
if job_id is not None:
    try:
        state = scoring.status(job_id).state
    except ZipFitError:
        job_id = None
if state != "done":  # a finished job needs no button: its scores are exact and cached
    running = state in ("queued", "running")
    label = {"queued": "Waiting to start...", "running": "Scoring...", "cancelled": "Resume scoring",
             "failed": "Try again"}.get(state, "Start scoring")
    if st.button(label, type="primary", disabled=running, icon=":material/play_arrow:"):
        try:
            job_id = scoring.start(source, target, view)
        except ZipFitError as error:
            st.error(literal(error), icon=":material/error:")
        else:
            st.rerun()

if job_id is not None:
    progress_panel(job_id)
cached_results_panel()
