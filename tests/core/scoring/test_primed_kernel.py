"""Priming: the kernel's primed gzip path gives the one-shot byte counts, and the kernel really takes both paths.

The kernel compresses a long source once and continues from a copy of that state for every target
(zipfit_core/scoring/priming.py). These tests hold it to the one-shot sizes at every level 1-9 (across the
cost model's threshold, past the 32 KB window and the 64 KB slide, for empty and non-ASCII text), to the
same units and scores whichever path runs, and check that both paths run, so that priming cannot
silently stop happening.
"""

from __future__ import annotations

import gzip
import random
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zipfit_core import AlignmentKernel, alignment_scores
from zipfit_core.scoring import priming
from zipfit_core.scoring.alignment import source_unit_moments, source_unit_sums
from zipfit_core.scoring.priming import (
    PRIMING_COSTS,
    DeflatePairSizes,
    exact_pair_sizes_function,
    minimum_primed_source_bytes,
    primes_source,
)

PARITY_TOLERANCE = 1e-12
LEVELS = range(1, 10)
NON_ASCII = "Größe ∑ ℂ → 数学の証明 😀 Ελληνικά naïve café — ∀x ∈ ℝ, x² ≥ 0; "


def gzip_size(data: bytes, level: int) -> int:
    return len(gzip.compress(data, compresslevel=level))


def text_of_bytes(pool: list[str], size: int, seed: int) -> bytes:
    """Real text (the pool's texts joined in a seeded order) cut to exactly `size` UTF-8 bytes."""
    rng = random.Random(seed)
    data = b""
    while len(data) < size:
        data += rng.choice(pool).encode("utf-8") + b"\n"
    return data[:size]


def non_ascii_text(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = NON_ASCII.split()
    text = " ".join(rng.choice(words) for _ in range(size // 3 + 1)).encode("utf-8")
    return text[:size].decode("utf-8", errors="ignore").encode("utf-8")  # whole characters only


@pytest.fixture(scope="module")
def real_pool(proofnet_texts, humaneval_texts) -> list[str]:
    return proofnet_texts + humaneval_texts


@pytest.fixture(scope="module")
def targets(real_pool) -> list[bytes]:
    return [b"", b"x", NON_ASCII.encode("utf-8"), real_pool[380].encode("utf-8"), real_pool[500].encode("utf-8"),
            text_of_bytes(real_pool, 5000, seed=1), non_ascii_text(900, seed=2)]


# ---------------------------------------------------------------------------------------------
# The primed path gives the one-shot sizes.

@pytest.mark.parametrize("level", LEVELS)
def test_primed_sizes_equal_one_shot_sizes_across_the_threshold_and_the_window(level, real_pool, targets):
    threshold = minimum_primed_source_bytes(level, len(targets))
    assert threshold is not None
    sizes = sorted({0, 1, 300, threshold - 1, threshold, threshold + 1, 2 * threshold, 8192,
                    32 * 1024 + 17, 40_000, 65_536 - 262, 70_000})
    pair_sizes = DeflatePairSizes(level)
    for size in sizes:
        for x in (text_of_bytes(real_pool, size, seed=size), non_ascii_text(size, seed=size)):
            primed = pair_sizes.primed(x, targets)
            assert primed == pair_sizes.one_shot(x, targets), (level, size)
            assert primed == [gzip_size(x + t, level) for t in targets], (level, size)


@pytest.mark.parametrize("level", [1, 4, 9])
def test_primed_sizes_equal_one_shot_where_the_window_slides(level, real_pool):
    """Sources ending just before, at and after the point where deflate slides its 64 KB window."""
    base = text_of_bytes(real_pool, 65_536 + 64, seed=level)
    targets = [text_of_bytes(real_pool, 3000, seed=7), b"", non_ascii_text(500, seed=8)]
    pair_sizes = DeflatePairSizes(level)
    for size in range(65_536 - 270, 65_536 + 64, 23):
        x = base[:size]
        assert pair_sizes.primed(x, targets) == pair_sizes.one_shot(x, targets), (level, size)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=12_000), st.lists(st.binary(max_size=3000), min_size=1, max_size=4), st.integers(1, 9))
def test_primed_sizes_equal_one_shot_sizes_on_any_bytes(x, targets, level):
    pair_sizes = DeflatePairSizes(level)
    assert pair_sizes.primed(x, targets) == pair_sizes.one_shot(x, targets)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=3000), st.text(min_size=0, max_size=800), st.integers(1, 9))
def test_primed_sizes_equal_one_shot_sizes_on_any_text(source, target, level):
    x, t = source.encode("utf-8", errors="surrogatepass"), target.encode("utf-8", errors="surrogatepass")
    pair_sizes = DeflatePairSizes(level)
    assert pair_sizes.primed(x, [t, t]) == pair_sizes.one_shot(x, [t, t]) == [gzip_size(x + t, level)] * 2


