"""Which pool rows are copies of a target or an evaluation item: the contamination check.

A pool row is flagged when its normalised text (`word_ngrams.normalise`: NFKC, case-folded, whitespace
collapsed) equals a reference row's (`exact`), or when it shares a run of `ngram` consecutive words (13 by
default, as in the GPT-3 paper's contamination analysis and NeMo Curator's task decontamination) with one
(`ngram`; a run of fewer than 3 distinct words, such as a row of zeros, does not count). References are
named sets: the scoring targets, and any evaluation sets. Each flag names the
reference set, the reference row and the shared words. Candidate rows come from 64-bit n-gram hashes;
every flag is then confirmed on the words themselves, so a hash collision never flags a row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from zipfit_core.analysis.word_ngrams import (
    HashSet,
    ngram_hashes,
    normalise,
    sequence_hashes,
    word_hashes,
    words_of,
)
from zipfit_core.errors import ZipFitError

DEFAULT_NGRAM = 13
FLAG_KINDS = ("exact", "ngram")
POOL_CHUNK_ROWS = 10_000  # rows hashed at a time per thread: its n-gram arrays take ~10x the text
MATCH_SHOWN_WORDS = 40
MIN_DISTINCT_WORDS = 3  # a shared run of fewer distinct words (a row of zeros, a ruler of dashes) is not a copy


@dataclass(frozen=True)
class ReferenceTexts:
    """A set of texts the pool must not contain: the targets, or an evaluation set."""

    name: str  # how flags name it, e.g. "targets" or "demo:proofnet-test"
    texts: Sequence[str]


@dataclass(frozen=True)
class ContaminationFlags:
    """The flagged pool rows, ascending, each with what it matched."""

    rows: np.ndarray  # pool row indices
    kinds: list[str]  # "exact" or "ngram", per flagged row
    references: list[str]  # the reference set's name
    reference_rows: np.ndarray  # the row in that set
    matches: list[str]  # the shared words ("" for an exact copy)
    ngram: int
    n_pool_rows: int
    reference_sizes: dict[str, int] = field(default_factory=dict)

    def mask(self) -> np.ndarray:
        flagged = np.zeros(self.n_pool_rows, dtype=bool)
        flagged[self.rows] = True
        return flagged

    def among(self, rows: np.ndarray) -> np.ndarray:
        """Which flags are of one of `rows` (pool rows), as a mask over the flags. A mask over the pool, not
        np.isin: a cut of a million rows is then one pass, not a sort (the Explore page asks on every rerun)."""
        chosen = np.zeros(self.n_pool_rows, dtype=bool)
        chosen[rows] = True
        return chosen[self.rows]

    def counts(self, rows: np.ndarray | None = None) -> dict[str, int]:
        """Flags by kind, among `rows` (all pool rows when None)."""
        kinds = np.asarray(self.kinds, dtype=object)
        if rows is not None:
            kinds = kinds[self.among(rows)]
        return {kind: int(np.sum(kinds == kind)) for kind in FLAG_KINDS}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"row": self.rows.astype(np.int64), "kind": self.kinds, "reference": self.references,
                             "reference_row": self.reference_rows.astype(np.int64), "match": self.matches})

    def describe(self) -> dict:
        """Settings and counts, for manifests."""
        return {"ngram": self.ngram, "normalisation": "NFKC, case-folded, whitespace collapsed",
                "references": dict(self.reference_sizes), "flagged": self.counts()}


class _ReferenceIndex:
    """Every reference text by normalised text, word-sequence hash and n-gram hash (first occurrence wins)."""

    def __init__(self, references: Sequence[ReferenceTexts], ngram: int) -> None:
        self.ngram = ngram
        self.names = [reference.name for reference in references]
        self.exact: dict[str, tuple[int, int]] = {}
        self.wordless = False  # a reference of punctuation only: exact copies have no words to find them by
        grams, owners, sequences = [], [], []
        for set_index, reference in enumerate(references):
            for row, text in enumerate(reference.texts):
                normalised = normalise(text)
                if normalised:
                    self.exact.setdefault(normalised, (set_index, row))
            words, offsets = word_hashes(reference.texts)
            self.wordless = self.wordless or bool(np.any(np.diff(offsets) == 0))
            sequences.append(sequence_hashes(words, offsets))
            hashes, rows = ngram_hashes(words, offsets, ngram)
            grams.append(hashes)
            owners.append(np.stack([np.full(len(rows), set_index), rows], axis=1))
        self.sequences = HashSet(np.concatenate(sequences))
        self.grams = HashSet(np.concatenate(grams))
        self.references = references
        self._words: dict[tuple[bytes, ...], tuple[int, int]] | None = None

    def gram_owner(self, gram: tuple[bytes, ...]) -> tuple[int, int] | None:
        if self._words is None:  # built once, only when a candidate needs confirming
            self._words = {}
            for set_index, reference in enumerate(self.references):
                for row, text in enumerate(reference.texts):
                    words = words_of(text)
                    for start in range(len(words) - self.ngram + 1):
                        self._words.setdefault(tuple(words[start:start + self.ngram]), (set_index, row))
        return self._words.get(gram)


def find_contamination(pool: Sequence[str], references: Sequence[ReferenceTexts], ngram: int = DEFAULT_NGRAM, *,
                       progress: Callable[[int, int], None] | None = None, workers: int = 2) -> ContaminationFlags:
    """Flag the pool rows that copy a reference row (see the module docstring)."""
    if ngram < 1:
        raise ZipFitError(f"The n-gram length must be at least 1 word (got {ngram}); 13 is the usual choice.")
    if not references:
        raise ZipFitError("Give at least one reference set (the targets, or an evaluation set) to check against.")
    index = _ReferenceIndex(references, ngram)
    chunks = [(start, min(start + POOL_CHUNK_ROWS, len(pool))) for start in range(0, len(pool), POOL_CHUNK_ROWS)]

    def candidates(chunk: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Rows that may copy a reference whole, and rows that share an n-gram hash with one."""
        start, stop = chunk
        words, offsets = word_hashes(pool[start:stop])
        whole = index.sequences.contains(sequence_hashes(words, offsets))
        if index.wordless:
            whole |= np.diff(offsets) == 0
        grams, rows = ngram_hashes(words, offsets, ngram)
        return np.flatnonzero(whole) + start, np.unique(rows[index.grams.contains(grams)]) + start

    found: dict[int, tuple[str, int, int, str]] = {}
    done = 0
    # numpy releases the GIL for the hashing, so two threads overlap one chunk's Python with another's numpy
    with ThreadPoolExecutor(max_workers=max(1, workers)) as threads:
        for chunk, (whole, shared) in zip(chunks, threads.map(candidates, chunks)):
            for row in whole.tolist():  # exact copies first: they are the strongest kind of flag
                owner = index.exact.get(normalise(pool[row]))
                if owner is not None:
                    found[row] = ("exact", owner[0], owner[1], "")
            for row in shared.tolist():
                if row not in found:
                    confirmed = _confirm(pool[row], index)
                    if confirmed is not None:
                        found[row] = confirmed
            done += chunk[1] - chunk[0]
            if progress is not None:
                progress(done, len(pool))
    ordered = sorted(found)
    return ContaminationFlags(
        rows=np.asarray(ordered, dtype=np.int64), kinds=[found[row][0] for row in ordered],
        references=[index.names[found[row][1]] for row in ordered],
        reference_rows=np.asarray([found[row][2] for row in ordered], dtype=np.int64),
        matches=[found[row][3] for row in ordered], ngram=ngram, n_pool_rows=len(pool),
        reference_sizes={reference.name: len(reference.texts) for reference in references})


def _confirm(text: str, index: _ReferenceIndex) -> tuple[str, int, int, str] | None:
    """The first run of n words of `text` that a reference row holds too, or None (a hash collision)."""
    words = words_of(text)
    for start in range(len(words) - index.ngram + 1):
        gram = tuple(words[start:start + index.ngram])
        if len(set(gram)) < MIN_DISTINCT_WORDS:
            continue  # "0 0 0 ... 0" in a table is in many texts: no sign of copying
        owner = index.gram_owner(gram)
        if owner is not None:
            shown = b" ".join(gram[:MATCH_SHOWN_WORDS]).decode("utf-8", "replace")
            return "ngram", owner[0], owner[1], shown
    return None
