"""Which targets a cut serves, and a cut that serves them all (not the paper's rule).

ZIP-FIT ranks by the mean similarity over all targets, so a target set with a minority style gets a cut made for
the majority. With the per-target facts of the exact pass (`scoring/target_facts.py`: each target's k most
similar pool rows, its mean and spread over the pool):

    covered      a target is covered when one of its k most similar pool rows is kept
    above typical how far a near row stands above the target's typical similarity, in spreads (z):
                 a large value is a match; a small one is only the best there is
    balanced     `select_balanced`: each target's best rows in turn (every target's 1st, then every 2nd, ...),
                 then the rest by score, filling the same top-K / percent / token budget as `select`
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zipfit_core.analysis.compare import Overlap, composition, overlap
from zipfit_core.analysis.selection import Selection, SelectionRule, cut_in_order, select
from zipfit_core.analysis.shaping import CapGroup
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.alignment import rank_by_score
from zipfit_core.scoring.target_facts import TargetFacts

BALANCE_CHOICES = ("none", "targets")
BALANCED_RULE_NOTE = ("balanced over the targets (not the paper's rule): each target's nearest rows in turn, "
                      "then by score")


@dataclass(frozen=True)
class Coverage:
    """How many targets a cut serves; `best_kept` is, per target, the place (0 = nearest) of its nearest kept row
    among its k nearest, -1 when none of them is kept."""

    best_kept: np.ndarray
    k: int

    @property
    def targets(self) -> int:
        return len(self.best_kept)

    @property
    def covered(self) -> int:
        return int((self.best_kept >= 0).sum())

    @property
    def uncovered(self) -> list[int]:
        return np.flatnonzero(self.best_kept < 0).tolist()

    def to_dict(self) -> dict:
        """As `zipfit select --json` and the export manifest record it."""
        return {"targets": self.targets, "covered": self.covered, "uncovered": self.uncovered, "k": self.k}

    def describe(self) -> str:
        return f"{self.covered:,} of {self.targets:,} targets covered (one of their {self.k} nearest rows kept)"


def coverage_of(facts: TargetFacts, kept_nearest: np.ndarray) -> Coverage:
    """From a boolean (targets, k): whether each target's j-th nearest row is kept."""
    kept_nearest = kept_nearest & (facts.top_rows >= 0)
    best = np.where(kept_nearest.any(axis=1), kept_nearest.argmax(axis=1), -1)
    return Coverage(best.astype(np.int64), facts.k)


def coverage_of_rows(facts: TargetFacts, rows: np.ndarray, n_sources: int) -> Coverage:
    """The coverage of a cut given as its kept rows (a `Selection`'s)."""
    kept = np.zeros(n_sources, dtype=bool)
    kept[np.asarray(rows, dtype=np.int64)] = True
    return coverage_of(facts, kept[np.maximum(facts.top_rows, 0)])


def coverage_of_prefix(facts: TargetFacts, rank_of_row: np.ndarray, n_kept: int) -> Coverage:
    """The coverage of the best `n_kept` rows by score (Explore's cut): no mask over the pool, O(targets * k)."""
    return coverage_of(facts, rank_of_row[np.maximum(facts.top_rows, 0)] < n_kept)


def facts_for_pool(facts: TargetFacts | None, n_rows: int) -> TargetFacts | None:
    """The facts when they belong to a pool of `n_rows` rows and name at least one row (a result saved without
    them has none); otherwise None."""
    if facts is None or not facts.top_rows.size:
        return None
    highest = int(facts.top_rows.max())
    return facts if 0 <= highest < n_rows else None


def balance_unavailable(rule_kind: str, facts: TargetFacts | None) -> str | None:
    """Why a balanced cut cannot be made here (None: it can); `facts` as `facts_for_pool` gives them."""
    if facts is None:
        return ("it needs the per-target facts of the exact ZIP-FIT scores of this pool and target set (kept with "
                "them in the score cache): these scores have none")
    if rule_kind == "threshold":
        return "it fills a budget (top K, top percent or a token budget), not a score threshold"
    return None


@dataclass(frozen=True)
class BalanceComparison:
    """The paper's cut (by score) beside the balanced one at the same budget."""

    selections: dict[str, Selection]  # PLAIN_LABEL, BALANCED_LABEL
    coverages: dict[str, Coverage]
    overlap: Overlap
    composition: pd.DataFrame | None  # analysis.compare.composition, with a group column


PLAIN_LABEL, BALANCED_LABEL = "by score", "balanced"


def compare_balanced(scores: np.ndarray, rule: SelectionRule, facts: TargetFacts,
                     token_counts: np.ndarray | None = None, column_values=None) -> BalanceComparison:
    """Both cuts at `rule`'s budget: coverage of each, their overlap (Jaccard) and, given a column's values,
    composition."""
    selections = {PLAIN_LABEL: select(scores, rule, token_counts),
                  BALANCED_LABEL: select_balanced(scores, rule, facts, token_counts)}
    coverages = {name: coverage_of_rows(facts, chosen.rows, len(scores)) for name, chosen in selections.items()}
    pair = overlap(PLAIN_LABEL, selections[PLAIN_LABEL].rows, BALANCED_LABEL, selections[BALANCED_LABEL].rows)
    return BalanceComparison(selections, coverages, pair,
                             composition(selections, column_values) if column_values is not None else None)


