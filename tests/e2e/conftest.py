"""Fixtures for the browser tests: `streamlit run app.py` on a free port, and Debian's Chromium (both set up by
app_driver.py, which benchmarks/bench_serving.py shares).

The server runs with its own temporary score cache and data root, so tests never see a user's
files. Chromium is the system's (/usr/bin/chromium, or $ZIPFIT_CHROMIUM) driven by Playwright;
the tests are skipped, not failed, where it is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .app_driver import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    CONNECTED,
    NO_SKELETONS,
    REPO_ROOT,
    SCRIPT_IDLE,
    ServerDidNotStart,
    app_server,
    key_selector,
)

ARTIFACTS = REPO_ROOT / "test-artifacts"
SCORING_TIMEOUT_MS = 180_000


@pytest.fixture(scope="session")
def e2e_dirs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("e2e")
    folders = {name: base / name for name in ("cache", "data", "downloads")}
    for folder in folders.values():
        folder.mkdir()
    return folders


@contextlib.contextmanager
def streamlit_server(e2e_dirs: dict[str, Path], name: str, environment: dict[str, str] | None = None) -> Iterator[str]:
    """A running `streamlit run app.py` on a free port; its log (test-artifacts' sibling) is shown if it fails.
    `environment` adds to the server's environment (e.g. ZIPFIT_JOB_WORKERS)."""
    log_path = e2e_dirs["cache"].parent / f"{name}.log"
    try:
        with app_server(e2e_dirs["data"], e2e_dirs["cache"], log_path, environment) as server:
            yield server.url
    except ServerDidNotStart as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def app_url(e2e_dirs) -> Iterator[str]:
    """The server the tests share."""
    with streamlit_server(e2e_dirs, "streamlit") as url:
        yield url


@pytest.fixture
def fresh_app_url(e2e_dirs) -> Iterator[str]:
    """A server of its own that no request has reached yet (Streamlit treats a server's first request apart)."""
    with streamlit_server(e2e_dirs, "streamlit-fresh") as url:
        yield url


@pytest.fixture
def own_cache_app(e2e_dirs, tmp_path) -> Iterator[tuple[str, Path]]:
    """A server with a score cache of its own (the shared data root): what a test stores with a run (its shaping)
    never reaches the other tests' runs. Yields its URL and its cache folder."""
    own = {**e2e_dirs, "cache": tmp_path / "cache"}
    own["cache"].mkdir()
    with streamlit_server(own, "streamlit-own-cache") as url:
        yield url, own["cache"]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set ZIPFIT_CHROMIUM)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@contextlib.contextmanager
def browser_tab(browser, request) -> Iterator:
    """A new browser context and tab; a screenshot of what it showed if the test failed."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            screenshot(tab, f"FAILED-{request.node.name}")
        context.close()


@pytest.fixture
def page(browser, app_url, request):
    with browser_tab(browser, request) as tab:
        yield tab


@pytest.fixture
def fresh_page(browser, request):
    """A tab for `fresh_app_url` (it does not start the shared server)."""
    with browser_tab(browser, request) as tab:
        yield tab


def wait_for_app(page, timeout_ms: int = 60_000) -> None:
    """Wait until the app is connected, its script has finished, and no element is still a skeleton."""
    page.wait_for_selector(CONNECTED, state="attached", timeout=timeout_ms)
    page.wait_for_timeout(250)  # let a rerun that was just triggered start
    page.wait_for_selector(SCRIPT_IDLE, state="attached", timeout=timeout_ms)
    page.wait_for_function(NO_SKELETONS, timeout=timeout_ms)


def keyed(page, key: str):
    """The element Streamlit gives the CSS class `st-key-<key>` (other characters become `-`)."""
    return page.locator(key_selector(key)).first


def choose(page, key: str, option_start: str) -> None:
    """Pick the option of a selectbox whose text starts with `option_start`."""
    keyed(page, key).get_by_role("combobox").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(option_start))).first.click()
    wait_for_app(page)


def enter(page, key: str, text: str) -> None:
    """Type `text` into the input of the widget with this key and press Enter (the app reruns)."""
    field = keyed(page, key).locator("input")
    field.fill(text)
    field.press("Enter")
    wait_for_app(page)


def metric_value(page, label: str) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def go_to(page, title: str) -> None:
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title).click()
    wait_for_app(page)


def score_loaded_data(page) -> None:
    """On the Score page: start scoring unless the result is already there (cached), and wait until it is exact."""
    start = page.get_by_role("button", name="Start scoring")
    if start.count():
        start.click()
    page.get_by_text("The scores are exact").wait_for(timeout=SCORING_TIMEOUT_MS)
    wait_for_app(page)


def load_mini_pool(page) -> None:
    """The mini pool (300 rows) as the source keeps the browser tests quick."""
    choose(page, "data.source.demo", "pool-mini:")
    keyed(page, "data.source.load").get_by_role("button").click()
    wait_for_app(page)
    page.get_by_text("300 rows").first.wait_for()


@contextlib.contextmanager
def whole_page_shown(page, name: str, folder: Path) -> Iterator[Path]:
    """The viewport grown to the whole page (Streamlit scrolls inside its main element), restored after; yields
    the screenshot's path."""
    folder.mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size
    height = page.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], "
                           "[data-testid=\"stAppViewContainer\"]')].map(e => e.scrollHeight), 800)")
    page.set_viewport_size({"width": viewport["width"], "height": min(int(height) + 40, 6000)})
    page.wait_for_timeout(400)  # charts re-lay out at the new size
    try:
        yield folder / f"{name}.png"
    finally:
        page.set_viewport_size(viewport)


def screenshot(page, name: str, folder: Path = ARTIFACTS) -> Path:
    """The whole page."""
    with whole_page_shown(page, name, folder) as path:
        page.screenshot(path=str(path), full_page=True)
    return path


def section_screenshot(page, first_heading: str, next_heading: str, name: str, folder: Path = ARTIFACTS) -> Path:
    """The page from one heading down to the next one."""
    with whole_page_shown(page, name, folder) as path:
        top = page.get_by_role("heading", name=first_heading).first.bounding_box()
        bottom = page.get_by_role("heading", name=next_heading).first.bounding_box()
        main = page.locator("[data-testid='stMain']").bounding_box()
        page.screenshot(path=str(path), clip={"x": main["x"], "y": top["y"] - 10, "width": main["width"],
                                              "height": bottom["y"] - top["y"]})
    return path


@pytest.fixture(scope="session")
def copy_into_data_root(e2e_dirs):
    def copy(source: Path, name: str | None = None) -> Path:
        destination = e2e_dirs["data"] / (name or source.name)
        shutil.copyfile(source, destination)
        return destination

    return copy
