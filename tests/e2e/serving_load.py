"""Many sessions on one server (issue 13): the scripts of the browser sessions that share one `streamlit run`.

Shared by tests/e2e/test_serving.py (which asserts correctness only) and benchmarks/bench_serving.py (which
measures): both drive the same sessions, so what the benchmark times is what the test checks.

- `CutSession`: opens a scored pool (`scored_pool.py`) on Explore (a link, or the Data page's local-file form),
  then changes the top-K cut to values of its own, reads "Rows kept" and its URL after each change, and opens
  a row now and then. Each change is timed in the page (see `CUT_TIMING`).
- `first_view`: one session alone opens the pool first.
- `ScoringSession`: a demo preset on the Data page, "Start scoring" on the Score page, then follows the job
  (queued, running, exact) as its page shows it; `start_scoring`, `wait_for_state`, `cancel` are its steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from .app_driver import key_selector
from .async_pages import Ready, exceptions_on, go_to, timed_rerun, wait_idle
from .scored_pool import ScoredPool

CUT_TIMING = ("time per cut change in the page: from the Enter key in the Explore page's top-K input (the page's "
              "clock, just before the key is sent) to the page's [data-test-script-state] going back to "
              "notRunning after it went to running (the rerun's last message has arrived; for a run the page never "
              "showed as running, to when its new 'Rows kept' appeared); it includes the WebSocket round trip on "
              "127.0.0.1 and the browser's handling of the messages, not the final paint")

_SCORE_PAGE = """
() => {
  const captions = [...document.querySelectorAll("[data-testid='stCaptionContainer']")].map(e => e.innerText);
  const status = captions.find(text => text.includes('does not stop the job')) || null;
  const progress = document.querySelector("[data-testid='stProgress']");
  const alerts = [...document.querySelectorAll("[data-testid='stAlert']")].map(e => e.innerText);
  return {status, progress: progress ? progress.innerText : null, alerts,
          buttons: [...document.querySelectorAll('button')].map(b => b.innerText.trim().split('\\n').pop().trim())
            .filter(text => text),  // the label (an icon's name comes first)
          exceptions: window.__zipfitExceptions()};
}
"""


def _query(url: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlparse(url).query).items()}


@dataclass
class SessionLog:
    """What one session saw: exceptions on its page and views that were not its own."""

    name: str
    checks: int = 0  # times the page was checked for exceptions
    exceptions: list[str] = field(default_factory=list)  # distinct exception texts seen
    not_own_view: list[str] = field(default_factory=list)  # what was wrong, each time
    surprises: list[str] = field(default_factory=list)  # what the page showed that no action of the session asked for
    error: str | None = None  # the session's script stopped early (a timeout, a missing element)

    async def check(self, page) -> None:
        self.checks += 1
        for text in await exceptions_on(page):
            if text not in self.exceptions:
                self.exceptions.append(text)

    async def failed(self, page, error: Exception, shots: Path | None) -> None:
        """Remember why the session's script stopped, what its page shows, and (with `shots`) a screenshot."""
        self.error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        with contextlib.suppress(Exception):
            await self.check(page)
            if shots is not None:
                shots.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(shots / f"FAILED-{re.sub(r'[^A-Za-z0-9_-]', '-', self.name)}.png"),
                                      full_page=True)


@dataclass(frozen=True)
class CutChange:
    session: str
    value: int
    seconds: float
    started: float  # time.monotonic() when the change was made
    kept: str | None  # "Rows kept" as the page shows it after the change
    url_cut: tuple[str | None, str | None]  # the URL's cut and v after the change
    server_seconds: float | None = None  # the same rerun by the server's clock (benchmarks/server_clock.py)

    @property
    def own_view(self) -> bool:
        return self.kept == f"{self.value:,}" and self.url_cut == ("top_k", str(self.value))


@dataclass(frozen=True)
class RowOpen:
    session: str
    row: int | None  # the dialog's row, or None if it did not say
    open_seconds: float
    close_seconds: float
    started: float


ROW_CLICK_ATTEMPTS = 3
ROW_CLICK_START_MS = 5000


