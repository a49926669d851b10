"""A cut with the targets kept out: contamination removal and near-duplicate removal on top of `select`.

`curate` removes the flagged rows (`contamination`) and, when asked, every near-duplicate but the best of
its group (`near_duplicates`), refilling the cut from the next best rows, so top-K still keeps K rows. Rows
that enter by refilling can be near-duplicates themselves, so duplicates are looked for again until none
is left. `CuratedSelection.removed` says why each row was left out; `describe` goes into the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from zipfit_core.analysis.contamination import DEFAULT_MAX_MATCHES, DEFAULT_NGRAM, ContaminationFlags
from zipfit_core.analysis.near_duplicates import (
    DEFAULT_SHINGLE,
    DEFAULT_THRESHOLD,
    DuplicateGroups,
    MinHashes,
    near_duplicate_groups,
)
from zipfit_core.analysis.selection import Selection, SelectionRule, select
from zipfit_core.analysis.shaping import HAND_EXCLUDED, OVER_CAP, PATTERN_EXCLUDED, ShapedRows
from zipfit_core.bounds import MATCH_COUNTS
from zipfit_core.data.sources import plural
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.alignment import rank_by_score

MAX_DEDUP_ROUNDS = 20
REMOVED_COLUMNS = ("row", "reason", "reference", "reference_row", "match")
REMOVED_REASONS = ("exact", "ngram", "near-duplicate", HAND_EXCLUDED, PATTERN_EXCLUDED, OVER_CAP)
REFILL_NOTE = "removed rows are replaced by the next best rows, so the rule keeps as many rows as it would otherwise"


@dataclass(frozen=True)
class CurationSettings:
    """What to remove from a cut. Contamination removal is on by default; near-duplicate removal is not."""

    decontaminate: bool = True
    ngram: int = DEFAULT_NGRAM
    max_matches: int | None = DEFAULT_MAX_MATCHES  # an n-gram in more pool rows is boilerplate (None: none is)
    dedup: bool = False
    dedup_threshold: float = DEFAULT_THRESHOLD
    shingle: int = DEFAULT_SHINGLE

    def __post_init__(self) -> None:
        if self.ngram < 1:
            raise ZipFitError(f"`ngram` must be at least 1 word (got {self.ngram}); 13 is the usual choice.")
        if self.max_matches is not None:
            MATCH_COUNTS.require("`max_matches`", self.max_matches)
        if not 0 < self.dedup_threshold <= 1:
            raise ZipFitError(f"`dedup_threshold` is a Jaccard similarity in (0, 1] (got {self.dedup_threshold}).")


@dataclass(frozen=True)
class CuratedSelection:
    selection: Selection
    removed: pd.DataFrame  # REMOVED_COLUMNS, best-ranked first: the rows the cut would have kept otherwise
    settings: CurationSettings
    contamination: ContaminationFlags | None = None
    duplicates_removed: int = 0
    dedup_rounds: int = 0
    shaped: ShapedRows | None = None  # rows in and out by hand, patterns, caps

    @property
    def removes_rows(self) -> bool:
        """Whether this curation may leave rows out (else it only checked them)."""
        shaped = self.shaped is not None and bool(self.shaped.excluded or self.shaped.caps)
        return self.settings.decontaminate or self.settings.dedup or shaped

    @property
    def removed_any(self) -> bool:
        """Whether rows were left out of this cut (only then are they listed beside an export)."""
        return len(self.removed) > 0

    def counts(self) -> dict[str, int]:
        reasons = self.removed["reason"].value_counts()
        shown = REMOVED_REASONS if self.shaped is not None else REMOVED_REASONS[:3]  # by hand: when asked for
        return {reason: int(reasons.get(reason, 0)) for reason in shown}

    def spared_in_cut(self) -> int:
        """Rows of the cut that share only boilerplate n-grams with a reference (kept; see `contamination`)."""
        if self.contamination is None:
            return 0
        return int(self.contamination.spared.among(self.selection.rows, self.contamination.n_pool_rows).sum())

    def describe(self, removed_file: str | None = None) -> dict:
        """The curation part of an export manifest: settings, what was checked, counts removed, and the file that
        lists the removed rows (`removed_file`; None when no row was removed, as then none is written)."""
        content: dict = {"settings": asdict(self.settings), "removed": self.counts()}
        if self.removes_rows:
            content.update(refill=REFILL_NOTE, removed_rows_file=removed_file if self.removed_any else None)
        if self.contamination is not None:
            content["contamination"] = self.contamination.describe()
            content["spared_as_boilerplate"] = self.spared_in_cut()
        if self.settings.dedup:
            content["near_duplicates"] = {"rounds": self.dedup_rounds,
                                          "method": "MinHash with LSH (datasketch), word shingles"}
        return content


def curate(scores: np.ndarray, rule: SelectionRule, token_counts: np.ndarray | None,
           settings: CurationSettings, *, flags: ContaminationFlags | None = None,
           minhashes: MinHashes | None = None, cut: Callable[..., Selection] = select,
           shaped: ShapedRows | None = None) -> CuratedSelection:
    """The cut by `rule` without the flagged rows (when `settings.decontaminate`) and, with `settings.dedup`,
    with one row per near-duplicate group; see the module docstring. `cut(scores, rule, token_counts, excluded)`
    makes the cut (`select`, or the balanced rule with its facts bound); with `shaped` (rows in and out by hand,
    patterns, caps: `shaping.shape_rows`) it is also given `include=` and `caps=`. Rows always kept are never
    removed, not even as copies or near-duplicates."""
    scores = np.asarray(scores, dtype=np.float64)
    excluded = np.zeros(len(scores), dtype=bool)
    reasons: dict[int, tuple[str, str, int, str]] = {}
    extra: dict = {}
    included = np.zeros(len(scores), dtype=bool)
    if shaped is not None:
        extra = {"include": shaped.include, "caps": shaped.caps}
        included[shaped.include] = True
        for row, (reason, pattern) in shaped.excluded.items():
            excluded[row] = True
            reasons[row] = (reason, pattern, -1, "")
    if settings.decontaminate and flags is not None:
        if flags.n_pool_rows != len(scores):
            raise ZipFitError(f"The contamination flags are for {plural(flags.n_pool_rows, 'row')} but there "
                              f"{'is' if len(scores) == 1 else 'are'} {plural(len(scores), 'score')}: check the same "
                              "pool against the references again.")
        for row, kind, reference, reference_row, match in zip(flags.rows.tolist(), flags.kinds, flags.references,
                                                               flags.reference_rows.tolist(), flags.matches):
            if not included[row] and not excluded[row]:  # by hand first: its reason stays
                excluded[row] = True
                reasons[row] = (kind, reference, reference_row, match)
    selection = cut(scores, rule, token_counts, excluded, **extra)
    rounds, duplicates = 0, 0
    if settings.dedup:
        if minhashes is None:
            raise ZipFitError("Near-duplicate removal needs the pool's texts (MinHashes).")
        for rounds in range(1, MAX_DEDUP_ROUNDS + 1):
            groups: DuplicateGroups = near_duplicate_groups(minhashes, selection.rows, scores,
                                                            settings.dedup_threshold)
            kept_for = {row: kept for row, kept in groups.kept_for().items() if not included[row]}
            if not kept_for:
                break
            for row, kept in kept_for.items():
                excluded[row] = True
                reasons[row] = ("near-duplicate", "kept row", kept, "")
            duplicates += len(kept_for)
            selection = cut(scores, rule, token_counts, excluded, **extra)
    for row, group in selection.capped.items():
        reasons[row] = (OVER_CAP, group, -1, "")
    removed = _removed_rows(scores, rule, selection, excluded, reasons, included)
    return CuratedSelection(selection=selection, removed=removed, settings=settings, contamination=flags,
                            duplicates_removed=duplicates, dedup_rounds=rounds, shaped=shaped)


def _removed_rows(scores: np.ndarray, rule: SelectionRule, selection: Selection, excluded: np.ndarray,
                  reasons: dict[int, tuple[str, str, int, str]], included: np.ndarray) -> pd.DataFrame:
    """The excluded rows the cut would have reached (above the threshold, or ranked before its last row not kept
    by hand), and the rows skipped for a cap."""
    ranked = rank_by_score(scores)
    by_score = selection.rows[~included[selection.rows]]
    if rule.kind == "threshold":
        reached = ranked[scores[ranked] > rule.value]
    elif len(by_score):
        position = np.empty(len(scores), dtype=np.int64)
        position[ranked] = np.arange(len(ranked))
        reached = ranked[: position[by_score[-1]] + 1]
    else:
        reached = ranked[:0]
    out = excluded.copy()
    out[list(selection.capped)] = True
    rows = reached[out[reached]]
    records = [(int(row), *reasons[int(row)]) for row in rows]
    frame = pd.DataFrame.from_records(records, columns=["row", "reason", "reference", "reference_row", "match"])
    return frame.astype({"row": np.int64, "reference_row": np.int64})


REASON_WORDS = {"exact": "copy of a target or evaluation row", "ngram": "shares a run of words with a target or "
                "evaluation row", "near-duplicate": "near-duplicate of a better row", HAND_EXCLUDED: HAND_EXCLUDED,
                PATTERN_EXCLUDED: PATTERN_EXCLUDED, OVER_CAP: OVER_CAP}
BELOW_THE_CUT = "below the cut"


def why_out(curated: CuratedSelection, row: int) -> str | None:
    """Why `row` is not in the export, in words (None: it is): one of REASON_WORDS' values, or below the cut."""
    if bool(np.any(curated.selection.rows == row)):
        return None
    reasons = curated.removed.loc[curated.removed["row"] == row, "reason"]
    if len(reasons):
        return REASON_WORDS.get(str(reasons.iloc[0]), str(reasons.iloc[0]))
    if curated.shaped is not None and row in curated.shaped.excluded:
        return REASON_WORDS[curated.shaped.excluded[row][0]]
    return BELOW_THE_CUT


def reasons_out(curated: CuratedSelection) -> tuple[np.ndarray, list[str]]:
    """Why each pool row is not in the export, for all rows at once: codes into the returned labels (-1: in the
    export), the labels being `why_out`'s words; O(rows), for the Dropped view of any pool."""
    labels = [BELOW_THE_CUT, *dict.fromkeys(REASON_WORDS.values())]
    codes = np.zeros(curated.selection.total_rows, dtype=np.int8)
    if curated.shaped is not None:  # by hand or by a pattern, wherever the row ranks
        for row, (reason, _what) in curated.shaped.excluded.items():
            codes[row] = labels.index(REASON_WORDS[reason])
    removed = curated.removed
    for reason in removed["reason"].unique().tolist():
        rows = removed.loc[removed["reason"] == reason, "row"].to_numpy()
        codes[rows] = labels.index(REASON_WORDS.get(str(reason), BELOW_THE_CUT))
    codes[curated.selection.rows] = -1
    return codes, labels
