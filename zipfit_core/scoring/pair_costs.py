"""Measure what the primed and the one-shot gzip paths cost, to fit `priming.PrimingCosts` and the GIL allowance.

    costs = measure_priming_costs(texts, targets, level=9)      # one thread, CPU time of the thread
    wait = measure_gil_wait(texts, targets, level=9)            # extra us per primed target on 2 threads

Not used while scoring: `benchmarks/bench_alignment.py --priming-costs` runs both on real data and prints
what `priming.PRIMING_COSTS` and `priming.GIL_WAIT_PER_EXTRA_THREAD_US` were written from, so that the
thresholds can be measured again on any machine.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Sequence

import numpy as np

from zipfit_core.scoring.codecs import keep_freed_heap_memory, pair_sizes_function
from zipfit_core.scoring.priming import PrimingCosts, primed_deflate_pair_sizes

DEFAULT_LENGTHS = (256, 512, 1024, 1536, 2048, 3072, 4096, 6144)  # where the two paths' costs cross
PairWork = Callable[[Sequence[bytes]], None]


def source_slices(texts: Sequence[bytes], length: int, count: int) -> list[bytes]:
    """`count` distinct pieces of exactly `length` bytes, spread evenly over the texts."""
    pieces = [text[start:start + length] for text in texts for start in range(0, len(text) - length + 1, length)]
    if len(pieces) < count:
        raise ValueError(f"the texts hold only {len(pieces)} pieces of {length} bytes; {count} are needed")
    step = len(pieces) / count
    return [pieces[int(index * step)] for index in range(count)]


def path_work(level: int, targets: Sequence[bytes]) -> dict[str, PairWork]:
    """Each path over a list of sources against all targets; and priming alone, once per pair."""
    one_shot_sizes = pair_sizes_function("gzip", level)

    def one_shot(sources: Sequence[bytes]) -> None:
        for x in sources:
            one_shot_sizes(x, targets)

    def primed(sources: Sequence[bytes]) -> None:
        for x in sources:
            primed_deflate_pair_sizes(x, targets, level)

    def heads(sources: Sequence[bytes]) -> None:
        for _ in range(len(targets)):  # as many heads as pairs: enough time to measure
            for x in sources:
                zlib.compressobj(level, zlib.DEFLATED, -15).compress(x)
    return {"one_shot": one_shot, "primed": primed, "heads": heads}


def cpu_seconds(work: PairWork, sources: Sequence[bytes]) -> float:
    start = time.thread_time()  # CPU time of this thread: other processes on the core barely change it
    work(sources)
    return time.thread_time() - start


def wall_seconds_per_core(work: PairWork, sources: Sequence[bytes], threads: int) -> float:
    parts = [sources[index::threads] for index in range(threads)]
    workers = [threading.Thread(target=work, args=(part,)) for part in parts]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - start) * threads


def measure_priming_costs(texts: Sequence[bytes], targets: Sequence[bytes], level: int, *,
                          lengths: Sequence[int] = DEFAULT_LENGTHS, sources_per_length: int = 8,
                          repeats: int = 3) -> PrimingCosts:
    """Fit both paths' linear costs (us per call, one thread) on sources cut from `texts` to each length."""
    keep_freed_heap_memory()
    work = path_work(level, targets)
    longest = source_slices(texts, max(lengths), sources_per_length)
    rows = []
    for length in lengths:
        sources = [x[:length] for x in longest]  # prefixes of the same texts: one curve, less noise
        pairs = len(sources) * len(targets)
        best = {name: min(cpu_seconds(run, sources) for _ in range(repeats)) / pairs for name, run in work.items()}
        primed_target = best["primed"] - best["heads"] / len(targets)
        rows.append((length, best["one_shot"] * 1e6, primed_target * 1e6, best["heads"] * 1e6))
    table = np.array(rows)
    fits = [np.polyfit(table[:, 0], table[:, column], 1) for column in (1, 2, 3)]  # (slope, intercept)
    (one_slope, one_fixed), (primed_slope, primed_fixed), (head_slope, head_fixed) = fits
    return PrimingCosts(float(one_fixed), float(one_slope), float(primed_fixed), float(primed_slope),
                        float(head_fixed), float(head_slope))


def measure_gil_wait(texts: Sequence[bytes], targets: Sequence[bytes], level: int, *, source_bytes: int = 2048,
                     sources: int = 8, repeats: int = 15) -> float:
    """How much more a primed target costs than a one-shot pair on 2 threads than on 1 (us per core).

    Wall time, interleaved, best of `repeats`: meaningful only when two cores are free at least now and then.
    """
    keep_freed_heap_memory()
    work = path_work(level, targets)
    chosen = source_slices(texts, source_bytes, sources)
    best: dict[tuple[str, int], float] = {}
    for _ in range(repeats):
        for threads in (1, 2):
            for name in ("one_shot", "primed"):
                seconds = wall_seconds_per_core(work[name], chosen, threads)
                best[name, threads] = min(best.get((name, threads), seconds), seconds)
    extra = {name: best[name, 2] - best[name, 1] for name in ("one_shot", "primed")}
    return (extra["primed"] - extra["one_shot"]) / (len(chosen) * len(targets)) * 1e6
