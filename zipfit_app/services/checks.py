"""Keeping the targets out: the contamination check and the cut's near-duplicate groups, as shared work.

Both run as background work of the process's `JobManager`, with ids made from what they depend on (the
pool's and references' fingerprints, the cut's rows), so every session asking the same question shares one
answer. Export removes what they find with `zipfit_core.analysis.curation.curate`, the function
`zipfit select` uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from zipfit_core.analysis.contamination import (
    DEFAULT_MAX_MATCHES,
    DEFAULT_NGRAM,
    ContaminationFlags,
    ReferenceTexts,
    find_contamination,
)
from zipfit_core.analysis.coverage import select_balanced
from zipfit_core.analysis.curation import CuratedSelection, CurationSettings, curate
from zipfit_core.analysis.explore import ScoreIndex
from zipfit_core.analysis.near_duplicates import DEFAULT_THRESHOLD, DuplicateGroups, MinHashes, near_duplicate_groups
from zipfit_core.analysis.selection import select
from zipfit_core.analysis.shaping import ShapedRows
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.work import WorkStatus
from zipfit_core.scoring.target_facts import TargetFacts

from ..state.view import DataChoice
from .loaders import load_choice, local_files
from .work import find, finished_result, run_function

try:
    from zipfit_core.data.demo import DEMO_DATASETS
except ImportError:  # an install without the bundled demo data
    DEMO_DATASETS = {}


@dataclass(frozen=True)
class CheckState:
    """Where the contamination check stands for the pool and its references."""

    status: WorkStatus | None
    flags: ContaminationFlags | None
    references: list[str]  # names, targets first
    problems: list[str]  # references that could not be loaded


def reference_choices(source: DataChoice | None) -> dict[str, DataChoice]:
    """Evaluation sets a user can add (the demo data sets and the data files under the data root), the source
    itself aside."""
    choices = {f"demo: {name}": DataChoice("demo", name) for name in DEMO_DATASETS}
    choices.update({f"file: {path}": DataChoice("local", path) for path in local_files()})
    if source is not None:
        choices = {label: choice for label, choice in choices.items()
                   if (choice.kind, choice.location) != (source.kind, source.location)}
    return choices


def load_references(target: tuple[str, LoadedTexts] | None, labels: Sequence[str],
                    choices: dict[str, DataChoice]) -> tuple[list[tuple[str, LoadedTexts]], list[str]]:
    """The targets (named) and the chosen evaluation sets, loaded; what could not be loaded, said."""
    found, problems = ([target] if target is not None else []), []
    for label in labels:
        if label not in choices:
            problems.append(f"{label}: not found under the data root any more")
            continue
        try:
            found.append((label, load_choice(choices[label])[0]))
        except ZipFitError as error:
            problems.append(f"{label}: {error}")
    return found, problems


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:24]


def check_state(source: LoadedTexts, references: list[tuple[str, LoadedTexts]], problems: list[str], *,
                what: str = "the pool") -> CheckState:
    """Start (or find) the contamination check of `source` (the pool, or the targets: `what`) against the
    references."""
    names = [name for name, _ in references]
    if not references:
        return CheckState(None, None, names, problems)
    work_id = "contamination-" + _digest(source.fingerprint, DEFAULT_NGRAM, DEFAULT_MAX_MATCHES,
                                         *(f"{name}={loaded.fingerprint}" for name, loaded in references))
    sets = [ReferenceTexts(name, loaded.texts) for name, loaded in references]
    status = run_function(work_id, "contamination",
                          lambda progress, cancelled: find_contamination(source.texts, sets, DEFAULT_NGRAM,
                                                                         max_matches=DEFAULT_MAX_MATCHES,
                                                                         progress=progress, cancel=cancelled),
                          total=len(source.texts), unit="rows",
                          running=f"checking {what} for copies of the references")
    return CheckState(status, finished_result(work_id), names, problems)


@st.cache_resource(max_entries=4, show_spinner=False)
def minhashes_for(fingerprint: str, _texts) -> MinHashes:
    """One pool's MinHash signatures, made as rows are asked for and kept for every later cut."""
    return MinHashes(_texts)


def duplicate_groups(source: LoadedTexts, index: ScoreIndex, version: str, rows: np.ndarray, cut_key: str,
                     start: bool) -> tuple[WorkStatus | None, DuplicateGroups | None]:
    """Near-duplicate groups among the cut's `rows` (background work, started only when `start`). The rows follow
    from the scores' version and `cut_key` (the kind of cut and its row count): the work's id needs no digest of
    them."""
    work_id = "near-duplicates-" + _digest(source.fingerprint, version, DEFAULT_THRESHOLD, cut_key)
    status = find(work_id)
    if status is None and start:
        minhashes, scores = minhashes_for(source.fingerprint, source.texts), index.scores
        status = run_function(work_id, "near-duplicates",
                              lambda progress, cancelled: near_duplicate_groups(minhashes, rows, scores,
                                                                                progress=progress),
                              total=len(rows), unit="rows", running="looking for near-duplicates in the cut")
    return status, finished_result(work_id) if status is not None else None


@st.cache_resource(max_entries=8, show_spinner="Removing copies and near-duplicates...")
def _curated(key: str, _scores, _rule, _tokens, _settings: CurationSettings, _flags, _minhashes,
             _facts, _shaped) -> CuratedSelection:
    cut = select if _facts is None else (lambda scores, rule, tokens, excluded, **hand:
                                         select_balanced(scores, rule, _facts, tokens, excluded, **hand))
    return curate(_scores, _rule, _tokens, _settings, flags=_flags, minhashes=_minhashes, cut=cut, shaped=_shaped)


def curated_selection(source: LoadedTexts, index: ScoreIndex, version: str, rule, settings: CurationSettings,
                      flags: ContaminationFlags | None, tokens: np.ndarray, facts: TargetFacts | None = None,
                      shaped: ShapedRows | None = None, shaping_key: str = "") -> CuratedSelection:
    """The export's cut with copies and near-duplicates removed as `settings` say (cached per question); with
    `facts` (of these scores), the balanced cut, as `zipfit select --balance targets` makes it; with `shaped`
    (named by `shaping_key`), rows by hand, patterns and caps applied as `zipfit select` applies them."""
    minhashes = minhashes_for(source.fingerprint, source.texts) if settings.dedup else None
    key = _digest(version, rule, settings, flags.describe() if flags else None, len(flags.rows) if flags else 0,
                  source.fingerprint, "balanced" if facts is not None else "by-score",
                  shaping_key if shaped is not None else "")
    return _curated(key, index.scores, rule, tokens, settings, flags, minhashes, facts, shaped)
