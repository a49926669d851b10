"""Comparing methods on the same data: what each keeps at one budget, and how the scores relate.

Every input is a mapping from a method name (any label) to its scores over the same source rows.
- `kept_sets`: each method's selection at one budget (top-K, top percent or token budget; the same
  rule for all; ties broken by row index as everywhere else);
- `overlaps`: for each pair of methods, kept counts, intersection, union and Jaccard = |A & B| / |A | B|;
- `rank_correlations`: Spearman's rho and Kendall's tau-b between the full score vectors of each pair;
- `composition`: rows kept per value of a metadata column (e.g. `source`), side by side with the pool;
- `exclusive_rows`: the rows only one method keeps, in that method's rank order;
- `length_bias`: for each method, Spearman's rho between score and length in characters, and Pearson's r
  between score and ln(length): positive = favours long rows, negative = favours short rows;
- `length_profile`: for each method and each band of lengths, where its rows rank (median percentile and
  quartiles): the same bias drawn as a few lines instead of a point per row;
- `selection_measures` (with the texts): each selection's KL reduction toward the targets (DSIR's measure) and
  its compression ratio (redundancy); see `selection_measures.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from zipfit_core.analysis.selection import Selection, SelectionRule, select
from zipfit_core.analysis.selection_measures import SelectionMeasures, selection_measures
from zipfit_core.errors import ZipFitError

OTHER_VALUES = "(other)"
MISSING_VALUE = "(missing)"


def _checked_scores(scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in scores.items()}
    lengths = {len(values) for values in arrays.values()}
    if len(lengths) > 1:
        raise ZipFitError("The methods were scored on different source sets (row counts differ): "
                          "score the same source pool with each method.")
    return arrays


def kept_sets(scores: Mapping[str, np.ndarray], rule: SelectionRule,
              token_counts: np.ndarray | None = None) -> dict[str, Selection]:
    """Each method's selection under the same budget."""
    if rule.kind == "threshold":
        raise ZipFitError("Compare methods at a budget (top-K, top percent or a token budget): "
                          "a score threshold means something different for each method.")
    return {name: select(values, rule, token_counts) for name, values in _checked_scores(scores).items()}


@dataclass(frozen=True)
class Overlap:
    """How two kept sets overlap."""

    method_a: str
    method_b: str
    kept_a: int
    kept_b: int
    intersection: int
    union: int

    @property
    def jaccard(self) -> float:
        return self.intersection / self.union if self.union else 1.0  # two empty sets are the same set


def overlap(name_a: str, rows_a: Sequence[int], name_b: str, rows_b: Sequence[int]) -> Overlap:
    set_a, set_b = set(map(int, rows_a)), set(map(int, rows_b))
    return Overlap(name_a, name_b, len(set_a), len(set_b), len(set_a & set_b), len(set_a | set_b))


def overlaps(selections: Mapping[str, Selection]) -> pd.DataFrame:
    """One row per pair of methods: kept_a, kept_b, intersection, union, jaccard."""
    records = []
    for (name_a, sel_a), (name_b, sel_b) in combinations(selections.items(), 2):
        pair = overlap(name_a, sel_a.rows, name_b, sel_b.rows)
        records.append({"method_a": name_a, "method_b": name_b, "kept_a": pair.kept_a, "kept_b": pair.kept_b,
                        "intersection": pair.intersection, "union": pair.union, "jaccard": pair.jaccard})
    return pd.DataFrame.from_records(
        records, columns=["method_a", "method_b", "kept_a", "kept_b", "intersection", "union", "jaccard"])


