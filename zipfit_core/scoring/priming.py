"""Deflate pair sizes with the compressor primed once per source, where the lengths say that is cheaper.

    c = zlib.compressobj(level, DEFLATED, -15); head = c.compress(x)       # once per source
    d = c.copy(); C(x + t) = len(head) + len(d.compress(t)) + len(d.flush()) + 18      # per target

gives the same byte count as `len(zlib.compress(x + t, level, -15)) + 18` at levels 1-9: deflate fed
without flushing does not depend on how its input is split (tests/core/scoring/test_primed_kernel.py checks it at every
level, across the 32 KB window and the 64 KB slide, for empty and non-ASCII text). Level 0 stores blocks
whose boundaries follow the split, so it stays one-shot. No other codec's binding can copy a primed
state: isal_zlib's compressobj has no copy(), zstandard's, brotli's and lzma's compressors cannot be
copied, and copy.copy of lz4's LZ4FrameCompressor shares one C context. They all stay one-shot.

Priming saves compressing x again for every target, but each target then pays for a copy of the whole
deflate state (~256 KB, with the GIL held) and for entropy-coding x's buffered symbols at the flush.
So it pays for long sources and many targets; `primes_source` decides per source from a linear cost
model (`PrimingCosts`, measured per level) and `DeflatePairSizes` does the work either way.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from zipfit_core.scoring.codecs import GZIP_FRAMING_BYTES, PairSizesFunction, pair_sizes_function

# Added to a primed target per scoring thread beyond the first: copy() holds the GIL, and a thread coming back
# from compress() or flush() often finds it taken and sleeps until it is handed over. Measured here (2 vCPUs,
# gzip-9, 164 HumanEval targets, best of 15 runs), 2 threads against 1, per target and core: +17-23 us primed
# and +3-4 us one-shot for 1-2.5 KB sources (the paths then cross near 2.5 KB, not 1.2 KB); less at 4-6 KB.
# Beyond 2 threads the same allowance per thread is an extrapolation: this machine has no more cores.
GIL_WAIT_PER_EXTRA_THREAD_US = 16.0


@dataclass(frozen=True)
class PrimingCosts:
    """Per-call costs of both paths at one level, linear in the source length (microseconds, one thread).

    one-shot pair: one_shot_fixed + one_shot_per_byte * |x|   (set-up, compress x + t)
    primed target: primed_fixed + primed_per_byte * |x|       (copy, compress t, flush)
    priming:       head_fixed + head_per_byte * |x|           (compressobj, compress x), once per source
    The fixed terms hold a typical target's share. Only ratios matter to the decision, so a uniformly
    faster or slower machine leaves it unchanged.
    """

    one_shot_fixed: float
    one_shot_per_byte: float
    primed_fixed: float
    primed_per_byte: float
    head_fixed: float
    head_per_byte: float

    def minimum_source_bytes(self, n_targets: int, threads: int = 1) -> int | None:
        """The shortest source worth priming against `n_targets` targets (None: never worth it)."""
        saved_per_byte = n_targets * (self.one_shot_per_byte - self.primed_per_byte) - self.head_per_byte
        primed_fixed = self.primed_fixed + GIL_WAIT_PER_EXTRA_THREAD_US * (threads - 1)
        extra_fixed = self.head_fixed + n_targets * (primed_fixed - self.one_shot_fixed)
        if saved_per_byte <= 0:
            return None if extra_fixed >= 0 else 0
        return max(0, math.floor(extra_fixed / saved_per_byte) + 1)


# One thread, CPU time: the mean of three runs of `python3 benchmarks/bench_alignment.py --priming-costs`
# (Python stdlib sources of 256-6,144 bytes, 82 HumanEval targets) on the project's 2-core machine.
# The shortest source primed against 164 targets, 1 thread: ~1.1 KB at levels 8-9, 1.2-1.6 KB at 4-7,
# 2.1-2.3 KB at 1-3; 2 threads: ~2.3 KB at levels 8-9, 2.6-5 KB at 4-7, ~9 KB at 1-3.
PRIMING_COSTS: dict[int, PrimingCosts] = {
    1: PrimingCosts(18.4, 0.00521, 23.7, 0.00288, -0.9, 0.00418),
    2: PrimingCosts(18.7, 0.00540, 23.9, 0.00298, -1.2, 0.00468),
    3: PrimingCosts(18.7, 0.00576, 24.4, 0.00300, -1.5, 0.00521),
    4: PrimingCosts(19.1, 0.00746, 25.6, 0.00323, -2.5, 0.00672),
    5: PrimingCosts(18.5, 0.00924, 26.5, 0.00341, -3.5, 0.00850),
    6: PrimingCosts(17.9, 0.01137, 27.0, 0.00397, -4.9, 0.01015),
    7: PrimingCosts(17.3, 0.01309, 27.6, 0.00441, -6.2, 0.01161),
    8: PrimingCosts(11.6, 0.01975, 26.7, 0.00640, -10.7, 0.01595),
    9: PrimingCosts(10.9, 0.02005, 25.7, 0.00678, -11.4, 0.01640),
}
MAX_COUNTED_THREADS = 64  # beyond this the GIL is saturated anyway; bounds the cache below


@lru_cache(maxsize=4096)
def minimum_primed_source_bytes(level: int, n_targets: int, threads: int = 1) -> int | None:
    """The shortest gzip source primed at `level` against `n_targets` targets with `threads` scoring (None: never)."""
    costs = PRIMING_COSTS.get(level)
    if costs is None or n_targets < 2:
        return None
    return costs.minimum_source_bytes(n_targets, min(max(threads, 1), MAX_COUNTED_THREADS))


def primes_source(level: int, source_bytes: int, n_targets: int, threads: int = 1) -> bool:
    """Whether the kernel primes a gzip source of `source_bytes` bytes against `n_targets` targets."""
    shortest = minimum_primed_source_bytes(level, n_targets, threads)
    return shortest is not None and source_bytes >= shortest


class ScoringThreads:
    """How many threads are scoring in this process now: the more, the longer each waits for the GIL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __enter__(self) -> None:
        with self._lock:
            self.count += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self.count -= 1


