"""Scores for a run: ZIP-FIT jobs, other methods' runs and opened score folders, found, started and read.

- ZIP-FIT: jobs with a progressive preview, checkpoints and the shared cache;
- any other method of `METHODS`: background runs of `score_sources`, writing the same on-disk cache that
  `zipfit score --method` and the Compare page use;
- a score folder (`zipfit score ... --out FOLDER`, opened under the data root): its ZIP-FIT scores.

Every function takes what it needs (the loaded data, the method and its settings): nothing here reads a
session, so a run record can be built and a result found without a browser.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass

import numpy as np

from zipfit_core.data.loading import LoadedTexts
from zipfit_core.data.sources import DataRecipe
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.schedule import ScoreSnapshot
from zipfit_core.jobs.score_job import ScoreRequest
from zipfit_core.scoring.methods import recorded_settings
from zipfit_core.scoring.target_facts import TargetFacts
from zipfit_core.store.cache_admin import CacheItem, list_cache
from zipfit_core.store.run import ScoreRun

from ..state.records import ResultRef
from ..state.view import DataChoice
from . import methods
from .loaders import LoadedData, describe
from .work import manager

FOLDER_PREFIX = "folder-"  # ids of score-folder results; method runs' ids start with "method-"


@dataclass(frozen=True)
class RunChoice:
    """What a run computes on loaded data: the method and every setting it gets (codec and level included)."""

    method: str
    settings: dict  # `methods.run_settings`: the method's own settings, and codec and level if it compresses

    @property
    def codec(self) -> str | None:
        return self.settings.get("codec")

    @property
    def level(self) -> int | None:
        return self.settings.get("level")

    def recorded(self) -> tuple[str, dict]:
        """(method, settings) as a run record holds them, to compare with `ScoreRun.method_settings()`."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # gzip level 0: the Score page shows the warning itself
            return self.method, recorded_settings(self.method, self.settings)

    def describe(self) -> str:
        """e.g. `ZIP-FIT, gzip level 9`."""
        codec = f", {self.codec} level {self.level}" if methods.compresses(self.method) else ""
        return methods.label(self.method) + codec


def zipfit_choice(codec: str, level: int) -> RunChoice:
    return RunChoice("zipfit", methods.run_settings("zipfit", None, codec, level))


def kind_of(job_id: str) -> str:
    """`job` (ZIP-FIT), `method` (another method's run) or `folder` (an opened score folder)."""
    if job_id.startswith(FOLDER_PREFIX):
        return "folder"
    return "method" if job_id.startswith("method-") else "job"


def folder_id(data: LoadedData, choice: RunChoice) -> str | None:
    """The id of the loaded score folder's scores, when they are ZIP-FIT at the choice's codec and level."""
    folder = data.folder
    if folder is None or choice.method != "zipfit" or (choice.codec, choice.level) != (folder.run.codec,
                                                                                        folder.run.level):
        return None
    return FOLDER_PREFIX + hashlib.sha256(data.source_key.encode()).hexdigest()[:24]  # changes with the folder


