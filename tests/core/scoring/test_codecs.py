"""Codecs: every exact size function counts the bytes the reference counts; levels and names are checked."""

from __future__ import annotations

import gzip
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zipfit_core import CODECS, FAST_PRESETS, AlignmentKernel, ZipFitError, codec_info
from zipfit_core.scoring.codecs import resolve_level, size_function

# (codec, level) pairs where our number must equal the reference's; brotli and lzma only at the
# setting the reference always uses.
EXACT_SETTINGS = [("gzip", level) for level in range(10)] + [
    ("zstd", -7), ("zstd", 1), ("zstd", 3), ("zstd", 22), ("lz4", -5), ("lz4", 0), ("lz4", 16),
    ("brotli", 11), ("lzma", 6),
]


def reference_oracle(codec: str, level: int):
    from zip_fit import ZIPFIT

    return ZIPFIT("unused", "unused", k=1, compression_algorithm=codec, compress_level=level)


@pytest.mark.parametrize(("codec", "level"), EXACT_SETTINGS, ids=[f"{c}-{l}" for c, l in EXACT_SETTINGS])
def test_sizes_and_pair_similarities_equal_the_reference(codec, level, proofnet_texts, humaneval_texts):
    oracle = reference_oracle(codec, level)
    measure = size_function(codec, level)
    texts = ["", "a", "ü∑ℂ"] + proofnet_texts[:3] + humaneval_texts[:3]
    for text in texts:
        assert measure(text.encode("utf-8")) == oracle.compress(text), text[:40]
    # Bit-identical per-pair similarity, source first and no separator, as the reference computes it.
    kernel = AlignmentKernel(codec, level)
    for source in (proofnet_texts[5], humaneval_texts[50]):
        targets = humaneval_texts[60:63] + proofnet_texts[300:302]
        theirs = [oracle.similarity((source, target, oracle.compress(source), oracle.compress(target), 0))[1]
                  for target in targets]
        assert kernel.pair_similarities(source, targets).tolist() == theirs


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=5000), st.integers(0, 9))
def test_gzip_size_is_raw_deflate_plus_the_18_byte_frame(data, level):
    assert size_function("gzip", level)(data) == len(gzip.compress(data, compresslevel=level))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=5000), st.integers(0, 3))
def test_isal_size_is_the_isal_gzip_file_size(data, level):
    from isal import igzip

    assert size_function("isal", level)(data) == len(igzip.compress(data, level))


@pytest.mark.parametrize("codec", ["gzip", "zstd", "lz4", "brotli", "lzma", "isal"])
def test_size_functions_are_thread_safe(codec, proofnet_texts):
    level = codec_info(codec).default_level
    measure = size_function(codec, level)
    count = 16 if codec in ("brotli", "lzma") else 240  # brotli-11 and lzma are slow
    inputs = [text.encode("utf-8") for text in (proofnet_texts * 2)[:count]]
    serial = [measure(data) for data in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(measure, inputs)) == serial


def test_codec_table_describes_exactness_and_reference_levels():
    assert set(CODECS) == {"gzip", "zstd", "lz4", "brotli", "lzma", "isal"}
    assert codec_info("gzip").default_level == 9
    assert all(CODECS[name].exact for name in ("gzip", "zstd", "lz4", "brotli", "lzma"))
    assert not CODECS["isal"].exact
    assert CODECS["brotli"].reference_level == 11 and CODECS["lzma"].reference_level == 6
    for info in CODECS.values():
        assert info.default_level in info.levels
    for codec, level in FAST_PRESETS.values():
        assert level in codec_info(codec).levels
    assert FAST_PRESETS["isal-1"] == ("isal", 1) and FAST_PRESETS["gzip-1"] == ("gzip", 1)


def test_unknown_codec_message_lists_the_choices():
    with pytest.raises(ZipFitError) as caught:
        codec_info("snappy")
    assert "snappy" in str(caught.value)
    for name in CODECS:
        assert name in str(caught.value)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_default_level_when_none(codec):
    assert resolve_level(codec, None) == CODECS[codec].default_level


def test_level_error_says_the_valid_range():
    with pytest.raises(ZipFitError, match="from 0 to 9"):
        resolve_level("gzip", 11)


def test_level_zero_warning_is_specific_to_storing_codecs():
    with pytest.warns(UserWarning, match="stores"):
        resolve_level("gzip", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_level("zstd", 0)  # zstd level 0 means its default level: it compresses
        resolve_level("lz4", 0)
        resolve_level("gzip", 1)
