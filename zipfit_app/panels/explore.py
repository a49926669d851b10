"""The Explore page: the cut beside its histogram, the composition of what it keeps, copies and
near-duplicates, the best and worst rows, the rows around the cut, score against length, and any row in full.

The cut is `panels.cut`, one row `panels.row`, copies and near-duplicates `panels.curation`; what the page works
on is `panels.context`, and what is computed once per scores lives in `services.explore`.
"""

from __future__ import annotations

import streamlit as st

from zipfit_core.analysis.explore import composition, rows_around_cut

from ..actions import view
from ..services import methods
from ..services.explore import NO_GROUP, group_options, length_view
from ..state.session import Session
from ..state.view import EXPLORE_TABS
from ..ui import widgets as bound
from ..ui.charts import score_length_figure
from . import curation, cut, dropped, row, search, shaping, targets
from .context import ExploreContext, cut_line, load_context, sample_table, scores_notice

SAMPLE_ROWS = 10
TAB_LABELS = dict(zip(EXPLORE_TABS, ("Top and bottom rows", "Rows around the cut", "Score against length",
                                     "Dropped rows")))


def page(session: Session) -> None:
    """The Explore page: the cut beside its histogram, composition, copies and near-duplicates, sample rows, and
    the open row in a dialog."""
    st.title("Explore")
    context = load_context(session)
    if context is None:
        return
    scores_notice(context)
    cut.notices(context)
    controls, chart = st.columns([2, 3], gap="large")
    with controls:
        cut.cut_controls(context)
        cut.balance_switch(context)
        cut.cut_counts(context)
        group_picker(context)
    with chart:
        cut.histogram(context)
        composition_table(context)
        if context.shown.complete:
            st.page_link("pages/export.py", label=f"Export these {context.summary.n_kept:,} rows",
                         icon=":material/download:")
    search.search_section(context)
    shaping.shaping_section(context)
    curation.explore_section(context)
    targets.coverage_section(context)
    sample_tabs(context)
    row.row_detail(context, notes=curation.row_note, actions=shaping.row_actions)


def group_picker(context: ExploreContext) -> None:
    options = [NO_GROUP, *group_options(context.source)]
    current = context.groups.column if context.groups else NO_GROUP
    bound.selectbox("Colour and count by", options, current, lambda column: view.set_group(context.session, column),
                    key="explore.group_by", help="A metadata column of the source pool, e.g. where each row came from.")


def composition_table(context: ExploreContext) -> None:
    if context.groups is None:
        return
    table = composition(context.groups, context.summary.n_kept, context.kept_rows)
    groups_name = context.groups.column
    caps = shaping.cap_column(context, list(table[groups_name]), table["total"].to_numpy())
    if caps is not None:  # each group's cap beside its share of the kept rows
        table.insert(table.columns.get_loc("share_of_kept") + 1, "cap", caps)
    st.dataframe(table, hide_index=True, column_config={
        "cap": st.column_config.NumberColumn("cap", format="percent", width="small",
                                             help="At most this share of the cut (set by hand)"),
        "kept": st.column_config.NumberColumn("kept", format="%d", width="small"),
        "total": st.column_config.NumberColumn("in pool", format="%d", width="small"),
        "share_of_kept": st.column_config.ProgressColumn("of kept", format="percent", min_value=0,
                                                         max_value=1, width="small"),
        "share_of_group_kept": st.column_config.ProgressColumn("of group", format="percent", min_value=0,
                                                               max_value=1, width="small",
                                                               help=f"How much of each {groups_name} the cut keeps"),
    })


def sample_tabs(context: ExploreContext) -> None:
    """Best and worst rows, rows around the cut, score against length; the open tab is the view's. Only the open
    tab's content is made and sent: on a large pool the other tabs' tables and scatter plot were most of what the
    browser drew again on every cut change (benchmarks/bench_serving.py)."""
    session = context.session
    labels = list(TAB_LABELS.values())

    def on_change(label: str) -> None:
        tab = next(name for name, text in TAB_LABELS.items() if text == label)
        view.set_tab(session, None if tab == EXPLORE_TABS[0] else tab)

    tabs = bound.tabs(labels, TAB_LABELS[session.view.tab or EXPLORE_TABS[0]], on_change, key="explore.tab")
    for tab, draw in zip(tabs, (_best_and_worst, _around_the_cut, _score_against_length, dropped.dropped_rows)):
        if tab.open:
            with tab:
                draw(context)


def _best_and_worst(context: ExploreContext) -> None:
    st.markdown(f"**Best {SAMPLE_ROWS}** (as in Table 1 of the paper). Click a row to read it in full.")
    sample_table(context, context.index.ranked[:SAMPLE_ROWS], "explore.top")
    st.markdown(f"**Worst {SAMPLE_ROWS}**")
    sample_table(context, context.index.ranked[-SAMPLE_ROWS:], "explore.bottom")


def _around_the_cut(context: ExploreContext) -> None:
    above, below = rows_around_cut(context.index, context.summary.n_kept, k=5, rows=context.kept_rows)
    reordered = context.kept_rows is not None  # balanced or shaped: the kept rows are not a prefix of the ranking
    st.markdown("**Lowest-scoring kept rows**" if reordered else "**Last kept rows** (just above the cut)")
    sample_table(context, above, f"explore.above.{context.cut_key}")  # new cut, no stale selection
    st.markdown("**Best dropped rows** (the cut keeps some rows below them)" if reordered
                else "**First dropped rows** (just below the cut)")
    sample_table(context, below, f"explore.below.{context.cut_key}")


def _score_against_length(context: ExploreContext) -> None:
    sample, correlation = length_view(context.shown.version, context.index.scores, context.index.n_chars)
    group_of_row = context.groups.label_of_rows(sample["row"].to_numpy()) if context.groups else None
    labels = context.groups.labels if context.groups else None
    st.plotly_chart(score_length_figure(sample, group_of_row, cut_line(context), correlation, labels,
                                        score_title=methods.score_title(context.shown.method)),
                    key="explore.length")
    st.caption(f"A random sample of {len(sample):,} rows. ZIP-FIT favours short texts: for unrelated texts "
               "1 - NCD is roughly the compressor's fixed overhead over the text's compressed size. "
               "A strong negative correlation means length drives much of the ranking.")
