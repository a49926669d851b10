"""The exact progress of a ZIP-FIT scoring job (`ScoreState`), and the int64 limbs its exact integers are kept in.

The sums are exact integers (units of 2**-53, see scoring/kernel.py) that can exceed int64, so each is kept as
int64 "limbs" of 62 bits (top limb signed), in numpy, as the cache's data file stores them (`score_cache.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zipfit_core.errors import CacheDamaged
from zipfit_core.scoring.kernel import units_to_mean
from zipfit_core.scoring.target_facts import TARGET_TOP_K, TargetBlockFacts, TargetFacts

LIMB_BITS = 62
EXACT_CHUNK_ROWS = 65_536
LIMB_MASK = (1 << LIMB_BITS) - 1
SUM_LIMBS = 2      # |sum| <= n_targets * 2**53 < 2**123
SQUARE_LIMBS = 3   # sum of squares <= n_targets * 2**106 < 2**185


@dataclass
class ScoreState:
    """Exact progress of a job. Targets are taken in a fixed order, in rounds ending at `round_ends`.

    `sums`/`squares` cover the first `targets_done` targets for every source (a consistent preview);
    `round_sums`/`round_squares` cover the current round's targets for sources [0, round_rows_done).
    Each is a numpy array of int64 limbs, shape (limbs, n_sources), as the data file stores them: exact
    integers at 8 bytes per limb and row, not a Python int per row (lists of ints are accepted and converted).
    Per target (by target index; each target belongs to one round): `target_top_rows`/`target_top_units`
    (targets, k), its best rows so far, and `target_sums`/`target_squares` (limbs, targets), over the rows
    scored against it: complete for the rounds done, over [0, round_rows_done) for the current round's targets.
    """

    n_sources: int
    round_ends: tuple[int, ...]
    rounds_done: int
    sums: np.ndarray
    squares: np.ndarray
    round_rows_done: int
    round_sums: np.ndarray
    round_squares: np.ndarray
    target_top_rows: np.ndarray | None = None   # default: nothing seen yet
    target_top_units: np.ndarray | None = None
    target_sums: np.ndarray | None = None
    target_squares: np.ndarray | None = None

    def __post_init__(self) -> None:
        empty = TargetBlockFacts.empty(self.n_targets, TARGET_TOP_K)
        defaults = {"target_top_rows": empty.top_rows.T, "target_top_units": empty.top_units.T,
                    "target_sums": np.zeros((SUM_LIMBS, self.n_targets), np.int64),
                    "target_squares": np.zeros((SQUARE_LIMBS, self.n_targets), np.int64)}
        for name, default in defaults.items():
            value = np.array(default if getattr(self, name) is None else getattr(self, name))  # a copy of its own
            if value.dtype != np.int64 or value.shape != default.shape:
                raise ValueError(f"{name} must be int64 of shape {default.shape}")
            setattr(self, name, value)
        for name, n_limbs in (("sums", SUM_LIMBS), ("squares", SQUARE_LIMBS), ("round_sums", SUM_LIMBS),
                              ("round_squares", SQUARE_LIMBS)):
            value = getattr(self, name)
            if not isinstance(value, np.ndarray):
                value = np.stack(to_limbs(list(value), n_limbs)) if len(value) else np.zeros((n_limbs, 0), np.int64)
            if value.shape != (n_limbs, self.n_sources) or value.dtype != np.int64:
                raise ValueError(f"{name} must be {n_limbs} int64 limbs per source")
            setattr(self, name, value)

    @classmethod
    def fresh(cls, n_sources: int, round_ends: tuple[int, ...]) -> ScoreState:
        def zeros(n_limbs: int) -> np.ndarray:
            return np.zeros((n_limbs, n_sources), dtype=np.int64)

        return cls(n_sources, tuple(round_ends), 0, zeros(SUM_LIMBS), zeros(SQUARE_LIMBS),
                   0, zeros(SUM_LIMBS), zeros(SQUARE_LIMBS))

    @property
    def n_targets(self) -> int:
        return self.round_ends[-1] if self.round_ends else 0

    @property
    def targets_done(self) -> int:
        return self.round_ends[self.rounds_done - 1] if self.rounds_done else 0

    @property
    def complete(self) -> bool:
        return self.rounds_done == len(self.round_ends)

    @property
    def current_round_targets(self) -> int:
        return 0 if self.complete else self.round_ends[self.rounds_done] - self.targets_done

    @property
    def done_pairs(self) -> int:
        return self.targets_done * self.n_sources + self.round_rows_done * self.current_round_targets

    def add_round_block(self, first_row: int, moments: list[tuple[int, int]],
                        round_targets: list[int] | None = None) -> None:
        """Record the current round's (sum, squares) for rows first_row.. (must continue the prefix).

        When `moments` carries per-target facts (`alignment.MomentsWithTargets`), they are for `round_targets`
        (target indices, in the order they were scored) and are merged into those targets' facts."""
        if first_row != self.round_rows_done:
            raise ValueError("round blocks must be added in row order")
        block = getattr(moments, "targets", None)
        if block is not None:
            self._add_target_facts(np.asarray(round_targets, dtype=np.int64), block)
        end = first_row + len(moments)
        if moments:
            self.round_sums[:, first_row:end] = to_limbs([total for total, _ in moments], SUM_LIMBS)
            self.round_squares[:, first_row:end] = to_limbs([squares for _, squares in moments], SQUARE_LIMBS)
        self.round_rows_done = end

    def _add_target_facts(self, columns: np.ndarray, block: TargetBlockFacts) -> None:
        so_far = TargetBlockFacts(self.target_top_rows[columns].T, self.target_top_units[columns].T,
                                  from_limbs(list(self.target_sums[:, columns])),
                                  from_limbs(list(self.target_squares[:, columns])))
        merged = so_far.merged(block)
        self.target_top_rows[columns] = merged.top_rows.T
        self.target_top_units[columns] = merged.top_units.T
        self.target_sums[:, columns] = np.stack(to_limbs(merged.sums, SUM_LIMBS))
        self.target_squares[:, columns] = np.stack(to_limbs(merged.squares, SQUARE_LIMBS))

    def target_facts(self) -> TargetFacts:
        """Each target's nearest rows and the mean and spread of its similarity over the pool (when complete)."""
        if not self.complete:
            raise ValueError("per-target facts are whole only when every target is done")
        return facts_of_target_limbs(self.target_top_rows, self.target_top_units, self.target_sums,
                                     self.target_squares, self.n_sources)

    def commit_round(self) -> None:
        """Fold the finished round into the totals: every source has now seen the same targets."""
        if self.round_rows_done != self.n_sources:
            raise ValueError("the round is not finished")
        self.sums = add_limbs(self.sums, self.round_sums)
        self.squares = add_limbs(self.squares, self.round_squares)
        self.rounds_done += 1
        self.round_rows_done = 0
        self.round_sums[:] = 0
        self.round_squares[:] = 0

    def approximate_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """The totals' sums and sums of squares as float64 (for a preview; only the final mean needs them exact)."""
        return limbs_to_float(self.sums), limbs_to_float(self.squares)

    def exact_scores(self) -> np.ndarray:
        """The final alignment scores (only when complete): correctly rounded exact means."""
        if not self.complete:
            raise ValueError("scores are exact only when every target is done")
        n = self.n_targets
        limbs = list(self.sums)
        means = np.empty(len(limbs[0]) if limbs else 0, dtype=np.float64)
        for start in range(0, len(means), EXACT_CHUNK_ROWS):  # Python ints for a slice at a time, not every row
            part = from_limbs([limb[start:start + EXACT_CHUNK_ROWS] for limb in limbs])
            means[start:start + len(part)] = [units_to_mean(total, n) for total in part]
        return means