def test_level_zero_is_not_split_invariant_so_it_is_never_primed(real_pool):
    """Stored blocks follow the split: a primed level 0 would count other bytes. The kernel never does it."""
    x, t = text_of_bytes(real_pool, 140_000, seed=3), text_of_bytes(real_pool, 1000, seed=4)
    primed = zlib.compressobj(0, zlib.DEFLATED, -15)
    head = len(primed.compress(x))
    split = head + len(primed.compress(t)) + len(primed.flush())
    assert split != len(zlib.compress(x + t, 0, -15))
    assert not isinstance(exact_pair_sizes_function("gzip", 0), DeflatePairSizes)
    assert minimum_primed_source_bytes(0, 164) is None and not primes_source(0, 10**6, 10**4)


@pytest.mark.parametrize("codec", ["zstd", "lz4", "brotli", "lzma", "isal"])
def test_codecs_whose_state_cannot_be_copied_stay_one_shot(codec):
    assert not isinstance(exact_pair_sizes_function(codec, 1), DeflatePairSizes)


# ---------------------------------------------------------------------------------------------
# The cost model.

@pytest.mark.parametrize("level", LEVELS)
def test_the_cost_model_primes_long_sources_and_leaves_short_ones_one_shot(level):
    assert primes_source(level, 8192, 164) and primes_source(level, 40_000, 64)  # the long-document case
    assert not primes_source(level, 256, 164)  # the copy costs more than compressing 256 bytes again
    assert not primes_source(level, 10**6, 1)  # one target: nothing to share
    shortest = [minimum_primed_source_bytes(level, count) for count in (2, 4, 16, 64, 164)]
    usable = [value for value in shortest if value is not None]
    assert usable == sorted(usable, reverse=True)  # more targets: priming pays from shorter sources
    assert 500 <= usable[-1] <= 6000


def test_the_decision_is_monotone_in_source_length():
    for level, count in ((1, 164), (6, 16), (9, 2), (9, 164)):
        decisions = [primes_source(level, size, count) for size in range(0, 20_000, 97)]
        assert decisions == sorted(decisions)  # False ... False True ... True
        assert decisions[-1] and not decisions[0]


def test_cost_table_covers_exactly_the_split_invariant_levels():
    assert sorted(PRIMING_COSTS) == list(LEVELS)


@pytest.mark.parametrize("level", LEVELS)
def test_more_scoring_threads_prime_only_longer_sources(level):
    """copy() holds the GIL: with more threads sharing it, priming must save more to pay."""
    one, two, many = (minimum_primed_source_bytes(level, 164, threads) for threads in (1, 2, 8))
    assert one < two < many
    assert minimum_primed_source_bytes(level, 164, 0) == one  # no thread counted yet: as one


def test_the_kernel_counts_its_scoring_threads(monkeypatch, mixed_sources, humaneval_texts):
    counts = []
    original = DeflatePairSizes.__call__

    def counted(self, x, targets):
        counts.append(priming.scoring_threads.count)
        return original(self, x, targets)
    monkeypatch.setattr(DeflatePairSizes, "__call__", counted)
    alignment_scores(mixed_sources * 3, humaneval_texts[:4], workers=1)
    assert set(counts) == {1}
    assert priming.scoring_threads.count == 0  # left when the work ended
    alignment_scores([f"{index} {text}" for index, text in enumerate(mixed_sources * 20)], humaneval_texts[:4],
                     workers=2)
    assert max(counts) <= 2 and priming.scoring_threads.count == 0


# ---------------------------------------------------------------------------------------------
# The kernel: both paths run, and neither changes a unit.

@pytest.fixture(scope="module")
def mixed_sources(real_pool) -> list[str]:
    """Short real texts and long ones (4-40 KB, some non-ASCII), distinct."""
    long = [text_of_bytes(real_pool, size, seed=size).decode("utf-8", errors="ignore")
            for size in (4000, 6500, 9000, 40_000)]
    long += [non_ascii_text(size, seed=size).decode("utf-8") for size in (5000, 12_000)]
    return real_pool[:6] + long + [""] + real_pool[200:204]


