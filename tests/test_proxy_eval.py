"""Proxy evaluation: the n-gram model on cases with known answers, the curves, the disjointness guard."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from selector_data import labelled_pool, proofnet_split
from zipfit_core.errors import ZipFitError
from zipfit_core.proxy_eval import (
    NO_SELECTION,
    CharNgramModel,
    check_disjoint,
    default_ks,
    proxy_evaluation,
    row_fingerprint,
)


def random_text(symbols: str, length: int, seed: int) -> str:
    generator = random.Random(seed)
    return "".join(generator.choice(symbols) for _ in range(length))


def test_untrained_model_is_uniform_over_the_alphabet():
    for size in (2, 7, 64):
        alphabet = {chr(ord("A") + i) for i in range(size)}
        model = CharNgramModel(alphabet, order=4)
        assert model.bits_per_char([random_text("".join(sorted(alphabet)), 500, size)]) == pytest.approx(
            math.log2(size), abs=1e-12)


def test_uniform_random_text_costs_log2_k_bits_per_char():
    symbols = "abcdefgh"
    model = CharNgramModel(set(symbols), order=2)
    model.add([random_text(symbols, 100_000, 1)])
    assert model.bits_per_char([random_text(symbols, 20_000, 2)]) == pytest.approx(3.0, abs=0.01)


def test_hand_computed_unigram_probabilities():
    # Order 1, D = 0.75, trained on "aab": P(w) = (max(c - D, 0) + D * 2 types * 1/2) / 3.
    model = CharNgramModel({"a", "b", "c"}, order=1, discount=0.75)
    model.add(["aab"])
    assert model.probability("", "a") == pytest.approx((1.25 + 0.75 * 2 / 3) / 3)
    assert model.probability("", "b") == pytest.approx((0.25 + 0.75 * 2 / 3) / 3)
    assert model.probability("", "c") == pytest.approx((0.75 * 2 / 3) / 3)


def test_continuation_counts_drive_the_lower_order():
    # Bigram model on "abab" (context padded with one boundary symbol ^); alphabet of 4, so P0 = 1/4.
    model = CharNgramModel(set("abc "), order=2, discount=0.5)
    model.add(["abab"])
    # Bigram types: (^a), (ab), (ba): unigram continuation counts a:2, b:1, total 3, 2 types.
    unigram_b = (max(1 - 0.5, 0) + 0.5 * 2 * 0.25) / 3
    # Context "a" was followed by "b" twice: P(b | a) = (2 - 0.5 + 0.5 * 1 * P1(b)) / 2.
    assert model.probability("a", "b") == pytest.approx((1.5 + 0.5 * unigram_b) / 2)


def test_probabilities_sum_to_one_in_every_context():
    texts = proofnet_split("valid")[:40]
    alphabet = set("".join(texts)) | {"#"}
    model = CharNgramModel(alphabet, order=4)
    model.add(texts)
    for context in ["", "theorem", "∀ x", "zzz#", "Prove that "]:
        assert sum(model.probability(context, char) for char in alphabet) == pytest.approx(1.0, abs=1e-9)


def test_a_deterministic_text_is_nearly_free_once_learned():
    model = CharNgramModel(set("abc"), order=3)
    model.add(["abc" * 1000])
    assert model.bits_per_char(["abc" * 200]) < 0.02
    assert CharNgramModel(set("abc"), order=3).bits_per_char(["abc"]) == pytest.approx(math.log2(3))


def test_model_rejects_bad_settings_and_foreign_characters():
    with pytest.raises(ZipFitError, match="order"):
        CharNgramModel({"a"}, order=0)
    with pytest.raises(ZipFitError, match="discount"):
        CharNgramModel({"a"}, discount=1.5)
    with pytest.raises(ZipFitError, match="outside"):
        CharNgramModel({"a"}).bits_per_char(["ab"])


def test_disjointness_guard():
    valid, test = proofnet_split("valid"), proofnet_split("test")
    check_disjoint(valid, test)  # the paper's split: passes
    with pytest.raises(ZipFitError, match=r"1 of the 3 evaluation targets .* evaluation row 2 = selection row 5"):
        check_disjoint(valid, [test[0], test[1], valid[5]])
    # A copy that differs only in whitespace is still the same row.
    respaced = "  " + valid[7].replace(" ", "  ") + "\n"
    assert row_fingerprint(respaced) == row_fingerprint(valid[7])
    with pytest.raises(ZipFitError, match="also occur among the selection targets"):
        check_disjoint(valid, [respaced])


def test_proxy_evaluation_rejects_overlapping_targets_per_method():
    pool = labelled_pool(6, 3, 3)
    scores = {"m": np.arange(len(pool.sources), dtype=float)}
    with pytest.raises(ZipFitError, match="also occur"):
        proxy_evaluation(pool.sources, scores, pool.targets[:10], pool.targets, ks=[2])
    with pytest.raises(ZipFitError, match="also occur"):
        proxy_evaluation(pool.sources, scores, pool.targets[:10], {"m": pool.targets[5:20]}, ks=[2])


def test_selecting_in_domain_rows_lowers_held_out_cross_entropy():
    pool = labelled_pool(20, 10, 10)
    evaluation = proofnet_split("test")[100:160]  # disjoint from the pool's first test rows and from valid
    inside = np.array(pool.in_domain, dtype=float)
    scores = {"oracle": inside, "anti": 1 - inside}
    result = proxy_evaluation(pool.sources, scores, evaluation, pool.targets, ks=[5, 20, 40])
    curves = {curve.method: curve for curve in result.curves}
    assert curves["oracle"].ks == [5, 20, 40]
    for k_index in (0, 1):
        assert curves["oracle"].bits_per_char[k_index] < curves["anti"].bits_per_char[k_index] - 0.3
    # At k = every row both models saw the same texts, as did the no-selection model.
    assert curves["oracle"].bits_per_char[2] == pytest.approx(result.no_selection_bits_per_char, abs=1e-9)
    assert curves["anti"].bits_per_char[2] == pytest.approx(result.no_selection_bits_per_char, abs=1e-9)
    assert result.untrained_bits_per_char == pytest.approx(math.log2(result.alphabet_size))
    assert result.no_selection_bits_per_char < result.untrained_bits_per_char
    assert curves["oracle"].train_chars[-1] == sum(map(len, pool.sources))
    assert result.evaluation_rows_in_pool == 0
    frame = result.to_frame()
    assert list(frame.columns) == ["method", "k", "bits_per_char", "train_chars"] and len(frame) == 6
    content = result.to_dict()
    assert content["settings"]["ks"] == [5, 20, 40] and "Not fine-tuning" in content["note"]
    assert set(content["score_fingerprints"]) == {"oracle", "anti"}


def test_held_out_rows_found_in_the_pool_are_counted():
    pool = labelled_pool(6, 3, 3)
    evaluation = proofnet_split("test")[:10]  # the pool holds the first 6 of these
    result = proxy_evaluation(pool.sources, {"m": np.zeros(len(pool.sources))}, evaluation, pool.targets, ks=[3])
    assert result.evaluation_rows_in_pool == 6


def test_default_ks_are_percentages_of_the_pool():
    assert default_ks(1000) == [10, 20, 50, 100, 250, 500]
    assert default_ks(30) == [1, 2, 3, 8, 15]
    assert default_ks(0) == []
    assert NO_SELECTION.startswith("no selection")
