"""What the Compare page computes, cached by a version of the scores: the methods' scores that exist, the
whole-pool numbers, the selections at a budget, length profiles, and the key a comparison's results belong to.

ZIP-FIT comes from its job or an opened score folder at the view's codec and level, the length-debiased
variant is derived from those, and the other methods come from the background runs and their on-disk cache,
so a method computed on the Score or Compare page is reused on the other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import streamlit as st

from zipfit_core.analysis.compare import (
    composition,
    exclusive_rows,
    kept_sets,
    length_bias,
    length_profile,
    overlaps,
    rank_correlations,
)
from zipfit_core.analysis.coverage import BalanceComparison, compare_balanced
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.analysis.selection_measures import selection_measures
from zipfit_core.scoring.baselines import compressed_sizes, length_debiased
from zipfit_core.scoring.methods import method_spec

from . import methods
from .loaders import LoadedData
from .scores import method_result, zipfit_result

ZIPFIT_BASED = ("zipfit", "zipfit-debiased")


@st.cache_resource(max_entries=4, show_spinner="Measuring compressed lengths...")
def _debiased(version: str, codec: str, level: int, _scores: np.ndarray, _texts: list[str]) -> np.ndarray:
    return length_debiased(_scores, compressed_sizes(_texts, codec, level))


@dataclass
class MethodScores:
    """The chosen methods' scores that exist, labelled for tables, and what is still missing."""

    scores: dict[str, np.ndarray]  # short label -> scores
    specs: dict[str, str]  # short label -> method spec
    version: str  # changes whenever any of the numbers change
    missing: list[str]


def collect_scores(data: LoadedData, codec: str, level: int, settings: dict[str, dict]) -> MethodScores:
    """Whatever is already computed for the chosen methods (`settings`' keys), never computing."""
    zipfit = zipfit_result(data, codec, level)
    source, target = data.source, data.target
    found: dict[str, np.ndarray] = {}
    versions: dict[str, str] = {}
    missing: list[str] = []
    for name, chosen in settings.items():
        spec = method_spec(name, chosen)
        if name in ZIPFIT_BASED:
            values = None if zipfit is None else zipfit.scores if name == "zipfit" else _debiased(
                zipfit.version, codec, level, zipfit.scores, source.texts)
            version = f"{name}:{zipfit.version if zipfit else ''}:{codec}:{level}"
        else:
            values = method_result(name, source, target, chosen) if target is not None else None
            version = f"{spec}:{source.fingerprint}:{target.fingerprint if target is not None else ''}"
        if values is None:
            missing.append(name)
        else:
            found[spec], versions[spec] = values, version
    labels = {spec: _short(spec, found) for spec in found}
    return MethodScores({labels[spec]: values for spec, values in found.items()},
                        {labels[spec]: spec for spec in found},
                        json.dumps({labels[spec]: version for spec, version in versions.items()}, sort_keys=True),
                        missing)


def _short(spec: str, found: dict[str, np.ndarray]) -> str:
    """The method's label, or the whole spec when the same method appears twice."""
    name = spec.split(":")[0]
    return methods.label(name) if sum(key.split(":")[0] == name for key in found) == 1 else spec


def comparison_key(data: LoadedData, scores: MethodScores) -> str:
    """What a comparison's results belong to: the pool, the targets and every method's numbers."""
    target = data.target.fingerprint if data.target is not None else ""
    return hashlib.sha256(f"{data.source.fingerprint}\x1f{target}\x1f{scores.version}".encode()).hexdigest()[:24]


@st.cache_resource(max_entries=4, show_spinner="Comparing the rankings...")
def whole_pool(version: str, _scores: dict[str, np.ndarray], _lengths: np.ndarray):
    """What does not depend on the budget: rank correlations and length bias (seconds at a million rows)."""
    return rank_correlations(_scores), length_bias(_scores, _lengths)


@st.cache_resource(max_entries=16, show_spinner=False)
def at_budget(version: str, kind: str, value: float, column: str | None, _scores: dict[str, np.ndarray],
              _tokens: np.ndarray | None, _values: list | None):
    """The selections at one budget: kept rows, overlaps, rows only one method keeps, composition."""
    selections = kept_sets(_scores, SelectionRule(kind, value), _tokens)
    return (selections, overlaps(selections), exclusive_rows(selections),
            composition(selections, _values) if _values is not None else None)


@st.cache_resource(max_entries=8, show_spinner="Balancing the cut over the targets...")
def balanced_comparison(version: str, kind: str, value: float, column: str | None, _scores: np.ndarray, _facts,
                        _tokens: np.ndarray | None, _values: list | None) -> BalanceComparison:
    """ZIP-FIT's cut by score beside the balanced one at one budget (`analysis.coverage.compare_balanced`)."""
    return compare_balanced(_scores, SelectionRule(kind, value), _facts, _tokens, _values)


@st.cache_resource(max_entries=8, show_spinner="Measuring each selection (KL reduction, compression ratio)...")
def whole_selections(version: str, kind: str, value: float, target: str, _selections: dict, _texts, _targets):
    """Each selection's KL reduction toward the targets and compression ratio (`analysis.selection_measures`);
    `target` is the targets' fingerprint ("" without targets)."""
    return selection_measures(_selections, _texts, _targets)


@st.cache_resource(max_entries=4, show_spinner=False)
def length_view(version: str, _scores: dict[str, np.ndarray], _lengths: np.ndarray):
    """Each method's score percentiles over bands of length (`analysis.compare.length_profile`)."""
    return length_profile(_scores, _lengths)
