"""Groups of near-duplicate rows among a selection: MinHash signatures and LSH from `datasketch`.

Each row's shingles are its runs of `shingle` consecutive words (5 by default; a row with fewer words has
one shingle, all of them), hashed by `word_ngrams`. Rows whose estimated Jaccard similarity of shingles is
at least `threshold` (0.8 by default) are linked, and linked rows form a group (transitively, as in
datatrove's and Data-Juicer's MinHash deduplication). A group lists its rows best score first, ties by
row number, so "keep one per group" keeps the best-scored row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from zipfit_core.analysis.word_ngrams import ngram_hashes, sequence_hashes, word_hashes
from zipfit_core.errors import ZipFitError

DEFAULT_THRESHOLD = 0.8
DEFAULT_SHINGLE = 5
NUM_PERM = 128
MINHASH_SEED = 1  # fixed: the same rows always form the same groups
SCHEME = "affine32"  # datasketch's 32-bit scheme: shingle hashes are cut to 32 bits


@dataclass(frozen=True)
class DuplicateGroups:
    """Groups of two or more near-duplicate rows, each best score first."""

    groups: list[np.ndarray]
    threshold: float
    shingle: int
    rows_checked: int

    def redundant_rows(self) -> np.ndarray:
        """Every row but the best of its group: what "keep one per group" removes."""
        if not self.groups:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.concatenate([group[1:] for group in self.groups]))

    def kept_for(self) -> dict[int, int]:
        """Removed row -> the row kept in its place."""
        return {int(row): int(group[0]) for group in self.groups for row in group[1:]}

    def describe(self) -> dict:
        return {"method": f"MinHash ({NUM_PERM} permutations, seed {MINHASH_SEED}) with LSH (datasketch)",
                "shingle_words": self.shingle, "threshold": self.threshold, "rows_checked": self.rows_checked,
                "groups": len(self.groups), "rows_in_groups": int(sum(len(group) for group in self.groups))}


class MinHashes:
    """MinHash signatures of pool rows, made once per row and kept for later checks of the same pool."""

    def __init__(self, texts: Sequence[str], shingle: int = DEFAULT_SHINGLE) -> None:
        if shingle < 1:
            raise ZipFitError(f"The shingle length must be at least 1 word (got {shingle}); 5 is the usual choice.")
        self.texts, self.shingle = texts, shingle
        self._permutations = None  # made with the first signatures: importing datasketch takes ~0.7 s (scipy)
        self._made: dict[int, object] = {}
        self._lock = threading.Lock()  # one pool's signatures may be asked for by several threads (app sessions)

    def of(self, rows: np.ndarray) -> list:
        with self._lock:
            return self._of(rows)

    def _of(self, rows: np.ndarray) -> list:
        from datasketch import MinHash

        missing = [int(row) for row in rows if int(row) not in self._made]
        if missing and self._permutations is None:
            self._permutations = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme=SCHEME).permutations
        if missing:
            words, offsets = word_hashes([self.texts[row] for row in missing])
            grams, owners = ngram_hashes(words, offsets, self.shingle)
            whole = sequence_hashes(words, offsets)  # the one shingle of a row shorter than `shingle` words
            bounds = np.searchsorted(owners, np.arange(len(missing) + 1))
            for position, row in enumerate(missing):
                shingles = grams[bounds[position]:bounds[position + 1]]
                if len(shingles) == 0:
                    shingles = whole[position:position + 1]
                signature = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=int, scheme=SCHEME,
                                    permutations=self._permutations)
                signature.update_batch((np.unique(shingles) & np.uint64(0xFFFFFFFF)).tolist())
                self._made[row] = signature
        return [self._made[int(row)] for row in rows]


def near_duplicate_groups(minhashes: MinHashes, rows: np.ndarray, scores: np.ndarray,
                          threshold: float = DEFAULT_THRESHOLD, *,
                          progress: Callable[[int, int], None] | None = None) -> DuplicateGroups:
    """Groups of near-duplicates among `rows` (pool row numbers), each ordered best score first."""
    from datasketch import MinHashLSH

    if not 0 < threshold <= 1:
        raise ZipFitError(f"The near-duplicate threshold is a Jaccard similarity in (0, 1] (got {threshold}).")
    rows = np.asarray(rows, dtype=np.int64)
    signatures = minhashes.of(rows)
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    parent = list(range(len(rows)))

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for position, signature in enumerate(signatures):
        for other in lsh.query(signature):  # candidates from earlier rows; confirmed on the estimate
            if signature.jaccard(signatures[other]) >= threshold:
                parent[root(position)] = root(other)
        lsh.insert(position, signature, check_duplication=False)
        if progress is not None and (position + 1) % 10_000 == 0:
            progress(position + 1, len(rows))
    members: dict[int, list[int]] = {}
    for position in range(len(rows)):
        members.setdefault(root(position), []).append(position)
    scores = np.asarray(scores, dtype=np.float64)
    groups = []
    for positions in members.values():
        if len(positions) > 1:
            group = rows[positions]
            order = np.lexsort((group, -np.nan_to_num(scores[group], nan=-np.inf)))
            groups.append(group[order])
    groups.sort(key=lambda group: int(group[0]))
    return DuplicateGroups(groups=groups, threshold=threshold, shingle=minhashes.shingle, rows_checked=len(rows))
