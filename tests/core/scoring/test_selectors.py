"""Selectors: each ranks in-domain rows above out-of-domain ones on real data; settings, specs, memo."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from tests.selector_data import labelled_pool, stdlib_prose
from zipfit_core import alignment_scores
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.method_scores import score_sources
from zipfit_core.scoring.baselines import compressed_sizes, length_debiased
from zipfit_core.scoring.methods import METHODS, method_spec, parse_method_spec
from zipfit_core.store.method_cache import memo


@pytest.fixture(scope="module")
def pool():
    return labelled_pool()


def in_domain_auc(scores: np.ndarray, in_domain: list[bool]) -> float:
    """Probability that a random in-domain row scores above a random out-of-domain row (ties count half)."""
    labels = np.array(in_domain)
    inside, outside = scores[labels], scores[~labels]
    greater = (inside[:, None] > outside[None, :]).mean()
    ties = (inside[:, None] == outside[None, :]).mean()
    return float(greater + ties / 2)


@pytest.mark.parametrize("method, settings", [
    ("zipfit", {}),
    ("zipfit-debiased", {}),
    ("dsir", {}),
    ("tfidf", {"analyzer": "word"}),
    ("tfidf", {"analyzer": "char_wb"}),
])
def test_selector_ranks_in_domain_rows_first(pool, method, settings):
    scores = score_sources(method, pool.sources, pool.targets, **settings)
    assert scores.shape == (len(pool.sources),) and scores.dtype == np.float64
    assert in_domain_auc(scores, pool.in_domain) >= 0.9
    top = np.argsort(-scores, kind="stable")[:20]
    assert sum(pool.in_domain[row] for row in top) >= 18


def test_random_is_seeded_uniform_and_uninformed(pool):
    first = score_sources("random", pool.sources, pool.targets, seed=7)
    again = score_sources("random", pool.sources, pool.targets, seed=7)
    other = score_sources("random", pool.sources, pool.targets, seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.all((0 <= first) & (first < 1))
    assert 0.2 < in_domain_auc(first, pool.in_domain) < 0.8


def test_zipfit_method_is_the_core_score(pool):
    expected = alignment_scores(pool.sources, pool.targets)
    np.testing.assert_array_equal(score_sources("zipfit", pool.sources, pool.targets, workers=1), expected)
    level_one = score_sources("zipfit", pool.sources, pool.targets, level=1)
    np.testing.assert_array_equal(level_one, alignment_scores(pool.sources, pool.targets, level=1))


def test_dsir_scores_equal_the_packages_own_file_pipeline(pool, tmp_path):
    """Our in-memory use of data-selection gives the log importance weights its file pipeline writes."""
    import json

    from data_selection import HashedNgramDSIR

    raw, target = tmp_path / "raw.jsonl", tmp_path / "target.jsonl"
    raw.write_text("".join(json.dumps({"text": text}) + "\n" for text in pool.sources))
    target.write_text("".join(json.dumps({"text": text}) + "\n" for text in pool.targets))
    dsir = HashedNgramDSIR([str(raw)], [str(target)], cache_dir=str(tmp_path / "cache"), num_proc=1)
    dsir.fit_importance_estimator(num_tokens_to_fit="auto")
    dsir.compute_importance_weights()
    expected = np.load(tmp_path / "cache" / "log_importance_weights" / "0.npy")
    np.testing.assert_allclose(score_sources("dsir", pool.sources, pool.targets), expected, rtol=0, atol=1e-9)


def test_tfidf_centroid_cosine_ranks_like_mean_cosine(pool):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    scores = score_sources("tfidf", pool.sources, pool.targets, analyzer="word")
    matrix = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(pool.sources + pool.targets)
    mean_cosine = cosine_similarity(matrix[: len(pool.sources)], matrix[len(pool.sources):]).mean(axis=1)
    ratio = scores / mean_cosine
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)  # one constant: 1 / |centroid|


def test_tfidf_settings_change_the_vectorizer(pool):
    word = score_sources("tfidf", pool.sources, pool.targets, analyzer="word")
    chars = score_sources("tfidf", pool.sources, pool.targets, analyzer="char_wb", ngram_min=2, ngram_max=3)
    assert not np.allclose(word, chars)
    with pytest.raises(ZipFitError, match="ngram_min <= ngram_max"):
        score_sources("tfidf", pool.sources, pool.targets, ngram_min=4, ngram_max=2)


def test_zipfit_favours_short_unrelated_texts_and_the_debiased_variant_removes_the_trend(pool):
    # The same prose cut to many lengths: nothing but length differs in how it relates to ProofNet.
    prose = " ".join(stdlib_prose(6))
    sources = [prose[start:start + length] for start, length in
               zip(range(0, 40 * 97, 97), np.linspace(150, 4000, 40).astype(int))]
    lengths = np.array([len(text) for text in sources])
    plain = score_sources("zipfit", sources, pool.targets)
    debiased = score_sources("zipfit-debiased", sources, pool.targets)
    assert spearmanr(plain, lengths).statistic < -0.9
    log_size = np.log(compressed_sizes(sources))
    assert abs(pearsonr(debiased, log_size).statistic) < 1e-9
    assert abs(spearmanr(debiased, lengths).statistic) < 0.5


def test_length_debiased_is_the_least_squares_residual():
    sizes = np.array([100, 200, 400, 800, 1600])
    scores = 0.5 - 0.03 * np.log(sizes)
    np.testing.assert_allclose(length_debiased(scores, sizes), 0, atol=1e-15)
    bumped = scores.copy()
    bumped[2] += 0.01
    residual = length_debiased(bumped, sizes)
    assert int(np.argmax(residual)) == 2
    np.testing.assert_allclose(residual.sum(), 0, atol=1e-15)
    np.testing.assert_allclose(length_debiased(np.array([0.3, 0.5]), np.array([50, 50])), [-0.1, 0.1])


def test_unknown_method_and_settings_are_user_errors(pool):
    with pytest.raises(ZipFitError, match="Unknown method 'bm25'"):
        score_sources("bm25", pool.sources, pool.targets)
    with pytest.raises(ZipFitError, match="has no setting 'seeds'"):
        score_sources("random", pool.sources, pool.targets, seeds=1)
    with pytest.raises(ZipFitError, match="must be one of"):
        score_sources("tfidf", pool.sources, pool.targets, analyzer="sentence")
    with pytest.raises(ZipFitError, match="must be a whole number"):
        score_sources("random", pool.sources, pool.targets, seed="abc")
    with pytest.raises(ZipFitError, match="target set is empty"):
        score_sources("tfidf", pool.sources, [])


def test_dsir_word_tokenize_without_nltk_data_is_a_user_error(pool):
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab")
    except LookupError:
        with pytest.raises(ZipFitError, match="nltk.downloader punkt_tab"):
            score_sources("dsir", pool.sources[:3], pool.targets[:3], tokenizer="word_tokenize")
    else:
        pytest.skip("NLTK's punkt_tab data is installed here")


def test_settings_from_strings_and_method_specs_round_trip():
    assert METHODS["random"].resolve({"seed": "5"}) == {"seed": 5}
    assert METHODS["tfidf"].resolve({"ngram_max": "none"})["ngram_max"] is None
    spec = method_spec("tfidf", {"analyzer": "char_wb", "ngram_max": 4})
    assert spec == "tfidf:analyzer=char_wb,ngram_max=4,ngram_min=None,sublinear_tf=1"
    assert parse_method_spec(spec) == ("tfidf", {"analyzer": "char_wb", "ngram_max": 4, "ngram_min": None,
                                                 "sublinear_tf": 1})
    assert method_spec("zipfit", {"codec": "zstd", "workers": 3}) == "zipfit"  # codec/level have their own fields
    assert method_spec("random") == "random:seed=0"


def test_results_are_memoised_by_method_settings_and_data(pool, monkeypatch):
    memo.clear()
    calls = []
    original = METHODS["random"]
    counting = replace(original, scorer=lambda *args: calls.append(1) or original.scorer(*args))
    monkeypatch.setitem(METHODS, "random", counting)
    first = score_sources("random", pool.sources, pool.targets, seed=3)
    first[:] = -1  # callers get a copy: mutating it must not change the memo
    again = score_sources("random", pool.sources, pool.targets, seed="3")
    assert len(calls) == 1 and np.all(again >= 0)
    score_sources("random", pool.sources, pool.targets, seed=4)
    score_sources("random", pool.sources[:-1], pool.targets, seed=3)
    assert len(calls) == 3


def test_baseline_results_persist_in_the_score_cache_and_damage_is_recomputed(pool, tmp_path, monkeypatch):
    memo.clear()
    calls = []
    original = METHODS["tfidf"]
    counting = replace(original, scorer=lambda *args: calls.append(1) or original.scorer(*args))
    monkeypatch.setitem(METHODS, "tfidf", counting)
    first = score_sources("tfidf", pool.sources, pool.targets, cache_dir=tmp_path)
    manifests = list((tmp_path / "methods").glob("*/manifest.json"))
    assert len(manifests) == 1 and len(calls) == 1
    memo.clear()  # a new process: only the disk remains
    np.testing.assert_array_equal(score_sources("tfidf", pool.sources, pool.targets, cache_dir=tmp_path), first)
    assert len(calls) == 1
    (manifests[0].parent / "scores.parquet").write_bytes(b"not parquet")
    memo.clear()
    with pytest.warns(UserWarning, match="damaged cached result"):
        again = score_sources("tfidf", pool.sources, pool.targets, cache_dir=tmp_path)
    np.testing.assert_array_equal(again, first)
    assert len(calls) == 2
    memo.clear()
    score_sources("tfidf", pool.sources, pool.targets, cache_dir=tmp_path, analyzer="char_wb")
    assert len(list((tmp_path / "methods").glob("*/manifest.json"))) == 2  # settings are part of the key


def test_zipfit_with_a_cache_dir_goes_through_the_scoring_jobs(pool, tmp_path):
    from zipfit_core.store.cache_admin import list_cache

    memo.clear()
    sources = pool.sources[:12]
    scores = score_sources("zipfit", sources, pool.targets[:20], cache_dir=tmp_path)
    np.testing.assert_array_equal(scores, alignment_scores(sources, pool.targets[:20]))
    cached = list_cache(tmp_path)
    assert len(cached) == 1 and cached[0].state == "complete" and cached[0].n_sources == 12
    debiased = score_sources("zipfit-debiased", sources, pool.targets[:20], cache_dir=tmp_path)
    np.testing.assert_allclose(debiased, length_debiased(scores, compressed_sizes(sources)))
    assert len(list_cache(tmp_path)) == 1  # the debiased variant reuses the ZIP-FIT entry


def test_stored_scores_looks_up_without_computing(pool, tmp_path):
    from zipfit_core.jobs.method_scores import stored_scores

    memo.clear()
    assert stored_scores("random", pool.sources, pool.targets, cache_dir=tmp_path, seed=2) is None
    computed = score_sources("random", pool.sources, pool.targets, cache_dir=tmp_path, seed=2)
    memo.clear()
    np.testing.assert_array_equal(stored_scores("random", pool.sources, pool.targets, cache_dir=tmp_path, seed=2),
                                  computed)
    assert stored_scores("random", pool.sources, pool.targets, cache_dir=tmp_path, seed=3) is None
    assert stored_scores("zipfit", pool.sources, pool.targets, cache_dir=tmp_path) is None  # jobs own ZIP-FIT


@pytest.fixture(scope="module")
def demo_mini():
    """The bundled 300-row demo pool and ProofNet valid, as the app's demo presets load them."""
    from zipfit_core.data.loading import load_source
    from zipfit_core.data.sources import DataSource

    return load_source(DataSource("demo", "pool-mini")), load_source(DataSource("demo", "proofnet-valid"))


@pytest.mark.parametrize("method, settings", [
    ("zipfit", {}), ("zipfit-debiased", {}), ("dsir", {}), ("tfidf", {}), ("tfidf", {"analyzer": "char_wb"}),
])
def test_selector_puts_lean_statements_of_the_demo_pool_above_other_domains(demo_mini, method, settings):
    pool, target = demo_mini
    scores = score_sources(method, pool.texts, target.texts, **settings)
    lean = (pool.table["source"] == "minif2f").to_numpy()  # Lean 4 statements, ProofNet's own language
    other_domains = (pool.table["domain"] != "formal-maths").to_numpy()
    assert lean.sum() >= 10 and other_domains.sum() >= 100
    auc = in_domain_auc(scores[lean | other_domains], lean[lean | other_domains].tolist())
    assert auc >= 0.85
