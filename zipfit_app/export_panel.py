"""The Export page's pieces: the selection for the current cut, format choice, download or folder export."""

from __future__ import annotations

import streamlit as st

from zipfit_core.analysis.curation import CuratedSelection
from zipfit_core.analysis.selection import Selection, TokenCounter

from . import curation_panel, exporting, results
from .config import app_settings
from .explore_panel import ExploreContext
from .markdown import literal, message
from .tables import display_rows
from .view import get_view
from .view_state import describe_cut

PAYLOAD_KEY = "export.payload"  # the callable the download button runs (tests call it too)
MANIFEST_PAYLOAD_KEY = "export.manifest_payload"  # ... and the manifest's
FOLDER_JOB_KEY = "export.folder_job"
PREVIEW_ROWS = 5


def summary(selection: Selection) -> None:
    tokens = f"{selection.tokens_kept:,} tokens (approx.)"
    if selection.last_row_tokens is not None:
        tokens += f", the last row truncated to {selection.last_row_tokens:,} tokens"
    st.markdown(f"The cut **{literal(describe_cut(selection.rule.kind, selection.rule.value))}** keeps "
                f"**{selection.n_rows:,} of {selection.total_rows:,} rows**: {tokens}.")
    st.page_link("pages/explore.py", label="Change the cut on Explore", icon=":material/tune:")


def options() -> tuple[str, bool]:
    st.session_state.setdefault("export.format", "jsonl")
    st.session_state.setdefault("export.include_score", True)
    a, b = st.columns([3, 2])
    kind = a.radio("Format", list(exporting.FORMATS), key="export.format", horizontal=True,
                   format_func=lambda name: exporting.FORMATS[name].label)
    include_score = b.toggle("Add the score column (`zipfit_score`)", key="export.include_score")
    st.caption("Rows keep all their original columns, best first. A manifest beside the file records the "
               "datasets' fingerprints, the scoring settings and the cut, so the subset can be reproduced.")
    return kind, include_score


def preview(context: ExploreContext, selection: Selection, include_score: bool) -> None:
    """The first rows as the file will hold them (its columns, not the app's rank and row)."""
    if not selection.n_rows:
        return
    with st.expander(f"The first {min(PREVIEW_ROWS, selection.n_rows)} rows of the file"):
        table = exporting.first_rows(context.source, context.index.scores, selection, TokenCounter(), include_score,
                                     PREVIEW_ROWS)
        st.dataframe(display_rows(table), hide_index=True, key="export.preview")


def deliver(context: ExploreContext, curated: CuratedSelection, kind: str, include_score: bool) -> None:
    """A download button for small exports (built only when clicked), a folder export for large ones."""
    selection = curated.selection
    if selection.n_rows == 0:
        st.warning("The cut keeps no rows: loosen it on the Explore page.", icon=":material/warning:")
        return
    counter = TokenCounter()
    view = get_view()
    run = results.score_run(view, context.source, context.target)
    stem = exporting.export_stem(context.source.origin, selection.rule)
    name = exporting.file_name(stem, kind)
    scores = context.index.scores
    settings = app_settings()
    if selection.n_rows <= settings.small_export_rows:
        payload = lambda: exporting.export_bytes(context.source, scores, selection, counter, kind,  # noqa: E731
                                                 include_score)
        manifest = lambda: exporting.manifest_bytes(run, selection, counter, name, kind, include_score,  # noqa: E731
                                                    curated)
        st.session_state[PAYLOAD_KEY], st.session_state[MANIFEST_PAYLOAD_KEY] = payload, manifest
        a, b, c = st.columns(3)
        a.download_button(f"Download {name}", data=payload, file_name=name, mime=exporting.FORMATS[kind].mime,
                          type="primary", icon=":material/download:", key="export.download", on_click="ignore")
        b.download_button("Download the manifest", key="export.manifest", icon=":material/description:",
                          data=manifest,
                          file_name=name + ".manifest.json", mime="application/json", on_click="ignore")
        if curated.removes_rows:
            c.download_button("Download the rows left out", key="export.removed", icon=":material/playlist_remove:",
                              data=lambda: curation_panel.removed_bytes(curated), file_name=name + ".removed.jsonl",
                              mime="application/jsonl", on_click="ignore")
        return
    st.info(f"{selection.n_rows:,} rows is more than a download should carry (limit "
            f"{settings.small_export_rows:,}, set ZIPFIT\\_SMALL\\_EXPORT\\_ROWS): it is written to "
            f"{literal(settings.export_root)} instead.", icon=":material/folder:")
    if st.button("Write to the export folder", type="primary", icon=":material/save:"):
        st.session_state[FOLDER_JOB_KEY] = exporting.start_folder_export(
            settings.export_root, stem, context.source, scores, curated, counter, run, kind, include_score)
    if export := st.session_state.get(FOLDER_JOB_KEY):
        folder_progress(export)


def folder_progress(export: exporting.FolderExport) -> None:
    status = exporting.export_status(export)
    if status is None:
        return

    @st.fragment(run_every=None if status.finished else 1.0)
    def progress() -> None:
        current = exporting.export_status(export)
        if current is None:
            return
        if current.state == "failed":
            st.error(f"The export failed: {message(current.error)}", icon=":material/error:")
        elif current.state == "done":
            st.success(f"Wrote {export.n_rows:,} rows to {literal(export.output)} and its manifest "
                       f"{literal(exporting.manifest_file(export).name)} in {current.seconds:.1f} s.",
                       icon=":material/check_circle:")
        else:
            st.progress(current.fraction_done if current.state == "running" else 0.0,
                        text=f"{current.message} ({current.seconds:.0f} s)")
        if current.finished and not status.finished:
            st.rerun()

    progress()
