"""The exact pair arithmetic of ZIP-FIT: 1 - NCD of a source and a target as an integer count of 2**-53.

    C(s)      = compressed size of the UTF-8 bytes of s
    NCD(x, t) = (C(x + t) - min(C(x), C(t))) / max(C(x), C(t))     x = source, first; no separator
    align(x)  = mean over t in T of (1 - NCD(x, t))

Each per-pair similarity is the same float64 the reference computes. Every such value is an exact
multiple of 2**-53 (see `similarity_units`), so sums are kept as exact integers in those units:
the mean is then independent of summation order, worker count and round structure, and is the
correctly rounded mean of the per-pair values. `AlignmentKernel` does the work for one codec and level;
`alignment.py` spreads it over threads. For gzip at levels 1-9 it primes the compressor once per source
when the lengths say that is cheaper (`priming.py`): the same byte counts, so the same units.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.scoring.codecs import SizeFunction, keep_freed_heap_memory, size_function
from zipfit_core.scoring.priming import exact_pair_sizes_function, scoring_threads

UNITS_PER_ONE = 1 << 53  # one similarity unit is 2**-53


def similarity_units(source_size: int, target_size: int, pair_size: int) -> int:
    """1 - NCD as an exact integer count of 2**-53, computed with the reference's float ops.

    With q = NCD: if q < 0.5 then 1 - q lies in (0.5, 1] whose doubles are multiples of 2**-53;
    otherwise 1 - q is exact (Sterbenz) and q itself is a multiple of 2**-53. So the scaling is exact.
    """
    smaller, larger = (source_size, target_size) if source_size < target_size else (target_size, source_size)
    similarity = 1 - (pair_size - smaller) / larger
    return int(similarity * UNITS_PER_ONE)


def similarity_units_array(source_size: int, target_sizes: np.ndarray, pair_sizes: np.ndarray) -> np.ndarray:
    """`similarity_units` for one source against many targets, with the same float64 operations.

    Sizes are integers below 2**53, so float64 holds them exactly; IEEE division and subtraction
    round exactly as Python's int / int and float - float do.
    """
    smaller = np.minimum(target_sizes, source_size)
    larger = np.maximum(target_sizes, source_size)
    similarity = 1.0 - (pair_sizes - smaller) / larger
    if len(similarity) and np.abs(similarity).max() >= 512:  # never seen with real codecs; keep exact anyway
        return np.array([int(value * UNITS_PER_ONE) for value in similarity.tolist()], dtype=object)
    return (similarity * UNITS_PER_ONE).astype(np.int64)  # |similarity| < 2**9: exact in int64


def exact_sum(units: np.ndarray) -> int:
    """The exact integer sum of units without int64 overflow (object arrays of Python ints work too)."""
    low_bits = 26
    high, low = units >> low_bits, units & ((1 << low_bits) - 1)  # units == high * 2**26 + low
    return (int(high.sum()) << low_bits) + int(low.sum())


def units_to_mean(unit_sum: int, count: int) -> float:
    """The correctly rounded float mean of `count` similarities summing to `unit_sum` units."""
    return unit_sum / (count * UNITS_PER_ONE)  # int / int true division rounds correctly


@dataclass(frozen=True)
class EncodedTexts:
    """Texts as UTF-8 bytes with their compressed sizes, computed once and reused for every pair."""

    data: list[bytes]
    sizes: list[int]

    def __len__(self) -> int:
        return len(self.data)


def encode_texts(texts: Sequence[str], size_of: SizeFunction, *, first_row: int = 0,
                 what: str = "source", row_numbers: Sequence[int] | None = None) -> EncodedTexts:
    """`row_numbers` (default: consecutive from `first_row`) name the rows in error messages."""
    data = []
    for offset, text in enumerate(texts):
        row = row_numbers[offset] if row_numbers is not None else first_row + offset
        if not isinstance(text, str):
            raise ZipFitError(
                f"{what} row {row} is {type(text).__name__}, not text: "
                "choose a text field or convert the values to strings."
            )
        try:
            data.append(text.encode("utf-8"))
        except UnicodeEncodeError as error:
            raise ZipFitError(
                f"{what} row {row} contains characters that are not valid Unicode "
                f"({error.reason}): clean the text or load it with undecodable bytes replaced."
            ) from None
    return EncodedTexts(data, [size_of(item) for item in data])


@dataclass(frozen=True)
class AlignmentKernel:
    """The pairwise work for one codec and level; pure and thread-safe."""

    codec: str = "gzip"
    level: int = 9

    def __post_init__(self) -> None:
        keep_freed_heap_memory()

    @property
    def size_of(self) -> SizeFunction:
        return size_function(self.codec, self.level)

    def encode(self, texts: Sequence[str], *, first_row: int = 0, what: str = "source",
               row_numbers: Sequence[int] | None = None) -> EncodedTexts:
        return encode_texts(texts, self.size_of, first_row=first_row, what=what, row_numbers=row_numbers)

    def source_units(self, sources: EncodedTexts, targets: EncodedTexts,
                     is_cancelled: Callable[[], bool] = lambda: False) -> Iterator[np.ndarray]:
        """For each source in turn, its similarity units against every target (int64)."""
        pair_sizes = exact_pair_sizes_function(self.codec, self.level)  # primed or one-shot, per source
        target_sizes = np.array(targets.sizes, dtype=np.float64)
        with scoring_threads:  # the priming cost model counts the threads that share the GIL
            for x, cx in zip(sources.data, sources.sizes):
                if is_cancelled():
                    raise ScoringCancelled("Scoring was cancelled.")
                pair_sizes_of_x = np.array(pair_sizes(x, targets.data), dtype=np.float64)
                yield similarity_units_array(cx, target_sizes, pair_sizes_of_x)

    def unit_matrix(self, sources: EncodedTexts, targets: EncodedTexts,
                    is_cancelled: Callable[[], bool] = lambda: False) -> np.ndarray:
        """Every pair's similarity units as one (sources x targets) matrix (int64; object beyond 2**9)."""
        lines = list(self.source_units(sources, targets, is_cancelled))
        return np.stack(lines) if lines else np.zeros((0, len(targets)), dtype=np.int64)

    def unit_sums(self, sources: EncodedTexts, targets: EncodedTexts,
                  is_cancelled: Callable[[], bool] = lambda: False) -> list[int]:
        """For each source, the exact sum over `targets` of its similarity units."""
        return [exact_sum(units) for units in self.source_units(sources, targets, is_cancelled)]

    def unit_moments(self, sources: EncodedTexts, targets: EncodedTexts,
                     is_cancelled: Callable[[], bool] = lambda: False) -> list[tuple[int, int]]:
        """For each source, the exact sum and sum of squares over `targets` of its similarity units.

        The squares give a running standard error for progressive previews.
        """
        return [(exact_sum(units), sum(value * value for value in units.tolist()))  # squares overflow int64
                for units in self.source_units(sources, targets, is_cancelled)]

    def pair_similarities(self, source: str, targets: Sequence[str]) -> np.ndarray:
        """1 - NCD of one source against each target (for inspecting a single row)."""
        units = next(self.source_units(self.encode([source]), self.encode(targets, what="target")))
        return units.astype(np.float64) / UNITS_PER_ONE  # exact: units are the pair floats times 2**53
