"""Dataset text in Plotly charts is shown as text, never as Plotly's markup (issue 15, item 4).

Plotly.js renders a subset of HTML (a, b, i, br, span style, ...) in trace names, legends, ticks, hover
text, annotations and titles, and decodes a few entities once for display. Each figure is built through
the functions the pages call, with group values, a column name and method names holding markup, and
every string in `fig.to_dict()` is checked for tags; what Plotly displays must equal the original.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from zipfit_app.ui.charts import (
    chart_text,
    histogram_figure,
    length_profile_figure,
    proxy_curves_figure,
    score_length_figure,
)
from zipfit_core.analysis.compare import length_profile, score_length_sample
from zipfit_core.analysis.explore import build_group_index, build_score_index, score_histogram
from zipfit_core.analysis.proxy_eval import proxy_evaluation

from .app_steps import DEMO_TARGET, assert_no_exception, load_in_form, new_app, score_and_wait

PHISH = '<a href="https://example.com/phish">x</a>'
HOSTILE_VALUES = [PHISH, "<b>bold</b>", '<span style="color:red;font-size:40px">big</span>', "R&D <i>", "&lt;b&gt;"]
HOSTILE_COLUMN = "<b>origin</b>"
MARKUP = re.compile(r"<\s*(a|b|i|span|sub|sup|em|s|u)\b", re.IGNORECASE)

# plotly.js svg_text_utils: convertEntities decodes these names (and numeric entities) once, in one pass.
PLOTLY_ENTITIES = {"mu": "\u03bc", "amp": "&", "lt": "<", "gt": ">", "nbsp": "\xa0", "times": "\xd7",
                   "plusmn": "\xb1", "deg": "\xb0"}
PLOTLY_ENTITY = re.compile(r"&(#\d+|#x[\da-fA-F]+|[a-z]+);")


def plotly_display(text: str) -> str:
    """What Plotly shows for a text without tags: its entities decoded as plotly.js does."""
    def decode(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("#"):
            return chr(int(name[2:], 16) if name[1] == "x" else int(name[1:]))
        return PLOTLY_ENTITIES.get(name, match.group(0))
    return PLOTLY_ENTITY.sub(decode, text)


def strings_in(value) -> list[str]:
    """Every string anywhere in a figure's dict (names, templates, customdata, annotations, titles...)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings_in(item)]
    if isinstance(value, (list, tuple, np.ndarray)):
        return [text for item in value for text in strings_in(item)]
    return []


def hover_texts(trace: dict) -> list[str]:
    """The trace's hover template with the trace-level values substituted, as Plotly would, point by point."""
    template = trace.get("hovertemplate", "")
    customdata = trace.get("customdata")
    points = list(customdata) if customdata is not None else [None]
    return [template.replace("%{fullData.name}", trace.get("name", ""))
            .replace("%{customdata}", "" if point is None else str(point)) for point in points]


def assert_shown_as_text(figure) -> dict:
    content = figure.to_dict()
    content["layout"].pop("template", None)  # Plotly's own theme, not data
    found = [text for text in strings_in(content) if MARKUP.search(text)]
    found += [text for trace in content["data"] for text in hover_texts(trace) if MARKUP.search(text)]
    assert not found, found
    return content


@pytest.fixture(scope="module")
def hostile_pool():
    """Scores, lengths and a grouping column of hostile values, as the Explore page has them."""
    rng = np.random.default_rng(0)
    n_rows = 200
    scores = rng.random(n_rows)
    lengths = rng.integers(10, 5000, n_rows)
    values = [HOSTILE_VALUES[i % len(HOSTILE_VALUES)] for i in range(n_rows)]
    index = build_score_index(scores, n_chars=lengths)
    return scores, lengths, index, build_group_index(values, index, HOSTILE_COLUMN)


def test_chart_text_is_displayed_verbatim_by_plotly():
    for value in [*HOSTILE_VALUES, "plain", "a < b > c & d", "&amp;", "&#60;b&#62;", 42]:
        escaped = chart_text(value)
        assert not MARKUP.search(escaped) and "<" not in escaped and ">" not in escaped
        assert plotly_display(escaped) == str(value)