scoring_threads = ScoringThreads()  # entered by AlignmentKernel.source_units


def primed_deflate_pair_sizes(x: bytes, targets: Sequence[bytes], level: int) -> list[int]:
    """gzip sizes of x + t for every t, compressing x once and continuing from a copy of that state."""
    primed = zlib.compressobj(level, zlib.DEFLATED, -15)
    head = len(primed.compress(x)) + GZIP_FRAMING_BYTES
    copy = primed.copy
    sizes = []
    for t in targets:
        state = copy()
        sizes.append(head + len(state.compress(t)) + len(state.flush()))
    return sizes


class DeflatePairSizes:
    """gzip pair sizes for one level, primed or one-shot per source as `primes_source` says; thread-safe."""

    def __init__(self, level: int) -> None:
        self.level = level
        self._one_shot = pair_sizes_function("gzip", level)

    def one_shot(self, x: bytes, targets: Sequence[bytes]) -> list[int]:
        return self._one_shot(x, targets)

    def primed(self, x: bytes, targets: Sequence[bytes]) -> list[int]:
        return primed_deflate_pair_sizes(x, targets, self.level)

    def __call__(self, x: bytes, targets: Sequence[bytes]) -> list[int]:
        if primes_source(self.level, len(x), len(targets), scoring_threads.count):
            return self.primed(x, targets)
        return self.one_shot(x, targets)


def exact_pair_sizes_function(codec: str, level: int) -> PairSizesFunction:
    """The kernel's pair sizes: length-aware priming where it is exact (gzip 1-9), one-shot otherwise."""
    if codec == "gzip" and level in PRIMING_COSTS:
        return DeflatePairSizes(level)
    return pair_sizes_function(codec, level)
