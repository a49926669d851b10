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

import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zipfit_core.errors import CacheDamaged, ZipFitError
from zipfit_core.jobs.schedule import ScoreSnapshot, preview_from_state
from zipfit_core.jobs.score_job import BACKGROUND_NICE, JobStatus, ScoreJob, ScoreRequest
from zipfit_core.scoring.alignment import default_workers
from zipfit_core.store.cache_admin import CacheItem, InUse, PruneCriteria, PruneReport, prune_cache, remove_entry
from zipfit_core.store.score_cache import CacheEntry, ScoreState, default_cache_dir


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
