"""Many users on one server (issue 13), in real Chromium: several sessions at once against one `streamlit run`.

The small version of benchmarks/bench_serving.py, with the same session scripts (serving_load.py) and scored rows
(scored_pool.py), asserting correctness only, never timings:
- two sessions change the cut on 100,000 scored rows at the same time, each to values of its own: every "Rows
  kept" and every URL is the session's own, rows open in its own dialog, and no page or server log shows an
  exception (one session loads the data through the Data page's local-file form, the other through a link);
- two sessions score the same data: the second joins the first's job, the first's Cancel leaves it running for
  the second, whose progress goes on, and the first's page says so at once (not only on its next full run);
  the second's Cancel then stops it (nobody waits for it any more).

The sessions run at once, so they use Playwright's async API in a thread of their own (`run_in_own_thread`), with
the same Chromium and flags as the `browser` fixture.

The two cut sessions are the first to reach their server, at the same moment (one at /, one at /explore): their
script threads import the app's modules at once, which failed with an ImportError of a partially initialised
module or a _DeadlockError while zipfit_core/__init__.py imported its modules
(tests/packaging/test_concurrent_imports.py).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource
from zipfit_core.jobs.score_job import ScoreRequest

from .async_pages import browser_pages, run_in_own_thread, wait_idle
from .conftest import ARTIFACTS, CHROMIUM, streamlit_server
from .scored_pool import ScoredPool, write_scored_pool
from .serving_load import (
    CutSession,
    SessionLog,
    cancel,
    click_start,
    read_progress,
    score_page_state,
    start_scoring,
    wait_for_state,
)

pytestmark = pytest.mark.e2e
PlaywrightTimeout = pytest.importorskip("playwright.async_api").TimeoutError

ROWS = 100_000
CHANGES = 6
SESSION_SECONDS = 300  # a bound for stuck sessions, above their own timeouts (which then say what they waited for)
OPEN_TIMEOUT_MS = 120_000
RERUN_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Serving:
    url: str
    pool: ScoredPool
    cache_dir: Path
    log_path: Path

    def tracebacks(self) -> int:
        return self.log_path.read_text(encoding="utf-8", errors="replace").count("Traceback")


@pytest.fixture(scope="module")
def serving(tmp_path_factory) -> Serving:
    """One server of its own: the scored pool in its data root and cache, scoring jobs on one thread (slow enough
    to cancel while they run). No session has reached it yet."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set ZIPFIT_CHROMIUM)")
    base = tmp_path_factory.mktemp("serving")
    dirs = {name: base / name for name in ("cache", "data")}
    for folder in dirs.values():
        folder.mkdir()
    pool = write_scored_pool(dirs["data"], dirs["cache"], ROWS)
    with streamlit_server(dirs, "streamlit-serving", {"ZIPFIT_JOB_WORKERS": "1", "ZIPFIT_MAX_JOBS": "1"}) as url:
        yield Serving(url, pool, dirs["cache"], base / "streamlit-serving.log")


def test_each_session_keeps_its_own_cut(serving):
    # The first test of the module: these two sessions are the server's first, at once.
    sessions = [CutSession(serving.pool, index, 2, via=via, row_every=3, open_timeout_ms=OPEN_TIMEOUT_MS,
                           rerun_timeout_ms=RERUN_TIMEOUT_MS, failure_shots=ARTIFACTS)
                for index, via in enumerate(("form", "link"))]

    async def both() -> None:
        async with browser_pages(len(sessions)) as pages:
            await asyncio.gather(*(session.run(page, serving.url, changes=CHANGES)
                                   for session, page in zip(sessions, pages)))

    run_in_own_thread(both, timeout=SESSION_SECONDS)

    for session in sessions:
        assert session.log.error is None, f"{session.name} stopped: {session.log.error}"
        assert session.rows_shown.endswith(f"of {ROWS:,}"), session.rows_shown  # the cached result is attached
        assert len(session.changes) >= CHANGES  # the form route sets its first cut with the widget too
        assert [change.kept for change in session.changes] == [f"{change.value:,}" for change in session.changes]
        assert all(change.url_cut == ("top_k", str(change.value)) for change in session.changes)
        assert session.log.not_own_view == []
        assert session.log.surprises == []
        assert session.log.exceptions == [], session.log.exceptions
        assert len(session.rows) == CHANGES // 3 and all(row.row is not None for row in session.rows)
    values = [{change.value for change in session.changes} for session in sessions]
    assert not values[0] & values[1]  # the sessions never set the same cut: a leak would show
    assert serving.tracebacks() == 0


