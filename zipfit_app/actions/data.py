"""Loading data into a session: one data set for a role, a demo preset, the data a link names."""

from __future__ import annotations

from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError
from zipfit_core.store.data_store import Progress

from ..services import loaders
from ..state.session import Session
from ..state.view import DataChoice
from .outcome import Outcome, failed
from .runs import resolve

try:
    from zipfit_core.data.demo import DEMO_PRESETS
except ImportError:  # a copy without the bundled demo data: the other sources still work
    DEMO_PRESETS = {}


def load_data(session: Session, role: str, choice: DataChoice, upload: bytes | None = None,
              progress: Progress | None = None) -> tuple[Outcome, LoadedTexts | None]:
    """Load one data set and make it the session's source or target; the data loaded before stays on failure.

    Other data resets what belonged to the old: the open row, and for a new source its evaluation sets.
    """
    try:
        loaded, ref = loaders.load_choice(choice, upload, progress)
    except ZipFitError as error:
        return failed(str(error)), None
    except Exception as error:  # a bug or an unexpected file: report it and keep the app running
        return failed(f"Could not load this data ({type(error).__name__}: {error})."), None
    old = session.view
    session.loaded[role] = ref
    same = getattr(old, role) == choice
    changes: dict = {role: choice, "row": old.row if same else None}
    if role == "source" and not _same_rows(choice, old.source):
        # Evaluation sets belong to the source they were chosen for: kept with it, found again when it comes back.
        if old.source is not None:
            session.references_of[_rows_of(old.source)] = old.references
        changes["references"] = session.references_of.get(_rows_of(choice), ())
    session.update_view(**changes)
    resolve(session)
    return Outcome(), loaded


def _rows_of(choice: DataChoice) -> tuple[str, str]:
    return choice.kind, choice.location


def _same_rows(choice: DataChoice, other: DataChoice | None) -> bool:
    return other is not None and _rows_of(choice) == _rows_of(other)


def forget(session: Session, role: str) -> None:
    """The role has no data any more (e.g. a score folder's targets that could not be found)."""
    session.loaded.pop(role, None)
    session.update_view(**{role: None})
    resolve(session)


def apply_preset(session: Session, name: str) -> Outcome:
    """Load a demo preset's pool and targets."""
    source_name, target_name = DEMO_PRESETS[name]
    problems = []
    for role, demo_name in (("source", source_name), ("target", target_name)):
        outcome, _ = load_data(session, role, DataChoice("demo", demo_name))
        if outcome.problem:
            problems.append(outcome.problem)
    return Outcome(" ".join(problems) or None)


def restore_linked_data(session: Session) -> list[str]:
    """Load the data sets a link names (uploads cannot be: they are said); the problems, in words."""
    problems = []
    for role in loaders.ROLES:
        choice = getattr(session.view, role)
        if choice is None:
            continue
        name = loaders.ROLE_TITLES[role].lower()
        if choice.kind == "upload":
            problems.append(f"the {name} was an upload ({choice.location}): upload it again")
            continue
        references = session.view.references
        outcome, _ = load_data(session, role, choice)
        session.update_view(references=references)  # the link's evaluation sets are for the link's source
        if outcome.problem:
            session.notify(f"data.{role}", outcome.problem, "error")
    return problems
