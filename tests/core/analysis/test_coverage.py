"""Coverage of a cut over the targets, and the balanced rule, on a planted pool: two target styles (ProofNet
statements, and changelog entries that are rare in the pool). Counts are checked against the definition computed
pair by pair: a target is covered when one of its k most similar pool rows is kept."""

from __future__ import annotations

import numpy as np
import pytest

from tests.planted_targets import POOL, RARE_TARGETS, TARGET_SET, direct_covered
from zipfit_core.analysis.coverage import (
    balanced_ranking_scores,
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


def test_explore_numbers_of_the_balanced_selection_come_from_its_rows(scored) -> None:
    from zipfit_core.analysis.explore import (
        build_group_index,
        build_score_index,
        composition,
        rows_around_cut,
        summarize_cut,
        summarize_selection,
    )
    scores, facts = scored
    tokens = 10 + np.arange(len(POOL), dtype=np.int64) % 7
    index = build_score_index(scores, token_counts=tokens)
    rule = SelectionRule("token_budget", 650)
    balanced = select_balanced(scores, rule, facts, tokens)
    summary = summarize_selection(index, balanced)
    kept = np.isin(index.ranked, balanced.rows)
    assert (summary.n_kept, summary.tokens_kept, summary.last_row_tokens) == (
        balanced.n_rows, balanced.tokens_kept, balanced.last_row_tokens)
    assert summary.lowest_kept_score == scores[index.ranked[kept][-1]]
    assert summary.highest_dropped_score == scores[index.ranked[~kept][0]] > summary.lowest_kept_score
    above, below = rows_around_cut(index, summary.n_kept, 3, rows=balanced.rows)
    assert above.tolist() == index.ranked[kept][-3:].tolist() and below.tolist() == index.ranked[~kept][:3].tolist()
    groups = build_group_index(["changelog" if row >= 240 else "proofnet" for row in range(len(POOL))], index,
                               "style")
    table = composition(groups, summary.n_kept, balanced.rows).set_index("style")
    assert table.loc["changelog", "kept"] == int((balanced.rows >= 240).sum()) > 0
    assert table["kept"].sum() == balanced.n_rows
    # A selection that is a prefix of the ranking gives the prefix numbers.
    plain = select(scores, rule, tokens)
    assert summarize_selection(index, plain) == summarize_cut(index, rule)
    assert composition(groups, plain.n_rows, plain.rows).equals(composition(groups, plain.n_rows))


def test_plain_and_balanced_side_by_side(scored) -> None:
    from zipfit_core.analysis.coverage import BALANCED_LABEL, PLAIN_LABEL, compare_balanced
    scores, facts = scored
    styles = ["changelog" if row >= 240 else "proofnet" for row in range(len(POOL))]
    result = compare_balanced(scores, SelectionRule("top_k", 60), facts, column_values=styles)
    plain, balanced = result.selections[PLAIN_LABEL], result.selections[BALANCED_LABEL]
    assert result.coverages[BALANCED_LABEL].covered == len(TARGET_SET) > result.coverages[PLAIN_LABEL].covered
    both = len(set(plain.rows.tolist()) & set(balanced.rows.tolist()))
    assert result.overlap.intersection == both and result.overlap.jaccard == both / (120 - both)
    assert result.composition.loc["changelog", BALANCED_LABEL] > result.composition.loc["changelog", PLAIN_LABEL]


def test_a_result_saved_without_per_target_facts_cannot_be_balanced() -> None:
    from zipfit_core.analysis.coverage import balance_unavailable, facts_for_pool
    from zipfit_core.store.score_state import ScoreState
    state = ScoreState.fresh(5, (2,))
    state.round_rows_done = 5
    state.commit_round()  # complete, with no per-target facts recorded (as tests/e2e/scored_pool.py saves one)
    facts = state.target_facts()
    assert facts_for_pool(facts, 5) is None and "facts" in balance_unavailable("top_k", None)
    assert "threshold" in balance_unavailable("threshold", object())


def test_the_proxy_evaluation_trains_the_balanced_cut_in_the_order_the_rule_takes_rows(scored) -> None:
    scores, facts = scored
    ranking = balanced_ranking_scores(scores, facts)
    for budget in (1, 8, 60, len(scores)):  # every top-K of that ranking is the balanced cut of that budget
        by_ranking = select(ranking, SelectionRule("top_k", budget)).rows
        assert sorted(by_ranking.tolist()) == sorted(select_balanced(scores, SelectionRule("top_k", budget),
                                                                     facts).rows.tolist())
