"""Scoring for the app: the scores a page should show, from one of three places.

- ZIP-FIT: jobs in the process-wide `JobManager` (progressive preview, checkpoints, cache);
- any other method of `selectors.METHODS`: background runs of `score_sources` (`method_jobs.MethodRuns`)
  writing the same on-disk cache that `zipfit score --method` and the Compare page use;
- a score folder (`zipfit score ... --out FOLDER`, opened under the data root): its ZIP-FIT scores, when the
  view asks for ZIP-FIT with the folder's codec and level.

A session remembers only the id of its result and which datasets, method and settings it was for; jobs
and runs live in the server process, so leaving the page or closing the tab does not stop them, and
another session asking for the same work joins them.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import numpy as np
import streamlit as st

from zipfit_app.view_state import DataChoice, ViewState, decode_view, encode_view
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.method_runs import MethodRuns, MethodStatus, run_id_of_cache_folder
from zipfit_core.jobs.score_job import JobStatus, ScoreRequest
from zipfit_core.store.cache_admin import CacheItem, list_cache
from zipfit_core.store.run import ScoreRun, method_score_run

from . import datasets, methods

JOB_KEY = "score_job"
VIEW_MARK = " | view: "  # a job label carries the view's query string, so a cached result can be reopened
FOLDER_PREFIX = "folder-"  # ids of score-folder results; method runs' ids start with "method-"
_runs: dict[str, MethodRuns] = {}
_runs_lock = threading.Lock()


def manager() -> JobManager:
    return JobManager.shared()


def runs() -> MethodRuns:
    """The process's background method runs, on the same cache folder as the ZIP-FIT jobs."""
    cache_dir = manager().cache_dir
    with _runs_lock:
        return _runs.setdefault(str(cache_dir), MethodRuns(cache_dir))


@dataclass(frozen=True)
class JobBinding:
    """Which result a session follows, and for which loaded datasets, method and settings."""

    job_id: str
    source_key: str
    target_key: str | None  # None: a score folder's scores, which need no loaded targets
    codec: str
    level: int
    method: str = "zipfit"
    spec: str = "zipfit"  # `selectors.method_spec`: the method's settings that change scores


def kind_of(job_id: str) -> str:
    """`job` (ZIP-FIT in the JobManager), `method` (a background method run) or `folder`."""
    if job_id.startswith(FOLDER_PREFIX):
        return "folder"
    return "method" if job_id.startswith("method-") else "job"


def _loaded_keys() -> tuple[str | None, str | None]:
    source, target = (st.session_state.get(f"loaded_{role}") for role in datasets.ROLES)
    return (source[1] if source else None, target[1] if target else None)


def _bind(job_id: str, view: ViewState, target_needed: bool = True) -> str:
    source_key, target_key = _loaded_keys()
    st.session_state[JOB_KEY] = JobBinding(job_id, source_key, target_key if target_needed else None, view.codec,
                                           view.level, view.method, methods.settings_spec(view.method))
    return job_id


def _folder_id(view: ViewState) -> str | None:
    """The id of the loaded score folder's scores, when they are ZIP-FIT at the view's codec and level."""
    folder = datasets.current_folder()
    if folder is None or (view.codec, view.level) != (folder.settings.codec, folder.settings.level):
        return None
    return FOLDER_PREFIX + hashlib.sha256(_loaded_keys()[0].encode()).hexdigest()[:24]  # changes with the folder


def request_for(source: LoadedTexts, target: LoadedTexts, view: ViewState) -> ScoreRequest:
    label = f"{datasets.describe(view.source)} -> {datasets.describe(view.target)}"
    query = urlencode({key: value for key, value in encode_view(
        ViewState(source=view.source, target=view.target, codec=view.codec, level=view.level)).items()
        if key not in ("cut", "v")})
    return ScoreRequest(source_texts=source.texts, target_texts=target.texts, codec=view.codec, level=view.level,
                        source_fingerprint=source.fingerprint, target_fingerprint=target.fingerprint,
                        label=label + VIEW_MARK + query)


