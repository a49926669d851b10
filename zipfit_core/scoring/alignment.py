"""ZIP-FIT over a pool: mean over targets of 1 - NCD(source, target), exact and on threads.

    scores = alignment_scores(sources, targets, codec="gzip", level=9, workers=None, progress=None, cancel=None)

Sources are encoded and scored batch by batch (`kernel.AlignmentKernel`) on a thread pool (zlib releases the
GIL while it compresses), with progress and prompt cancel; sums stay exact integers (`kernel.py`), so the
scores do not depend on the number of workers, the batches or the order they finish in.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import numpy as np

from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.scoring.codecs import resolve_level
from zipfit_core.scoring.kernel import AlignmentKernel, EncodedTexts, units_to_mean
from zipfit_core.scoring.target_facts import TargetBlockFacts, exact_row_sums, exact_square_sums

ProgressCallback = Callable[[int, int], None]


CancelSignal = threading.Event | Callable[[], bool] | None


def require_texts(texts: Sequence[str], what: str) -> None:
    """Refuse an empty source or target set (the one place this check and its message live)."""
    if len(texts) == 0:
        raise ZipFitError(f"The {what} set is empty: give at least one {what} example.")


def as_cancel_check(cancel: CancelSignal) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    if callable(cancel):
        return cancel
    raise TypeError("cancel must be a threading.Event, a callable returning bool, or None")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def source_unit_sums(
    sources: Sequence[str],
    targets: EncodedTexts,
    kernel: AlignmentKernel,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelSignal = None,
    batch_size: int | None = None,
    rows: Sequence[int] | None = None,
) -> list[int]:
    """Exact similarity-unit sums of each source over `targets`, in source order, on threads.

    Sources are encoded batch by batch inside the workers and at most a few batches are in flight,
    so memory grows with the number of sources plus targets, never with their product.
    `rows` optionally restricts the work to those source positions (results follow `rows`).
    """
    return _map_source_batches(kernel.unit_sums, sources, targets, kernel, workers=workers,
                               progress=progress, cancel=cancel, batch_size=batch_size, rows=rows)


def source_unit_moments(
    sources: Sequence[str],
    targets: EncodedTexts,
    kernel: AlignmentKernel,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelSignal = None,
    batch_size: int | None = None,
    rows: Sequence[int] | None = None,
    target_top_k: int | None = None,
) -> list[tuple[int, int]]:
    """Like `source_unit_sums`, with each source's exact (sum, sum of squares) of similarity units.

    With `target_top_k`, the result is a `MomentsWithTargets`: the same list, and the per-target facts of these
    rows (`TargetBlockFacts`: each target's best `target_top_k` rows, exact sums), from the same pairs.
    """
    if target_top_k is None:
        return _map_source_batches(kernel.unit_moments, sources, targets, kernel, workers=workers,
                                   progress=progress, cancel=cancel, batch_size=batch_size, rows=rows)

    def moments_and_facts(encoded: EncodedTexts, encoded_targets: EncodedTexts, should_stop: Callable[[], bool],
                          batch_rows: Sequence[int]) -> tuple[list, TargetBlockFacts]:
        units = kernel.unit_matrix(encoded, encoded_targets, should_stop)
        moments = list(zip(exact_row_sums(units, 1), exact_square_sums(units, 1)))
        return moments, TargetBlockFacts.of_units(units, np.asarray(batch_rows, np.int64), target_top_k)

    facts = TargetBlockFacts.empty(len(targets), target_top_k)

    def merge(block: TargetBlockFacts) -> None:
        nonlocal facts
        facts = facts.merged(block)

    moments = _map_source_batches(moments_and_facts, sources, targets, kernel, workers=workers, progress=progress,
                                  cancel=cancel, batch_size=batch_size, rows=rows, merge_extra=merge)
    return MomentsWithTargets(moments, facts)


class MomentsWithTargets(list):
    """Each source's (sum, sum of squares), as a list, carrying the per-target facts of the same rows."""

    def __init__(self, moments: list, targets: TargetBlockFacts) -> None:
        super().__init__(moments)
        self.targets = targets


def _map_source_batches(
    batch_work: Callable[[EncodedTexts, EncodedTexts, Callable[[], bool]], list],
    sources: Sequence[str],
    targets: EncodedTexts,
    kernel: AlignmentKernel,
    *,
    workers: int | None,
    progress: ProgressCallback | None,
    cancel: CancelSignal,
    batch_size: int | None,
    rows: Sequence[int] | None,
    merge_extra: Callable | None = None,
) -> list:
    """Run `batch_work(encoded_sources, targets, should_stop)` over source batches on threads.

    With `merge_extra`, `batch_work` also takes the batch's rows and returns (per-source list, extra); each
    extra is handed to `merge_extra` in the calling thread as its batch finishes (in any order)."""
    is_cancelled = as_cancel_check(cancel)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ZipFitError("workers must be at least 1.")
    positions = list(range(len(sources))) if rows is None else list(rows)
    n_targets = len(targets)
    total_pairs = len(positions) * n_targets
    if batch_size is None:
        # ~4,000 pairs (~0.1 s) per batch: prompt progress and cancel; smaller batches measured slower.
        batch_size = max(1, min(256, 4000 // max(1, n_targets)))
    batches = [positions[i:i + batch_size] for i in range(0, len(positions), batch_size)]
    results: list = [0] * len(positions)
    stop = threading.Event()

    def should_stop() -> bool:
        return stop.is_set() or is_cancelled()

    def run_batch(batch_index: int) -> list:
        batch = batches[batch_index]
        encoded = kernel.encode([sources[row] for row in batch], row_numbers=batch)
        if merge_extra is not None:
            return batch_work(encoded, targets, should_stop, batch)
        return batch_work(encoded, targets, should_stop)

    done_pairs = 0
    if progress:
        progress(0, total_pairs)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zipfit") as pool:
        in_flight: dict[Future[list], int] = {}
        next_batch = 0
        try:
            while next_batch < len(batches) or in_flight:
                while next_batch < len(batches) and len(in_flight) < 2 * workers:
                    in_flight[pool.submit(run_batch, next_batch)] = next_batch
                    next_batch += 1
                finished, _ = wait(in_flight, timeout=0.25, return_when=FIRST_COMPLETED)
                if is_cancelled():
                    raise ScoringCancelled("Scoring was cancelled; no scores were returned.")
                for future in finished:
                    batch_index = in_flight.pop(future)
                    start = batch_index * batch_size
                    sums = future.result()
                    if merge_extra is not None:
                        sums, extra = sums
                        merge_extra(extra)
                    results[start:start + len(sums)] = sums
                    done_pairs += len(sums) * n_targets
                if finished and progress:
                    progress(done_pairs, total_pairs)
        except BaseException:
            stop.set()
            for future in in_flight:
                future.cancel()
            raise
    return results


def alignment_scores(
    sources: Sequence[str],
    targets: Sequence[str],
    *,
    codec: str = "gzip",
    level: int | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelSignal = None,
) -> np.ndarray:
    """ZIP-FIT alignment of each source with the target set: float64, one per source, in order.

    `level` defaults to the codec's default (gzip: 9). `progress(done_pairs, total_pairs)` is called
    as batches finish; `cancel` (an Event or a callable) raises ScoringCancelled promptly.
    """
    level = resolve_level(codec, level)
    require_texts(targets, "target")
    kernel = AlignmentKernel(codec, level)
    encoded_targets = kernel.encode(targets, what="target")
    sums = source_unit_sums(sources, encoded_targets, kernel, workers=workers,
                            progress=progress, cancel=cancel)
    return np.array([units_to_mean(total, len(targets)) for total in sums], dtype=np.float64)


def rank_by_score(scores: np.ndarray) -> np.ndarray:
    """Source indices from best to worst score; equal scores keep source order, NaN last (in source order).
    int32 below 2**31 rows (half the memory of int64 for a ranking kept beside the scores). The ranking of a
    read-only array (scores as jobs, caches and score files give them) is made once and shared while the array
    lives: Explore, the cut, its curation and the export rank the same scores once."""
    scores = np.asarray(scores, dtype=np.float64)
    if not scores.flags.writeable:
        kept = _RANKINGS.get(id(scores))
        if kept is not None and kept[0]() is scores:
            return kept[1]
    ranked = _ranking(scores)
    if not scores.flags.writeable:
        _share(scores, ranked)
    return ranked


_RANKINGS: dict[int, tuple[weakref.ref, np.ndarray]] = {}  # id(read-only scores) -> (the scores, their ranking)


def adopt_ranking(scores: np.ndarray, ranking: np.ndarray) -> None:
    """Share `ranking` as read-only `scores`' ranking (rank_by_score then returns it), after checking it is
    exactly what rank_by_score would make: a permutation, best first, ties in row order, NaN last in row
    order. A stored ranking (a complete cache entry keeps one) is mapped instead of sorted again; ValueError
    when it is not the scores' ranking."""
    if scores.flags.writeable:
        raise ValueError("only read-only scores share a ranking")
    n = len(scores)
    if ranking.ndim != 1 or len(ranking) != n or ranking.dtype.kind != "i":
        raise ValueError(f"a ranking of {n:,} rows must be {n:,} integers")
    if n and (int(ranking.min()) < 0 or int(ranking.max()) >= n):
        raise ValueError("the ranking names a row outside the scores")
    seen = np.zeros(n, dtype=bool)
    seen[ranking] = True
    if not seen.all():
        raise ValueError("the ranking repeats a row")
    del seen
    for start in range(0, max(0, n - 1), 1 << 20):  # a chunk at a time: no gathered copy of every score
        rows = ranking[start:start + (1 << 20) + 1]
        values = scores[rows]
        ahead, behind = values[:-1], values[1:]
        nan_ahead, nan_behind = np.isnan(ahead), np.isnan(behind)
        tied = (ahead == behind) | (nan_ahead & nan_behind)
        in_order = (ahead > behind) | (tied & (rows[:-1] < rows[1:])) | (~nan_ahead & nan_behind)
        if not in_order.all():
            raise ValueError("the ranking does not order the scores best first (ties by row, NaN last)")
    _share(scores, ranking.astype(np.int32 if n < 2**31 else np.int64, copy=False))


def _share(scores: np.ndarray, ranking: np.ndarray) -> None:
    """Keep `ranking` (made read-only) as read-only `scores`' ranking while `scores` lives."""
    ranking.setflags(write=False)
    key = id(scores)
    _RANKINGS[key] = (weakref.ref(scores, lambda _, key=key: _RANKINGS.pop(key, None)), ranking)


def _ranking(scores: np.ndarray) -> np.ndarray:
    n = len(scores)
    order = np.argsort(scores)  # vectorised quicksort, ~3x np.lexsort; not stable: ties are ordered below
    n_nan = int(np.count_nonzero(np.isnan(scores)))  # sorted last: they stay last, in row order
    n_numbers = n - n_nan
    ranked = np.empty(n, dtype=np.int32 if n < 2**31 else np.int64)
    ranked[:n_numbers] = order[n_numbers - 1::-1] if n_numbers else order[:0]  # best first
    ranked[n_numbers:] = np.sort(order[n_numbers:])
    del order
    tied = np.empty(max(0, n_numbers - 1), dtype=bool)
    for start in range(0, len(tied), 1 << 20):  # a chunk at a time: no gathered copy of every score
        stop = min(start + (1 << 20), len(tied))
        values = scores[ranked[start:stop + 1]]
        tied[start:stop] = values[1:] == values[:-1]
    if tied.any():
        _order_ties_by_row(ranked, tied)
    return ranked


def _order_ties_by_row(order: np.ndarray, tied: np.ndarray) -> None:
    """Sort each run of equal scores of `order` (tied[i]: positions i and i + 1 hold equal scores) by row, in place:
    one sort of (run, row) keys over the tied positions only."""
    n = len(order)
    in_run = np.zeros(n, dtype=bool)
    in_run[1:len(tied) + 1] = tied
    in_run[:len(tied)] |= tied
    positions = np.flatnonzero(in_run)
    starts = np.ones(len(positions), dtype=bool)  # a tied position starts a run unless it equals the one before
    starts[1:] = ~tied[positions[1:] - 1]
    keys = (np.cumsum(starts) - 1).astype(np.int64) * n + order[positions]
    keys.sort()
    order[positions] = keys % n
