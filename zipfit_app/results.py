"""The results a page shows: from the process's one `JobManager` (jobs and method runs) or a score folder.

- ZIP-FIT: jobs with a progressive preview, checkpoints and the shared cache;
- any other method of `METHODS`: background runs of `score_sources`, writing the same on-disk cache that
  `zipfit score --method` and the Compare page use;
- a score folder (`zipfit score ... --out FOLDER`, opened under the data root): its ZIP-FIT scores, when the
  view asks for ZIP-FIT with the folder's codec and level.

A session remembers only the id of its result and the run record it was for (`JobBinding`); the work lives
in the server process, so leaving the page or closing the tab does not stop it, and another session asking
for the same work joins it.
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from dataclasses import dataclass

import numpy as np
import streamlit as st

from zipfit_core.data.loading import LoadedTexts
from zipfit_core.data.sources import DataRecipe
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.schedule import ScoreSnapshot
from zipfit_core.jobs.score_job import ScoreRequest
from zipfit_core.jobs.work import WorkStatus
from zipfit_core.store.cache_admin import CacheItem, list_cache
from zipfit_core.store.run import ScoreRun

from . import datasets, methods
from .view_state import DataChoice, ViewState

JOB_KEY = "score_job"
SESSION_KEY = "results.session"  # a random id per browser session
DECLINED_KEY = "results.declined"  # work this session let go of: not attached again until it asks
FOLDER_PREFIX = "folder-"  # ids of score-folder results; method runs' ids start with "method-"


def manager() -> JobManager:
    return JobManager.shared()


@dataclass(frozen=True)
class JobBinding:
    """Which result a session follows: its id, the loaded datasets it was for, and its run record."""

    job_id: str
    source_key: str
    target_key: str | None  # None: a score folder's scores, which need no loaded targets
    run: ScoreRun


def kind_of(job_id: str) -> str:
    """`job` (ZIP-FIT), `method` (another method's run) or `folder` (an opened score folder)."""
    if job_id.startswith(FOLDER_PREFIX):
        return "folder"
    return "method" if job_id.startswith("method-") else "job"


def _loaded_keys() -> tuple[str | None, str | None]:
    source, target = (st.session_state.get(f"loaded_{role}") for role in datasets.ROLES)
    return (source[1] if source else None, target[1] if target else None)


def _bind(job_id: str, run: ScoreRun, target_needed: bool = True) -> str:
    source_key, target_key = _loaded_keys()
    st.session_state[JOB_KEY] = JobBinding(job_id, source_key, target_key if target_needed else None, run)
    if kind_of(job_id) != "folder" and not manager().status(job_id).finished:
        follow(job_id)
    return job_id


# -- many sessions on one server: Cancel means "I no longer want this" -------------------------------------
def session_id() -> str:
    """This browser session's id (the manager counts who waits for each piece of work by it)."""
    return st.session_state.setdefault(SESSION_KEY, uuid.uuid4().hex[:12])


def follow(work_id: str) -> None:
    """This session waits for the work (again, if it had let go of it)."""
    st.session_state.get(DECLINED_KEY, set()).discard(work_id)
    manager().follow(work_id, session_id())


def let_go(work_id: str) -> int:
    """This session no longer wants the work: it stops unless other sessions wait for it (returned: how many);
    then this session stops following it, and it is not attached again until asked for."""
    left = manager().unfollow(work_id, session_id())
    if left:
        st.session_state.setdefault(DECLINED_KEY, set()).add(work_id)
        binding: JobBinding | None = st.session_state.get(JOB_KEY)
        if binding is not None and binding.job_id == work_id:
            del st.session_state[JOB_KEY]
    return left


def others_waiting(work_id: str) -> int:
    return len([follower for follower in manager().followers(work_id) if follower != session_id()])


def started_here(work_id: str) -> bool:
    followers = manager().followers(work_id)
    return bool(followers) and followers[0] == session_id()


def stop_for_everyone(work_id: str) -> None:
    manager().stop_for_everyone(work_id, by="the session that started it")


def declined(work_id: str) -> bool:
    """This session let go of the work (Cancel while others wait for it)."""
    return work_id in st.session_state.get(DECLINED_KEY, set())


def _folder_id(view: ViewState) -> str | None:
    """The id of the loaded score folder's scores, when they are ZIP-FIT at the view's codec and level."""
    folder = datasets.current_folder()
    if folder is None or view.method != "zipfit" or (view.codec, view.level) != (folder.run.codec, folder.run.level):
        return None
    return FOLDER_PREFIX + hashlib.sha256(_loaded_keys()[0].encode()).hexdigest()[:24]  # changes with the folder


def score_run(view: ViewState, source: LoadedTexts, target: LoadedTexts | None) -> ScoreRun:
    """How the shown scores are made, for the job, the caches and the export manifest: method and settings, with
    the recipes that load both datasets again (a local file's location is relative to the app's data root). A
    score folder's scores are described as `zipfit select --scores FOLDER` describes them."""
    folder = datasets.current_folder()
    if folder is not None and _folder_id(view) is not None:
        return folder.run
    if target is None:
        raise ZipFitError("Load a target set on the Data page first.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gzip level 0: the Score page shows the warning itself
        return ScoreRun.for_texts(source, target, source_name=datasets.describe(view.source),
                                  target_name=datasets.describe(view.target), method=view.method,
                                  settings=methods.run_settings(view.method, view))


def request_for(source: LoadedTexts, target: LoadedTexts, view: ViewState) -> ScoreRequest:
    label = f"{datasets.describe(view.source)} -> {datasets.describe(view.target)}"
    zipfit_view = ViewState(source=view.source, target=view.target, codec=view.codec, level=view.level)
    return ScoreRequest.for_run(source.texts, target.texts, score_run(zipfit_view, source, target), label=label)


def start(source: LoadedTexts, target: LoadedTexts | None, view: ViewState) -> str:
    """Submit (or join) the scoring of the loaded datasets with the view's method; raises ZipFitError."""
    if source is None or target is None or None in _loaded_keys():
        raise ZipFitError("Load a source pool and a target set on the Data page first.")
    if view.method == "zipfit":
        request = request_for(source, target, view)
        return _bind(manager().submit(request), request.run)
    run = score_run(view, source, target)
    run_id = manager().submit_method(view.method, source.texts, target.texts, methods.run_settings(view.method, view),
                                     source_fingerprint=source.fingerprint, target_fingerprint=target.fingerprint)
    return _bind(run_id, run)


def attach_cached(source: LoadedTexts | None, target: LoadedTexts | None, view: ViewState) -> str | None:
    """Follow existing work, a cached result or an opened score folder for this view, starting nothing."""
    if source is None:
        return None
    if (folder_id := _folder_id(view)) is not None:
        return _bind(folder_id, datasets.current_folder().run, target_needed=False)
    if target is None or None in _loaded_keys():
        return None
    if view.method != "zipfit":
        run = score_run(view, source, target)
        settings = methods.run_settings(view.method, view)
        run_id = manager().method_run_id(view.method, settings, source_fingerprint=source.fingerprint,
                                         target_fingerprint=target.fingerprint)
        found = manager().find(run_id)
        if found is not None and (found.state == "done" or (found.state in ("running", "queued")
                                                             and not declined(run_id))):
            return _bind(run_id, run)
        adopted = manager().adopt_stored_method(view.method, len(source.texts), settings,
                                                source_fingerprint=source.fingerprint,
                                                target_fingerprint=target.fingerprint)
        return _bind(adopted, run) if adopted else None
    request = request_for(source, target, view)
    found = manager().find(request.key)
    if found is not None and (found.state == "done" or (found.state in ("running", "queued")
                                                         and not declined(found.work_id))):
        return _bind(found.work_id, request.run)
    return None


def current_job(view: ViewState) -> str | None:
    """The session's result if it still matches the loaded datasets and the view's method and settings."""
    binding: JobBinding | None = st.session_state.get(JOB_KEY)
    if binding is None:
        return None
    source_key, target_key = _loaded_keys()
    if source_key != binding.source_key or (binding.target_key is not None and target_key != binding.target_key):
        return None
    wanted = methods.recorded(view.method, view)
    if binding.run.method_settings() != (view.method, wanted):
        return None
    if kind_of(binding.job_id) == "method" and manager().find(binding.job_id) is None:
        return None  # dropped from memory (or a new cache folder): `attach_cached` finds it on disk again
    return binding.job_id


def status(job_id: str) -> WorkStatus:
    """A ZIP-FIT job's or a method run's status (raises ZipFitError for an id the manager does not know)."""
    return manager().status(job_id)


def state_of(job_id: str) -> str:
    """queued, running, done, cancelled or failed, whatever the kind of result."""
    if kind_of(job_id) == "folder":
        return "done"
    found = manager().find(job_id)
    return found.state if found is not None else "failed"


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
        return ShownScores(job_id, folder.scores, True, folder.run.n_targets, folder.run.n_targets)
    if kind == "method":
        scores, target = manager().result(job_id), datasets.current("target")
        n_targets = len(target.texts) if target is not None else 0
        return None if scores is None else ShownScores(job_id, scores, True, n_targets, n_targets)
    result = manager().result(job_id)
    if result is not None:
        n_targets = manager().status(job_id).n_targets
        return ShownScores(job_id, np.asarray(result, dtype=np.float64), True, n_targets, n_targets)
    snapshot = manager().snapshot(job_id)
    if snapshot is None or snapshot.is_sample:  # a first look covers a sample of rows: see `first_look`
        return None
    return ShownScores(job_id, snapshot.scores, snapshot.complete, snapshot.targets_seen, snapshot.n_targets)


def first_look(job_id: str) -> ScoreSnapshot | None:
    """A large pool's first preview, on a seeded sample of its rows, while the first full round runs."""
    snapshot = manager().snapshot(job_id) if kind_of(job_id) == "job" else None
    return snapshot if snapshot is not None and snapshot.is_sample else None


def zipfit_result(source: LoadedTexts, target: LoadedTexts | None, view: ViewState) -> ShownScores | None:
    """ZIP-FIT's exact scores at the view's codec and level, whichever method the Score page shows."""
    zipfit_view = ViewState(source=view.source, target=view.target, codec=view.codec, level=view.level)
    if (folder_id := _folder_id(zipfit_view)) is not None:
        return shown_scores(folder_id)
    if target is None:
        return None
    job_id = request_for(source, target, view).key
    result = manager().result(job_id)
    if result is None:
        return None
    return ShownScores(job_id, np.asarray(result, dtype=np.float64), True, len(target.texts), len(target.texts))


def method_result(method: str, source: LoadedTexts, target: LoadedTexts, settings: dict) -> np.ndarray | None:
    """A non-ZIP-FIT method's finished scores from this server's runs or the cache (never computes)."""
    run_id = manager().method_run_id(method, settings, source_fingerprint=source.fingerprint,
                                     target_fingerprint=target.fingerprint)
    scores = manager().result(run_id)
    if scores is None and manager().adopt_stored_method(method, len(source.texts), settings,
                                                        source_fingerprint=source.fingerprint,
                                                        target_fingerprint=target.fingerprint):
        scores = manager().result(run_id)
    return scores


def cache_items() -> list[CacheItem]:
    """Every entry of the score cache (ZIP-FIT jobs and method results), newest first."""
    return list_cache(manager().cache_dir)


def computing_here(item: CacheItem) -> bool:
    """Whether work of this server is computing the entry now (removing it is refused)."""
    return manager().busy_reason(item) is not None


def remove_cached(key: str) -> CacheItem:
    """Remove a cache entry and forget its result in this server (this session stops following it).

    Raises ZipFitError, removing nothing, while this server or another process computes it.
    """
    item = manager().remove_cached(key)
    binding: JobBinding | None = st.session_state.get(JOB_KEY)
    if binding is not None and binding.job_id == manager().work_id_of(item):
        del st.session_state[JOB_KEY]
    return item


def choice_of_recipe(content: dict | None) -> DataChoice | None:
    """The app's data choice that loads a recorded recipe again (None without one)."""
    if not content:
        return None
    try:
        recipe = DataRecipe.from_dict(content)
    except ZipFitError:
        return None
    source, text = recipe.source, recipe.text
    column, value = text.row_filter if text.row_filter is not None else (None, None)
    return DataChoice(source.kind, source.location, config=source.config, split=source.split,
                      revision=source.revision, streaming=source.streaming, limit=source.limit, sample=source.sample,
                      seed=source.seed, field=text.field, template=text.template, filter_column=column,
                      filter_value=value)


def view_of_cached(item: CacheItem) -> tuple[DataChoice | None, DataChoice | None]:
    """The datasets a cached result was scored on, from the recipes its run record carries (None: not recorded,
    e.g. a result written before recipes were recorded)."""
    if item.run is None:
        return None, None
    return choice_of_recipe(item.run.source_recipe), choice_of_recipe(item.run.target_recipe)


def label_text(item: CacheItem) -> str:
    return item.label or "(no description)"

