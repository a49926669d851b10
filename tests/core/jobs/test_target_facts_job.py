"""The per-target facts a scoring job keeps beside the scores: equal to a direct computation, the same for any worker
count and checkpoint spacing, and identical after a cancel and resume (SIGKILL: test_score_job's CLI test)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from tests.proofnet_jobs import TARGETS, make_sources
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.score_job import ScoreRequest, run_foreground
from zipfit_core.scoring.kernel import UNITS_PER_ONE, AlignmentKernel
from zipfit_core.scoring.target_facts import TargetFacts
from zipfit_core.store.score_cache import CacheEntry, cached_target_facts

SOURCES, TARGETS_USED = make_sources(90, seed=4), TARGETS[:20]


def direct_target_facts(sources: list[str], targets: list[str], k: int = 10) -> TargetFacts:
    """The definition, pair by pair: each target's k most similar rows (ties by row), its mean and spread."""
    kernel = AlignmentKernel("gzip", 9)
    matrix = kernel.unit_matrix(kernel.encode(sources), kernel.encode(targets, what="target"))
    n = len(sources)
    top = [sorted(range(n), key=lambda row, t=t: (-int(matrix[row, t]), row))[:k] for t in range(len(targets))]
    sums = [sum(int(v) for v in matrix[:, t]) for t in range(len(targets))]
    squares = [sum(int(v) ** 2 for v in matrix[:, t]) for t in range(len(targets))]
    spread = [math.sqrt((sq * n - s * s) / (n * n * UNITS_PER_ONE ** 2)) for s, sq in zip(sums, squares)]
    return TargetFacts(np.array(top), np.array([[matrix[r, t] / UNITS_PER_ONE for r in rows]
                                                for t, rows in enumerate(top)]),
                       np.array([s / (n * UNITS_PER_ONE) for s in sums]), np.array(spread))


def assert_same_facts(found: TargetFacts, expected: TargetFacts) -> None:
    assert np.array_equal(found.top_rows, expected.top_rows)
    assert np.array_equal(found.top_similarity, expected.top_similarity)
    assert np.array_equal(found.mean, expected.mean) and np.array_equal(found.spread, expected.spread)


def test_a_jobs_per_target_facts_equal_the_definition_for_any_worker_count(tmp_path: Path) -> None:
    expected = direct_target_facts(SOURCES, TARGETS_USED)
    request = ScoreRequest(SOURCES, TARGETS_USED)
    for workers, folder in ((1, "one"), (2, "two")):
        run_foreground(request, tmp_path / folder, workers=workers, checkpoint_seconds=0.0)
        assert_same_facts(cached_target_facts(tmp_path / folder, request.resolved_run()), expected)
    manager = JobManager(tmp_path / "one", workers=2)  # served from the cache, through the snapshot
    key = manager.submit(request)
    manager.wait(key, timeout=60)
    assert_same_facts(manager.snapshot(key).target_facts, expected)


def test_per_target_facts_are_identical_after_a_cancel_and_resume(tmp_path: Path) -> None:
    sources, targets = make_sources(1500, seed=1, pieces=4), TARGETS[:60]
    manager = JobManager(tmp_path, workers=1, checkpoint_seconds=0.05)
    key = manager.submit(ScoreRequest(sources, targets))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (tmp_path / key / "manifest.json").exists():
            progress = CacheEntry(tmp_path, key).read_manifest()["progress"]
            if progress["rounds_done"] >= 1 and progress["round_rows_done"] > 0:  # mid-round: partial facts saved
                break
        time.sleep(0.01)
    manager.cancel(key)
    assert manager.wait(key, timeout=30).state == "cancelled"
    assert not CacheEntry(tmp_path, key).read_manifest()["progress"]["complete"]
    manager.forget(key)
    again = manager.submit(ScoreRequest(sources, targets))
    assert manager.wait(again, timeout=300).state == "done"
    resumed = cached_target_facts(tmp_path, ScoreRequest(sources, targets).resolved_run())
    run_foreground(ScoreRequest(sources, targets), tmp_path / "whole", workers=2)
    assert_same_facts(resumed, cached_target_facts(tmp_path / "whole", ScoreRequest(sources, targets).resolved_run()))
