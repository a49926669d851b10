"""Plotly figures for the Explore page, built from small precomputed arrays (never one mark per row).

Every text a figure shows that did not come from this module (group values, column names, method
labels) goes through `chart_text`, so data reaches the browser as text, never as Plotly's markup.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from zipfit_core.analysis.explore import Histogram

from ..services.methods import ALIGNMENT_TITLE

# Colour-blind-safe qualitative palette (Okabe-Ito), then greys for "(other)" / "(missing)".
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#999999", "#7F7F7F", "#BBBBBB", "#555555"]
KEPT_FILL = "rgba(0, 158, 115, 0.08)"
CUT_COLOUR = "#D55E00"
LEGEND_MARGIN = 90  # pixels under the plot for the axis title and a legend row


def _legend_below(figure: go.Figure, title: str = "") -> None:
    """The legend under the plot: Plotly's toolbar appears over the top right corner on hover and would cover it."""
    figure.update_layout(legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0, "x": 0,
                                 "title_text": title, "traceorder": "normal"},
                         margin={"b": LEGEND_MARGIN})


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def chart_text(value: object) -> str:
    """`value` as Plotly shows it verbatim: `&`, `<` and `>` as the entities Plotly decodes once for display.

    Plotly renders a subset of HTML (a, b, i, br, span style, ...) in names, legends, ticks, hover text,
    annotations and titles; escaped, a tag from the data is shown as its characters instead.
    """
    return html.escape(str(value), quote=False)


def group_colours(labels: list[str]) -> dict[str, str]:
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


def histogram_figure(histogram: Histogram, cut_score: float | None, *, title_by: str | None = None,
                     score_title: str = ALIGNMENT_TITLE) -> go.Figure:
    """Stacked bars of the score histogram, the kept side shaded, the cut as a vertical line."""
    figure = go.Figure()
    colours = group_colours(histogram.labels)
    for label, counts in zip(histogram.labels, histogram.counts):
        # The hover names the group through the (escaped) trace name: data never enters a template.
        figure.add_bar(x=histogram.centers, y=counts, width=histogram.width, name=chart_text(label),
                       marker_color=colours[label], marker_line_width=0,
                       hovertemplate="%{fullData.name}<br>score %{x:.4f}<br>%{y:,} rows<extra></extra>")
    low, high = float(histogram.edges[0]), float(histogram.edges[-1])
    if cut_score is not None and np.isfinite(cut_score):
        line_at = min(max(cut_score, low), high)
        figure.add_vrect(x0=line_at, x1=high, fillcolor=KEPT_FILL, line_width=0, layer="below")
        figure.add_vline(x=line_at, line_color=CUT_COLOUR, line_width=2, line_dash="dash",
                         annotation_text="cut", annotation_position="top left",
                         annotation_font_color=CUT_COLOUR)
    figure.update_layout(
        barmode="stack", bargap=0, height=340, margin=dict(l=10, r=10, t=30, b=10),
        dragmode="select", selectdirection="h", showlegend=len(histogram.labels) > 1,
        xaxis_title=chart_text(score_title), yaxis_title="rows",
    )
    if len(histogram.labels) > 1:
        figure.update_layout(height=340 + LEGEND_MARGIN)
        _legend_below(figure, chart_text(title_by or ""))
    return figure


def matches_figure(histogram: Histogram, match_scores: np.ndarray, cut_score: float | None, *,
                   score_title: str = ALIGNMENT_TITLE) -> go.Figure:
    """A search's matches over the pool's histogram (same bins; the matches on their own axis, so a few are seen)."""
    pool = histogram.counts.sum(axis=0)
    finite = match_scores[np.isfinite(match_scores)]
    matches, _edges = np.histogram(finite, bins=histogram.edges)
    figure = go.Figure()
    figure.add_bar(x=histogram.centers, y=pool, width=histogram.width, name="pool", marker_color="#BBBBBB",
                   marker_line_width=0, hovertemplate="pool<br>score %{x:.4f}<br>%{y:,} rows<extra></extra>")
    figure.add_bar(x=histogram.centers, y=matches, width=histogram.width, name="matches", yaxis="y2",
                   marker_color=PALETTE[0], opacity=0.8, marker_line_width=0,
                   hovertemplate="matches<br>score %{x:.4f}<br>%{y:,} rows<extra></extra>")
    if cut_score is not None and np.isfinite(cut_score):
        figure.add_vline(x=min(max(cut_score, float(histogram.edges[0])), float(histogram.edges[-1])),
                         line_color=CUT_COLOUR, line_width=2, line_dash="dash", annotation_text="cut",
                         annotation_position="top left", annotation_font_color=CUT_COLOUR)
    figure.update_layout(barmode="overlay", bargap=0, height=260 + LEGEND_MARGIN, margin=dict(l=10, r=10, t=30, b=10),
                         xaxis_title=chart_text(score_title), yaxis_title="pool rows",
                         yaxis2={"title": "matching rows", "overlaying": "y", "side": "right", "rangemode": "tozero",
                                 "tickformat": ",d", "dtick": 1 if matches.max(initial=0) <= 10 else None})
    _legend_below(figure)
    return figure