def test_one_sessions_cancel_leaves_the_job_to_the_other(serving):
    alice, bob = SessionLog("alice"), SessionLog("bob")
    seen: dict[str, object] = {}

    async def scenario() -> None:
        async with browser_pages(2) as (alice_page, bob_page):
            await start_scoring(alice_page, serving.url, "HumanEval", alice)
            await click_start(alice_page)
            seen["alice running"] = await wait_for_state(alice_page, {"running"}, alice)

            # Bob asks for the same scores: his Score page joins the running job instead of starting another.
            await start_scoring(bob_page, serving.url, "HumanEval", bob)
            seen["bob joined"] = await wait_for_state(bob_page, {"running"}, bob)
            seen["bob buttons"] = (await score_page_state(bob_page))["buttons"]
            stop_all = alice_page.get_by_role("button", name=re.compile(r"^Stop for everyone \(1 other session"))
            await stop_all.wait_for()  # the job alice started counts bob as waiting for it

            for _ in range(3):  # a click on the progress fragment while it is redrawn could be lost: then again
                await cancel(alice_page)
                try:  # alice no longer waits for the job: bob is now the one who started it, not her
                    await stop_all.wait_for(state="detached", timeout=5000)
                    break
                except PlaywrightTimeout:
                    pass
            first = await wait_for_state(bob_page, {"running"}, bob, with_pairs=True)
            # Alice's page as a whole says what her Cancel did, at once (the Cancel button sits in the progress
            # fragment, whose own rerun used to go on showing the job until the page ran again).
            await alice_page.get_by_text("still waits for it, so it goes on for them").wait_for(timeout=30_000)
            await wait_idle(alice_page)
            alice_state = await score_page_state(alice_page)
            seen["alice after"] = (read_progress(alice_state), alice_state["buttons"])
            await alice.check(alice_page)

            await bob_page.wait_for_timeout(2000)
            later = await wait_for_state(bob_page, {"running", "done"}, bob, with_pairs=True)
            seen["bob progress"] = (first, later)
            if later.state == "running":  # the last one to let go: now the job stops
                await cancel(bob_page)
                seen["bob stopped"] = await wait_for_state(bob_page, {"cancelled"}, bob, timeout_s=60)
            await bob.check(bob_page)

    run_in_own_thread(scenario, timeout=SESSION_SECONDS)

    assert "Scoring..." in seen["bob buttons"] and "Start scoring" not in seen["bob buttons"]
    # One job for the two sessions: besides the generated pool's result, the cache holds only this work's entry.
    pool_texts = load_source(DataSource("demo", "pool")).texts
    humaneval_texts = load_source(DataSource("demo", "humaneval")).texts
    job = ScoreRequest(pool_texts, humaneval_texts).key
    scored = {path.name for path in serving.cache_dir.iterdir() if path.is_dir() and path.name != "data"}
    assert scored == {serving.pool.key, job}  # (data/ holds the loaded data sets, converted once)
    alice_progress, alice_buttons = seen["alice after"]
    assert alice_progress.state is None and "Start scoring" in alice_buttons  # alice no longer follows it
    first, later = seen["bob progress"]
    assert first.total_pairs == 3870 * 164  # every pool row against every HumanEval problem
    assert later.state == "done" or later.done_pairs > first.done_pairs  # it went on for bob
    if later.state == "running":
        assert seen["bob stopped"].state == "cancelled"
        assert "nobody waits for it any more" in seen["bob stopped"].text
    for session in (alice, bob):
        assert session.error is None and session.not_own_view == [] and session.exceptions == []
    assert serving.tracebacks() == 0
