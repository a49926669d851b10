"""Selection rules (threshold, top-K, top percent, token budget) and the approximate token counter."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zipfit_core import ZipFitError, rank_by_score
from zipfit_core.analysis.export import SCORE_COLUMN, selected_table
from zipfit_core.analysis.selection import TOKEN_BLOCK, RankedTokens, SelectionRule, TokenCounter, select

SCORES = np.array([0.30, 0.55, 0.10, 0.55, 0.42, 0.70, 0.30])  # ties at 0.55 (rows 1, 3) and 0.30 (0, 6)
RANKED = [5, 1, 3, 4, 0, 6, 2]


def test_ranking_used_by_selection_breaks_ties_by_row():
    assert rank_by_score(SCORES).tolist() == RANKED


def test_threshold_keeps_scores_strictly_above_best_first():
    selection = select(SCORES, SelectionRule("threshold", 0.42))
    assert selection.rows.tolist() == [5, 1, 3]
    assert select(SCORES, SelectionRule("threshold", 0.0)).rows.tolist() == RANKED
    assert select(SCORES, SelectionRule("threshold", 0.7)).n_rows == 0


@pytest.mark.parametrize(("k", "expected"), [(0, []), (1, [5]), (2, [5, 1]), (3, [5, 1, 3]),
                                             (5, [5, 1, 3, 4, 0]), (7, RANKED), (100, RANKED)])
def test_top_k_takes_the_k_best_with_ties_by_row(k, expected):
    selection = select(SCORES, SelectionRule("top_k", k))
    assert selection.rows.tolist() == expected
    assert selection.total_rows == len(SCORES)


@pytest.mark.parametrize(("percent", "n_rows"), [(0, 0), (14.2, 0), (14.3, 1), (50, 3), (99.9, 6), (100, 7)])
def test_top_percent_rounds_down(percent, n_rows):
    assert select(SCORES, SelectionRule("top_percent", percent)).rows.tolist() == RANKED[:n_rows]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 1000))
def test_top_percent_is_the_floor_of_the_exact_share(n, tenths_of_percent):
    percent = tenths_of_percent / 10
    selection = select(np.zeros(n), SelectionRule("top_percent", percent))
    assert selection.n_rows == math.floor(Fraction(n) * Fraction(str(percent)) / 100)


def test_token_budget_fills_in_rank_order_and_truncates_the_last_document():
    counts = np.array([10, 4, 7, 6, 5, 3, 8])  # in rank order 5, 1, 3, 4, 0, 6, 2: 3, 4, 6, 5, 10, 8, 7
    selection = select(SCORES, SelectionRule("token_budget", 15), counts)
    assert selection.rows.tolist() == [5, 1, 3, 4]  # 3 + 4 + 6 = 13 whole, then 2 of row 4's 5 tokens
    assert selection.last_row_tokens == 2
    assert selection.tokens_kept == 15


def test_token_budget_exactly_filled_by_whole_documents_truncates_nothing():
    counts = np.array([10, 4, 7, 6, 5, 3, 8])
    selection = select(SCORES, SelectionRule("token_budget", 13), counts)
    assert selection.rows.tolist() == [5, 1, 3]
    assert selection.last_row_tokens is None
    assert selection.tokens_kept == 13


def test_token_budget_larger_than_the_pool_keeps_everything():
    counts = np.array([10, 4, 7, 6, 5, 3, 8])
    selection = select(SCORES, SelectionRule("token_budget", 1000), counts)
    assert selection.rows.tolist() == RANKED
    assert selection.tokens_kept == counts.sum() and selection.last_row_tokens is None


def test_token_budget_smaller_than_the_best_document_keeps_part_of_it():
    counts = np.array([10, 4, 7, 6, 5, 3, 8])
    selection = select(SCORES, SelectionRule("token_budget", 2), counts)
    assert selection.rows.tolist() == [5]
    assert selection.last_row_tokens == 2 and selection.tokens_kept == 2


def test_token_budget_needs_token_counts():
    with pytest.raises(ZipFitError, match="token counts"):
        select(SCORES, SelectionRule("token_budget", 10))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.1, 0.2, 0.25, 0.5, 0.9]), st.integers(0, 40)), max_size=60),
       st.integers(0, 2500))
def test_token_budget_properties(rows, budget):
    scores = np.array([score for score, _ in rows], dtype=np.float64)
    counts = np.array([count for _, count in rows], dtype=np.int64)
    selection = select(scores, SelectionRule("token_budget", budget), counts)
    chosen = selection.rows.tolist()
    assert chosen == rank_by_score(scores).tolist()[:len(chosen)]  # a prefix of the ranking
    total = int(counts.sum())
    assert selection.tokens_kept == min(budget, total)  # filled whenever the pool can fill it
    if selection.last_row_tokens is None:
        assert int(counts[chosen].sum()) == selection.tokens_kept
    else:
        whole = int(counts[chosen[:-1]].sum())
        assert 0 < selection.last_row_tokens < counts[chosen[-1]]
        assert whole + selection.last_row_tokens == budget


@pytest.mark.parametrize(("kind", "value"), [("top_k", -1), ("top_k", 2.5), ("token_budget", -5),
                                             ("token_budget", 0.5), ("top_percent", -1), ("top_percent", 100.5),
                                             ("threshold", float("nan")), ("threshold", float("inf")),
                                             ("bottom_k", 3)])
def test_invalid_rules_are_user_errors(kind, value):
    with pytest.raises(ZipFitError):
        SelectionRule(kind, value)


def test_rules_describe_themselves():
    assert SelectionRule("threshold", 0.4).describe() == "score > 0.4"
    assert SelectionRule("top_k", 10).describe() == "top 10 rows"
    assert SelectionRule("top_percent", 12.5).describe() == "top 12.5% of rows"
    assert SelectionRule("token_budget", 1_000_000).describe() == "top rows until 1000000 tokens"
    assert SelectionRule("top_k", 1).describe() == "top 1 row"
    assert SelectionRule("token_budget", 1).describe() == "top rows until 1 token"


# ---------------------------------------------------------------------------------------------
# Token counting.

def test_approximate_counter_counts_words_and_punctuation():
    counter = TokenCounter()
    assert counter.name == "approx-regex"
    texts = ["def f(x): return x+1", "héllo wörld", "", "   \n\t", "a_b_c 12.5"]
    assert counter.count(texts).tolist() == [10, 2, 0, 0, 4]
    assert counter.count([]).tolist() == []


def test_approximate_counter_truncates_to_a_prefix_with_that_many_tokens():
    counter = TokenCounter()
    text = "def f(x): return x+1"
    assert counter.truncate(text, 0) == ""
    assert counter.truncate(text, 3) == "def f("
    assert counter.truncate(text, 10) == text
    assert counter.truncate(text, 11) == text


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.integers(0, 120))
def test_truncation_keeps_exactly_the_first_tokens(text, n_tokens):
    counter = TokenCounter()
    prefix = counter.truncate(text, n_tokens)
    assert text.startswith(prefix)
    full, kept = counter.count([text, prefix]).tolist()
    assert kept == min(n_tokens, full)


def test_tokenizer_file_counts_exactly_or_explains_how_to_enable_it(tmp_path):
    try:
        from tokenizers import Tokenizer, models, pre_tokenizers
    except ImportError:
        with pytest.raises(ZipFitError, match="pip install tokenizers"):
            TokenCounter(tmp_path / "tokenizer.json")
        return
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    counter = TokenCounter(path)
    assert counter.count(["hello world", "hello there big world"]).tolist() == [2, 4]
    assert counter.truncate("hello there big world", 2) == "hello there"
    with pytest.raises(ZipFitError, match="Could not read tokenizer file"):
        TokenCounter(tmp_path / "missing.json")


# ---------------------------------------------------------------------------------------------
# The exported table of a selection (in process; the CLI tests cover the files).

def test_selected_table_is_best_first_with_score_and_truncated_last_text():
    texts = ["alpha beta gamma", "one two", "x y z w", "red green blue cyan", "p q"]
    table = pd.DataFrame({"id": range(5), "text": texts, "lang": list("abcde")})
    scores = np.array([0.2, 0.9, 0.5, 0.7, 0.1])
    counter = TokenCounter()
    selection = select(scores, SelectionRule("token_budget", 8), counter.count(texts))
    chosen = selected_table(table, texts, "text", scores, selection, counter)
    assert chosen["id"].tolist() == [1, 3, 2]  # 2 + 4 whole, then 2 of "x y z w"
    assert chosen["text"].tolist() == ["one two", "red green blue cyan", "x y"]
    assert chosen["lang"].tolist() == ["b", "d", "c"]
    assert chosen[SCORE_COLUMN].tolist() == [0.9, 0.7, 0.5]
    assert counter.count(chosen["text"]).sum() == selection.tokens_kept == 8
    assert texts[2] == "x y z w"  # the caller's texts are untouched
    plain = selected_table(table, texts, "text", scores, selection, counter, include_score=False)
    assert SCORE_COLUMN not in plain.columns


@pytest.mark.parametrize("n", [0, 1, TOKEN_BLOCK - 1, TOKEN_BLOCK, 3 * TOKEN_BLOCK + 17])
def test_ranked_tokens_answer_as_a_running_total_of_every_row_does(n):
    rng = np.random.default_rng(n)
    counts = rng.integers(0, 50, n).astype(np.int32)
    counts[rng.integers(0, max(n, 1), n // 3)] = 0  # rows of no tokens: equal running totals
    order = rng.permutation(n).astype(np.int32)
    running = np.concatenate([[0], np.cumsum(counts[order], dtype=np.int64)])  # the definition
    along = RankedTokens(counts, order)
    assert along.total == running[-1]
    for k in {0, n, *rng.integers(0, n + 1, 40).tolist()}:
        assert along.prefix(k) == running[k]
    for budget in {0, 1, int(running[-1]), int(running[-1]) + 5, *rng.integers(0, running[-1] + 2, 60).tolist()}:
        assert along.rows_within(budget) == int(np.searchsorted(running[1:], budget, side="right"))
