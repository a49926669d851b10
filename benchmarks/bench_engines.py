"""Benchmark the scoring engines: local threads against Ray Data on the same shards, in one run.

Writes `--sources` real texts (the mix `bench_alignment.py` uses) into `--shards` Parquet shards,
then scores them against `--targets` HumanEval problems at gzip-9 into score folders:

1. the local engine (threads, `--workers` of them; default: all usable cores);
2. the Ray engine on a local Ray instance with `--workers` CPUs (`ray.init(num_cpus=...)`), on half
   of the shards and then on all of them (after a warm-up job): the difference gives the marginal
   rate, without the fixed cost of a Ray Data job (index tasks, actor start-up, planning), which is
   reported apart, as is Ray's own start-up;
3. the kernel on one thread (the per-core ceiling), and reading + digesting the shards (the Ray
   engine's index pass, which reads every shard once more).

It prints pairs/s and pairs/s per core for each, the Ray/local ratios, checks that both folders hold
identical scores, and works out the time to score `--estimate-docs` documents (default 10 million)
against `--estimate-targets` targets (default 200) on `--cores` cores at the measured Ray rate per core.

    python3 benchmarks/bench_engines.py                      # 4,000 sources x 50 targets, 8 shards (~1 min)
    python3 benchmarks/bench_engines.py --cores 256          # the estimate for a 256-core cluster
    python3 benchmarks/bench_engines.py --smoke              # 240 x 10, 4 shards: checks the script runs
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_alignment import humaneval_targets, mixed_sources  # noqa: E402  (the same real data)

from zipfit_core.engines import score_shards
from zipfit_core.engines.folder import read_score_folder
from zipfit_core.engines.local import LocalEngine
from zipfit_core.engines.shards import discover_shards, index_shard  # noqa: E402
from zipfit_core.scoring.alignment import default_workers
from zipfit_core.scoring.kernel import AlignmentKernel


def write_shards(folder: Path, sources: list[str], count: int) -> list[int]:
    """`count` Parquet shards of consecutive sources; returns the rows of each."""
    bounds = np.linspace(0, len(sources), count + 1).astype(int)
    for index in range(count):
        pq.write_table(pa.table({"text": sources[bounds[index]:bounds[index + 1]]}),
                       folder / f"part-{index:04d}.parquet")
    return np.diff(bounds).tolist()


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:,.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.1f} days"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=4000)
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--workers", type=int, default=None, help="cores for both engines (default: all usable)")
    parser.add_argument("--cores", type=int, default=64, help="cores of the cluster in the estimate (default 64)")
    parser.add_argument("--estimate-docs", type=int, default=10_000_000)
    parser.add_argument("--estimate-targets", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="240 sources x 10 targets, 4 shards")
    args = parser.parse_args()
    if args.smoke:
        args.sources, args.targets, args.shards = 240, 10, 4
    workers = args.workers or default_workers()

    sources, taken = mixed_sources(args.sources)
    targets = humaneval_targets(args.targets)
    pairs = len(sources) * len(targets)
    source_chars = sum(map(len, sources)) / len(sources)
    target_chars = sum(map(len, targets)) / len(targets)
    print(f"data: {len(sources):,} sources (mean {source_chars:,.0f} chars; "
          f"{', '.join(f'{name} {n}' for name, n in taken.items() if n)}) x {len(targets)} HumanEval targets "
          f"(mean {target_chars:,.0f} chars) = {pairs:,} pairs in {args.shards} Parquet shards; gzip-9")
    print(f"machine: {os.cpu_count()} CPUs, {workers} used by each engine; load average {os.getloadavg()[0]:.1f} "
          "(other work on these cores lowers every number)")

    with tempfile.TemporaryDirectory(prefix="bench_engines_") as scratch:
        root = Path(scratch)
        pool = root / "pool"
        pool.mkdir()
        shard_rows = write_shards(pool, sources, args.shards)
        half = pool.parent / "half"
        half.mkdir()
        for path in sorted(pool.iterdir())[:max(1, args.shards // 2)]:
            (half / path.name).write_bytes(path.read_bytes())
        half_pairs = sum(shard_rows[:max(1, args.shards // 2)]) * len(targets)
        rates = {}

        # The kernel alone on one thread: what one core can do.
        kernel = AlignmentKernel("gzip", 9)
        encoded_targets = kernel.encode(targets, what="target")
        sample = sources[:max(20, len(sources) // 10)]
        _, seconds = timed(lambda: kernel.unit_sums(kernel.encode(sample), encoded_targets))
        rates["kernel, 1 thread"] = (len(sample) * len(targets) / seconds, 1)

        # Reading + digesting every shard: the Ray engine's extra pass over the data.
        shard_source = discover_shards(str(pool))
        _, index_seconds = timed(lambda: [index_shard(shard_source, shard, "text") for shard in shard_source.shards])

        local_report, seconds = timed(lambda: score_shards(str(pool), targets, root / "local",
                                                           engine=LocalEngine(workers=workers)))
        rates[f"local engine, {workers} threads"] = (pairs / seconds, workers)
        local_seconds = seconds

        import ray

        from zipfit_core.engines.ray_engine import RayEngine

        _, ray_start = timed(lambda: ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR"))
        engine = RayEngine(show_progress=False)
        _, warm_up = timed(lambda: score_shards(str(half), targets, root / "ray_warm_up", engine=engine))
        _, half_seconds = timed(lambda: score_shards(str(half), targets, root / "ray_half", engine=engine))
        ray_report, seconds = timed(lambda: score_shards(str(pool), targets, root / "ray", engine=engine))
        rates[f"Ray engine, {workers} CPUs"] = (pairs / seconds, workers)
        marginal = (pairs - half_pairs) / (seconds - half_seconds) if seconds > half_seconds else float("nan")
        rates[f"Ray engine, {workers} CPUs, marginal (all - half)"] = (marginal, workers)
        ray_seconds = seconds
        ray_fixed = seconds - pairs / marginal
        ray.shutdown()

        identical = np.array_equal(read_score_folder(root / "local").scores, read_score_folder(root / "ray").scores)
        assert local_report.complete and ray_report.complete

    print(f"\nRay start-up (ray.init, local instance): {ray_start:.1f} s, not counted below")
    print(f"first Ray job (half the shards, a warm-up: worker processes start): {warm_up:.2f} s")
    print(f"Ray engine on half the shards: {half_seconds:.2f} s; fixed cost of one job (all-shards time less "
          f"pairs / marginal rate): {ray_fixed:.1f} s")
    print(f"reading + digesting all shards once (the Ray engine's index pass, 1 thread): {index_seconds:.2f} s "
          f"= {index_seconds / local_seconds / workers:.1%} of the scoring work")
    print(f"\n{'':52} {'seconds':>9} {'pairs/s':>10} {'pairs/s/core':>13}")
    print(f"{'local engine':52} {local_seconds:9.2f}")
    print(f"{'Ray engine':52} {ray_seconds:9.2f}")
    for name, (rate, cores) in rates.items():
        print(f"{name:52} {'':>9} {rate:10,.0f} {rate / cores:13,.0f}")
    local_rate = rates[f"local engine, {workers} threads"][0] / workers
    ray_rate = rates[f"Ray engine, {workers} CPUs"][0] / workers
    ray_net = rates[f"Ray engine, {workers} CPUs, marginal (all - half)"][0] / workers
    kernel_rate = rates["kernel, 1 thread"][0]
    print(f"\nratios per core: Ray / local = {ray_rate / local_rate:.2f} (marginal: "
          f"{ray_net / local_rate:.2f}); local / one-thread kernel = {local_rate / kernel_rate:.2f}")
    print(f"scores identical in both folders: {identical}")

    # The estimate: pairs / (rate per core x cores), the cost of a pair scaling with the bytes compressed.
    estimate_pairs = args.estimate_docs * args.estimate_targets
    estimate = estimate_pairs / (ray_net * args.cores)
    print(f"\nestimate: {args.estimate_docs:,} documents x {args.estimate_targets} targets = {estimate_pairs:,} pairs")
    print(f"  at {ray_net:,.0f} pairs/s per core (Ray engine here, marginal; documents of "
          f"~{source_chars:,.0f} chars, targets of ~{target_chars:,.0f})")
    print(f"  on {args.cores} cores: {estimate_pairs:,} / ({ray_net:,.0f} x {args.cores}) = {estimate:,.0f} s "
          f"= {human(estimate)} (+ start-up: {ray_start + ray_fixed:.0f} s here)")
    print("  a pair costs about in proportion to len(document) + len(target): scale the time by "
          f"(your mean document + target chars) / {source_chars + target_chars:,.0f}")


if __name__ == "__main__":
    main()