class CutSession:
    """Changes the top-K cut of the scored pool again and again, each time to a value only it uses."""

    def __init__(self, pool: ScoredPool, index: int, n_sessions: int, *, via: str = "link", row_every: int = 5,
                 seed: int = 0, rerun_timeout_ms: int = 60_000, open_timeout_ms: int = 300_000,
                 failure_shots: Path | None = None) -> None:
        self.pool, self.index, self.via, self.row_every = pool, index, via, row_every
        self.open_timeout_ms, self.failure_shots = open_timeout_ms, failure_shots
        self.name = f"cut-{index + 1}"
        self.log = SessionLog(self.name)
        self.changes: list[CutChange] = []
        self.rows: list[RowOpen] = []
        self.rows_shown: str | None = None  # "Rows kept"'s delta after opening, e.g. "0.1% of 1,000,000"
        self.rerun_timeout_ms = rerun_timeout_ms
        self._rng = np.random.default_rng(1000 + 17 * index + seed)
        self._stride, self._offset = n_sessions, index % n_sessions
        self.reruns = 0  # script runs this session caused (cut changes, rows opened and closed)
        self.dropped_clicks = 0  # clicks on a row that started no script run (repeated)
        self.unseen_runs = 0  # runs the page never showed as running (timed when their outcome was seen)

    def next_value(self, current: int | None) -> int:
        """A top-K value of this session's own: k = offset + 1 (mod the number of sessions); never the current."""
        while True:
            k = self._stride * int(self._rng.integers(0, max(1, (self.pool.n_rows - 1) // self._stride))) \
                + self._offset + 1
            if k != current and k <= self.pool.n_rows:
                return k

    async def open(self, page, base_url: str, timeout_ms: int | None = None) -> int:
        """Load the pool and targets (link or form), land on Explore with a top-K cut; returns that K."""
        timeout_ms = timeout_ms or self.open_timeout_ms
        first = self.next_value(None)
        if self.via == "link":
            await page.goto(self.pool.link(base_url, first), timeout=timeout_ms)
            await wait_idle(page, timeout_ms)
        else:
            await page.goto(base_url, timeout=timeout_ms)
            await wait_idle(page, timeout_ms)
            for role, location in (("source", self.pool.pool_file), ("target", self.pool.targets_file)):
                await page.locator(key_selector(f"data.{role}.kind")).first.get_by_text("Local file").click()
                await wait_idle(page, timeout_ms)
                path_input = page.locator(key_selector(f"data.{role}.local_path")).first.locator("input")
                await path_input.fill(location)
                await path_input.press("Enter")
                await wait_idle(page, timeout_ms)
                await page.locator(key_selector(f"data.{role}.load")).first.get_by_role("button").click()
                await wait_idle(page, timeout_ms)
            await go_to(page, "Score", timeout_ms)  # attaches the cached result
            await page.get_by_text("The scores are exact").first.wait_for(timeout=timeout_ms)
            await go_to(page, "Explore", timeout_ms)
            await page.locator(key_selector("explore.cut_kind")).first.get_by_text("Top K rows").click()
            await wait_idle(page, timeout_ms)
            await self.set_cut(page, first)
        await page.wait_for_function("() => window.__zipfitMetric('Rows kept') !== null", timeout=timeout_ms)
        shown = await page.evaluate("() => window.__zipfitMetric('Rows kept')")
        self.rows_shown = shown["delta"]
        await self.log.check(page)
        return first

    async def set_cut(self, page, value: int) -> CutChange:
        dialog = page.locator("[role='dialog']")
        if await dialog.count():  # closed by the session's last action: say so, and close it again
            title = (await dialog.first.inner_text()).splitlines()[0]
            self.log.surprises.append(f"before setting top {value:,}: a dialog is open ({title}), URL {page.url}")
            await page.keyboard.press("Escape")
            await wait_idle(page)
        number = page.locator(key_selector("explore.top_k")).first.locator("input")
        await number.fill(str(value))
        started = time.monotonic()
        try:
            timed = await timed_rerun(page, lambda: number.press("Enter"), Ready("kept", f"{value:,}"),
                                      timeout_ms=self.rerun_timeout_ms)
        except Exception:  # Playwright's TimeoutError: its own value never showed
            shown = await page.evaluate("() => ({kept: window.__zipfitMetric('Rows kept'), url: location.href})")
            self.log.not_own_view.append(f"set top {value:,}: after {self.rerun_timeout_ms / 1000:g} s the page "
                                         f"shows {shown['kept']}, URL {shown['url']}")
            raise
        self.reruns += 1
        self.unseen_runs += not timed.seen
        state = await page.evaluate("() => ({kept: window.__zipfitMetric('Rows kept'), url: location.href})")
        query = _query(state["url"])
        change = CutChange(self.name, value, timed.seconds, started, (state["kept"] or {}).get("value"),
                           (query.get("cut"), query.get("v")))
        if not change.own_view:
            self.log.not_own_view.append(f"set top {value:,}: page shows {change.kept}, URL cut={change.url_cut}")
        self.changes.append(change)
        await self.log.check(page)
        return change

    async def open_row(self, page, position: int) -> RowOpen:
        """Click row `position` of the best-10 table; the dialog shows it with its nearest targets; close it.
        A click the table drops (it may still be drawing after the last run) is repeated, and counted."""
        grid = page.locator("[class*='st-key-explore-top-'] [data-testid='stDataFrameResizable']").first
        started = time.monotonic()
        opened = await timed_rerun(
            page, lambda: grid.click(position={"x": 18, "y": 35 + 35 * position + 17}, timeout=ROW_CLICK_START_MS),
            Ready("dialog-open"), timeout_ms=self.rerun_timeout_ms, start_timeout_ms=ROW_CLICK_START_MS,
            attempts=ROW_CLICK_ATTEMPTS)
        self.dropped_clicks += opened.dropped
        title = await page.locator("[role='dialog']").first.inner_text()
        found = re.search(r"Row (\d+)", title)
        row = int(found.group(1)) if found else None
        if row is not None and _query(page.url).get("row") != str(row):
            self.log.not_own_view.append(f"opened row {row}: URL row={_query(page.url).get('row')}")
        await self.log.check(page)
        closed = await timed_rerun(page, lambda: page.keyboard.press("Escape"), Ready("dialog-closed"),
                                   timeout_ms=self.rerun_timeout_ms)
        self.reruns += 2
        self.unseen_runs += (not opened.seen) + (not closed.seen)
        record = RowOpen(self.name, row, opened.seconds, closed.seconds, started)
        self.rows.append(record)
        await self.log.check(page)
        return record

    async def run(self, page, base_url: str, *, until: float | None = None, changes: int | None = None) -> None:
        """Open, then change the cut until `until` (time.monotonic()) or for `changes` changes."""
        try:
            current = await self.open(page, base_url)
            done = 0
            while (until is None or time.monotonic() < until) and (changes is None or done < changes):
                current = self.next_value(current)
                await self.set_cut(page, current)
                done += 1
                if self.row_every and done % self.row_every == 0:
                    await self.open_row(page, int(self._rng.integers(0, 10)))
        except Exception as error:  # noqa: BLE001  the report says which session stopped, and why
            await self.log.failed(page, error, self.failure_shots)


async def first_view(page, base_url: str, pool: ScoredPool, timeout_ms: int = 600_000) -> CutSession:
    """One session alone opens the pool on Explore: the server imports the app's modules, loads the pool, reads
    the cached result and ranks it (the benchmark's warm-up, outside what it measures)."""
    session = CutSession(pool, 0, 1, row_every=0, open_timeout_ms=timeout_ms)
    session.name = "first view"
    await session.open(page, base_url)
    return session


# ------------------------------------------------------------------------------------------ scoring

PRESETS = {"ProofNet": 185, "HumanEval": 164}  # the Data page's demo presets (by their label's start): targets


@dataclass
class ScoreProgress:
    state: str | None  # queued, running (as the Score page says), done, cancelled, failed; None: not shown
    done_pairs: int | None
    total_pairs: int | None
    text: str


def read_progress(page_state: dict) -> ScoreProgress:
    """Where the job stands, from the Score page's progress bar, its caption and its alerts."""
    alerts = " ".join(page_state["alerts"])
    progress = page_state["progress"] or ""
    numbers = re.match(r"([\d,]+) of ([\d,]+) pairs", progress)
    done, total = (int(numbers.group(1).replace(",", "")), int(numbers.group(2).replace(",", ""))) if numbers \
        else (None, None)
    if "The scores are exact" in alerts:
        state = "done"
    elif "Scoring failed" in alerts:
        state = "failed"
    elif "Scoring was cancelled" in alerts:
        state = "cancelled"
    elif page_state["status"]:
        state = page_state["status"].split(":")[0].strip()
    else:
        state = None
    return ScoreProgress(state, done, total, (page_state["status"] or alerts)[:200])


async def score_page_state(page) -> dict:
    return await page.evaluate(_SCORE_PAGE)


async def wait_for_state(page, states: set[str], log: SessionLog, timeout_s: float = 120,
                         poll_seconds: float = 0.5, with_pairs: bool = False) -> ScoreProgress:
    """Poll the Score page until the job is in one of `states` (and, `with_pairs`, its progress bar shows pairs
    while it runs); raises TimeoutError with the last state."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = await score_page_state(page)
        log.checks += 1
        log.exceptions += [text for text in state["exceptions"] if text not in log.exceptions]
        progress = read_progress(state)
        if progress.state in states and not (with_pairs and progress.state == "running"
                                             and progress.done_pairs is None):
            return progress
        if time.monotonic() > deadline:
            raise TimeoutError(f"{log.name}: the job is {progress.state!r} ({progress.text!r}), not {sorted(states)}")
        await asyncio.sleep(poll_seconds)


async def start_scoring(page, base_url: str, preset: str, log: SessionLog, timeout_ms: int = 120_000) -> None:
    """Load a demo preset on the Data page and open the Score page (which joins a job already running for the
    same data); check the page names this session's targets."""
    await page.goto(base_url, timeout=timeout_ms)
    await wait_idle(page, timeout_ms)
    await page.get_by_role("button", name=re.compile("^" + re.escape(preset))).click()
    await wait_idle(page, timeout_ms)
    await go_to(page, "Score", timeout_ms)
    summary = page.locator("[data-testid='stMarkdownContainer']").filter(has_text="compressions of a source")
    text = await summary.first.inner_text(timeout=timeout_ms)
    if f"{PRESETS[preset]:,} targets" not in text:
        log.not_own_view.append(f"the Score page says {text!r}, not {PRESETS[preset]} targets")
    await log.check(page)


async def click_start(page) -> None:
    await page.get_by_role("button", name="Start scoring").click()


async def cancel(page) -> None:
    """The Score page's Cancel: this session no longer wants the job. (It sits in the progress fragment, which
    reruns every second while the job runs: the page is seldom idle for long, so this does not wait for it.)"""
    await page.locator(key_selector("score.cancel")).first.get_by_role("button").click()


class ScoringSession:
    """Scores the demo pool against one preset's targets and follows the job until it is exact (or time is up)."""

    def __init__(self, preset: str, index: int, poll_seconds: float = 0.5, failure_shots: Path | None = None) -> None:
        self.preset, self.poll_seconds, self.failure_shots = preset, poll_seconds, failure_shots
        self.name = f"score-{index + 1} ({preset})"
        self.log = SessionLog(self.name)
        self.clicked: float | None = None  # time.monotonic() of "Start scoring"
        self.first_seen: dict[str, float] = {}  # state -> when the page first showed it
        self.last: ScoreProgress | None = None
        self.progress_seen: list[tuple[float, int]] = []  # (time.monotonic(), pairs done) while it ran
        self.places_in_line: list[int] = []  # "2nd in line", as the page said while the job waited

    @property
    def queue_wait(self) -> float | None:
        """From the click until the page first said running (None: it never did)."""
        if self.clicked is None or "running" not in self.first_seen:
            return None
        return self.first_seen["running"] - self.clicked

    @property
    def running_interval(self) -> tuple[float, float] | None:
        if "running" not in self.first_seen:
            return None
        ends = [self.first_seen[state] for state in ("done", "cancelled", "failed") if state in self.first_seen]
        return self.first_seen["running"], min(ends, default=time.monotonic())

    async def follow(self, page, until: float) -> ScoreProgress | None:
        """Poll the page until the job ends or `until`; remember when each state was first seen."""
        while time.monotonic() < until:
            state = await score_page_state(page)
            self.log.checks += 1
            for text in state["exceptions"]:
                if text not in self.log.exceptions:
                    self.log.exceptions.append(text)
            progress = read_progress(state)
            if progress.state:
                self.first_seen.setdefault(progress.state, time.monotonic())
                self.last = progress
            if progress.state == "running" and progress.done_pairs is not None:
                self.progress_seen.append((time.monotonic(), progress.done_pairs))
            if place := re.search(r"(\d+)(?:st|nd|rd|th) in line", progress.text):
                self.places_in_line.append(int(place.group(1)))
            if progress.state in ("done", "failed", "cancelled"):
                if progress.state == "done" and f"all {PRESETS[self.preset]:,} targets" not in progress.text:
                    self.log.not_own_view.append(f"the result says {progress.text!r}")
                return progress
            await asyncio.sleep(self.poll_seconds)
        return self.last

    async def run(self, page, base_url: str, *, until: float, cancel_at_end: bool = False) -> None:
        """Start scoring, follow the job until it ends or `until`; then, with `cancel_at_end`, cancel it if it still
        runs or waits (this session is the only one waiting for it, so it stops)."""
        try:
            await start_scoring(page, base_url, self.preset, self.log)
            self.clicked = time.monotonic()
            await click_start(page)
            progress = await self.follow(page, until)
            if cancel_at_end and progress is not None and progress.state in ("queued", "running"):
                await cancel(page)
                ended = await wait_for_state(page, {"cancelled", "done", "failed"}, self.log, timeout_s=60)
                self.first_seen.setdefault(ended.state, time.monotonic())
                self.last = ended
        except Exception as error:  # noqa: BLE001  the report says which session stopped, and why
            await self.log.failed(page, error, self.failure_shots)
