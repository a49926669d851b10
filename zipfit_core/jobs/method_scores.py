"""Scores of any method, remembered: the in-process memo, the on-disk caches, then computing.

    score_sources(method, sources, targets, cache_dir=..., **settings) -> float64, one score per source
    method_run(method, sources, targets, settings, cache_dir)          -> the same as background work

ZIP-FIT is computed through the scoring jobs (`score_job.run_foreground`: resumable, checkpointed, the cache
the app's jobs share); a derived method (the length-debiased variant) from its base method's scores, so a
cached ZIP-FIT result serves it; every other method through `scoring.methods.compute_scores`, stored in the
method cache (`store.method_cache`). Without a `cache_dir`, only the memo is used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zipfit_core.data.sources import plural
from zipfit_core.data.texts import texts_fingerprint
from zipfit_core.jobs.score_job import ScoreRequest, run_foreground
from zipfit_core.jobs.work import FunctionWork, WorkStatus
from zipfit_core.scoring.alignment import CancelSignal, ProgressCallback, require_texts
from zipfit_core.scoring.methods import base_settings, checked_scores, compute_scores, method_info, method_spec
from zipfit_core.store.method_cache import memo, read_method_cache, result_key, write_method_cache
from zipfit_core.store.run import ScoreRun

SCORED_BY_JOBS = "zipfit"  # the method whose disk cache is the jobs' resumable score cache


def stored_scores(method: str, sources: Sequence[str], targets: Sequence[str], *,
                  cache_dir: str | Path | None = None, **settings: Any) -> np.ndarray | None:
    """The scores `score_sources` would return if they are already in memory or in the cache; else None.

    Never computes. ZIP-FIT and the methods derived from it are looked up in memory only (their disk entries
    belong to the jobs).
    """
    if len(targets) == 0 or len(sources) == 0:
        return None
    return _found_scores(method, settings, len(sources), texts_fingerprint(sources), texts_fingerprint(targets),
                         cache_dir)


def _found_scores(method: str, settings: dict[str, Any], n_sources: int, source_fingerprint: str,
                  target_fingerprint: str, cache_dir: str | Path | None) -> np.ndarray | None:
    """The memo's or the method cache's scores for this result, else None (never computes)."""
    info = method_info(method)
    key = result_key(method, info.resolve(settings), source_fingerprint, target_fingerprint)
    scores = memo.get(key)
    if scores is not None or cache_dir is None or method == SCORED_BY_JOBS or info.base is not None:
        return scores
    scores = read_method_cache(cache_dir, key, n_sources)
    if scores is not None:
        memo.put(key, scores)
    return scores


def score_sources(method: str, sources: Sequence[str], targets: Sequence[str], *,
                  progress: ProgressCallback | None = None, cancel: CancelSignal = None,
                  cache_dir: str | Path | None = None, run_record: ScoreRun | None = None,
                  **settings: Any) -> np.ndarray:
    """Score every source row against the target set with `method`; higher = more target-like.

    `settings` are the method's (see `METHODS[method].settings`); unknown names are an error.
    `progress(done, total)` and `cancel` (an Event or a callable) work as in `alignment_scores`.
    `cache_dir` (e.g. `score_cache.default_cache_dir()`) reads and writes the on-disk caches; None: memory only.
    `run_record` is what a method-cache entry records (e.g. with the recipes that load the data again).
    Returns a new float64 array, one score per source, in source order.
    """
    info = method_info(method)
    resolved = info.resolve(settings)
    require_texts(targets, "target")
    if len(sources) == 0:
        return np.zeros(0, dtype=np.float64)
    source_fingerprint, target_fingerprint = texts_fingerprint(sources), texts_fingerprint(targets)
    key = result_key(method, resolved, source_fingerprint, target_fingerprint)
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
        run = ScoreRun.for_plain_texts(sources, targets, settings=resolved, source_fingerprint=source_fingerprint,
                                       target_fingerprint=target_fingerprint)  # the texts are hashed once
        scores = _zipfit_through_jobs(sources, targets, run, resolved["workers"], progress, cancel, cache_dir)
    else:
        scores = read_method_cache(cache_dir, key, len(sources))
        if scores is None:
            scores = compute_scores(method, sources, targets, progress=progress, cancel=cancel, **resolved)
            run = run_record or ScoreRun.for_plain_texts(sources, targets, method=method, settings=resolved,
                                                         source_fingerprint=source_fingerprint,
                                                         target_fingerprint=target_fingerprint)
            write_method_cache(cache_dir, key, scores, run, label=f"{method_spec(method, resolved)}: "
                                                                  f"{plural(len(sources), 'source')} vs "
                                                                  f"{plural(len(targets), 'target')}")
    memo.put(key, scores)  # the memo keeps its own copy: the caller may change this one
    return np.asarray(scores, dtype=np.float64)


def _zipfit_through_jobs(sources: Sequence[str], targets: Sequence[str], run: ScoreRun, workers: int | None,
                         progress: ProgressCallback | None, cancel: CancelSignal, cache_dir: Path) -> np.ndarray:
    def follow(status: WorkStatus) -> None:
        if progress:
            progress(status.done, status.total)

    request = ScoreRequest.for_run(sources, targets, run,
                                   label=f"{plural(len(sources), 'source')} vs {plural(len(targets), 'target')}")
    return run_foreground(request, cache_dir, progress=follow, cancel=cancel, workers=workers)


def method_run_id(method: str, settings: dict[str, Any], source_fingerprint: str, target_fingerprint: str) -> str:
    """A short, URL-safe id for the run computing this result: named like its method-cache folder."""
    key = result_key(method, method_info(method).resolve(settings), source_fingerprint, target_fingerprint)
    return method_run_id_of_folder(hashlib.sha256(key.encode()).hexdigest())


def method_run_id_of_folder(folder_name: str) -> str:
    """The id of the run whose result is `<cache_dir>/methods/<folder_name>/` (named by sha256 of the key)."""
    return "method-" + folder_name[:24]


def method_run(method: str, sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
               cache_dir: str | Path | None, *, source_fingerprint: str, target_fingerprint: str,
               run_record: ScoreRun | None = None) -> FunctionWork:
    """`score_sources` as background work: progress, cancel, and a read-only result shared by every session.
    Raises ZipFitError at once for an unknown method or setting and for an empty target set. `run_record`: what
    the cache entry records (`score_sources`)."""
    info = method_info(method)
    resolved = info.resolve(settings)
    require_texts(targets, "target")
    sources, targets = list(sources), list(targets)

    def compute(progress: ProgressCallback, cancelled: CancelSignal) -> np.ndarray:
        scores = score_sources(method, sources, targets, progress=progress, cancel=cancelled,
                               cache_dir=cache_dir, run_record=run_record, **resolved)
        scores.setflags(write=False)  # shared by every session that reads it
        return scores

    total = len(sources) * len(targets) if info.compresses else len(sources)
    return FunctionWork(method_run_id(method, resolved, source_fingerprint, target_fingerprint), method, compute,
                        unit="pairs" if info.compresses else "rows", total=total,
                        running_message=f"scoring {plural(len(sources), 'row')} with {info.label}",
                        done_message=f"scored {plural(len(sources), 'row')}")


def cached_method_run(method: str, n_sources: int, settings: dict[str, Any], cache_dir: str | Path | None, *,
                      source_fingerprint: str, target_fingerprint: str) -> FunctionWork | None:
    """A finished run holding the method's scores when the memo or the method cache has them; never computes.
    ZIP-FIT and what derives from it are found in memory only (their disk entries belong to the jobs)."""
    if n_sources == 0:
        return None
    scores = _found_scores(method, settings, n_sources, source_fingerprint, target_fingerprint, cache_dir)
    if scores is None:
        return None
    scores.setflags(write=False)
    work = FunctionWork(method_run_id(method, settings, source_fingerprint, target_fingerprint), method,
                        lambda progress, cancelled: scores, unit="rows", total=n_sources)
    return work.finished_with(scores, "loaded from the cache")
