"""Shaping the cut by hand on Explore: the rows always and never kept, the patterns and the caps of this run, each
removable, with Undo; the cap editor; and the caps beside the composition. Every change is an action of
`actions.shaping` (stored with the run on disk)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from zipfit_core.analysis.explore import text_preview
from zipfit_core.analysis.shaping import GroupCap, Shaping
from zipfit_core.data.sources import plural
from zipfit_core.data.texts import texts_at
from zipfit_core.errors import ZipFitError

from ..actions import shaping as shape
from ..actions.view import open_row as view_open
from ..services.explore import group_options, groups_and_histogram
from ..state.session import widget
from ..ui import notices
from ..ui.markdown import literal
from .context import ExploreContext

NOT_IN_POOL = "(not in this pool)"
LISTED_OVERRIDES = 500  # a longer list shows its first entries (all of them are applied and recorded)
EVERY_GROUP_LABEL = "every group"


def _entries(context: ExploreContext) -> pd.DataFrame:
    """One line per override: what it is, what it does to this cut now; `key` says how to remove it."""
    shaping = context.shaping
    included = np.asarray(shaping.include_rows[:LISTED_OVERRIDES], dtype=np.int64)
    excluded = np.asarray(shaping.exclude_rows[:LISTED_OVERRIDES], dtype=np.int64)
    kept = np.isin(included, context.kept())  # a row kept by hand may still not fit (a token budget)
    listed = np.concatenate([included, excluded])
    inside = listed[listed < context.index.n_rows]  # a row the pool does not have is said, not read
    beginnings = dict(zip(inside.tolist(), (text_preview(text, 80) for text in texts_at(context.source.texts,
                                                                                          inside))))
    lines: list[tuple[str, str, str, str, object]] = []
    for row, is_kept in zip(included.tolist(), kept.tolist()):
        lines.append(("always keep", f"row {row}", "kept" if is_kept else "not kept",
                      beginnings.get(row, NOT_IN_POOL), ("row", row)))
    for row in excluded.tolist():
        lines.append(("never keep", f"row {row}", "left out", beginnings.get(row, NOT_IN_POOL), ("row", row)))
    for pattern in shaping.patterns:
        matched = sum(1 for _reason, what in (context.shaped.excluded.values() if context.shaped else ())
                      if what == pattern)
        lines.append(("never keep matches", pattern, f"{plural(matched, 'row')} left out", "", ("pattern", pattern)))
    for cap in shaping.caps:
        lines.append(("cap", cap.describe(), _cap_effect(context, cap), "", ("cap", (cap.column, cap.value))))
    return pd.DataFrame(lines, columns=["kind", "what", "now", "beginning of the text", "key"])


def _cap_effect(context: ExploreContext, cap: GroupCap) -> str:
    label = f"{cap.column}=" if cap.value is None else f"{cap.column}={cap.value}"
    skipped = [group for group in (context.selection.capped.values() if context.selection is not None else ())
               if (group.startswith(label) if cap.value is None else group == label)]
    return f"{plural(len(skipped), 'row')} skipped at the cap" if skipped else "not reached"


def _remove(context: ExploreContext, keys: list) -> None:
    """The ticked entries removed in one change (one Undo brings them all back)."""
    shape.remove(context.session, rows=[value for kind, value in keys if kind == "row"],
                 patterns=[value for kind, value in keys if kind == "pattern"],
                 caps=[value for kind, value in keys if kind == "cap"])


def shaping_section(context: ExploreContext) -> None:
    """What was asked by hand for this run, what it does, how to take it back; the cap editor."""
    session, shaping = context.session, context.shaping
    st.subheader("Shape the cut by hand", divider="gray")
    notices.show(session, shape.PLACE)
    if context.shaping_problem:
        st.error(literal(f"The rows by hand, patterns and caps are not applied: {context.shaping_problem}"),
                 icon=":material/error:")
    a, b, c = st.columns([2, 1, 1])
    a.caption(describe_shaping(shaping) + " Stored with this run: a reload, another session and the export see them.")
    b.button("Undo the last change", key="shaping.undo", icon=":material/undo:", disabled=not context.can_undo,
             on_click=shape.undo, args=(session,), width="stretch")
    c.button("Remove all", key="shaping.clear", icon=":material/clear_all:", disabled=shaping.empty,
             on_click=shape.clear, args=(session,), width="stretch")
    if not shaping.empty:
        _overrides_table(context)
    _cap_editor(context)


def describe_shaping(shaping: Shaping) -> str:
    if shaping.empty:
        return ("Nothing by hand yet: keep or leave out rows from a row's dialog, a search or the Dropped rows tab, "
                "and cap a group's share below.")
    parts = [plural(len(shaping.include_rows), "row") + " always kept", plural(len(shaping.exclude_rows), "row")
             + " never kept", plural(len(shaping.patterns), "pattern"), plural(len(shaping.caps), "cap")]
    return ", ".join(parts) + "."


def _overrides_table(context: ExploreContext) -> None:
    table = _entries(context)
    key = f"shaping.entries.{context.shaping_key}"
    event = st.dataframe(table.drop(columns=["key"]), hide_index=True, key=key, on_select="rerun",
                         selection_mode="multi-row", height=min(400, 38 + 35 * len(table)))
    shown = len(context.shaping.include_rows) + len(context.shaping.exclude_rows)
    if shown > 2 * LISTED_OVERRIDES:
        st.caption(f"Listing the first {LISTED_OVERRIDES} rows of each list; all {shown:,} are applied.")
    picked = [table["key"].iloc[position] for position in event.selection.rows if position < len(table)]
    st.button(f"Remove the {plural(len(picked), 'selected entry', 'selected entries')}" if picked
              else "Select entries to remove them", key="shaping.remove", icon=":material/delete:",
              disabled=not picked, on_click=_remove, args=(context, picked))


def _cap_editor(context: ExploreContext) -> None:
    columns = group_options(context.source)
    if not columns:
        st.caption("Caps limit a group's share of the cut; this pool has no column to group by.")
        return
    with st.expander("Cap a group's share of the cut"):
        a, b, c = st.columns([2, 2, 2])
        default = context.groups.column if context.groups is not None else columns[0]
        column = a.selectbox("Column", columns, index=columns.index(default) if default in columns else 0,
                             key="shaping.cap_column")
        values = [EVERY_GROUP_LABEL, *group_labels(context, column)]
        b.selectbox("Group", values, key=f"shaping.cap_value.{column}")  # per column: its own values
        pool_share = c.toggle("At most its share of the pool", key="shaping.cap_pool",
                              help="Each group at most the share it has in the whole pool: the cut keeps the pool's "
                                   "mixture.")
        c.number_input("At most this percent of the cut", 0.1, 100.0, value=10.0, step=1.0,
                               key="shaping.cap_share", disabled=pool_share)
        st.caption("Applied while the cut is filled: a row whose group is at its cap is skipped and the next best "
                   "row taken, so the cut still keeps as many rows.")
        st.button("Add the cap", key="shaping.add_cap", icon=":material/vertical_align_top:",
                  on_click=_add_cap, args=(context,))


def group_labels(context: ExploreContext, column: str) -> list[str]:
    """The values of a grouping column (found once per scores and column)."""
    groups, _histogram = groups_and_histogram(context.shown.version, column, context.index,
                                              context.source.table[column])
    return list(groups.labels) if groups is not None else []


def _add_cap(context: ExploreContext) -> None:
    column = widget("shaping.cap_column")
    value = widget(f"shaping.cap_value.{column}")
    share = None if widget("shaping.cap_pool") else float(widget("shaping.cap_share") or 0) / 100
    try:
        cap = GroupCap(column, None if value in (None, EVERY_GROUP_LABEL) else value, share)
    except ZipFitError as error:
        context.session.notify(shape.PLACE, str(error), "error", ":material/error:")
        return
    shape.set_cap(context.session, cap)


def cap_column(context: ExploreContext, labels: list[str], totals: np.ndarray) -> list[float | None] | None:
    """Each group's cap as a share of the cut (None: not capped), for the composition table; None when no cap
    names the grouped column."""
    column = context.groups.column if context.groups is not None else None
    caps = [cap for cap in context.shaping.caps if cap.column == column] if context.shaped is not None else []
    if not caps:
        return None
    n_rows = max(int(totals.sum()), 1)
    shares: list[float | None] = []
    for label, total in zip(labels, totals):
        cap = next((cap for cap in caps if cap.value in (label, None)), None)
        shares.append(None if cap is None else (cap.share if cap.share is not None else float(total) / n_rows))
    return shares


def why_not_kept(context: ExploreContext, row: int) -> str:
    """Why the cut (before copies and near-duplicates are removed on export) does not keep `row`."""
    if context.shaped is not None and row in context.shaped.excluded:
        reason, pattern = context.shaped.excluded[row]
        return f"{reason} ({pattern!r})" if pattern else reason
    if context.selection is not None and row in context.selection.capped:
        return f"over its group's cap ({context.selection.capped[row]})"
    return "below the cut" if not context.balanced else "not reached by the balanced fill"


def row_actions(context: ExploreContext, row: int) -> None:
    """In a row's dialog: whether it is kept and why not, and keep it always / never / as the cut decides."""
    session, shaping = context.session, context.shaping
    kept = bool(np.any(context.kept() == row))
    if row in shaping.include_rows:
        state = "Always kept (by hand)."
    elif row in shaping.exclude_rows:
        state = "Never kept (by hand)."
    else:
        state = "Kept by the cut." if kept else f"Not kept: {why_not_kept(context, row)}."
    a, b, c = st.columns([3, 2, 2])
    a.caption(literal(state))
    by_hand = row in shaping.include_rows or row in shaping.exclude_rows
    # A dialog is a fragment: after the change the whole page runs again, so the cut around it is redrawn too.
    if by_hand and b.button("Let the cut decide", key="row.release", icon=":material/undo:", width="stretch"):
        _then_rerun(shape.release_rows(session, [row]))
    if not by_hand and b.button("Always keep", key="row.keep", icon=":material/add_circle:", width="stretch"):
        _then_rerun(shape.keep_rows(session, [row]))
    if row in shaping.exclude_rows:
        if c.button("Always keep", key="row.keep", icon=":material/add_circle:", width="stretch"):
            _then_rerun(shape.keep_rows(session, [row]))
    elif c.button("Never keep", key="row.never", icon=":material/block:", width="stretch"):
        _then_rerun(shape.never_keep_rows(session, [row]))


