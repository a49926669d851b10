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

# Colour-blind-safe qualitative palette (Okabe-Ito), then greys for "(other)" / "(missing)".
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#999999", "#7F7F7F", "#BBBBBB", "#555555"]
KEPT_FILL = "rgba(0, 158, 115, 0.08)"
CUT_COLOUR = "#D55E00"


def chart_text(value: object) -> str:
    """`value` as Plotly shows it verbatim: `&`, `<` and `>` as the entities Plotly decodes once for display.

    Plotly renders a subset of HTML (a, b, i, br, span style, ...) in names, legends, ticks, hover text,
    annotations and titles; escaped, a tag from the data is shown as its characters instead.
    """
    return html.escape(str(value), quote=False)


def group_colours(labels: list[str]) -> dict[str, str]:
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


ALIGNMENT_TITLE = "alignment score (mean 1 - NCD over targets)"


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
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, title_text=chart_text(title_by or "")),
        xaxis_title=chart_text(score_title), yaxis_title="rows",
    )
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
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=1, xanchor="right"),
        showlegend=len(labels) > 1,
    )
    return figure


def score_percentile_length_figure(sample: pd.DataFrame, names: list[str]) -> go.Figure:
    """Score against length for several methods (the Compare page): each method's scores as percentiles
    within the sample, so methods on different scales share one axis."""
    figure = go.Figure()
    for number, name in enumerate(names):
        part = sample[sample["method"] == name]
        figure.add_trace(go.Scattergl(x=part["length"], y=part["score"].rank(pct=True), mode="markers",
                                      name=chart_text(name), marker=dict(size=4, opacity=0.5, color=PALETTE[number])))
    figure.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), xaxis_type="log",
                         xaxis_title="length (characters)", yaxis_title="score percentile within the method",
                         legend=dict(orientation="h", y=1.05))
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
    figure.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), xaxis_type="log",
                         xaxis_title=chart_text(f"k ({content['settings']['budget_unit']} of each method's best rows)"),
                         yaxis_title="held-out bits per character", legend=dict(orientation="h", y=1.08))
    return figure
