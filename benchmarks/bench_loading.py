"""Peak memory of loading a large local Parquet file of short texts (issue 3, item 6).

Writes a Parquet file of N short texts (default 1,000,000) with two metadata columns to a temporary
folder, then loads it with `zipfit_core.load_source` in a fresh child process and prints that
child's peak resident memory (VmHWM, Linux), next to what the pieces cost on their own:

- the child's resident memory after its imports (the floor every load pays),
- the bytes of the Python `str` objects holding the texts (the one copy `LoadedTexts.texts` needs),
- the bytes of the Arrow table (what the kept columns cost in `LoadedTexts.table`).

Usage:
    python3 benchmarks/bench_loading.py               # 1,000,000 rows
    python3 benchmarks/bench_loading.py --rows 1000   # smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import pandas, pyarrow
    from zipfit_core import DataSource, load_source

    def peak_kib():
        # VmHWM belongs to this process image; ru_maxrss would carry the parent's peak across fork + exec.
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    after_imports = peak_kib()
    start = time.perf_counter()
    loaded = load_source(DataSource("local", sys.argv[1]))
    seconds = time.perf_counter() - start
    fingerprint_start = time.perf_counter()
    loaded.fingerprint
    fingerprint_seconds = time.perf_counter() - fingerprint_start
    peak = peak_kib()
    print(json.dumps({
        "rows": len(loaded.texts),
        "after_imports_kib": after_imports,
        "peak_kib": peak,
        "load_seconds": seconds,
        "fingerprint_seconds": fingerprint_seconds,
        "python_str_bytes": sum(sys.getsizeof(text) for text in loaded.texts),
        "list_bytes": sys.getsizeof(loaded.texts),
        "table_text_dtype": str(loaded.table[loaded.text_field].dtype),
        "arrow_memory_pool": pyarrow.default_memory_pool().backend_name,
        "table_bytes": int(loaded.table.memory_usage(deep=False).sum()),
        "warnings": loaded.warnings,
    }))
""")


def write_parquet(path: Path, rows: int) -> int:
    """N short texts (about 40-60 characters) with an id and a topic column; returns the file size."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    words = ["compression", "alignment", "theorem", "lemma", "python", "function", "proof", "data", "select",
             "gzip", "target", "source", "token", "budget", "score", "model"]
    generator = np.random.default_rng(0)
    picks = generator.integers(0, len(words), size=(rows, 5))
    texts = [f"row {index}: " + " ".join(words[pick] for pick in row) for index, row in enumerate(picks)]
    table = pa.table({
        "id": pa.array(np.arange(rows, dtype=np.int64)),
        "topic": pa.array([words[pick] for pick in picks[:, 0]]),
        "text": pa.array(texts, type=pa.string()),
    })
    pq.write_table(table, path)
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zipfit-bench-loading-") as folder:
        path = Path(folder) / "texts.parquet"
        size = write_parquet(path, args.rows)
        result = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
        measured = json.loads(result.stdout.strip().splitlines()[-1])
    mib = 1024  # the child reports KiB
    python_copy = (measured["python_str_bytes"] + measured["list_bytes"]) / 2**20
    print(f"rows: {measured['rows']:,} (Parquet file {size / 2**20:,.1f} MiB)")
    print(f"load_source: {measured['load_seconds']:.2f} s; fingerprint {measured['fingerprint_seconds']:.2f} s")
    print(f"child RSS after imports:     {measured['after_imports_kib'] / mib:8.1f} MiB")
    print(f"child peak RSS (load):       {measured['peak_kib'] / mib:8.1f} MiB")
    print(f"peak minus imports:          {(measured['peak_kib'] - measured['after_imports_kib']) / mib:8.1f} MiB")
    print(f"one Python copy of the texts: {python_copy:7.1f} MiB (str objects + list)")
    print(f"the table (all columns):     {measured['table_bytes'] / 2**20:8.1f} MiB; text column dtype "
          f"{measured['table_text_dtype']} (Arrow-backed: no second Python copy)")
    print(f"Arrow memory pool: {measured['arrow_memory_pool']} (set ARROW_DEFAULT_MEMORY_POOL=system to compare)")
    if measured["warnings"]:
        print("warnings:", *measured["warnings"], sep="\n  ")


if __name__ == "__main__":
    main()
