"""What the Explore and Export pages work on: the loaded data, the current run's scores, their index, the groups
and the cut (`ExploreContext`); what to say when something is missing; clickable tables of rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from zipfit_core.analysis.coverage import balance_unavailable, facts_for_pool
from zipfit_core.analysis.explore import (
    CutSummary,
    GroupIndex,
    Histogram,
    ScoreIndex,
    rows_table,
    summarize_cut,
    summarize_selection,
)
from zipfit_core.analysis.selection import Selection, SelectionRule
from zipfit_core.analysis.shaping import ShapedRows, Shaping
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.target_facts import TargetFacts

from ..actions import runs, view
from ..services import methods, scores, shaping
from ..services.explore import group_column, groups_and_histogram, score_index_for
from ..services.loaders import LoadedData
from ..state.session import Session, widget
from ..ui.markdown import literal, message
from ..ui.progress import watch
from ..ui.tables import score_columns


@dataclass(frozen=True)
class ExploreContext:
    """What the page works on: the data, the scores and their index, the groups and the cut."""

    session: Session
    data: LoadedData
    shown: scores.ShownScores
    index: ScoreIndex
    groups: GroupIndex | None
    histogram: Histogram
    rule: SelectionRule
    summary: CutSummary
    facts: TargetFacts | None  # the per-target facts of these scores (None: not the exact ZIP-FIT pass's)
    balanced: bool  # the cut is balanced over the targets (the view asks for it and it can be made)
    shaping: Shaping  # rows always or never kept, patterns, caps: stored with the run
    shaped: ShapedRows | None  # the shaping resolved on this pool (None: unshaped, or it could not be applied)
    selection: Selection | None  # the cut's rows when they are not the best of the ranking (balanced or shaped)
    shaping_key: str = ""  # names the shaping in cache keys and work ids (computed once per script run)
    can_undo: bool = False  # the run's shaping has a change to undo
    shaping_problem: str | None = None  # why the shaping is not applied (the cut is then the rule's alone)

    @property
    def kept_rows(self) -> np.ndarray | None:
        """The cut's rows when they are not the best `summary.n_kept` of the ranking (None: they are)."""
        return None if self.selection is None else self.selection.rows

    def kept(self) -> np.ndarray:
        """The rows the cut keeps: the balanced or shaped cut's, or the best `summary.n_kept` of the ranking."""
        return self.selection.rows if self.selection is not None else self.index.ranked[:self.summary.n_kept]

    @property
    def cut_key(self) -> str:
        """Names the kept rows among cuts of these scores (any balanced cut is a prefix of one order too; a shaped
        cut is named by its shaping)."""
        shaped = f":{self.shaping_key}" if self.shaped is not None else ""
        return f"{'balanced' if self.balanced else 'by-score'}{shaped}:{self.summary.n_kept}"

    @property
    def balance_unavailable(self) -> str | None:
        """Why the cut cannot be balanced over the targets here (None: it can)."""
        return balance_unavailable(self.rule.kind, self.facts)

    @property
    def source(self) -> LoadedTexts:
        return self.data.source

    @property
    def target(self) -> LoadedTexts | None:  # None: a score folder opened without its targets
        return self.data.target


def load_context(session: Session) -> ExploreContext | None:
    """Gather the page's inputs from the session's current run; explains what is missing (and returns None)."""
    try:
        data = runs.current_data(session)
    except ZipFitError as error:
        st.error(message(error), icon=":material/error:")
        return None
    shown = scores.shown_scores(session.result, data) if data is not None and session.result is not None else None
    if shown is None:
        _nothing_to_explore(session, data)
        return None
    index = score_index_for(shown, data.source)
    column = group_column(session.view.group_by, data.source)
    values = data.source.table[column] if column else None
    groups, histogram = groups_and_histogram(shown.version, column, index, values)
    rule = view.fit_cut(session, index)
    facts = facts_for_pool(scores.target_facts_of(shown), index.n_rows) if data.target is not None else None
    balanced = session.view.balanced and balance_unavailable(rule.kind, facts) is None
    hand = shaping.current_shaping(session.result.run)
    shaped, selection, problem = None, None, hand.problem
    try:
        shaped = shaping.shaped_rows(data.source, hand) if not hand.shaping.empty else None
        if shaped is not None or balanced:
            selection = shaping.shaped_selection(shown.version, rule.kind, rule.value, hand.key,
                                                 balanced, index.scores, index.token_counts, shaped,
                                                 facts if balanced else None)
    except ZipFitError as error:  # caps that cannot hold, a row the pool does not have: say it, cut by the rule
        problem, shaped = str(error), None
        if balanced:
            selection = shaping.shaped_selection(shown.version, rule.kind, rule.value, "", True, index.scores,
                                                 index.token_counts, None, facts)
    summary = summarize_cut(index, rule) if selection is None else summarize_selection(index, selection)
    return ExploreContext(session, data, shown, index, groups, histogram, rule, summary, facts, balanced,
                          hand.shaping, shaped, selection, hand.key, hand.can_undo, problem)


