"""Explore's search: a keyword or a regular expression over the text (or a column), a column filter and a length
range; the matches counted by where they stand against the cut (kept, dropped, left out by hand, a pattern or a
cap), their histogram over the pool's, the best of them in a table; "never keep all N matches", and the ticked
rows kept or left out by hand."""

from __future__ import annotations

import numpy as np
import streamlit as st

from zipfit_core.analysis.explore import kept_mask
from zipfit_core.data.sources import plural
from zipfit_core.errors import ZipFitError

from ..actions import shaping as shape
from ..actions import view
from ..services import methods
from ..services.explore import group_options
from ..services.search import matching_rows
from ..state.session import widget
from ..ui import notices
from ..ui.charts import matches_figure
from ..ui.markdown import literal, message
from .context import ExploreContext, cut_line, selectable_table
from .shaping import group_labels, selection_actions

LISTED_MATCHES = 200
THE_TEXT = "the text"
NO_FILTER = "(no filter)"
PLACE = "explore.search"


def search_section(context: ExploreContext) -> None:
    st.subheader("Search the pool", divider="gray")
    _search_form(context)
    notices.show(context.session, PLACE)
    search = context.session.search
    if search is None or search.empty:
        st.caption("A keyword (or a regular expression, RE2) over the text or a column, a column filter, a length "
                   "range: see where the matches stand against the cut, and leave them out or keep them by hand.")
        return
    try:
        rows = matching_rows(context.source, search)
    except ZipFitError as error:
        st.error(message(error), icon=":material/error:")
        return
    _matches(context, search, rows)


def _search_form(context: ExploreContext) -> None:
    columns = [THE_TEXT, *group_options(context.source), *_other_columns(context)]
    a, b, c, d = st.columns([4, 2, 1, 1], vertical_alignment="bottom")
    a.text_input("Search for", key="search.query", placeholder="e.g. Licensed under the MIT License")
    b.selectbox("In", columns, key="search.column")
    c.toggle("Regex", key="search.regex", help="An RE2 regular expression (linear time: no pattern can hang the "
                                                 "search; no look-behind or back-references).")
    d.toggle("Aa", key="search.case", help="Match case")
    e, f, g, h = st.columns([2, 3, 1, 1], vertical_alignment="bottom")
    filter_columns = [NO_FILTER, *group_options(context.source)]
    chosen = e.selectbox("Only rows whose", filter_columns, key="search.filter_column")
    values = group_labels(context, chosen) if chosen != NO_FILTER else []
    f.multiselect("is one of", values, key=f"search.filter_values.{chosen}", disabled=chosen == NO_FILTER)
    g.number_input("Min chars", 0, None, None, key="search.min_chars", step=100)
    h.number_input("Max chars", 0, None, None, key="search.max_chars", step=100)
    left, right = st.columns([1, 5])
    left.button("Search", type="primary", key="search.run", icon=":material/search:", on_click=_run,
                args=(context,), width="stretch")
    if context.session.search is not None:
        right.button("Clear the search", key="search.clear", on_click=view.set_search, args=(context.session, None))


def _other_columns(context: ExploreContext) -> list[str]:
    """Columns besides the text and the grouping ones (an id, a path): searchable too."""
    grouping = set(group_options(context.source))
    return [str(name) for name in context.source.table.columns
            if name != context.source.text_field and str(name) not in grouping]


def _run(context: ExploreContext) -> None:
    column = widget("search.column")
    chosen = widget("search.filter_column")
    filters = ((chosen, tuple(widget(f"search.filter_values.{chosen}") or ())),) if chosen not in (None, NO_FILTER) \
        else ()
    view.search(context.session, PLACE, query=widget("search.query") or "", regex=bool(widget("search.regex")),
                case_sensitive=bool(widget("search.case")), column=None if column in (None, THE_TEXT) else column,
                filters=filters, min_chars=widget("search.min_chars"), max_chars=widget("search.max_chars"))


def _statuses(context: ExploreContext, rows: np.ndarray) -> np.ndarray:
    """Where each matching row stands: kept, dropped (below the cut), or left out (by hand, a pattern, a cap)."""
    kept = kept_mask(context.index, context.kept())[rows]
    left_out = np.zeros(len(rows), dtype=bool)
    if context.shaped is not None and context.shaped.excluded:
        left_out |= np.isin(rows, context.shaped.excluded_rows)
    if context.selection is not None and context.selection.capped:
        left_out |= np.isin(rows, np.fromiter(context.selection.capped, dtype=np.int64))
    return np.where(kept, "kept", np.where(left_out, "left out", "dropped"))


def _matches(context: ExploreContext, search, rows: np.ndarray) -> None:
    session = context.session
    statuses = _statuses(context, rows)
    counts = {status: int((statuses == status).sum()) for status in ("kept", "dropped", "left out")}
    st.markdown(f"**{plural(len(rows), 'row')}** where " + literal(search.describe()) + ": " +
                f"{counts['kept']:,} kept by the cut, {counts['dropped']:,} dropped (below it), "
                f"{counts['left out']:,} left out by hand, by a pattern or a cap.")
    if len(rows) == 0:
        return
    st.plotly_chart(matches_figure(context.histogram, context.index.scores[rows], cut_line(context),
                                   score_title=methods.score_title(context.shown.method)), key="search.histogram")
    never = len(rows) - counts["left out"]
    what = f"Never keep all {len(rows):,} matches"
    if search.text_query_alone:
        st.button(what, key="search.never_all", icon=":material/block:", disabled=never == 0,
                  on_click=shape.never_keep_matching, args=(session, search.pattern(), len(rows)),
                  help=f"Recorded as the pattern {search.pattern()!r}: a replay of the export leaves out what it "
                       "matches there.")
    else:
        st.button(what, key="search.never_all", icon=":material/block:", disabled=never == 0,
                  on_click=shape.never_keep_rows, args=(session, rows.tolist()),
                  help="Recorded as their row numbers (the search has filters or a length range, not a pattern "
                       "alone).")
    order = np.lexsort((rows, -context.index.scores[rows]))[:LISTED_MATCHES]  # the ranking's order: no inverse made
    ranked = rows[order]
    st.caption(f"The best {len(ranked):,} matches by score" if len(rows) > LISTED_MATCHES else "The matches, best "
               "first" + "; tick rows to keep them or leave them out by hand.")
    picked = selectable_table(context, ranked, f"search.rows.{context.cut_key}",
                              extra={"stands": statuses[order].tolist()})
    selection_actions(context, picked, "search")
