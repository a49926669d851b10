"""Per-target facts gathered from the units matrix: exact sums and squares, each target's best rows (ties by row),
and merging blocks in any order gives the same facts."""

from __future__ import annotations

import numpy as np

from tests.proofnet_jobs import TARGETS, make_sources
from zipfit_core.scoring.alignment import source_unit_moments
from zipfit_core.scoring.kernel import AlignmentKernel
from zipfit_core.scoring.target_facts import EMPTY_ROW, TargetBlockFacts, exact_row_sums, exact_square_sums


def test_exact_sums_and_squares_in_numpy_equal_python_integers() -> None:
    rng = np.random.default_rng(3)
    units = rng.integers(-(1 << 53), 1 << 53, size=(300, 70), dtype=np.int64)
    for axis in (0, 1):
        lines = units.T if axis == 0 else units
        assert exact_row_sums(units, axis) == [sum(int(v) for v in line) for line in lines]
        assert exact_square_sums(units, axis) == [sum(int(v) * int(v) for v in line) for line in lines]


def test_a_targets_best_rows_break_ties_by_row_and_blocks_merge_in_any_order() -> None:
    units = np.array([[5, 1], [7, 1], [7, 3], [2, 3], [7, 0]], dtype=np.int64)
    rows = np.array([10, 11, 12, 13, 14])
    whole = TargetBlockFacts.of_units(units, rows, k=3)
    assert whole.top_rows[:, 0].tolist() == [11, 12, 14] and whole.top_rows[:, 1].tolist() == [12, 13, 10]
    first, second = TargetBlockFacts.of_units(units[:2], rows[:2], 3), TargetBlockFacts.of_units(units[2:], rows[2:], 3)
    for merged in (first.merged(second), second.merged(first), TargetBlockFacts.empty(2, 3).merged(second).merged(first)):
        assert np.array_equal(merged.top_rows, whole.top_rows) and np.array_equal(merged.top_units, whole.top_units)
        assert (merged.sums, merged.squares) == (whole.sums, whole.squares) == ([28, 8], [176, 20])
    short = TargetBlockFacts.of_units(units[:2], rows[:2], 3)  # fewer rows than k: the rest stay empty
    assert short.top_rows[2].tolist() == [EMPTY_ROW, EMPTY_ROW]


def test_moments_with_target_facts_equal_the_plain_moments_and_a_direct_computation() -> None:
    kernel = AlignmentKernel("gzip", 9)
    sources, targets = make_sources(45, seed=2), kernel.encode(TARGETS[:7], what="target")
    plain = source_unit_moments(sources, targets, kernel, workers=2)
    for workers, batch_size in ((1, None), (2, 4), (2, 1)):
        with_facts = source_unit_moments(sources, targets, kernel, workers=workers, batch_size=batch_size,
                                         target_top_k=10)
        assert list(with_facts) == plain
        matrix = kernel.unit_matrix(kernel.encode(sources), targets)
        for target in range(len(targets)):
            best = sorted(range(len(sources)), key=lambda row, t=target: (-int(matrix[row, t]), row))[:10]
            assert with_facts.targets.top_rows[:, target].tolist() == best
        assert with_facts.targets.sums == [sum(int(v) for v in column) for column in matrix.T]
        assert with_facts.targets.squares == [sum(int(v) ** 2 for v in column) for column in matrix.T]
