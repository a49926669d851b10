"""The order in which a scoring job takes its targets, and the preview a partial result gives.

- Targets are taken in a fixed pseudo-random order (a hash of each index with a fixed seed, so the
  order never depends on a library version) and in *rounds* of 2, 4, 8, ... up to 64 targets.
  After a round every source has seen the same first k targets, so the preview (mean per source, with
  its standard error, finite-population corrected) is consistent and sharpens until it is exact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from zipfit_core.scoring.kernel import UNITS_PER_ONE
from zipfit_core.scoring.target_facts import TargetFacts
from zipfit_core.store.score_cache import CompleteScores, ScoreState

TARGET_ORDER_SEED = 241018194  # arXiv 2410.18194
FIRST_ROUND_TARGETS = 2        # the smallest sample with a standard error
MAX_ROUND_TARGETS = 64
FIRST_LOOK_MIN_SOURCES = 50_000  # smaller pools finish their first full round within a few seconds
FIRST_LOOK_ROWS = 10_000         # ~20,000 pairs: well under a second on two cores


@dataclass(frozen=True)
class ScoreSnapshot:
    """The preview after the last finished round (exact when complete)."""

    scores: np.ndarray  # running mean per source over the targets seen (exact final scores when complete)
    stderr: np.ndarray  # standard error of that mean (0 when complete)
    targets_seen: int
    n_targets: int
    complete: bool
    sample_rows: np.ndarray | None = None  # a first look: `scores` are these rows' only (None: every row)
    target_facts: TargetFacts | None = None  # when complete: each target's nearest rows, mean and spread

    @property
    def is_sample(self) -> bool:
        return self.sample_rows is not None


def first_look_rows(n_sources: int) -> np.ndarray | None:
    """The seeded sample of rows a large pool's first look scores (None: the pool is small enough to wait for
    its first full round). Sorted, and the same for the same pool size."""
    if n_sources < FIRST_LOOK_MIN_SOURCES:
        return None
    generator = np.random.default_rng(TARGET_ORDER_SEED)
    return read_only(np.sort(generator.choice(n_sources, size=FIRST_LOOK_ROWS, replace=False)))


def first_look_snapshot(rows: np.ndarray, moments: list[tuple[int, int]], targets_seen: int,
                        n_targets: int) -> ScoreSnapshot:
    """A preview of a sample of rows against the first round's targets, before any round is finished."""
    sums = np.array([total for total, _ in moments], dtype=np.float64)
    squares = np.array([square for _, square in moments], dtype=np.float64)
    return ScoreSnapshot(*_mean_and_stderr(sums, squares, targets_seen, n_targets), targets_seen, n_targets,
                         False, sample_rows=rows)


def target_order(n_targets: int, seed: int = TARGET_ORDER_SEED) -> list[int]:
    """A fixed pseudo-random order of target indices, independent of any library's RNG."""
    def rank(index: int) -> bytes:
        return hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return sorted(range(n_targets), key=rank)


def round_ends(n_targets: int) -> tuple[int, ...]:
    """Cumulative target counts after each round: 2, 6, 14, 30, 62, 126, 190, ... capped at n."""
    ends, done, size = [], 0, FIRST_ROUND_TARGETS
    while done < n_targets:
        done = min(n_targets, done + size)
        ends.append(done)
        size = min(2 * size, MAX_ROUND_TARGETS)
    return tuple(ends)


def schedule_description(order: list[int], ends: tuple[int, ...]) -> dict:
    """What the manifest records of the schedule, to refuse resuming with a different one."""
    digest = hashlib.sha256(json.dumps(order).encode()).hexdigest()
    return {"seed": TARGET_ORDER_SEED, "order_sha256": digest, "round_ends": list(ends)}


def read_only(array: np.ndarray) -> np.ndarray:
    """Arrays handed to pages are shared by every session: nobody may change them in place."""
    array.flags.writeable = False
    return array


def preview_from_state(state: ScoreState) -> ScoreSnapshot | None:
    """Running means and standard errors at the last round boundary (None before the first round)."""
    if state.complete:
        return complete_snapshot(CompleteScores(read_only(state.exact_scores()), state.target_facts(),
                                                state.n_targets))
    seen, total = state.targets_done, state.n_targets
    if seen == 0:
        return None
    sums, squares = state.approximate_sums()
    return ScoreSnapshot(*_mean_and_stderr(sums, squares, seen, total), seen, total, False)


def complete_snapshot(complete: CompleteScores) -> ScoreSnapshot:
    """A finished result's snapshot: exact scores, no standard error (a read-only zero, not a row of zeros)."""
    no_error = np.broadcast_to(np.float64(0.0), complete.scores.shape)
    return ScoreSnapshot(complete.scores, no_error, complete.n_targets, complete.n_targets, True,
                         target_facts=complete.target_facts)


def _mean_and_stderr(sums: np.ndarray, squares: np.ndarray, seen: int, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean over the `seen` targets and its standard error, from sums of units and of their squares.
    Floats are plenty for an estimate; only the final mean needs the exact integers."""
    means = sums / seen
    variance = np.maximum(squares / seen - means * means, 0.0) * (seen / (seen - 1) if seen > 1 else np.inf)
    # Targets are drawn without replacement from a finite set: finite population correction.
    correction = (total - seen) / (total - 1) if total > 1 else 0.0
    stderr = np.sqrt(variance / seen * correction) / UNITS_PER_ONE
    return read_only(means / UNITS_PER_ONE), read_only(stderr)
