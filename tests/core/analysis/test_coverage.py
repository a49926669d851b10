"""Coverage of a cut over the targets, and the balanced rule, on a planted pool: two target styles (ProofNet
statements, and changelog entries that are rare in the pool). Counts are checked against the definition computed
pair by pair: a target is covered when one of its k most similar pool rows is kept."""

from __future__ import annotations


import numpy as np
import pytest

from tests.planted_targets import POOL, RARE_TARGETS, TARGET_SET, direct_covered
from zipfit_core.analysis.coverage import (
    coverage_of_prefix,
    coverage_of_rows,
    gaps_table,
    nearest_rows_of_target,
    select_balanced,
    served_targets,
)
from zipfit_core.analysis.selection import SelectionRule, select
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.score_job import ScoreRequest, run_foreground
from zipfit_core.scoring.alignment import rank_by_score
from zipfit_core.store.score_cache import cached_target_facts

@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("cache")
    request = ScoreRequest(POOL, TARGET_SET)
    scores = run_foreground(request, cache, workers=2)
    return scores, cached_target_facts(cache, request.resolved_run())


def test_plain_top_k_leaves_the_rare_targets_uncovered_and_the_balanced_rule_covers_them(scored) -> None:
    scores, facts = scored
    rule = SelectionRule("top_k", 60)
    plain = select(scores, rule)
    balanced = select_balanced(scores, rule, facts)
    assert plain.n_rows == balanced.n_rows == 60  # the same budget
    plain_coverage = coverage_of_rows(facts, plain.rows, len(POOL))
    balanced_coverage = coverage_of_rows(facts, balanced.rows, len(POOL))
    assert set(RARE_TARGETS) <= set(plain_coverage.uncovered)
    assert balanced_coverage.uncovered == [] and balanced_coverage.covered == len(TARGET_SET)
    # The counts are those of the definition.
    for selection, coverage in ((plain, plain_coverage), (balanced, balanced_coverage)):
        expected = direct_covered(selection.rows)
        assert coverage.covered == sum(expected)
        assert coverage.uncovered == [t for t, is_covered in enumerate(expected) if not is_covered]
    # Explore's prefix cut says the same as the selected rows.
    ranked = rank_by_score(scores)
    rank_of_row = np.empty(len(scores), np.int64)
    rank_of_row[ranked] = np.arange(len(scores))
    assert np.array_equal(coverage_of_prefix(facts, rank_of_row, 60).best_kept, plain_coverage.best_kept)


def test_worst_served_come_first_with_their_nearest_rows_and_the_gaps(scored) -> None:
    scores, facts = scored
    coverage = coverage_of_rows(facts, select(scores, SelectionRule("top_k", 60)).rows, len(POOL))
    table = served_targets(facts, coverage, TARGET_SET)
    assert table["covered"].tolist() == sorted(table["covered"].tolist())  # uncovered first
    assert set(table["target"][: len(coverage.uncovered)]) == set(coverage.uncovered)
    nearest = nearest_rows_of_target(facts, RARE_TARGETS[0])
    assert len(nearest) == 10 and set(nearest["row"]) <= set(range(240, 252)) | set(range(240))
    assert nearest["above typical"].iloc[0] > 1  # a real match: well above the target's typical similarity
    gaps = gaps_table(facts, coverage, TARGET_SET)
    assert gaps["target"].tolist() == coverage.uncovered and gaps["text"].iloc[0] == TARGET_SET[coverage.uncovered[0]]


def test_the_balanced_rule_fills_every_budget_and_refuses_a_threshold(scored) -> None:
    scores, facts = scored
    tokens = np.full(len(POOL), 10)
    assert select_balanced(scores, SelectionRule("token_budget", 95), facts, tokens).tokens_kept == 95
    assert select_balanced(scores, SelectionRule("top_percent", 50), facts).n_rows == len(POOL) // 2
    with pytest.raises(ZipFitError, match="budget"):
        select_balanced(scores, SelectionRule("threshold", 0.1), facts)
