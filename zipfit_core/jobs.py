"""Scoring jobs: background threads with progress, a progressive preview, cancel, resume and a cache.

How a job works
- Targets are taken in a fixed pseudo-random order (a hash of each index with a fixed seed, so the
  order never depends on a library version) and in *rounds* of 2, 4, 8, ... up to 64 targets.
  Each round scores every source against that round's targets. After a round every source has seen
  the same first k targets, so the preview (mean per source, with its standard error) is consistent
  and sharpens until it is exact. Sums are exact integers (alignment.py), so the final scores are
  bit-for-bit `alignment_scores`, whatever the rounds or interruptions.
- Inside a round, sources are scored in contiguous blocks of about a second of work. A checkpoint
  holds the totals at the last round boundary plus the current round's sums for the finished prefix
  of sources, so it can be written after any block: checkpoints come every few seconds of work even
  when one round over a big pool takes minutes (a round of 64 targets over 100k sources is ~6M pairs).
  Checkpointing per round only would lose up to a round on a kill; making rounds tiny instead would
  re-encode every source per round and update the preview too often to matter.
- The cache folder of a key has a lock (flock). The process holding it computes; another process
  asking for the same work follows its checkpoints and takes over if it dies. In one process the
  `JobManager` gives both requests the same job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .alignment import (
    UNITS_PER_ONE,
    AlignmentKernel,
    CancelSignal,
    EncodedTexts,
    as_cancel_check,
    default_workers,
    source_unit_moments,
)
from .cache import (
    CacheDamaged,
    CachedResult,
    CacheEntry,
    CacheSettings,
    ScoreState,
    default_cache_dir,
    list_cached_results,
)
from .cache_admin import CacheItem, InUse, PruneCriteria, PruneReport, prune_cache, remove_entry
from .codecs import resolve_level
from .errors import ScoringCancelled, ZipFitError
from .loading import texts_fingerprint

__all__ = [
    "CachedResult",
    "JobManager",
    "JobStatus",
    "ScoreJob",
    "ScoreRequest",
    "ScoreSnapshot",
    "default_cache_dir",
    "round_ends",
    "run_foreground",
    "target_order",
]

logger = logging.getLogger(__name__)

TARGET_ORDER_SEED = 241018194  # arXiv 2410.18194
FIRST_ROUND_TARGETS = 2        # the smallest sample with a standard error
MAX_ROUND_TARGETS = 64
DEFAULT_CHECKPOINT_SECONDS = 3.0
CHECKPOINT_SECONDS_ENV = "ZIPFIT_CHECKPOINT_SECONDS"
BLOCK_SECONDS = 1.0            # work per block: the unit of checkpointing and of lost work on a kill
FOLLOW_POLL_SECONDS = 0.5      # how often a follower looks at another process's checkpoints
RATE_WINDOW_SECONDS = 30.0
BACKGROUND_NICE = 10           # background job threads yield the CPU to page interactions

JOB_STATES = ("queued", "running", "done", "cancelled", "failed")


# -- requests, status, snapshots --------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreRequest:
    """What to score: sources against targets with one codec and level."""

    source_texts: Sequence[str]
    target_texts: Sequence[str]
    codec: str = "gzip"
    level: int | None = None
    source_fingerprint: str | None = None  # computed if None
    target_fingerprint: str | None = None
    label: str = ""  # e.g. "demo pool vs ProofNet valid", shown in the cached-results list

    def resolved(self) -> ScoreRequest:
        """Validated, with the level and fingerprints filled in (raises ZipFitError)."""
        level = resolve_level(self.codec, self.level)
        if len(self.target_texts) == 0:
            raise ZipFitError("The target set is empty: give at least one target example.")
        return replace(
            self,
            level=level,
            source_fingerprint=self.source_fingerprint or fingerprint_of(self.source_texts, "source"),
            target_fingerprint=self.target_fingerprint or fingerprint_of(self.target_texts, "target"),
        )

    def settings(self) -> CacheSettings:
        """The cache settings of a resolved request."""
        request = self
        if request.level is None or not request.source_fingerprint or not request.target_fingerprint:
            request = self.resolved()
        return CacheSettings(
            source_fingerprint=request.source_fingerprint,
            target_fingerprint=request.target_fingerprint,
            codec=request.codec,
            level=request.level,
            n_sources=len(request.source_texts),
            n_targets=len(request.target_texts),
        )


def fingerprint_of(texts: Sequence[str], what: str) -> str:
    try:
        return texts_fingerprint(texts)
    except (AttributeError, TypeError):
        row = next(index for index, text in enumerate(texts) if not isinstance(text, str))
        raise ZipFitError(f"{what} row {row} is {type(texts[row]).__name__}, not text: "
                          "choose a text field or convert the values to strings.") from None


@dataclass(frozen=True)
class JobStatus:
    """A job at one moment, cheap to read from any thread."""

    job_id: str
    state: str  # "queued" | "running" | "done" | "cancelled" | "failed"
    done_pairs: int
    total_pairs: int
    targets_seen: int
    n_targets: int
    pairs_per_second: float
    eta_seconds: float | None
    error: str | None
    message: str  # e.g. "waiting: 2 jobs running"
    resumed_pairs: int = 0  # pairs restored from a checkpoint instead of computed in this run

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")

    @property
    def fraction_done(self) -> float:
        return self.done_pairs / self.total_pairs if self.total_pairs else 1.0


@dataclass(frozen=True)
class ScoreSnapshot:
    """The preview after the last finished round (exact when complete)."""

    scores: np.ndarray  # running mean per source over the targets seen (exact final scores when complete)
    stderr: np.ndarray  # standard error of that mean (0 when complete)
    targets_seen: int
    n_targets: int
    complete: bool


def target_order(n_targets: int, seed: int = TARGET_ORDER_SEED) -> list[int]:
    """A fixed pseudo-random order of target indices, independent of any library's RNG."""
    def rank(index: int) -> bytes:
        return hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return sorted(range(n_targets), key=rank)


