"""The numbers behind the app's Explore page, with no UI: fast enough per cut change at 1,000,000 rows.

Work that depends only on the scores (ranking, cumulative tokens, histogram bins, groups) is done
once in `build_score_index` / `build_group_index` / `score_histogram`; a cut change then costs a
binary search plus one `bincount` over the kept rows.
The cut semantics are those of `zipfit_core.selection.select` (tests check they agree row for row),
so the counts the page shows are the rows an export writes. Score against length comes from
`zipfit_core.compare` (`score_length_sample`, `length_bias`), shared with the Compare page.

The state that defines a view (datasets, settings, cut) is encoded to and decoded from flat string
pairs for the URL query string by `encode_view` / `decode_view`.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from zipfit_core.analysis.selection import RULE_KINDS, RankedTokens, Selection, SelectionRule
from zipfit_core.data.sources import plural
from zipfit_core.data.texts import texts_at
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.alignment import rank_by_score

MISSING_GROUP = "(missing)"
OTHER_GROUP = "(other)"
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ScoreIndex:
    """Scores with their ranking and running token totals, computed once per scored dataset; the rank of every row
    is made on first use (a table of a few rows finds theirs by binary search), so a first view waits for one sort
    (none when the scores come with their stored ranking)."""

    scores: np.ndarray  # float64, in row order
    ranked: np.ndarray  # row indices best first (int32 below 2**31 rows); equal scores in row order (as `select`)
    n_chars: np.ndarray | None  # text length of each row, in row order
    token_counts: np.ndarray | None  # tokens of each row, in row order
    ranked_tokens: RankedTokens | None  # tokens of any number of best rows

    @property
    def n_rows(self) -> int:
        return len(self.scores)

    @property
    def total_tokens(self) -> int | None:
        return None if self.ranked_tokens is None else self.ranked_tokens.total

    @cached_property
    def rank_of_row(self) -> np.ndarray:
        """The inverse of `ranked`: 0 for the best row."""
        ranks = np.empty(self.n_rows, dtype=self.ranked.dtype)
        ranks[self.ranked] = np.arange(self.n_rows, dtype=self.ranked.dtype)
        return ranks

    def ranks_of(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The rank (0 for the best) of each of a few rows, by binary search along the ranking, where equal scores
        stand in row order: no inverse of the whole ranking is made for a table of rows."""
        rows = np.asarray(rows, dtype=np.int64)
        ranks = np.empty(len(rows), dtype=np.int64)
        for position, row in enumerate(rows.tolist()):
            score = float(self.scores[row])
            if math.isnan(score):  # NaN rank last
                first, last = self.ranks_passing(lambda value: not math.isnan(value)), self.n_rows
            else:
                first = self.ranks_passing(lambda value: value > score)
                last = self.ranks_passing(lambda value: value >= score)
            ranks[position] = first + int(np.searchsorted(self.ranked[first:last], row))
        return ranks

    def score_of_rank(self, rank: int) -> float:
        return float(self.scores[self.ranked[rank]])

    def ranks_passing(self, test: Callable[[float], bool]) -> int:
        """How many best ranks pass `test` (true, then false along the ranking): a binary search, no array made."""
        return bisect.bisect_left(range(self.n_rows), True, key=lambda rank: not test(self.score_of_rank(rank)))

    def score_range(self) -> tuple[float, float]:
        """The lowest and highest finite score ((0, 1) when none is); computed once (every rerun asks)."""
        return self._score_range

    @cached_property
    def _score_range(self) -> tuple[float, float]:
        finite = np.isfinite(self.scores)
        if not finite.any():
            return 0.0, 1.0
        return (float(np.min(self.scores, where=finite, initial=np.inf)),
                float(np.max(self.scores, where=finite, initial=-np.inf)))


