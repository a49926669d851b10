"""Compressors ZIP-FIT can measure with, each a thread-safe `bytes -> compressed size` function.

Every exact codec returns the same byte count as the reference package `zip-fit==1.0.9` with the
same codec and level. The reference ignores the level for brotli (always quality 11) and lzma
(always preset 6), so only those levels match it there.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zipfit_core.errors import ZipFitError

SizeFunction = Callable[[bytes], int]


# gzip.compress() = 10-byte header + raw deflate + 8-byte trailer (CRC32, length).
GZIP_FRAMING_BYTES = 18


@dataclass(frozen=True)
class CodecInfo:
    """What a codec is: its levels, its default, and whether it reproduces the reference."""

    name: str
    levels: range
    default_level: int
    exact: bool
    reference_level: int | None  # the only level the reference uses, when it ignores the setting
    description: str


CODECS: dict[str, CodecInfo] = {
    "gzip": CodecInfo("gzip", range(0, 10), 9, True, None,
                      "gzip (zlib deflate), the paper's compressor"),
    "zstd": CodecInfo("zstd", range(-7, 23), 3, True, None, "Zstandard"),
    "lz4": CodecInfo("lz4", range(-16, 17), 0, True, None, "LZ4 frame"),
    "brotli": CodecInfo("brotli", range(0, 12), 11, True, 11,
                        "Brotli (the reference always uses quality 11)"),
    "lzma": CodecInfo("lzma", range(0, 10), 6, True, 6,
                      "LZMA / xz (the reference always uses preset 6)"),
    "isal": CodecInfo("isal", range(0, 4), 1, False, None,
                      "Intel ISA-L deflate: approximate gzip, several times faster"),
}


# Codec settings that trade exactness (against gzip-9) for speed, as shown to users.
FAST_PRESETS: dict[str, tuple[str, int]] = {"isal-1": ("isal", 1), "gzip-1": ("gzip", 1)}


def codec_info(codec: str) -> CodecInfo:
    try:
        return CODECS[codec]
    except KeyError:
        raise ZipFitError(
            f"Unknown codec {codec!r}: choose one of {', '.join(CODECS)}."
        ) from None


def resolve_level(codec: str, level: int | None) -> int:
    """The level to use: the codec's default when None, validated, with a warning at gzip 0."""
    info = codec_info(codec)
    if level is None:
        return info.default_level
    if isinstance(level, bool) or not isinstance(level, int) or level not in info.levels:
        raise ZipFitError(
            f"Level {level!r} is not valid for {codec}: use an integer from "
            f"{info.levels.start} to {info.levels.stop - 1}."
        )
    if codec in ("gzip", "isal") and level == 0:
        warnings.warn(
            f"{codec} level 0 stores the text without compressing it, so every score becomes a "
            "function of text length only. Use level 9 (the default) for ZIP-FIT.",
            UserWarning,
            stacklevel=3,
        )
    return level


def keep_freed_heap_memory() -> None:
    """Stop glibc from returning small freed heap tops to the OS after every compression.

    A level-9 deflate state is ~256 KB; when glibc trims it back after each call, the next call
    page-faults it in again (~40 us, more than compressing a 2 KB pair). A 64 MiB trim threshold
    keeps it cheap (~1 us). Process-wide; set ZIPFIT_KEEP_MALLOC_DEFAULTS=1 to skip.
    """
    if _malloc_tuned.is_set() or os.environ.get("ZIPFIT_KEEP_MALLOC_DEFAULTS") == "1":
        return
    _malloc_tuned.set()
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc's soname; find_library would spawn ldconfig
        m_trim_threshold = -1
        libc.mallopt(m_trim_threshold, 64 << 20)
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        pass


_malloc_tuned = threading.Event()


PairSizesFunction = Callable[[bytes, Sequence[bytes]], list[int]]


def pair_sizes_function(codec: str, level: int) -> PairSizesFunction:
    """A thread-safe function giving the compressed sizes of x + t for every t, in order.

    The inner loop is a list comprehension over a bound C function: per pair the interpreter holds
    the GIL only to join the bytes and start the call, so threads overlap the compression itself.
    """
    if codec in ("gzip", "isal"):
        if codec == "gzip":
            compress = zlib.compress
        else:
            from isal import isal_zlib
            compress = isal_zlib.compress

        def deflate_pair_sizes(x: bytes, targets: Sequence[bytes]) -> list[int]:
            return [len(compress(x + t, level, -15)) + GZIP_FRAMING_BYTES for t in targets]
        return deflate_pair_sizes
    size_of = size_function(codec, level)

    def pair_sizes(x: bytes, targets: Sequence[bytes]) -> list[int]:
        return [size_of(x + t) for t in targets]
    return pair_sizes


def size_function(codec: str, level: int) -> SizeFunction:
    """A thread-safe function returning the compressed size of bytes, as the reference counts it."""
    if codec == "gzip":
        def gzip_size(data: bytes) -> int:
            return len(zlib.compress(data, level, -15)) + GZIP_FRAMING_BYTES
        return gzip_size
    if codec == "isal":
        from isal import isal_zlib

        def isal_size(data: bytes) -> int:
            return len(isal_zlib.compress(data, level, -15)) + GZIP_FRAMING_BYTES
        return isal_size
    if codec == "zstd":
        import zstandard

        local = threading.local()  # a ZstdCompressor must not be shared between threads

        def zstd_size(data: bytes) -> int:
            compressor = getattr(local, "compressor", None)
            if compressor is None:
                compressor = local.compressor = zstandard.ZstdCompressor(level=level)
            return len(compressor.compress(data))
        return zstd_size
    if codec == "lz4":
        import lz4.frame

        def lz4_size(data: bytes) -> int:
            return len(lz4.frame.compress(data, compression_level=level))
        return lz4_size
    if codec == "brotli":
        import brotli

        def brotli_size(data: bytes) -> int:
            return len(brotli.compress(data, quality=level))
        return brotli_size
    if codec == "lzma":
        import lzma

        def lzma_size(data: bytes) -> int:
            return len(lzma.compress(data, preset=level))
        return lzma_size
    codec_info(codec)  # raises the user-facing error
    raise AssertionError(codec)
