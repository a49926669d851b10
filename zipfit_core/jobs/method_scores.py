"""Scores of any method, remembered: the in-process memo, the on-disk caches, then computing.

    score_sources(method, sources, targets, cache_dir=..., **settings) -> float64, one score per source

ZIP-FIT is computed through the scoring jobs (`score_job.run_foreground`: resumable, checkpointed, the cache
the app's jobs share); a derived method (the length-debiased variant) from its base method's scores, so a
cached ZIP-FIT result serves it; every other method through `scoring.methods.compute_scores`, stored in the
method cache (`store.method_cache`). Without a `cache_dir`, only the memo is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zipfit_core.data.texts import texts_fingerprint
from zipfit_core.jobs.score_job import JobStatus, ScoreRequest, run_foreground
from zipfit_core.scoring.alignment import CancelSignal, ProgressCallback, require_texts
from zipfit_core.scoring.methods import base_settings, checked_scores, compute_scores, method_info, method_spec
from zipfit_core.store.method_cache import memo, read_method_cache, result_key, write_method_cache

SCORED_BY_JOBS = "zipfit"  # the method whose disk cache is the jobs' resumable score cache


def stored_scores(method: str, sources: Sequence[str], targets: Sequence[str], *,
                  cache_dir: str | Path | None = None, **settings: Any) -> np.ndarray | None:
    """The scores `score_sources` would return if they are already in memory or in the cache; else None.

    Never computes. ZIP-FIT and the methods derived from it are looked up in memory only (their disk entries
    belong to the jobs).
    """
    info = method_info(method)
    resolved = info.resolve(settings)
    if len(targets) == 0 or len(sources) == 0:
        return None
    key = result_key(method, resolved, texts_fingerprint(sources), texts_fingerprint(targets))
    scores = memo.get(key)
    if scores is not None or cache_dir is None or method == SCORED_BY_JOBS or info.base is not None:
        return scores
    scores = read_method_cache(cache_dir, key, len(sources))
    if scores is not None:
        memo.put(key, scores)
    return scores


def score_sources(method: str, sources: Sequence[str], targets: Sequence[str], *,
                  progress: ProgressCallback | None = None, cancel: CancelSignal = None,
                  cache_dir: str | Path | None = None, **settings: Any) -> np.ndarray:
    """Score every source row against the target set with `method`; higher = more target-like.

    `settings` are the method's (see `METHODS[method].settings`); unknown names are an error.
    `progress(done, total)` and `cancel` (an Event or a callable) work as in `alignment_scores`.
    `cache_dir` (e.g. `score_cache.default_cache_dir()`) reads and writes the on-disk caches; None: memory only.
    Returns a new float64 array, one score per source, in source order.
    """
    info = method_info(method)
    resolved = info.resolve(settings)
    require_texts(targets, "target")
    if len(sources) == 0:
        return np.zeros(0, dtype=np.float64)
    key = result_key(method, resolved, texts_fingerprint(sources), texts_fingerprint(targets))
    scores = memo.get(key)
    if scores is not None:
        return scores
    cache_dir = Path(cache_dir) if cache_dir is not None else None
    if info.base is not None:
        base = score_sources(info.base, sources, targets, progress=progress, cancel=cancel, cache_dir=cache_dir,
                             **base_settings(info, resolved))
        scores = checked_scores(info, info.adjust(base, sources, resolved))
    elif cache_dir is None:
        scores = compute_scores(method, sources, targets, progress=progress, cancel=cancel, **resolved)
    elif method == SCORED_BY_JOBS:
        scores = _zipfit_through_jobs(sources, targets, resolved, progress, cancel, cache_dir)
    else:
        scores = read_method_cache(cache_dir, key, len(sources))
        if scores is None:
            scores = compute_scores(method, sources, targets, progress=progress, cancel=cancel, **resolved)
            write_method_cache(cache_dir, key, scores, label=f"{method_spec(method, resolved)}: "
                                                             f"{len(sources)} sources vs {len(targets)} targets")
    memo.put(key, scores)
    return np.array(scores, dtype=np.float64)


def _zipfit_through_jobs(sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
                         progress: ProgressCallback | None, cancel: CancelSignal, cache_dir: Path) -> np.ndarray:
    def follow(status: JobStatus) -> None:
        if progress:
            progress(status.done_pairs, status.total_pairs)

    request = ScoreRequest(sources, targets, codec=settings["codec"], level=settings["level"],
                           label=f"{len(sources)} sources vs {len(targets)} targets")
    return run_foreground(request, cache_dir, progress=follow, cancel=cancel, workers=settings["workers"])
