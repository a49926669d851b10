"""The Explore page's pieces: histogram and cut, counts and composition, sample rows, one row in full.

Everything computed per scored dataset (ranking, groups, histogram, score-vs-length sample) is cached
in the server process by a version that changes with the numbers; a cut change then costs a few
milliseconds of `zipfit_core.analysis.explore` work (see benchmarks/bench_explore.py).
"""

from __future__ import annotations

from collections.abc import Callable
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
    equivalent_rule,
    group_columns,
    nearest_targets,
    rows_around_cut,
    rows_table,
    score_histogram,
    summarize_cut,
    threshold_from_selection,
)
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError

from . import datasets, methods, results
from .charts import histogram_figure, score_length_figure
from .markdown import literal, message
from .tables import score_columns
from .view import get_view, update_view

CUT_LABELS = {"threshold": "Score threshold", "top_k": "Top K rows", "top_percent": "Top percent",
              "token_budget": "Token budget"}
NO_GROUP = "(none)"
DEFAULT_GROUP_COLUMNS = ("domain", "source", "category", "label", "split")
SAMPLE_ROWS = 10
NEAREST_AUTO_MAX_CHARS = 50_000  # longer rows compute their nearest targets on request


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
        method = methods.label(view.method)
        st.info(f"Nothing to explore yet: load data and score it first ({method} scores are not computed for "
                "this data and these settings).", icon=":material/info:")
        st.page_link("pages/2_Score.py" if source is not None else "pages/1_Data.py",
                     label="Go to Score" if source is not None else "Go to Data", icon=":material/arrow_forward:")
        return None
    index = score_index_for(shown, source)
    options = group_columns(source.table, exclude=[source.text_field])
    if view.group_by == NO_GROUP:
        column = None
    elif view.group_by in options:
        column = view.group_by
    else:  # not chosen yet (or not a column of this pool): a few broad groups read best
        column = next((name for name in DEFAULT_GROUP_COLUMNS if name in options), None)
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


# ---------------------------------------------------------------------------------------------- the cut


def _slider_range(index: ScoreIndex) -> tuple[float, float, float]:
    low, high = index.score_range()
    step = max((high - low) / 500, 1e-6)
    return low - step, high, step  # one step below the lowest score: "keep every row" is reachable


def _widget_value(kind: str, rule: SelectionRule, index: ScoreIndex) -> float | int:
    if kind == "threshold":
        low, high, _ = _slider_range(index)
        return float(min(max(rule.value, low), high))
    if kind in ("top_k", "token_budget"):
        return int(rule.value)
    return float(rule.value)


def set_cut(rule: SelectionRule, index: ScoreIndex) -> None:
    """Make `rule` the cut: the view, the kind selector and that kind's input (callbacks only)."""
    update_view(cut_kind=rule.kind, cut_value=float(rule.value), row=get_view().row)
    st.session_state["explore.cut_kind"] = rule.kind
    st.session_state[f"explore.{rule.kind}"] = _widget_value(rule.kind, rule, index)


def _on_kind_change(index: ScoreIndex, summary: CutSummary) -> None:
    kind = st.session_state["explore.cut_kind"]
    try:
        set_cut(equivalent_rule(index, summary, kind), index)
    except ZipFitError:
        set_cut(SelectionRule(kind, 0), index)


def _on_value_change(kind: str) -> None:
    value = st.session_state[f"explore.{kind}"]
    if value is not None:
        update_view(cut_kind=kind, cut_value=float(value))


def _on_histogram_select(index: ScoreIndex, histogram: Histogram) -> None:
    state = st.session_state.get("explore.histogram")
    selection = state.get("selection") if state else None
    threshold = threshold_from_selection(selection, histogram)
    if threshold is not None:
        set_cut(SelectionRule("threshold", threshold), index)


