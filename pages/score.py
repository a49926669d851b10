"""Score: ZIP-FIT (or a baseline) on every source row in a background job, with a live preview."""

import streamlit as st

from zipfit_app import datasets, methods, results
from zipfit_app import score_panel as panel
from zipfit_app.frame import require_frame
from zipfit_app.markdown import message
from zipfit_app.view import get_view
from zipfit_core.errors import ZipFitError

require_frame()  # a first request naming this page runs it alone: draw the whole app instead

st.title("Score")

try:
    source, target = datasets.current("source"), datasets.current("target")
except ZipFitError as error:
    st.error(message(error), icon=":material/error:")
    source = target = None
if source is None:
    st.info("Load a source pool and a target set first, or open a score folder below.", icon=":material/info:")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/database:")
    panel.cached_results_panel()
    panel.score_folder_panel()
    st.stop()

method = methods.method_picker()
panel.work_summary(source, target, method)
if methods.compresses(method):
    panel.codec_settings()
else:
    methods.settings_widgets(method, "score")
view = get_view()
panel.let_go_note()
job_id = results.current_job(view) or results.attach_cached(source, target, view)
job_id = panel.start_button(job_id, source, target, view)
if job_id is not None:
    panel.progress_panel(job_id)
panel.cached_results_panel()
panel.score_folder_panel()