def start(source: LoadedTexts, target: LoadedTexts | None, view: ViewState) -> str:
    """Submit (or join) the scoring of the loaded datasets with the view's method; raises ZipFitError."""
    if source is None or target is None or None in _loaded_keys():
        raise ZipFitError("Load a source pool and a target set on the Data page first.")
    if view.method == "zipfit":
        return _bind(manager().submit(request_for(source, target, view)), view)
    run_id = runs().submit(view.method, source.texts, target.texts, methods.run_settings(view.method, view),
                           source_fingerprint=source.fingerprint, target_fingerprint=target.fingerprint)
    return _bind(run_id, view)


def attach_cached(source: LoadedTexts | None, target: LoadedTexts | None, view: ViewState) -> str | None:
    """Follow an existing job, run, cached result or opened score folder for this work, starting nothing."""
    if source is None:
        return None
    if view.method == "zipfit" and (folder_id := _folder_id(view)) is not None:
        return _bind(folder_id, view, target_needed=False)
    if target is None or None in _loaded_keys():
        return None
    if view.method != "zipfit":
        settings = methods.run_settings(view.method, view)
        run_id = runs().run_id_for(view.method, source.texts, target.texts, settings,
                                   source_fingerprint=source.fingerprint, target_fingerprint=target.fingerprint)
        method_status = runs().status(run_id)
        if method_status is not None and method_status.state in ("running", "done"):
            return _bind(run_id, view)
        adopted = runs().adopt_stored(view.method, len(source.texts), settings,
                                      source_fingerprint=source.fingerprint, target_fingerprint=target.fingerprint)
        return _bind(adopted, view) if adopted else None
    job_id = request_for(source, target, view).settings().key
    try:
        status = manager().status(job_id)
    except ZipFitError:
        return None
    if status.state in ("done", "running", "queued"):
        return _bind(job_id, view)
    return None


def current_job(view: ViewState) -> str | None:
    """The session's result if it still matches the loaded datasets and the view's method and settings."""
    binding: JobBinding | None = st.session_state.get(JOB_KEY)
    if binding is None:
        return None
    source_key, target_key = _loaded_keys()
    if source_key != binding.source_key or (binding.target_key is not None and target_key != binding.target_key):
        return None
    if (binding.method, binding.spec) != (view.method, methods.settings_spec(view.method)):
        return None
    if methods.compresses(view.method) and (binding.codec, binding.level) != (view.codec, view.level):
        return None
    if kind_of(binding.job_id) == "method" and runs().status(binding.job_id) is None:
        return None  # dropped from memory (or a new cache folder): `attach_cached` finds it on disk again
    return binding.job_id


def status(job_id: str) -> JobStatus:
    """A ZIP-FIT job's status (`kind_of(job_id) == "job"`)."""
    return manager().status(job_id)


def method_status(job_id: str) -> MethodStatus | None:
    return runs().status(job_id)


def state_of(job_id: str) -> str:
    """queued, running, done, cancelled or failed, whatever the kind of result."""
    kind = kind_of(job_id)
    if kind == "folder":
        return "done"
    if kind == "method":
        method = method_status(job_id)
        return method.state if method is not None else "failed"
    return status(job_id).state


@dataclass(frozen=True)
class ShownScores:
    """The scores a page shows: exact when complete, else the progressive preview."""

    job_id: str
    scores: np.ndarray
    complete: bool
    targets_seen: int
    n_targets: int

    @property
    def version(self) -> str:
        """Changes whenever the numbers change (a new preview round or the final result)."""
        return f"{self.job_id}:{self.targets_seen}:{int(self.complete)}"


def shown_scores(job_id: str) -> ShownScores | None:
    kind = kind_of(job_id)
    if kind == "folder":
        folder = datasets.current_folder()
        if folder is None:
            return None
        return ShownScores(job_id, folder.scores, True, folder.settings.n_targets, folder.settings.n_targets)
    if kind == "method":
        scores, target = runs().result(job_id), datasets.current("target")
        n_targets = len(target.texts) if target is not None else 0
        return None if scores is None else ShownScores(job_id, scores, True, n_targets, n_targets)
    result = manager().result(job_id)
    if result is not None:
        return ShownScores(job_id, np.asarray(result, dtype=np.float64), True, *_target_counts(job_id))
    snapshot = manager().snapshot(job_id)
    if snapshot is None:
        return None
    return ShownScores(job_id, snapshot.scores, snapshot.complete, snapshot.targets_seen, snapshot.n_targets)


