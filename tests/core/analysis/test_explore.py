"""The Explore page's numbers (zipfit_core.analysis.explore): cuts agree with `select`, counts, groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zipfit_core.analysis.explore import (
    OTHER_GROUP,
    bottom_rows,
    build_group_index,
    build_score_index,
    composition,
    decimals_to_tell_apart,
    equivalent_rule,
    group_columns,
    kept_count,
    length_stats,
    rows_around_cut,
    rows_table,
    score_histogram,
    snap_threshold,
    summarize_cut,
    text_preview,
    threshold_from_selection,
    top_rows,
)
from zipfit_core.analysis.nearest import nearest_targets
from zipfit_core.analysis.selection import SelectionRule, select
from zipfit_core.scoring.alignment import alignment_scores


@pytest.fixture(scope="module")
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    # Rounded scores make many ties, which is where ranking bugs hide.
    scores = np.round(rng.uniform(0.05, 0.4, size=3000), 3)
    tokens = rng.integers(1, 300, size=3000)
    return scores, tokens


RULES = [
    SelectionRule("threshold", 0.2), SelectionRule("threshold", 0.2005), SelectionRule("threshold", 1.0),
    SelectionRule("threshold", -1.0), SelectionRule("top_k", 0), SelectionRule("top_k", 1),
    SelectionRule("top_k", 777), SelectionRule("top_k", 10_000), SelectionRule("top_percent", 0),
    SelectionRule("top_percent", 10), SelectionRule("top_percent", 33.3), SelectionRule("top_percent", 100),
    SelectionRule("token_budget", 0), SelectionRule("token_budget", 1), SelectionRule("token_budget", 12_345),
    SelectionRule("token_budget", 10**9),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: f"{rule.kind}-{rule.value}")
def test_cut_keeps_exactly_the_rows_select_keeps(scored, rule):
    scores, tokens = scored
    index = build_score_index(scores, token_counts=tokens)
    summary = summarize_cut(index, rule)
    selection = select(scores, rule, tokens)
    assert summary.n_kept == selection.n_rows
    np.testing.assert_array_equal(index.ranked[: summary.n_kept], selection.rows)
    assert summary.tokens_kept == selection.tokens_kept
    assert summary.last_row_tokens == selection.last_row_tokens
    assert summary.n_rows == len(scores)
    if summary.n_kept:
        assert summary.lowest_kept_score == scores[selection.rows[-1]]


def test_switching_rule_kind_keeps_the_same_cut():
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 1, 500)  # no ties: every kind can express every cut
    tokens = rng.integers(1, 50, 500)
    index = build_score_index(scores, token_counts=tokens)
    start = summarize_cut(index, SelectionRule("top_k", 123))
    for kind in ("threshold", "token_budget", "top_k"):
        rule = equivalent_rule(index, start, kind)
        assert summarize_cut(index, rule).n_kept == 123, kind
    percent = equivalent_rule(index, start, "top_percent")
    assert percent.value == pytest.approx(24.6)
    assert summarize_cut(index, percent).n_kept == 123
    everything = summarize_cut(index, SelectionRule("top_k", 500))
    assert summarize_cut(index, equivalent_rule(index, everything, "threshold")).n_kept == 500
    nothing = summarize_cut(index, SelectionRule("top_k", 0))
    assert summarize_cut(index, equivalent_rule(index, nothing, "threshold")).n_kept == 0


def test_nan_scores_rank_last_and_never_pass_a_threshold():
    index = build_score_index(np.array([0.3, np.nan, 0.5, 0.1]))
    assert list(index.ranked) == [2, 0, 3, 1]
    assert kept_count(index, SelectionRule("threshold", 0.0)) == (3, None)
    assert index.score_range() == (0.1, 0.5)


def test_token_budget_without_counts_is_a_user_error():
    index = build_score_index(np.array([0.1, 0.2]))
    with pytest.raises(Exception, match="token counts"):
        summarize_cut(index, SelectionRule("token_budget", 10))


def test_composition_counts_the_kept_rows_by_group(scored):
    scores, tokens = scored
    index = build_score_index(scores, token_counts=tokens)
    rng = np.random.default_rng(3)
    source = rng.choice(["code", "math", "prose", None], size=len(scores))
    groups = build_group_index(source, index, "source")
    table = composition(groups, 400)
    kept_rows = select(scores, SelectionRule("top_k", 400)).rows
    expected = pd.Series(source[kept_rows]).fillna("(missing)").value_counts()
    got = dict(zip(table["source"], table["kept"]))
    assert got == expected.to_dict()
    assert table["kept"].sum() == 400
    assert table["total"].sum() == len(scores)
    assert table["share_of_kept"].sum() == pytest.approx(1.0)


def test_many_groups_fold_into_other():
    index = build_score_index(np.linspace(0, 1, 100))
    values = [f"g{i % 20}" for i in range(100)]
    groups = build_group_index(values, index, "g", max_groups=5)
    assert len(groups.labels) == 5 and groups.labels[-1] == OTHER_GROUP
    assert groups.totals.tolist() == [5, 5, 5, 5, 80]


def test_group_columns_skip_text_and_unhashable_columns():
    table = pd.DataFrame({"text": [f"t{i}" for i in range(100)], "source": ["a", "b"] * 50,
                          "tags": [["x"]] * 100, "constant": ["c"] * 100})
    assert group_columns(table, exclude=["text"]) == ["source"]


def test_histogram_counts_every_scored_row_by_group(scored):
    scores, _ = scored
    index = build_score_index(scores)
    plain = score_histogram(index, n_bins=30)
    assert plain.counts.shape == (1, 30) and plain.counts.sum() == len(scores)
    expected, _ = np.histogram(scores, bins=plain.edges)
    np.testing.assert_array_equal(plain.counts[0], expected)
    groups = build_group_index(np.where(scores > 0.2, "high", "low"), index, "band")
    stacked = score_histogram(index, groups, n_bins=30)
    assert stacked.counts.sum(axis=1).tolist() == groups.totals.tolist()
    np.testing.assert_array_equal(stacked.counts.sum(axis=0), plain.counts[0])


def test_histogram_of_identical_scores_still_has_width():
    histogram = score_histogram(build_score_index(np.full(10, 0.25)), n_bins=4)
    assert histogram.width > 0 and histogram.counts.sum() == 10


def test_threshold_from_a_histogram_selection():
    histogram = score_histogram(build_score_index(np.linspace(0, 1, 11)), n_bins=10)
    assert threshold_from_selection({"box": [{"x": [0.62, 0.31]}], "points": []}, histogram) == 0.31
    assert threshold_from_selection({"points": [{"x": 0.75}, {"x": 0.55}]}, histogram) == pytest.approx(0.5)
    assert threshold_from_selection({"points": [], "box": []}, histogram) is None
    assert threshold_from_selection(None, histogram) is None


def test_rows_around_the_cut_and_at_both_ends():
    scores = np.array([0.5, 0.9, 0.1, 0.7, 0.3])
    index = build_score_index(scores)
    assert top_rows(index, 2).tolist() == [1, 3]
    assert bottom_rows(index, 2).tolist() == [4, 2]
    above, below = rows_around_cut(index, 2, k=1)
    assert above.tolist() == [3] and below.tolist() == [0]
    above, below = rows_around_cut(index, 0, k=3)
    assert above.tolist() == [] and below.tolist() == [1, 3, 0]
    texts = ["alpha", "beta   gamma\n\ndelta", "c", "d", "e"]
    groups = build_group_index(["x", "y", "x", "y", "x"], index, "source")
    table = rows_table(build_score_index(scores, n_chars=np.array([len(t) for t in texts])), [1, 2], texts,
                       groups=groups)
    assert table.to_dict("list") == {"rank": [1, 5], "row": [1, 2], "score": [0.9, 0.1], "chars": [19, 1],
                                     "source": ["y", "x"], "text": ["beta gamma delta", "c"]}


def test_text_preview_is_one_short_line():
    assert text_preview("a\n b\tc", 10) == "a b c"
    long = text_preview("word " * 100, 20)
    assert len(long) <= 20 and long.endswith("…")


def test_length_stats():
    stats = length_stats(["ab", "abcd", ""])
    assert (stats.rows, stats.total_chars, stats.min_chars, stats.max_chars) == (3, 6, 0, 4)
    assert stats.mean_chars == 2 and stats.median_chars == 2
    assert length_stats([]).rows == 0
    assert length_stats(np.array([2, 4, 0])) == stats


def test_nearest_targets_mean_is_the_alignment_score():
    targets = ["def add(a, b):\n    return a + b\n", "theorem add_comm (a b : nat) : a + b = b + a",
               "The quick brown fox jumps over the lazy dog."]
    source = "def add(x, y):\n    return x + y\n"
    nearest = nearest_targets(source, targets, k=2)
    assert nearest.n_targets == 3 and len(nearest.table) == 2
    assert nearest.table["target_row"].tolist()[0] == 0
    assert nearest.table["similarity"].is_monotonic_decreasing
    assert nearest.mean_similarity == pytest.approx(alignment_scores([source], targets)[0], abs=1e-15)
    with pytest.raises(Exception, match="target set is empty"):
        nearest_targets(source, [])


def test_a_threshold_is_snapped_to_the_shortest_number_that_keeps_the_same_rows():
    scores = np.array([0.21431, 0.2143, 0.1878123, 0.18781, 0.5, 0.05])
    index = build_score_index(scores)
    dragged = 0.21430910867239733  # what a drag across the histogram gives
    snapped = snap_threshold(index, dragged)
    assert snapped == 0.2143 and repr(snapped) == "0.2143"
    assert kept_count(index, SelectionRule("threshold", snapped)) == kept_count(index, SelectionRule("threshold",
                                                                                                     dragged)) == (2, None)
    # Just above 0.18781 (dropped) and below 0.1878123 (kept): 0.1878 would keep 0.18781 too, so five places.
    assert repr(snap_threshold(index, 0.187811)) == "0.18781"
    assert kept_count(index, SelectionRule("threshold", 0.18781))[0] == 4
    assert kept_count(index, SelectionRule("threshold", 0.1878))[0] == 5
    assert snap_threshold(index, 0.3) == 0.3  # already short


def test_decimals_tell_two_scores_apart_or_say_they_tie():
    assert decimals_to_tell_apart(0.18781234, 0.18779) == 5  # 0.1878 both at 4 places
    assert f"{0.18781234:.5f}" != f"{0.18779:.5f}"
    assert decimals_to_tell_apart(0.5, 0.25) == 4  # never fewer than the page's usual 4
    assert decimals_to_tell_apart(0.1878, 0.1878) is None  # a tie
    assert decimals_to_tell_apart(0.1 + 0.2, 0.3) == 17  # apart only in the last place of a double


def test_a_categorical_column_groups_exactly_as_its_values_do():
    # A data store hands its string columns over as categoricals: the groups must not depend on that.
    rng = np.random.default_rng(3)
    values = [None if draw == 5 else ["code", "prose", "math", 7, "x"][draw] for draw in rng.integers(0, 6, 5000)]
    index = build_score_index(rng.random(5000))
    plain = build_group_index(pd.Series(values, dtype=object), index, "kind", max_groups=4)
    categorical = build_group_index(pd.Series(pd.Categorical([None if v is None else str(v) for v in values])),
                                    index, "kind", max_groups=4)
    assert categorical.labels == plain.labels
    np.testing.assert_array_equal(categorical.codes, plain.codes)
    np.testing.assert_array_equal(categorical.totals, plain.totals)


def test_ranks_of_rows_are_the_inverse_of_the_ranking():
    rng = np.random.default_rng(3)
    for trial in range(100):
        scores = np.round(rng.random(50), 1)
        scores[rng.integers(0, 50, 3)] = np.nan if trial % 2 else np.inf
        index = build_score_index(scores)
        inverse = np.empty(50, dtype=np.int64)
        inverse[index.ranked] = np.arange(50)
        rows = rng.integers(0, 50, 8)
        assert index.ranks_of(rows).tolist() == inverse[rows].tolist() == index.rank_of_row[rows].tolist()


def test_the_histogram_bins_as_numpy_does_per_group_without_infinities_or_nan():
    rng = np.random.default_rng(4)
    scores = np.round(rng.random(400), 2)
    scores[:5], scores[5:8], scores[8:10] = np.nan, np.inf, -np.inf
    values = pd.Series(rng.choice(["a", "b", "c"], 400)).astype("category")
    index = build_score_index(scores)
    groups = build_group_index(values, index, "kind")
    assert groups.codes.dtype == np.int8 and groups.ranked_codes.tolist() == groups.codes[index.ranked].tolist()
    histogram = score_histogram(index, groups, n_bins=7)
    finite = np.isfinite(scores)
    for code, label in enumerate(groups.labels):
        counts, _ = np.histogram(scores[finite & (values == label).to_numpy()], bins=histogram.edges)
        assert histogram.counts[code].tolist() == counts.tolist()
    assert score_histogram(index, n_bins=7).counts[0].tolist() == histogram.counts.sum(axis=0).tolist()


def test_groups_of_an_empty_pool_or_of_categories_no_row_has():
    index = build_score_index(np.array([0.2, 0.1]))
    groups = build_group_index(pd.Series(pd.Categorical(["b", None], categories=["a", "b", "c"])), index, "kind")
    assert groups.labels == ["b", "(missing)"] and groups.codes.tolist() == [0, 1] and groups.totals.tolist() == [1, 1]
    empty = build_score_index(np.array([]))
    for values in (pd.Series([], dtype="category"), pd.Series(pd.Categorical([], categories=["a"]))):
        assert build_group_index(values, empty, "kind").labels == []
