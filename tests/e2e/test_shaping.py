"""Shaping the cut by hand in real Chromium (issue 23): search the pool, never keep a pattern's matches, keep a low
row by hand, cap a group, reload (the shaping is stored with the run), export; the file and its manifest say so,
and `zipfit select --from-manifest` makes the same file again. A server with its own score cache: the shaping is
stored with the run, which the other tests share. The shaping section's screenshot is the README's
(test-artifacts/6-shaping.png, copied to docs/shaping.png)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource, TextSpec
from zipfit_core.scoring.alignment import alignment_scores

from .conftest import (
    choose,
    enter,
    go_to,
    keyed,
    load_mini_pool,
    metric_value,
    score_loaded_data,
    screenshot,
    section_screenshot,
    wait_for_app,
)

pytestmark = pytest.mark.e2e

TOP_K = 30
PATTERN = r"(?i)\QLicense\E"  # what a keyword search for "License" (any case) records


def download(page, button_name: str, folder):
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(button_name)).first.click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_search_exclude_keep_cap_reload_and_export(fresh_page, own_cache_app, e2e_dirs):
    page = fresh_page
    app_url, cache = own_cache_app
    source = load_source(DataSource("demo", "pool-mini"), TextSpec())
    target = load_source(DataSource("demo", "proofnet-valid"), TextSpec())
    scores = alignment_scores(source.texts, target.texts)
    domains = source.table["domain"].astype(str).to_numpy()
    licensed = [row for row, text in enumerate(source.texts) if "license" in text.lower()]

    page.goto(app_url)
    wait_for_app(page)
    page.get_by_role("button", name=re.compile(r"^ProofNet")).click()
    wait_for_app(page)
    load_mini_pool(page)
    go_to(page, "Score")
    score_loaded_data(page)
    go_to(page, "Explore")
    keyed(page, "explore.cut_kind").get_by_text("Top K rows").click()
    wait_for_app(page)
    enter(page, "explore.top_k", str(TOP_K))

    # Search, then never keep any of the matches.
    keyed(page, "search.query").locator("input").fill("License")
    keyed(page, "search.run").get_by_role("button").click()
    wait_for_app(page)
    page.get_by_text(re.compile(rf"{len(licensed)} rows where text contains “License”")).first.wait_for()
    keyed(page, "search.never_all").get_by_role("button").click()
    wait_for_app(page)
    page.get_by_text(re.compile(rf"0 kept by the cut, 0 dropped \(below it\), {len(licensed)} left out")).wait_for()

    # Keep a low-scoring row by hand, from its dialog (the second row of the "Worst 10" table).
    grid = page.locator("[class*='st-key-explore-bottom']").locator("[data-testid='stDataFrameResizable']")
    grid.click(position={"x": 18, "y": 35 + 35 + 17})
    wait_for_app(page)
    dialog = page.get_by_role("dialog")
    title = dialog.get_by_role("heading").first.inner_text()
    kept_by_hand = int(re.search(r"Row (\d+)", title).group(1))
    dialog.get_by_role("button", name="Always keep").click()
    wait_for_app(page)
    page.get_by_role("dialog").get_by_text("Always kept (by hand).").wait_for()
    page.keyboard.press("Escape")
    page.get_by_role("dialog").wait_for(state="detached")
    wait_for_app(page)

    # Cap prose at 10% of the cut.
    page.get_by_text("Cap a group's share of the cut").click()
    keyed(page, "shaping.cap_value.domain").wait_for()  # the grouping column (domain) comes first
    page.wait_for_timeout(300)  # the expander's opening animation
    choose(page, "shaping.cap_value.domain", "prose")
    enter(page, "shaping.cap_share", "10")
    keyed(page, "shaping.add_cap").get_by_role("button").click()
    wait_for_app(page)
    assert metric_value(page, "Rows kept") == str(TOP_K)

    # A reload is a new session: the shaping comes back from the run on disk.
    page.reload()
    wait_for_app(page)
    page.get_by_text("1 row always kept, 0 rows never kept, 1 pattern, 1 cap.").wait_for()
    assert metric_value(page, "Rows kept") == str(TOP_K)
    keyed(page, "search.query").locator("input").fill("License")  # the search is the session's: ask again
    keyed(page, "search.run").get_by_role("button").click()
    wait_for_app(page)
    page.get_by_text(re.compile(rf"0 kept by the cut, 0 dropped \(below it\), {len(licensed)} left out")).wait_for()
    section_screenshot(page, "Search the pool", "Keep the targets out", "6-shaping")

    go_to(page, "Export")
    page.get_by_text(f"keeps {TOP_K} of 300 rows").wait_for()
    page.get_by_text("The same cut from the command line").click()
    wait_for_app(page)
    screenshot(page, "7-export-shaped")
    exported = download(page, r"^Download pool-mini-", e2e_dirs["downloads"])
    manifest_file = download(page, "^Download the manifest", e2e_dirs["downloads"])
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    texts = [row["text"] for row in rows]
    assert len(rows) == TOP_K
    by_hand = source.texts[kept_by_hand]
    assert not any("license" in text.lower() for text in texts if text != by_hand)  # kept by hand wins
    assert source.texts[kept_by_hand] in texts and kept_by_hand not in np.argsort(-scores)[:TOP_K]
    prose = {source.texts[row] for row in np.flatnonzero(domains == "prose")}
    assert sum(text in prose for text in texts) <= TOP_K // 10

    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    assert manifest["plan"]["shaping"] == {"include_rows": [kept_by_hand], "exclude_rows": [],
                                           "patterns": [PATTERN],
                                           "caps": [{"column": "domain", "value": "prose", "share": 0.1}]}
    assert manifest["rows"]["kept"] == TOP_K

    # The command line makes the same file again from the manifest alone.
    again = e2e_dirs["downloads"] / "again.jsonl"
    result = subprocess.run([sys.executable, "-m", "zipfit_core", "select", "--from-manifest", str(manifest_file),
                             "--out", str(again)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "ZIPFIT_CACHE_DIR": str(cache),
                                 "ZIPFIT_DATA_ROOT": str(e2e_dirs["data"])})
    assert result.returncode == 0, result.stderr
    assert again.read_bytes() == exported.read_bytes()
