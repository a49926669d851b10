"""alignment_scores: parity with zip-fit==1.0.9 on real data, exact arithmetic, determinism, cancel, progress."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zipfit_core import AlignmentKernel, ScoringCancelled, ZipFitError, alignment_scores, rank_by_score
from zipfit_core.scoring.alignment import adopt_ranking, source_unit_sums
from zipfit_core.scoring.kernel import UNITS_PER_ONE, exact_sum, similarity_units, similarity_units_array, units_to_mean

PARITY_TOLERANCE = 1e-12


# ---------------------------------------------------------------------------------------------
# Real data: two tasks from the paper, each with a mixed source pool (a few hundred sources at most,
# because the reference materialises every pair and runs a process pool).

@pytest.fixture(scope="module")
def proofnet_task(proofnet_rows, proofnet_texts, humaneval_texts):
    """Targets: 40 ProofNet `valid` statements. Sources: 120 ProofNet `test` statements + 80 HumanEval problems."""
    valid = [text for row, text in zip(proofnet_rows, proofnet_texts) if row["split"] == "valid"]
    test = [text for row, text in zip(proofnet_rows, proofnet_texts) if row["split"] == "test"]
    return test[:120] + humaneval_texts[40:120], valid[:40]


@pytest.fixture(scope="module")
def humaneval_task(proofnet_texts, humaneval_texts):
    """Targets: the first 40 HumanEval problems. Sources: the other 124 + 100 ProofNet statements."""
    return humaneval_texts[40:] + proofnet_texts[:100], humaneval_texts[:40]


# Each codec setting on one of the two tasks (gzip-9, the paper's setting, on both): the reference
# starts three process pools per call, so the matrix is kept small.
PARITY_CASES = [("gzip", 1, "proofnet_task"), ("gzip", 6, "humaneval_task"), ("gzip", 9, "proofnet_task"),
                ("gzip", 9, "humaneval_task"), ("zstd", 3, "proofnet_task"), ("zstd", -5, "humaneval_task"),
                ("lz4", 0, "humaneval_task"), ("lz4", 12, "proofnet_task")]


@pytest.mark.parametrize(("codec", "level", "task"), PARITY_CASES,
                         ids=[f"{codec}-{level}-{task.split('_')[0]}" for codec, level, task in PARITY_CASES])
def test_parity_with_reference_on_real_data(request, reference_scores, task, codec, level):
    sources, targets = request.getfixturevalue(task)
    ours = alignment_scores(sources, targets, codec=codec, level=level)
    theirs = reference_scores(sources, targets, codec, level)
    assert ours.dtype == np.float64 and ours.shape == (len(sources),)
    assert np.max(np.abs(ours - theirs)) <= PARITY_TOLERANCE


def test_parity_gzip9_all_humaneval_targets(reference_scores, proofnet_texts, humaneval_texts):
    """The paper's setting at full target size: 150 ProofNet statements x all 164 HumanEval problems."""
    sources = proofnet_texts[::2][:150]
    ours = alignment_scores(sources, humaneval_texts)
    theirs = reference_scores(sources, humaneval_texts, "gzip", 9)
    assert np.max(np.abs(ours - theirs)) <= PARITY_TOLERANCE
    # Same order as well (up to exact ties, which the reference orders arbitrarily).
    assert np.array_equal(rank_by_score(ours), rank_by_score(np.round(theirs, 12)))


@pytest.mark.parametrize(("codec", "level", "n_sources", "n_targets"),
                         [("brotli", 11, 24, 6), ("lzma", 6, 6, 3), ("zstd", 19, 30, 6)])