def rank_correlations(scores: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """One row per pair of methods: Spearman's rho and Kendall's tau-b over all rows (NaN if a side is constant)."""
    from scipy.stats import kendalltau, spearmanr

    arrays = _checked_scores(scores)
    records = []
    for (name_a, a), (name_b, b) in combinations(arrays.items(), 2):
        constant = len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0
        records.append({"method_a": name_a, "method_b": name_b,
                        "spearman": np.nan if constant else float(spearmanr(a, b).statistic),
                        "kendall": np.nan if constant else float(kendalltau(a, b).statistic)})
    return pd.DataFrame.from_records(records, columns=["method_a", "method_b", "spearman", "kendall"])


def _category_labels(values: Sequence, max_categories: int) -> pd.Series:
    labels = pd.Series(values, dtype=object).map(
        lambda value: MISSING_VALUE if value is None or value != value else str(value))
    common = labels.value_counts().index[:max_categories]
    return labels.where(labels.isin(common), OTHER_VALUES)


def composition(selections: Mapping[str, Selection], column_values: Sequence,
                max_categories: int = 20) -> pd.DataFrame:
    """Rows per value of a metadata column: the pool, then each method's kept rows, counts and shares.

    Values beyond the `max_categories` most frequent in the pool are pooled as "(other)".
    Columns: `pool`, `pool_share`, then `<method>` and `<method>_share` for each method.
    """
    labels = _category_labels(column_values, max_categories)
    table = pd.DataFrame({"pool": labels.value_counts()})
    table["pool_share"] = table["pool"] / max(1, len(labels))
    for name, chosen in selections.items():
        if len(chosen.rows) and int(np.max(chosen.rows)) >= len(labels):
            raise ZipFitError("The metadata column has fewer rows than the scored source pool.")
        counts = labels.iloc[np.asarray(chosen.rows, dtype=np.int64)].value_counts()
        table[name] = counts.reindex(table.index, fill_value=0).astype(np.int64)
        table[f"{name}_share"] = table[name] / max(1, chosen.n_rows)
    table.index.name = "value"
    return table


def exclusive_rows(selections: Mapping[str, Selection]) -> dict[str, np.ndarray]:
    """For each method, the rows it keeps that no other method keeps, in its own rank order."""
    exclusive = {}
    for name, chosen in selections.items():
        others: set[int] = set()
        for other_name, other in selections.items():
            if other_name != name:
                others.update(map(int, other.rows))
        exclusive[name] = np.array([row for row in map(int, chosen.rows) if row not in others], dtype=np.int64)
    return exclusive


def length_bias(scores: Mapping[str, np.ndarray], lengths: np.ndarray) -> pd.DataFrame:
    """Per method: Spearman(score, length) and Pearson(score, ln length), over all rows."""
    from scipy.stats import pearsonr, spearmanr

    arrays = _checked_scores(scores)
    lengths = np.asarray(lengths, dtype=np.float64)
    log_lengths = np.log(np.maximum(lengths, 1.0))
    records = []
    for name, values in arrays.items():
        if len(values) != len(lengths):
            raise ZipFitError("Lengths and scores cover different rows: give one length per scored row.")
        constant = len(values) < 2 or np.ptp(values) == 0 or np.ptp(lengths) == 0
        records.append({
            "method": name, "rows": len(values),
            "spearman_score_length": np.nan if constant else float(spearmanr(values, lengths).statistic),
            "pearson_score_log_length": np.nan if constant else float(pearsonr(values, log_lengths).statistic),
        })
    return pd.DataFrame.from_records(
        records, columns=["method", "rows", "spearman_score_length", "pearson_score_log_length"])


def length_profile(scores: Mapping[str, np.ndarray], lengths: np.ndarray, n_bins: int = 12) -> pd.DataFrame:
    """Per method and length band (equal-count bands of length in characters, shortest first): each row's score
    as a percentile within its method (so methods on different scales share one axis), summarised by the
    band's median and quartiles. Columns: method, band, rows, length_low, length_high, length_median,
    percentile_median, percentile_q25, percentile_q75."""
    arrays = _checked_scores(scores)
    lengths = np.asarray(lengths, dtype=np.float64)
    bands = np.array_split(np.argsort(lengths, kind="stable"), max(1, min(n_bins, len(lengths))))
    records = []
    for name, values in arrays.items():
        if len(values) != len(lengths):
            raise ZipFitError("Lengths and scores cover different rows: give one length per scored row.")
        percentiles = pd.Series(values).rank(pct=True).to_numpy()
        for number, rows in enumerate(band for band in bands if len(band)):
            within = percentiles[rows]
            q25, median, q75 = (np.nanpercentile(within, (25, 50, 75)) if np.isfinite(within).any()
                                else (np.nan, np.nan, np.nan))
            records.append({"method": name, "band": number, "rows": len(rows),
                            "length_low": float(lengths[rows].min()), "length_high": float(lengths[rows].max()),
                            "length_median": float(np.median(lengths[rows])), "percentile_median": float(median),
                            "percentile_q25": float(q25), "percentile_q75": float(q75)})
    return pd.DataFrame.from_records(records, columns=[
        "method", "band", "rows", "length_low", "length_high", "length_median", "percentile_median",
        "percentile_q25", "percentile_q75"])


def score_length_sample(scores: Mapping[str, np.ndarray], lengths: np.ndarray, max_points: int = 5000,
                        seed: int = 0) -> pd.DataFrame:
    """Long-form (method, row, length, score) for a scatter plot: the same seeded sample of rows for every method."""
    arrays = _checked_scores(scores)
    lengths = np.asarray(lengths)
    n_rows = len(lengths)
    rows = np.arange(n_rows)
    if n_rows > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(n_rows, size=max_points, replace=False))
    frames = [pd.DataFrame({"method": name, "row": rows, "length": lengths[rows], "score": values[rows]})
              for name, values in arrays.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["method", "row", "length", "score"])


@dataclass
class Comparison:
    """Everything the Compare page and `zipfit compare` show, for one budget."""

    rule: SelectionRule
    selections: dict[str, Selection]
    overlaps: pd.DataFrame
    correlations: pd.DataFrame
    exclusive: dict[str, np.ndarray]
    length_bias: pd.DataFrame | None
    composition: pd.DataFrame | None
    measures: SelectionMeasures | None = None


def compare_methods(scores: Mapping[str, np.ndarray], rule: SelectionRule, *,
                    token_counts: np.ndarray | None = None, lengths: np.ndarray | None = None,
                    column_values: Sequence | None = None, texts: Sequence[str] | None = None,
                    targets: Sequence[str] | None = None) -> Comparison:
    """Compare two or more methods' scores on the same rows at one budget; with the pool's `texts` (and the
    `targets`), each selection's KL reduction and compression ratio too."""
    if len(scores) < 2:
        raise ZipFitError("Choose at least two methods to compare.")
    selections = kept_sets(scores, rule, token_counts)
    return Comparison(
        rule=rule,
        selections=selections,
        overlaps=overlaps(selections),
        correlations=rank_correlations(scores),
        exclusive=exclusive_rows(selections),
        length_bias=length_bias(scores, lengths) if lengths is not None else None,
        composition=composition(selections, column_values) if column_values is not None else None,
        measures=selection_measures(selections, texts, targets) if texts is not None else None,
    )