def _then_rerun(_outcome) -> None:
    st.rerun(scope="app")


def selection_actions(context: ExploreContext, rows: list[int], key: str) -> None:
    """Buttons under a table with ticked rows: open one, keep them always, never, or let the cut decide."""
    session = context.session
    a, b, c, d = st.columns(4)
    named = plural(len(rows), "ticked row")
    if a.button(f"Open row {rows[0]}" if len(rows) == 1 else "Tick one row to open it", key=f"{key}.open",
                icon=":material/open_in_full:", disabled=len(rows) != 1, width="stretch"):
        view_open(session, rows[0])
    b.button(f"Always keep the {named}" if rows else "Always keep", key=f"{key}.keep", disabled=not rows,
             icon=":material/add_circle:", on_click=shape.keep_rows, args=(session, rows), width="stretch")
    c.button(f"Never keep the {named}" if rows else "Never keep", key=f"{key}.never", disabled=not rows,
             icon=":material/block:", on_click=shape.never_keep_rows, args=(session, rows), width="stretch")
    by_hand = [row for row in rows if row in context.shaping.include_rows or row in context.shaping.exclude_rows]
    d.button("Let the cut decide", key=f"{key}.release", disabled=not by_hand, icon=":material/undo:",
             on_click=shape.release_rows, args=(session, by_hand), width="stretch",
             help="Takes the ticked rows out of the lists of rows kept or left out by hand.")
