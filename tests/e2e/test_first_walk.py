"""A new user's first walk in real Chromium (issue 12): what only a browser shows.

- preset -> score -> threshold cut -> the other preset -> score -> Explore keeps a non-empty cut, and the slider,
  the sidebar, the URL and Export say the same cut at every step;
- a row opens in a dialog in view, with more nearest targets on request, each readable in full; Escape closes it
  even when a table has the focus;
- the open tab is in the link; the compressor menu shows its whole label; Plotly's toolbar leaves the legend free;
- the very first request to a fresh server, a deep link, shows the page and no "Page not found".
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from .conftest import (
    go_to,
    keyed,
    load_mini_pool,
    metric_value,
    score_loaded_data,
    screenshot,
    wait_for_app,
)

pytestmark = pytest.mark.e2e


def query(page) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlparse(page.url).query).items()}


def sidebar_cut(page) -> str:
    """The cut as the sidebar says it, e.g. `top 10%`."""
    caption = page.locator("[data-testid='stSidebar'] [data-testid='stCaptionContainer']").filter(has_text="Cut: ")
    return caption.first.inner_text().split("Cut: ")[-1].strip()


def export_heading(page) -> str:
    go_to(page, "Export")
    heading = page.locator("[data-testid='stMarkdownContainer']").filter(has_text=re.compile(r"^The cut .* keeps "))
    return heading.first.inner_text()


def preset(page, name: str) -> None:
    go_to(page, "Data")
    page.get_by_role("button", name=re.compile("^" + name)).click()
    wait_for_app(page)
    load_mini_pool(page)


def overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_a_threshold_cut_then_the_other_preset_leaves_a_consistent_cut(page, app_url):
    page.goto(app_url)
    wait_for_app(page)
    preset(page, "ProofNet")
    go_to(page, "Score")
    score_loaded_data(page)
    page.get_by_role("button", name=re.compile("^Next: explore")).click()  # the finished Score page leads on
    wait_for_app(page)
    assert urlparse(page.url).path == "/explore"

    # A threshold from a drag across the top of the histogram: few rows kept, and one number everywhere.
    histogram = keyed(page, "explore.histogram")
    histogram.locator(".js-plotly-plot").wait_for()
    box = histogram.locator(".nsewdrag").first.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.85, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.99, y, steps=8)
    page.mouse.up()
    page.wait_for_url(re.compile(r"cut=threshold"))
    wait_for_app(page)
    threshold = query(page)["v"]
    assert re.fullmatch(r"0\.\d{1,6}", threshold), threshold  # the shortest number that keeps these rows
    kept = int(metric_value(page, "Rows kept"))
    assert 0 < kept < 30
    slider = keyed(page, "explore.threshold").locator("input[type='range']")
    assert float(slider.get_attribute("aria-valuetext")) == float(threshold)
    assert sidebar_cut(page) == f"score > {threshold}"
    assert export_heading(page).startswith(f"The cut score > {threshold} keeps {kept} of 300 rows")
    screenshot(page, "7-threshold-cut")

    # The other preset: its scores have another range, so the threshold gives way to the default cut.
    preset(page, "HumanEval")
    assert sidebar_cut(page) == "top 10%"
    assert (query(page)["cut"], query(page)["v"]) == ("top_percent", "10")
    go_to(page, "Score")
    score_loaded_data(page)
    go_to(page, "Explore")
    page.get_by_text("a threshold set on other scores").wait_for()
    assert metric_value(page, "Rows kept") == "30"
    assert keyed(page, "explore.cut_kind").get_by_role("radio", name="Top percent").is_checked()
    slider = keyed(page, "explore.top_percent").locator("input[type='range']")
    assert slider.get_attribute("value") == "10"
    assert sidebar_cut(page) == "top 10%"
    assert (query(page)["cut"], query(page)["v"]) == ("top_percent", "10")
    assert query(page)["tgt.loc"] == "humaneval" and "row" not in query(page)
    screenshot(page, "8-other-preset-explore")
    assert export_heading(page).startswith("The cut top 10% keeps 30 of 300 rows")


def test_a_row_opens_in_view_with_its_nearest_targets_and_the_tab_is_in_the_link(page, app_url):
    page.goto(f"{app_url}/?src=demo&src.loc=pool-mini&tgt=demo&tgt.loc=proofnet-valid")  # Data is the root page
    wait_for_app(page)
    go_to(page, "Score")
    score_loaded_data(page)
    go_to(page, "Explore")
    # Plotly's toolbar shows on hover at the top right; the legend (the histogram's groups) is clear of it.
    histogram = keyed(page, "explore.histogram")
    histogram.hover()
    modebar = histogram.locator(".modebar").first
    modebar.wait_for()
    legend = histogram.locator("g.legend").first
    assert not overlap(modebar.bounding_box(), legend.bounding_box())

    grid = keyed(page, "explore.top.0").locator("[data-testid='stDataFrameResizable']")
    grid.scroll_into_view_if_needed()
    grid.click(position={"x": 18, "y": 35 + 17})
    wait_for_app(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Nearest targets").wait_for()
    box, viewport = dialog.bounding_box(), page.viewport_size
    assert box["y"] >= 0 and box["y"] + 100 < viewport["height"]  # in view, not below the fold
    assert "row=" in page.url
    dialog.locator("[data-testid='stButtonGroup']").get_by_text("25", exact=True).click()
    wait_for_app(page)
    nearest = dialog.locator("[data-testid='stDataFrameResizable']")
    nearest.click(position={"x": 18, "y": 35 + 35 * 9 + 17})  # the 10th nearest target: more than 5 shown
    wait_for_app(page)
    dialog.get_by_text(re.compile(r"^Target row \d+ in full")).wait_for()
    assert dialog.locator("[data-testid='stCode']").count() == 2  # the row, and the target in full
    screenshot(page, "9-row-dialog")
    page.keyboard.press("Escape")  # the nearest targets' table has the focus, and took Escape for itself before
    dialog.wait_for(state="detached")  # the row is closed: the link and the tables forget it
    wait_for_app(page)
    assert "row" not in query(page)
    grid = page.locator("[class*='st-key-explore-top-'] [data-testid='stDataFrameResizable']").first  # a new key
    grid.click(position={"x": 18, "y": 35 + 17})  # again, from the page's table, which keeps the focus
    dialog.get_by_text("Nearest targets").wait_for()
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    wait_for_app(page)
    assert "row" not in query(page)

    page.get_by_role("tab", name="Rows around the cut").click()
    wait_for_app(page)
    assert query(page)["tab"] == "cut"
    page.goto(page.url)  # the link, opened again
    wait_for_app(page)
    assert page.get_by_role("tab", name="Rows around the cut").get_attribute("aria-selected") == "true"

    go_to(page, "Score")
    menu = keyed(page, "score.codec").get_by_role("combobox")
    assert menu.input_value() == "gzip"
    assert menu.evaluate("input => input.scrollWidth <= input.clientWidth")  # the whole label shows


def test_a_first_request_deep_link_shows_the_page_without_page_not_found(fresh_page, fresh_app_url):
    fresh_page.goto(f"{fresh_app_url}/score?src=demo&src.loc=pool-mini&tgt=demo&tgt.loc=proofnet-valid&level=6"
                    "&codec=gzip")
    wait_for_app(fresh_page)
    fresh_page.wait_for_timeout(1500)  # a "Page not found" dialog would have come with the first run
    assert fresh_page.get_by_text("Page not found").count() == 0
    assert fresh_page.get_by_role("heading", name="Score").first.is_visible()
    fresh_page.get_by_text("300 source rows").wait_for()  # the link's data, loaded by the app's frame
    nav = fresh_page.locator("[data-testid='stSidebarNav']").get_by_role("link")
    assert [text.split()[-1] for text in nav.all_inner_texts()] == ["Data", "Score", "Explore", "Compare", "Export"]
    assert keyed(fresh_page, "score.level").locator("input[type='range']").get_attribute("value") == "6"
    assert urlparse(fresh_page.url).path == "/score" and query(fresh_page)["cut"] == "top_percent"
    screenshot(fresh_page, "10-first-request-deep-link")
    score_loaded_data(fresh_page)  # the page's widgets answer (the Start button of that first run)
    go_to(fresh_page, "Explore")  # and the app goes on as usual
    assert urlparse(fresh_page.url).path == "/explore"
    fresh_page.get_by_role("heading", name="Explore").first.wait_for()
    assert metric_value(fresh_page, "Rows kept") == "30"
