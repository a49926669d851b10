"""The Score page's pieces: the work, codec settings, start, live progress, cached results and score folders."""

from __future__ import annotations

import warnings

import streamlit as st

from zipfit_app.view_state import ViewState
from zipfit_core.analysis.explore import build_score_index, rows_table, score_histogram, text_preview
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.codecs import CODECS, resolve_level
from zipfit_core.store.cache_admin import format_size, total_size

from . import datasets, folders, methods, results
from .charts import histogram_figure
from .config import app_settings
from .explore_panel import groups_and_histogram, score_index_for
from .forms import load_role
from .markdown import literal, message
from .tables import score_columns
from .view import get_view, update_view

POLL_SECONDS = 1.0
NEXT_LABEL = "Next: explore the scores and choose a cut"
LET_GO_NOTE_KEY = "score.let_go_note"
START_LABELS = {"queued": "Waiting to start...", "running": "Scoring...", "cancelled": "Resume scoring",
                "failed": "Try again"}


def work_summary(source: LoadedTexts, target: LoadedTexts | None, method: str) -> None:
    """What will be scored: rows, targets and (for ZIP-FIT) the number of compressions."""
    folder = datasets.current_folder()
    if folder is not None:
        st.caption(f"The source pool is the score folder {literal(folder.location)}: the rows of its shards in "
                   f"{literal(folder.source_location)}, as they were scored.")
    if target is None:
        return
    if methods.compresses(method):
        pairs = len(source.texts) * len(target.texts)
        st.markdown(f"**{len(source.texts):,} source rows** x **{len(target.texts):,} targets** = {pairs:,} "
                    "compressions of a source joined with a target.")
    else:
        st.markdown(f"**{len(source.texts):,} source rows** scored against **{len(target.texts):,} targets**.")


def start_button(job_id: str | None, source: LoadedTexts, target: LoadedTexts | None, view: ViewState) -> str | None:
    """A start (resume, retry) button unless the result is done; returns the id of the result to follow."""
    state = None
    if job_id is not None:
        try:
            state = results.state_of(job_id)
        except ZipFitError:
            job_id = None
    if state == "done":  # a finished result needs no button: it is exact and cached
        return job_id
    if target is None:
        st.info("Load a target set to score this pool.", icon=":material/info:")
        st.page_link("pages/data.py", label="Go to Data", icon=":material/database:")
        return job_id
    running = state in ("queued", "running")
    if st.button(START_LABELS.get(state, "Start scoring"), type="primary", disabled=running,
                 icon=":material/play_arrow:"):
        try:
            results.start(source, target, view)
        except ZipFitError as error:
            st.error(message(error), icon=":material/error:")
        else:
            st.rerun()
    return job_id


def _on_codec_change() -> None:
    codec = st.session_state["score.codec"]
    st.session_state["score.level"] = CODECS[codec].default_level
    update_view(codec=codec, level=CODECS[codec].default_level)


def _on_level_change() -> None:
    update_view(level=int(st.session_state["score.level"]))


