"""Scoring jobs on ProofNet texts, for the tests of jobs, caches and the app: the texts (TARGETS, make_sources), the
job code watched (count_computed_pairs) or held still inside its first block (HeldJobs).

Data: ProofNet statements bundled in zipfit_core/data/demo_data (see its ATTRIBUTION.md); sources are
made by gluing pieces of different statements together so they differ in length and content.
"""

from __future__ import annotations

import random
import threading

import pytest

import zipfit_core.jobs.score_job as jobs_module
from tests.target_sets import PROOFNET_FILE, read_jsonl_gz

ROWS = read_jsonl_gz(PROOFNET_FILE)
TARGETS = [row["informal_prefix"] + row["formal_statement"] for row in ROWS if row["split"] == "valid"]


def make_sources(n: int, seed: int = 0, pieces: int = 3) -> list[str]:
    """Distinct source texts of a few hundred to a few thousand characters."""
    rng = random.Random(seed)
    fields = ("informal_prefix", "formal_statement", "header", "goal")
    return [f"{i}\n" + "\n".join(rng.choice(ROWS)[rng.choice(fields)] for _ in range(rng.randint(1, pieces)))
            for i in range(n)]


def count_computed_pairs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every pair the job code computes (across all jobs in this process)."""
    computed = [0]
    lock = threading.Lock()
    original = jobs_module.source_unit_moments

    def counting(sources, targets, kernel, **options):
        moments = original(sources, targets, kernel, **options)
        with lock:
            computed[0] += len(moments) * len(targets)
        return moments

    monkeypatch.setattr(jobs_module, "source_unit_moments", counting)
    return computed


class HeldJobs:
    """Scoring jobs that stop inside their first block until released (running, holding their lock)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        original = jobs_module.source_unit_moments

        def held(*args, **options):
            self.entered.set()
            self.release.wait(60)
            return original(*args, **options)

        monkeypatch.setattr(jobs_module, "source_unit_moments", held)
