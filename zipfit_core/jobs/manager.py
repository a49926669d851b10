"""The one manager of background work in a process: ZIP-FIT jobs, other methods' runs and exports.

    manager = JobManager(cache_dir, max_concurrent_jobs=2)
    job_id = manager.submit(ScoreRequest(...))                          # ZIP-FIT: rounds, preview, checkpoints
    run_id = manager.submit_method("tfidf", sources, targets, {...})    # any other method of METHODS
    export_id = manager.submit_work(FunctionWork(...))                  # anything else (the app's exports)
    manager.status(job_id).state        # queued, running, done, cancelled, failed (`work.WorkStatus`)
    manager.result(job_id)              # the scores (or the work's result) once done
    manager.cancel(job_id); manager.wait(job_id, timeout)
    manager.follow(job_id, session); manager.unfollow(job_id, session)   # stops only when nobody else waits

Work is keyed by what it computes (a ZIP-FIT job by its cache key, a method run by its cached result), so
submitting the same work again returns the same id and joins the running or finished work. At most
`max_concurrent_jobs` pieces of work run at once, of every kind together; the others wait in submission
order and say so in their status message. A result already in the cache is served at once, without
waiting in the queue. Finished work stays in memory up to `FINISHED_KEPT` pieces; a ZIP-FIT result dropped
from memory (or computed by another process) is reopened from the cache by its key.

How a ZIP-FIT job works is in `score_job.py`; the cache it shares with the CLI in `store/score_cache.py`.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zipfit_core.data.sources import plural
from zipfit_core.data.texts import texts_fingerprint
from zipfit_core.errors import CacheDamaged, ZipFitError
from zipfit_core.jobs.method_scores import cached_method_run, method_run, method_run_id, method_run_id_of_folder
from zipfit_core.jobs.schedule import ScoreSnapshot, complete_snapshot, preview_from_state
from zipfit_core.jobs.score_job import ScoreJob, ScoreRequest
from zipfit_core.jobs.work import BACKGROUND_NICE, Work, WorkStatus, lower_thread_priority
from zipfit_core.scoring.alignment import default_workers
from zipfit_core.store.cache_admin import CacheItem, InUse, PruneCriteria, PruneReport, prune_cache, remove_entry
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.score_cache import CacheEntry, CompleteScores, default_cache_dir

FINISHED_KEPT = 32  # finished work kept in memory; older results are reopened from the cache
STORED_KEPT = 8  # results reopened from the cache kept in memory (pages ask on every rerun)
JOINABLE_STATES = ("queued", "running", "done")


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


@dataclass(frozen=True)
class StoredResult:
    """A ZIP-FIT result reopened from the cache by key (no job in this process)."""

    data_sha256: str | None
    snapshot: ScoreSnapshot | None
    n_sources: int
    n_targets: int
    targets_done: int
    done_pairs: int
    complete: bool


class JobManager:
    """Runs every kind of background work on threads; one per process, shared by every browser session."""

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
        self._works: dict[str, Work] = {}  # in submission order: the oldest finished are forgotten first
        self._queue: list[str] = []
        self._running: set[str] = set()
        self._stored: dict[str, StoredResult] = {}  # ZIP-FIT results reopened from disk, by key
        self._followers: dict[str, list[str]] = {}  # work id -> who waits for it (sessions), the starter first

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

    # -- submitting ------------------------------------------------------------------------------------
    def submit(self, request: ScoreRequest) -> str:
        """Start (or join) a ZIP-FIT job; returns its id, which is its cache key. Raises ZipFitError."""
        job = ScoreJob(request, self.cache_dir, workers=self.workers, checkpoint_seconds=self.checkpoint_seconds)
        if self._joinable(job.key):
            return job.key
        stored = self._complete_in_cache(job)  # disk I/O outside the lock: other sessions keep reading
        if stored is not None:
            job.mark_done_from_cache(stored)
        return self._add(job, queue=stored is None)

    def submit_method(self, method: str, sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
                      *, source_fingerprint: str | None = None, target_fingerprint: str | None = None,
                      run: ScoreRun | None = None) -> str:
        """Start (or join) scoring with another method of `METHODS`; returns the run's id. Raises ZipFitError at
        once for an unknown method or setting and for an empty target set. A result in the cache is served.
        `run`: the record its cache entry keeps (with recipes, it can be reopened from the cache list)."""
        source_fingerprint = source_fingerprint or texts_fingerprint(sources)
        target_fingerprint = target_fingerprint or texts_fingerprint(targets)
        work = method_run(method, sources, targets, settings, self.cache_dir, source_fingerprint=source_fingerprint,
                          target_fingerprint=target_fingerprint, run_record=run)
        if self._joinable(work.work_id):
            return work.work_id
        found = cached_method_run(method, len(sources), settings, self.cache_dir,
                                  source_fingerprint=source_fingerprint, target_fingerprint=target_fingerprint)
        return self._add(found or work, queue=found is None)

    def submit_work(self, work: Work) -> str:
        """Queue any other work (e.g. an export); its id must not be in use by unfinished work."""
        if self._joinable(work.work_id):
            raise ZipFitError(f"Work {work.work_id} is already queued or running.")
        return self._add(work, queue=True)

    def method_run_id(self, method: str, settings: dict[str, Any], *, source_fingerprint: str,
                      target_fingerprint: str) -> str:
        """The id a run of this method on these texts has (whether or not it was ever submitted)."""
        return method_run_id(method, settings, source_fingerprint, target_fingerprint)

    def adopt_stored_method(self, method: str, n_sources: int, settings: dict[str, Any], *,
                            source_fingerprint: str, target_fingerprint: str) -> str | None:
        """The id of a finished method result already in the cache (from another page, an earlier server or
        `zipfit score --method`), registered as done work; None when it is not there. Takes fingerprints, not
        texts: pages ask on every rerun."""
        run_id = method_run_id(method, settings, source_fingerprint, target_fingerprint)
        if self._joinable(run_id):
            return run_id
        found = cached_method_run(method, n_sources, settings, self.cache_dir, source_fingerprint=source_fingerprint,
                                  target_fingerprint=target_fingerprint)
        return self._add(found, queue=False) if found is not None else None

    def _joinable(self, work_id: str) -> bool:
        with self._lock:
            existing = self._works.get(work_id)
            return existing is not None and existing.state in JOINABLE_STATES

    def _add(self, work: Work, *, queue: bool) -> str:
        with self._lock:
            existing = self._works.get(work.work_id)
            if existing is not None and existing.state in JOINABLE_STATES:
                return work.work_id  # joined while we looked in the cache
            self._works.pop(work.work_id, None)
            self._works[work.work_id] = work
            if queue:
                self._queue.append(work.work_id)
                self._dispatch()
            self._forget_old()
        return work.work_id

    def _complete_in_cache(self, job: ScoreJob) -> CompleteScores | None:
        """A finished result on disk for this job, so it need not wait in the queue."""
        try:
            if job.entry is None or not job.entry.exists():
                return None
            return job.entry.load_complete(job.score_run, job.schedule)
        except (CacheDamaged, OSError):
            return None  # the job itself reports it and recomputes

    def _dispatch(self) -> None:
        """Start queued work while there are free slots (call with self._lock held)."""
        while self._queue and len(self._running) < self.max_concurrent_jobs:
            work = self._works.get(self._queue.pop(0))
            if work is None or not work.claim():
                continue  # forgotten or cancelled while it waited
            self._running.add(work.work_id)
            threading.Thread(target=self._run, args=(work,), name=f"zipfit-{work.kind}-{work.work_id[:12]}",
                             daemon=True).start()

    def _run(self, work: Work) -> None:
        lower_thread_priority(self.nice)
        # The slot is free (and the next work claimed) before anyone waiting for this work wakes.
        work.run(on_end=lambda: self._free_slot(work.work_id))

    def _free_slot(self, work_id: str) -> None:
        with self._lock:
            self._running.discard(work_id)
            self._dispatch()
            self._forget_old()

    def _forget_old(self) -> None:
        """Keep the last FINISHED_KEPT finished pieces of work in memory (call with self._lock held)."""
        finished = [work_id for work_id, work in self._works.items() if work.state not in ("queued", "running")]
        for work_id in finished[: max(0, len(finished) - FINISHED_KEPT)]:
            del self._works[work_id]
        for work_id in [work_id for work_id in self._followers if work_id not in self._works]:
            del self._followers[work_id]

    # -- reading -----------------------------------------------------------------------------------------
    def _work(self, work_id: str) -> Work | None:
        with self._lock:
            return self._works.get(work_id)

    def status(self, work_id: str) -> WorkStatus:
        """Where the work stands; a ZIP-FIT result not in memory is looked for in the cache. Raises ZipFitError
        for an id that is neither."""
        work = self._work(work_id)
        if work is None:
            return self._stored_status(work_id)
        if work.state == "queued":
            with self._lock:
                place = self._queue.index(work_id) + 1 if work_id in self._queue else 1
                running = len(self._running)
            jobs = "job" if running == 1 else "jobs"
            return work.status(f"waiting for a free slot ({running} {jobs} running, limit "
                               f"{self.max_concurrent_jobs}): {ordinal(place)} in line")
        return work.status()

    # -- who waits for what (many sessions on one server) --------------------------------------------------
    def follow(self, work_id: str, follower: str) -> None:
        """`follower` (e.g. a browser session) waits for the work; the first to follow is taken as its starter."""
        with self._lock:
            followers = self._followers.setdefault(work_id, [])
            if follower not in followers:
                followers.append(follower)

    def followers(self, work_id: str) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._followers.get(work_id, ()))

    def unfollow(self, work_id: str, follower: str) -> int:
        """`follower` no longer wants the work: it stops when nobody else waits for it (its checkpoint stays).
        Returns how many others still wait (then it goes on for them)."""
        with self._lock:
            followers = self._followers.get(work_id, [])
            if follower in followers:
                followers.remove(follower)
            left = len(followers)
        if left == 0:
            self.cancel(work_id, reason="nobody waits for it any more")
        return left

    def stop_for_everyone(self, work_id: str, by: str = "the user who started it") -> None:
        """Stop the work although others wait for it; they see who stopped it."""
        self.cancel(work_id, reason=f"stopped for everyone by {by}")

    def find(self, work_id: str) -> WorkStatus | None:
        """`status`, or None for an id this manager and its cache do not know."""
        try:
            return self.status(work_id)
        except ZipFitError:
            return None

    def snapshot(self, work_id: str) -> ScoreSnapshot | None:
        """A ZIP-FIT job's preview after its last finished round (exact when complete)."""
        work = self._work(work_id)
        if work is None:
            stored = self._load_stored(work_id)
            return stored.snapshot if stored else None
        return work.snapshot() if isinstance(work, ScoreJob) else None

    def result(self, work_id: str) -> Any:
        """The finished work's result (scores for scoring work), else None."""
        work = self._work(work_id)
        if work is None:
            stored = self._load_stored(work_id)
            return stored.snapshot.scores if stored and stored.snapshot and stored.snapshot.complete else None
        return work.result()

    def cancel(self, work_id: str, reason: str | None = None) -> None:
        """Stop the work for everyone (within a second); a ZIP-FIT job's checkpoint stays, so submitting again
        resumes it. `reason` is shown in its status."""
        work = self._work(work_id)
        if work is None:
            return
        work.cancel(reason)
        with self._lock:
            if work_id in self._queue and work.state == "cancelled":
                self._queue.remove(work_id)
            self._followers.pop(work_id, None)

    def stop_all(self, reason: str, timeout: float | None = None) -> None:
        """Cancel every queued and running work and wait for each to stop: before the folders it reads go away."""
        with self._lock:
            active = [work_id for work_id, work in self._works.items() if work.state in ("queued", "running")]
        for work_id in active:
            self.cancel(work_id, reason)
        for work_id in active:
            self.wait(work_id, timeout)

    def wait(self, work_id: str, timeout: float | None = None) -> WorkStatus:
        work = self._work(work_id)
        if work is not None:
            work.wait(timeout)
        return self.status(work_id)

    def forget(self, work_id: str) -> None:
        """Drop finished work and a reopened result from memory: submitting the same work starts afresh."""
        with self._lock:
            work = self._works.get(work_id)
            if work is not None and work.state not in ("queued", "running"):
                del self._works[work_id]
            self._stored.pop(work_id, None)

    # -- reclaiming the cache's disk (store/cache_admin.py) -----------------------------------------------
    def work_id_of(self, item: CacheItem) -> str:
        """The id this manager knows a cache entry's result by (a ZIP-FIT job's id is its cache key)."""
        return item.key if item.kind == "zipfit" else method_run_id_of_folder(item.key)

    def busy_reason(self, item: CacheItem) -> str | None:
        """Why the cache entry must not be removed now: work of this manager computes it."""
        work = self._work(self.work_id_of(item))
        if work is not None and work.state in ("queued", "running"):
            return f"{'a scoring job' if item.kind == 'zipfit' else 'a run'} in this process is {work.state} on it: " \
                   "cancel it first"
        return None

    def _in_use(self, also: InUse | None) -> InUse:
        return lambda item: self.busy_reason(item) or (also(item) if also is not None else None)

    def remove_cached(self, key: str, *, in_use: InUse | None = None) -> CacheItem:
        """Remove a cache entry (a unique key prefix will do); refused with ZipFitError while work here computes
        it, another process holds its lock, or `in_use` gives a reason."""
        item = remove_entry(self.cache_dir, key, in_use=self._in_use(in_use))
        self.forget(self.work_id_of(item))
        return item

    def prune_cache(self, criteria: PruneCriteria, *, dry_run: bool = False,
                    in_use: InUse | None = None) -> PruneReport:
        """`cache_admin.prune_cache` on this manager's cache, keeping the entries its work computes."""
        report = prune_cache(self.cache_dir, criteria, dry_run=dry_run, in_use=self._in_use(in_use))
        if not dry_run:
            for item in report.removed:
                self.forget(self.work_id_of(item))
        return report

    # -- ZIP-FIT results reopened from the cache (no texts needed) ----------------------------------------
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
            complete = entry.load_complete()  # a finished result: its scores and ranking, not its sums
            if complete is None:
                manifest, state = entry.load()
        except CacheDamaged as problem:
            if not entry.exists():
                return None  # removed while we read it (cache_admin): gone, not damaged
            warnings.warn(f"The cached result {key[:12]} is damaged ({problem}); score it again.",
                          RuntimeWarning, stacklevel=3)
            return None
        if complete is not None:
            stored = StoredResult(data_sha256, complete_snapshot(complete), len(complete.scores), complete.n_targets,
                                  complete.n_targets, complete.done_pairs, True)
        else:
            stored = StoredResult(manifest["data"].get("sha256"), preview_from_state(state), state.n_sources,
                                  state.n_targets, state.targets_done, state.done_pairs, state.complete)
        with self._lock:
            if len(self._stored) >= STORED_KEPT:
                self._stored.pop(next(iter(self._stored)))
            self._stored[key] = stored
        return stored

    def _stored_status(self, key: str) -> WorkStatus:
        stored = self._load_stored(key)
        if stored is None:
            raise ZipFitError(f"Unknown job {key[:12]}: it is neither running nor in the cache {self.cache_dir}.")
        message = "in the cache" if stored.complete else (
            f"partial result in the cache ({stored.targets_done:,} of {plural(stored.n_targets, 'target')}): "
            "submit again to resume")
        return WorkStatus(
            work_id=key, kind="zipfit", state="done" if stored.complete else "cancelled", done=stored.done_pairs,
            total=stored.n_sources * stored.n_targets, unit="pairs", rate=0.0,
            eta_seconds=0.0 if stored.complete else None, seconds=0.0, message=message, error=None,
            resumed=stored.done_pairs, targets_seen=stored.targets_done, n_targets=stored.n_targets)

