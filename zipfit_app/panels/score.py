"""The Score page: the method and its settings, what will be computed, Start, live progress, the result; the
Runs list and score folders below (`panels.runs`)."""

from __future__ import annotations

import warnings

import streamlit as st

from zipfit_core.analysis.explore import build_score_index, rows_table, score_histogram, text_preview
from zipfit_core.data.sources import plural
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.work import WorkStatus
from zipfit_core.scoring.codecs import CODECS, resolve_level
from zipfit_core.scoring.methods import METHODS

from ..actions import runs, view
from ..actions.runs import chosen_run
from ..services import methods, scores, work
from ..services.explore import groups_and_histogram, score_index_for
from ..services.loaders import LoadedData
from ..state.session import Session
from ..ui import notices
from ..ui import widgets as bound
from ..ui.charts import histogram_figure
from ..ui.markdown import literal, message
from ..ui.progress import duration, reason, work_progress
from ..ui.tables import score_columns
from . import runs as runs_panel
from .sidebar import shown_run_text

NEXT_LABEL = "Next: explore the scores and choose a cut"
START_LABELS = {"queued": "Waiting to start...", "running": "Scoring...", "cancelled": "Resume scoring",
                "failed": "Try again"}


def page(session: Session) -> None:
    st.title("Score")
    try:
        data = runs.current_data(session)
    except ZipFitError as error:
        st.error(message(error), icon=":material/error:")
        data = None
    if data is None:
        st.info("Load a source pool and a target set first, open a run from the list below, or open a score folder.",
                icon=":material/info:")
        st.page_link("pages/data.py", label="Go to Data", icon=":material/database:")
    else:
        method = method_picker(session)
        work_summary(data, method)
        if methods.compresses(method):
            codec_settings(session)
        else:
            settings_widgets(session, method, "score")
        notices.show(session, "score")
        result = session.result
        shown_here = result is not None and scores.is_for(result, chosen_run(session))
        if result is not None and not shown_here:
            st.info(f"Shown on every page: the {literal(shown_run_text(session))} scores. **Start** computes "
                    f"{literal(chosen_run(session).describe())} scores.", icon=":material/swap_horiz:")
        start_button(session, data, result.job_id if shown_here else None)
        if result is not None:
            progress_panel(session, data, result.job_id)
    runs_panel.runs_panel(session)
    runs_panel.score_folder_panel(session)


def method_picker(session: Session) -> str:
    """The method Start computes (ZIP-FIT by default), kept in the view; returns it."""
    method = bound.selectbox("Method", list(METHODS), session.view.method,
                             lambda name: view.choose_method(session, name), key="score.method",
                             format_func=methods.menu_label,
                             help="ZIP-FIT is the paper's method. The others are baselines to compare against; "
                                  "Explore and Export use the scores shown here.")
    st.caption(METHODS[method].description)
    if method == "zipfit-debiased":
        st.info("**ZIP-FIT, length-debiased**: " + methods.DEBIASED_FORMULA, icon=":material/straighten:")
    elif method != "zipfit":
        st.info(f"**{METHODS[method].label}** is a baseline, not ZIP-FIT: its scores are on their own scale "
                "(compare rankings and kept rows, not score values).", icon=":material/compare_arrows:")
    return method


def settings_widgets(session: Session, method: str, prefix: str, columns: int | None = None) -> None:
    """One widget per own setting of `method` (keys `{prefix}.{method}.{name}`), shared by Score and Compare."""
    own = methods.own_settings(method)
    if not own:
        return
    values = view.method_settings_of(session, method)
    cells = st.columns(columns or len(own))
    for number, setting in enumerate(own):
        cell = cells[number % len(cells)]
        on_change = (lambda name: lambda value: view.set_method_setting(session, method, name, value))(setting.name)
        key = f"{prefix}.{method}.{setting.name}"
        if setting.choices:
            bound.selectbox(setting.name, list(setting.choices), values[setting.name], on_change, key=key,
                            container=cell, help=setting.description)
        else:
            low, high = (setting.bounds.minimum, setting.bounds.maximum) if setting.bounds else (None, None)
            bound.number_input(setting.name, low, high, values[setting.name],
                               on_change, key=key, container=cell, step=1, help=setting.description,
                               placeholder="default")


