"""Explore's search (issue #23): seconds and rows found for each kind of search over a 1,000,000-row data store.

The pool is bench_scale's (~1 KB rows of code-like and prose-like lines with a `kind` column, as Parquet shards),
converted to the data store as the command line loads it, in a process of its own so that this process's peak RSS
is the searches' alone. Each search (`analysis.search.search_rows` over the store's texts, table and lengths) runs
twice: the first time includes reading a column into memory once (a filter's or a column query's), the second is
what the next search costs. Text searches run with each thread count in `--threads`.

    python3 benchmarks/bench_search.py --workdir /work/bench-search          # ~1M rows: ~1 GB of text, a few min
    python3 benchmarks/bench_search.py --rows 20000                          # smoke run (temporary folder)

`--workdir DIR` keeps the pool and the store (reused when present); without it a temporary folder is used and
removed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_scale import cli_source, pool_name, write_pool

from zipfit_core.analysis import search as search_module
from zipfit_core.analysis.search import RowSearch, search_rows
from zipfit_core.store.data_store import open_data

SEARCHES = {  # name -> the search; the pool's lines come from a fixed bank, so the rows found are the same each run
    "keyword, any case": RowSearch("Old Harbour"),
    "keyword, case-sensitive": RowSearch("Harbour", case_sensitive=True),
    "regular expression": RowSearch(r"def (sorted|sum)_\w+\(\w+, \w+=[0-3]\):", regex=True, case_sensitive=True),
    "column filter (kind)": RowSearch(filters=(("kind", ("maths",)),)),
    "length range": RowSearch(min_chars=1000, max_chars=1010),
    "column query (kind)": RowSearch("^m", regex=True, column="kind"),
    "combined": RowSearch("return", filters=(("kind", ("code", "mixed")),), min_chars=900, max_chars=960),
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def convert(pool: Path, cache: Path) -> None:
    start = time.perf_counter()
    loaded = open_data(*cli_source(pool), cache_dir=cache)
    print(f"store: {len(loaded.texts):,} rows in {loaded.store_folder} ({time.perf_counter() - start:.1f} s)",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, help="folder for the pool and the store (kept; reused)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, search_module.MATCH_THREADS],
                        help="thread counts for text searches")
    args = parser.parse_args()
    temporary = None
    if args.workdir is None:
        temporary = tempfile.mkdtemp(prefix="bench-search-")
        args.workdir = Path(temporary)
    try:
        run(args.rows, args.workdir, sorted(set(args.threads)))
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


def run(n_rows: int, work: Path, thread_counts: list[int]) -> None:
    work.mkdir(parents=True, exist_ok=True)
    pool, cache = work / pool_name(n_rows), work / "cache"
    print(f"work folder {work}; load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores", flush=True)
    if not pool.is_dir():
        start = time.perf_counter()
        written = write_pool(pool, n_rows)
        print(f"pool: {n_rows:,} rows, {written['text_bytes'] / 1e9:.2f} GB of text, written in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    process = multiprocessing.get_context("spawn").Process(target=convert, args=(pool, cache))
    process.start()  # converting (or finding the store) in a process of its own keeps its memory out of our peak
    process.join()
    if process.exitcode:
        raise SystemExit(f"the conversion failed (exit {process.exitcode})")
    loaded = open_data(*cli_source(pool), cache_dir=cache)
    text_bytes = sum(f.stat().st_size for f in loaded.store_folder.iterdir())
    print(f"opened {len(loaded.texts):,} rows ({text_bytes / 1e9:.2f} GB store, {loaded.table.n_batches} batches); "
          f"peak RSS so far {peak_rss_mib():,.0f} MiB\n", flush=True)
    print("| search | threads | rows found | first s | again s | peak RSS MiB after |")
    print("|---|---|---|---|---|---|")
    for name, search in SEARCHES.items():
        reads_text = bool(search.query) and search.column is None
        for threads in thread_counts if reads_text else [1]:
            search_module.MATCH_THREADS = threads
            seconds, found = [], None
            for _ in range(2):
                start = time.perf_counter()
                found = search_rows(search, loaded.texts, loaded.table, loaded.char_counts)
                seconds.append(time.perf_counter() - start)
            print(f"| {name}: {search.describe()} | {threads if reads_text else '-'} | {len(found):,} "
                  f"| {seconds[0]:.2f} | {seconds[1]:.2f} | {peak_rss_mib():,.0f} |", flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
