"""Stale state in real Chromium: what a page shows must belong to the current run (data, targets, method, cut).

One test per defect; each asserts the correct behaviour:

1. Compare keeps the proxy evaluation of an earlier run: after the other preset is scored and compared, it still
   shows ProofNet's curves and "Selection targets (demo: proofnet-valid) ...".
2. Going back to data whose exact scores are cached (ProofNet, then HumanEval, then ProofNet again) shows
   "Nothing to explore yet" on Explore and "Scores: not computed" in the sidebar.
3. Merely choosing another method in the Score page's menu (no Start) takes the existing ZIP-FIT scores away from
   Explore and Export.
4. The evaluation sets chosen for the contamination check are not in the link, and they stay chosen when other
   source data is loaded (they belong to the source).
5. A cut carried to other data is not re-validated: top K = 299 carried to 60 rows exports as `...-top299`, and
   the file name names neither the targets nor the method.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from .conftest import (
    SCORING_TIMEOUT_MS,
    choose,
    go_to,
    keyed,
    load_mini_pool,
    metric_value,
    score_loaded_data,
    wait_for_app,
)

pytestmark = pytest.mark.e2e

NOTHING_TO_EXPLORE = "Nothing to explore yet"
STALE_PROXY = re.compile(r"Selection targets \(demo: proofnet-valid")


def preset_with_mini_pool(page, name: str) -> None:
    """A one-click preset (its pool and targets), then the 300-row mini pool as the source."""
    go_to(page, "Data")
    page.get_by_role("button", name=re.compile("^" + name)).click()
    wait_for_app(page)
    load_mini_pool(page)


def score_preset(page, name: str) -> None:
    preset_with_mini_pool(page, name)
    go_to(page, "Score")
    score_loaded_data(page)


def rows_kept(page):
    return page.locator("[data-testid='stMetric']").filter(has_text="Rows kept")


def set_top_k(page, k: int) -> None:
    keyed(page, "explore.cut_kind").get_by_text("Top K rows").click()
    wait_for_app(page)
    number = keyed(page, "explore.top_k").locator("input")
    number.fill(str(k))
    number.press("Enter")
    wait_for_app(page)


def upload_source(page, path: Path, rows: int) -> None:
    go_to(page, "Data")
    keyed(page, "data.source.kind").get_by_text("Upload").click()
    wait_for_app(page)
    keyed(page, "data.source.upload").locator("input[type=file]").set_input_files(str(path))
    wait_for_app(page)  # an upload loads at once
    page.get_by_text(f"{rows} rows").first.wait_for()


def small_pool(tmp_path: Path, name: str = "stale_pool.jsonl", rows: int = 60) -> Path:
    """`rows` short, varied texts (maths, code, prose) with a `text` field."""
    texts = []
    for i in range(rows):
        if i % 3 == 0:
            texts.append(f"theorem add_comm_{i} (a b : Nat) : a + b + {i} = b + a + {i} := by omega")
        elif i % 3 == 1:
            texts.append(f"def helper_{i}(values):\n    return sorted(values)[{i % 7}] * {i}\n")
        else:
            texts.append(f"Minutes of meeting {i}: the committee agreed to repaint room {i % 11} in blue.")
    path = tmp_path / name
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    return path


def download_button(page):
    """The export's file download (not the manifest's nor the removed rows')."""
    return page.get_by_role("button", name=re.compile(r"Download (?!the manifest|the rows left out)"))


def compare_scored(page):
    """Open Compare, compute the missing baselines, wait until the comparison is drawn; the proxy's Run button."""
    go_to(page, "Compare")
    compute = page.get_by_role("button", name=re.compile(r"^Compute "))
    if compute.count():
        compute.click()
    run = page.get_by_role("button", name="Run the proxy evaluation")
    run.wait_for(timeout=SCORING_TIMEOUT_MS)
    wait_for_app(page)
    return run


def test_compare_does_not_show_the_proxy_evaluation_of_other_targets(page, app_url):
    """Defect 1: Compare still shows ProofNet's proxy evaluation after the HumanEval preset is scored and compared."""
    page.goto(app_url)
    wait_for_app(page)
    score_preset(page, "ProofNet")
    run = compare_scored(page)
    run.click()
    page.get_by_text(STALE_PROXY).first.wait_for(timeout=SCORING_TIMEOUT_MS)  # ProofNet's own results, shown
    wait_for_app(page)

    score_preset(page, "HumanEval")
    compare_scored(page)  # HumanEval's comparison is drawn, down to the proxy section
    expect(page.get_by_text(STALE_PROXY), "Compare shows the proxy evaluation of ProofNet's run").to_have_count(0)