def work_summary(data: LoadedData, method: str) -> None:
    """What will be scored: rows, targets and (for ZIP-FIT) the number of compressions."""
    if data.folder is not None:
        st.caption(f"The source pool is the score folder {literal(data.folder.location)}: the rows of its shards in "
                   f"{literal(data.folder.source_location)}, as they were scored.")
    if data.target is None:
        return
    n_sources, n_targets = len(data.source.texts), len(data.target.texts)
    if methods.compresses(method):
        st.markdown(f"**{n_sources:,} source rows** x **{n_targets:,} targets** = {n_sources * n_targets:,} "
                    "compressions of a source joined with a target.")
    else:
        st.markdown(f"**{n_sources:,} source rows** scored against **{n_targets:,} targets**.")


def codec_settings(session: Session) -> None:
    """Codec and level, kept in the view; warns at level 0 (scores become length only)."""
    a, b = st.columns([1, 2])
    codec = bound.selectbox("Compressor", list(CODECS), session.view.codec, lambda name: view.set_codec(session, name),
                            key="score.codec", container=a,
                            format_func=lambda name: name if CODECS[name].exact else f"{name} (approximate)")
    info = CODECS[codec]
    a.caption(literal(info.description))  # the whole description, which the menu's narrow box would cut off
    level = bound.slider("Level", info.levels.start, info.levels.stop - 1, session.view.level,
                         lambda value: view.set_level(session, value), key="score.level", container=b,
                         help=f"Default {info.default_level}. Higher compresses better and is slower.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            resolve_level(info.name, int(level))
        except ZipFitError as error:
            st.error(message(error), icon=":material/error:")
    for warning in caught:
        st.warning(message(warning.message), icon=":material/warning:")
    if not info.exact:
        st.info(f"{info.name} is approximate: fast, close to gzip-9 but not identical.", icon=":material/info:")


def start_button(session: Session, data: LoadedData, job_id: str | None) -> None:
    """Start (resume, retry) the chosen run unless its result is done."""
    state = scores.state_of(job_id) if job_id is not None else None
    if state == "done":  # a finished result needs no button: it is exact and cached
        return
    if data.target is None:
        st.info("Load a target set to score this pool.", icon=":material/info:")
        st.page_link("pages/data.py", label="Go to Data", icon=":material/database:")
        return
    st.button(START_LABELS.get(state, "Start scoring"), type="primary", disabled=state in ("queued", "running"),
              icon=":material/play_arrow:", key="score.start", on_click=_start, args=(session,))


def _start(session: Session) -> None:
    outcome = runs.start_scoring(session)
    notices.leave(session, "score", outcome.problem, outcome.notes)


def progress_panel(session: Session, data: LoadedData, job_id: str) -> None:
    """Where the shown result stands; once it is done, a view of the result and the way on."""
    kind = scores.kind_of(job_id)
    if kind == "folder":
        _folder_summary(data)
        _result(session, data, job_id)
    elif scores.state_of(job_id) == "done":
        _done_summary(data, job_id, kind)
        _result(session, data, job_id)
    else:
        what = "Scoring" if kind == "job" else methods.label(session.result.run.method)
        work_progress([job_id], what=what, text=_progress_text if kind == "job" else _method_text,
                      below=lambda statuses: _running_below(session, data, job_id, statuses),
                      changed=lambda: job_id in session.declined)


def _progress_text(status: WorkStatus) -> str:
    text = f"{status.done:,} of {status.total:,} pairs"
    if status.rate > 0:
        text += f" · {status.rate:,.0f} pairs/s · about {duration(status.eta_seconds)} left"
    return text


def _method_text(status: WorkStatus) -> str:
    return f"{methods.label(status.kind)}: {status.done:,} of {status.total:,} {status.unit} ({status.seconds:.0f} s)"


def _running_below(session: Session, data: LoadedData, job_id: str, statuses: list[WorkStatus]) -> None:
    status = statuses[0] if statuses else None
    if status is None:
        st.warning("This run is no longer in memory: start it again (a finished result comes from the cache).",
                   icon=":material/warning:")
        return
    if status.state == "cancelled" and status.kind == "zipfit":
        st.caption(f"Its checkpoint is kept{reason(status)}: start again to resume.")
    elif not status.finished:
        st.caption(f"{status.state}: {message(status.message)}. Leaving this page or closing the tab does not stop "
                   "the job.")
        cancel_controls(session, job_id)
    if scores.kind_of(job_id) == "job":
        _scores_view(session, data, job_id, "**Preview** after {seen} of {total} targets (targets in a fixed random "
                                            "order; each row's score is the mean over the targets seen so far, so it "
                                            "sharpens until exact).")


def cancel_controls(session: Session, job_id: str) -> None:
    """Cancel: this session no longer wants the job (it stops unless others wait for it); the session that
    started it may also stop it for everyone."""
    others = work.others_waiting(job_id, session.id)
    a, b = st.columns([1, 2])
    a.button("Cancel", key="score.cancel", on_click=_let_go, args=(session, job_id), icon=":material/stop:",
             help="Stops the job, unless other sessions wait for it: then it goes on for them.")
    sessions = plural(others, "other session")
    if others and work.started_by(job_id, session.id):
        b.button(f"Stop for everyone ({sessions} wait{'s' if others == 1 else ''} for it)", key="score.stop_all",
                 on_click=runs.stop_for_everyone, args=(job_id,), icon=":material/block:")
    elif others:
        b.caption(f"{sessions} also wait{'s' if others == 1 else ''} for this job.")


def _let_go(session: Session, job_id: str) -> None:
    outcome = runs.let_go(session, job_id)
    for note in outcome.notes:
        session.notify("score", note, "info", ":material/group:")


def _folder_summary(data: LoadedData) -> None:
    folder = data.folder
    if folder is None:
        return
    run = folder.run
    st.success(f"Opened the score folder {literal(folder.location)}: {len(folder.scores):,} rows scored against "
               f"{run.n_targets:,} targets ({run.codec} level {run.level}). The scores are exact.",
               icon=":material/check_circle:")


def _done_summary(data: LoadedData, job_id: str, kind: str) -> None:
    status = work.status(job_id)
    if kind == "method":
        st.success(f"Scored {len(data.source.texts):,} rows with {methods.label(status.kind)}. Explore and Export use "
                   "these scores.", icon=":material/check_circle:")
    else:
        st.success(f"Scored {status.total:,} pairs: every source row against all {status.n_targets:,} "
                   "targets. The scores are exact.", icon=":material/check_circle:")


def _result(session: Session, data: LoadedData, job_id: str) -> None:
    if st.button(NEXT_LABEL, key="score.next", type="primary", icon=":material/arrow_forward:"):
        st.switch_page("pages/explore.py")
    _scores_view(session, data, job_id, "**The result**: how the scores spread, and the best rows. Explore shows every "
                                        "row, with the cut.")


def _scores_view(session: Session, data: LoadedData, job_id: str, heading: str) -> None:
    """The histogram of the shown scores and the best 10 rows: the preview while scoring, the result after."""
    shown = scores.shown_scores(session.result, data) if session.result is not None else None
    if shown is None and (sample := scores.first_look(job_id)) is not None:
        _first_look_view(session, sample, data)
        return
    if shown is None or not len(shown.scores):
        return
    st.markdown(heading.format(seen=shown.targets_seen, total=shown.n_targets))
    index = score_index_for(shown, data.source)  # cached per preview round, and shared with the Explore page
    _groups, histogram = groups_and_histogram(shown.version, None, index, None)
    st.plotly_chart(histogram_figure(histogram, None, score_title=methods.score_title(shown.method)),
                    key="score.histogram")
    table = rows_table(index, index.ranked[:10], data.source.texts, preview_chars=140)
    st.dataframe(table, hide_index=True, column_config=score_columns(index.score_range()))


def _first_look_view(session: Session, sample, data: LoadedData) -> None:
    """The first look at a large pool: a histogram and the best rows of a seeded sample, labelled as a sample."""
    source = data.source
    st.markdown(f"**A first look** at a random sample of **{len(sample.sample_rows):,} of {len(source.texts):,} "
                f"rows**, against the first {sample.targets_seen} targets: the preview of every row follows when "
                "the first round ends.")
    index = build_score_index(sample.scores)
    st.plotly_chart(histogram_figure(score_histogram(index, None), None,
                                     score_title=methods.score_title(session.view.method)), key="score.first_look")
    best = index.ranked[:10]
    rows = sample.sample_rows[best]
    st.dataframe({"row": rows, "score (sample)": sample.scores[best],
                  "text": [text_preview(source.texts[row], 140) for row in rows]}, hide_index=True)