def test_parity_slow_codecs_and_levels(reference_scores, proofnet_texts, humaneval_texts,
                                                            codec, level, n_sources, n_targets):
    """Slow settings on less data. The reference ignores the level for brotli (always quality 11) and
    lzma (always preset 6): compare there."""
    sources = proofnet_texts[:n_sources // 2] + humaneval_texts[100:100 + n_sources // 2]
    targets = humaneval_texts[:n_targets // 2] + proofnet_texts[200:200 + n_targets - n_targets // 2]
    ours = alignment_scores(sources, targets, codec=codec, level=level)
    theirs = reference_scores(sources, targets, codec, level)
    assert np.max(np.abs(ours - theirs)) <= PARITY_TOLERANCE


def test_gzip_level0_matches_reference_and_depends_only_on_length(reference_scores, proofnet_texts,
                                                                  humaneval_texts):
    sources, targets = proofnet_texts[:30], humaneval_texts[:10]
    with pytest.warns(UserWarning, match="level 0"):
        ours = alignment_scores(sources, targets, level=0)
    assert np.max(np.abs(ours - reference_scores(sources, targets, "gzip", 0))) <= PARITY_TOLERANCE
    # A stored block adds 5 bytes and gzip 18: each similarity is 23 / (max(|x|, |t|) + 23) in bytes.
    lengths = [len(text.encode()) for text in targets]
    expected = [np.mean([23 / (max(len(s.encode()), n) + 23) for n in lengths]) for s in sources]
    assert np.allclose(ours, expected, rtol=0, atol=1e-15)


def test_isal_is_approximate_but_close_to_gzip9(humaneval_task):
    sources, targets = humaneval_task
    exact = alignment_scores(sources, targets, codec="gzip", level=9)
    fast = alignment_scores(sources, targets, codec="isal", level=1)
    assert not np.array_equal(exact, fast)
    exact_ranks = np.argsort(np.argsort(exact))
    fast_ranks = np.argsort(np.argsort(fast))
    assert np.corrcoef(exact_ranks, fast_ranks)[0, 1] > 0.9  # Spearman


# ---------------------------------------------------------------------------------------------
# Exact arithmetic: similarities are multiples of 2**-53, sums are exact integers, means correctly rounded.

def reference_similarity(source_size: int, target_size: int, pair_size: int) -> float:
    """The reference's float expression, verbatim."""
    return 1 - (pair_size - min(source_size, target_size)) / max(source_size, target_size)


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 10**8), st.integers(1, 10**8), st.integers(0, 3 * 10**8))
def test_every_similarity_is_an_exact_multiple_of_2_to_the_minus_53(source_size, target_size, pair_size):
    similarity = reference_similarity(source_size, target_size, pair_size)
    units = similarity_units(source_size, target_size, pair_size)
    assert (similarity * UNITS_PER_ONE).is_integer()
    assert Fraction(units, UNITS_PER_ONE) == Fraction(similarity)


text_without_surrogates = st.text(st.characters(blacklist_categories=("Cs",)), max_size=600)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(text_without_surrogates, min_size=1, max_size=5),
       st.lists(text_without_surrogates, min_size=1, max_size=5),
       st.sampled_from([1, 6, 9]))
def test_scores_are_the_correctly_rounded_mean_of_the_reference_similarities(sources, targets, level):
    def size(text: str) -> int:
        return len(gzip.compress(text.encode("utf-8"), compresslevel=level))

    scores = alignment_scores(sources, targets, level=level, workers=1)
    for source, score in zip(sources, scores):
        similarities = [reference_similarity(size(source), size(target), size(source + target))
                        for target in targets]
        exact_mean = sum(map(Fraction, similarities)) / len(targets)
        assert score == float(exact_mean)  # float(Fraction) rounds to nearest


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**6), st.data())
def test_units_to_mean_is_correctly_rounded(count, data):
    unit_sum = data.draw(st.integers(-count * UNITS_PER_ONE, count * UNITS_PER_ONE))
    assert units_to_mean(unit_sum, count) == float(Fraction(unit_sum, count * UNITS_PER_ONE))


def test_pair_similarities_are_the_reference_floats(proofnet_texts, humaneval_texts):
    from zip_fit import ZIPFIT

    oracle = ZIPFIT("unused", "unused", k=1, compression_algorithm="gzip", compress_level=9)
    source, targets = proofnet_texts[7], humaneval_texts[:12]
    ours = AlignmentKernel("gzip", 9).pair_similarities(source, targets)
    theirs = [oracle.similarity((source, target, oracle.compress(source), oracle.compress(target), 0))[1]
              for target in targets]
    assert ours.tolist() == theirs


# ---------------------------------------------------------------------------------------------
# Determinism: any worker count, any batch structure, ties by source index.

