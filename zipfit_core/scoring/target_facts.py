"""What the exact pass learns about each target: its k most similar source rows and its similarity over the pool.

ZIP-FIT ranks sources by the mean over all targets, so a cut can serve the majority style of a target set and
none of a minority. These facts say, per target, which rows would serve it and what its typical similarity is:

    top rows     the k source rows with the highest exact 1 - NCD against the target (ties: lower row first)
    sum, squares exact integer sums over every source of the similarity units (2**-53) and of their squares

They are gathered block by block from the same units matrix that gives each source's score (no second pass),
as integers and a total order, so the result is the same for any blocks, worker count or order of finishing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from zipfit_core.scoring.kernel import UNITS_PER_ONE

TARGET_TOP_K = 10          # the nearest rows kept per target
EMPTY_UNITS = -(1 << 62)   # an unfilled top slot: below any real similarity (|units| < 2**62)
EMPTY_ROW = -1
_SQUARE_SPLIT = 27         # |units| < 2**54 splits into two 27-bit halves whose products fit int64
_SQUARE_CHUNK = 256        # 256 such products sum below 2**62


def exact_row_sums(units: np.ndarray, axis: int) -> list[int]:
    """Exact integer sums of int64 units along `axis` (high and low halves summed apart: no overflow)."""
    if units.dtype != np.int64:
        return [int(sum(line)) for line in np.moveaxis(units, axis, -1).reshape(-1, units.shape[axis]).tolist()]
    low_bits = 26
    high, low = units >> low_bits, units & ((1 << low_bits) - 1)
    return [(int(h) << low_bits) + int(lo) for h, lo in zip(high.sum(axis).tolist(), low.sum(axis).tolist())]


def exact_square_sums(units: np.ndarray, axis: int) -> list[int]:
    """Exact integer sums of the squares of units along `axis`, in numpy (Python ints only when out of range)."""
    if units.dtype != np.int64 or (units.size and int(np.abs(units).max()) >= 1 << (2 * _SQUARE_SPLIT)):
        moved = np.moveaxis(units, axis, -1).reshape(-1, units.shape[axis])
        return [sum(int(value) * int(value) for value in line) for line in moved.tolist()]
    magnitude = np.abs(units)
    high, low = magnitude >> _SQUARE_SPLIT, magnitude & ((1 << _SQUARE_SPLIT) - 1)
    other = 1 - axis  # 2-D only
    totals = [0] * units.shape[other]
    for start in range(0, units.shape[axis], _SQUARE_CHUNK):
        part = slice(start, start + _SQUARE_CHUNK)
        h, lo = (high[part], low[part]) if axis == 0 else (high[:, part], low[:, part])
        # u**2 = h**2 * 2**54 + 2*h*lo * 2**27 + lo**2
        pieces = zip((h * h).sum(axis).tolist(), (h * lo).sum(axis).tolist(), (lo * lo).sum(axis).tolist())
        totals = [total + (hh << (2 * _SQUARE_SPLIT)) + (hl << (_SQUARE_SPLIT + 1)) + ll
                  for total, (hh, hl, ll) in zip(totals, pieces)]
    return totals


@dataclass
class TargetBlockFacts:
    """Facts of some targets (columns) over some source rows: the best k, and exact sums."""

    top_rows: np.ndarray   # (k, targets) int64, best first; EMPTY_ROW where fewer rows were seen
    top_units: np.ndarray  # (k, targets) int64 similarity units; EMPTY_UNITS where empty
    sums: list[int]        # per target
    squares: list[int]     # per target

    @classmethod
    def empty(cls, n_targets: int, k: int = TARGET_TOP_K) -> TargetBlockFacts:
        return cls(np.full((k, n_targets), EMPTY_ROW, np.int64), np.full((k, n_targets), EMPTY_UNITS, np.int64),
                   [0] * n_targets, [0] * n_targets)

    @classmethod
    def of_units(cls, units: np.ndarray, rows: np.ndarray, k: int = TARGET_TOP_K) -> TargetBlockFacts:
        """The facts of a units matrix (source rows x targets) whose source rows are `rows`."""
        n_rows, n_targets = units.shape
        if units.dtype != np.int64:  # similarities beyond 2**9 (never seen): clip for ranking, exact sums below
            ranking = np.clip(np.array(units.tolist(), dtype=np.float64), EMPTY_UNITS + 1, -EMPTY_UNITS)
            units_for_top = ranking.astype(np.int64)
        else:
            units_for_top = units
        row_matrix = np.broadcast_to(np.asarray(rows, np.int64)[:, None], units.shape)
        facts = cls.empty(n_targets, k)
        if n_rows:
            order = np.lexsort((row_matrix, -units_for_top), axis=0)[:k]
            taken = min(k, n_rows)
            facts.top_rows[:taken] = np.take_along_axis(row_matrix, order, axis=0)
            facts.top_units[:taken] = np.take_along_axis(units_for_top, order, axis=0)
        facts.sums = exact_row_sums(units, 0)
        facts.squares = exact_square_sums(units, 0)
        return facts

    def merged(self, other: TargetBlockFacts) -> TargetBlockFacts:
        """Both blocks' facts together (disjoint source rows, same targets): order-independent."""
        k = len(self.top_rows)
        rows = np.concatenate([self.top_rows, other.top_rows])
        units = np.concatenate([self.top_units, other.top_units])
        order = np.lexsort((np.where(rows < 0, np.iinfo(np.int64).max, rows), -units), axis=0)[:k]
        return TargetBlockFacts(np.take_along_axis(rows, order, axis=0), np.take_along_axis(units, order, axis=0),
                                [a + b for a, b in zip(self.sums, other.sums)],
                                [a + b for a, b in zip(self.squares, other.squares)])


@dataclass(frozen=True)
class TargetFacts:
    """Per target, over the whole pool: its nearest rows, and the mean and spread of its similarity."""

    top_rows: np.ndarray          # (targets, k) int64 source rows, best first (EMPTY_ROW: the pool is smaller)
    top_similarity: np.ndarray    # (targets, k) float64, exact 1 - NCD of those pairs (nan where empty)
    mean: np.ndarray              # (targets,) mean similarity over the pool
    spread: np.ndarray            # (targets,) standard deviation over the pool

    @property
    def n_targets(self) -> int:
        return len(self.mean)

    @property
    def k(self) -> int:
        return self.top_rows.shape[1]

    @classmethod
    def from_exact(cls, top_rows: np.ndarray, top_units: np.ndarray, sums: list[int], squares: list[int],
                   n_sources: int) -> TargetFacts:
        """From the exact integers; the mean and spread are correctly rounded from them (no summation order)."""
        similarity = np.where(top_rows >= 0, top_units.astype(np.float64) / UNITS_PER_ONE, np.nan)
        scale = n_sources * n_sources * UNITS_PER_ONE * UNITS_PER_ONE
        mean = [total / (n_sources * UNITS_PER_ONE) for total in sums]
        spread = [math.sqrt(max(0, square * n_sources - total * total) / scale) for total, square in zip(sums, squares)]
        return cls(np.asarray(top_rows, np.int64), similarity, np.array(mean, np.float64), np.array(spread, np.float64))