def round_ends(n_targets: int) -> tuple[int, ...]:
    """Cumulative target counts after each round: 2, 6, 14, 30, 62, 126, 190, ... capped at n."""
    ends, done, size = [], 0, FIRST_ROUND_TARGETS
    while done < n_targets:
        done = min(n_targets, done + size)
        ends.append(done)
        size = min(2 * size, MAX_ROUND_TARGETS)
    return tuple(ends)


def schedule_description(order: list[int], ends: tuple[int, ...]) -> dict:
    """What the manifest records of the schedule, to refuse resuming with a different one."""
    digest = hashlib.sha256(json.dumps(order).encode()).hexdigest()
    return {"seed": TARGET_ORDER_SEED, "order_sha256": digest, "round_ends": list(ends)}


def read_only(array: np.ndarray) -> np.ndarray:
    """Arrays handed to pages are shared by every session: nobody may change them in place."""
    array.flags.writeable = False
    return array


def preview_from_state(state: ScoreState) -> ScoreSnapshot | None:
    """Running means and standard errors at the last round boundary (None before the first round)."""
    if state.complete:
        scores = read_only(state.exact_scores())
        return ScoreSnapshot(scores, read_only(np.zeros_like(scores)), state.n_targets, state.n_targets, True)
    seen, total = state.targets_done, state.n_targets
    if seen == 0:
        return None
    # Floats are plenty for an estimate; only the final mean needs the exact integers.
    sums = np.array(state.sums, dtype=np.float64)
    squares = np.array(state.squares, dtype=np.float64)
    means = sums / seen
    variance = np.maximum(squares / seen - means * means, 0.0) * (seen / (seen - 1) if seen > 1 else np.inf)
    # Targets are drawn without replacement from a finite set: finite population correction.
    correction = (total - seen) / (total - 1) if total > 1 else 0.0
    stderr = np.sqrt(variance / seen * correction) / UNITS_PER_ONE
    return ScoreSnapshot(read_only(means / UNITS_PER_ONE), read_only(stderr), seen, total, False)


def checkpoint_seconds_default() -> float:
    try:
        return float(os.environ.get(CHECKPOINT_SECONDS_ENV, DEFAULT_CHECKPOINT_SECONDS))
    except ValueError:
        return DEFAULT_CHECKPOINT_SECONDS


