"""Score-cache entries made by the real code paths, for the cache tests (core/store) and the Score page's (app): a
finished ZIP-FIT entry (`run_foreground`), a partial one (a job cancelled after its first round), a method's
(`score_sources`). Texts from proofnet_jobs.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.proofnet_jobs import TARGETS, make_sources
from zipfit_core.errors import ScoringCancelled
from zipfit_core.jobs.method_scores import score_sources
from zipfit_core.jobs.score_job import ScoreRequest, run_foreground
from zipfit_core.store.method_cache import memo

SOURCES = make_sources(60, seed=11)
OTHER_SOURCES = make_sources(50, seed=12)
TARGETS_USED = TARGETS[:20]


def finished_entry(root: Path, sources=SOURCES, label: str = "finished") -> str:
    run_foreground(ScoreRequest(sources, TARGETS_USED, label=label), root, workers=1)
    return ScoreRequest(sources, TARGETS_USED).key


def partial_entry(root: Path) -> str:
    """A job cancelled once its first round (2 targets) is done: its checkpoint stays."""
    cancel = threading.Event()

    def stop_after_first_round(status) -> None:
        if status.targets_seen >= 2:
            cancel.set()

    with pytest.raises(ScoringCancelled):
        run_foreground(ScoreRequest(OTHER_SOURCES, TARGETS_USED, label="partial"), root,
                       progress=stop_after_first_round, cancel=cancel, workers=1)
    return ScoreRequest(OTHER_SOURCES, TARGETS_USED).key


def method_entry(root: Path) -> str:
    memo.clear()  # a result in memory is not written to disk again
    score_sources("random", SOURCES, TARGETS_USED, cache_dir=root)
    (folder,) = (root / "methods").iterdir()
    return folder.name
