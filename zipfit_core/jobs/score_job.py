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

from zipfit_core.data.texts import texts_fingerprint
from zipfit_core.errors import CacheDamaged, ScoringCancelled, ZipFitError
from zipfit_core.jobs.schedule import ScoreSnapshot, preview_from_state, round_ends, schedule_description, target_order
from zipfit_core.scoring.alignment import (
    CancelSignal,
    as_cancel_check,
    default_workers,
    require_texts,
    source_unit_moments,
)
from zipfit_core.scoring.codecs import resolve_level
from zipfit_core.scoring.kernel import AlignmentKernel, EncodedTexts
from zipfit_core.store.score_cache import CacheEntry, CacheSettings, ScoreState

logger = logging.getLogger(__name__)


DEFAULT_CHECKPOINT_SECONDS = 3.0


CHECKPOINT_SECONDS_ENV = "ZIPFIT_CHECKPOINT_SECONDS"


BLOCK_SECONDS = 1.0            # work per block: the unit of checkpointing and of lost work on a kill


FOLLOW_POLL_SECONDS = 0.5      # how often a follower looks at another process's checkpoints


RATE_WINDOW_SECONDS = 30.0


BACKGROUND_NICE = 10           # background job threads yield the CPU to page interactions




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
        require_texts(self.target_texts, "target")
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