def test_worker_count_does_not_change_a_single_bit(proofnet_texts, humaneval_texts):
    sources, targets = proofnet_texts, humaneval_texts[:15]  # 371 sources: several batches
    results = [alignment_scores(sources, targets, workers=workers) for workers in (1, 2, 3)]
    assert results[0].tobytes() == results[1].tobytes() == results[2].tobytes()


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_unit_sums_independent_of_batching_and_rows_follow_the_request(proofnet_texts, humaneval_texts,
                                                                       workers, batch_size):
    kernel = AlignmentKernel("gzip", 9)
    sources = proofnet_texts[:40]
    targets = kernel.encode(humaneval_texts[:6], what="target")
    whole = source_unit_sums(sources, targets, kernel, workers=1)
    assert source_unit_sums(sources, targets, kernel, workers=workers, batch_size=batch_size) == whole
    rows = [31, 2, 17, 2, 39, 0]
    picked = source_unit_sums(sources, targets, kernel, workers=workers, batch_size=batch_size, rows=rows)
    assert picked == [whole[row] for row in rows]


def test_rank_by_score_breaks_ties_by_source_index():
    scores = np.array([0.5, 0.7, 0.5, 0.7, 0.1, 0.7])
    assert rank_by_score(scores).tolist() == [1, 3, 5, 0, 2, 4]


def test_rank_by_score_is_a_stable_descending_sort_with_nan_last():
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(0, 80))
        scores = rng.integers(0, 6, n) / 5.0
        for value, every in ((np.nan, 2), (-0.0, 3), (np.inf, 5), (-np.inf, 7)):
            if n and trial % every == 0:
                scores[rng.integers(0, n, 2)] = value
        expected = np.lexsort((np.arange(n), -scores))  # the definition: by score descending, then by row
        ranked = rank_by_score(scores)
        assert ranked.dtype == np.int32 and ranked.tolist() == expected.tolist()


def test_a_read_only_score_array_is_ranked_once():
    scores = np.random.default_rng(1).random(1000)
    scores.setflags(write=False)
    first = rank_by_score(scores)
    assert rank_by_score(scores) is first and not first.flags.writeable  # shared, so nobody may change it
    assert rank_by_score(scores.copy()) is not first  # a writable array may change: ranked each time


def _read_only(values) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


def test_a_stored_ranking_is_adopted_only_when_it_is_the_scores_ranking():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 8, 3000) / 7.0  # many ties
    scores[rng.integers(0, 3000, 40)] = np.nan
    scores = _read_only(scores)
    stored = np.lexsort((np.arange(3000), -scores)).astype(np.int64)  # as a file holds it: the definition
    adopt_ranking(scores, stored)
    shared = rank_by_score(scores)
    assert shared.dtype == np.int32 and not shared.flags.writeable and shared.tolist() == stored.tolist()
    assert rank_by_score(scores) is shared  # adopted: not sorted again


@pytest.mark.parametrize("damage", ["two rows swapped", "a tie out of row order", "a NaN first", "a row twice",
                                    "a row outside", "one row short"])
def test_a_ranking_that_is_not_the_scores_ranking_is_refused(damage):
    scores = _read_only([0.5, 0.7, 0.5, np.nan, 0.1, 0.7])
    right = [1, 5, 0, 2, 4, 3]
    wrong = {"two rows swapped": [1, 5, 0, 4, 2, 3], "a tie out of row order": [5, 1, 0, 2, 4, 3],
             "a NaN first": [3, 1, 5, 0, 2, 4], "a row twice": [1, 5, 0, 2, 4, 4],
             "a row outside": [1, 5, 0, 2, 4, 6], "one row short": [1, 5, 0, 2, 4]}[damage]
    with pytest.raises(ValueError):
        adopt_ranking(scores, np.array(wrong))
    adopt_ranking(scores, np.array(right))  # the right one is taken
    assert rank_by_score(scores).tolist() == right
    with pytest.raises(ValueError, match="read-only"):
        adopt_ranking(np.array([0.5, 0.7]), np.array([1, 0]))


