"""Cost of keeping the targets out (issue 14): the contamination check and near-duplicate grouping.

Data: a pool of N rows of about 1 KB (default 1,000,000), each 160 words drawn with their real frequencies
from the Python documentation and standard library (so rows share words, but not long runs of them, as
unrelated documents do); 1,000 reference rows of real text (HumanEval, ProofNet and demo-pool rows) of which
300 are planted in the pool as exact, re-cased and one-word-edited copies, so the run also reports recall.

Measured, each in its own child process (peak RSS of that child, VmHWM):
1. ours: `find_contamination(pool, [1,000 references], ngram=13)` on the whole pool;
2. the plain way, for comparison on the same rows: a Python set of each reference's 13-word tuples and a
   set lookup per pool n-gram (how a straightforward script does it), on the first `--naive-rows` rows,
   and ours on those same rows: the ratio of rows per second;
3. near-duplicate groups among `--dedup-rows` kept rows (default 100,000; 1% of them planted near-copies).

Usage:
    python3 benchmarks/bench_contamination.py                  # 1,000,000 rows (a few minutes)
    python3 benchmarks/bench_contamination.py --rows 20000 --dedup-rows 5000 --naive-rows 5000   # smoke
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "zipfit_core" / "data" / "demo_data"

CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np

    def peak_mib():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024

    task, data_file, extra = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = json.load(open(data_file))
    pool, references = data["pool"], data["references"]
    before = peak_mib()
    start = time.perf_counter()
    if task == "ours":
        from zipfit_core.analysis.contamination import ReferenceTexts, find_contamination
        rows = pool if extra == 0 else pool[:extra]
        flags = find_contamination(rows, [ReferenceTexts("references", references)])
        result = {"rows": len(rows), "flagged": flags.rows.tolist(), "kinds": flags.kinds}
    elif task == "naive":
        from zipfit_core.analysis.word_ngrams import normalise, words_of
        rows = pool[:extra]
        exact = {normalise(text) for text in references}
        grams = set()
        for text in references:
            words = words_of(text)
            grams.update(gram for gram in (tuple(words[i:i + 13]) for i in range(len(words) - 12))
                         if len(set(gram)) >= 3)
        flagged = []
        for row, text in enumerate(rows):
            normalised = normalise(text)
            words = words_of(text)
            if normalised in exact or any(tuple(words[i:i + 13]) in grams for i in range(len(words) - 12)):
                flagged.append(row)
        result = {"rows": len(rows), "flagged": flagged}
    else:
        from zipfit_core.analysis.near_duplicates import MinHashes, near_duplicate_groups
        rows = np.arange(extra)
        scores = np.random.default_rng(0).random(len(pool))
        groups = near_duplicate_groups(MinHashes(pool), rows, scores)
        result = {"rows": extra, "groups": len(groups.groups),
                  "grouped": sorted(int(row) for group in groups.groups for row in group)}
    result.update(seconds=time.perf_counter() - start, peak_mib=peak_mib(), before_mib=before)
    print(json.dumps(result))
""")


def real_words() -> list[str]:
    """Every word of the Python documentation and of some standard library modules, repeats kept (frequencies)."""
    import sysconfig

    from pydoc_data.topics import topics

    words = " ".join(topics.values()).split()
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:200]:
        words += path.read_text(encoding="utf-8", errors="replace").split()
    return words


def reference_texts() -> list[str]:
    texts = []
    for name in ("humaneval.jsonl.gz", "proofnet_lean4.jsonl.gz", "pool.jsonl.gz"):
        with gzip.open(DEMO / name, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                text = record.get("text") or " ".join(str(v) for v in record.values() if isinstance(v, str))
                if len(text.split()) >= 40:
                    texts.append(text)
    return texts[:1000]


def build(rows: int, dedup_rows: int, folder: Path) -> tuple[Path, dict[str, list[int]]]:
    generator = random.Random(0)
    words = real_words()
    references = reference_texts()
    pool = []
    for _ in range(rows):
        pool.append(" ".join(generator.choices(words, k=160)))  # ~1 KB
    planted: dict[str, list[int]] = {"exact": [], "recased": [], "edited": []}
    for number, kind in enumerate(("exact", "recased", "edited") * 100):
        row = generator.randrange(dedup_rows, rows) if rows > dedup_rows else generator.randrange(rows)
        text = references[number % len(references)]
        if kind == "recased":
            text = re.sub(r"\s+", "  ", text.upper())
        elif kind == "edited":
            parts = text.split()
            parts[len(parts) // 2] = "EDITED"
            text = " ".join(parts)
        pool[row] = text
        planted[kind].append(row)
    for row in range(0, dedup_rows - 1, 100):  # 1% near-copies among the kept rows
        parts = pool[row].split()
        parts[generator.randrange(len(parts))] = "changed"
        pool[row + 1] = " ".join(parts)
    path = folder / "data.json"
    path.write_text(json.dumps({"pool": pool, "references": references}))
    return path, planted


def child(task: str, path: Path, extra: int) -> dict:
    output = subprocess.run([sys.executable, "-c", CHILD, task, str(path), str(extra)], check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dedup-rows", type=int, default=100_000)
    parser.add_argument("--naive-rows", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zipfit-bench-contamination-") as folder:
        path, planted = build(args.rows, args.dedup_rows, Path(folder))
        ours = child("ours", path, 0)
        flagged = set(ours["flagged"])
        recall = {kind: sum(row in flagged for row in rows) / len(rows) for kind, rows in planted.items()}
        print(f"[contamination] {ours['rows']:,} pool rows x 1,000 references, 13-grams: {ours['seconds']:.1f} s "
              f"({ours['rows'] / ours['seconds']:,.0f} rows/s), peak RSS {ours['peak_mib']:,.0f} MiB "
              f"({ours['before_mib']:,.0f} MiB with the data loaded); flagged {len(flagged):,}; recall of planted "
              + ", ".join(f"{kind} {value:.0%}" for kind, value in recall.items()))
        naive = child("naive", path, args.naive_rows)
        same = child("ours", path, args.naive_rows)
        agree = set(naive["flagged"]) == set(same["flagged"])
        print(f"[plain Python sets] first {args.naive_rows:,} rows: {naive['seconds']:.1f} s against ours "
              f"{same['seconds']:.1f} s: ours {naive['seconds'] / same['seconds']:.1f}x the rows per second; "
              f"same rows flagged: {agree}")
        dedup = child("dedup", path, args.dedup_rows)
        print(f"[near-duplicates] {dedup['rows']:,} kept rows, MinHash 128 permutations + LSH at 0.8: "
              f"{dedup['seconds']:.1f} s, peak RSS {dedup['peak_mib']:,.0f} MiB ({dedup['before_mib']:,.0f} MiB "
              f"with the data loaded); {dedup['groups']:,} groups "
              f"(planted: {len(range(0, args.dedup_rows - 1, 100)):,} "
              "pairs)")


if __name__ == "__main__":
    main()
