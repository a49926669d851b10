"""What a new user tripped over on a first walk through the app (issue 12), driven with AppTest.

Each test names the item it covers. What only a browser shows (the first request to a fresh server, the
dialog in view, the Plotly toolbar, a cut-off menu label) is in tests/e2e/test_first_walk.py.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.app_harness import app_test
from zipfit_app.ui.charts import histogram_figure
from zipfit_app.ui.markdown import literal
from zipfit_core.analysis.explore import build_group_index, build_score_index, score_histogram
from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource, TextSpec
from zipfit_core.jobs.manager import JobManager
from zipfit_core.scoring.alignment import alignment_scores

from .app_steps import (
    TIMEOUT,
    assert_no_exception,
    compute_and_wait,
    core_scored,
    dialog_titles,
    load_in_form,
    new_app,
    score_and_wait,
    scored_local_app,
    session_of,
    set_cut,
    start_scoring,
    texts_of,
    write_pool,
)

POOL, PROOFNET, HUMANEVAL = "pool-mini", "proofnet-valid", "humaneval"


def go(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    assert_no_exception(at)
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def sidebar_cut(at: AppTest) -> str:
    return next(caption.value for caption in at.sidebar.caption if "Cut:" in caption.value)


def specs(at: AppTest) -> dict[str, dict]:
    """The Plotly figures the page sent, by their widget key (the end of the element id)."""
    return {element.proto.id.rsplit("-", 1)[-1]: json.loads(element.proto.spec) for element in at.get("plotly_chart")}


def plotly_values(data) -> list:
    """A trace's numbers, whether sent as a list or as Plotly's base64 typed array."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def frames_with(at: AppTest, column: str) -> list:
    return [frame for frame in at.dataframe if column in frame.value.columns]


# ----------------------------------------------------------------------------------------- item 1


def test_a_threshold_cut_does_not_outlive_its_scores(isolated):
    at = new_app()
    load_in_form(at, "source", "demo", POOL)
    load_in_form(at, "target", "demo", PROOFNET)
    score_and_wait(at)
    go(at, "explore")
    _source, scores = core_scored(POOL, PROOFNET)
    best = np.sort(scores)[::-1]
    dragged = float(best[2] + 0.37 * (best[1] - best[2]))  # between the 2nd and 3rd best, all its digits
    set_cut(at, "threshold", dragged)
    view = session_of(at).view
    assert view.cut_kind == "threshold" and view.cut_value != dragged and len(repr(view.cut_value)) <= 8
    assert int((scores > view.cut_value).sum()) == 2 and metrics(at)["Rows kept"] == "2"
    # The slider, the sidebar, the link and Export say the same number (item 3: no 17-digit heading either).
    assert at.slider(key="explore.threshold").value == view.cut_value
    assert at.query_params["cut"] == "threshold" and at.query_params["v"] == repr(view.cut_value)
    assert sidebar_cut(at).endswith(literal(f"score > {view.cut_value!r}"))
    go(at, "export")
    assert any(f"The cut **{literal(f'score > {view.cut_value!r}')}** keeps **2 of 300 rows**" in text
               for text in texts_of(at.markdown))
    best_row = int(np.argmax(scores))
    session_of(at).view = replace(session_of(at).view, row=best_row)
    go(at, "explore")
    assert dialog_titles(at) == [f"Row {best_row}"]

    go(at, "data")  # other targets: their best score may be below this threshold
    load_in_form(at, "target", "demo", HUMANEVAL)
    view = session_of(at).view
    assert (view.cut_kind, view.cut_value, view.row) == ("top_percent", 10.0, None)
    assert (at.query_params["cut"], at.query_params["v"]) == ("top_percent", "10")
    assert sidebar_cut(at).endswith("Cut: top 10%")
    score_and_wait(at)
    go(at, "explore")
    assert any("a threshold set on other scores" in text and "top 10%" in text for text in texts_of(at.info))
    assert metrics(at)["Rows kept"] == "30" and dialog_titles(at) == []
    assert at.radio(key="explore.cut_kind").value == "top_percent"
    assert at.slider(key="explore.top_percent").value == 10.0
    go(at, "export")
    assert any("The cut **top 10%** keeps **30 of 300 rows**" in text for text in texts_of(at.markdown))
    go(at, "explore")  # the notice is said once
    assert not any("other scores" in text for text in texts_of(at.info))


def test_a_threshold_above_every_score_says_so_and_offers_the_default_cut(isolated):
    scored_local_app(isolated)
    link = {"src": "local", "src.loc": "pool.jsonl", "tgt": "local", "tgt.loc": "targets.jsonl",
            "cut": "threshold", "v": "0.9"}
    at = app_test()
    at.query_params.update(link)
    go(at.run(), "explore")
    assert metrics(at)["Rows kept"] == "0"
    assert any(text.startswith(literal("No row scores above 0.9: the best score of these scores is 0."))
               for text in texts_of(at.warning))
    assert at.slider(key="explore.threshold").value == 0.9  # the applied cut, not a clamped one
    assert sidebar_cut(at).endswith(literal("score > 0.9")) and at.query_params["v"] == "0.9"
    at.button(key="explore.reset_cut").click().run()
    assert_no_exception(at)
    assert metrics(at)["Rows kept"] == "12" and at.query_params["cut"] == "top_percent"
    assert not at.warning


