"""One ZIP-FIT scoring job: rounds, a progressive preview, checkpoints, cancel and resume (a `work.Work`).

How a job works
- Targets are taken in a fixed pseudo-random order (a hash of each index with a fixed seed, so the
  order never depends on a library version) and in *rounds* of 2, 4, 8, ... up to 64 targets.
  Each round scores every source against that round's targets. After a round every source has seen
  the same first k targets, so the preview (mean per source, with its standard error) is consistent
  and sharpens until it is exact. Sums are exact integers (`scoring/kernel.py`), so the final scores are
  bit-for-bit `alignment_scores`, whatever the rounds or interruptions.
- Inside a round, sources are scored in contiguous blocks of about a second of work. A checkpoint
  holds the totals at the last round boundary plus the current round's sums for the finished prefix
  of sources, so it can be written after any block: checkpoints come every few seconds of work even
  when one round over a big pool takes minutes (a round of 64 targets over 100k sources is ~6M pairs).
  Checkpointing per round only would lose up to a round on a kill; making rounds tiny instead would
  re-encode every source per round and update the preview too often to matter.
- The cache folder of a key has a lock (filelock). The process holding it computes; another process
  asking for the same work follows its checkpoints and takes over if it dies. In one process the
  `JobManager` gives both requests the same job. `run_foreground` runs a job in the calling thread (the CLI).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from zipfit_core.data.sources import plural
from zipfit_core.data.texts import texts_fingerprint
from zipfit_core.errors import CacheDamaged, ScoringCancelled, ZipFitError
from zipfit_core.jobs.schedule import (
    ScoreSnapshot,
    complete_snapshot,
    first_look_rows,
    first_look_snapshot,
    preview_from_state,
    round_ends,
    schedule_description,
    target_order,
)
from zipfit_core.jobs.work import Work, WorkStatus
from zipfit_core.scoring.alignment import (
    CancelSignal,
    default_workers,
    require_texts,
    source_unit_moments,
)
from zipfit_core.scoring.codecs import resolve_level
from zipfit_core.scoring.kernel import AlignmentKernel, EncodedTexts
from zipfit_core.scoring.target_facts import TARGET_TOP_K
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.score_cache import CacheEntry, CompleteScores, ScoreState, cache_key

logger = logging.getLogger(__name__)


DEFAULT_CHECKPOINT_SECONDS = 3.0
CHECKPOINT_SECONDS_ENV = "ZIPFIT_CHECKPOINT_SECONDS"
BLOCK_SECONDS = 1.0            # work per block: the unit of checkpointing and of lost work on a kill
FOLLOW_POLL_SECONDS = 0.5      # how often a follower looks at another process's checkpoints


# -- requests, status, snapshots --------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreRequest:
    """What to score: sources against targets with one codec and level, and the run record describing them.

    Without a `run`, the texts are described as plain texts (fingerprints computed). With one (how the CLI and
    the app loaded them: names, fields, recipes, fingerprints), codec and level are the run's: use `for_run`.
    """

    source_texts: Sequence[str]
    target_texts: Sequence[str]
    codec: str = "gzip"
    level: int | None = None
    label: str = ""  # shown in cache listings (default: the run's `SOURCE vs TARGET`); never parsed
    run: ScoreRun | None = None

    @classmethod
    def for_run(cls, source_texts: Sequence[str], target_texts: Sequence[str], run: ScoreRun,
                label: str = "") -> ScoreRequest:
        return cls(source_texts, target_texts, codec=run.codec, level=run.level, label=label, run=run)

    def resolved_run(self) -> ScoreRun:
        """The run record of this work, validated (raises ZipFitError)."""
        require_texts(self.target_texts, "target")
        if self.run is None:
            level = resolve_level(self.codec, self.level)
            return ScoreRun.for_plain_texts(
                self.source_texts, self.target_texts, settings={"codec": self.codec, "level": level},
                source_fingerprint=fingerprint_of(self.source_texts, "source"),
                target_fingerprint=fingerprint_of(self.target_texts, "target"))
        run = self.run  # validated when it was made (`ScoreRun.for_method` resolves the level)
        if (run.method, run.codec, run.level) != ("zipfit", self.codec, self.level):
            raise ZipFitError(f"This request scores ZIP-FIT with {self.codec} level {self.level}, but its run record "
                              f"says "
                              f"{run.method} with {run.codec} level {run.level}: build it with ScoreRequest.for_run.")
        if (run.n_sources, run.n_targets) != (len(self.source_texts), len(self.target_texts)):
            raise ZipFitError("The run record counts other texts than the request holds: describe these texts.")
        return run

    @property
    def key(self) -> str:
        """The job's id: its cache key."""
        return cache_key(self.resolved_run())


