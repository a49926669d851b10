"""Choosing rows by score (threshold, top-K, top percent, token budget) and counting tokens."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zipfit_core.bounds import CUT_COUNTS
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
            return np.asarray(loaded.token_counts, dtype=np.int64)
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
           excluded: np.ndarray | None = None) -> Selection:
    """Apply a rule to scores. Ties are broken by source index, so the result is deterministic.

    Rows where `excluded` is True are never kept, and the cut is filled from the next best rows instead:
    top-K still keeps K rows, top-P% still keeps P% of all rows, a token budget is still filled.
    """
    scores = np.asarray(scores, dtype=np.float64)
    return cut_in_order(rank_by_score(scores), scores, rule, token_counts, excluded)


def cut_in_order(order: np.ndarray, scores: np.ndarray, rule: SelectionRule, token_counts: np.ndarray | None,
                 excluded: np.ndarray | None) -> Selection:
    """The rule's budget filled along `order` (rows, first taken first): one budget logic for every cut rule."""
    n = len(scores)
    ranked = order
    if excluded is not None:
        ranked = ranked[~np.asarray(excluded, dtype=bool)[ranked]]
    last_row_tokens = None
    if rule.kind == "threshold":
        rows = ranked[scores[ranked] > rule.value]
    elif rule.kind == "top_k":
        rows = ranked[: int(rule.value)]
    elif rule.kind == "top_percent":
        rows = ranked[: int(math.floor(n * rule.value / 100 + 1e-9))]
    else:
        if token_counts is None:
            raise ZipFitError("A token budget needs token counts for the rows.")
        budget = int(rule.value)
        cumulative = np.cumsum(np.asarray(token_counts, dtype=np.int64)[ranked])
        # Rows that fit whole, then the next one truncated to fill the budget (as the paper does).
        n_whole = int(np.searchsorted(cumulative, budget, side="right"))
        used = int(cumulative[n_whole - 1]) if n_whole else 0
        rows = ranked[:n_whole]
        if n_whole < len(ranked) and used < budget:
            rows = ranked[: n_whole + 1]
            last_row_tokens = budget - used
    tokens_kept = 0
    if token_counts is not None and len(rows):
        counts = np.asarray(token_counts, dtype=np.int64)[rows]
        tokens_kept = int(counts.sum())
        if last_row_tokens is not None:
            tokens_kept += last_row_tokens - int(counts[-1])
    return Selection(rows=rows, rule=rule, tokens_kept=tokens_kept, total_rows=n,
                     last_row_tokens=last_row_tokens)