def test_identical_sources_get_identical_scores_and_keep_their_order(humaneval_texts):
    text_a, text_b = humaneval_texts[3], humaneval_texts[9]
    sources = [text_b, text_a, text_b, text_a, text_b]
    scores = alignment_scores(sources, humaneval_texts[20:30], workers=2)
    assert scores[0] == scores[2] == scores[4] and scores[1] == scores[3]
    ranking = rank_by_score(scores).tolist()
    first, second = ([0, 2, 4], [1, 3]) if scores[0] > scores[1] else ([1, 3], [0, 2, 4])
    assert ranking == first + second


def test_default_codec_is_gzip_level_9(humaneval_texts):
    sources, targets = humaneval_texts[:10], humaneval_texts[10:15]
    assert alignment_scores(sources, targets).tobytes() == \
        alignment_scores(sources, targets, codec="gzip", level=9).tobytes()


def test_empty_source_list_gives_an_empty_float_array(humaneval_texts):
    scores = alignment_scores([], humaneval_texts[:3])
    assert scores.dtype == np.float64 and scores.shape == (0,)


# ---------------------------------------------------------------------------------------------
# Progress and cancel.

@dataclass(frozen=True)
class CountingKernel(AlignmentKernel):
    """Counts every compression, so tests can see how much work ran after a cancel."""

    calls: list = field(default_factory=list, compare=False)

    @property
    def size_of(self):
        measure = super().size_of

        def counted(data: bytes) -> int:
            self.calls.append(None)  # list.append is atomic under the GIL
            return measure(data)
        return counted


def short_sources(count: int) -> list[str]:
    return [f"def function_{index}(value):\n    return value * {index % 97} + {index % 13}\n"
            for index in range(count)]


def test_progress_counts_pairs_monotonically_up_to_the_total(humaneval_texts):
    sources, targets = short_sources(3000), humaneval_texts[:10]  # a dozen batches
    calls = []
    alignment_scores(sources, targets, workers=2, progress=lambda done, total: calls.append((done, total)))
    total = len(sources) * len(targets)
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert len(calls) > 2  # reported as batches finish, not only at the ends
    assert all(reported_total == total for _, reported_total in calls)
    done_counts = [done for done, _ in calls]
    assert done_counts == sorted(done_counts)


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_from_progress_stops_promptly(workers):
    kernel = CountingKernel("gzip", 9)
    targets = kernel.encode(short_sources(10)[::-1], what="target")
    sources = short_sources(4000)
    batch_size = 8
    cancel = threading.Event()
    calls_at_cancel = []
    reported = []

    def progress(done: int, total: int) -> None:
        reported.append(done)
        if done > 0 and not cancel.is_set():
            calls_at_cancel.append(len(kernel.calls))
            cancel.set()

    with pytest.raises(ScoringCancelled, match="cancelled"):
        source_unit_sums(sources, targets, kernel, workers=workers, batch_size=batch_size,
                         progress=progress, cancel=cancel)
    after_cancel = len(kernel.calls) - calls_at_cancel[0]
    # At most: each worker finishes its current source, and each batch in flight encodes its sources.
    assert after_cancel <= workers * 2 * len(targets) + 2 * workers * batch_size + batch_size
    assert max(reported) < len(sources) * len(targets)


def test_cancel_event_set_from_another_thread(proofnet_texts):
    sources, targets = short_sources(20000), proofnet_texts[:10]
    cancel = threading.Event()
    started = threading.Event()
    reported = []

    def progress(done: int, total: int) -> None:
        reported.append(done)
        if done > 0:
            started.set()

    def canceller() -> None:
        started.wait(timeout=120)
        cancel.set()

    thread = threading.Thread(target=canceller)
    thread.start()
    try:
        with pytest.raises(ScoringCancelled):
            alignment_scores(sources, targets, workers=2, progress=progress, cancel=cancel)
    finally:
        started.set()
        thread.join()
    assert max(reported) < len(sources) * len(targets)


def test_cancel_accepts_a_callable(proofnet_texts):
    sources, targets = short_sources(20000), proofnet_texts[:10]
    reported = []
    with pytest.raises(ScoringCancelled):
        alignment_scores(sources, targets, progress=lambda done, total: reported.append(done),
                         cancel=lambda: max(reported, default=0) > 0)
    assert max(reported) < len(sources) * len(targets)


