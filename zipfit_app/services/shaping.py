"""The hand shaping of a run's cut, kept with the run on disk (`zipfit_core.store.shaping_log`), and what it
resolves to on a pool (`zipfit_core.analysis.shaping.shape_rows`: patterns matched batch by batch, cap groups),
computed once per pool and shaping and shared by every session."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import streamlit as st

from zipfit_core.analysis.coverage import select_balanced
from zipfit_core.analysis.selection import Selection, SelectionRule, select
from zipfit_core.analysis.shaping import ShapedRows, Shaping, shape_rows
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.target_facts import TargetFacts
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.shaping_log import read_log, record_state, undo_state

from .work import manager


@dataclass(frozen=True)
class RunShaping:
    """A run's current shaping as read once per script run: the shaping, its name in cache keys, whether a change
    can be undone, and why a saved one could not be used (it then starts unshaped)."""

    shaping: Shaping
    key: str
    can_undo: bool
    problem: str | None


def current_shaping(run: ScoreRun) -> RunShaping:
    """The run's shaping from disk (read on every script run: another session of the same run may change it)."""
    log = read_log(manager().cache_dir, run)
    try:
        shaping, problem = Shaping.from_dict(log.current), log.problem
    except (ZipFitError, KeyError, TypeError, ValueError) as error:
        shaping, problem = Shaping(), f"the saved shaping of this run is not valid any more ({error}); the cut is unshaped"
    return RunShaping(shaping, shaping_digest(shaping), log.can_undo, problem)


def record(run: ScoreRun, shaping: Shaping) -> None:
    record_state(manager().cache_dir, run, shaping.to_dict())


def undo(run: ScoreRun) -> None:
    undo_state(manager().cache_dir, run)


def shaping_digest(shaping: Shaping) -> str:
    """Names a shaping in cache keys and work ids."""
    return hashlib.sha256(json.dumps(shaping.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


@st.cache_resource(max_entries=8, show_spinner="Matching the patterns over the pool...")
def _shaped_rows(fingerprint: str, digest: str, _shaping: Shaping, _source: LoadedTexts) -> ShapedRows:
    return shape_rows(_shaping, _source.texts, _source.table, len(_source.texts))


def shaped_rows(source: LoadedTexts, hand: RunShaping) -> ShapedRows:
    """The run's shaping resolved on the pool (ZipFitError: a row outside it, an unknown cap column or value)."""
    return _shaped_rows(source.fingerprint, hand.key, hand.shaping, source)


@st.cache_resource(max_entries=8, show_spinner="Shaping the cut...")
def shaped_selection(version: str, kind: str, value: float, digest: str, balanced: bool, _scores: np.ndarray,
                     _tokens: np.ndarray | None, _shaped: ShapedRows | None, _facts: TargetFacts | None) -> Selection:
    """The cut of these scores with rows by hand, patterns and caps (and balanced over the targets with `_facts`),
    cached by scores version, rule, shaping and order (ZipFitError: caps that cannot hold, ...)."""
    rule = SelectionRule(kind, value)
    hand: dict = {}
    excluded = None
    if _shaped is not None:
        hand = {"include": _shaped.include, "caps": _shaped.caps}
        excluded = np.zeros(len(_scores), dtype=bool)
        excluded[_shaped.excluded_rows] = True
    if balanced:
        return select_balanced(_scores, rule, _facts, _tokens, excluded, **hand)
    return select(_scores, rule, _tokens, excluded, **hand)
