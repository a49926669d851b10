"""The cut on the Explore page: its kind and value, the counts, the histogram it is drawn on, and what to do
when it keeps nothing.

The view holds the cut; the widgets always show the view's (it may change on another page, by a link, or by
the reset that follows new scores, `actions.runs.resolve`), so the slider, the sidebar, the URL and Export
agree. Every change goes through `actions.view.set_cut`, which writes a threshold as the shortest number that
keeps the same rows (`analysis.explore.snap_threshold`).
"""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from zipfit_core.analysis.coverage import BALANCED_RULE_NOTE
from zipfit_core.analysis.explore import (
    ScoreIndex,
    decimals_to_tell_apart,
    equivalent_rule,
    threshold_from_selection,
)
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.errors import ZipFitError

from ..actions import view
from ..actions.view import DEFAULT_RULE
from ..services import methods
from ..state.session import widget
from ..state.view import describe_cut
from ..ui import notices as shown_notices
from ..ui import widgets as bound
from ..ui.charts import histogram_figure
from ..ui.markdown import literal
from .context import ExploreContext, cut_line

CUT_LABELS = {"threshold": "Score threshold", "top_k": "Top K rows", "top_percent": "Top percent",
              "token_budget": "Token budget"}


def decimals(value: float, minimum: int) -> int:
    """Decimal places that show `value` in full (at least `minimum`)."""
    return max(minimum, min(17, -int(Decimal(repr(float(value))).as_tuple().exponent)))


def _slider_range(index: ScoreIndex, value: float) -> tuple[float, float, float]:
    low, high = index.score_range()
    step = max((high - low) / 500, 1e-6)
    # One step below the lowest score ("keep every row" is reachable); a threshold from other scores or a link
    # widens the range instead of being moved, so the slider shows the cut that is applied.
    return min(low - step, value), max(high, value), step


def _widget_value(rule: SelectionRule) -> float | int:
    return int(rule.value) if rule.kind in ("top_k", "token_budget") else float(rule.value)


def _on_kind_change(context: ExploreContext, kind: str) -> None:
    try:
        rule = equivalent_rule(context.index, context.summary, kind)
    except ZipFitError:
        rule = SelectionRule(kind, 0)
    view.set_cut(context.session, rule, context.index)


def _on_value_change(context: ExploreContext, kind: str, value) -> None:
    if value is not None:
        view.set_cut(context.session, SelectionRule(kind, value), context.index)


def _on_histogram_select(context: ExploreContext) -> None:
    state = widget("explore.histogram")
    selection = state.get("selection") if state else None
    threshold = threshold_from_selection(selection, context.histogram)
    if threshold is not None:
        view.set_cut(context.session, SelectionRule("threshold", threshold), context.index)


