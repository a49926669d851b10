"""Compare: overlaps, rank correlations, composition, exclusive rows and length bias on known cases."""

from __future__ import annotations

import numpy as np
import pytest

from zipfit_core.compare import (
    compare_methods,
    composition,
    exclusive_rows,
    kept_sets,
    length_bias,
    overlaps,
    rank_correlations,
    score_length_sample,
)
from zipfit_core.errors import ZipFitError
from zipfit_core.selection import SelectionRule

TOP_3 = SelectionRule("top_k", 3)

# Rows 0..5. Top 3: a keeps {0, 1, 2}; b keeps {1, 2, 4}; c keeps {3, 4, 5}.
SCORES = {
    "a": np.array([6.0, 5, 4, 3, 2, 1]),
    "b": np.array([1.0, 6, 5, 2, 4, 3]),
    "c": np.array([1.0, 2, 3, 6, 5, 4]),
}


def test_overlap_counts_and_jaccard_on_known_sets():
    table = overlaps(kept_sets(SCORES, TOP_3)).set_index(["method_a", "method_b"])
    assert table.loc[("a", "b")].to_dict() == {"kept_a": 3, "kept_b": 3, "intersection": 2, "union": 4,
                                               "jaccard": 0.5}
    assert table.loc[("a", "c"), "intersection"] == 0 and table.loc[("a", "c"), "jaccard"] == 0
    assert table.loc[("b", "c"), "intersection"] == 1 and table.loc[("b", "c"), "jaccard"] == pytest.approx(1 / 5)
    assert len(table) == 3


def test_kept_sets_follow_selection_rules_including_ties_and_token_budgets():
    tied = {"x": np.array([1.0, 1, 1, 0]), "y": np.array([0.0, 1, 1, 1])}
    kept = kept_sets(tied, SelectionRule("top_k", 2))
    assert kept["x"].rows.tolist() == [0, 1] and kept["y"].rows.tolist() == [1, 2]  # ties: lower row first
    tokens = np.array([10, 10, 10, 10])
    by_tokens = kept_sets(tied, SelectionRule("token_budget", 25), tokens)
    assert by_tokens["x"].rows.tolist() == [0, 1, 2] and by_tokens["x"].tokens_kept == 25
    by_percent = kept_sets(tied, SelectionRule("top_percent", 50))
    assert by_percent["y"].rows.tolist() == [1, 2]
    with pytest.raises(ZipFitError, match="budget"):
        kept_sets(tied, SelectionRule("threshold", 0.5))
    with pytest.raises(ZipFitError, match="different source sets"):
        kept_sets({"x": np.zeros(3), "y": np.zeros(4)}, TOP_3)


def test_rank_correlations_on_known_permutations():
    scores = {"a": np.array([1.0, 2, 3, 4]), "same": np.array([10.0, 20, 30, 40]),
              "reversed": np.array([4.0, 3, 2, 1]), "swap": np.array([1.0, 3, 2, 4])}
    table = rank_correlations(scores).set_index(["method_a", "method_b"])
    assert table.loc[("a", "same")].tolist() == pytest.approx([1.0, 1.0])
    assert table.loc[("a", "reversed")].tolist() == pytest.approx([-1.0, -1.0])
    # One adjacent swap in 4: Spearman 1 - 6*2/(4*15) = 0.8; Kendall (5 - 1)/6 = 2/3.
    assert table.loc[("a", "swap")].tolist() == pytest.approx([0.8, 2 / 3])
    constant = rank_correlations({"a": np.arange(4.0), "flat": np.ones(4)})
    assert np.isnan(constant.loc[0, "spearman"]) and np.isnan(constant.loc[0, "kendall"])


def test_composition_counts_kept_rows_per_value_beside_the_pool():
    origin = ["math", "math", "code", "prose", "code", None]
    table = composition(kept_sets(SCORES, TOP_3), origin)
    assert table["pool"].to_dict() == {"math": 2, "code": 2, "prose": 1, "(missing)": 1}
    assert table["a"].to_dict() == {"math": 2, "code": 1, "prose": 0, "(missing)": 0}
    assert table["c"].to_dict() == {"math": 0, "code": 1, "prose": 1, "(missing)": 1}
    assert table["b_share"]["math"] == pytest.approx(1 / 3)
    assert table["pool_share"].sum() == pytest.approx(1.0)
    lumped = composition(kept_sets(SCORES, TOP_3), origin, max_categories=2)
    assert lumped["pool"].to_dict() == {"math": 2, "code": 2, "(other)": 2}


def test_exclusive_rows_are_kept_by_one_method_only_in_its_rank_order():
    exclusive = exclusive_rows(kept_sets(SCORES, TOP_3))
    assert exclusive["a"].tolist() == [0]
    assert exclusive["b"].tolist() == []  # 1, 2 also in a; 4 also in c
    assert exclusive["c"].tolist() == [3, 5]
    pair = exclusive_rows(kept_sets({"a": SCORES["a"], "c": SCORES["c"]}, TOP_3))
    assert pair["c"].tolist() == [3, 4, 5]


def test_length_bias_signs_and_values():
    lengths = np.array([10, 100, 1000, 10000, 20, 200])
    scores = {"short": -np.log(lengths), "long": lengths / 1000.0, "flat": np.ones(6)}
    table = length_bias(scores, lengths).set_index("method")
    assert table.loc["short", "spearman_score_length"] == pytest.approx(-1.0)
    assert table.loc["short", "pearson_score_log_length"] == pytest.approx(-1.0)
    assert table.loc["long", "spearman_score_length"] == pytest.approx(1.0)
    assert np.isnan(table.loc["flat", "spearman_score_length"])
    with pytest.raises(ZipFitError, match="different rows"):
        length_bias({"short": np.ones(5)}, lengths)


def test_score_length_sample_uses_the_same_rows_for_every_method():
    lengths = np.arange(100)
    sample = score_length_sample({"a": np.arange(100.0), "b": -np.arange(100.0)}, lengths, max_points=10)
    rows_a = sample[sample.method == "a"].row.tolist()
    assert len(rows_a) == 10 and rows_a == sample[sample.method == "b"].row.tolist()
    assert (sample[sample.method == "b"].score == -sample[sample.method == "b"].row).all()


def test_compare_methods_bundles_everything():
    result = compare_methods(SCORES, TOP_3, lengths=np.arange(1, 7), column_values=list("xxyyzz"))
    assert set(result.selections) == {"a", "b", "c"}
    assert len(result.overlaps) == 3 and len(result.correlations) == 3
    assert result.composition is not None and result.composition["a"].to_dict() == {"x": 2, "y": 1, "z": 0}
    assert result.length_bias is not None and len(result.length_bias) == 3
    with pytest.raises(ZipFitError, match="at least two"):
        compare_methods({"a": SCORES["a"]}, TOP_3)
