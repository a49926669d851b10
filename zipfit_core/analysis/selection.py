"""Choosing rows by score (threshold, top-K, top percent, token budget) and counting tokens."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zipfit_core.analysis.shaping import CapGroup
from zipfit_core.bounds import CUT_COUNTS
from zipfit_core.data.sources import plural
from zipfit_core.data.token_counts import APPROX_TOKEN, approx_token_counts
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.alignment import rank_by_score

RULE_KINDS = ("threshold", "top_k", "top_percent", "token_budget")


# Approximate token: a run of letters/digits/underscore, or one other non-space character.


@dataclass(frozen=True)
class SelectionRule:
    """One way to cut the ranked list: kind is one of RULE_KINDS."""

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ZipFitError(f"Unknown selection rule {self.kind!r}: use one of {', '.join(RULE_KINDS)}.")
        if self.kind in ("top_k", "token_budget"):
            CUT_COUNTS.check(self.kind, self.value)  # one range for the CLI, the app and its links
        if self.kind == "top_percent" and not 0 <= self.value <= 100:
            raise ZipFitError(f"top_percent must be between 0 and 100, got {self.value}.")
        if self.kind == "threshold" and not math.isfinite(self.value):
            raise ZipFitError("threshold must be a finite number.")

    def describe(self) -> str:
        return {
            "threshold": f"score > {self.value}",
            "top_k": f"top {int(self.value)} row{'' if int(self.value) == 1 else 's'}",
            "top_percent": f"top {self.value}% of rows",
            "token_budget": f"top rows until {int(self.value)} token{'' if int(self.value) == 1 else 's'}",
        }[self.kind]


@dataclass(frozen=True)
class Selection:
    """The chosen source rows, best first, with the token accounting of the cut."""

    rows: np.ndarray  # source row indices in rank order
    rule: SelectionRule
    tokens_kept: int
    total_rows: int
    last_row_tokens: int | None = None  # with a token budget: tokens kept of the last (truncated) row
    capped: dict[int, str] = field(default_factory=dict)  # rows skipped as over a group's cap -> the group

    @property
    def n_rows(self) -> int:
        return len(self.rows)


class TokenCounter:
    """Counts tokens approximately (regex) or exactly with a local `tokenizers` JSON file."""

    def __init__(self, tokenizer_file: str | Path | None = None) -> None:
        self.tokenizer_file = str(tokenizer_file) if tokenizer_file else None
        self._tokenizer = None
        if tokenizer_file:
            try:
                from tokenizers import Tokenizer
            except ImportError:
                raise ZipFitError("Counting with a tokenizer file needs `pip install tokenizers`.") from None
            try:
                self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
            except Exception as error:
                raise ZipFitError(f"Could not read tokenizer file {tokenizer_file}: {error}") from None

    @property
    def name(self) -> str:
        return f"tokenizer:{self.tokenizer_file}" if self.tokenizer_file else "approx-regex"

    def count(self, texts: Sequence[str]) -> np.ndarray:
        if self._tokenizer is not None:
            encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
            return np.array([len(encoding.ids) for encoding in encodings], dtype=np.int64)
        return approx_token_counts(texts)

    def count_loaded(self, loaded) -> np.ndarray:
        """`count` of a loaded data set's texts; the approximate counts a data store holds are not counted again."""
        if self._tokenizer is None and getattr(loaded, "token_counts", None) is not None:
            return np.asarray(loaded.token_counts)  # as stored (int32 when it fits): no int64 copy of every row
        return self.count(loaded.texts)

    def truncate(self, text: str, n_tokens: int) -> str:
        """The prefix of `text` holding its first `n_tokens` tokens."""
        if n_tokens <= 0:
            return ""
        if self._tokenizer is not None:
            offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
            return text[: offsets[min(n_tokens, len(offsets)) - 1][1]] if offsets else ""
        for index, match in enumerate(APPROX_TOKEN.finditer(text), start=1):
            if index == n_tokens:
                return text[: match.end()]
        return text


