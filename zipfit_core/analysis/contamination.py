"""Which pool rows are copies of a target or an evaluation item: the contamination check.

A pool row is flagged when its normalised text (`word_ngrams.normalise`: NFKC, case-folded, whitespace
collapsed) equals a reference row's (`exact`), or when it shares a run of `ngram` consecutive words (13 by
default, as in the GPT-3 paper's contamination analysis and NeMo Curator's task decontamination) with one
(`ngram`; a run of fewer than 3 distinct words, such as a row of zeros, does not count). References are
named sets: the scoring targets, and any evaluation sets. Each flag names the
reference set, the reference row and the shared words. Candidate rows come from 64-bit n-gram hashes;
every flag is then confirmed on the words themselves, so a hash collision never flags a row.

Boilerplate is no evidence of copying: an n-gram found in more than `max_matches` pool rows (10 by default, as
NeMo Curator's task decontamination does) is ignored, so rows sharing only a licence header or a common
hypothesis line with a reference are kept; they are reported as `spared` with the shared words. Exact copies
always count, and do not count towards an n-gram's rows (ten verbatim copies of a test item make its words no
boilerplate).
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
from zipfit_core.bounds import MATCH_COUNTS
from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.scoring.alignment import CancelSignal, as_cancel_check

DEFAULT_NGRAM = 13
DEFAULT_MAX_MATCHES = 10  # NeMo Curator's `max_matches`
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
class SparedRows:
    """Pool rows kept although they share n-grams with a reference: each of those n-grams is in more than
    `max_matches` pool rows (boilerplate such as a licence header), ascending, each with one shared n-gram."""

    rows: np.ndarray  # pool row indices
    references: list[str]  # the reference set holding the shown n-gram
    reference_rows: np.ndarray  # its row in that set
    matches: list[str]  # the shown n-gram's words
    matched_rows: np.ndarray  # how many pool rows hold the shown n-gram

    @classmethod
    def none(cls) -> SparedRows:
        return cls(np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64))

    def among(self, rows: np.ndarray, n_pool_rows: int) -> np.ndarray:
        """Which spared rows are among `rows` (pool rows), as a mask over the spared rows."""
        chosen = np.zeros(n_pool_rows, dtype=bool)
        chosen[rows] = True
        return chosen[self.rows]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"row": self.rows.astype(np.int64), "reference": self.references,
                             "reference_row": self.reference_rows.astype(np.int64), "match": self.matches,
                             "pool_rows_with_match": self.matched_rows.astype(np.int64)})


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
    max_matches: int | None = DEFAULT_MAX_MATCHES  # None: every shared n-gram counts
    spared: SparedRows = field(default_factory=lambda: SparedRows.none())
    ignored_ngrams: int = 0  # reference n-grams found in more than `max_matches` pool rows

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
                "references": dict(self.reference_sizes), "flagged": self.counts(),
                "max_matches": self.max_matches, "boilerplate_ngrams_ignored": self.ignored_ngrams,
                "spared_as_boilerplate": len(self.spared.rows)}


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
        self.shown: dict[int, tuple[int, int, str, tuple[bytes, ...]]] = {}  # a confirmed hash: owner, words

    def confirmed(self, text: str, starts: np.ndarray, grams: np.ndarray) -> np.ndarray:
        """The hashes of `text`'s n-grams (first words `starts`, hashes `grams`) that a reference row holds in
        words too, each once, in text order; each hash's owner and words go into `shown`. A hash collision is
        never confirmed."""
        words = words_of(text)
        confirmed: list[int] = []
        for start, gram_hash in zip(starts.tolist(), grams.tolist()):
            gram = tuple(words[start:start + self.ngram])
            if len(set(gram)) < MIN_DISTINCT_WORDS:
                continue  # "0 0 0 ... 0" in a table is in many texts: no sign of copying
            known = self.shown.get(gram_hash)
            if known is not None and known[3] == gram:
                confirmed.append(gram_hash)
                continue
            owner = self.gram_owner(gram) if known is None else None  # a known hash of other words: a collision
            if owner is not None:
                shown = b" ".join(gram[:MATCH_SHOWN_WORDS]).decode("utf-8", "replace")
                self.shown[gram_hash] = (owner[0], owner[1], shown, gram)
                confirmed.append(gram_hash)
        return np.asarray(list(dict.fromkeys(confirmed)), dtype=np.uint64)

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
                       max_matches: int | None = DEFAULT_MAX_MATCHES,
                       progress: Callable[[int, int], None] | None = None, workers: int = 2,
                       cancel: CancelSignal = None) -> ContaminationFlags:
    """Flag the pool rows that copy a reference row; n-grams in more than `max_matches` pool rows are boilerplate
    and ignored (None: none is). See the module docstring. `cancel` stops it between chunks (ScoringCancelled)."""
    if ngram < 1:
        raise ZipFitError(f"The n-gram length must be at least 1 word (got {ngram}); 13 is the usual choice.")
    if max_matches is not None:
        MATCH_COUNTS.require("`max_matches`", max_matches)
    if not references:
        raise ZipFitError("Give at least one reference set (the targets, or an evaluation set) to check against.")
    index = _ReferenceIndex(references, ngram)
    chunks = [(start, min(start + POOL_CHUNK_ROWS, len(pool))) for start in range(0, len(pool), POOL_CHUNK_ROWS)]

    def candidates(chunk: tuple[int, int]) -> _Candidates:
        """Rows that may copy a reference whole, and every n-gram hash a row shares with one (row, start, hash)."""
        start, stop = chunk
        texts = pool[start:stop]
        words, offsets = word_hashes(texts)
        whole = index.sequences.contains(sequence_hashes(words, offsets))
        if index.wordless:
            whole |= np.diff(offsets) == 0
        grams, rows = ngram_hashes(words, offsets, ngram)
        starts = np.arange(len(rows)) - np.searchsorted(rows, rows)  # n-grams come in text order, from word 0
        shared = index.grams.contains(grams)
        rows, starts, grams = rows[shared], starts[shared], grams[shared]
        needed = np.union1d(np.flatnonzero(whole), rows)
        return _Candidates(start, np.flatnonzero(whole), rows, starts, grams,
                           {int(row): texts[row] for row in needed.tolist()})

    found: dict[int, tuple[str, int, int, str]] = {}
    shared_rows: list[int] = []
    shared_grams: list[np.ndarray] = []  # per row in `shared_rows`: the confirmed n-gram hashes, first seen first
    done = 0
    # numpy releases the GIL for the hashing, so two threads overlap one chunk's Python with another's numpy
    cancelled = as_cancel_check(cancel)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as threads:
        results = threads.map(candidates, chunks)
        try:
            for chunk, found_in_chunk in zip(chunks, results):
                if cancelled():
                    raise ScoringCancelled("The contamination check was cancelled.")
                done += _take_chunk(chunk, found_in_chunk, index, found, shared_rows, shared_grams)
                if progress is not None:
                    progress(done, len(pool))
        finally:
            results.close()  # stopped or failed: the chunks not yet started are dropped, not waited for
    spared, ignored = _decide(found, shared_rows, shared_grams, index, max_matches)

    ordered = sorted(found)
    return ContaminationFlags(
        rows=np.asarray(ordered, dtype=np.int64), kinds=[found[row][0] for row in ordered],
        references=[index.names[found[row][1]] for row in ordered],
        reference_rows=np.asarray([found[row][2] for row in ordered], dtype=np.int64),
        matches=[found[row][3] for row in ordered], ngram=ngram, n_pool_rows=len(pool),
        reference_sizes={reference.name: len(reference.texts) for reference in references},
        max_matches=max_matches, spared=spared, ignored_ngrams=ignored)


def _take_chunk(chunk: tuple[int, int], candidates: _Candidates, index: _ReferenceIndex,
                found: dict[int, tuple[str, int, int, str]], shared_rows: list[int],
                shared_grams: list[np.ndarray]) -> int:
    """One chunk's exact copies into `found` and its rows' confirmed shared n-grams into the lists; its row count."""
    for row in candidates.whole.tolist():  # exact copies first: they always count
        owner = index.exact.get(normalise(candidates.texts[row]))
        if owner is not None:
            found[row + chunk[0]] = ("exact", owner[0], owner[1], "")
    for row, starts, grams in candidates.by_row():
        if row + chunk[0] not in found:
            confirmed = index.confirmed(candidates.texts[row], starts, grams)
            if len(confirmed):
                shared_rows.append(row + chunk[0])
                shared_grams.append(confirmed)
    return chunk[1] - chunk[0]


@dataclass(frozen=True)
class _Candidates:
    """What one chunk of the pool may share with the references (rows counted from `start`)."""

    start: int
    whole: np.ndarray  # rows whose word sequence a reference row has
    rows: np.ndarray  # per shared n-gram hash, ascending: its row, its first word, the hash
    starts: np.ndarray
    grams: np.ndarray
    texts: dict[int, str]  # the texts of those rows

    def by_row(self):
        bounds = np.flatnonzero(np.diff(self.rows)) + 1
        for rows, starts, grams in zip(np.split(self.rows, bounds), np.split(self.starts, bounds),
                                       np.split(self.grams, bounds)):
            if len(rows):
                yield int(rows[0]), starts, grams


def _decide(found: dict[int, tuple[str, int, int, str]], shared_rows: list[int], shared_grams: list[np.ndarray],
            index: _ReferenceIndex, max_matches: int | None) -> tuple[SparedRows, int]:
    """Flag each row sharing an n-gram that at most `max_matches` pool rows hold (into `found`); the rest are
    spared as boilerplate. Returns the spared rows and how many n-grams were ignored."""
    if not shared_rows:
        return SparedRows.none(), 0
    every = np.concatenate(shared_grams)
    distinct, row_counts = np.unique(every, return_counts=True)
    common = distinct[row_counts > max_matches] if max_matches is not None else distinct[:0]
    is_common = np.isin(every, common)
    spared: list[tuple[int, int, int, str, int]] = []
    position = 0
    for row, grams in zip(shared_rows, shared_grams):
        common_here = is_common[position:position + len(grams)]
        position += len(grams)
        telling = np.flatnonzero(~common_here)
        gram = int(grams[telling[0]] if len(telling) else grams[0])
        set_index, reference_row, words, _gram = index.shown[gram]
        if len(telling):
            found[row] = ("ngram", set_index, reference_row, words)
        else:
            spared.append((row, set_index, reference_row, words,
                           int(row_counts[np.searchsorted(distinct, np.uint64(gram))])))
    return SparedRows(np.asarray([item[0] for item in spared], dtype=np.int64),
                      [index.names[item[1]] for item in spared],
                      np.asarray([item[2] for item in spared], dtype=np.int64), [item[3] for item in spared],
                      np.asarray([item[4] for item in spared], dtype=np.int64)), len(common)