def facts_of_target_limbs(top_rows: np.ndarray, top_units: np.ndarray, sums: np.ndarray, squares: np.ndarray,
                          n_sources: int) -> TargetFacts:
    """Each target's facts from the arrays a state (and the cache's per-target file) keeps them in."""
    return TargetFacts.from_exact(top_rows, top_units, from_limbs(list(sums)), from_limbs(list(squares)), n_sources)


def to_limbs(values: list[int], n_limbs: int) -> list[np.ndarray]:
    """Exact int64 limbs of Python ints: low limbs unsigned 62-bit, the top limb signed."""
    limbs = []
    rest = values
    for _ in range(n_limbs - 1):
        limbs.append(np.fromiter((value & LIMB_MASK for value in rest), dtype=np.int64, count=len(rest)))
        rest = [value >> LIMB_BITS for value in rest]
    limbs.append(np.array(rest, dtype=np.int64) if rest else np.zeros(0, dtype=np.int64))  # overflow raises
    return limbs


def from_limbs(limbs: list[np.ndarray]) -> list[int]:
    values = limbs[-1].tolist()
    for limb in reversed(limbs[:-1]):
        if len(limb) and (limb.min() < 0 or limb.max() > LIMB_MASK):
            raise CacheDamaged("a stored number is out of range")
        values = [(high << LIMB_BITS) | low for high, low in zip(values, limb.tolist())]
    return values


def add_limbs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The exact sum of two limb arrays (limbs, n), carried in numpy: low limbs stay in [0, 2**62)."""
    total = first + second  # two low limbs sum below 2**63: no int64 overflow before the carry
    for limb in range(len(total) - 1):
        total[limb + 1] += total[limb] >> LIMB_BITS
        total[limb] &= LIMB_MASK
    return total


def limbs_to_float(limbs: np.ndarray) -> np.ndarray:
    return sum(limb.astype(np.float64) * float(1 << (LIMB_BITS * index)) for index, limb in enumerate(limbs))
