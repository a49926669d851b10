"""Many users on one server (issue 13): 5 Chromium sessions at once against one `streamlit run app.py`.

    python3 benchmarks/bench_serving.py                 # 5 sessions for 120 s on 1,000,000 scored rows (~2.5 min)
    python3 benchmarks/bench_serving.py --seconds 300   # longer
    python3 benchmarks/bench_serving.py --pin           # the server on core 0, the browser on core 1
    python3 benchmarks/bench_serving.py --smoke         # 2 sessions, 20,000 rows, 20 s

One server on 127.0.0.1 (a free port, headless, ZIPFIT_MAX_JOBS=1, its own ZIPFIT_DATA_ROOT and ZIPFIT_CACHE_DIR
in a temporary folder) and one Chromium with one browser context per session, all driven at once:
- two sessions score: the Data page's preset button (the demo pool against ProofNet valid; against HumanEval),
  then the Score page's "Start scoring"; with one job slot the second waits in line. After 3/4 of the time
  (`--scoring-share`) they cancel what still runs or waits, so the last quarter shows the server without jobs;
- three sessions open a pool of 1,000,000 short rows (generated before the server starts, with a complete
  ZIP-FIT result put into the server's score cache, so nothing is scored) on Explore through a link, then
  change the top-K cut again and again, each to values only it uses, and open a row every 5th change.
The session scripts are tests/e2e/serving_load.py (with scored_pool.py and async_pages.py), which
tests/e2e/test_serving.py drives at 100,000 rows to check correctness; this script asserts nothing and prints
figures. The browser shares the machine's cores with the server (`--pin` gives each its own core): other work on
the cores, this browser's included, changes every figure. benchmarks/README.md says what each one measures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# The session scripts live with the browser tests (the test suite must not depend on benchmarks/): tests/e2e/.
sys.path.insert(0, str(REPO))  # the tests package, and zipfit_app beside app.py

from tests.e2e.app_driver import app_server
from tests.e2e.async_pages import browser_pages
from tests.e2e.scored_pool import write_scored_pool
from tests.e2e.serving_load import CUT_TIMING, PRESETS, CutSession, ScoringSession, first_view
from zipfit_app.panels.curation import AUTO_DEDUP_MAX_ROWS
from zipfit_app.services.work import FIRST_WAIT_S

from server_clock import ServerClock  # beside this script

TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    rss_mb: float  # the server's
    reruns: int  # made by the cut sessions so far
    server_cpu: float  # CPU seconds of the server so far (its scoring threads included)
    browser_cpu: float  # ... of Playwright's driver and Chromium
    machine_busy: float  # ... of the whole machine, every core


def _cpu_seconds(pid: int, ticks: int) -> tuple[int, float] | None:
    """(parent pid, utime + stime in seconds) of a process from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks


class ServerSampler(threading.Thread):
    """Once a second: the server's resident memory (VmRSS of /proc/<pid>/status) and CPU time, the CPU time of
    this script's other descendants (Playwright's driver and Chromium), the machine's busy time, and the reruns the
    cut sessions have made so far."""

    def __init__(self, server_pid: int, reruns, period: float = 1.0) -> None:
        super().__init__(name="server-sampler", daemon=True)
        self.server_pid, self.reruns, self.period = server_pid, reruns, period
        self.samples: list[Sample] = []
        self._halt = threading.Event()
        self._ticks = os.sysconf("SC_CLK_TCK")

    def _browser_cpu(self) -> float:
        """CPU seconds of this process's descendants other than the server (Playwright's driver, Chromium)."""
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (read := _cpu_seconds(int(entry.name), self._ticks)) is not None:
                parents[int(entry.name)] = read
        ours, total, frontier = {os.getpid()}, 0.0, [os.getpid()]
        while frontier:
            parent = frontier.pop()
            for pid, (ppid, cpu) in parents.items():
                if ppid == parent and pid not in ours and pid != self.server_pid:
                    ours.add(pid)
                    frontier.append(pid)
                    total += cpu
        return total

    def _machine_busy(self) -> float:
        """Seconds all cores were busy since boot (user + nice + system + irq + softirq + steal)."""
        values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return (values[0] + values[1] + values[2] + values[5] + values[6] + values[7]) / self._ticks

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                status = Path(f"/proc/{self.server_pid}/status").read_text()
                rss = next(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
                server = _cpu_seconds(self.server_pid, self._ticks)
                if server is not None:
                    self.samples.append(Sample(time.monotonic(), rss, self.reruns(), server[1], self._browser_cpu(),
                                               self._machine_busy()))
            except (OSError, StopIteration):
                pass
            self._halt.wait(self.period)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def between(self, start: float, end: float) -> list[Sample]:
        return [sample for sample in self.samples if start <= sample.at <= end]


def slope_per_rerun(samples: list[Sample]) -> float | None:
    """Least-squares KB of RSS per rerun over the samples (None with too few reruns to tell)."""
    reruns = np.array([sample.reruns for sample in samples], dtype=float)
    if len(samples) < 5 or reruns.max() - reruns.min() < 10:
        return None
    rss = np.array([sample.rss_mb for sample in samples])
    return float(np.polyfit(reruns, rss, 1)[0] * 1024)


def percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    p50, p95 = np.percentile(values, [50, 95])
    return f"n={len(values)}, p50 {p50:.3f} s, p95 {p95:.3f} s, max {max(values):.3f} s"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


async def drive(url: str, pool, args, cut_sessions: list[CutSession], scoring_sessions: list[ScoringSession],
                marks: dict[str, float]) -> None:
    async with browser_pages(1 + len(cut_sessions) + len(scoring_sessions), default_timeout_ms=120_000) as pages:
        # Warm-up, outside the measured window: the first view loads the pool, reads the cached result and ranks it.
        started = time.monotonic()
        warm_up = await first_view(pages[0], url, pool)
        marks["first view seconds"] = time.monotonic() - started
        marks["rows shown"] = warm_up.rows_shown
        marks["warm-up exceptions"] = len(warm_up.log.exceptions)
        await pages[0].context.close()

        marks["start"] = time.monotonic()
        until = marks["start"] + args.seconds
        marks["scoring until"] = marks["start"] + args.seconds * args.scoring_share
        sessions = [session.run(page, url, until=marks["scoring until"], cancel_at_end=True)
                    for session, page in zip(scoring_sessions, pages[1:1 + len(scoring_sessions)])]
        sessions += [session.run(page, url, until=until)
                     for session, page in zip(cut_sessions, pages[1 + len(scoring_sessions):])]
        await asyncio.gather(*sessions)
        marks["end"] = time.monotonic()


def job_intervals(scoring_sessions: list[ScoringSession], end: float) -> list[tuple[float, float]]:
    """When a scoring job was computing, as the sessions' pages showed it."""
    intervals = []
    for session in scoring_sessions:
        if session.running_interval is not None:
            first, last = session.running_interval
            intervals.append((first, min(last, end)))
    return intervals


def cpu_use(samples: list[Sample]) -> str:
    """Where the cores went over the samples: CPU seconds per second of the server, of the browser, of the whole
    machine (other work included), and the server's per rerun of the cut sessions."""
    if len(samples) < 2:
        return "too few samples"
    first, last = samples[0], samples[-1]
    seconds = last.at - first.at
    reruns = last.reruns - first.reruns
    per_rerun = f"; server CPU s per cut-session rerun {(last.server_cpu - first.server_cpu) / reruns:.2f}" \
        if reruns else ""
    return (f"server {(last.server_cpu - first.server_cpu) / seconds:.2f}, Chromium + driver "
            f"{(last.browser_cpu - first.browser_cpu) / seconds:.2f}, whole machine "
            f"{(last.machine_busy - first.machine_busy) / seconds:.2f} of {os.cpu_count()} cores{per_rerun}")


def report(args, pool, generation_seconds: float, cut_sessions: list[CutSession],
           scoring_sessions: list[ScoringSession], sampler: ServerSampler, marks: dict, logs: dict[str, str],
           load_at_start: str) -> None:
    start, end = marks["start"], marks["end"]
    changes = [change for session in cut_sessions for change in session.changes]
    jobs = job_intervals(scoring_sessions, end)
    jobs_over = max([b for _, b in jobs] + [marks["scoring until"] if scoring_sessions else start])
    def during_job(change) -> bool:
        return any(a <= change.started <= b for a, b in jobs)

    during = [c.seconds for c in changes if during_job(c)]
    quiet = [c.seconds for c in changes if c.started > jobs_over]

    print(f"\n[setup] {pool.n_rows:,} generated rows x {pool.n_targets} targets, written with a complete ZIP-FIT "
          f"result in {generation_seconds:.1f} s; first Explore view (load + cached result + ranking) "
          f"{marks['first view seconds']:.1f} s")
    shown_ok = marks["rows shown"] is not None and marks["rows shown"].endswith(f"of {pool.n_rows:,}")
    print(f"  Explore shows the pool's rows: {'yes' if shown_ok else 'NO'} ('Rows kept' says {marks['rows shown']!r})")

    scored = (f"; the scoring sessions scored for the first {marks['scoring until'] - start:.0f} s, then cancelled "
              "what still ran or waited") if scoring_sessions else ""
    print(f"\n[cut changes] {len(cut_sessions)} sessions for {end - start:.0f} s{scored}")
    print(f"  measured: {CUT_TIMING}")
    print(f"  all:                                {percentiles([c.seconds for c in changes])}")
    print(f"  while a scoring job ran:            {percentiles(during)}")
    print(f"  after the scoring jobs had ended:   {percentiles(quiet)}")
    for session in cut_sessions:
        print(f"  {session.name}: {percentiles([c.seconds for c in session.changes])}")
    small = [c.seconds for c in changes if c.value <= AUTO_DEDUP_MAX_ROWS]
    print(f"  cuts keeping <= {AUTO_DEDUP_MAX_ROWS:,} rows (Explore starts a near-duplicate search for them and waits "
          f"up to {FIRST_WAIT_S:g} s for it): {percentiles(small)}; larger cuts: "
          f"{percentiles([c.seconds for c in changes if c.value > AUTO_DEDUP_MAX_ROWS])}")
    on_server = [c for c in changes if c.server_seconds is not None]
    print("  the same reruns by the server's clock (server_clock.py: from the rerun request arriving to the run's "
          "script_finished message queued; no network, no browser):")
    print(f"    all:                              {percentiles([c.server_seconds for c in on_server])}")
    print(f"    while a scoring job ran:          {percentiles([c.server_seconds for c in on_server if during_job(c)])}")
    print("    after the scoring jobs had ended: "
          f"{percentiles([c.server_seconds for c in on_server if c.started > jobs_over])}")
    if len(on_server) < len(changes):
        print(f"    ({len(changes) - len(on_server)} changes not found in the server's log)")
    opened = [row for session in cut_sessions for row in session.rows]
    print(f"  rows opened (click -> dialog with nearest targets, script idle): "
          f"{percentiles([row.open_seconds for row in opened])}")
    print(f"  rows closed (Escape -> script idle, the row gone from the URL): "
          f"{percentiles([row.close_seconds for row in opened])}")
    unseen = sum(session.unseen_runs for session in cut_sessions)
    dropped = sum(session.dropped_clicks for session in cut_sessions)
    if unseen or dropped:
        print(f"  ({unseen} runs never showed 'running' and were timed when their outcome appeared; "
              f"{dropped} row clicks started no run and were repeated)")

    print("\n[views] each session's 'Rows kept' and URL after every change it made")
    for session in [*cut_sessions, *scoring_sessions]:
        checked = len(session.changes) if isinstance(session, CutSession) else 1
        wrong = session.log.not_own_view + session.log.surprises
        print(f"  {session.name}: {checked} checked, {len(wrong)} not its own" + (f": {wrong[:3]}" if wrong else ""))

    print(f"\n[scoring] the demo pool (3,870 rows) against a preset's targets; ZIPFIT_MAX_JOBS={args.max_jobs}; "
          f"states as the Score page showed them, polled every 0.5 s")
    for session in scoring_sessions:
        if session.clicked is None:
            print(f"  {session.name}: did not start ({session.log.error})")
            continue
        seen = {state: at - session.clicked for state, at in session.first_seen.items()}
        last = session.last
        parts = [f"clicked at +{session.clicked - start:.1f} s"]
        parts.append(f"waited in line {session.queue_wait:.1f} s" if session.queue_wait is not None
                     else "never ran")
        if session.running_interval is not None:
            first, last_seen = session.running_interval
            parts.append(f"ran {min(last_seen, end) - first:.1f} s")
        if last is not None and last.state == "done":
            parts.append("done")
        elif last is not None:
            pairs = f" at {last.done_pairs:,} of {last.total_pairs:,} pairs" if last.total_pairs else ""
            parts.append(f"{last.state}{pairs}")
        parts.append(f"states first seen at {_seconds(seen)}")
        if session.log.error:
            parts.append(f"stopped early: {session.log.error}")
        print(f"  {session.name}: " + "; ".join(parts))
        if session.places_in_line:
            print(f"    place in line: first {session.places_in_line[0]}, worst {max(session.places_in_line)}")
        if session.progress_seen:
            (t0, d0), (t1, d1) = session.progress_seen[0], session.progress_seen[-1]
            if t1 > t0:
                print(f"    rate while followed: {(d1 - d0) / (t1 - t0):,.0f} pairs/s")

    page_exceptions = {session.name: session.log.exceptions for session in [*cut_sessions, *scoring_sessions]
                       if session.log.exceptions}
    checks = sum(session.log.checks for session in [*cut_sessions, *scoring_sessions])
    during_run = logs["during"].count(TRACEBACK)
    at_shutdown = logs["all"].count(TRACEBACK) - during_run
    print(f"\n[exceptions] stException in the pages: {sum(map(len, page_exceptions.values()))} distinct "
          f"(in {checks} checks of every page, and {marks['warm-up exceptions']} at the first view); "
          f"'Traceback' in the server's log: {during_run} while the sessions ran, {at_shutdown} when it was stopped")
    for name, texts in page_exceptions.items():
        print(f"  {name}: {texts[0][:300]!r}")
    if logs["all"].count(TRACEBACK):
        at = logs["all"].index(TRACEBACK)
        print("  first server traceback:\n    " + logs["all"][at:at + 1200].replace("\n", "\n    "))
    errors = [f"{s.name}: {s.log.error}" for s in [*cut_sessions, *scoring_sessions] if s.log.error]
    if errors:
        print("  sessions that stopped early: " + "; ".join(errors))

    window = sampler.between(start, end)
    if window:
        rss = [sample.rss_mb for sample in window]
        print(f"\n[server RSS] before any session {sampler.samples[0].rss_mb:.0f} MB; measured window: start "
              f"{rss[0]:.0f} MB, peak {max(rss):.0f} MB, end {rss[-1]:.0f} MB over "
              f"{window[-1].reruns - window[0].reruns} reruns of the cut sessions")
        series = window[:: max(1, len(window) // 12)]
        print("  over time (s: MB): " + ", ".join(f"+{x.at - start:.0f}: {x.rss_mb:.0f}" for x in series))
        print(f"  slope over the whole window: {_kb(slope_per_rerun(window))} per rerun (scoring jobs allocate too)")
        after = [sample for sample in window if sample.at > jobs_over]
        for name, part in (("after the scoring jobs had ended", after),
                           ("over the second half of that", after[len(after) // 2:])):
            if part:
                print(f"  slope {name}: {_kb(slope_per_rerun(part))} per rerun ({len(part)} samples, "
                      f"{part[-1].reruns - part[0].reruns} reruns, {part[0].rss_mb:.0f} -> {part[-1].rss_mb:.0f} MB)")
        print("\n[CPU] CPU seconds per second")
        print(f"  while the scoring sessions scored: {cpu_use([x for x in window if x.at <= jobs_over])}")
        print(f"  after:                             {cpu_use(after)}")

    print(f"\n[load] load average at start {load_at_start}, at end {load_average()} ({os.cpu_count()} cores, shared "
          "with other work, the browser and this script: the numbers are noisy)")
    for name, values in (("in the page", during),
                         ("by the server's clock", [c.server_seconds for c in changes
                                                    if c.server_seconds is not None and during_job(c)])):
        p95 = float(np.percentile(values, 95)) if values else None
        print(f"[goal] p95 cut change with a scoring job running <= 1 s, {name}: "
              + (f"{p95:.3f} s, {'met' if p95 <= 1 else 'NOT met'}" if p95 is not None else "no change during a job"))


def _kb(value: float | None) -> str:
    return "not enough reruns to tell" if value is None else f"{value:+.1f} KB"


def _seconds(seen: dict[str, float]) -> str:
    return ", ".join(f"{state} +{at:.1f} s" for state, at in sorted(seen.items(), key=lambda item: item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120, help="how long the sessions run (default 120)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="scored rows the cut sessions explore")
    parser.add_argument("--cut-sessions", type=int, default=3)
    parser.add_argument("--scoring-sessions", type=int, default=2, choices=(0, 1, 2))
    parser.add_argument("--scoring-share", type=float, default=0.75,
                        help="the scoring sessions score for this share of --seconds, then cancel (default 0.75)")
    parser.add_argument("--row-every", type=int, default=5, help="open a row after every N cut changes (0: never)")
    parser.add_argument("--max-jobs", type=int, default=1, help="the server's ZIPFIT_MAX_JOBS")
    parser.add_argument("--smoke", action="store_true", help="2 sessions (1 cut, 1 scoring), 20,000 rows, 20 s")
    parser.add_argument("--pin", action="store_true",
                        help="the server on core 0, Chromium, its driver and this script on core 1 (the browser "
                             "otherwise takes most of a 2-core machine from the server)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (data, cache, server log)")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.rows, args.cut_sessions, args.scoring_sessions = 20, 20_000, 1, 1

    base = Path(tempfile.mkdtemp(prefix="bench_serving-"))
    data, cache = base / "data", base / "cache"
    data.mkdir()
    cache.mkdir()
    load_at_start = load_average()
    print(f"{args.cut_sessions} cut sessions on {args.rows:,} scored rows and {args.scoring_sessions} scoring "
          f"sessions, {args.seconds:.0f} s; folder {base}")
    try:
        started = time.perf_counter()
        pool = write_scored_pool(data, cache, args.rows)
        generation_seconds = time.perf_counter() - started
        cut_sessions = [CutSession(pool, index, args.cut_sessions, row_every=args.row_every)
                        for index in range(args.cut_sessions)]
        scoring_sessions = [ScoringSession(preset, index)
                            for index, preset in enumerate(list(PRESETS)[:args.scoring_sessions])]
        marks: dict = {}
        log_path = base / "server.log"
        if args.pin:  # children inherit the affinity of the thread that starts them
            os.sched_setaffinity(0, {0})
        clock_log = base / "server_clock.jsonl"
        launcher = [str(REPO / "benchmarks" / "server_clock.py"), str(clock_log), "--"]
        with app_server(data, cache, log_path, {"ZIPFIT_MAX_JOBS": str(args.max_jobs)}, launcher=launcher) as server:
            if args.pin:
                os.sched_setaffinity(0, {1})
                print(f"pinned: server on core(s) {sorted(os.sched_getaffinity(server.process.pid))}, Chromium and "
                      f"this script on {sorted(os.sched_getaffinity(0))}")
            sampler = ServerSampler(server.process.pid, lambda: sum(session.reruns for session in cut_sessions))
            sampler.start()
            try:
                asyncio.run(drive(server.url, pool, args, cut_sessions, scoring_sessions, marks))
            finally:
                sampler.stop()
            logs = {"during": server.log()}
        logs["all"] = log_path.read_text(encoding="utf-8", errors="replace")  # after it stopped: shutdown errors too
        clock = ServerClock.read(clock_log)
        for session in cut_sessions:
            session.changes = [replace(change, server_seconds=clock.rerun_seconds(change.value, change.started))
                               for change in session.changes]
        report(args, pool, generation_seconds, cut_sessions, scoring_sessions, sampler, marks, logs, load_at_start)
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