def above_typical(facts: TargetFacts) -> np.ndarray:
    """(targets, k): how many spreads each near row's similarity stands above its target's mean (nan: no spread)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (facts.top_similarity - facts.mean[:, None]) / np.where(facts.spread > 0, facts.spread, np.nan)[:, None]


def served_targets(facts: TargetFacts, coverage: Coverage, target_texts: Sequence[str] | None = None,
                   preview_chars: int = 100) -> pd.DataFrame:
    """One row per target, worst served first: uncovered ones (least distinct nearest row first), then those whose
    nearest kept row is furthest down their list."""
    z = above_typical(facts)
    table = pd.DataFrame({
        "target": np.arange(facts.n_targets),
        "covered": coverage.best_kept >= 0,
        "nearest kept": np.where(coverage.best_kept >= 0, coverage.best_kept + 1, 0),  # 1 = its nearest row
        "nearest similarity": facts.top_similarity[:, 0],
        "nearest above typical": z[:, 0],
        "typical similarity": facts.mean,
        "spread": facts.spread,
    })
    if target_texts is not None:
        table.insert(1, "text", [" ".join(str(target_texts[i]).split())[:preview_chars] for i in range(facts.n_targets)])
    order = np.lexsort((table["target"], table["nearest above typical"].fillna(-np.inf),
                        -table["nearest kept"].to_numpy(), table["covered"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def nearest_rows_of_target(facts: TargetFacts, target: int, kept: np.ndarray | None = None) -> pd.DataFrame:
    """A target's k nearest pool rows: similarity, how far above its typical similarity, and (given) whether kept."""
    if not 0 <= target < facts.n_targets:
        raise ZipFitError(f"There is no target {target}: choose one of 0..{facts.n_targets - 1}.")
    present = facts.top_rows[target] >= 0
    table = pd.DataFrame({"place": np.arange(1, facts.k + 1)[present], "row": facts.top_rows[target][present],
                          "similarity": facts.top_similarity[target][present],
                          "above typical": above_typical(facts)[target][present]})
    if kept is not None:
        table["kept"] = np.asarray(kept, dtype=bool)[target][present]
    return table


def gaps_table(facts: TargetFacts, coverage: Coverage, target_texts: Sequence[str]) -> pd.DataFrame:
    """The uncovered targets, whole texts, to download: nothing kept is near them (find more data like them)."""
    rows = coverage.uncovered
    z = above_typical(facts)
    return pd.DataFrame({"target": rows, "text": [str(target_texts[i]) for i in rows],
                         "nearest similarity": facts.top_similarity[rows, 0] if rows else [],
                         "nearest above typical": z[rows, 0] if rows else []})


def balanced_order(scores: np.ndarray, facts: TargetFacts) -> np.ndarray:
    """Rows in the order the balanced rule takes them: every target's nearest row, then every target's second,
    ... (within a turn by score, ties by row; a row already taken is skipped), then the rest by score."""
    scores = np.asarray(scores, dtype=np.float64)
    ranked = rank_by_score(scores)
    rank_of_row = np.empty(len(scores), dtype=np.int64)
    rank_of_row[ranked] = np.arange(len(scores))
    turns = facts.top_rows.T  # (k, targets): turn j holds every target's j-th nearest row
    first = []
    for turn in turns:
        rows = np.unique(turn[turn >= 0])
        first.append(rows[np.argsort(rank_of_row[rows], kind="stable")])
    candidates = np.concatenate(first) if first else np.zeros(0, np.int64)
    _, where = np.unique(candidates, return_index=True)
    nearest = candidates[np.sort(where)]  # first turn each row appears in
    rest = np.ones(len(scores), dtype=bool)
    rest[nearest] = False
    return np.concatenate([nearest, ranked[rest[ranked]]]).astype(np.int64)


def balanced_ranking_scores(scores: np.ndarray, facts: TargetFacts) -> np.ndarray:
    """Scores whose ranking is `balanced_order` (the first row highest): how a method-by-score consumer, the proxy
    evaluation, trains on the balanced cut's rows in the order the rule takes them."""
    order = balanced_order(scores, facts)
    ranking = np.empty(len(order), dtype=np.float64)
    ranking[order] = np.arange(len(order), 0, -1, dtype=np.float64)
    return ranking


def select_balanced(scores: np.ndarray, rule: SelectionRule, facts: TargetFacts,
                    token_counts: np.ndarray | None = None, excluded: np.ndarray | None = None,
                    include: np.ndarray | None = None, caps: Sequence[CapGroup] = ()) -> Selection:
    """`select`'s budget (top-K, top percent, token budget) filled in `balanced_order`: every target is served
    before any is served twice. Not the paper's rule (say so where it is shown or recorded)."""
    if rule.kind == "threshold":
        raise ZipFitError("A balanced cut fills a budget: use --top-k, --top-percent or --token-budget, "
                          "not a threshold.")
    scores = np.asarray(scores, dtype=np.float64)
    if facts.top_rows.size and int(facts.top_rows.max()) >= len(scores):
        raise ZipFitError("The per-target facts are for another pool than these scores: score this pool again.")
    return cut_in_order(balanced_order(scores, facts), scores, rule, token_counts, excluded, include, caps)
