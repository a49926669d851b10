"""The Explore page's pieces: the context it works on, groups and composition, and the tables of sample rows.

The cut and its histogram are `cut_panel`; one row in full is `row_panel`.

Everything computed per scored dataset (ranking, groups, histogram, score-vs-length sample) is cached
in the server process by a version that changes with the numbers; a cut change then costs a few
milliseconds of `zipfit_core.analysis.explore` work (see benchmarks/bench_explore.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from zipfit_core.analysis.compare import length_bias, score_length_sample
from zipfit_core.analysis.explore import (
    CutSummary,
    GroupIndex,
    Histogram,
    ScoreIndex,
    build_group_index,
    build_score_index,
    composition,
    group_columns,
    rows_around_cut,
    rows_table,
    score_histogram,
    summarize_cut,
)
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError

from . import datasets, methods, results
from .charts import score_length_figure
from .markdown import literal, message
from .tables import score_columns
from .view import get_view, update_view
from .view_state import EXPLORE_TABS

NO_GROUP = "(none)"
DEFAULT_GROUP_COLUMNS = ("domain", "source", "category", "label", "split")
SAMPLE_ROWS = 10
TAB_LABELS = dict(zip(EXPLORE_TABS, ("Top and bottom rows", "Rows around the cut", "Score against length")))
TABLES_KEY = "explore.tables"  # a number in every table's key, changed when a row is closed: no stale ticks


@dataclass(frozen=True)
class ExploreContext:
    """What the page works on: the data, the scores and their index, the groups and the cut."""

    source: LoadedTexts
    target: LoadedTexts | None  # None: a score folder opened without its targets
    shown: results.ShownScores
    index: ScoreIndex
    groups: GroupIndex | None
    histogram: Histogram
    rule: SelectionRule
    summary: CutSummary


@st.cache_resource(max_entries=4, show_spinner="Ranking the scores...")
def _score_index(version: str, _scores: np.ndarray, _tokens: np.ndarray, _chars: np.ndarray) -> ScoreIndex:
    return build_score_index(_scores, token_counts=_tokens, n_chars=_chars)


def score_index_for(shown: results.ShownScores, source: LoadedTexts) -> ScoreIndex:
    """The ranking of the shown scores with the pool's token counts and lengths, cached by version."""
    return _score_index(shown.version, shown.scores, datasets.token_counts(source), datasets.char_counts(source))


@st.cache_resource(max_entries=8, show_spinner=False)
def groups_and_histogram(version: str, column: str | None, _index: ScoreIndex,
                         _values) -> tuple[GroupIndex | None, Histogram]:
    """Groups by a column (or none) and the histogram stacked by them, cached by scores version and column."""
    groups = build_group_index(_values, _index, column) if column else None
    return groups, score_histogram(_index, groups)


@st.cache_resource(max_entries=4, show_spinner=False)
def _length_view(version: str, _scores: np.ndarray, _chars: np.ndarray) -> tuple[pd.DataFrame, float | None]:
    sample = score_length_sample({"zipfit": _scores}, _chars, max_points=3000)
    bias = length_bias({"zipfit": _scores}, _chars)
    correlation = float(bias["spearman_score_length"].iloc[0]) if len(bias) else None
    return sample, correlation


def load_context() -> ExploreContext | None:
    """Gather the page's inputs; explains what is missing (and returns None) when something is."""
    view = get_view()
    try:
        source, target = datasets.current("source"), datasets.current("target")
    except ZipFitError as error:
        st.error(message(error), icon=":material/error:")
        return None
    job_id = results.current_job(view) if source is not None else None
    shown = results.shown_scores(job_id) if job_id else None
    if shown is None:
        _nothing_to_explore(source, target)
        return None
    index = score_index_for(shown, source)
    column = group_column(view.group_by, group_columns(source.table, exclude=[source.text_field]))
    values = source.table[column] if column else None
    groups, histogram = groups_and_histogram(shown.version, column, index, values)
    try:
        rule = SelectionRule(view.cut_kind, view.cut_value)
        summary = summarize_cut(index, rule)
    except ZipFitError as error:
        st.warning(f"The cut was reset ({message(error)}).", icon=":material/warning:")
        rule = SelectionRule("top_percent", 10)
        update_view(cut_kind=rule.kind, cut_value=rule.value)
        summary = summarize_cut(index, rule)
    return ExploreContext(source, target, shown, index, groups, histogram, rule, summary)