def test_the_explore_histogram_shows_groups_and_column_as_text(hostile_pool):
    _scores, _lengths, index, groups = hostile_pool
    histogram = score_histogram(index, groups)
    content = assert_shown_as_text(histogram_figure(histogram, 0.5, title_by=groups.column))
    names = [trace["name"] for trace in content["data"]]
    assert [plotly_display(name) for name in names] == histogram.labels
    assert set(histogram.labels) == set(HOSTILE_VALUES)
    assert plotly_display(content["layout"]["legend"]["title"]["text"]) == HOSTILE_COLUMN
    for trace in content["data"]:  # the hover's first line is the group, as written in the data
        assert plotly_display(hover_texts(trace)[0].split("<br>")[0]) == plotly_display(trace["name"])
        assert not any(value in trace["hovertemplate"] for value in HOSTILE_VALUES)


def test_score_against_length_shows_groups_as_text(hostile_pool):
    scores, lengths, index, groups = hostile_pool
    sample = score_length_sample({"zipfit": scores}, lengths, max_points=3000)
    group_of_row = groups.label_of_rows(sample["row"].to_numpy())
    content = assert_shown_as_text(score_length_figure(sample, group_of_row, 0.5, -0.2, groups.labels,
                                                       score_title=HOSTILE_COLUMN))
    assert {plotly_display(trace["name"]) for trace in content["data"]} == set(HOSTILE_VALUES)
    assert plotly_display(content["layout"]["yaxis"]["title"]["text"]) == HOSTILE_COLUMN


def test_compare_charts_show_method_names_as_text(hostile_pool):
    scores, lengths, _index, _groups = hostile_pool
    names = HOSTILE_VALUES[:3]
    by_method = {name: np.roll(scores, shift) for shift, name in enumerate(names)}
    content = assert_shown_as_text(length_profile_figure(length_profile(by_method, lengths), names))
    in_legend = [trace for trace in content["data"] if trace.get("showlegend", True)]
    assert [plotly_display(trace["name"]) for trace in in_legend] == names
    assert {plotly_display(trace["name"]) for trace in content["data"]} == set(names)

    sources = [f"def f{i}(x):\n    return x + {i}\n" if i % 2 else f"The number {i} is small." for i in range(40)]
    targets = [f"def g{i}(y):\n    return y * {i}\n" for i in range(6)]
    selection_scores = {name: np.random.default_rng(shift).random(len(sources)) for shift, name in enumerate(names)}
    proxy = proxy_evaluation(sources, selection_scores, targets[3:], targets[:3], ks=[4, 8]).to_dict()
    content = assert_shown_as_text(proxy_curves_figure(proxy, PHISH))
    assert [plotly_display(trace["name"]) for trace in content["data"]] == names
    (annotation,) = content["layout"]["annotations"]
    assert plotly_display(annotation["text"]).startswith(PHISH + ": ")


def plotly_specs(at) -> list[dict]:
    """The figures the app sent to the browser."""
    return [json.loads(element.proto.spec) for element in at.get("plotly_chart")]


def test_the_explore_page_sends_group_values_as_text(isolated):
    """A local pool whose `source` column (the default grouping) holds markup, scored and explored."""
    with open(isolated / "pool.jsonl", "w", encoding="utf-8") as handle:
        for i in range(20):
            text = f"theorem t{i} (n : Nat) : n + {i} = {i} + n := by omega" if i % 2 else f"Plain prose row {i}."
            handle.write(json.dumps({"text": text, "source": HOSTILE_VALUES[i % len(HOSTILE_VALUES)]}) + "\n")
    at = new_app()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "demo", DEMO_TARGET)
    score_and_wait(at)
    at.switch_page("pages/explore.py").run()
    assert_no_exception(at)
    specs = plotly_specs(at)
    assert specs, "the Explore page drew no chart"
    for spec in specs:
        found = [text for text in strings_in(spec.get("data", [])) + strings_in(spec.get("layout", {}).get("legend"))
                 if MARKUP.search(text)]
        assert not found, found
    histogram = specs[0]
    assert {plotly_display(trace["name"]) for trace in histogram["data"]} == set(HOSTILE_VALUES)
