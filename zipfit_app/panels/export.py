"""The Export page: the selection for the current cut (copies and near-duplicates removed as chosen), the
format, and a download or a folder export, with a manifest that reproduces it."""

from __future__ import annotations

import streamlit as st

from zipfit_core.analysis.coverage import BALANCED_RULE_NOTE, coverage_of_rows
from zipfit_core.analysis.curation import CuratedSelection
from zipfit_core.analysis.selection import Selection, TokenCounter
from zipfit_core.analysis.shaping import CutPlan, Shaping
from zipfit_core.cli import commands
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError

from ..config import app_settings
from ..services import checks
from ..services import exports as exporting
from ..services import scores as scores_service
from ..state.records import Downloads, FolderExport
from ..state.session import Session, seed
from ..state.view import describe_cut
from ..ui.markdown import literal, message
from ..ui.progress import work_progress
from ..ui.tables import display_rows
from . import curation, cut
from .context import ExploreContext, load_context
from .shaping import describe_shaping

PREVIEW_ROWS = 5


def page(session: Session) -> None:
    st.title("Export")
    context = load_context(session)
    session.downloads = None
    if context is None:
        return
    cut.notices(context)
    if not context.shown.complete:
        st.info(f"Scoring is still running ({context.shown.targets_seen} of {context.shown.n_targets} targets): "
                "exports use the exact scores, so this page waits for them.", icon=":material/hourglass_top:")
        st.page_link("pages/score.py", label="See the progress", icon=":material/speed:")
        return
    settings, checked = curation.export_options(context)
    if checked is None:
        return
    curated = curation.curated_selection(context, settings, checked.flags)
    summary(curated.selection, balanced=context.balanced)
    shaped_note(context)
    curation.removed_summary(curated)
    kind, include_score = options()
    preview(context, curated.selection, include_score)
    session.downloads = deliver(context, curated, kind, include_score)


def shaped_note(context: ExploreContext) -> None:
    """Rows by hand, patterns and caps are stored with the run (by any session of it): say that they apply here."""
    if context.shaping_problem:
        st.warning(literal(f"The rows by hand, patterns and caps set on Explore are not applied: "
                           f"{context.shaping_problem}"), icon=":material/warning:")
    elif context.shaped is not None:
        st.caption(literal("Shaped by hand on Explore (stored with this run): " + describe_shaping(context.shaping)))


def summary(selection: Selection, balanced: bool = False) -> None:
    tokens = f"{selection.tokens_kept:,} tokens (approx.)"
    if selection.last_row_tokens is not None:
        tokens += f", the last row truncated to {selection.last_row_tokens:,} tokens"
    order = f", {BALANCED_RULE_NOTE}," if balanced else ""
    st.markdown(f"The cut **{literal(describe_cut(selection.rule.kind, selection.rule.value))}**{order} keeps "
                f"**{selection.n_rows:,} of {selection.total_rows:,} rows**: {tokens}.")
    st.page_link("pages/explore.py", label="Change the cut on Explore", icon=":material/tune:")


def options() -> tuple[str, bool]:
    seed("export.format", "jsonl")
    seed("export.include_score", True)
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


