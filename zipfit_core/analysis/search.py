"""Finding rows of a pool: a keyword or an RE2 regular expression over the text (or a column), column filters and a
length range (Explore's search), and the one pass over a pool's texts that every text match goes through.

`RowSearch` is what a person asked; `search_rows` answers it with the matching rows, cheap masks first (filters,
lengths, a column's distinct values) and the texts last, only the batches that still hold a candidate. A store's
texts are read a batch at a time on a few threads: Arrow's kernels (RE2, substring search) let go of the GIL.

Patterns run on RE2 (pyarrow.compute.match_substring_regex): linear time, so no pattern can take too long (no
catastrophic backtracking); what RE2 does not support (look-behind, back-references) is refused with its reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from zipfit_core.errors import ZipFitError
from zipfit_core.store.stored_rows import StoredTexts

PATTERN_BATCH_ROWS = 65_536  # rows of a plain list matched at a time (a store is matched in its own batches)
MATCH_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
ANY_CASE = "(?i)"


def check_pattern(pattern: str) -> None:
    """Raise a ZipFitError with RE2's reason when `pattern` does not compile there."""
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, TypeError) as error:
        reason = str(error).removeprefix("Invalid regular expression: ")
        raise ZipFitError(f"The pattern {pattern!r} is not a regular expression RE2 can run ({reason}): RE2 has no "
                          "look-behind or back-references; rewrite it without them.") from None


def literal_pattern(keyword: str) -> str:
    r"""The RE2 pattern matching exactly `keyword`: quoted as \Q...\E, a `\E` inside it written as `\\` then `E`."""
    return "\\Q" + keyword.replace("\\E", "\\E\\\\E\\Q") + "\\E"


def _length(name: str, value) -> int | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not number.is_integer() or number < 0:
        raise ZipFitError(f"The {name} length must be a whole number of characters, 0 or more, got {value!r}.")
    return int(value)


@dataclass(frozen=True)
class RowSearch:
    """Rows whose text (or `column`, its values as strings) holds `query` (a keyword; an RE2 regular expression when
    `regex`), whose `filters` columns hold one of the allowed values (as strings; several filters AND together, a
    filter with no values asks nothing), and whose text is `min_chars`..`max_chars` characters long (inclusive)."""

    query: str = ""
    regex: bool = False
    case_sensitive: bool = False
    column: str | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    min_chars: int | None = None
    max_chars: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "query", str(self.query or ""))
        items = self.filters.items() if isinstance(self.filters, Mapping) else self.filters
        filters = tuple((str(column), tuple(str(value) for value in ((values,) if isinstance(values, str) else values)))
                        for column, values in items)
        object.__setattr__(self, "filters", tuple((column, values) for column, values in filters if values))
        object.__setattr__(self, "min_chars", _length("shortest", self.min_chars))
        object.__setattr__(self, "max_chars", _length("longest", self.max_chars))
        if self.min_chars is not None and self.max_chars is not None and self.min_chars > self.max_chars:
            raise ZipFitError(f"The length range {self.min_chars:,}–{self.max_chars:,} characters holds no text: make "
                              "the shortest length at most the longest.")
        if self.regex and self.query:
            check_pattern(self.query)
        elif self.query:
            try:
                pc.match_substring_regex(pa.array([""], pa.string()), self.pattern())
            except pa.ArrowInvalid:  # RE2's size limit: a keyword of a few hundred thousand characters
                raise ZipFitError(f"The keyword of {len(self.query):,} characters is too long to search for: search "
                                  "for a shorter part of it.") from None

    @property
    def empty(self) -> bool:
        """Nothing asked: every row matches."""
        return not (self.query or self.filters or self.min_chars is not None or self.max_chars is not None)

    @property
    def text_query_alone(self) -> bool:
        """A query over the text and nothing else: `pattern()` then finds exactly the rows the search finds."""
        return bool(self.query) and self.column is None and not self.filters and \
            self.min_chars is None and self.max_chars is None

    def pattern(self) -> str | None:
        """The RE2 pattern the query means (a keyword quoted literally; `(?i)` in front for any case), or None."""
        if not self.query:
            return None
        body = self.query if self.regex else literal_pattern(self.query)
        return body if self.case_sensitive else ANY_CASE + body

    def matches(self, values: pa.Array) -> pa.Array:
        """Arrow booleans: which of the string `values` the query matches (null for a null value). Always RE2 on
        `pattern()`: the rows 'never keep' records are these rows, and RE2 finds a literal 3-8x faster than
        `match_substring` (measured on ~1 KB rows, a word case-sensitive: 5.8 against 0.7 GB/s)."""
        return pc.match_substring_regex(values, self.pattern())

    def describe(self) -> str:
        """One short phrase, e.g. `text contains “MIT License” (any case), kind is changelog or docs, 100–2,000
        chars`."""
        parts = []
        if self.query:
            verb = "matches the pattern" if self.regex else "contains"
            parts.append(f"{self.column or 'text'} {verb} “{self.query}”" + ("" if self.case_sensitive else " (any case)"))
        for column, values in self.filters:
            shown = values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
            parts.append(f"{column} is {shown}")
        low, high = self.min_chars, self.max_chars
        if low is not None and high is not None:
            parts.append(f"{low:,}–{high:,} chars")
        elif low is not None:
            parts.append(f"at least {low:,} chars")
        elif high is not None:
            parts.append(f"at most {high:,} chars")
        return ", ".join(parts) or "every row"