def test_cancel_before_start_computes_no_pair(humaneval_texts):
    kernel = CountingKernel("gzip", 9)
    targets = kernel.encode(humaneval_texts[:5], what="target")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ScoringCancelled):
        source_unit_sums(humaneval_texts, targets, kernel, workers=2, batch_size=4, cancel=cancel)
    # Only source encodings of batches already handed to workers can have run, never a pair.
    assert len(kernel.calls) <= len(targets) + 4 * 4


def test_cancelled_is_a_user_facing_error_and_bad_cancel_types_are_rejected(humaneval_texts):
    assert issubclass(ScoringCancelled, ZipFitError)
    with pytest.raises(TypeError, match="cancel"):
        alignment_scores(humaneval_texts[:2], humaneval_texts[2:4], cancel="stop")


# ---------------------------------------------------------------------------------------------
# Errors a user can cause.

def test_level_zero_warns_that_scores_only_measure_length():
    with pytest.warns(UserWarning, match="level 0.*length"):
        alignment_scores(["some source text"], ["a target"], level=0)
    with pytest.warns(UserWarning, match="level 0"):
        alignment_scores(["some source text"], ["a target"], codec="isal", level=0)


def test_unknown_codec_is_a_user_error():
    with pytest.raises(ZipFitError, match="Unknown codec 'bzip2'.*gzip"):
        alignment_scores(["a"], ["b"], codec="bzip2")


@pytest.mark.parametrize(("codec", "level"), [("gzip", 10), ("gzip", -1), ("gzip", "9"), ("gzip", 9.0),
                                              ("gzip", True), ("zstd", 23), ("brotli", 12), ("lzma", 10),
                                              ("lz4", 17), ("isal", 4)])
def test_bad_level_is_a_user_error(codec, level):
    with pytest.raises(ZipFitError, match="not valid"):
        alignment_scores(["a"], ["b"], codec=codec, level=level)


def test_empty_target_set_is_a_user_error():
    with pytest.raises(ZipFitError, match="target set is empty"):
        alignment_scores(["a source"], [])


def test_non_text_source_error_names_the_row():
    sources = [f"text {index}" for index in range(500)]
    sources[317] = 5
    with pytest.raises(ZipFitError, match=r"source row 317 is int, not text"):
        alignment_scores(sources, ["a target"], workers=2)


def test_non_text_source_error_names_the_row_when_scoring_chosen_rows():
    kernel = AlignmentKernel("gzip", 9)
    sources = ["zero", "one", "two", None, "four"]
    targets = kernel.encode(["a target"], what="target")
    with pytest.raises(ZipFitError, match=r"source row 3 is NoneType"):
        source_unit_sums(sources, targets, kernel, rows=[0, 3], batch_size=2)


def test_non_text_target_error_names_the_row():
    with pytest.raises(ZipFitError, match=r"target row 1 is bytes"):
        alignment_scores(["a source"], ["fine", b"raw bytes"])


def test_unencodable_text_is_a_user_error():
    with pytest.raises(ZipFitError, match=r"source row 1 contains characters that are not valid Unicode"):
        alignment_scores(["ok", "lone surrogate \ud800"], ["a target"])


def test_negative_worker_count_is_a_user_error():
    with pytest.raises(ZipFitError, match="workers"):
        alignment_scores(["a"], ["b"], workers=-1)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10**7),
       st.lists(st.tuples(st.integers(min_value=1, max_value=10**7), st.integers(min_value=1, max_value=3 * 10**7)),
                min_size=1, max_size=50))
def test_vectorised_units_equal_the_scalar_reference_formula(source_size, targets):
    target_sizes = np.array([size for size, _ in targets], dtype=np.float64)
    pair_sizes = np.array([pair for _, pair in targets], dtype=np.float64)
    vectorised = similarity_units_array(source_size, target_sizes, pair_sizes)
    scalar = [similarity_units(source_size, size, pair) for size, pair in targets]
    assert vectorised.tolist() == scalar


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-(2**60), max_value=2**60), min_size=0, max_size=600))
def test_exact_sum_never_overflows(values):
    assert exact_sum(np.array(values, dtype=np.int64)) == sum(values)