def _nothing_to_explore(session: Session, data: LoadedData | None) -> None:
    """What is missing, and the page that fixes it: Data (re-upload a link's upload, load data) or Score."""
    current = session.view
    uploads = [choice for role in ("source", "target")
               if session.choice(role) is None and (choice := getattr(current, role)) is not None
               and choice.kind == "upload"]
    if uploads:
        names = " and ".join(literal(choice.location) for choice in uploads)
        st.info(f"Nothing to explore yet: the link names an upload ({names}), and uploads are not kept. Upload it "
                "again on the Data page; the scores are reused if they are still cached.", icon=":material/info:")
    elif data is None or (data.target is None and data.folder is None):
        st.info("Nothing to explore yet: load a source pool and a target set, then score them.",
                icon=":material/info:")
    else:
        st.info(f"Nothing to explore yet: {literal(runs.chosen_run(session).describe())} scores are not computed for "
                "this data.", icon=":material/info:")
        st.page_link("pages/score.py", label="Go to Score", icon=":material/arrow_forward:")
        return
    st.page_link("pages/data.py", label="Go to Data", icon=":material/arrow_forward:")


def scores_notice(context: ExploreContext) -> None:
    """Which method's scores these are; while a job runs, that they are a preview (refreshed as they sharpen)."""
    session, shown = context.session, context.shown
    if shown.method != "zipfit":
        st.caption(f"Scores: {methods.label(shown.method)} (not the paper's ZIP-FIT score).")
    if shown.method != session.view.method:
        st.caption(f"The Score page's method is {methods.label(session.view.method)}: its scores are not computed "
                   f"yet, so these are {methods.label(shown.method)}'s.")
    if shown.complete:
        return
    st.info(f"Preview from {shown.targets_seen} of {shown.n_targets} targets: every number here sharpens as "
            "scoring goes on (the page refreshes itself). Export waits for the exact scores.",
            icon=":material/hourglass_top:")
    result = session.result

    def sharpened() -> bool:
        latest = scores.shown_scores(result, context.data) if result is not None else None
        return latest is not None and latest.version != shown.version

    if scores.state_of(shown.job_id) in ("queued", "running"):
        watch(sharpened)


def cut_line(context: ExploreContext) -> float | None:
    """Where to draw the cut on score axes: the threshold, or the lowest kept score."""
    if context.rule.kind == "threshold":
        return context.rule.value
    return context.summary.lowest_kept_score


def _on_row_select(session: Session, table_key: str, rows: list[int]) -> None:
    state = widget(table_key)
    picked = state.get("selection", {}).get("rows", []) if state else []
    if picked:
        view.open_row(session, rows[picked[0]])


def _rows_frame(context: ExploreContext, rows: np.ndarray, extra: dict | None):
    table = rows_table(context.index, rows, context.source.texts, groups=context.groups)
    for position, (name, values) in enumerate((extra or {}).items()):
        table.insert(min(3 + position, len(table.columns)), name, values)
    return table


def sample_table(context: ExploreContext, rows: np.ndarray, key: str, extra: dict | None = None) -> None:
    """A few rows, clickable (a click opens the row; the open row is ticked): the score as a bar, the beginning
    of the text; `extra` adds columns (name -> one value per row)."""
    table = _rows_frame(context, rows, extra)
    shown_rows = table["row"].tolist()
    key = f"{key}.{context.session.tables_version}"
    row = context.session.view.row
    ticked = {"selection": {"rows": [shown_rows.index(row)]}} if row in shown_rows else None
    st.dataframe(table, hide_index=True, key=key, selection_mode="single-row", selection_default=ticked,
                 on_select=lambda: _on_row_select(context.session, key, shown_rows),
                 column_config=score_columns(context.index.score_range()))


def selectable_table(context: ExploreContext, rows: np.ndarray, key: str, extra: dict | None = None) -> list[int]:
    """Rows to act on together: tick any number; returns the ticked rows (`panels.shaping.selection_actions`)."""
    table = _rows_frame(context, rows, extra)
    shown_rows = table["row"].tolist()
    event = st.dataframe(table, hide_index=True, key=f"{key}.{context.session.tables_version}",
                         selection_mode="multi-row", on_select="rerun",
                         column_config=score_columns(context.index.score_range()))
    return [int(shown_rows[position]) for position in event.selection.rows if position < len(shown_rows)]