def _nothing_to_explore(source: LoadedTexts | None, target: LoadedTexts | None) -> None:
    """What is missing, and the page that fixes it: Data (re-upload a link's upload, load data) or Score."""
    view = get_view()
    uploads = [choice for role, loaded in (("source", source), ("target", target))
               if loaded is None and (choice := getattr(view, role)) is not None and choice.kind == "upload"]
    if uploads:
        names = " and ".join(literal(choice.location) for choice in uploads)
        st.info(f"Nothing to explore yet: the link names an upload ({names}), and uploads are not kept. Upload it "
                "again on the Data page; the scores are reused if they are still cached.", icon=":material/info:")
    elif source is None or (target is None and datasets.current_folder() is None):
        st.info("Nothing to explore yet: load a source pool and a target set, then score them.",
                icon=":material/info:")
    else:
        st.info(f"Nothing to explore yet: {methods.label(view.method)} scores are not computed for this data and "
                "these settings.", icon=":material/info:")
        st.page_link("pages/score.py", label="Go to Score", icon=":material/arrow_forward:")
        return
    st.page_link("pages/data.py", label="Go to Data", icon=":material/arrow_forward:")


def group_column(chosen: str | None, options: list[str]) -> str | None:
    """The column to group by: the one chosen (NO_GROUP for none), else the first broad one the pool has."""
    if chosen == NO_GROUP:
        return None
    if chosen in options:
        return chosen
    return next((name for name in DEFAULT_GROUP_COLUMNS if name in options), None)


def preview_notice(context: ExploreContext) -> None:
    """Which method's scores these are; while a job runs, that they are a preview (refreshed as they sharpen)."""
    method = get_view().method
    if method != "zipfit":
        st.caption(f"Scores: {methods.label(method)}, chosen on the Score page (not the paper's ZIP-FIT score).")
    shown = context.shown
    if shown.complete:
        return
    st.info(f"Preview from {shown.targets_seen} of {shown.n_targets} targets: every number here sharpens as "
            "scoring goes on (the page refreshes itself). Export waits for the exact scores.",
            icon=":material/hourglass_top:")

    @st.fragment(run_every=3.0)
    def watch() -> None:
        latest = results.shown_scores(shown.job_id)
        if latest is not None and latest.version != shown.version:
            st.rerun()

    watch()


def cut_line(context: ExploreContext) -> float | None:
    """Where to draw the cut on score axes: the threshold, or the lowest kept score."""
    if context.rule.kind == "threshold":
        return context.rule.value
    return context.summary.lowest_kept_score


# ---------------------------------------------------------------------------------------------- groups


def _on_group_change() -> None:
    update_view(group_by=st.session_state["explore.group_by"])


def group_picker(context: ExploreContext) -> None:
    options = [NO_GROUP, *group_columns(context.source.table, exclude=[context.source.text_field])]
    current = context.groups.column if context.groups else NO_GROUP
    if st.session_state.get("explore.group_by") != current:
        st.session_state["explore.group_by"] = current
    st.selectbox("Colour and count by", options, key="explore.group_by", on_change=_on_group_change,
                 help="A metadata column of the source pool, e.g. where each row came from.")


def composition_table(context: ExploreContext) -> None:
    if context.groups is None:
        return
    table = composition(context.groups, context.summary.n_kept)
    groups_name = context.groups.column
    st.dataframe(table, hide_index=True, column_config={
        "kept": st.column_config.NumberColumn("kept", format="%d", width="small"),
        "total": st.column_config.NumberColumn("in pool", format="%d", width="small"),
        "share_of_kept": st.column_config.ProgressColumn("of kept", format="percent", min_value=0,
                                                         max_value=1, width="small"),
        "share_of_group_kept": st.column_config.ProgressColumn("of group", format="percent", min_value=0,
                                                               max_value=1, width="small",
                                                               help=f"How much of each {groups_name} the cut keeps"),
    })


