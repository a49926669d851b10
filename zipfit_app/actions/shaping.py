"""Shaping the cut by hand: rows always or never kept, patterns whose matches are never kept, caps on a group's
share. Each change is a new state of the run's shaping, stored with the run on disk (`services.shaping`), so it
survives a reload, is shared by every session of the run, and can be undone; what cannot be done is said on
Explore ("explore.shaping")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from zipfit_core.analysis.shaping import EVERY_GROUP, GroupCap, Shaping
from zipfit_core.data.sources import plural
from zipfit_core.errors import ZipFitError

from ..services import shaping as stored
from ..state.session import Session
from .outcome import Outcome, failed

PLACE = "explore.shaping"


def _change(session: Session, make: Callable[[Shaping], Shaping], done: str) -> Outcome:
    """Apply `make` to the run's current shaping and store the result (said in `done`); a change that cannot be
    made is said and nothing is stored."""
    if session.result is None:
        return failed("There are no scores to shape: score the data first.")
    run = session.result.run
    current = stored.current_shaping(run).shaping
    try:
        changed = make(current)
    except ZipFitError as error:
        session.notify(PLACE, str(error), "error", ":material/error:")
        return failed(str(error))
    if changed == current:
        return Outcome()
    stored.record(run, changed)
    session.notify(PLACE, done, "success", ":material/check:")
    return Outcome()


def _rows(rows: Iterable[int]) -> set[int]:
    return {int(row) for row in rows}


def keep_rows(session: Session, rows: Iterable[int]) -> Outcome:
    """Always keep `rows` (whatever their score; they count toward the cut's budget)."""
    chosen = _rows(rows)
    return _change(session, lambda shaping: replace(
        shaping, include_rows=tuple(set(shaping.include_rows) | chosen),
        exclude_rows=tuple(set(shaping.exclude_rows) - chosen)), f"Always keeping {_named(chosen)}.")


def never_keep_rows(session: Session, rows: Iterable[int]) -> Outcome:
    chosen = _rows(rows)
    return _change(session, lambda shaping: replace(
        shaping, exclude_rows=tuple(set(shaping.exclude_rows) | chosen),
        include_rows=tuple(set(shaping.include_rows) - chosen)), f"Never keeping {_named(chosen)}.")


def release_rows(session: Session, rows: Iterable[int]) -> Outcome:
    """Take `rows` out of both lists: the cut decides about them again."""
    return remove(session, rows=rows)


def remove(session: Session, *, rows: Iterable[int] = (), patterns: Iterable[str] = (),
           caps: Iterable[tuple[str, str | None]] = ()) -> Outcome:
    """Take rows (out of both lists), patterns and caps (by column and value) out of the shaping, in one change."""
    chosen, dropped, uncapped = _rows(rows), set(patterns), set(caps)

    def make(shaping: Shaping) -> Shaping:
        return replace(shaping, include_rows=tuple(set(shaping.include_rows) - chosen),
                       exclude_rows=tuple(set(shaping.exclude_rows) - chosen),
                       patterns=tuple(pattern for pattern in shaping.patterns if pattern not in dropped),
                       caps=tuple(cap for cap in shaping.caps if (cap.column, cap.value) not in uncapped))
    parts = ([_named(chosen)] if chosen else []) + [f"the pattern {pattern!r}" for pattern in dropped] + \
        [f"the cap on {column}={value if value is not None else EVERY_GROUP}" for column, value in uncapped]
    return _change(session, make, f"Removed {', '.join(parts)}: the cut decides about those rows again.")


def never_keep_matching(session: Session, pattern: str, n_matches: int) -> Outcome:
    """Never keep a row whose text `pattern` (RE2) matches: recorded as the pattern, so a replay finds them too."""
    return _change(session, lambda shaping: replace(shaping, patterns=tuple(dict.fromkeys((*shaping.patterns,
                                                                                            pattern)))),
                   f"Never keeping the {plural(n_matches, 'row')} matching {pattern!r}.")




def set_cap(session: Session, cap: GroupCap) -> Outcome:
    """Cap a group's share of the cut (a cap on the same group is replaced)."""
    def make(shaping: Shaping) -> Shaping:
        others = tuple(old for old in shaping.caps if (old.column, old.value) != (cap.column, cap.value))
        return replace(shaping, caps=(*others, cap))
    return _change(session, make, f"Capped {cap.describe()}.")


def undo(session: Session) -> None:
    """Back to the shaping before the last change (of any session of this run)."""
    if session.result is not None:
        stored.undo(session.result.run)
        session.notify(PLACE, "Undone: the shaping is back to what it was before the last change.", "info",
                       ":material/undo:")


def clear(session: Session) -> Outcome:
    return _change(session, lambda shaping: Shaping(), "Every row by hand, pattern and cap is removed (Undo brings "
                                                       "them back).")


def _named(rows: set[int]) -> str:
    shown = sorted(rows)
    if len(shown) == 1:
        return f"row {shown[0]}"
    return f"{len(shown):,} rows ({', '.join(map(str, shown[:5]))}{', ...' if len(shown) > 5 else ''})"