def test_cached_exact_scores_are_shown_when_their_data_is_loaded_again(page, app_url):
    """Defect 2: ProofNet, HumanEval, ProofNet again: Explore says "Nothing to explore yet" and the sidebar "Scores:
    not computed" although ProofNet's exact scores are in the cache."""
    page.goto(app_url)
    wait_for_app(page)
    score_preset(page, "ProofNet")
    score_preset(page, "HumanEval")
    preset_with_mini_pool(page, "ProofNet")  # exactly the first loads again

    go_to(page, "Explore")
    expect(page.get_by_text(NOTHING_TO_EXPLORE), "Explore ignores the cached exact scores").to_have_count(0)
    expect(rows_kept(page)).to_be_visible()
    assert metric_value(page, "Rows kept") == "30"

    go_to(page, "Score")
    expect(page.get_by_text("The scores are exact").first).to_be_visible()
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar.get_by_text("Scores: not computed"), "the sidebar says the scores are not computed").to_have_count(0)


def test_choosing_a_method_without_starting_keeps_the_shown_scores(page, app_url):
    """Defect 3: choosing "ZIP-FIT, length-debiased" in the Score page's menu, without Start, takes the existing
    ZIP-FIT scores away from Explore and Export."""
    page.goto(app_url)
    wait_for_app(page)
    score_preset(page, "ProofNet")
    go_to(page, "Explore")
    expect(rows_kept(page)).to_be_visible()  # the ZIP-FIT scores are there

    go_to(page, "Score")
    choose(page, "score.method", "ZIP-FIT, length-debiased")

    go_to(page, "Explore")
    expect(page.get_by_text(NOTHING_TO_EXPLORE), "Explore lost the ZIP-FIT scores").to_have_count(0)
    expect(rows_kept(page)).to_be_visible()
    go_to(page, "Export")
    expect(download_button(page).first, "Export offers no download").to_be_visible()


def test_contamination_references_are_in_the_link_and_belong_to_the_source(page, app_url, tmp_path):
    """Defect 4: the evaluation sets chosen for the contamination check are not in the link, and stay chosen when
    other source data is loaded."""
    page.goto(app_url)
    wait_for_app(page)
    score_preset(page, "ProofNet")
    go_to(page, "Explore")
    references = keyed(page, "curation.references_widget")
    references.scroll_into_view_if_needed()
    before = page.url
    references.get_by_role("combobox").click()
    page.get_by_role("option", name="demo: proofnet-test").click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    expect(references.get_by_text("demo: proofnet-test")).to_be_visible()
    try:
        page.wait_for_url(lambda url: url != before, timeout=10_000)
    except PlaywrightTimeout:  # asserted just below, with the URL in the message
        pass
    assert page.url != before, f"the link does not carry the chosen evaluation set: {page.url}"

    page.reload()
    wait_for_app(page)
    references = keyed(page, "curation.references_widget")
    expect(references.get_by_text("demo: proofnet-test"), "the reloaded link lost the evaluation set").to_be_visible()

    upload_source(page, small_pool(tmp_path), 60)  # unrelated source data, ProofNet targets kept
    go_to(page, "Score")
    score_loaded_data(page)
    go_to(page, "Explore")
    references = keyed(page, "curation.references_widget")
    expect(references).to_be_visible()
    expect(references.get_by_text("proofnet-test"), "the other source kept the evaluation set").to_have_count(0)


def test_a_cut_carried_to_other_data_is_validated_again(page, app_url, tmp_path):
    """Defect 5: top K = 299 carried to a 60-row upload keeps 60 rows but exports as `...-top299`, and the file name
    names neither the targets nor the method."""
    page.goto(app_url)
    wait_for_app(page)
    score_preset(page, "ProofNet")
    go_to(page, "Explore")
    set_top_k(page, 299)
    assert metric_value(page, "Rows kept") == "299"

    upload_source(page, small_pool(tmp_path, "sixty_rows.jsonl"), 60)  # the ProofNet targets stay
    go_to(page, "Score")
    score_loaded_data(page)
    go_to(page, "Explore")
    expect(rows_kept(page)).to_be_visible()
    assert metric_value(page, "Rows kept") == "60"

    go_to(page, "Export")
    button = download_button(page).first
    button.wait_for()
    label = button.inner_text()
    name = label[label.index("Download ") + len("Download "):].strip()
    assert "top299" not in name, f"the export is named after the cut of other data: {name}"
    assert "top60" in name, name
    assert "proofnet-valid" in name, f"the file name does not name the targets: {name}"
    assert "zipfit" in name.removeprefix("zipfit-"), f"the file name does not name the method: {name}"