def _target_counts(job_id: str) -> tuple[int, int]:
    job_status = manager().status(job_id)
    return job_status.n_targets, job_status.n_targets


def score_run(view: ViewState, source: LoadedTexts, target: LoadedTexts | None) -> ScoreRun:
    """How the shown scores were made, for the export manifest: method and settings, with the recipes that
    load both datasets again (a local file's location is relative to the app's data root). A score folder's
    scores are described as `zipfit select --scores FOLDER` describes them."""
    job_id = current_job(view)
    folder = datasets.current_folder()
    if job_id is not None and kind_of(job_id) == "folder" and folder is not None:
        return folder.run
    return method_score_run(source, target, source_name=datasets.describe(view.source),
                            target_name=datasets.describe(view.target), method=view.method,
                            settings=methods.run_settings(view.method, view))


def zipfit_result(source: LoadedTexts, target: LoadedTexts | None, view: ViewState) -> ShownScores | None:
    """ZIP-FIT's exact scores at the view's codec and level, whichever method the Score page shows."""
    if (folder_id := _folder_id(view)) is not None:
        return shown_scores(folder_id)
    if target is None:
        return None
    job_id = request_for(source, target, view).settings().key
    result = manager().result(job_id)
    if result is None:
        return None
    return ShownScores(job_id, np.asarray(result, dtype=np.float64), True, len(target.texts), len(target.texts))


def method_result(method: str, source: LoadedTexts, target: LoadedTexts, settings: dict) -> np.ndarray | None:
    """A non-ZIP-FIT method's finished scores from this server's runs or the cache (never computes)."""
    run_id = runs().run_id_for(method, source.texts, target.texts, settings, source_fingerprint=source.fingerprint,
                               target_fingerprint=target.fingerprint)
    scores = runs().result(run_id)
    if scores is None and runs().adopt_stored(method, len(source.texts), settings,
                                              source_fingerprint=source.fingerprint,
                                              target_fingerprint=target.fingerprint):
        scores = runs().result(run_id)
    return scores


def cache_items() -> list[CacheItem]:
    """Every entry of the score cache (ZIP-FIT jobs and method results), newest first."""
    return list_cache(manager().cache_dir)


def _run_id(item: CacheItem) -> str:
    """The id this server knows the entry's result by (a ZIP-FIT job's id is its cache key)."""
    return item.key if item.kind == "zipfit" else run_id_of_cache_folder(item.key)


def _method_run_busy(item: CacheItem) -> str | None:
    if item.kind == "zipfit":
        return None
    run = runs().status(_run_id(item))
    return "a run in this app is computing it: cancel it first" if run is not None and run.state == "running" else None


def computing_here(item: CacheItem) -> bool:
    """Whether a job or run of this server is computing the entry now (removing it is refused)."""
    return bool(manager().busy_reason(item.key) or _method_run_busy(item))


def remove_cached(key: str) -> CacheItem:
    """Remove a cache entry and forget its result in this server (this session stops following it).

    Raises ZipFitError, removing nothing, while this server or another process computes it.
    """
    item = manager().remove_cached(key, in_use=_method_run_busy)
    if item.kind != "zipfit":
        runs().forget(_run_id(item))
    binding: JobBinding | None = st.session_state.get(JOB_KEY)
    if binding is not None and binding.job_id == _run_id(item):
        del st.session_state[JOB_KEY]
    return item


def view_of_cached(result: CacheItem) -> tuple[DataChoice | None, DataChoice | None]:
    """The datasets a cached result was scored on, when the app made it (the CLI's have none)."""
    if VIEW_MARK not in result.label:
        return None, None
    query = result.label.split(VIEW_MARK, 1)[1]
    view, _ = decode_view(dict(parse_qsl(query)))
    return view.source, view.target


def label_text(result: CacheItem) -> str:
    return result.label.split(VIEW_MARK, 1)[0] or "(scored outside the app)"
