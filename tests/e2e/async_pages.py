"""Many pages of one Chromium at once (Playwright's async API), and how long a page's script run takes.

- `browser_pages`: one Chromium with the flags of DESIGN.md, one browser context (one Streamlit session) per page;
  every page gets `PAGE_PROBES` before the app's scripts: a log of the root element's script state with the
  page's clock, and readers of a metric, of exceptions, and of whether an action's outcome is shown (`Ready`).
- `timed_rerun`: the time from an action to the end of the script run it caused, by the page's clock.
- `run_in_own_thread`: asyncio.run in a thread of its own (where the sync API of the other tests is in use).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .app_driver import CHROMIUM, CHROMIUM_FLAGS, CONNECTED, NO_SKELETONS, SCRIPT_IDLE

T = TypeVar("T")

# Installed in every page before the app's scripts: every change of the root element's script state, with the
# page's clock, and small readers of what the page shows.
PAGE_PROBES = """
(() => {
  window.__zipfitStates = [];
  new MutationObserver(records => {
    const now = performance.now();
    for (const record of records) {
      window.__zipfitStates.push([now, record.target.getAttribute('data-test-script-state')]);
    }
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
  window.__zipfitMetric = (label) => {
    for (const metric of document.querySelectorAll("[data-testid='stMetric']")) {
      const name = metric.querySelector("[data-testid='stMetricLabel']");
      if (name && name.innerText.trim() === label) {
        const value = metric.querySelector("[data-testid='stMetricValue']");
        const delta = metric.querySelector("[data-testid='stMetricDelta']");
        return {value: value ? value.innerText.trim() : null, delta: delta ? delta.innerText.trim() : null};
      }
    }
    return null;
  };
  // Whether the page shows what an action should lead to (null: nothing to check).
  window.__zipfitReady = (ready) => {
    const dialog = document.querySelector("[role='dialog']");
    if (ready.kind === 'dialog-open') return !!(dialog && dialog.innerText.includes('Nearest targets'));
    // Closed by the server's run, not just by the browser: the URL has lost the open row.
    if (ready.kind === 'dialog-closed') return !dialog && !new URLSearchParams(location.search).has('row');
    if (ready.kind === 'kept') {
      const kept = window.__zipfitMetric('Rows kept');
      return !!(kept && kept.value === ready.text);
    }
    return null;
  };
  window.__zipfitExceptions = () => [...document.querySelectorAll("[data-testid='stException']")]
    .map(element => element.innerText.slice(0, 300));
})();
"""

# Once the page is idle and shows the action's outcome (`ready`): {end, seen}: the page time at which the script
# state last went back to notRunning after first going to running since the mark (seen), or, if the page never
# showed `running` (a run short enough that both changes were drawn at once), the time the outcome was found.
# (Waiting for the outcome, not just for a run to end: a fragment of the page, e.g. a progress bar, may run on
# its own every second.)
_RERUN_ENDED = """
(ready) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (window.__zipfitReady(ready) !== true) return false;
  const log = window.__zipfitStates;
  const started = log.findIndex(entry => entry[1] === 'running');
  let ended = null;
  if (started >= 0) for (let i = started + 1; i < log.length; i++) if (log[i][1] === 'notRunning') ended = log[i][0];
  return ended !== null ? {end: ended, seen: true} : {end: performance.now(), seen: false};
}
"""

_RERUN_STARTED = """
(ready) => window.__zipfitStates.some(entry => entry[1] === 'running') || window.__zipfitReady(ready) === true
"""

async def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Connected, the script run over, no skeleton left (tests/e2e/conftest.py's wait_for_app, for async pages)."""
    await page.wait_for_selector(CONNECTED, state="attached", timeout=timeout_ms)
    await page.wait_for_timeout(250)  # let a rerun that was just triggered start
    await page.wait_for_selector(SCRIPT_IDLE, state="attached", timeout=timeout_ms)
    await page.wait_for_function(NO_SKELETONS, timeout=timeout_ms)


class RerunDidNotStart(TimeoutError):
    """The action caused no script run (e.g. a click on a table that was still being drawn)."""


@dataclass(frozen=True)
class Ready:
    """What an action should lead to: "kept" (Rows kept shows `text`), "dialog-open", "dialog-closed"."""

    kind: str
    text: str | None = None


@dataclass(frozen=True)
class RerunTime:
    seconds: float  # by the page's clock, from just before the (last) action
    seen: bool  # the page showed the run (running, then notRunning); else the time its outcome was found
    dropped: int  # actions repeated because they started no run


async def timed_rerun(page, action: Callable[[], Awaitable[Any]], ready: Ready, timeout_ms: int = 60_000,
                      start_timeout_ms: int | None = None, attempts: int = 1) -> RerunTime:
    """The time from just before `action` to the end of the script run that shows its outcome (`ready`). With
    `start_timeout_ms`, an action that started no run by then (and whose outcome is not shown) is repeated, up
    to `attempts` times in all; then RerunDidNotStart."""
    arg = {"kind": ready.kind, "text": ready.text}
    await page.evaluate("() => { window.__zipfitStates.length = 0; }")
    for attempt in range(attempts):
        mark = await page.evaluate("() => performance.now()")
        try:
            await action()
        except Exception:
            if attempt == attempts - 1:
                raise
        if start_timeout_ms is None:
            break
        try:
            await page.wait_for_function(_RERUN_STARTED, arg=arg, polling=20, timeout=start_timeout_ms)
            break
        except Exception as error:
            if await page.evaluate(_RERUN_STARTED, arg):  # it started just now
                break
            if attempt == attempts - 1:
                raise RerunDidNotStart(f"no script run within {start_timeout_ms} ms, {attempts} times") from error
    handle = await page.wait_for_function(_RERUN_ENDED, arg=arg, polling=20, timeout=timeout_ms)
    ended = await handle.json_value()
    return RerunTime((ended["end"] - mark) / 1000, ended["seen"], attempt)


async def go_to(page, title: str, timeout_ms: int = 60_000) -> None:
    await page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title).click()
    await wait_idle(page, timeout_ms)


async def exceptions_on(page) -> list[str]:
    return await page.evaluate("() => window.__zipfitExceptions()")


@contextlib.asynccontextmanager
async def browser_pages(count: int, default_timeout_ms: int = 60_000) -> AsyncIterator[list]:
    """`count` pages of one Chromium, each in its own browser context (its own Streamlit session)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            pages = []
            for _ in range(count):
                context = await browser.new_context(viewport={"width": 1440, "height": 1000})
                context.set_default_timeout(default_timeout_ms)
                await context.add_init_script(PAGE_PROBES)
                pages.append(await context.new_page())
            yield pages
        finally:
            await browser.close()


def run_in_own_thread(coroutine: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
    """asyncio.run(coroutine()) in a new thread: a thread that holds Playwright's sync API (the other browser
    tests' `browser` fixture) counts as running an event loop, where asyncio.run refuses to start."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine())
        except BaseException as error:  # noqa: BLE001  re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="browser-sessions", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the browser sessions did not finish in {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
