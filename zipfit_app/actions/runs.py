"""The run a session shows, and what a user does with runs: start, let go, open a cached one or a score folder.

A run is (source, target, method and settings, codec, level). `resolve` keeps `session.result` equal to the
scores every page shows: the chosen run's when they exist (running, done, or partial in the cache); otherwise
the scores shown before for the same data, or ZIP-FIT's for it, labelled with their method, so that choosing
another method or level in a menu hides nothing; never another data set's.
"""

from __future__ import annotations

from zipfit_core.data.sources import plural
from zipfit_core.errors import ZipFitError
from zipfit_core.store.cache_admin import format_size

from ..services import loaders, methods, scores, work
from ..services.loaders import LoadedData
from ..services.scores import RunChoice
from ..state.records import ResultRef
from ..state.session import Session
from ..state.view import ViewState, describe_cut
from .outcome import Outcome, failed


def current_data(session: Session) -> LoadedData | None:
    """The session's loaded data (None without a source); raises ZipFitError when it cannot be read again."""
    return loaders.loaded_data(session.loaded.get("source"), session.loaded.get("target"))


def chosen_run(session: Session) -> RunChoice:
    """What Start computes: the view's method with the session's settings for it, at the view's codec and level."""
    view = session.view
    return RunChoice(view.method, methods.run_settings(view.method, session.method_settings.get(view.method),
                                                       view.codec, view.level))


def _bind(session: Session, ref: ResultRef | None) -> None:
    if ref is not None and scores.kind_of(ref.job_id) != "folder" and not work.status(ref.job_id).finished:
        session.declined.discard(ref.job_id)
        work.follow(ref.job_id, session.id)
    session.result = ref


def resolve(session: Session) -> None:
    """Make `session.result` the scores the pages show for the loaded data and chosen settings (see the module
    docstring); a threshold cut set on other scores starts again from the default, said once on Explore."""
    try:
        data = current_data(session)
    except ZipFitError:
        data = None
    shown = session.result
    if data is None:
        session.result = None
    else:
        choice = chosen_run(session)
        shown_here = scores.matches(shown, data) and scores.still_known(shown, data)
        if not (shown_here and scores.is_for(shown, choice)):
            found = scores.find(data, choice, session.declined)
            if found is None and shown_here and shown.job_id not in session.declined:
                found = shown  # the scores shown before, for this data: kept while the menus change
            if found is None and choice.method != "zipfit":
                found = scores.find(data, scores.zipfit_choice(session.view.codec, session.view.level),
                                    session.declined)
            if found is None and data.folder is not None:  # a link naming only the folder: it knows its codec
                run = data.folder.run
                found = scores.find(data, scores.zipfit_choice(run.codec, run.level), session.declined)
                if found is not None:
                    session.update_view(method="zipfit", codec=run.codec, level=run.level)
            _bind(session, found)
    _fit_threshold(session)


def _fit_threshold(session: Session) -> None:
    """A threshold belongs to the scores it was set on (other scores may keep nothing at the same number)."""
    view, result = session.view, session.result
    current = result.job_id if result is not None else None
    if view.cut_kind != "threshold":
        session.threshold_for = None
    elif session.threshold_for is None:
        session.threshold_for = current  # a link's threshold: taken as set on the scores it finds
    elif current != session.threshold_for:
        default = ViewState()
        session.notify("explore.cut", f"The cut was {describe_cut(view.cut_kind, view.cut_value)}, a threshold set "
                                      "on other scores: it starts again from the "
                                      f"{describe_cut(default.cut_kind, default.cut_value)}.",
                       icon=":material/restart_alt:")
        session.update_view(cut_kind=default.cut_kind, cut_value=default.cut_value)
        session.threshold_for = None


def start_scoring(session: Session) -> Outcome:
    """Submit (or join) the chosen run on the loaded data; the session follows it."""
    try:
        data = current_data(session)
        if data is None or data.target is None:
            return failed("Load a source pool and a target set on the Data page first.")
        ref = scores.start(data, chosen_run(session))
    except ZipFitError as error:
        return failed(str(error))
    _bind(session, ref)
    _fit_threshold(session)
    return Outcome()


def let_go(session: Session, work_id: str) -> Outcome:
    """This session no longer wants the work: it stops unless others wait for it; then this session stops
    following it, and does not attach it again until asked."""
    left = work.let_go(work_id, session.id)
    if not left:
        return Outcome()
    session.declined.add(work_id)
    if session.result is not None and session.result.job_id == work_id:
        session.result = None
    others = f"{plural(left, 'other session')} still wait{'s' if left == 1 else ''}"
    return Outcome(notes=[f"You no longer follow this job. {others} for it, so it goes on for them; start scoring "
                          "again to follow it."])


def stop_for_everyone(work_id: str) -> Outcome:
    work.stop_for_everyone(work_id)
    return Outcome()


def remove_cached(session: Session, key: str) -> Outcome:
    """Remove one cache entry; a refusal (it is being computed) is the problem, nothing is lost."""
    try:
        item = scores.remove_cached(key)
    except ZipFitError as error:
        return failed(str(error))
    if session.result is not None and session.result.job_id == scores.work_id_of(item):
        session.result = None
    resolve(session)
    title = scores.label_text(item) if item.label else f"entry {item.key[:12]}"
    return Outcome(notes=[f"Removed {title}: freed {format_size(item.size_bytes)}."])
