"""Words and word n-grams of many texts at once, as 64-bit hashes, for contamination and near-duplicate checks.

A text is normalised (Unicode NFKC, case-folded, whitespace collapsed: `normalise`), and its words are the
maximal runs of letters, digits, `_` and non-ASCII characters in its UTF-8 bytes (so punctuation and spacing
never split or join words). `words_of` gives them as bytes (to show or verify a match); `word_hashes` hashes
every word of a batch of texts with numpy, without a Python object per word, and `ngram_hashes` combines
each run of n consecutive words of one text into one hash.

Written here because no maintained library does this at this speed without a cluster: datasketch hashes one
Python object per shingle, and NeMo Curator's and datatrove's n-gram decontamination need their own runtimes.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence

import numpy as np

WORD_BYTES = np.zeros(256, dtype=bool)
for _range in (range(ord("a"), ord("z") + 1), range(ord("A"), ord("Z") + 1), range(ord("0"), ord("9") + 1),
               range(0x80, 0x100), (ord("_"),)):
    WORD_BYTES[list(_range)] = True
_SPACE_FOR_NON_WORD = bytes(byte if WORD_BYTES[byte] else 0x20 for byte in range(256))
_BYTE_MULTIPLIER = np.uint64(0x100000001B3)  # odd, so it has an inverse modulo 2**64
_BYTE_INVERSE = np.uint64(pow(0x100000001B3, -1, 2**64))
_WORD_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
BATCH_BYTES = 4 * 2**20  # ~33 bytes of numpy arrays per text byte: ~130 MiB per batch


def normalise(text: str) -> str:
    """NFKC, case-folded, every run of whitespace one space, no leading or trailing space."""
    folded = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.split())


def _encoded(text: str) -> bytes:
    """`normalise(text)` as UTF-8, except that whitespace, which never belongs to a word, is left as it is."""
    folded = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()
    return folded.encode("utf-8", "surrogatepass")  # a lone surrogate is still a character here


def words_of(text: str) -> list[bytes]:
    """The words of `text` after `normalise`, as UTF-8 bytes, in order."""
    return _encoded(text).translate(_SPACE_FOR_NON_WORD).split()


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: similar inputs get unrelated hashes."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


class _Powers:
    """P**k and P**-k modulo 2**64 for k up to the longest batch seen (grown on demand, shared by threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.forward = np.ones(0, dtype=np.uint64)
        self.inverse = np.ones(0, dtype=np.uint64)

    def up_to(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            if len(self.forward) < size:
                with np.errstate(over="ignore"):
                    self.forward = np.cumprod(np.full(size, _BYTE_MULTIPLIER, dtype=np.uint64))
                    self.inverse = np.cumprod(np.full(size, _BYTE_INVERSE, dtype=np.uint64))
            return self.forward[:size], self.inverse[:size]


_POWERS = _Powers()


def _batch_word_hashes(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    data = np.frombuffer(b"\n".join(encoded), dtype=np.uint8)
    if len(data) == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(len(encoded) + 1, dtype=np.int64)
    is_word = WORD_BYTES[data].astype(np.int8)
    change = np.diff(is_word, prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(change == 1), np.flatnonzero(change == -1)
    forward, inverse = _POWERS.up_to(len(data))
    # sum of byte * P**(position + 1) over a word, shifted to start at P**1: a polynomial hash per word
    weighted = data.astype(np.uint64)
    np.multiply(weighted, forward, out=weighted)
    prefix = np.empty(len(data) + 1, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum(weighted, out=prefix[1:])
    del weighted
    words = (prefix[ends] - prefix[starts]) * inverse[starts]
    words = _mix(words + (ends - starts).astype(np.uint64))
    text_starts = np.concatenate(([0], np.cumsum([len(item) + 1 for item in encoded[:-1]])))
    text_of_word = np.searchsorted(text_starts, starts, side="right") - 1
    counts = np.bincount(text_of_word, minlength=len(encoded))
    return words, np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the words of every text, concatenated, and `offsets` (text i's words are
    `hashes[offsets[i]:offsets[i + 1]]`). Equal words get equal hashes within and across calls."""
    parts, counts = [], []
    batch: list[bytes] = []
    size = 0
    for text in texts:
        encoded = _encoded(text)
        batch.append(encoded)
        size += len(encoded) + 1
        if size >= BATCH_BYTES:
            hashes, offsets = _batch_word_hashes(batch)
            parts.append(hashes)
            counts.append(np.diff(offsets))
            batch, size = [], 0
    if batch or not parts:
        hashes, offsets = _batch_word_hashes(batch)
        parts.append(hashes)
        counts.append(np.diff(offsets))
    all_counts = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    return np.concatenate(parts), np.concatenate(([0], np.cumsum(all_counts))).astype(np.int64)


def ngram_hashes(hashes: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash, text index) of every run of `n` consecutive words inside one text, in text order."""
    count = len(hashes) - n + 1
    if n < 1 or count <= 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    combined = hashes[:count].copy()
    for shift in range(1, n):  # in place: one pass per word of the n-gram, no temporaries
        np.multiply(combined, _WORD_MULTIPLIER, out=combined)
        np.add(combined, hashes[shift:shift + count], out=combined)
    text_of_word = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    inside_one_text = text_of_word[:count] == text_of_word[n - 1:]
    return _mix(combined[inside_one_text]), text_of_word[:count][inside_one_text]


def sequence_hashes(hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """One hash per text of its whole word sequence: texts with equal words (in order) get equal hashes."""
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(len(hashes), _WORD_MULTIPLIER, dtype=np.uint64))
        prefix = np.empty(len(hashes) + 1, dtype=np.uint64)
        prefix[0] = 0
        np.cumsum(hashes * powers, out=prefix[1:])
        inverse = np.cumprod(np.full(len(hashes) + 1, np.uint64(pow(int(_WORD_MULTIPLIER), -1, 2**64)),
                                     dtype=np.uint64))
        starts, ends = offsets[:-1], offsets[1:]
        shifted = (prefix[ends] - prefix[starts]) * np.concatenate(([np.uint64(1)], inverse))[starts]
    return _mix(shifted + (ends - starts).astype(np.uint64))


class HashSet:
    """Membership of uint64 hashes, fast for many queries: a bit table on the low bits filters, a sorted
    array confirms."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.sorted = np.unique(hashes)
        bits = max(16, min(30, int(np.ceil(np.log2(max(len(self.sorted), 1) * 64)))))  # ~1.5% false positives
        self.mask = np.uint64((1 << bits) - 1)
        self.table = np.zeros(1 << bits, dtype=bool)
        self.table[(self.sorted & self.mask).astype(np.int64)] = True

    def contains(self, queries: np.ndarray) -> np.ndarray:
        maybe = np.flatnonzero(self.table[(queries & self.mask).astype(np.int64)])
        found = np.zeros(len(queries), dtype=bool)
        if len(maybe) and len(self.sorted):
            position = np.minimum(np.searchsorted(self.sorted, queries[maybe]), len(self.sorted) - 1)
            found[maybe] = self.sorted[position] == queries[maybe]
        return found
