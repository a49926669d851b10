"""Selectors other than plain ZIP-FIT, run on background threads: progress, cancel, and the score cache.

    runs = MethodRuns(cache_dir)
    key = runs.submit("tfidf", sources, targets, {"analyzer": "char_wb"})
    runs.status(key).state          # "running" ... "done"
    scores = runs.result(key)       # float64, one per source; None until done

Plain ZIP-FIT has its own jobs (`jobs.JobManager`: rounds, previews, checkpoints); everything else is
`selectors.score_sources` on a thread, writing the same on-disk cache (`<cache_dir>/methods/`), so a
result computed here is what `selectors.stored_scores` and `zipfit score --method` find later, and the
reverse. Submitting the same work again joins the running or finished run. The length-debiased
variant computes (or reuses) ZIP-FIT through `jobs.run_foreground`, the same cache the app's jobs use.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zipfit_core.data.texts import texts_fingerprint
from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.jobs.score_job import BACKGROUND_NICE, lower_thread_priority
from zipfit_core.scoring.alignment import require_texts
from zipfit_core.scoring.methods import method_info
from zipfit_core.store.method_cache import read_method_cache, result_key

FINISHED_RUNS_KEPT = 16  # finished runs keep their scores in memory; older ones are read from the cache


def run_id(key: str) -> str:
    """A short, URL-safe id for a `selectors.result_key`."""
    return run_id_of_cache_folder(hashlib.sha256(key.encode()).hexdigest())


def run_id_of_cache_folder(folder_name: str) -> str:
    """The id of the run whose result is `<cache_dir>/methods/<folder_name>/` (named by sha256 of the key)."""
    return "method-" + folder_name[:24]


@dataclass(frozen=True)
class MethodStatus:
    """A run at one moment: work done of the total, state and error."""

    run_id: str
    method: str
    state: str  # "running" | "done" | "cancelled" | "failed"
    done: int  # units of work as the method reports them: rows, or (source, target) pairs for ZIP-FIT-based ones
    total: int
    seconds: float
    error: str | None
    rows: int  # source rows being scored

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")

    @property
    def fraction_done(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


class _Run:
    def __init__(self, run_id: str, method: str, n_sources: int) -> None:
        self.run_id, self.method, self.n_sources = run_id, method, n_sources
        self.state, self.done, self.total = "running", 0, n_sources
        self.error: str | None = None
        self.scores: np.ndarray | None = None
        self.started, self.ended = time.monotonic(), None
        self.cancel = threading.Event()
        self.finished = threading.Event()

    def status(self) -> MethodStatus:
        return MethodStatus(self.run_id, self.method, self.state, self.done, self.total,
                            (self.ended or time.monotonic()) - self.started, self.error, self.n_sources)


class MethodRuns:
    """Background runs of `selectors.score_sources`, keyed by the result they compute (one per cache folder)."""

    def __init__(self, cache_dir: str | Path, *, nice: int = BACKGROUND_NICE) -> None:
        self.cache_dir = Path(cache_dir)
        self.nice = nice
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}

    def run_id_for(self, method: str, sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any], *,
                   source_fingerprint: str | None = None, target_fingerprint: str | None = None) -> str:
        """The id a run of this work has (whether or not it was ever submitted)."""
        resolved = method_info(method).resolve(settings)
        return run_id(result_key(method, resolved, source_fingerprint or texts_fingerprint(sources),
                                 target_fingerprint or texts_fingerprint(targets)))

    def submit(self, method: str, sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any], *,
               source_fingerprint: str | None = None, target_fingerprint: str | None = None) -> str:
        """Start (or join) scoring `sources` against `targets` with `method`; returns the run's id.

        Raises ZipFitError at once for an unknown method or setting and for an empty target set.
        """
        resolved = method_info(method).resolve(settings)
        require_texts(targets, "target")
        identity = self.run_id_for(method, sources, targets, resolved, source_fingerprint=source_fingerprint,
                                   target_fingerprint=target_fingerprint)
        with self._lock:
            existing = self._runs.get(identity)
            if existing is not None and existing.state in ("running", "done"):
                return identity
            run = _Run(identity, method, len(sources))
            self._runs[identity] = run
            self._forget_old()
        threading.Thread(target=self._work, args=(run, list(sources), list(targets), resolved),
                         name=f"zipfit-{method}-{identity[-8:]}", daemon=True).start()
        return identity

    def _work(self, run: _Run, sources: list[str], targets: list[str], settings: dict[str, Any]) -> None:
        from zipfit_core.jobs.method_scores import score_sources

        lower_thread_priority(self.nice)

        def progress(done: int, total: int) -> None:
            run.done, run.total = done, total

        try:
            scores = score_sources(run.method, sources, targets, progress=progress, cancel=run.cancel,
                                   cache_dir=self.cache_dir, **settings)
            scores.setflags(write=False)  # shared by every session that reads it
            run.scores, run.done, run.state = scores, run.total, "done"
        except ScoringCancelled:
            run.state = "cancelled"
        except ZipFitError as error:
            run.error, run.state = str(error), "failed"
        except Exception as error:  # a bug or a library failure: report it on the page, keep the server up
            run.error, run.state = f"internal error: {type(error).__name__}: {error}", "failed"
        finally:
            run.ended = time.monotonic()
            run.finished.set()

    def _forget_old(self) -> None:
        """Keep the scores of the last few finished runs (call with the lock held)."""
        finished = [key for key, run in self._runs.items() if run.state != "running"]
        for key in finished[: max(0, len(finished) - FINISHED_RUNS_KEPT)]:
            del self._runs[key]

    def status(self, identity: str) -> MethodStatus | None:
        with self._lock:
            run = self._runs.get(identity)
        return run.status() if run is not None else None

    def result(self, identity: str) -> np.ndarray | None:
        with self._lock:
            run = self._runs.get(identity)
        return run.scores if run is not None else None

    def forget(self, identity: str) -> None:
        """Drop a finished run from memory (its cache entry was removed): submitting again computes afresh."""
        with self._lock:
            run = self._runs.get(identity)
            if run is not None and run.state != "running":
                del self._runs[identity]

    def cancel(self, identity: str) -> None:
        with self._lock:
            run = self._runs.get(identity)
        if run is not None:
            run.cancel.set()

    def wait(self, identity: str, timeout: float | None = None) -> MethodStatus | None:
        with self._lock:
            run = self._runs.get(identity)
        if run is not None:
            run.finished.wait(timeout)
        return self.status(identity)

    def adopt_stored(self, method: str, n_sources: int, settings: dict[str, Any], *, source_fingerprint: str,
                     target_fingerprint: str) -> str | None:
        """The id of a finished result already in the on-disk cache (a run from another page, an earlier server
        or `zipfit score --method`), registered as a done run; None when it is not there.

        Takes fingerprints, not texts: pages ask on every rerun. The length-debiased variant is never on disk
        (it is derived from ZIP-FIT's cached scores when run).
        """
        resolved = method_info(method).resolve(settings)
        key = result_key(method, resolved, source_fingerprint, target_fingerprint)
        identity = run_id(key)
        with self._lock:
            existing = self._runs.get(identity)
        if existing is not None and existing.state in ("running", "done"):
            return identity
        if method in ("zipfit", "zipfit-debiased") or n_sources == 0:
            return None
        scores = read_method_cache(self.cache_dir, key, n_sources)
        if scores is None:
            return None
        scores.setflags(write=False)
        run = _Run(identity, method, n_sources)
        run.scores, run.done, run.state, run.ended = scores, n_sources, "done", run.started
        run.finished.set()
        with self._lock:
            self._runs[identity] = run
            self._forget_old()
        return identity
