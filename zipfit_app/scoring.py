"""Scoring for the app: jobs in the process-wide `JobManager`, and the scores a page should show.

A session remembers only the id of its job (the job's cache key) and which datasets and settings
it was for; the job runs in the server process, so leaving the page or closing the tab does not stop
it, and another session asking for the same work joins it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import numpy as np
import streamlit as st

from zipfit_core.errors import ZipFitError
from zipfit_core.explore import DataChoice, ViewState, decode_view, encode_view
from zipfit_core.jobs import CachedResult, JobManager, JobStatus, ScoreRequest
from zipfit_core.loading import LoadedTexts
from zipfit_core.selectors import recorded_settings
from zipfit_core.storage import ScoreRun

from . import datasets

JOB_KEY = "score_job"
VIEW_MARK = " | view: "  # a job label carries the view's query string, so a cached result can be reopened


def manager() -> JobManager:
    return JobManager.shared()


@dataclass(frozen=True)
class JobBinding:
    """Which job a session follows, and for which loaded datasets and settings."""

    job_id: str
    source_key: str
    target_key: str
    codec: str
    level: int


def _loaded_keys() -> tuple[str, str] | None:
    source, target = (st.session_state.get(f"loaded_{role}") for role in datasets.ROLES)
    return (source[1], target[1]) if source and target else None


def request_for(source: LoadedTexts, target: LoadedTexts, view: ViewState) -> ScoreRequest:
    label = f"{datasets.describe(view.source)} -> {datasets.describe(view.target)}"
    query = urlencode({key: value for key, value in encode_view(
        ViewState(source=view.source, target=view.target, codec=view.codec, level=view.level)).items()
        if key not in ("cut", "v")})
    return ScoreRequest(source_texts=source.texts, target_texts=target.texts, codec=view.codec, level=view.level,
                        source_fingerprint=source.fingerprint, target_fingerprint=target.fingerprint,
                        label=label + VIEW_MARK + query)


def start(source: LoadedTexts, target: LoadedTexts, view: ViewState) -> str:
    """Submit (or join) the scoring of the loaded datasets; raises ZipFitError."""
    keys = _loaded_keys()
    if keys is None:
        raise ZipFitError("Load a source pool and a target set on the Data page first.")
    job_id = manager().submit(request_for(source, target, view))
    st.session_state[JOB_KEY] = JobBinding(job_id, keys[0], keys[1], view.codec, view.level)
    return job_id


def attach_cached(source: LoadedTexts, target: LoadedTexts, view: ViewState) -> str | None:
    """Follow an existing job or cached result for this work without starting anything new."""
    keys = _loaded_keys()
    if keys is None:
        return None
    job_id = request_for(source, target, view).settings().key
    try:
        status = manager().status(job_id)
    except ZipFitError:
        return None
    if status.state in ("done", "running", "queued"):
        st.session_state[JOB_KEY] = JobBinding(job_id, keys[0], keys[1], view.codec, view.level)
        return job_id
    return None


def current_job(view: ViewState) -> str | None:
    """The session's job if it still matches the loaded datasets and the view's codec and level."""
    binding: JobBinding | None = st.session_state.get(JOB_KEY)
    if binding is None or _loaded_keys() != (binding.source_key, binding.target_key):
        return None
    if (binding.codec, binding.level) != (view.codec, view.level):
        return None
    return binding.job_id


def status(job_id: str) -> JobStatus:
    return manager().status(job_id)


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


def score_run(view: ViewState, source: LoadedTexts, target: LoadedTexts) -> ScoreRun:
    """How the scores were made, for the export manifest: with the recipes that load both datasets again
    (a local file's location is relative to the app's data root)."""
    return ScoreRun.for_texts(source, target, source_name=datasets.describe(view.source),
                              target_name=datasets.describe(view.target), codec=view.codec, level=view.level,
                              method="zipfit",
                              settings=recorded_settings("zipfit", {"codec": view.codec, "level": view.level}))


def cached_results() -> list[CachedResult]:
    return manager().cached_results()


def view_of_cached(result: CachedResult) -> tuple[DataChoice | None, DataChoice | None]:
    """The datasets a cached result was scored on, when the app made it (the CLI's have none)."""
    if VIEW_MARK not in result.label:
        return None, None
    query = result.label.split(VIEW_MARK, 1)[1]
    view, _ = decode_view(dict(parse_qsl(query)))
    return view.source, view.target


def label_text(result: CachedResult) -> str:
    return result.label.split(VIEW_MARK, 1)[0] or "(scored outside the app)"