def cut_controls(context: ExploreContext) -> None:
    """The cut as one of four kinds, with live counts (every widget writes the view)."""
    index, rule = context.index, context.rule
    bound.radio("Cut by", list(CUT_LABELS), rule.kind, lambda kind: _on_kind_change(context, kind),
                key="explore.cut_kind", format_func=CUT_LABELS.get, horizontal=True)
    kind = rule.kind
    value = _widget_value(rule)
    on_change = lambda new: _on_value_change(context, kind, new)  # noqa: E731
    key = f"explore.{kind}"
    n = index.n_rows
    if kind == "threshold":
        low, high, step = _slider_range(index, rule.value)
        bound.slider("Keep rows scoring above", low, high, value, on_change, key=key, step=step,
                     format=f"%.{decimals(rule.value, 4)}f")
    elif kind == "top_k":
        bound.number_input("Keep the best K rows", 0, max(n, int(rule.value)), value, on_change, key=key,
                           step=max(1, n // 100))
    elif kind == "top_percent":
        bound.slider("Keep the best percent of rows", 0.0, 100.0, value, on_change, key=key, step=0.5,
                     format=f"%.{decimals(rule.value, 1)}f%%")
    else:
        total = index.total_tokens or 0
        bound.number_input("Token budget (the last row is truncated to fit)", 0, max(total, 1, int(rule.value)),
                           value, on_change, key=key, step=max(1, total // 100))


def balance_switch(context: ExploreContext) -> None:
    """Fill the same budget balanced over the targets (`analysis.coverage.select_balanced`), or say why not."""
    reason = context.balance_unavailable
    bound.toggle("Balance over the targets", context.balanced,
                 lambda on: view.set_balanced(context.session, on), key="explore.balanced", disabled=reason is not None,
                 help=f"{BALANCED_RULE_NOTE[0].upper()}{BALANCED_RULE_NOTE[1:]}: every target's nearest rows are kept "
                      "before any target gets a second, so a minority style of targets is served too. Same budget; "
                      "Export writes these rows, as `zipfit select --balance targets` does.")
    if reason is not None:
        st.caption(f"A balanced cut is not available: {reason}.")
    elif context.balanced:
        st.caption("Balanced over the targets: not the paper's rule. The kept rows are not the best by score, so "
                   "some rows below the lowest kept score are kept and some above it dropped.")


def cut_counts(context: ExploreContext) -> None:
    """Rows and tokens kept; the scores on either side of the cut, with the digits that tell them apart."""
    summary = context.summary
    a, b = st.columns(2)
    a.metric("Rows kept", f"{summary.n_kept:,}", f"{summary.percent_kept:.1f}% of {summary.n_rows:,}",
             delta_color="off", delta_arrow="off")
    tokens = summary.percent_tokens_kept
    b.metric("Tokens kept (approx.)", f"{summary.tokens_kept or 0:,}",
             f"{tokens:.1f}% of {summary.total_tokens:,}" if tokens is not None else None, delta_color="off",
             delta_arrow="off")
    low, high = summary.lowest_kept_score, summary.highest_dropped_score
    places = decimals_to_tell_apart(low, high) if low is not None and high is not None else 4
    tie = " (tie)" if places is None else ""
    shown = {name: "-" if value is None else f"{value:.{places or 4}f}{tie}"
             for name, value in (("low", low), ("high", high))}
    a, b = st.columns(2)
    a.metric("Lowest kept score", shown["low"])
    b.metric("Best dropped score", shown["high"])
    if tie:
        st.caption("The last kept and the first dropped row have the same score: top K, top percent and a token "
                   "budget keep the earlier row; a threshold keeps both or neither.")


def notices(context: ExploreContext) -> None:
    """Why the cut was changed (once), and a fix when the cut keeps no rows."""
    shown_notices.show(context.session, "explore.cut")
    summary, rule = context.summary, context.rule
    if summary.n_kept or not summary.n_rows:
        return
    if rule.kind == "threshold":
        best = context.index.score_range()[1]
        text = (f"No row scores above {rule.value!r}: the best score of these scores is "
                f"{best:.{decimals_to_tell_apart(best, rule.value) or 4}f}, so the cut keeps nothing.")
    else:
        text = f"The cut ({describe_cut(rule.kind, rule.value)}) keeps no rows."
    st.warning(literal(text), icon=":material/warning:")
    st.button(f"Keep the {describe_cut(DEFAULT_RULE.kind, DEFAULT_RULE.value)} instead", key="explore.reset_cut",
              on_click=view.set_cut, args=(context.session, DEFAULT_RULE, context.index), icon=":material/restart_alt:")


def histogram(context: ExploreContext) -> None:
    figure = histogram_figure(context.histogram, cut_line(context),
                              title_by=context.groups.column if context.groups else None,
                              score_title=methods.score_title(context.shown.method))
    st.plotly_chart(figure, key="explore.histogram", selection_mode=("box", "points"),
                    on_select=lambda: _on_histogram_select(context))
    st.caption("Drag across the histogram (or click a bar) to keep everything right of it as a score threshold.")