def spy_on_paths(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """Record the length of every source each path measures."""
    seen: dict[str, list[int]] = {"primed": [], "one_shot": []}
    for name, lengths in seen.items():
        original = getattr(DeflatePairSizes, name)

        def recorded(self, x, targets, original=original, lengths=lengths):
            lengths.append(len(x))
            return original(self, x, targets)
        monkeypatch.setattr(DeflatePairSizes, name, recorded)
    return seen


def test_the_kernel_takes_both_paths_as_the_cost_model_says(monkeypatch, mixed_sources, humaneval_texts):
    seen = spy_on_paths(monkeypatch)
    targets = humaneval_texts[:20]
    alignment_scores(mixed_sources, targets, workers=1)  # one scoring thread: the decision below is exact
    lengths = sorted(len(text.encode("utf-8")) for text in mixed_sources)
    expected_primed = [size for size in lengths if primes_source(9, size, len(targets))]
    assert len(expected_primed) >= 6 and len(expected_primed) < len(lengths)
    assert sorted(seen["primed"]) == expected_primed  # every long source primed, once
    assert sorted(seen["one_shot"]) == [size for size in lengths if size not in expected_primed]


@pytest.mark.parametrize("level", LEVELS)
def test_units_are_the_same_whichever_path_runs(monkeypatch, level, mixed_sources, humaneval_texts):
    kernel = AlignmentKernel("gzip", level)
    targets = kernel.encode(humaneval_texts[30:42] + ["", NON_ASCII], what="target")
    sources = kernel.encode(mixed_sources)
    chosen = kernel.unit_moments(sources, targets)
    for forced in (True, False):
        monkeypatch.setattr(priming, "primes_source", lambda *decision_inputs, forced=forced: forced)
        assert kernel.unit_moments(sources, targets) == chosen, forced


def test_scores_are_the_correctly_rounded_mean_of_gzip_similarities_for_long_sources(mixed_sources,
                                                                                      humaneval_texts):
    from fractions import Fraction

    targets = humaneval_texts[50:60]
    scores = alignment_scores(mixed_sources, targets, workers=2)
    for source, score in zip(mixed_sources, scores):
        x = source.encode("utf-8")
        similarities = []
        for target in targets:
            t = target.encode("utf-8")
            cx, ct, cxt = gzip_size(x, 9), gzip_size(t, 9), gzip_size(x + t, 9)
            similarities.append(1 - (cxt - min(cx, ct)) / max(cx, ct))
        assert score == float(sum(map(Fraction, similarities)) / len(targets))


def test_parity_with_reference_on_long_documents(reference_scores, mixed_sources, humaneval_texts):
    sources = [text for text in mixed_sources if len(text.encode("utf-8")) > 3000]
    targets = humaneval_texts[100:112]
    assert all(primes_source(9, len(text.encode("utf-8")), len(targets)) for text in sources)
    ours = alignment_scores(sources, targets)
    assert np.max(np.abs(ours - reference_scores(sources, targets, "gzip", 9))) <= PARITY_TOLERANCE


def test_rounds_of_few_and_many_targets_sum_to_the_whole(mixed_sources, humaneval_texts):
    """A job's first rounds (2 targets: one-shot) and later ones (many: primed) add up to one pass exactly."""
    kernel = AlignmentKernel("gzip", 9)
    targets = kernel.encode(humaneval_texts[:40], what="target")
    whole = source_unit_moments(mixed_sources, targets, kernel, workers=2)
    rounds = [(0, 2), (2, 6), (6, 14), (14, 40)]
    parts = [source_unit_moments(mixed_sources, type(targets)(targets.data[start:end], targets.sizes[start:end]),
                                 kernel, workers=2) for start, end in rounds]
    summed = [tuple(map(sum, zip(*per_round))) for per_round in zip(*parts)]
    assert summed == whole


@pytest.mark.parametrize("batch_size", [1, 5])
def test_worker_count_and_batches_do_not_change_a_bit_with_priming(mixed_sources, humaneval_texts, batch_size):
    kernel = AlignmentKernel("gzip", 9)
    targets = kernel.encode(humaneval_texts[60:80], what="target")
    results = [source_unit_sums(mixed_sources, targets, kernel, workers=workers, batch_size=batch_size)
               for workers in (1, 2, 3)]
    assert results[0] == results[1] == results[2]


def test_the_cost_measurements_run_and_return_finite_costs(real_pool, targets):
    """Only that they work: the numbers themselves are timings, which tests never check."""
    from zipfit_core.scoring.pair_costs import measure_gil_wait, measure_priming_costs, source_slices

    texts = [text_of_bytes(real_pool, 3000, seed=seed) for seed in range(4)]
    pieces = source_slices(texts, 512, 6)
    assert len(pieces) == len(set(pieces)) == 6 and {len(piece) for piece in pieces} == {512}
    costs = measure_priming_costs(texts, targets[:3], 9, lengths=(256, 512, 1024), sources_per_length=2, repeats=1)
    assert all(np.isfinite(value) for value in vars(costs).values())
    assert np.isfinite(measure_gil_wait(texts, targets[:3], 9, source_bytes=512, sources=2, repeats=1))
    with pytest.raises(ValueError, match="pieces"):
        source_slices(texts, 5000, 1)