def deliver(context: ExploreContext, curated: CuratedSelection, kind: str, include_score: bool) -> Downloads | None:
    """A download button for small exports (built only when clicked), a folder export for large ones."""
    session = context.session
    selection = curated.selection
    if selection.n_rows == 0:
        st.warning("The cut keeps no rows: loosen it on the Explore page.", icon=":material/warning:")
        return None
    counter = TokenCounter()
    run = session.result.run  # the record of the scores shown: method, settings, recipes
    target = session.choice("target")  # a score folder opened without its targets names them in its record
    stem = exporting.export_stem(session.choice("source").location,
                                 target.location if target else run.target.split(": ", 1)[-1],
                                 context.shown.method, selection.rule)
    name = exporting.file_name(stem, kind)
    scores = context.index.scores
    settings = app_settings()
    # As `zipfit select` records it: coverage whenever the per-target facts are at hand, the order when balanced.
    coverage = coverage_of_rows(context.facts, selection.rows, len(scores)) if context.facts is not None else None
    balanced = context.balanced
    # What `zipfit select --from-manifest` makes again: the plan (the shaping only when it applies) and its inputs.
    plan = CutPlan.of(context.rule, balanced, context.shaping if context.shaped is not None else Shaping(),
                      curated.settings)
    evaluation_sets = _evaluation_sets(context)
    from_folder = scores_service.kind_of(session.result.job_id) == "folder"
    replay = exporting.replay_section(context.data, run, scores, from_folder, evaluation_sets, include_score,
                                      settings.data_root)
    command_line(context, plan, name, evaluation_sets, include_score, from_folder)
    if selection.n_rows <= settings.small_export_rows:
        downloads = Downloads(
            name,
            lambda: exporting.export_bytes(context.source, scores, selection, counter, kind, include_score),
            lambda: exporting.manifest_bytes(run, selection, counter, name, kind, include_score, curated, coverage,
                                             balanced, plan, replay),
            (lambda: curation.removed_bytes(curated)) if curated.removed_any else None)
        a, b, c = st.columns(3)
        a.download_button(f"Download {name}", data=downloads.file, file_name=name, mime=exporting.FORMATS[kind].mime,
                          type="primary", icon=":material/download:", key="export.download", on_click="ignore")
        b.download_button("Download the manifest", key="export.manifest", icon=":material/description:",
                          data=downloads.manifest, file_name=name + ".manifest.json", mime="application/json",
                          on_click="ignore")
        if downloads.removed is not None:  # only when rows were left out: nothing empty to download
            c.download_button("Download the rows left out", key="export.removed", icon=":material/playlist_remove:",
                              data=downloads.removed, file_name=name + ".removed.jsonl", mime="application/jsonl",
                              on_click="ignore")
        return downloads
    st.info(f"{selection.n_rows:,} rows is more than a download should carry (limit "
            f"{settings.small_export_rows:,}, set ZIPFIT\\_SMALL\\_EXPORT\\_ROWS): it is written to "
            f"{literal(settings.export_root)} instead.", icon=":material/folder:")
    if st.button("Write to the export folder", type="primary", icon=":material/save:", key="export.to_folder"):
        try:
            session.folder_export = exporting.start_folder_export(settings.export_root, settings.data_root, stem,
                                                                  context.source, scores, curated, counter, run,
                                                                  kind, include_score, coverage, balanced,
                                                                  plan, replay)
        except ZipFitError as error:
            st.error(message(error), icon=":material/error:")
    if session.folder_export is not None:
        folder_progress(session.folder_export)
    return None


def _evaluation_sets(context: ExploreContext) -> list[tuple[str, LoadedTexts]]:
    """The evaluation sets chosen on Explore, loaded (by their labels), as the contamination check has them."""
    session = context.session
    loaded, _problems = checks.load_references(None, session.view.references,
                                               checks.reference_choices(session.choice("source")))
    return loaded


def command_line(context: ExploreContext, plan: CutPlan, name: str, evaluation_sets: list[tuple[str, LoadedTexts]],
                 include_score: bool, from_folder: bool) -> None:
    """The commands that make this cut, ready to copy, and the row files they read."""
    run, data = context.session.result.run, context.data
    root = app_settings().data_root
    folder = (str(data.folder.path), str(root / data.folder.source_location)) if from_folder else None
    try:
        made = commands.view_commands(run, plan, name, data_root=root, include_score=include_score,
                                      evaluation_sets=[loaded.recipe for _label, loaded in evaluation_sets
                                                       if loaded.recipe is not None], scores_folder=folder)
    except (ZipFitError, ValueError):  # a run recorded without its recipes: nothing to write the commands from
        return
    with st.expander("The same cut from the command line"):
        st.caption("Run these in a folder of your choice (paths are absolute); they write the same rows. "
                   "`zipfit select --from-manifest MANIFEST --out NEW` makes it again from the manifest too.")
        st.code(made.script, language="bash", wrap_lines=True)
        columns = st.columns(max(1, len(made.row_files)))
        for column, (file_name, content) in zip(columns, made.row_files.items()):
            column.download_button(f"Download {file_name}", data=content.encode("utf-8"), file_name=file_name,
                                   mime="text/plain", key=f"export.rows.{file_name}", on_click="ignore",
                                   icon=":material/download:")


def folder_progress(export: FolderExport) -> None:
    status = exporting.export_status(export)
    if status is None:
        return
    if status.state == "done":
        st.success(f"Wrote {export.n_rows:,} rows to {literal(export.output)} and its manifest "
                   f"{literal(exporting.manifest_file(export).name)} in {status.seconds:.1f} s.",
                   icon=":material/check_circle:")
        return
    work_progress([export.work_id], what="The export", text=lambda current: f"{current.message} "
                                                                           f"({current.seconds:.0f} s)")