def lower_thread_priority(nice: int) -> None:
    """Raise this thread's nice value (Linux: per thread, inherited by threads it starts)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        thread_id = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, current + nice))
    except OSError:
        pass


# -- one job ----------------------------------------------------------------------------------------
class ScoreJob:
    """Scores one request, round by round, with checkpoints; `run()` blocks the calling thread.

    Every public method is thread-safe: a page thread reads status and snapshots while the job thread
    computes. Snapshots are immutable objects replaced after each round, so reading one is O(1).
    """

    def __init__(
        self,
        request: ScoreRequest,
        cache_root: Path | None,
        *,
        workers: int | None = None,
        nice: int = 0,
        checkpoint_seconds: float | None = None,
        on_progress: Callable[[JobStatus], None] | None = None,
        cancel: CancelSignal = None,
    ) -> None:
        self.request = request.resolved()
        self.settings = self.request.settings()
        self.key = self.settings.key
        self.entry = CacheEntry(cache_root, self.key) if cache_root is not None else None
        self.workers = workers or default_workers()
        self.nice = nice
        self.checkpoint_seconds = checkpoint_seconds_default() if checkpoint_seconds is None else checkpoint_seconds
        self.on_progress = on_progress
        self._cancel_event = threading.Event()
        self._external_cancel = as_cancel_check(cancel)
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._state = "queued"
        self._message = "queued"
        self._error: str | None = None
        self._done_pairs = 0
        self._resumed_pairs = 0
        self._targets_seen = 0
        self._rate_samples: deque[tuple[float, int]] = deque()
        self._snapshot: ScoreSnapshot | None = None
        self._result: np.ndarray | None = None
        self._last_progress_call = 0.0
        self.n_sources = len(self.request.source_texts)
        self.n_targets = len(self.request.target_texts)
        self.order = target_order(self.n_targets)
        self.ends = round_ends(self.n_targets)
        self.schedule = schedule_description(self.order, self.ends)
        self.warnings: list[str] = []

    # -- reading (any thread) ------------------------------------------------------------------
    @property
    def total_pairs(self) -> int:
        return self.n_sources * self.n_targets

    @property
    def state(self) -> str:
        return self._state

    def status(self, message: str | None = None) -> JobStatus:
        with self._lock:
            rate = self._rate()
            remaining = self.total_pairs - self._done_pairs
            if self._state == "done":
                eta = 0.0
            elif rate > 0 and self._state == "running":
                eta = remaining / rate
            else:
                eta = None
            return JobStatus(
                job_id=self.key, state=self._state, done_pairs=self._done_pairs, total_pairs=self.total_pairs,
                targets_seen=self._targets_seen, n_targets=self.n_targets, pairs_per_second=rate,
                eta_seconds=eta, error=self._error, message=message or self._message,
                resumed_pairs=self._resumed_pairs,
            )

    def snapshot(self) -> ScoreSnapshot | None:
        return self._snapshot

    def result(self) -> np.ndarray | None:
        return self._result

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def cancel(self) -> None:
        self._cancel_event.set()
        with self._lock:
            if self._state == "queued":
                self._state, self._message = "cancelled", "cancelled before it started"
                self._finished.set()

    def is_cancelled(self) -> bool:
        return self._cancel_event.is_set() or self._external_cancel()

    # -- bookkeeping ---------------------------------------------------------------------------
    def _rate(self) -> float:
        samples = self._rate_samples
        if len(samples) < 2:
            return 0.0
        (t0, p0), (t1, p1) = samples[0], samples[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else 0.0

    def _record_progress(self, done_pairs: int, computed: bool = True) -> None:
        now = time.monotonic()
        with self._lock:
            self._done_pairs = done_pairs
            if computed:
                self._rate_samples.append((now, done_pairs))
                while len(self._rate_samples) > 2 and now - self._rate_samples[0][0] > RATE_WINDOW_SECONDS:
                    self._rate_samples.popleft()
        if self.on_progress and now - self._last_progress_call >= 0.1:
            self._last_progress_call = now
            self.on_progress(self.status())

    def _set(self, state: str | None = None, message: str | None = None, *, notify: bool = True) -> None:
        with self._lock:
            if state is not None:
                self._state = state
            if message is not None:
                self._message = message
        if notify and self.on_progress:
            self.on_progress(self.status())

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        logger.warning(text)
        warnings.warn(text, RuntimeWarning, stacklevel=2)

    def _publish(self, state: ScoreState) -> None:
        snapshot = preview_from_state(state)
        result = snapshot.scores if state.complete else None
        with self._lock:
            self._snapshot = snapshot
            self._targets_seen = state.targets_done
            self._done_pairs = state.done_pairs
            if result is not None:
                self._result = result

    def mark_done_from_cache(self, state: ScoreState) -> None:
        self._publish(state)
        with self._lock:
            self._resumed_pairs = state.done_pairs
        self._set("done", "loaded from the cache")
        self._finished.set()

    # -- running -------------------------------------------------------------------------------
    def run(self) -> None:
        """Compute (or load, or follow) until done, cancelled or failed; never raises ZipFitError."""
        with self._lock:
            if self._state != "queued":  # cancelled before it started, or run twice
                return
            self._state, self._message = "running", "starting"  # listeners hear once the start point is known
        lower_thread_priority(self.nice)
        try:
            self._run()
        except ScoringCancelled:
            self._set("cancelled", self._stopped_message("cancelled"))
        except ZipFitError as error:
            with self._lock:
                self._error = str(error)
            self._set("failed", f"failed: {error}")
        except Exception as error:  # a bug: report it on the page instead of killing the server thread
            logger.exception("scoring job %s failed", self.key)
            with self._lock:
                self._error = f"internal error: {type(error).__name__}: {error}"
            self._set("failed", self._error)
        except BaseException:  # KeyboardInterrupt in the foreground: progress is saved, then re-raise
            self._set("cancelled", self._stopped_message("interrupted"))
            raise
        finally:
            if self.entry is not None:
                self.entry.unlock()
            # Drop the texts: a finished job keeps only its numbers (resubmitting makes a new job).
            self.request = replace(self.request, source_texts=(), target_texts=())
            self._finished.set()

    def _stopped_message(self, what: str) -> str:
        if self.entry is None:
            return f"{what}; nothing was cached (--no-cache)"
        return f"{what}; {self._done_pairs:,} of {self.total_pairs:,} pairs are saved: submit again to resume"

    def _run(self) -> None:
        try:
            if self.entry is not None and not self._take_lock_or_follow():
                return  # another process finished it, and we loaded its result
            state = self._load_or_start()
        except OSError as error:  # an unusable cache folder must not stop the scoring
            self._warn(f"Could not use the score cache in {self.entry.folder} ({error}); "
                       "scoring without it.")
            self.entry.unlock()
            self.entry = None
            with self._lock:
                self._resumed_pairs = 0
            state = self._load_or_start()
        if state.complete:
            self._publish(state)
            self._set("done", "loaded from the cache")
            return
        self._compute(state)

    def _take_lock_or_follow(self) -> bool:
        """Hold the entry's lock; while another process holds it, show its checkpoints.

        Returns False when the other process finished the work (the result is then published).
        """
        seen_data = None
        while not self.entry.try_lock():
            if self.is_cancelled():
                raise ScoringCancelled("Stopped waiting for the other process.")
            try:
                manifest, state = self.entry.load()
                if manifest["data"]["sha256"] != seen_data and manifest["schedule"] == self.schedule:
                    seen_data = manifest["data"]["sha256"]
                    self._publish(state)
                    self._record_progress(state.done_pairs)
                    if state.complete:
                        self._set("done", "computed by another process")
                        return False
            except CacheDamaged:
                pass  # mid-write or not there yet: look again shortly
            self._set(message="another run is computing this result (another process, or a cancelled "
                              "run that is stopping); showing its checkpoints")
            time.sleep(FOLLOW_POLL_SECONDS)
        return True

    def _load_or_start(self) -> ScoreState:
        fresh = ScoreState.fresh(self.n_sources, self.ends)
        if self.entry is None:
            return fresh
        try:
            state = self.entry.load_matching(self.settings, self.schedule)
        except CacheDamaged as problem:
            self._warn(f"The cached copy of this result ({self.key[:12]}) was damaged: {problem}. Recomputing it.")
            self.entry.discard()
            self._set(message=f"cache entry was damaged ({problem}); recomputing")
            return fresh
        if state is None:
            return fresh
        with self._lock:
            self._resumed_pairs = state.done_pairs
        self._publish(state)
        return state

    def _compute(self, state: ScoreState) -> None:
        kernel = AlignmentKernel(self.request.codec, self.request.level)
        self._set(message="encoding targets")
        encoded = kernel.encode(self.request.target_texts, what="target")
        sources = self.request.source_texts
        self._record_progress(state.done_pairs, computed=True)
        if self._resumed_pairs:
            self._set(message=f"resumed {self._resumed_pairs:,} of {self.total_pairs:,} pairs from the cache")
        rate_estimate = 20000.0 * self.workers  # pairs/s until measured; only sizes the first block
        last_save = time.monotonic()
        save_cost = 0.0
        dirty = False
        try:
            while not state.complete:
                first, end = state.targets_done, state.round_ends[state.rounds_done]
                picked = self.order[first:end]
                round_targets = EncodedTexts([encoded.data[i] for i in picked], [encoded.sizes[i] for i in picked])
                round_size = end - first
                self._set(message=f"round {state.rounds_done + 1}/{len(state.round_ends)}: "
                                  f"targets {first + 1}-{end} of {self.n_targets}")
                while state.round_rows_done < self.n_sources:
                    if self.is_cancelled():
                        raise ScoringCancelled("Scoring was cancelled.")
                    start_row = state.round_rows_done
                    block = max(1, int(rate_estimate * min(BLOCK_SECONDS, self.checkpoint_seconds) / round_size))
                    rows = range(start_row, min(self.n_sources, start_row + block))
                    base = state.done_pairs
                    started = time.monotonic()
                    moments = source_unit_moments(
                        sources, round_targets, kernel, workers=self.workers, rows=rows,
                        cancel=self.is_cancelled,
                        progress=lambda done, _total, base=base: self._record_progress(base + done),
                    )
                    elapsed = time.monotonic() - started
                    if elapsed > 0.05:
                        rate_estimate = len(rows) * round_size / elapsed
                    else:
                        rate_estimate *= 2  # block too small to time: grow it
                    state.add_round_block(start_row, moments)
                    dirty = True
                    self._record_progress(state.done_pairs)
                    # Checkpoints cost O(sources): space them so writing stays under ~10% of the time.
                    if self.entry is not None and time.monotonic() - last_save >= max(self.checkpoint_seconds,
                                                                                       10 * save_cost):
                        save_cost = self._checkpoint(state)
                        last_save = time.monotonic()
                        dirty = False
                state.commit_round()
                dirty = True
                self._publish(state)
            if self.entry is not None:
                self._checkpoint(state)
                dirty = False
        finally:
            if dirty and self.entry is not None and self.entry.locked:
                self._checkpoint(state)  # keep what finished before a cancel, error or interrupt
            self._record_progress(state.done_pairs, computed=False)  # drop a half-done block from the count
        self._publish(state)
        self._set("done", f"done: {self.total_pairs - self._resumed_pairs:,} pairs computed, "
                          f"{self._resumed_pairs:,} resumed from the cache")

    def _checkpoint(self, state: ScoreState) -> float:
        """Save the state; a failing disk is reported once and the job goes on without checkpoints."""
        started = time.monotonic()
        try:
            self.entry.save(state, self.settings, self.schedule, self.request.label)
        except OSError as error:
            self._warn(f"Could not write the score cache in {self.entry.folder} ({error}); "
                       "continuing without checkpoints.")
            self.entry.unlock()
            self.entry = None
        return time.monotonic() - started


# -- the foreground entry point (CLI) ---------------------------------------------------------------
def run_foreground(
    request: ScoreRequest,
    cache_dir: str | Path | None,
    progress: Callable[[JobStatus], None] | None = None,
    cancel: CancelSignal = None,
    *,
    workers: int | None = None,
    checkpoint_seconds: float | None = None,
) -> np.ndarray:
    """Score in the calling thread through the same job code the app uses; exact scores.

    `cache_dir=None` disables the cache. Raises ZipFitError on bad input, ScoringCancelled on cancel
    (progress is saved first); KeyboardInterrupt also saves progress before propagating.
    """
    job = ScoreJob(request, Path(cache_dir) if cache_dir is not None else None, workers=workers,
                   checkpoint_seconds=checkpoint_seconds, on_progress=progress, cancel=cancel)
    job.run()
    status = job.status()
    if status.state == "done":
        return job.result()
    if status.state == "cancelled":
        raise ScoringCancelled(f"Scoring was {status.message}.")
    raise ZipFitError(status.error or status.message)


# -- the process-wide manager -----------------------------------------------------------------------
@dataclass(frozen=True)
class StoredResult:
    """A result reopened from the cache by key (no job in this process)."""

    data_sha256: str | None
    snapshot: ScoreSnapshot | None
    n_sources: int
    n_targets: int
    targets_done: int
    done_pairs: int
    complete: bool


class JobManager:
    """Runs scoring jobs on background threads; one per process, shared by every browser session.

    Jobs are keyed by their cache key: submitting the same work again returns the same id and joins
    the running (or finished) job. At most `max_concurrent_jobs` run at once; the others wait in
    submission order and say so in their status message.
    """

    _shared: JobManager | None = None
    _shared_lock = threading.Lock()

    def __init__(self, cache_dir: Path | None = None, max_concurrent_jobs: int = 1, workers: int | None = None,
                 *, nice: int = BACKGROUND_NICE, checkpoint_seconds: float | None = None) -> None:
        if max_concurrent_jobs < 1:
            raise ZipFitError("max_concurrent_jobs must be at least 1.")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.max_concurrent_jobs = max_concurrent_jobs
        self.workers = workers or default_workers()
        self.nice = nice
        self.checkpoint_seconds = checkpoint_seconds
        self._lock = threading.Lock()
        self._jobs: dict[str, ScoreJob] = {}
        self._queue: list[str] = []
        self._running: set[str] = set()
        self._stored: dict[str, StoredResult] = {}  # results reopened from disk, by key

    @classmethod
    def shared(cls) -> JobManager:
        """The process's manager (env: ZIPFIT_CACHE_DIR, ZIPFIT_MAX_JOBS, ZIPFIT_JOB_WORKERS, ZIPFIT_JOB_NICE)."""
        with cls._shared_lock:
            if cls._shared is None:
                environ = os.environ
                cls._shared = cls(
                    max_concurrent_jobs=int(environ.get("ZIPFIT_MAX_JOBS", "1")),
                    workers=int(environ["ZIPFIT_JOB_WORKERS"]) if environ.get("ZIPFIT_JOB_WORKERS") else None,
                    nice=int(environ.get("ZIPFIT_JOB_NICE", BACKGROUND_NICE)),
                )
            return cls._shared

    # -- submitting ----------------------------------------------------------------------------
    def submit(self, request: ScoreRequest) -> str:
        """Start (or join) the work; returns the job id, which is the cache key. Raises ZipFitError."""
        job = ScoreJob(request, self.cache_dir, workers=self.workers, nice=self.nice,
                       checkpoint_seconds=self.checkpoint_seconds)
        key = job.key
        if self._joinable(key):
            return key
        stored = self._complete_in_cache(job)  # disk I/O outside the lock: other sessions keep reading
        if stored is not None:
            job.mark_done_from_cache(stored)
        with self._lock:
            existing = self._jobs.get(key)
            if existing is not None and existing.state in ("queued", "running", "done"):
                return key  # joined while we read the cache
            self._jobs[key] = job
            if stored is None:
                self._queue.append(key)
                self._dispatch()
        return key

    def _joinable(self, key: str) -> bool:
        with self._lock:
            existing = self._jobs.get(key)
            return existing is not None and existing.state in ("queued", "running", "done")

    def _complete_in_cache(self, job: ScoreJob) -> ScoreState | None:
        """A finished result on disk for this job, so it need not wait in the queue."""
        try:
            if job.entry is None or not job.entry.exists():
                return None
            state = job.entry.load_matching(job.settings, job.schedule)
        except (CacheDamaged, OSError):
            return None  # the job itself reports it and recomputes
        return state if state is not None and state.complete else None

    def _dispatch(self) -> None:
        """Start queued jobs while there are free slots (call with self._lock held)."""
        while self._queue and len(self._running) < self.max_concurrent_jobs:
            key = self._queue.pop(0)
            job = self._jobs[key]
            if job.state != "queued":
                continue
            self._running.add(key)
            threading.Thread(target=self._run_job, args=(job,), name=f"zipfit-job-{key[:8]}",
                             daemon=True).start()

    def _run_job(self, job: ScoreJob) -> None:
        try:
            job.run()
        finally:
            with self._lock:
                self._running.discard(job.key)
                self._dispatch()

    # -- reading -------------------------------------------------------------------------------
    def _job(self, job_id: str) -> ScoreJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def status(self, job_id: str) -> JobStatus:
        job = self._job(job_id)
        if job is None:
            return self._stored_status(job_id)
        if job.state == "queued":
            with self._lock:
                ahead = self._queue.index(job_id) if job_id in self._queue else 0
                running = len(self._running)
            jobs = "job" if running == 1 else "jobs"
            message = f"waiting: {running} {jobs} running (limit {self.max_concurrent_jobs})"
            if ahead:
                message += f", {ahead} ahead in the queue"
            return job.status(message)
        return job.status()

    def snapshot(self, job_id: str) -> ScoreSnapshot | None:
        job = self._job(job_id)
        if job is None:
            stored = self._load_stored(job_id)
            return stored.snapshot if stored else None
        return job.snapshot()

    def result(self, job_id: str) -> np.ndarray | None:
        job = self._job(job_id)
        if job is None:
            stored = self._load_stored(job_id)
            return stored.snapshot.scores if stored and stored.snapshot and stored.snapshot.complete else None
        return job.result()

    def cancel(self, job_id: str) -> None:
        """Stop the job (within a second); its checkpoint stays, so submitting again resumes it."""
        job = self._job(job_id)
        if job is None:
            return
        job.cancel()
        with self._lock:
            if job_id in self._queue and job.state == "cancelled":
                self._queue.remove(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        job = self._job(job_id)
        if job is not None:
            job.wait(timeout)
        return self.status(job_id)

    def cached_results(self) -> list[CachedResult]:
        return list_cached_results(self.cache_dir)

    # -- reclaiming the cache's disk (cache_admin.py) ---------------------------------------------
    def busy_reason(self, key: str) -> str | None:
        """Why the cache entry `key` must not be removed now: a job of this manager computes it."""
        job = self._job(key)
        if job is not None and job.state in ("queued", "running"):
            return f"a scoring job in this process is {job.state} on it: cancel it first"
        return None

    def _in_use(self, also: InUse | None) -> InUse:
        return lambda item: self.busy_reason(item.key) or (also(item) if also is not None else None)

    def forget(self, key: str) -> None:
        """Drop a finished job and a reopened result from memory: submitting the same work starts afresh."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state not in ("queued", "running"):
                del self._jobs[key]
            self._stored.pop(key, None)

    def remove_cached(self, key: str, *, in_use: InUse | None = None) -> CacheItem:
        """Remove a cache entry (a unique key prefix will do); refused with ZipFitError while a job here
        computes it, another process holds its lock, or `in_use` gives a reason."""
        item = remove_entry(self.cache_dir, key, in_use=self._in_use(in_use))
        self.forget(item.key)
        return item

    def prune_cache(self, criteria: PruneCriteria, *, dry_run: bool = False,
                    in_use: InUse | None = None) -> PruneReport:
        """`cache_admin.prune_cache` on this manager's cache, keeping the entries its jobs compute."""
        report = prune_cache(self.cache_dir, criteria, dry_run=dry_run, in_use=self._in_use(in_use))
        if not dry_run:
            for item in report.removed:
                self.forget(item.key)
        return report

    # -- results reopened from the cache (no texts needed) ---------------------------------------
    def _load_stored(self, key: str) -> StoredResult | None:
        entry = CacheEntry(self.cache_dir, key)
        if not entry.exists():
            return None
        try:
            data_sha256 = entry.read_manifest()["data"].get("sha256")
            with self._lock:
                cached = self._stored.get(key)
            if cached and cached.data_sha256 == data_sha256:
                return cached  # pages ask on every rerun: read the file once per version
            manifest, state = entry.load()
        except CacheDamaged as problem:
            if not entry.exists():
                return None  # removed while we read it (cache_admin): gone, not damaged
            warnings.warn(f"The cached result {key[:12]} is damaged ({problem}); score it again.",
                          RuntimeWarning, stacklevel=3)
            return None
        stored = StoredResult(manifest["data"].get("sha256"), preview_from_state(state), state.n_sources,
                              state.n_targets, state.targets_done, state.done_pairs, state.complete)
        with self._lock:
            if len(self._stored) >= 8:  # a few reopened results, not the whole cache, stay in memory
                self._stored.pop(next(iter(self._stored)))
            self._stored[key] = stored
        return stored

    def _stored_status(self, key: str) -> JobStatus:
        stored = self._load_stored(key)
        if stored is None:
            raise ZipFitError(f"Unknown job {key[:12]}: it is neither running nor in the cache {self.cache_dir}.")
        message = "in the cache" if stored.complete else (
            f"partial result in the cache ({stored.targets_done} of {stored.n_targets} targets): "
            "submit again to resume")
        return JobStatus(
            job_id=key, state="done" if stored.complete else "cancelled", done_pairs=stored.done_pairs,
            total_pairs=stored.n_sources * stored.n_targets, targets_seen=stored.targets_done,
            n_targets=stored.n_targets, pairs_per_second=0.0, eta_seconds=0.0 if stored.complete else None,
            error=None, message=message, resumed_pairs=stored.done_pairs,
        )