# ----------------------------------------------------------------------------------------- item 2


def test_a_row_opens_in_a_dialog_with_as_many_nearest_targets_as_asked_each_readable(isolated):
    scored_local_app(isolated)
    targets = load_source(DataSource("local", str(isolated / "targets.jsonl")), TextSpec()).texts
    at = app_test()
    at.query_params.update({"src": "local", "src.loc": "pool.jsonl", "tgt": "local", "tgt.loc": "targets.jsonl",
                            "row": "5"})
    go(at.run(), "explore")
    assert dialog_titles(at) == ["Row 5"]
    (nearest,) = frames_with(at, "target_row")
    assert len(nearest.value) == 5
    at.get("button_group")[0].set_value(10).run()
    (nearest,) = frames_with(at, "target_row")
    assert len(nearest.value) == 10 and nearest.value["similarity"].is_monotonic_decreasing
    second = int(nearest.value["target_row"].iloc[1])
    at.session_state["explore.nearest_table.5"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert_no_exception(at)
    assert targets[second].strip() in [code.value.strip() for code in at.code]  # the whole target


# ----------------------------------------------------------------------------------------- item 3


def test_scores_either_side_of_the_cut_show_the_digits_that_tell_them_apart_or_a_tie(isolated):
    with open(isolated / "pool.jsonl", "w") as handle:
        for i in range(20):
            text = "def twin(y):\n    return y + 1\n" if i in (3, 11) else f"Minutes of meeting {i}: the hall."
            handle.write(json.dumps({"text": text}) + "\n")
    with open(isolated / "targets.jsonl", "w") as handle:
        handle.writelines(json.dumps({"text": f"def t{i}(y):\n    return y + {i}\n"}) + "\n" for i in range(5))
    at = new_app()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "local", "targets.jsonl")
    score_and_wait(at)
    go(at, "explore")
    set_cut(at, "top_k", 1)  # the twins score the same: one kept, one dropped
    shown = metrics(at)
    assert shown["Lowest kept score"] == shown["Best dropped score"] and shown["Lowest kept score"].endswith(" (tie)")
    assert any("have the same score" in text for text in texts_of(at.caption))
    set_cut(at, "top_k", 2)
    shown = metrics(at)
    assert shown["Lowest kept score"] != shown["Best dropped score"] and "tie" not in shown["Lowest kept score"]


# ----------------------------------------------------------------------------------------- item 4 (and 3)


def test_compare_follows_explore_and_reads_clearly(app_with_data):
    at, _pool = app_with_data
    assert JobManager.shared().wait(start_scoring(at), timeout=TIMEOUT).state == "done"
    go(at, "explore")
    at.selectbox(key="explore.group_by").set_value("origin").run()
    set_cut(at, "top_k", 7)
    go(at, "compare")
    at.multiselect(key="compare.methods").set_value(["zipfit", "tfidf", "random"]).run()
    compute_and_wait(at)
    assert at.radio(key="compare.budget_kind").value == "top_k"
    assert at.number_input(key="compare.budget.top_k").value == 7.0  # Explore's cut, as a start
    assert at.selectbox(key="compare.group_by").value == "origin"  # Explore's grouping, not `source`
    assert any("apart from the cut on Explore (top 7 rows)" in text for text in texts_of(at.caption))
    assert "**top 7 rows** of 32 rows: ZIP-FIT keeps 7" in " ".join(texts_of(at.markdown))

    (composition,) = frames_with(at, "pool_share")
    labels = {name: column.get("label") for name, column in json.loads(composition.proto.columns).items()}
    assert labels["ZIP-FIT_share"] == "ZIP-FIT, share of kept" and labels["ZIP-FIT"] == "ZIP-FIT, rows kept"
    assert (labels["pool"], labels["pool_share"]) == ("pool, rows", "pool, share")
    for frame in frames_with(at, "chars"):  # the rows only one method keeps: one number format per column
        assert json.loads(frame.proto.columns)["score"]["type_config"]["format"] == "%.4f"

    length = specs(at)["compare.length"]
    assert len(length["data"]) == 3 * 3  # per method: the median line and the two edges of its band
    assert all(len(plotly_values(trace["x"])) == 12 for trace in length["data"])  # bands of rows, not a point per row
    assert length["layout"]["legend"]["yref"] == "container"

    at.selectbox(key="compare.eval").set_value("demo: proofnet-test").run()
    at.text_input(key="compare.ks.rows").set_value("4, 16").run()
    next(button for button in at.button if button.label.startswith("Run the proxy")).click().run()
    assert_no_exception(at)
    assert not at.get("progress")  # the bar goes once the run is over
    axis = next(spec for key, spec in specs(at).items() if "held-out" in json.dumps(spec["layout"]))["layout"]["xaxis"]
    assert axis["tickvals"] == [4, 16] and axis["ticktext"] == ["4", "16"]


# ----------------------------------------------------------------------------------------- item 5