def build_score_index(scores: np.ndarray, *, token_counts: np.ndarray | None = None,
                      n_chars: np.ndarray | None = None) -> ScoreIndex:
    """Rank the scores once (O(n log n)); every cut afterwards is cheap. Counts are kept as given (not copied)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    for name, values in (("token_counts", token_counts), ("n_chars", n_chars)):
        if values is not None and len(values) != n:
            raise ZipFitError(f"{name} has {plural(len(values), 'entry', 'entries')} for {plural(n, 'score')}: "
                              "they must match row for row.")
    ranked = rank_by_score(scores)
    along = None
    if token_counts is not None:
        token_counts = np.asarray(token_counts)
        along = RankedTokens(token_counts, ranked)
    return ScoreIndex(scores=scores, ranked=ranked, n_chars=None if n_chars is None else np.asarray(n_chars),
                      token_counts=token_counts, ranked_tokens=along)


@dataclass(frozen=True)
class CutSummary:
    """What a cut keeps: the first `n_kept` rows of the ranking, with the token accounting."""

    rule: SelectionRule
    n_kept: int
    n_rows: int
    tokens_kept: int | None
    total_tokens: int | None
    last_row_tokens: int | None  # token budget only: tokens kept of the truncated last row
    lowest_kept_score: float | None
    highest_dropped_score: float | None

    @property
    def percent_kept(self) -> float:
        return 100.0 * self.n_kept / self.n_rows if self.n_rows else 0.0

    @property
    def percent_tokens_kept(self) -> float | None:
        if self.tokens_kept is None or not self.total_tokens:
            return None
        return 100.0 * self.tokens_kept / self.total_tokens


def kept_count(index: ScoreIndex, rule: SelectionRule) -> tuple[int, int | None]:
    """(rows kept, tokens of the truncated last row or None), exactly as `select` decides."""
    n = index.n_rows
    if rule.kind == "threshold":
        # Rows with score > value form a prefix of the ranking; NaN sorts last and never passes.
        return index.ranks_passing(lambda score: score > rule.value), None
    if rule.kind == "top_k":
        return min(int(rule.value), n), None
    if rule.kind == "top_percent":
        return min(int(math.floor(n * rule.value / 100 + 1e-9)), n), None
    if index.ranked_tokens is None:
        raise ZipFitError("A token budget needs token counts for the rows.")
    budget = int(rule.value)
    n_whole = index.ranked_tokens.rows_within(budget)
    used = index.ranked_tokens.prefix(n_whole)
    if n_whole < n and used < budget:
        return n_whole + 1, budget - used
    return n_whole, None


def summarize_cut(index: ScoreIndex, rule: SelectionRule) -> CutSummary:
    """Counts for one cut: O(log n), the per-slider-move work."""
    n_kept, last_row_tokens = kept_count(index, rule)
    tokens_kept = None
    if index.ranked_tokens is not None:
        tokens_kept = index.ranked_tokens.prefix(n_kept)
        if last_row_tokens is not None:
            tokens_kept += last_row_tokens - int(index.token_counts[index.ranked[n_kept - 1]])
    return CutSummary(
        rule=rule, n_kept=n_kept, n_rows=index.n_rows, tokens_kept=tokens_kept,
        total_tokens=index.total_tokens, last_row_tokens=last_row_tokens,
        lowest_kept_score=index.score_of_rank(n_kept - 1) if n_kept else None,
        highest_dropped_score=index.score_of_rank(n_kept) if n_kept < index.n_rows else None,
    )


def summarize_selection(index: ScoreIndex, selection: Selection) -> CutSummary:
    """Counts for a cut given as its rows (the balanced rule's are not a prefix of the ranking): O(n)."""
    kept = kept_mask(index, selection.rows)
    dropped = index.ranked[~kept[index.ranked]]
    kept_ranked = index.ranked[kept[index.ranked]]
    return CutSummary(
        rule=selection.rule, n_kept=selection.n_rows, n_rows=index.n_rows,
        tokens_kept=selection.tokens_kept if index.token_counts is not None else None,
        total_tokens=index.total_tokens, last_row_tokens=selection.last_row_tokens,
        lowest_kept_score=float(index.scores[kept_ranked[-1]]) if len(kept_ranked) else None,
        highest_dropped_score=float(index.scores[dropped[0]]) if len(dropped) else None,
    )


def kept_mask(index: ScoreIndex, rows: np.ndarray) -> np.ndarray:
    """A boolean per row of the pool: whether the cut keeps it."""
    kept = np.zeros(index.n_rows, dtype=bool)
    kept[np.asarray(rows, dtype=np.int64)] = True
    return kept


def equivalent_rule(index: ScoreIndex, summary: CutSummary, kind: str) -> SelectionRule:
    """The rule of another kind that keeps (as nearly as it can) the same rows as `summary`.

    Used when the user switches between threshold / top-K / percent / budget, so the cut stays put.
    A threshold cannot split tied scores; it then keeps all rows scoring above the first dropped one.
    """
    n_kept, n = summary.n_kept, index.n_rows
    if kind == "top_k":
        return SelectionRule("top_k", n_kept)
    if kind == "top_percent":
        return SelectionRule("top_percent", round(100.0 * n_kept / n, 2) if n else 0.0)
    if kind == "token_budget":
        if summary.tokens_kept is None:
            raise ZipFitError("A token budget needs token counts for the rows.")
        return SelectionRule("token_budget", summary.tokens_kept)
    if kind == "threshold":
        low, high = index.score_range()
        if summary.highest_dropped_score is not None and math.isfinite(summary.highest_dropped_score):
            return SelectionRule("threshold", summary.highest_dropped_score)
        return SelectionRule("threshold", float(np.nextafter(low, -np.inf)) if n_kept else high)
    raise ZipFitError(f"Unknown selection rule {kind!r}: use one of {', '.join(RULE_KINDS)}.")


def snap_threshold(index: ScoreIndex, value: float, *, min_decimals: int = 4) -> float:
    """The shortest decimal number (at least `min_decimals` places) that keeps the same rows as threshold `value`.

    A slider or a drag on the histogram gives a float such as 0.21430910867239733; 0.2143 keeps the same rows
    and reads the same on the page, in the sidebar, the link and the export manifest.
    """
    n_kept = kept_count(index, SelectionRule("threshold", value))[0]
    for decimals in range(min_decimals, 18):
        scale = 10.0 ** decimals
        for candidate in (round(value, decimals), math.floor(value * scale) / scale, math.ceil(value * scale) / scale):
            if math.isfinite(candidate) and kept_count(index, SelectionRule("threshold", candidate))[0] == n_kept:
                return float(candidate)
    return float(value)


def decimals_to_tell_apart(a: float, b: float, *, minimum: int = 4, maximum: int = 17) -> int | None:
    """How many decimal places show `a` and `b` as different numbers; None when they are equal (a tie)."""
    if a == b:
        return None
    for decimals in range(minimum, maximum + 1):
        if f"{a:.{decimals}f}" != f"{b:.{decimals}f}":
            return decimals
    return maximum


@dataclass(frozen=True)
class GroupIndex:
    """A metadata column (e.g. `source`) as small integer codes along the ranking."""

    column: str
    labels: list[str]
    codes: np.ndarray  # code of each row (int8 for up to 127 groups), in row order
    ranked_codes: np.ndarray  # codes[index.ranked]
    totals: np.ndarray  # rows per group

    def label_of_rows(self, rows: np.ndarray) -> list[str]:
        return [self.labels[code] for code in self.codes[rows]]


def build_group_index(values: Sequence | pd.Series, index: ScoreIndex, column: str, *,
                      max_groups: int = 12) -> GroupIndex:
    """Group rows by a column's values; the largest `max_groups - 1` keep their name, the rest `(other)`. The codes
    take a byte per row (int8) for up to 127 groups."""
    series = pd.Series(values, copy=False)
    if len(series) != index.n_rows:
        raise ZipFitError(f"Column {column!r} has {plural(len(series), 'value')} for "
                          f"{plural(index.n_rows, 'scored row')}.")
    codes, group_of_code, uniques, totals = _group_codes(series)
    order = np.lexsort((np.arange(len(uniques)), -totals))  # largest groups first, stable
    if len(uniques) > max_groups:
        kept = order[: max_groups - 1]
        labels = [str(uniques[i]) for i in kept] + [OTHER_GROUP]
        remap = np.full(len(uniques), len(kept), dtype=np.int64)  # the rest fold into (other)
        remap[kept] = np.arange(len(kept))
    else:
        labels = [str(uniques[i]) for i in order]
        remap = np.empty(len(uniques), dtype=np.int64)
        remap[order] = np.arange(len(order))
    # A code whose group holds no row (-1) is never looked up: any label will do.
    label_of_code = remap[np.maximum(group_of_code, 0)] if len(remap) else np.zeros(len(group_of_code), np.int64)
    label_of_code = label_of_code.astype(np.int8 if len(labels) < 128 else np.int32)
    row_codes = label_of_code[codes]  # a small table looked up per row: no wider copy of the codes
    return GroupIndex(column=column, labels=labels, codes=row_codes, ranked_codes=row_codes[index.ranked],
                      totals=np.bincount(remap, weights=totals, minlength=len(labels)).astype(np.int64))


def _group_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Each row's code, the group of each code (code -1, a categorical's missing value: the last entry), the groups'
    names (as text, a missing value as MISSING_GROUP) and row counts, numbered in order of first appearance. A
    categorical column (a data store's) keeps its codes (int8 for few categories): no string or wider int per row."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        names = [str(name) for name in series.cat.categories] + [MISSING_GROUP]
        merged, numbers = pd.factorize(np.asarray(names, dtype=object), sort=False)  # equal texts: one group
        counts, first = _counts_and_first_rows(codes, merged, len(numbers))
        order = np.flatnonzero(counts)
        order = order[np.argsort(first[order], kind="stable")]
        renumber = np.full(len(numbers), -1, dtype=np.int64)
        renumber[order] = np.arange(len(order))
        return codes, renumber[merged], [str(numbers[i]) for i in order], counts[order]
    as_text = series.map(lambda value: MISSING_GROUP if _is_missing(value) else str(value)) \
        if series.dtype == object else series.astype(str).where(series.notna(), MISSING_GROUP)
    codes, uniques = pd.factorize(as_text, sort=False)
    return codes, np.arange(len(uniques)), list(uniques), np.bincount(codes, minlength=len(uniques))


def _counts_and_first_rows(codes: np.ndarray, group_of_code: np.ndarray, n_groups: int,
                           chunk_rows: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Rows per group and the first row of each (len(codes) when absent), a chunk of rows at a time: bincount
    and comparisons widen their input to 8 bytes per row, here per chunk only."""
    counts = np.zeros(n_groups, dtype=np.int64)
    first = np.full(n_groups, len(codes), dtype=np.int64)
    for start in range(0, len(codes), chunk_rows):
        groups = group_of_code[codes[start:start + chunk_rows]]
        found = np.bincount(groups, minlength=n_groups)
        counts += found
        for group in np.flatnonzero((found > 0) & (first == len(codes))):
            first[group] = start + int(np.argmax(groups == group))
    return counts, first


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def group_columns(table: pd.DataFrame, *, exclude: Sequence[str] = (), max_distinct: int = 50) -> list[str]:
    """Columns worth grouping by: few distinct values (e.g. `source`, `split`), not the text itself."""
    names = []
    candidates = [name for name in table.columns if name not in exclude]
    if not candidates:
        return names
    # Only those columns: a stored pool's text column would be read row by row for nothing.
    sample = table[candidates].head(20_000) if isinstance(table, pd.DataFrame) else table.head(20_000, candidates)
    for name in candidates:
        try:
            distinct = sample[name].nunique(dropna=False)
        except TypeError:  # lists and dicts are not hashable: not a grouping column
            continue
        if 1 < distinct <= max_distinct:
            names.append(str(name))
    return names


def composition(groups: GroupIndex, n_kept: int, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Kept rows per group: count, share of the kept set, and share of the group that is kept. The cut is the
    best `n_kept` rows, or `rows` when given (a cut that is not a prefix of the ranking)."""
    codes = groups.ranked_codes[:n_kept] if rows is None else groups.codes[np.asarray(rows, dtype=np.int64)]
    n_kept = len(codes)
    kept = np.bincount(codes, minlength=len(groups.labels))
    with np.errstate(invalid="ignore", divide="ignore"):
        share_of_kept = kept / n_kept if n_kept else np.zeros(len(kept))
        share_of_group = np.where(groups.totals > 0, kept / np.maximum(groups.totals, 1), 0.0)
    return pd.DataFrame({
        groups.column: groups.labels, "kept": kept, "total": groups.totals,
        "share_of_kept": share_of_kept, "share_of_group_kept": share_of_group,
    })


@dataclass(frozen=True)
class Histogram:
    """Score histogram, one row of counts per group (a single `all rows` group without one)."""

    edges: np.ndarray  # n_bins + 1
    counts: np.ndarray  # (n_groups, n_bins)
    labels: list[str]

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2

    @property
    def width(self) -> float:
        return float(self.edges[1] - self.edges[0])


def score_histogram(index: ScoreIndex, groups: GroupIndex | None = None, *, n_bins: int = 60) -> Histogram:
    """Bin counts of the finite scores, stacked by group: a bin is a run of ranks (scores descend along the
    ranking) found by binary search, then counted by group along the ranked codes; n_bins x groups numbers."""
    low, high = index.score_range()
    if high <= low:
        low, high = low - 0.005, high + 0.005
    edges = np.linspace(low, high, n_bins + 1)
    # Same bin rule as np.histogram: [edge_i, edge_i+1), the last bin closed; +inf (ranked first) is not binned.
    first_finite = index.ranks_passing(lambda score: score >= np.inf)
    at_least = [index.ranks_passing(lambda score, edge=float(edge): score >= edge) for edge in edges[:-1]]
    spans = [(at_least[b + 1], at_least[b]) for b in range(n_bins - 1)] + [(first_finite, at_least[-1])]
    if groups is None:
        return Histogram(edges, np.array([[stop - start for start, stop in spans]], dtype=np.int64), ["all rows"])
    counts = np.zeros((len(groups.labels), n_bins), dtype=np.int64)
    for b, (start, stop) in enumerate(spans):
        if stop > start:
            counts[:, b] = np.bincount(groups.ranked_codes[start:stop], minlength=len(groups.labels))
    return Histogram(edges, counts, list(groups.labels))


def threshold_from_selection(selection: Mapping | None, histogram: Histogram) -> float | None:
    """The threshold a range or bar selection on the histogram means: keep what lies right of its left edge.

    `selection` is the chart's selection state: {"box": [{"x": [x0, x1], ...}], "points": [{"x": ...}]}.
    """
    if not selection:
        return None
    boxes = [box for box in selection.get("box") or [] if len(box.get("x") or []) >= 2]
    if boxes:
        return float(min(min(box["x"]) for box in boxes))
    xs = [point["x"] for point in selection.get("points") or [] if isinstance(point.get("x"), (int, float))]
    if xs:
        return float(min(xs) - histogram.width / 2)
    return None


def text_preview(text: str, n_chars: int = 160) -> str:
    """The beginning of a text on one line (whitespace collapsed), cut with an ellipsis."""
    head = _WHITESPACE.sub(" ", text[: n_chars * 4]).strip()
    return head if len(head) <= n_chars and len(text) <= n_chars * 4 else head[: n_chars - 1].rstrip() + "…"


def top_rows(index: ScoreIndex, k: int) -> np.ndarray:
    return index.ranked[: max(0, k)]


def bottom_rows(index: ScoreIndex, k: int) -> np.ndarray:
    """The k worst rows, worst last (so the table reads in rank order)."""
    return index.ranked[max(0, index.n_rows - k):]


def rows_around_cut(index: ScoreIndex, n_kept: int, k: int = 5,
                    rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k lowest-scoring kept rows and the k best dropped rows, in rank order. The cut is the best `n_kept`
    rows, or `rows` when given (then the two sides may interleave in the ranking)."""
    if rows is None:
        return index.ranked[max(0, n_kept - k): n_kept], index.ranked[n_kept: n_kept + k]
    kept = kept_mask(index, rows)[index.ranked]
    kept_ranked, dropped_ranked = index.ranked[kept], index.ranked[~kept]
    return kept_ranked[max(0, len(kept_ranked) - k):], dropped_ranked[:k]


def rows_table(index: ScoreIndex, rows: np.ndarray, texts: Sequence[str], *,
               groups: GroupIndex | None = None, preview_chars: int = 160) -> pd.DataFrame:
    """A small table for display: rank, row, score, length, group, beginning of the text."""
    rows = np.asarray(rows, dtype=np.int64)
    table = pd.DataFrame({
        "rank": index.ranks_of(rows) + 1,
        "row": rows,
        "score": index.scores[rows],
    })
    if index.n_chars is not None:
        table["chars"] = index.n_chars[rows]
    if groups is not None:
        table[groups.column] = groups.label_of_rows(rows)
    table["text"] = [text_preview(text, preview_chars) for text in texts_at(texts, rows)]
    return table


@dataclass(frozen=True)
class LengthStats:
    """How long the texts of a dataset are, in characters."""

    rows: int
    total_chars: int
    mean_chars: float
    median_chars: float
    min_chars: int
    max_chars: int


def length_stats(texts_or_lengths: Sequence[str] | np.ndarray) -> LengthStats:
    """Length statistics of texts, or of their lengths when given an integer array."""
    if isinstance(texts_or_lengths, np.ndarray):
        lengths = texts_or_lengths.astype(np.int64, copy=False)
    else:
        lengths = np.fromiter((len(text) for text in texts_or_lengths), dtype=np.int64, count=len(texts_or_lengths))
    if not len(lengths):
        return LengthStats(0, 0, 0.0, 0.0, 0, 0)
    return LengthStats(len(lengths), int(lengths.sum()), float(lengths.mean()), float(np.median(lengths)),
                       int(lengths.min()), int(lengths.max()))