def score_run(data: LoadedData, choice: RunChoice) -> ScoreRun:
    """How the scores are made, for the job, the caches and the export manifest: method and settings, with the
    recipes that load both datasets again (a local file's location is relative to the app's data root). A score
    folder's scores are described as `zipfit select --scores FOLDER` describes them."""
    if folder_id(data, choice) is not None:
        return data.folder.run
    if data.target is None:
        raise ZipFitError("Load a target set on the Data page first.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gzip level 0: the Score page shows the warning itself
        return ScoreRun.for_texts(data.source, data.target, source_name=describe(data.source_ref.choice),
                                  target_name=describe(data.target_ref.choice), method=choice.method,
                                  settings=dict(choice.settings))


def request_for(data: LoadedData, codec: str, level: int) -> ScoreRequest:
    """The ZIP-FIT job scoring the loaded data at this codec and level."""
    label = f"{describe(data.source_ref.choice)} -> {describe(data.target_ref.choice)}"
    return ScoreRequest.for_run(data.source.texts, data.target.texts, score_run(data, zipfit_choice(codec, level)),
                                label=label)


def _ref(data: LoadedData, job_id: str, run: ScoreRun, target_needed: bool = True) -> ResultRef:
    return ResultRef(job_id, data.source_key, data.target_key if target_needed else None, run)


def start(data: LoadedData, choice: RunChoice) -> ResultRef:
    """Submit (or join) the scoring of the loaded data; raises ZipFitError."""
    if data.target is None:
        raise ZipFitError("Load a source pool and a target set on the Data page first.")
    if choice.method == "zipfit":
        request = request_for(data, choice.codec, choice.level)
        return _ref(data, manager().submit(request), request.run)
    run = score_run(data, choice)
    run_id = manager().submit_method(choice.method, data.source.texts, data.target.texts, dict(choice.settings),
                                     source_fingerprint=data.source.fingerprint,
                                     target_fingerprint=data.target.fingerprint, run=run)
    return _ref(data, run_id, run)


def find(data: LoadedData, choice: RunChoice, declined: set[str] | frozenset = frozenset()) -> ResultRef | None:
    """Existing scores for this run, starting nothing: an opened score folder's, work running or queued in this
    process (unless this session let go of it), or a result in the cache, complete or partial."""
    if folder_id(data, choice) is not None:
        return _ref(data, folder_id(data, choice), data.folder.run, target_needed=False)
    if data.target is None:
        return None
    if choice.method != "zipfit":
        run = score_run(data, choice)
        run_id = manager().method_run_id(choice.method, dict(choice.settings),
                                         source_fingerprint=data.source.fingerprint,
                                         target_fingerprint=data.target.fingerprint)
        found = manager().find(run_id)
        if found is not None and (found.state == "done" or (found.state in ("running", "queued")
                                                             and run_id not in declined)):
            return _ref(data, run_id, run)
        adopted = manager().adopt_stored_method(choice.method, len(data.source.texts), dict(choice.settings),
                                                source_fingerprint=data.source.fingerprint,
                                                target_fingerprint=data.target.fingerprint)
        return _ref(data, adopted, run) if adopted else None
    request = request_for(data, choice.codec, choice.level)
    found = manager().find(request.key)
    if found is None or (found.work_id in declined and found.state != "done"):
        return None
    if found.state in ("done", "running", "queued") or manager().snapshot(found.work_id) is not None:
        return _ref(data, found.work_id, request.run)  # a partial result shows its preview; Start resumes it
    return None


def matches(ref: ResultRef | None, data: LoadedData | None) -> bool:
    """Whether a result belongs to the loaded data (a score folder's needs no targets)."""
    if ref is None or data is None or ref.source_key != data.source_key:
        return False
    return ref.target_key is None or ref.target_key == data.target_key


def is_for(ref: ResultRef, choice: RunChoice) -> bool:
    """Whether a result was computed with this method and these settings."""
    return ref.run.method_settings() == choice.recorded()


def still_known(ref: ResultRef, data: LoadedData) -> bool:
    """Whether the result can still be read (a method run may have been dropped from memory or the cache)."""
    if kind_of(ref.job_id) == "folder":
        return data.folder is not None
    return manager().find(ref.job_id) is not None


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
    method: str = "zipfit"

    @property
    def version(self) -> str:
        """Changes whenever the numbers change (a new preview round or the final result)."""
        return f"{self.job_id}:{self.targets_seen}:{int(self.complete)}"


def shown_scores(ref: ResultRef, data: LoadedData) -> ShownScores | None:
    """The result's scores: exact when complete, the latest preview while a job runs or stays partial."""
    kind, method = kind_of(ref.job_id), ref.run.method
    if kind == "folder":
        if data.folder is None:
            return None
        n_targets = data.folder.run.n_targets
        return ShownScores(ref.job_id, data.folder.scores, True, n_targets, n_targets, method)
    if kind == "method":
        scores = manager().result(ref.job_id)
        n_targets = len(data.target.texts) if data.target is not None else 0
        return None if scores is None else ShownScores(ref.job_id, scores, True, n_targets, n_targets, method)
    result = manager().result(ref.job_id)
    if result is not None:
        n_targets = manager().status(ref.job_id).n_targets
        return ShownScores(ref.job_id, np.asarray(result, dtype=np.float64), True, n_targets, n_targets, method)
    snapshot = manager().snapshot(ref.job_id)
    if snapshot is None or snapshot.is_sample:  # a first look covers a sample of rows: see `first_look`
        return None
    return ShownScores(ref.job_id, snapshot.scores, snapshot.complete, snapshot.targets_seen, snapshot.n_targets,
                       method)


def target_facts_of(shown: ShownScores) -> TargetFacts | None:
    """The exact ZIP-FIT pass's per-target facts of these scores (None: not ZIP-FIT, not exact, or a score folder)."""
    if not shown.complete or kind_of(shown.job_id) != "job":
        return None
    snapshot = manager().snapshot(shown.job_id)
    return snapshot.target_facts if snapshot is not None and snapshot.complete else None


def first_look(job_id: str) -> ScoreSnapshot | None:
    """A large pool's first preview, on a seeded sample of its rows, while the first full round runs."""
    snapshot = manager().snapshot(job_id) if kind_of(job_id) == "job" else None
    return snapshot if snapshot is not None and snapshot.is_sample else None


def zipfit_result(data: LoadedData, codec: str, level: int) -> ShownScores | None:
    """ZIP-FIT's exact scores at this codec and level, whichever method a page shows."""
    choice = zipfit_choice(codec, level)
    if (found := folder_id(data, choice)) is not None:
        return shown_scores(_ref(data, found, data.folder.run, target_needed=False), data)
    if data.target is None:
        return None
    job_id = request_for(data, codec, level).key
    result = manager().result(job_id)
    if result is None:
        return None
    n_targets = len(data.target.texts)
    return ShownScores(job_id, np.asarray(result, dtype=np.float64), True, n_targets, n_targets)


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


# -- the runs in the cache ------------------------------------------------------------------------------
def cache_items() -> list[CacheItem]:
    """Every scored run in the cache (ZIP-FIT jobs and method results), newest first; converted data sets are
    listed by `zipfit cache list`, not as runs."""
    return [item for item in list_cache(manager().cache_dir) if item.kind != "data"]


def computing_here(item: CacheItem) -> bool:
    """Whether work of this server is computing the entry now (removing it is refused)."""
    return manager().busy_reason(item) is not None


def work_id_of(item: CacheItem) -> str:
    return manager().work_id_of(item)


def remove_cached(key: str) -> CacheItem:
    """Remove a cache entry and forget its result in this server. Raises ZipFitError, removing nothing, while
    this server or another process computes it."""
    return manager().remove_cached(key)


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


def data_of_cached(item: CacheItem) -> tuple[DataChoice | None, DataChoice | None]:
    """The datasets a cached result was scored on, from the recipes its run record carries (None: not recorded,
    e.g. a result written before recipes were recorded, or by `zipfit score` on plain files)."""
    if item.run is None:
        return None, None
    return choice_of_recipe(item.run.source_recipe), choice_of_recipe(item.run.target_recipe)


def label_text(item: CacheItem) -> str:
    return item.label or "(no description)"
