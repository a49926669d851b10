"""Changing what the pages show: the cut, the method and its settings, codec and level, grouping, the open row
and tab, the evaluation sets. Each changes the session's view (and so the URL) and what depends on it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from zipfit_core.analysis.explore import ScoreIndex, snap_threshold
from zipfit_core.analysis.search import RowSearch
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.codecs import CODECS
from zipfit_core.scoring.methods import METHODS

from ..services import methods
from ..state.session import Session
from ..state.view import ViewState, describe_cut
from .runs import resolve

DEFAULT_RULE = SelectionRule(ViewState().cut_kind, ViewState().cut_value)


def set_cut(session: Session, rule: SelectionRule, index: ScoreIndex) -> None:
    """Make `rule` the cut; a threshold is written as the shortest number that keeps the same rows and belongs
    to the scores shown now."""
    value = snap_threshold(index, rule.value) if rule.kind == "threshold" else rule.value
    session.update_view(cut_kind=rule.kind, cut_value=float(value))
    session.threshold_for = session.result.job_id if rule.kind == "threshold" and session.result else None


def set_balanced(session: Session, balanced: bool) -> None:
    """Fill the cut's budget balanced over the targets (each target's nearest rows first), or by score."""
    session.update_view(balanced=bool(balanced))


def fit_cut(session: Session, index: ScoreIndex) -> SelectionRule:
    """The view's cut, valid for these scores: a top K larger than the pool becomes the pool, a token budget
    over the pool's tokens becomes all of them (said once); a cut that is not valid starts from the default."""
    view = session.view
    try:
        rule = SelectionRule(view.cut_kind, view.cut_value)
    except ZipFitError as error:  # a rule from an old session or a bad link: say so, use the default
        session.notify("explore.cut", f"The cut was reset ({error}).", "warning")
        session.update_view(cut_kind=DEFAULT_RULE.kind, cut_value=DEFAULT_RULE.value)
        return DEFAULT_RULE
    limit = {"top_k": index.n_rows, "token_budget": index.total_tokens}.get(rule.kind)
    if limit is not None and rule.value > limit:
        fitted = SelectionRule(rule.kind, limit)
        session.notify("explore.cut", f"The cut was {describe_cut(rule.kind, rule.value)}, more than these "
                                      f"{index.n_rows:,} rows have: it is now "
                                      f"{describe_cut(fitted.kind, fitted.value)}.",
                       icon=":material/fit_screen:")
        session.update_view(cut_value=float(limit))
        return fitted
    return rule


def choose_method(session: Session, method: str) -> None:
    """The method Start computes (and the pages show, once it exists: until then they show what exists)."""
    session.update_view(method=method, method_settings=methods.non_default(method, session.method_settings.get(method)))
    resolve(session)


def set_method_setting(session: Session, method: str, name: str, value: Any) -> None:
    """One of a method's own settings, kept for the session (the Score and Compare pages share them)."""
    if value is not None:  # the setting's range, as for the CLI and links (the widget keeps to it too)
        value = METHODS[method].setting(name).coerce(value)
    session.method_settings.setdefault(method, {})[name] = value
    if session.view.method == method:
        session.update_view(method_settings=methods.non_default(method, session.method_settings[method]))
        resolve(session)


def method_settings_of(session: Session, method: str) -> dict[str, Any]:
    """A method's own settings as the session left them, the rest at their defaults; a link's settings for the
    view's method count as the session's."""
    chosen = session.method_settings.get(method)
    if chosen is None and method == session.view.method and session.view.method_settings:
        chosen = session.method_settings[method] = dict(session.view.method_settings)
    return methods.with_defaults(method, chosen)


def set_codec(session: Session, codec: str) -> None:
    session.update_view(codec=codec, level=CODECS[codec].default_level)
    resolve(session)


def set_level(session: Session, level: int) -> None:
    session.update_view(level=int(level))
    resolve(session)


def set_group(session: Session, column: str | None) -> None:
    session.update_view(group_by=column)


def open_row(session: Session, row: int) -> None:
    session.update_view(row=int(row))


def close_row(session: Session) -> None:
    session.update_view(row=None)
    session.tables_version += 1  # new table keys: no table keeps the closed row ticked


def set_tab(session: Session, tab: str | None) -> None:
    session.update_view(tab=tab)


def set_references(session: Session, labels: list[str]) -> None:
    """The evaluation sets the source is checked against (they travel in the link with the source)."""
    session.update_view(references=tuple(labels))


def set_curation(session: Session, **changes: bool) -> None:
    """What the export removes (copies of the references, near-duplicates): Explore's Dropped rows show the same."""
    session.curation = replace(session.curation, **changes)


def search(session: Session, place: str, **question) -> None:
    """Run Explore's search (`analysis.search.RowSearch`); a question that cannot be asked is said at `place`."""
    try:
        session.search = RowSearch(**question)
    except ZipFitError as error:
        session.notify(place, str(error), "error", ":material/error:")


def set_search(session: Session, search: RowSearch | None) -> None:
    session.search = search


def ask_near_duplicates(session: Session, version: str, cut_key: str) -> None:
    """Look for near-duplicates in a cut too large to look at on every change (these scores, these rows)."""
    session.dedup_asked = (version, cut_key)