def codec_settings() -> None:
    """Codec and level, kept in the view; warns at level 0 (scores become length only)."""
    view = get_view()
    st.session_state.setdefault("score.codec", view.codec)
    st.session_state.setdefault("score.level", view.level)
    a, b = st.columns([1, 2])
    a.selectbox("Compressor", list(CODECS), key="score.codec", on_change=_on_codec_change,
                format_func=lambda name: name if CODECS[name].exact else f"{name} (approximate)")
    info = CODECS[st.session_state["score.codec"]]
    a.caption(literal(info.description))  # the whole description, which the menu's narrow box would cut off
    b.slider("Level", info.levels.start, info.levels.stop - 1, key="score.level", on_change=_on_level_change,
             help=f"Default {info.default_level}. Higher compresses better and is slower.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            resolve_level(info.name, int(st.session_state["score.level"]))
        except ZipFitError as error:
            st.error(message(error), icon=":material/error:")
    for warning in caught:
        st.warning(message(warning.message), icon=":material/warning:")
    if not info.exact:
        st.info(f"{info.name} is approximate: fast, close to gzip-9 but not identical.", icon=":material/info:")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating..."
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_panel(job_id: str) -> None:
    """Where the shown result stands: a ZIP-FIT job, a method run or an opened score folder; once it is done,
    a view of the result and the way on."""
    kind = results.kind_of(job_id)
    if kind == "folder":
        if _folder_summary():
            _result(job_id)
    elif results.state_of(job_id) == "done":
        _done_summary(job_id, kind)
        _result(job_id)
    elif kind == "method":
        _method_progress(job_id)
    else:
        _job_progress(job_id)


def _next_step() -> None:
    """As prominent as the Data page's next step."""
    if st.button(NEXT_LABEL, key="score.next", type="primary", icon=":material/arrow_forward:"):
        st.switch_page("pages/explore.py")


def _folder_summary() -> bool:
    folder = datasets.current_folder()
    if folder is None:
        return False
    run = folder.run
    st.success(f"Opened the score folder {literal(folder.location)}: {len(folder.scores):,} rows scored against "
               f"{run.n_targets:,} targets ({run.codec} level {run.level}). The scores are exact.",
               icon=":material/check_circle:")
    return True


def _done_summary(job_id: str, kind: str) -> None:
    status = results.status(job_id)
    if kind == "method":
        source = datasets.current("source")
        rows = f"{len(source.texts):,} rows" if source is not None else "the source rows"
        st.success(f"Scored {rows} with {methods.label(status.kind)}. Explore and Export use these scores.",
                   icon=":material/check_circle:")
    else:
        st.success(f"Scored {status.total:,} pairs: every source row against all {status.n_targets:,} "
                   "targets. The scores are exact.", icon=":material/check_circle:")


def _result(job_id: str) -> None:
    _next_step()
    _scores_view(job_id, "**The result**: how the scores spread, and the best rows. Explore shows every row, "
                         "with the cut.")


def _method_progress(job_id: str) -> None:
    status = results.manager().find(job_id)
    if status is None:
        st.warning("This run is no longer in memory: start it again (a finished result comes from the cache).",
                   icon=":material/warning:")
        return
    st.fragment(run_every=None if status.finished else POLL_SECONDS)(_method_body)(job_id, status.finished)


def _method_body(job_id: str, was_finished: bool) -> None:
    status = _status_or_page_rerun(job_id, was_finished)
    name = methods.label(status.kind)
    if status.state == "failed":
        st.error(f"{name} failed: {message(status.error)}", icon=":material/error:")
    elif status.state == "cancelled":
        st.warning(f"{name} was cancelled{_reason(status)}: start again to compute it.", icon=":material/pause:")
    else:
        st.progress(status.fraction_done, text=f"{name}: {status.done:,} of {status.total:,} {status.unit} "
                                               f"({status.seconds:.0f} s)")
        st.caption("Running in the background: leaving this page or closing the tab does not stop it.")
        cancel_controls(job_id)


def _reason(status) -> str:
    """Why the work was stopped, when it was stopped with a reason (e.g. for everyone, by its starter)."""
    return f" ({message(status.stopped_because)})" if status.stopped_because else ""


def cancel_controls(job_id: str) -> None:
    """Cancel: this session no longer wants the job (it stops unless others wait for it); the session that
    started it may also stop it for everyone."""
    others = results.others_waiting(job_id)
    a, b = st.columns([1, 2])
    a.button("Cancel", key="score.cancel", on_click=_let_go, args=(job_id,), icon=":material/stop:",
             help="Stops the job, unless other sessions wait for it: then it goes on for them.")
    if others and results.started_here(job_id):
        b.button(f"Stop for everyone ({others} other session{'s' if others != 1 else ''} wait for it)",
                 key="score.stop_all", on_click=results.stop_for_everyone, args=(job_id,),
                 icon=":material/block:")
    elif others:
        b.caption(f"{others} other session{'s' if others != 1 else ''} also wait for this job.")


def _let_go(job_id: str) -> None:
    left = results.let_go(job_id)
    if left:
        st.session_state[LET_GO_NOTE_KEY] = (
            f"You no longer follow this job. {left} other session{'s' if left != 1 else ''} still wait for it, so it "
            "goes on for them; start scoring again to follow it.")


def let_go_note() -> None:
    """What Cancel did when others still wait for the job (shown once)."""
    if note := st.session_state.pop(LET_GO_NOTE_KEY, None):
        st.info(note, icon=":material/group:")


def _job_progress(job_id: str) -> None:
    """Progress, rate, ETA, cancel and the progressive preview; polls while the job runs."""
    try:
        finished = results.status(job_id).finished
    except ZipFitError as error:
        st.error(message(error), icon=":material/error:")
        return
    st.fragment(run_every=None if finished else POLL_SECONDS)(_progress_body)(job_id, finished)


def _status_or_page_rerun(job_id: str, was_finished: bool):
    """The work's status, for a progress fragment; the whole page runs again instead when what it shows changes:
    the work ended (the result, the next step, no more polling) or this session let go of it (Cancel while
    others wait: the page no longer shows the work, and says so)."""
    status = results.status(job_id)
    if status.state == "done" or (status.finished and not was_finished) or results.declined(job_id):
        st.rerun()
    return status


def _progress_body(job_id: str, was_finished: bool) -> None:
    status = _status_or_page_rerun(job_id, was_finished)
    if status.state == "failed":
        st.error(f"Scoring failed: {message(status.error or status.message)}", icon=":material/error:")
    elif status.state == "cancelled":
        st.warning(f"Scoring was cancelled{_reason(status)}. Its checkpoint is kept: start again to resume.",
                   icon=":material/pause:")
    else:
        text = f"{status.done:,} of {status.total:,} pairs"
        if status.rate > 0:
            text += f" · {status.rate:,.0f} pairs/s · about {_duration(status.eta_seconds)} left"
        st.progress(status.fraction_done, text=text)
        st.caption(f"{status.state}: {message(status.message)}. Leaving this page or closing the tab does not stop "
                   "the job.")
        cancel_controls(job_id)
    _scores_view(job_id, "**Preview** after {seen} of {total} targets (targets in a fixed random order; each row's "
                         "score is the mean over the targets seen so far, so it sharpens until exact).")


def _scores_view(job_id: str, heading: str) -> None:
    """The histogram of the shown scores and the best 10 rows: the preview while scoring, the result after."""
    shown = results.shown_scores(job_id)
    source = datasets.current("source")
    if shown is None and (sample := results.first_look(job_id)) is not None and source is not None:
        _first_look_view(sample, source)
        return
    if shown is None or not len(shown.scores) or source is None:
        return
    st.markdown(heading.format(seen=shown.targets_seen, total=shown.n_targets))
    index = score_index_for(shown, source)  # cached per preview round, and shared with the Explore page
    _groups, histogram = groups_and_histogram(shown.version, None, index, None)
    st.plotly_chart(histogram_figure(histogram, None, score_title=methods.score_title(get_view().method)),
                    key="score.histogram")
    table = rows_table(index, index.ranked[:10], source.texts, preview_chars=140)
    st.dataframe(table, hide_index=True, column_config=score_columns(index.score_range()))


def _first_look_view(sample, source) -> None:
    """The first look at a large pool: a histogram and the best rows of a seeded sample, labelled as a sample."""
    st.markdown(f"**A first look** at a random sample of **{len(sample.sample_rows):,} of {len(source.texts):,} "
                f"rows**, against the first {sample.targets_seen} targets: the preview of every row follows when "
                "the first round ends.")
    index = build_score_index(sample.scores)
    st.plotly_chart(histogram_figure(score_histogram(index, None), None,
                                     score_title=methods.score_title(get_view().method)), key="score.first_look")
    best = index.ranked[:10]
    rows = sample.sample_rows[best]
    st.dataframe({"row": rows, "score (sample)": sample.scores[best],
                  "text": [text_preview(source.texts[row], 140) for row in rows]}, hide_index=True)


CACHE_NOTICE_KEY = "score.cache_notice"  # (kind, text) left by a remove callback for the next run
CACHE_ROWS_SCROLL = 8  # more entries than this scroll inside the expander


def cached_results_panel() -> None:
    """Every entry of the score cache: open a ZIP-FIT result, see each entry's state and size, remove one."""
    items = results.cache_items()
    notice = st.session_state.pop(CACHE_NOTICE_KEY, None)
    total = format_size(total_size(items))
    with st.expander(f"Cached results ({len(items)}, {total})", icon=":material/history:", expanded=bool(notice)):
        if notice:
            kind, text = notice
            show, icon = {"success": (st.success, ":material/check_circle:"),
                          "warning": (st.warning, ":material/warning:")}[kind]
            show(literal(text), icon=icon)
        if not items:
            st.caption("Nothing scored yet. Results are kept on disk and reused for the same data and settings.")
            return
        openable = {item.key: f"{results.label_text(item)} ({item.codec_text})" for item in items
                    if item.kind == "zipfit" and item.reusable}
        if openable:
            st.selectbox("Result", list(openable), format_func=openable.get, key="score.cached_choice")
            st.button("Open this result", key="score.open_cached", on_click=_open_cached,
                      icon=":material/folder_open:")
            if error := st.session_state.pop("score.cached_error", None):
                st.error(message(error), icon=":material/error:")
        st.caption(f"{len(items)} entries, {total} in {literal(results.manager().cache_dir)}. Removing an entry "
                   "frees its disk; the same work is computed again when asked for. To prune many at once: "
                   "`zipfit cache prune --older-than 30` (or `--other-versions`, `--max-size 2GB`).")
        with st.container(height=400 if len(items) > CACHE_ROWS_SCROLL else "content", border=False):
            for item in items:
                text, button = st.columns([4, 1], vertical_alignment="center")
                text.markdown(_entry_text(item))
                button.button("Remove", key=f"score.remove.{item.key}", on_click=_remove_cached, args=(item.key,),
                              icon=":material/delete:", help="Delete this entry from the score cache")


def _entry_title(item) -> str:
    if not item.label:
        return f"{item.state} entry {item.key[:12]}"
    return results.label_text(item) if item.kind == "zipfit" else item.label


def _entry_text(item) -> str:
    """One line per cache entry: what it is, its state and size."""
    title = _entry_title(item)
    state = "computing now" if results.computing_here(item) else item.state_text
    parts = [item.kind, item.codec_text, item.shape_text, state, format_size(item.size_bytes),
             f"{item.modified_text} UTC"]
    line = f"**{literal(title)}**  \n" + literal(" · ".join(part for part in parts if part != "-"))
    if item.problem and item.state != "empty":
        line += f" · :orange[{message(item.problem)}]"
    return line


def _remove_cached(key: str) -> None:
    """Callback: remove one cache entry; a refusal (it is being computed) is shown, nothing is lost."""
    try:
        item = results.remove_cached(key)
    except ZipFitError as error:
        st.session_state[CACHE_NOTICE_KEY] = ("warning", str(error))
    else:
        st.session_state[CACHE_NOTICE_KEY] = ("success", f"Removed {_entry_title(item)}: freed "
                                                         f"{format_size(item.size_bytes)}.")


def _open_cached() -> None:
    """Callback: load the datasets a cached result names, with its settings, and follow it."""
    key = st.session_state.get("score.cached_choice")
    result = next((item for item in results.cache_items() if item.key == key), None)
    problem = _open_result(result) if result is not None else "That result is no longer in the cache."
    if problem:
        st.session_state["score.cached_error"] = problem


def _open_result(result) -> str | None:
    source_choice, target_choice = results.view_of_cached(result)
    if source_choice is None or target_choice is None:
        return ("This result was scored outside the app (e.g. with `zipfit score`): load the same source and "
                "target on the Data page and score again; the cached numbers are reused.")
    for role, choice in (("source", source_choice), ("target", target_choice)):
        if choice.kind == "upload":
            return (f"The {role} of this result was an upload ({choice.location}): upload it again on the Data "
                    "page and score again; the cached numbers are reused.")
    update_view(codec=result.codec, level=result.level, method="zipfit", method_settings={})  # jobs are ZIP-FIT's
    st.session_state["score.codec"], st.session_state["score.level"] = result.codec, result.level
    for role, choice in (("source", source_choice), ("target", target_choice)):
        if not load_role(role, choice):
            return st.session_state.get(f"data.{role}.error", "Could not load the data.")
    source, target = datasets.current("source"), datasets.current("target")
    if results.attach_cached(source, target, get_view()) is None:
        return "The data named by this result has changed since it was scored: score it again."
    return None


FOLDER_PATH_KEY = "score.folder_path"
FOLDER_ERROR_KEY = "score.folder_error"
FOLDER_NOTES_KEY = "score.folder_notes"


def _copy_folder_pick() -> None:
    if picked := st.session_state.get("score.folder_pick"):
        st.session_state[FOLDER_PATH_KEY] = picked


def _on_open_folder() -> None:
    problem, notes = folders.open_folder(st.session_state.get(FOLDER_PATH_KEY) or "")
    st.session_state[FOLDER_ERROR_KEY], st.session_state[FOLDER_NOTES_KEY] = problem, notes


def score_folder_panel() -> None:
    """Open a folder written by `zipfit score ... --out FOLDER` (local or Ray engine) under the data root."""
    problem = st.session_state.pop(FOLDER_ERROR_KEY, None)
    notes = st.session_state.pop(FOLDER_NOTES_KEY, [])
    root = app_settings().data_root
    with st.expander("Open a score folder", icon=":material/folder_zip:", expanded=bool(problem or notes)):
        st.caption(f"A folder written by `zipfit score SOURCE TARGET --out FOLDER` (`--engine local` or `ray`), "
                   f"under the data root {literal(root)}. Its source shards must be there too: their rows are read "
                   "and checked against the fingerprints recorded when they were scored.")
        found = folders.found_folders()
        a, b = st.columns(2)
        a.text_input("Score folder under the data root", key=FOLDER_PATH_KEY, placeholder="e.g. scores_out")
        b.selectbox("Score folders found there", found, index=None, key="score.folder_pick",
                    placeholder="pick one" if found else "none found", disabled=not found, on_change=_copy_folder_pick)
        st.button("Open this score folder", key="score.open_folder", on_click=_on_open_folder,
                  icon=":material/folder_open:")
        if problem:
            st.error(message(problem), icon=":material/error:")
        for note in notes:
            st.warning(message(note), icon=":material/warning:")