def select(scores: np.ndarray, rule: SelectionRule, token_counts: np.ndarray | None = None,
           excluded: np.ndarray | None = None, include: np.ndarray | None = None,
           caps: Sequence[CapGroup] = ()) -> Selection:
    """Apply a rule to scores. Ties are broken by source index, so the result is deterministic.

    Rows where `excluded` is True are never kept, and the cut is filled from the next best rows instead:
    top-K still keeps K rows, top-P% still keeps P% of all rows, a token budget is still filled. `include` and
    `caps`: see `cut_in_order`.
    """
    scores = np.asarray(scores, dtype=np.float64)
    return cut_in_order(rank_by_score(scores), scores, rule, token_counts, excluded, include, caps)


TOKEN_BLOCK = 4096  # ranks per kept running total: a prefix's tokens add at most one block's counts to one


class RankedTokens:
    """Tokens of the first k rows of a ranking for any k, without a running total per row (an int64 each): the
    total at every TOKEN_BLOCK ranks is kept, and a question sums at most one block's counts."""

    def __init__(self, token_counts: np.ndarray, order: np.ndarray) -> None:
        self.counts = np.asarray(token_counts)
        self.order = order
        n = len(order)
        totals = np.zeros(-(-n // TOKEN_BLOCK), dtype=np.int64)
        chunk = TOKEN_BLOCK * 256  # gathered a chunk at a time: no copy of every row's count
        for start in range(0, n, chunk):
            gathered = self.counts[order[start:start + chunk]]
            starts = np.arange(0, len(gathered), TOKEN_BLOCK)
            totals[start // TOKEN_BLOCK: start // TOKEN_BLOCK + len(starts)] = np.add.reduceat(gathered, starts,
                                                                                                dtype=np.int64)
        self.checkpoints = np.concatenate([[0], np.cumsum(totals)])  # tokens of the first min(k * BLOCK, n) rows

    @property
    def total(self) -> int:
        return int(self.checkpoints[-1])

    def prefix(self, k: int) -> int:
        """Tokens of the first `k` rows of the ranking."""
        block = k // TOKEN_BLOCK
        rest = self.order[block * TOKEN_BLOCK:k]
        return int(self.checkpoints[block]) + int(self.counts[rest].sum(dtype=np.int64))

    def rows_within(self, budget: int) -> int:
        """How many first rows of the ranking fit whole in `budget` tokens."""
        block = int(np.searchsorted(self.checkpoints, budget, side="right")) - 1  # the budget runs out in it
        start = block * TOKEN_BLOCK
        if start >= len(self.order):
            return len(self.order)
        running = np.cumsum(self.counts[self.order[start:start + TOKEN_BLOCK]], dtype=np.int64)
        return start + int(np.searchsorted(running, budget - int(self.checkpoints[block]), side="right"))


def _budget(rule: SelectionRule, n: int) -> int:
    """The rows (top-K, top percent) or tokens (token budget) a budget rule fills."""
    if rule.kind == "top_percent":
        return int(math.floor(n * rule.value / 100 + 1e-9))
    return int(rule.value)


def cut_in_order(order: np.ndarray, scores: np.ndarray, rule: SelectionRule, token_counts: np.ndarray | None,
                 excluded: np.ndarray | None, include: np.ndarray | None = None,
                 caps: Sequence[CapGroup] = ()) -> Selection:
    """The rule's budget filled along `order` (rows, first taken first): one budget logic for every cut rule.

    Rows in `include` are taken first (in `order`) whatever their score, are never excluded and count toward the
    budget; a row whose group (`caps`) would go over its share of the budget is skipped (`Selection.capped`), so
    the budget is still filled from the rows after it."""
    n = len(scores)
    ranked = order
    is_included = np.zeros(n, dtype=bool)
    if include is not None and len(include):
        is_included[np.asarray(include, dtype=np.int64)] = True
    dropped = np.asarray(excluded, dtype=bool) & ~is_included if excluded is not None else None
    if dropped is not None:
        ranked = ranked[~dropped[ranked]]
    first = ranked[is_included[ranked]]
    if len(first):
        ranked = np.concatenate([first, ranked[~is_included[ranked]]])
        _check_included_fit(rule, n, first, token_counts)
    capped: dict[int, str] = {}
    if caps:
        ranked, capped = _fill_within_caps(ranked, len(first), rule, n, token_counts, caps)
    last_row_tokens = None
    if rule.kind == "threshold":
        rest = ranked[len(first):]
        rows = np.concatenate([first, rest[scores[rest] > rule.value]]).astype(np.int64)
    elif rule.kind in ("top_k", "top_percent"):
        rows = ranked[: _budget(rule, n)]
    else:
        if token_counts is None:
            raise ZipFitError("A token budget needs token counts for the rows.")
        budget = int(rule.value)
        along = RankedTokens(token_counts, ranked)
        # Rows that fit whole, then the next one truncated to fill the budget (as the paper does).
        n_whole = along.rows_within(budget)
        used = along.prefix(n_whole)
        rows = ranked[:n_whole]
        if n_whole < len(ranked) and used < budget:
            rows = ranked[: n_whole + 1]
            last_row_tokens = budget - used
    tokens_kept = 0
    if token_counts is not None and len(rows):
        counts = np.asarray(token_counts)[rows]
        tokens_kept = int(counts.sum(dtype=np.int64))
        if last_row_tokens is not None:
            tokens_kept += last_row_tokens - int(counts[-1])
    return Selection(rows=rows, rule=rule, tokens_kept=tokens_kept, total_rows=n,
                     last_row_tokens=last_row_tokens, capped=capped)


def _check_included_fit(rule: SelectionRule, n: int, first: np.ndarray, token_counts: np.ndarray | None) -> None:
    """Rows always kept count toward the budget: more of them than it holds cannot all be kept."""
    if rule.kind == "threshold":
        return
    if rule.kind == "token_budget":
        held = int(np.asarray(token_counts)[first].sum(dtype=np.int64)) if token_counts is not None else 0
        if held > rule.value:
            raise ZipFitError(f"The rows always kept hold {plural(held, 'token')}, more than the budget of "
                              f"{int(rule.value):,}: raise the budget or keep fewer rows by hand.")
    elif len(first) > _budget(rule, n):
        raise ZipFitError(f"{plural(len(first), 'row')} are always kept but the cut ({rule.describe()}) keeps "
                          f"{_budget(rule, n):,}: raise the cut or keep fewer rows by hand.")


def _fill_within_caps(ranked: np.ndarray, n_included: int, rule: SelectionRule, n: int,
                      token_counts: np.ndarray | None, caps: Sequence[CapGroup]) -> tuple[np.ndarray, dict[int, str]]:
    """The rows of `ranked` the budget takes when a row that would put its group over its cap is skipped (rows
    always kept, the first `n_included`, are never skipped but count); and the skipped rows with their group."""
    if rule.kind == "threshold":
        raise ZipFitError("A cap is a share of the rows (or tokens) a budget keeps: use --top-k, --top-percent or "
                          "--token-budget with caps, not a threshold.")
    if rule.kind == "token_budget" and token_counts is None:
        raise ZipFitError("A token budget needs token counts for the rows.")
    budget = _budget(rule, n)
    limits = np.array([cap.limit(budget) for cap in caps], dtype=np.int64)
    code_of_column: dict[str, np.ndarray] = {}  # the groups of one column are disjoint: one code array per column
    for index, cap in enumerate(caps):
        codes = code_of_column.setdefault(cap.column, np.full(n, -1, dtype=np.int16 if len(caps) < 2**15 else np.int32))
        codes[cap.members] = index
    columns = list(code_of_column.values())
    costs = np.asarray(token_counts) if rule.kind == "token_budget" else None
    used = np.zeros(len(caps), dtype=np.int64)
    kept: list[int] = []
    capped: dict[int, str] = {}
    total = 0
    for position, row in enumerate(ranked.tolist()):
        if total >= budget:
            break
        cost = int(costs[row]) if costs is not None else 1
        groups = [int(codes[row]) for codes in columns if codes[row] >= 0]
        over = next((group for group in groups if used[group] + cost > limits[group]), None)
        if over is not None and position >= n_included:
            capped[row] = caps[over].label
            continue
        for group in groups:
            used[group] += cost
        kept.append(row)
        total += cost
    if total < budget and capped:
        full = sorted(set(capped.values()))
        raise ZipFitError(f"The caps leave only {total:,} of the {budget:,} {'tokens' if costs is not None else 'rows'}"
                          f" the cut ({rule.describe()}) keeps: every other row is in a group at its cap "
                          f"({', '.join(full[:5])}{', ...' if len(full) > 5 else ''}); raise a cap or cap fewer "
                          "groups.")
    return np.asarray(kept, dtype=np.int64), capped