def column_codes(table, column: str, n_rows: int, purpose: str) -> tuple[np.ndarray, list[str]]:
    """A column as codes (-1: no value) into its distinct values as strings, sorted: a store's string column is a
    categorical, so its few distinct strings are handled once, not once a row. `purpose` ends the unknown-column
    message ("to cap")."""
    if column not in table.columns:
        raise ZipFitError(f"There is no column {column!r} {purpose}: choose one of "
                          f"{', '.join(map(str, table.columns))}.")
    values = table.column(column) if hasattr(table, "batches") else table[column]
    codes, uniques = pd.factorize(pd.Series(values), sort=True)
    if len(codes) != n_rows:
        raise ZipFitError(f"The column {column!r} has {len(codes):,} values for {n_rows:,} rows: load the pool again.")
    return np.asarray(codes, dtype=np.int64), [str(value) for value in uniques]


def _by_code(hits: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per row, whether its value's code is a hit; a row with no value (code -1) never is."""
    return np.append(np.asarray(hits, dtype=bool), False)[codes]


def text_rows(texts: Sequence[str], matches: Callable[[pa.Array], pa.Array],
              candidates: np.ndarray | None = None) -> np.ndarray:
    """The rows (ascending) among `candidates` (ascending; None: every row) whose text `matches` accepts (Arrow
    strings in, Arrow booleans out). A store is read batch by batch, never whole, and a batch with no candidate is
    not read; a plain list is converted a slice at a time, only its candidates."""
    n_rows = len(texts)
    if isinstance(texts, StoredTexts):
        starts = texts.table.batch_starts.tolist()

        def read(index: int, local: np.ndarray | None) -> pa.Array:
            array = texts.table.read_batch(index, [texts.text_field]).column(0)
            return array if local is None else array.take(pa.array(local))
    else:
        starts = [*range(0, n_rows, PATTERN_BATCH_ROWS), n_rows]

        def read(index: int, local: np.ndarray | None) -> pa.Array:
            start = starts[index]
            chosen = texts[start: starts[index + 1]] if local is None else [texts[start + i] for i in local.tolist()]
            return pa.array([str(text) for text in chosen], pa.string())

    def span_rows(index: int) -> np.ndarray:
        start, end = starts[index], starts[index + 1]
        local = None
        if candidates is not None:
            low, high = np.searchsorted(candidates, [start, end])
            if low == high:
                return np.zeros(0, np.int64)
            local = None if high - low == end - start else candidates[low:high] - start
        hits = pc.fill_null(matches(read(index, local)), False).to_numpy(zero_copy_only=False)
        found = np.flatnonzero(hits)
        return (found if local is None else local[found]).astype(np.int64) + start

    spans = range(len(starts) - 1)
    if MATCH_THREADS > 1 and len(spans) > 1:
        with ThreadPoolExecutor(MATCH_THREADS, thread_name_prefix="text-match") as pool:
            found = list(pool.map(span_rows, spans))
    else:
        found = [span_rows(index) for index in spans]
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def rows_matching(texts: Sequence[str], pattern: str) -> np.ndarray:
    """The rows (ascending) whose text `pattern` matches anywhere (RE2 search): the search behind 'never keep all
    N matches'."""
    check_pattern(pattern)
    return text_rows(texts, lambda array: pc.match_substring_regex(array, pattern))


def search_rows(search: RowSearch, texts: Sequence[str], table, char_counts: np.ndarray) -> np.ndarray:
    """The pool's rows (0-based, ascending, int64) that `search` finds. `texts` is a list or a store's texts,
    `table` a DataFrame or a store's table, `char_counts` each text's length in characters."""
    n_rows = len(texts)
    mask: np.ndarray | None = None

    def narrow(keep: np.ndarray) -> None:
        nonlocal mask
        mask = keep if mask is None else mask & keep

    for column, values in search.filters:
        codes, labels = column_codes(table, column, n_rows, "to filter on")
        allowed = set(values)
        narrow(_by_code(np.array([label in allowed for label in labels], dtype=bool), codes))
    lengths = np.asarray(char_counts)
    if search.min_chars is not None:
        narrow(lengths >= search.min_chars)
    if search.max_chars is not None:
        narrow(lengths <= search.max_chars)
    on_text = search.column is None or (isinstance(texts, StoredTexts) and search.column == texts.text_field)
    if search.query and not on_text:
        codes, labels = column_codes(table, search.column, n_rows, "to search")
        hits = pc.fill_null(search.matches(pa.array(labels, pa.string())), False).to_numpy(zero_copy_only=False)
        narrow(_by_code(hits, codes))
    candidates = None if mask is None else np.flatnonzero(mask).astype(np.int64)
    if not (search.query and on_text):
        return candidates if candidates is not None else np.arange(n_rows, dtype=np.int64)
    if candidates is not None and len(candidates) == 0:
        return candidates
    return text_rows(texts, search.matches, candidates)
