"""Fixtures for the browser tests: `streamlit run app.py` on a free port, and Debian's Chromium.

The server runs with its own temporary score cache and data root, so tests never see a user's
files. Chromium is the system's (/usr/bin/chromium, or $ZIPFIT_CHROMIUM) driven by Playwright;
the tests are skipped, not failed, where it is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = os.environ.get("ZIPFIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
SERVER_START_SECONDS = 90
SCORING_TIMEOUT_MS = 180_000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode() == "ok"
    except OSError:
        return False


@pytest.fixture(scope="session")
def e2e_dirs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("e2e")
    folders = {name: base / name for name in ("cache", "data", "downloads")}
    for folder in folders.values():
        folder.mkdir()
    return folders


@contextlib.contextmanager
def streamlit_server(e2e_dirs: dict[str, Path], name: str) -> Iterator[str]:
    """A running `streamlit run app.py` on a free port; its log (test-artifacts' sibling) is shown if it fails."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = e2e_dirs["cache"].parent / f"{name}.log"
    environment = dict(os.environ, ZIPFIT_CACHE_DIR=str(e2e_dirs["cache"]), ZIPFIT_DATA_ROOT=str(e2e_dirs["data"]),
                       HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--global.developmentMode", "false"]
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not server_is_healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


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
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", state="attached",
                           timeout=timeout_ms)
    page.wait_for_timeout(250)  # let a rerun that was just triggered start
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", state="attached",
                           timeout=timeout_ms)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
                           timeout=timeout_ms)


def keyed(page, key: str):
    """The element Streamlit gives the CSS class `st-key-<key>` (other characters become `-`)."""
    return page.locator(".st-key-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)).first


def choose(page, key: str, option_start: str) -> None:
    """Pick the option of a selectbox whose text starts with `option_start`."""
    keyed(page, key).get_by_role("combobox").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(option_start))).first.click()
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


def screenshot(page, name: str, folder: Path = ARTIFACTS) -> Path:
    """The whole page: Streamlit scrolls inside its main element, so grow the viewport to fit it first."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    viewport = page.viewport_size
    height = page.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], "
                           "[data-testid=\"stAppViewContainer\"]')].map(e => e.scrollHeight), 800)")
    page.set_viewport_size({"width": viewport["width"], "height": min(int(height) + 40, 6000)})
    page.wait_for_timeout(400)  # charts re-lay out at the new size
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(viewport)
    return path


@pytest.fixture(scope="session")
def copy_into_data_root(e2e_dirs):
    def copy(source: Path, name: str | None = None) -> Path:
        destination = e2e_dirs["data"] / (name or source.name)
        shutil.copyfile(source, destination)
        return destination

    return copy