def score_length_figure(sample: pd.DataFrame, group_of_row: list[str] | None, cut_score: float | None,
                        correlation: float | None, group_labels: list[str] | None = None, *,
                        score_title: str = "alignment score") -> go.Figure:
    """Score against text length (log scale) for a sample of rows, coloured by group as in the histogram."""
    frame = sample.assign(group=group_of_row if group_of_row is not None else "all rows")
    figure = go.Figure()
    colours = group_colours(group_labels or ["all rows"])
    labels = [label for label in colours if (frame["group"] == label).any()]
    for label in labels:
        part = frame[frame["group"] == label]
        figure.add_trace(go.Scattergl(
            x=part["length"], y=part["score"], mode="markers", name=chart_text(label),
            marker=dict(size=5, opacity=0.6, color=colours[label]), customdata=part["row"],
            hovertemplate="row %{customdata}<br>%{x:,} chars<br>score %{y:.4f}<extra></extra>"))
    if cut_score is not None and np.isfinite(cut_score):
        figure.add_hline(y=cut_score, line_color=CUT_COLOUR, line_dash="dash", line_width=2)
    title = "Score against length"
    if correlation is not None and np.isfinite(correlation):
        title += f" (Spearman {correlation:+.2f})"
    figure.update_layout(
        height=360, margin=dict(l=10, r=10, t=40, b=10), title=dict(text=title, font_size=14),
        xaxis=dict(type="log", title="text length (characters, log scale)"), yaxis_title=chart_text(score_title),
        showlegend=len(labels) > 1,
    )
    if len(labels) > 1:
        figure.update_layout(height=360 + LEGEND_MARGIN)
        _legend_below(figure)
    return figure


def length_profile_figure(profile: pd.DataFrame, names: list[str]) -> go.Figure:
    """Score against length for several methods (the Compare page), one line each instead of a point per row:
    over bands of rows of similar length (`analysis.compare.length_profile`), the median of the rows' score
    percentiles within the method, with the quartiles as a band, so methods on different scales share one axis."""
    figure = go.Figure()
    for number, name in enumerate(names):
        part = profile[profile["method"] == name]
        colour = PALETTE[number % len(PALETTE)]
        figure.add_scatter(x=part["length_median"], y=part["percentile_q75"], mode="lines", line_width=0,
                           name=chart_text(name), showlegend=False, hoverinfo="skip")
        figure.add_scatter(x=part["length_median"], y=part["percentile_q25"], mode="lines", line_width=0,
                           fill="tonexty", fillcolor=_rgba(colour, 0.15), name=chart_text(name), showlegend=False,
                           hoverinfo="skip")
        figure.add_scatter(x=part["length_median"], y=part["percentile_median"], mode="lines+markers",
                           name=chart_text(name), line_color=colour,
                           customdata=part[["rows", "length_low", "length_high"]].to_numpy(),
                           hovertemplate="%{fullData.name}<br>%{customdata[1]:,.0f} to %{customdata[2]:,.0f} chars "
                                         "(%{customdata[0]:,} rows)<br>median percentile %{y:.2f}<extra></extra>")
    figure.update_layout(height=360 + LEGEND_MARGIN, margin=dict(l=10, r=10, t=30, b=10),
                         xaxis=dict(type="log", title="length in characters (log scale; a point per band of rows)"),
                         yaxis=dict(title="score percentile within the method", range=[0, 1]))
    _legend_below(figure)
    return figure


def proxy_curves_figure(content: dict, baseline: str) -> go.Figure:
    """Held-out bits per character against k, one curve per method, the no-selection model as a line."""
    figure = go.Figure()
    for number, curve in enumerate(content["curves"]):
        figure.add_trace(go.Scatter(x=curve["ks"], y=curve["bits_per_char"], mode="lines+markers",
                                    name=chart_text(curve["method"]),
                                    line=dict(color=PALETTE[number % len(PALETTE)])))
    figure.add_hline(y=content["no_selection_bits_per_char"], line_dash="dash", line_color="#555555",
                     annotation_text=chart_text(f"{baseline}: {content['no_selection_bits_per_char']:.3f}"),
                     annotation_position="top right")
    ks = sorted({int(k) for curve in content["curves"] for k in curve["ks"]})
    figure.update_layout(height=380 + LEGEND_MARGIN, margin=dict(l=10, r=10, t=30, b=10),
                         xaxis=dict(type="log", tickvals=ks, ticktext=[f"{k:,}" for k in ks],  # the budgets, not 2 3 4
                                    title=chart_text(f"k ({content['settings']['budget_unit']} of each method's "
                                                     "best rows)")),
                         yaxis_title="held-out bits per character")
    _legend_below(figure)
    return figure


def composition_figure(table: pd.DataFrame, column: str) -> go.Figure:
    """What each method keeps by a metadata column, beside the pool: grouped bars of each value's share."""
    names = ["pool", *(name for name in table.columns if not name.endswith("_share") and name != "pool")]
    values = [chart_text(value) for value in table.index]
    figure = go.Figure()
    for number, name in enumerate(names):
        shares = table[f"{name}_share"].to_numpy()
        figure.add_bar(y=values, x=shares, orientation="h", name=chart_text(name),
                       marker_color="#BBBBBB" if name == "pool" else PALETTE[(number - 1) % len(PALETTE)],
                       customdata=table[name].to_numpy(),
                       hovertemplate="%{fullData.name}<br>%{y}: %{x:.1%} (%{customdata:,} rows)<extra></extra>")
    figure.update_layout(barmode="group", height=max(260, 60 + 22 * len(values) * len(names)) + LEGEND_MARGIN,
                         margin=dict(l=10, r=10, t=30, b=10),
                         xaxis=dict(title="share of the rows kept", tickformat=".0%"),
                         yaxis=dict(title=chart_text(column), autorange="reversed"))
    _legend_below(figure)
    return figure
