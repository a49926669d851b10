"""Proxy evaluation: the n-gram model on cases with known answers, the curves, the disjointness guard."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from tests.selector_data import labelled_pool, proofnet_split
from zipfit_core.analysis.proxy_eval import (
    NO_SELECTION,
    CharNgramModel,
    check_disjoint,
    default_budgets,
    default_ks,
    proxy_evaluation,
    row_fingerprint,
)
from zipfit_core.errors import ZipFitError


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
    with pytest.raises(ZipFitError, match="1 of the 1 evaluation target also occurs among the selection targets"):
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


def test_character_budgets_fill_rows_in_rank_order_and_cut_the_last():
    pool = labelled_pool(6, 3, 3)
    evaluation = proofnet_split("test")[100:120]
    scores = np.arange(len(pool.sources), 0, -1, dtype=float)  # rank = row order
    lengths = [len(text) for text in pool.sources]
    budgets = [lengths[0] // 2, lengths[0] + lengths[1], lengths[0] + lengths[1] + 7, 10**9]
    result = proxy_evaluation(pool.sources, {"m": scores}, evaluation, pool.targets, ks=budgets,
                              budget_unit="chars")
    curve = result.curves[0]
    total = sum(lengths)
    assert curve.ks == budgets[:3] and curve.train_chars == budgets[:3]  # 10**9 exceeds the pool: dropped
    alphabet = set("".join(pool.sources)) | set("".join(evaluation))
    for budget, bits in zip(curve.ks, curve.bits_per_char):
        fresh = CharNgramModel(alphabet)
        used = 0
        for text in pool.sources:
            take = text[: budget - used]
            if take:
                fresh.add([take])
                used += len(take)
        assert fresh.bits_per_char(evaluation) == pytest.approx(bits, abs=1e-12)
    assert total > budgets[2]
    with pytest.raises(ZipFitError, match="budget unit"):
        proxy_evaluation(pool.sources, {"m": scores}, evaluation, pool.targets, ks=[5], budget_unit="tokens")


def test_training_limit_refuses_big_budgets_and_samples_the_no_selection_model():
    pool = labelled_pool(6, 3, 3)
    evaluation = proofnet_split("test")[100:110]
    scores = {"m": np.arange(len(pool.sources), dtype=float)}
    total = sum(map(len, pool.sources))
    with pytest.raises(ZipFitError, match="above the limit of 2,000"):
        proxy_evaluation(pool.sources, scores, evaluation, pool.targets, ks=[2000, 2500], budget_unit="chars",
                         max_train_chars=2000)
    result = proxy_evaluation(pool.sources, scores, evaluation, pool.targets, ks=[1], max_train_chars=total // 2)
    assert 0 < result.no_selection_rows < len(pool.sources)
    full = proxy_evaluation(pool.sources, scores, evaluation, pool.targets, ks=[1], max_train_chars=None)
    assert full.no_selection_rows == len(pool.sources)
    assert default_budgets([100] * 1000, "rows", max_train_chars=10_000) == [10, 20, 50, 100]
    assert default_budgets([100] * 1000, "chars", max_train_chars=10_000) == [1000, 2000, 5000, 10000]


def test_removing_texts_restores_the_counts_exactly():
    texts = proofnet_split("valid")[:5]
    model = CharNgramModel(set("".join(texts)), order=4)
    model.add(texts[:3])
    before = (repr(model.counts), repr(model.context_total), repr(model.context_types), model.trained_chars)
    model.add(texts[3:])
    model.remove(texts[3:])
    assert (repr(model.counts), repr(model.context_total), repr(model.context_types), model.trained_chars) == before


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


# ----- the command line: zipfit proxy-eval ------------------------------------------------------------

def write_jsonl(path, texts):
    import json

    path.write_text("".join(json.dumps({"text": text}, ensure_ascii=False) + "\n" for text in texts),
                    encoding="utf-8")
    return path


def test_proxy_eval_command_is_reproducible_from_export_manifests(tmp_path, capsys, monkeypatch):
    import json

    from zipfit_core.cli.main import main
    from zipfit_core.store.method_cache import memo

    pool = labelled_pool(12, 6, 6)
    source = write_jsonl(tmp_path / "pool.jsonl", pool.sources)
    valid = write_jsonl(tmp_path / "valid.jsonl", pool.targets)
    test = write_jsonl(tmp_path / "test.jsonl", proofnet_split("test")[100:140])
    cache = str(tmp_path / "cache")
    for method in ("zipfit", "tfidf", "random"):
        assert main(["score", str(source), str(valid), "--method", method, "--out", str(tmp_path / f"{method}.parquet"),
                     "--quiet", "--cache-dir", cache]) == 0
        assert main(["select", str(source), "--scores", str(tmp_path / f"{method}.parquet"), "--top-k", "5",
                     "--out", str(tmp_path / f"{method}.jsonl")]) == 0
    capsys.readouterr()
    from_scores = tmp_path / "from_scores.json"
    assert main(["proxy-eval", str(source), "--scores", *(str(tmp_path / f"{m}.parquet") for m in ("zipfit", "tfidf", "random")),
                 "--eval-target", str(test), "--k", "3", "6", "12", "--out", str(from_scores), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "not fine-tuning" in printed and "no selection (all rows)" in printed
    memo.clear()  # recompute from what the manifests record (the cache may answer)
    from_manifests = tmp_path / "from_manifests.json"
    assert main(["proxy-eval", str(source), "--from-manifest",
                 *(str(tmp_path / f"{m}.jsonl.manifest.json") for m in ("zipfit", "tfidf", "random")),
                 "--eval-target", str(test), "--k", "3", "6", "12", "--cache-dir", cache,
                 "--out", str(from_manifests), "--quiet"]) == 0
    first, second = json.loads(from_scores.read_text()), json.loads(from_manifests.read_text())
    assert [curve["bits_per_char"] for curve in first["curves"]] == [curve["bits_per_char"] for curve in second["curves"]]
    assert [curve["method"] for curve in first["curves"]] == ["zipfit", "tfidf", "random"]
    assert first["score_fingerprints"] == second["score_fingerprints"]
    tfidf_run = first["inputs"]["methods"]["tfidf"]
    assert tfidf_run["method"] == "tfidf" and tfidf_run["settings"]["analyzer"] == "word"
    assert first["command"].startswith("zipfit proxy-eval ") and "--k 3 6 12" in first["command"]
    # With equal amounts of training text, ZIP-FIT's ProofNet rows model held-out ProofNet better than random rows.
    by_chars = tmp_path / "by_chars.json"
    assert main(["proxy-eval", str(source), "--scores", *(str(tmp_path / f"{m}.parquet") for m in ("zipfit", "random")),
                 "--eval-target", str(test), "--budget-unit", "chars", "--k", "1000", "3000",
                 "--out", str(by_chars), "--quiet"]) == 0
    zipfit_curve, random_curve = json.loads(by_chars.read_text())["curves"]
    assert zipfit_curve["train_chars"] == random_curve["train_chars"] == [1000, 3000]
    assert zipfit_curve["bits_per_char"][1] < random_curve["bits_per_char"][1] - 0.2

    # Evaluating on the selection targets is refused, with the guard's message.
    assert main(["proxy-eval", str(source), "--scores", str(tmp_path / "zipfit.parquet"),
                 "--eval-target", str(valid), "--quiet"]) == 2
    assert "also occur among the selection targets" in capsys.readouterr().err
    # Without the recorded selection target file, the user is told to name it.
    valid.rename(tmp_path / "moved.jsonl")
    assert main(["proxy-eval", str(source), "--scores", str(tmp_path / "zipfit.parquet"),
                 "--eval-target", str(test), "--quiet"]) == 2
    assert "--selection-target" in capsys.readouterr().err
    assert main(["proxy-eval", str(source), "--scores", str(tmp_path / "zipfit.parquet"),
                 "--eval-target", str(test), "--selection-target", str(tmp_path / "moved.jsonl"), "--k", "3",
                 "--quiet"]) == 0