def fingerprint_of(texts: Sequence[str], what: str) -> str:
    try:
        return texts_fingerprint(texts)
    except (AttributeError, TypeError):
        row = next(index for index, text in enumerate(texts) if not isinstance(text, str))
        raise ZipFitError(f"{what} row {row} is {type(texts[row]).__name__}, not text: "
                          "choose a text field or convert the values to strings.") from None


def checkpoint_seconds_default() -> float:
    try:
        return float(os.environ.get(CHECKPOINT_SECONDS_ENV, DEFAULT_CHECKPOINT_SECONDS))
    except ValueError:
        return DEFAULT_CHECKPOINT_SECONDS


# -- one job ----------------------------------------------------------------------------------------
class ScoreJob(Work):
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
        checkpoint_seconds: float | None = None,
        on_progress: Callable[[WorkStatus], None] | None = None,
        cancel: CancelSignal = None,
        entry_name: str | None = None,
        first_look: bool = True,
    ) -> None:
        """`entry_name` names the checkpoint folder under `cache_root` (default: the cache key; a score folder
        names a shard's by the shard); `first_look=False` skips the sampled preview (nobody looks at a shard's)."""
        self.score_run = request.resolved_run()
        self.key = cache_key(self.score_run)
        self.n_sources = len(request.source_texts)
        super().__init__(self.key, "zipfit", unit="pairs", total=self.n_sources * len(request.target_texts),
                         cancel=cancel, on_progress=on_progress)
        self.request = request
        self.label = request.label or self.score_run.label
        self.entry = CacheEntry(cache_root, entry_name or self.key) if cache_root is not None else None
        self.first_look = first_look
        self.workers = workers or default_workers()
        self.checkpoint_seconds = checkpoint_seconds_default() if checkpoint_seconds is None else checkpoint_seconds
        self._snapshot: ScoreSnapshot | None = None
        self.n_targets = len(request.target_texts)
        self.order = target_order(self.n_targets)
        self.ends = round_ends(self.n_targets)
        self.schedule = schedule_description(self.order, self.ends)
        self.warnings: list[str] = []

    def snapshot(self) -> ScoreSnapshot | None:
        return self._snapshot

    # -- bookkeeping ---------------------------------------------------------------------------
    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        logger.warning(text)
        warnings.warn(text, RuntimeWarning, stacklevel=2)

    def _publish(self, state: ScoreState) -> None:
        with self._lock:
            if state.complete and self._snapshot is not None and self._snapshot.complete:
                return  # the exact scores are out already: not made (nor ranked) again
        self._show(preview_from_state(state), state.targets_done, state.done_pairs)

    def _show(self, snapshot: ScoreSnapshot | None, targets_seen: int, done_pairs: int) -> None:
        with self._lock:
            self._snapshot = snapshot
            self._targets_seen = targets_seen
            self._done = done_pairs
            if snapshot is not None and snapshot.complete:
                self._result = snapshot.scores

    def mark_done_from_cache(self, complete: CompleteScores) -> None:
        """Finish without running: the complete result is in the cache (the manager found it)."""
        self._show(complete_snapshot(complete), complete.n_targets, complete.done_pairs)
        with self._lock:
            self._resumed = complete.done_pairs
        self._set("done", "loaded from the cache")
        self._finished.set()

    # -- running -------------------------------------------------------------------------------
    def _release(self) -> None:
        if self.entry is not None:
            self.entry.unlock()
        # Drop the texts: a finished job keeps only its numbers (resubmitting makes a new job).
        self.request = replace(self.request, source_texts=(), target_texts=())

    def _stopped_message(self, what: str) -> str:
        if self.entry is None:
            return f"{what}; nothing was cached (`cache_dir=None`)"
        return (f"{what}; {self._done:,} of {plural(self.total, 'pair')} {'is' if self._done == 1 else 'are'} saved: "
                "submit again to resume")

    def _work(self) -> None:
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
                self._resumed = 0
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
            state = self.entry.load_matching(self.score_run, self.schedule)
        except CacheDamaged as problem:
            self._warn(f"The saved progress in {self.entry.folder} was damaged: {problem}. Recomputing it.")
            self.entry.discard()
            self._set(message=f"cache entry was damaged ({problem}); recomputing")
            return fresh
        if state is None:
            return fresh
        with self._lock:
            self._resumed = state.done_pairs
        self._publish(state)
        return state

    def _compute(self, state: ScoreState) -> None:
        kernel = AlignmentKernel(self.score_run.codec, self.score_run.level)
        self._set(message="encoding targets")
        encoded = kernel.encode(self.request.target_texts, what="target")
        sources = self.request.source_texts
        self._record_progress(state.done_pairs, computed=True)
        if self._resumed:
            self._set(message=f"resumed {self._resumed:,} of {plural(self.total, 'pair')} from the cache")
        elif state.done_pairs == 0 and self.first_look:
            self._first_look(sources, encoded, kernel)
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
                        cancel=self.is_cancelled, target_top_k=TARGET_TOP_K,  # per-target facts from the same pairs
                        progress=lambda done, _total, base=base: self._record_progress(base + done),
                    )
                    elapsed = time.monotonic() - started
                    if elapsed > 0.05:
                        rate_estimate = len(rows) * round_size / elapsed
                    else:
                        rate_estimate *= 2  # block too small to time: grow it
                    state.add_round_block(start_row, moments, picked)
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
        self._set("done", f"done: {plural(self.total - self._resumed, 'pair')} computed, "
                          f"{self._resumed:,} resumed from the cache")

    def _first_look(self, sources: Sequence[str], encoded: EncodedTexts, kernel: AlignmentKernel) -> None:
        """A large pool's first preview: a seeded sample of rows against the first round's targets, in about a
        second, long before the first full round ends. Extra pairs: nothing of it goes into the exact sums."""
        rows = first_look_rows(self.n_sources)
        if rows is None:
            return
        picked = self.order[:self.ends[0]]
        targets = EncodedTexts([encoded.data[i] for i in picked], [encoded.sizes[i] for i in picked])
        self._set(message=f"a first look: {plural(len(rows), 'sampled row')} against "
                          f"{plural(len(picked), 'target')}")
        moments = source_unit_moments(sources, targets, kernel, workers=self.workers, rows=rows,
                                      cancel=self.is_cancelled)
        snapshot = first_look_snapshot(rows, moments, len(picked), self.n_targets)
        with self._lock:
            if self._snapshot is None:  # a finished round's preview is better: never replace one
                self._snapshot = snapshot

    def _checkpoint(self, state: ScoreState) -> float:
        """Save the state; a failing disk is reported once and the job goes on without checkpoints."""
        started = time.monotonic()
        try:
            final = self._result if state.complete else None  # published at the round's end: not made again
            self.entry.save(state, self.score_run, self.schedule, self.label, scores=final)
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
    progress: Callable[[WorkStatus], None] | None = None,
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