def cut_controls(context: ExploreContext) -> None:
    """The cut as one of four kinds, with live counts (every widget writes the view)."""
    index, rule = context.index, context.rule
    st.session_state.setdefault("explore.cut_kind", rule.kind)
    st.session_state.setdefault(f"explore.{rule.kind}", _widget_value(rule.kind, rule, index))
    st.radio("Cut by", list(CUT_LABELS), format_func=CUT_LABELS.get, key="explore.cut_kind", horizontal=True,
             on_change=_on_kind_change, args=(index, context.summary))
    kind = st.session_state["explore.cut_kind"]
    st.session_state.setdefault(f"explore.{kind}", _widget_value(kind, rule, index))
    on_change, args = _on_value_change, (kind,)
    n = index.n_rows
    if kind == "threshold":
        low, high, step = _slider_range(index)
        st.slider("Keep rows scoring above", low, high, step=step, format="%.4f", key="explore.threshold",
                  on_change=on_change, args=args)
    elif kind == "top_k":
        st.number_input("Keep the best K rows", 0, n, step=max(1, n // 100), key="explore.top_k",
                        on_change=on_change, args=args)
    elif kind == "top_percent":
        st.slider("Keep the best percent of rows", 0.0, 100.0, step=0.5, format="%.1f%%", key="explore.top_percent",
                  on_change=on_change, args=args)
    else:
        total = index.total_tokens or 0
        st.number_input("Token budget (the last row is truncated to fit)", 0, max(total, 1),
                        step=max(1, total // 100), key="explore.token_budget", on_change=on_change, args=args)


def cut_counts(context: ExploreContext) -> None:
    summary = context.summary
    a, b = st.columns(2)
    a.metric("Rows kept", f"{summary.n_kept:,}", f"{summary.percent_kept:.1f}% of {summary.n_rows:,}",
             delta_color="off", delta_arrow="off")
    tokens = summary.percent_tokens_kept
    b.metric("Tokens kept (approx.)", f"{summary.tokens_kept or 0:,}",
             f"{tokens:.1f}% of {summary.total_tokens:,}" if tokens is not None else None, delta_color="off",
             delta_arrow="off")
    a, b = st.columns(2)
    a.metric("Lowest kept score", f"{summary.lowest_kept_score:.4f}" if summary.lowest_kept_score is not None else "-")
    b.metric("Best dropped score",
             f"{summary.highest_dropped_score:.4f}" if summary.highest_dropped_score is not None else "-")


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


def cut_line(context: ExploreContext) -> float | None:
    """Where to draw the cut on score axes: the threshold, or the lowest kept score."""
    if context.rule.kind == "threshold":
        return context.rule.value
    return context.summary.lowest_kept_score


def histogram(context: ExploreContext) -> None:
    figure = histogram_figure(context.histogram, cut_line(context),
                              title_by=context.groups.column if context.groups else None,
                              score_title=methods.score_title(get_view().method))
    st.plotly_chart(figure, key="explore.histogram", selection_mode=("box", "points"),
                    on_select=partial(_on_histogram_select, context.index, context.histogram))
    st.caption("Drag across the histogram (or click a bar) to keep everything right of it as a score threshold.")


# ---------------------------------------------------------------------------------------------- rows


def _on_row_select(table_key: str, rows: list[int]) -> None:
    state = st.session_state.get(table_key)
    picked = state.get("selection", {}).get("rows", []) if state else []
    if picked:
        update_view(row=int(rows[picked[0]]))


def sample_table(context: ExploreContext, rows: np.ndarray, key: str) -> None:
    """A few rows, clickable: the score as a bar, the beginning of the text."""
    table = rows_table(context.index, rows, context.source.texts, groups=context.groups)
    st.dataframe(table, hide_index=True, key=key, selection_mode="single-row",
                 on_select=partial(_on_row_select, key, table["row"].tolist()),
                 column_config=score_columns(context.index.scores))


def sample_tabs(context: ExploreContext) -> None:
    top, around, length = st.tabs(["Top and bottom rows", "Rows around the cut", "Score against length"])
    with top:
        st.markdown(f"**Best {SAMPLE_ROWS}** (as in Table 1 of the paper). Click a row to read it in full.")
        sample_table(context, context.index.ranked[:SAMPLE_ROWS], "explore.top")
        st.markdown(f"**Worst {SAMPLE_ROWS}**")
        sample_table(context, context.index.ranked[-SAMPLE_ROWS:], "explore.bottom")
    with around:
        above, below = rows_around_cut(context.index, context.summary.n_kept, k=5)
        st.markdown("**Last kept rows** (just above the cut)")
        sample_table(context, above, f"explore.above.{context.summary.n_kept}")  # new cut, no stale selection
        st.markdown("**First dropped rows** (just below the cut)")
        sample_table(context, below, f"explore.below.{context.summary.n_kept}")
    with length:
        sample, correlation = _length_view(context.shown.version, context.index.scores, context.index.n_chars)
        group_of_row = context.groups.label_of_rows(sample["row"].to_numpy()) if context.groups else None
        labels = context.groups.labels if context.groups else None
        st.plotly_chart(score_length_figure(sample, group_of_row, cut_line(context), correlation, labels,
                                            score_title=methods.score_title(get_view().method)),
                        key="explore.length")
        st.caption(f"A random sample of {len(sample):,} rows. ZIP-FIT favours short texts: for unrelated texts "
                   "1 - NCD is roughly the compressor's fixed overhead over the text's compressed size. "
                   "A strong negative correlation means length drives much of the ranking.")


def row_detail(context: ExploreContext, notes: Callable[[ExploreContext, int], None] | None = None) -> None:
    """One row in full: text, length, rank, what `notes` says about it, and its nearest targets by 1 - NCD."""
    row = get_view().row
    if row is None:
        return
    if not 0 <= row < context.index.n_rows:
        st.warning(f"Row {row} does not exist in this pool ({context.index.n_rows:,} rows).", icon=":material/warning:")
        return
    index, summary = context.index, context.summary
    text = context.source.texts[row]
    rank = int(index.rank_of_row[row])
    st.subheader(f"Row {row}", divider="gray")
    cells = st.columns(5)
    cells[0].metric("Score", f"{index.scores[row]:.4f}")
    cells[1].metric("Rank", f"{rank + 1:,} of {index.n_rows:,}")
    cells[2].metric("Length", f"{len(text):,} chars")
    cells[3].metric("Tokens (approx.)", f"{int(index.token_counts[row]):,}" if index.token_counts is not None else "-")
    cells[4].metric("Kept by the cut", "yes" if rank < summary.n_kept else "no")
    if context.groups is not None:
        st.caption(literal(f"{context.groups.column}: {context.groups.label_of_rows(np.array([row]))[0]}"))
    if notes is not None:
        notes(context, row)
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.code(text, language=None, wrap_lines=True, height=420 if len(text) > 1500 else "content")
    with right:
        st.markdown("**Nearest targets** (1 - NCD with this row)")
        if context.target is None:
            st.info("The targets of this score folder are not loaded: load them on the Data page to see them.",
                    icon=":material/info:")
            return
        if len(text) > NEAREST_AUTO_MAX_CHARS and not st.button("Compute nearest targets", key="explore.nearest"):
            st.caption(f"This row is long ({len(text):,} chars); computing takes a moment.")
            return
        view = get_view()
        nearest = nearest_targets(text, context.target.texts, codec=view.codec, level=view.level, k=5)
        st.dataframe(nearest.table, hide_index=True, column_config={
            "similarity": st.column_config.ProgressColumn("1 - NCD", format="%.4f", min_value=0, max_value=1),
            "text": st.column_config.TextColumn("beginning of the target", width="large"),
        })
        folder = datasets.current_folder()
        if folder is not None and context.target.fingerprint != folder.run.target_fingerprint:
            st.warning("The loaded targets are not the ones the score folder was scored against: these are the "
                       "nearest of the loaded targets.", icon=":material/warning:")
        elif view.method == "zipfit":
            st.caption(f"Mean over all {nearest.n_targets:,} targets: {nearest.mean_similarity:.4f} "
                       "(this is the row's score).")
        else:
            st.caption(f"Mean over all {nearest.n_targets:,} targets: {nearest.mean_similarity:.4f} (the row's "
                       f"ZIP-FIT score; its {methods.label(view.method)} score is {index.scores[row]:.4f}).")