# ---------------------------------------------------------------------------------------------- rows


def _on_row_select(table_key: str, rows: list[int]) -> None:
    state = st.session_state.get(table_key)
    picked = state.get("selection", {}).get("rows", []) if state else []
    if picked:
        update_view(row=int(rows[picked[0]]))


def sample_table(context: ExploreContext, rows: np.ndarray, key: str) -> None:
    """A few rows, clickable (a click opens the row; the open row is ticked): the score as a bar, the beginning
    of the text."""
    table = rows_table(context.index, rows, context.source.texts, groups=context.groups)
    shown_rows = table["row"].tolist()
    key = f"{key}.{st.session_state.get(TABLES_KEY, 0)}"
    row = get_view().row
    ticked = {"selection": {"rows": [shown_rows.index(row)]}} if row in shown_rows else None
    st.dataframe(table, hide_index=True, key=key, selection_mode="single-row", selection_default=ticked,
                 on_select=partial(_on_row_select, key, shown_rows),
                 column_config=score_columns(context.index.score_range()))


def _on_tab_change() -> None:
    label = st.session_state["explore.tab"]
    tab = next(name for name, text in TAB_LABELS.items() if text == label)
    update_view(tab=None if tab == EXPLORE_TABS[0] else tab)


def sample_tabs(context: ExploreContext) -> None:
    """Best and worst rows, rows around the cut, score against length; the open tab is the view's. Only the open
    tab's content is made and sent: on a large pool the other tabs' tables and scatter plot were most of what the
    browser drew again on every cut change (benchmarks/bench_serving.py)."""
    wanted = TAB_LABELS[get_view().tab or EXPLORE_TABS[0]]
    if st.session_state.get("explore.tab") != wanted:
        st.session_state["explore.tab"] = wanted
    tabs = st.tabs(list(TAB_LABELS.values()), key="explore.tab", on_change=_on_tab_change)
    for tab, draw in zip(tabs, (_best_and_worst, _around_the_cut, _score_against_length)):
        if tab.open:
            with tab:
                draw(context)


def _best_and_worst(context: ExploreContext) -> None:
    st.markdown(f"**Best {SAMPLE_ROWS}** (as in Table 1 of the paper). Click a row to read it in full.")
    sample_table(context, context.index.ranked[:SAMPLE_ROWS], "explore.top")
    st.markdown(f"**Worst {SAMPLE_ROWS}**")
    sample_table(context, context.index.ranked[-SAMPLE_ROWS:], "explore.bottom")


def _around_the_cut(context: ExploreContext) -> None:
    above, below = rows_around_cut(context.index, context.summary.n_kept, k=5)
    st.markdown("**Last kept rows** (just above the cut)")
    sample_table(context, above, f"explore.above.{context.summary.n_kept}")  # new cut, no stale selection
    st.markdown("**First dropped rows** (just below the cut)")
    sample_table(context, below, f"explore.below.{context.summary.n_kept}")


def _score_against_length(context: ExploreContext) -> None:
    sample, correlation = _length_view(context.shown.version, context.index.scores, context.index.n_chars)
    group_of_row = context.groups.label_of_rows(sample["row"].to_numpy()) if context.groups else None
    labels = context.groups.labels if context.groups else None
    st.plotly_chart(score_length_figure(sample, group_of_row, cut_line(context), correlation, labels,
                                        score_title=methods.score_title(get_view().method)),
                    key="explore.length")
    st.caption(f"A random sample of {len(sample):,} rows. ZIP-FIT favours short texts: for unrelated texts "
               "1 - NCD is roughly the compressor's fixed overhead over the text's compressed size. "
               "A strong negative correlation means length drives much of the ranking.")
