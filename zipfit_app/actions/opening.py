"""Opening what was computed before as the session's run: a cached result, or a score folder.

A cached run loads the data its record names (the recipes), with its method and settings. A score folder
(`zipfit score SOURCE TARGET --out FOLDER`, local or Ray engine) makes its source rows the session's source
pool (a `folder` data choice, so a link reopens it) and its scores the shown ZIP-FIT scores at its codec and
level; its targets are loaded again when they can be found under the data root with the fingerprint the
folder recorded. Every path goes through `zipfit_core.engines.open_folder`, which applies the data root's rules.
"""

from __future__ import annotations

from zipfit_core.engines.open_folder import OpenedScoreFolder, find_score_folders, recorded_target
from zipfit_core.errors import ZipFitError

from ..config import app_settings
from ..services import loaders, methods, scores
from ..state.session import Session
from ..state.view import DataChoice
from .data import forget, load_data
from .outcome import Outcome, failed
from .runs import chosen_run, resolve

FOUND_LIMIT = 200


def open_cached(session: Session, key: str) -> Outcome:
    """Make a cached run current on every page: load the data its record names, with its method and settings."""
    item = next((entry for entry in scores.cache_items() if entry.key == key), None)
    if item is None:
        return failed("That result is no longer in the cache.")
    source_choice, target_choice = scores.data_of_cached(item)
    if source_choice is None or target_choice is None:
        return failed("This result was scored outside the app (e.g. with `zipfit score`): load the same source and "
                      "target on the Data page and score again; the cached numbers are reused.")
    for role, choice in (("source", source_choice), ("target", target_choice)):
        if choice.kind == "upload":
            return failed(f"The {role} of this result was an upload ({choice.location}): upload it again on the "
                          "Data page and score again; the cached numbers are reused.")
    run = item.run
    method, own = run.method_settings()
    codec = run.codec or session.view.codec
    level = run.level if run.level is not None else session.view.level
    settings = {name: value for name, value in own.items() if name not in methods.COMPRESSION_SETTINGS}
    session.method_settings[method] = methods.with_defaults(method, settings)
    session.update_view(codec=codec, level=level, method=method, method_settings=methods.non_default(method, settings))
    for role, choice in (("source", source_choice), ("target", target_choice)):
        outcome, _ = load_data(session, role, choice)
        if outcome.problem:
            return outcome
    result = session.result
    if result is None or not scores.is_for(result, chosen_run(session)):
        return failed("The data named by this result has changed since it was scored: score it again.")
    return Outcome()


def found_folders() -> list[str]:
    """Score folders under the data root, for the picker."""
    return find_score_folders(app_settings().data_root, limit=FOUND_LIMIT)


def open_score_folder(session: Session, location: str) -> Outcome:
    """Make the score folder at `location` (under the data root) the session's scored result; the notes say why
    its targets were not loaded, when they were not."""
    location = location.strip()
    if not location:
        return failed("Give the score folder's path under the data root (e.g. `scores_out`).")
    session.update_view(method="zipfit", method_settings={})
    outcome, _ = load_data(session, "source", DataChoice("folder", location))
    if outcome.problem:
        return outcome
    folder = loaders.folder_of(session.loaded["source"])
    run = folder.run
    session.update_view(codec=run.codec, level=run.level)
    resolve(session)
    notes = []
    problem = _load_targets(session, folder)
    if problem is not None:
        if session.choice("target") is not None:
            forget(session, "target")
        notes.append(f"The targets were not loaded: {problem} Explore and Export work without them; load the same "
                     "targets on the Data page to see each row's nearest targets or to score with another method.")
    if session.result is None or scores.kind_of(session.result.job_id) != "folder":
        return failed("The folder's scores could not be attached: open it again.", notes)
    return Outcome(notes=notes)


def _load_targets(session: Session, folder: OpenedScoreFolder) -> str | None:
    """Load the targets the folder records, if found under the data root with the recorded texts."""
    run = folder.run
    try:
        source, text = recorded_target(run, app_settings().data_root, folder.path)
    except ZipFitError as error:
        return str(error)
    choice = DataChoice(source.kind, source.location, field=text.field, template=text.template)
    outcome, loaded = load_data(session, "target", choice)
    if outcome.problem:
        return outcome.problem
    if loaded.fingerprint != run.target_fingerprint:
        return (f"{loaders.describe(choice)} is not the target set this folder was scored against (its texts "
                "differ, e.g. a filter or template was used when scoring).")
    return None