def test_a_finished_score_keeps_its_result_in_view_and_leads_on(isolated):
    at = scored_local_app(isolated)
    histogram = specs(at)["score.histogram"]
    assert sum(sum(plotly_values(trace["y"])) for trace in histogram["data"]) == 120  # every row of the pool, exact
    assert len(frames_with(at, "rank")[0].value) == 10
    next_step = at.button(key="score.next")
    assert next_step.proto.type == "primary" and next_step.label.startswith("Next: explore")
    next_step.click().run()
    assert_no_exception(at)
    assert at.title[0].value == "Explore"


# ----------------------------------------------------------------------------------------- item 6


def test_a_failed_upload_says_the_earlier_data_is_still_in_use(isolated):
    at = new_app()
    at.radio(key="data.target.kind").set_value("upload").run()
    at.file_uploader(key="data.target.upload").set_value(("t.csv", b"text\nfoo bar\nbaz qux\n", "text/csv")).run()
    assert any("2 rows" in text for text in texts_of(at.success))
    at.file_uploader(key="data.target.upload").set_value(("junk.jsonl", bytes(range(256)) * 16, "x")).run()
    assert_no_exception(at)
    (error,) = texts_of(at.error)
    assert "binary" in error and error.endswith(
        literal("The target set loaded before, upload: t.csv, is still the one in use."))
    assert any("2 rows" in text for text in texts_of(at.success))


# ----------------------------------------------------------------------------------------- item 8


def test_export_previews_the_files_own_columns(isolated):
    at = go(scored_local_app(isolated), "export")
    exported = pd.read_json(io.BytesIO(session_of(at).downloads.file()), lines=True)
    (preview,) = [frame.value for frame in at.dataframe if "zipfit_score" in frame.value.columns]
    assert list(preview.columns) == list(exported.columns) == ["text", "source", "id", "zipfit_score"]
    assert preview["id"].tolist() == exported["id"].head(5).tolist()
    at.toggle(key="export.include_score").set_value(False).run()
    assert not [frame for frame in at.dataframe if "zipfit_score" in frame.value.columns]


def test_a_link_naming_an_upload_sends_the_user_to_data(isolated):
    write_pool(isolated)
    at = app_test()
    at.query_params.update({"src": "local", "src.loc": "pool.jsonl", "tgt": "upload", "tgt.loc": "t.csv"})
    go(at.run(), "explore")
    assert any("the link names an upload (" + literal("t.csv") + ")" in text for text in texts_of(at.info))
    assert [link.proto.label for link in at.get("page_link")] == ["Go to Data"]  # not "Go to Score"


def test_a_link_restores_the_open_tab_and_ticks_the_open_row(isolated):
    scored_local_app(isolated)
    source = load_source(DataSource("local", str(isolated / "pool.jsonl")), TextSpec())
    targets = load_source(DataSource("local", str(isolated / "targets.jsonl")), TextSpec())
    best_row = int(np.argmax(alignment_scores(source.texts, targets.texts)))
    link = {"src": "local", "src.loc": "pool.jsonl", "tgt": "local", "tgt.loc": "targets.jsonl", "row": str(best_row)}
    at = app_test()
    at.query_params.update({**link, "tab": "cut"})
    go(at.run(), "explore")
    assert at.session_state["explore.tab"] == "Rows around the cut" and at.query_params["tab"] == "cut"
    tables = [frame.proto.id.split("-explore.", 1)[-1] for frame in at.dataframe]
    assert any(name.startswith("above.") for name in tables)
    assert not any(name.startswith(("top.", "bottom.")) for name in tables)  # only the open tab is made and sent

    at = app_test()
    at.query_params.update(link)  # no tab: the first
    go(at.run(), "explore")
    (top,) = [frame for frame in at.dataframe if frame.proto.id.endswith("-explore.top.0")]
    assert json.loads(top.proto.selection_default)["selection"]["rows"] == [0]  # the best row, first in the table
    (worst,) = [frame for frame in at.dataframe if frame.proto.id.endswith("-explore.bottom.0")]
    assert not worst.proto.selection_default


def test_the_compressor_menu_holds_short_names_and_says_the_rest_below(isolated):
    write_pool(isolated)
    at = new_app()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "local", "targets.jsonl")
    go(at, "score")
    menu = at.selectbox(key="score.codec")
    assert menu.options == ["gzip", "zstd", "lz4", "brotli", "lzma", "isal (approximate)"]
    assert literal("gzip (zlib deflate), the paper's compressor") in texts_of(at.caption)


def test_legends_sit_below_the_plot_away_from_the_toolbar():
    rng = np.random.default_rng(0)
    index = build_score_index(rng.random(100))
    groups = build_group_index([f"group {i % 4}" for i in range(100)], index, "domain")
    layout = histogram_figure(score_histogram(index, groups), 0.5, title_by="domain").to_dict()["layout"]
    assert (layout["legend"]["yref"], layout["legend"]["yanchor"], layout["legend"]["y"]) == ("container", "bottom", 0)
    assert layout["margin"]["b"] >= 90 and layout["legend"]["title"]["text"] == "domain"
