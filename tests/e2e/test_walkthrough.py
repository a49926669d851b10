"""A newcomer's walk through the app in real Chromium: demo -> score -> explore -> cut -> row -> export.

The downloaded file is checked against the core alone (its own load, `alignment_scores`, `select`),
and a screenshot of every page is saved to test-artifacts/.
"""

from __future__ import annotations

import json
import re

import pytest

from zipfit_core.analysis.selection import SelectionRule, TokenCounter, select
from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource, TextSpec
from zipfit_core.scoring.alignment import alignment_scores

from .conftest import go_to, keyed, load_mini_pool, metric_value, score_loaded_data, screenshot, wait_for_app

pytestmark = pytest.mark.e2e


def test_demo_to_exported_subset(page, app_url, e2e_dirs):
    page.goto(app_url)
    wait_for_app(page)
    assert page.get_by_role("heading", name="Data").first.is_visible()

    # One click loads a demo pool and its targets.
    page.get_by_role("button", name=re.compile(r"^ProofNet")).click()
    wait_for_app(page)
    page.get_by_text("185 rows").first.wait_for()
    screenshot(page, "1-data")

    load_mini_pool(page)
    go_to(page, "Score")
    score_loaded_data(page)
    screenshot(page, "2-score")

    go_to(page, "Explore")
    histogram = keyed(page, "explore.histogram")
    histogram.locator(".js-plotly-plot").wait_for()
    assert histogram.locator("g.barlayer path").count() > 0
    assert metric_value(page, "Rows kept") == "30"  # the default cut: top 10% of 300

    # Move the cut: top 25 rows.
    keyed(page, "explore.cut_kind").get_by_text("Top K rows").click()
    wait_for_app(page)
    number = keyed(page, "explore.top_k").locator("input")
    number.fill("25")
    number.press("Enter")
    wait_for_app(page)
    assert metric_value(page, "Rows kept") == "25"
    assert "cut=top_k" in page.url and "v=25" in page.url

    # Drag across the right part of the histogram: everything right of the box's left edge is kept.
    drag_layer = histogram.locator(".nsewdrag").first.bounding_box()
    y = drag_layer["y"] + drag_layer["height"] / 2
    page.mouse.move(drag_layer["x"] + drag_layer["width"] * 0.55, y)
    page.mouse.down()
    page.mouse.move(drag_layer["x"] + drag_layer["width"] * 0.75, y, steps=8)
    page.mouse.move(drag_layer["x"] + drag_layer["width"] * 0.97, y, steps=8)
    page.mouse.up()
    page.wait_for_url(re.compile(r"cut=threshold"))
    wait_for_app(page)
    assert keyed(page, "explore.cut_kind").get_by_role("radio", name="Score threshold").is_checked()
    kept_by_range = int(metric_value(page, "Rows kept").replace(",", ""))
    assert 0 < kept_by_range < 300

    keyed(page, "explore.cut_kind").get_by_text("Top K rows").click()
    wait_for_app(page)
    number = keyed(page, "explore.top_k").locator("input")
    number.fill("25")
    number.press("Enter")
    wait_for_app(page)
    assert metric_value(page, "Rows kept") == "25"

    # Open the best row: its full text and nearest targets appear in a dialog.
    grid = keyed(page, "explore.top.0").locator("[data-testid='stDataFrameResizable']")
    grid.click(position={"x": 18, "y": 35 + 17})
    wait_for_app(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Nearest targets").wait_for()
    dialog.get_by_text("this is the row's score").wait_for()
    screenshot(page, "3-explore")
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    wait_for_app(page)

    go_to(page, "Export")
    page.get_by_text("keeps 25 of 300 rows").wait_for()
    screenshot(page, "5-export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download pool-mini-").click()
    path = e2e_dirs["downloads"] / download_info.value.suggested_filename
    download_info.value.save_as(path)
    assert path.name.startswith("pool-mini-for-proofnet-valid-zipfit-") and path.suffix == ".jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    source = load_source(DataSource("demo", "pool-mini"), TextSpec())
    target = load_source(DataSource("demo", "proofnet-valid"), TextSpec())
    scores = alignment_scores(source.texts, target.texts)
    expected = select(scores, SelectionRule("top_k", 25), TokenCounter().count(source.texts))
    assert len(rows) == 25
    assert [row["text"] for row in rows] == [source.texts[i] for i in expected.rows]
    assert [row["zipfit_score"] for row in rows] == scores[expected.rows].tolist()


def test_own_files_including_broken_ones(page, app_url, tmp_path):
    pool = tmp_path / "my_pool.jsonl"
    pool.write_text("".join(
        json.dumps({"text": f"def helper_{i}(values):\n    return sorted(values)[{i % 5}]\n" if i % 2 else
                    f"Minutes of meeting {i}: the committee agreed to repaint the library.",
                    "kind": "code" if i % 2 else "prose"})
        + "\n" for i in range(60)), encoding="utf-8")
    junk = tmp_path / "targets.jsonl"
    junk.write_bytes(bytes(range(256)) * 16)
    targets = tmp_path / "targets.csv"
    targets.write_text("text\n" + "".join(f"\"def task_{i}(xs):\n    return max(xs) + {i}\"\n" for i in range(12)),
                       encoding="utf-8")

    page.goto(app_url)
    wait_for_app(page)
    for role, path in (("source", pool), ("target", junk)):
        keyed(page, f"data.{role}.kind").get_by_text("Upload").click()
        wait_for_app(page)
        keyed(page, f"data.{role}.upload").locator("input[type='file']").set_input_files(str(path))
        wait_for_app(page)  # an upload loads at once
    page.get_by_text("60 rows").first.wait_for()
    error = page.locator("[data-testid='stAlertContentError']").filter(has_text="binary")
    error.wait_for()
    screenshot(page, "6-data-broken-upload")

    # A path outside the data root is refused in place; the page keeps working.
    keyed(page, "data.target.kind").get_by_text("Local file").click()
    wait_for_app(page)
    path_input = keyed(page, "data.target.local_path").locator("input")
    path_input.fill("../../etc/passwd")
    path_input.press("Enter")
    wait_for_app(page)
    keyed(page, "data.target.load").get_by_role("button").click()
    wait_for_app(page)
    page.locator("[data-testid='stAlertContentError']").filter(has_text="outside the data folder").wait_for()

    keyed(page, "data.target.kind").get_by_text("Upload").click()
    wait_for_app(page)
    keyed(page, "data.target.upload").locator("input[type='file']").set_input_files(str(targets))
    wait_for_app(page)
    page.get_by_text("12 rows").first.wait_for()

    go_to(page, "Score")
    score_loaded_data(page)
    go_to(page, "Explore")
    keyed(page, "explore.histogram").locator(".js-plotly-plot").wait_for()
    assert metric_value(page, "Rows kept") == "6"
    top_kinds = keyed(page, "explore.top.0")
    assert top_kinds.is_visible()
