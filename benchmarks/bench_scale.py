"""Explore any size (issue #22): conversion, memory and speed of the app and the command line at 100k-10M rows.

For each size, a pool of ~1 KB rows (code-like and prose-like lines, a `kind` column) is written as Parquet shards
of 250,000 rows, then every step runs in a process of its own, so that its peak RSS (from the OS: `wait4`'s
ru_maxrss) is that step's alone:

1. convert: the pool into the data store, as the command line loads it (`open_data`, the recipe `zipfit`
   builds for a path): seconds, MB/s of text, peak RSS;
2. `zipfit select POOL --scores S --top-percent 10 --out X.jsonl`: seconds, peak RSS;
3. `zipfit check-contamination POOL --ref REFS --out F.parquet` (200 references, 20 of them copies of pool rows);
4. the app, two processes: the app's loader converts the pool for the app (its store key holds the app's data
   root, so it is a second store), then one process as a server would run it: load (`tests/app/sessions.py`
   `prepared_session`: the real loaders and score cache), the first Explore view and cut changes (AppTest
   reruns of `pages/explore.py`, server time), the Export page (its preview) and a folder export of the cut.

The scores are synthetic (exact ZIP-FIT scoring of 10M rows takes hours): a scores file as `zipfit score`
writes it (`write_scores`, the run record of the converted data, fingerprint included) for the command line,
and a complete ZIP-FIT result in the score cache (`CacheEntry.save`) for the app.

    python3 benchmarks/bench_scale.py --rows 100000 1000000          # ~10 min
    python3 benchmarks/bench_scale.py --rows 10000000 --work /big    # ~11 GB of pool + 2 x ~11 GB of stores
    python3 benchmarks/bench_scale.py --rows 20000                    # smoke run
    python3 benchmarks/bench_scale.py --rows 1000000 --only convert select   # some steps

`--work DIR` keeps the pools (reused when present) and the cache between runs; without it a temporary folder
is used and removed. A store already converted is converted again (the step deletes it first) so that the
conversion is always measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARD_ROWS = 60_000  # not 250,000: a Parquet file over 65,536 rows fails to convert (README, bench_scale)
BATCH_ROWS = 50_000
LINES_PER_TEXT = 29
KINDS = ("code", "prose", "maths", "mixed")
N_REFERENCES, N_PLANTED = 200, 20
STEPS = ("convert", "select", "contamination", "app")
GOALS = {"rss_2m": 1.5e9, "rss_10m": 3e9, "bytes_per_row": 100, "first_view_s": 3.0, "cut_s": 1.0, "mb_s": 50.0}
TARGETS = [
    "def sum_of_squares(n: int) -> int:\n    return sum(i * i for i in range(n + 1))",
    "def is_prime(n: int) -> bool:\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))",
    "theorem add_comm (a b : nat) : a + b = b + a := by simp [Nat.add_comm]",
    "The committee agreed to meet again in the spring, after the river had gone down.",
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "lemma mul_pos (a b : real) (ha : 0 < a) (hb : 0 < b) : 0 < a * b := by positivity",
    "class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, x):\n        self.items.append(x)",
    "How many apples are left if Sam buys 12 and gives away 5 to each of his 2 friends?",
    "def merge(a, b):\n    return sorted(a + b)",
    "theorem two_mul (n : nat) : 2 * n = n + n := by ring",
    "In the evening the old harbour was quiet, and the market stalls were packed away.",
    "for row in rows:\n    if row.score > threshold:\n        kept.append(row)",
]


# -- the pool -----------------------------------------------------------------------------------------------------

def line_bank(seed: int = 7) -> tuple[list[str], list[str]]:
    """2,048 code-like and 2,048 prose-like lines (20-90 characters), the same for a seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = "x y i n row rows total count items value values key keys data result scores text texts batch".split()
    calls = "len sorted sum max min range append extend encode compress join split strip lower".split()
    words = ("the a of to in and for with on at by from river city council meeting spring history people "
             "morning letter garden report season village road light evening story harbour winter market old "
             "theorem lemma proof every prime number divides sum integral limit bounded continuous group ring "
             "field apples cost each how many total left after buys sells gives shares dollars minutes").split()
    code, prose = [], []
    while len(code) < 2048:
        indent = "    " * int(rng.integers(0, 3))
        a, b, c = (names[int(k)] for k in rng.integers(0, len(names), 3))
        f, g = (calls[int(k)] for k in rng.integers(0, len(calls), 2))
        form = int(rng.integers(0, 6))
        line = [f"{a} = {f}({b}) + {int(rng.integers(0, 999))}", f"for {a} in {f}({b}):", f"if {a} > {b}:",
                f"return {f}({a}, {g}({b}, {c}))", f"{a}.{f}({b}[{int(rng.integers(0, 99))}])",
                f"def {f}_{g}({a}, {b}={int(rng.integers(0, 9))}):"][form]
        code.append(indent + line)
    while len(prose) < 2048:
        n = int(rng.integers(4, 11))  # under 13 words: a 13-word run spans lines
        sentence = " ".join(words[int(k)] for k in rng.integers(0, len(words), n))
        prose.append(sentence.capitalize() + ".")
    return code, prose


def write_pool(folder: Path, n_rows: int, seed: int = 0, row_group_rows: int = SHARD_ROWS) -> dict:
    """Parquet shards of SHARD_ROWS rows (`id`, `kind`, `text`) made BATCH_ROWS at a time (Arrow kernels,
    no Python string per row): each text is a header line naming the row and LINES_PER_TEXT lines from the bank
    (code lines for `code`, prose for `prose` and `maths`, either for `mixed`)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    code, prose = line_bank()
    bank = pa.array(code + prose, type=pa.string())
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    text_bytes = 0
    for shard_start in range(0, n_rows, SHARD_ROWS):
        shard_rows = min(SHARD_ROWS, n_rows - shard_start)
        path = staging / f"shard-{shard_start // SHARD_ROWS:05d}.parquet"
        parts = []
        for start in range(shard_start, shard_start + shard_rows, BATCH_ROWS):
            size = min(BATCH_ROWS, shard_start + shard_rows - start)
            kinds = rng.integers(0, len(KINDS), size)
            base = np.where(kinds == 0, 0, np.where(kinds == 3, 0, 2048))
            span = np.where(kinds == 3, 4096, 2048)
            ids = np.arange(start, start + size, dtype=np.int64)
            kind_names = pa.array(np.array(KINDS, dtype=object)[kinds], type=pa.string())
            header = pc.binary_join_element_wise("# document ", pc.cast(pa.array(ids), pa.string()), " (",
                                                 kind_names, ")", "")
            lines = [pc.take(bank, pa.array(base + rng.integers(0, 1 << 30, size) % span))
                     for _ in range(LINES_PER_TEXT)]
            texts = pc.binary_join_element_wise(header, *lines, "\n")
            text_bytes += int(pc.sum(pc.binary_length(texts)).as_py())
            parts.append(pa.table({"id": ids, "kind": kind_names, "text": texts}))
        # Row groups of `row_group_rows` (default: the whole shard, as pq.write_table writes up to 1M rows).
        pq.write_table(pa.concat_tables(parts), str(path), row_group_size=row_group_rows)
        del parts
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return {"rows": n_rows, "text_bytes": text_bytes, "row_group_rows": row_group_rows}


def pool_name(n_rows: int) -> str:
    for size, suffix in ((1_000_000, "m"), (1000, "k")):
        if n_rows % size == 0:
            return f"pool_{n_rows // size}{suffix}"
    return f"pool_{n_rows}"


def write_small_sets(data_root: Path, pool: Path) -> None:
    """targets.jsonl (12 texts) and references_<pool>.jsonl: 180 made-up texts and 20 copies of pool rows."""
    import numpy as np
    import pyarrow.parquet as pq

    (data_root / "targets.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TARGETS))
    first = pq.ParquetFile(str(sorted(pool.glob("shard-*.parquet"))[0]))
    texts = first.read_row_group(0, columns=["text"]).column("text").to_pylist()
    rng = np.random.default_rng(3)
    planted = sorted(rng.choice(len(texts), N_PLANTED, replace=False).tolist())
    references = [f"Question {k}: what is the value of {k} squared plus {k * 7 % 13} when counted in base "
                  f"{2 + k % 7}, and why does it matter for the proof of lemma {k}?"
                  for k in range(N_REFERENCES - N_PLANTED)] + [texts[row] for row in planted]
    (data_root / f"references_{pool.name}.jsonl").write_text(
        "".join(json.dumps({"text": t, "planted_row": None}) + "\n" for t in references[:-N_PLANTED])
        + "".join(json.dumps({"text": texts[row], "planted_row": row}) + "\n" for row in planted))


# -- children (each run in a process of its own) -----------------------------------------------------------------

def cli_source(path: Path):
    """The source, text and options `zipfit` builds for a path argument with no data options."""
    from zipfit_core.cli.data_options import data_recipe
    from zipfit_core.data.sources import LoadOptions

    args = argparse.Namespace(source=str(path), sample_seed=None, max_chars=None, on_bad_line=None, txt_unit=None,
                              **{f"source_{name}": None for name in ("config", "split", "revision", "limit",
                                                                      "sample", "streaming", "filter", "field",
                                                                      "template")})
    recipe = data_recipe(args, "source")
    return recipe.source, recipe.text, recipe.options(LoadOptions())


def child_convert(pool: Path, cache: Path) -> dict:
    from zipfit_core.store.data_store import data_root_folder, open_data, store_key

    source, text, options = cli_source(pool)
    shutil.rmtree(data_root_folder(cache) / store_key(source, text, options), ignore_errors=True)  # measure it
    start = time.perf_counter()
    loaded = open_data(source, text, options, cache_dir=cache)
    seconds = time.perf_counter() - start
    manifest = json.loads((loaded.store_folder / "manifest.json").read_text())
    return {"seconds": seconds, "rows": len(loaded.texts), "text_bytes": manifest["text_bytes"],
            "store": str(loaded.store_folder), "fingerprint": loaded.fingerprint,
            "store_bytes": sum(p.stat().st_size for p in loaded.store_folder.iterdir())}


def child_prepare(pool: Path, data_root: Path, cache: Path, scores_file: Path) -> dict:
    """The scores file for `zipfit select` and a complete ZIP-FIT result in the app's score cache."""
    import numpy as np

    from zipfit_core.jobs.schedule import round_ends, schedule_description, target_order
    from zipfit_core.jobs.score_job import ScoreRequest
    from zipfit_core.scoring.kernel import UNITS_PER_ONE
    from zipfit_core.store.data_store import open_data
    from zipfit_core.store.run import ScoreRun
    from zipfit_core.store.score_cache import CacheEntry
    from zipfit_core.store.score_state import SQUARE_LIMBS, ScoreState, to_limbs
    from zipfit_core.store.scores_file import write_scores

    start = time.perf_counter()
    source = open_data(*cli_source(pool), cache_dir=cache)
    target_path = data_root / "targets.jsonl"
    target = open_data(*cli_source(target_path), cache_dir=cache)
    n = len(source.texts)
    kind_codes = source.table.column("kind").map({name: code for code, name in enumerate(KINDS)}).to_numpy()
    rng = np.random.default_rng(11)
    scores = np.clip(0.08 + 0.4 * rng.beta(2, 8, n) + np.array([0.05, 0.0, 0.03, 0.01])[kind_codes]
                     - 0.00002 * (source.char_counts - 1000), 0.01, 0.99)
    run = ScoreRun.for_texts(source, target, source_name=str(pool), target_name=str(target_path),
                             method="zipfit", settings={"codec": "gzip", "level": 9})
    write_scores(scores_file, scores, source.char_counts, run)  # what `zipfit score POOL TARGETS --out S` writes
    # The app's result: exact sums in units of 2**-53 (a row's score is sum / n_targets / 2**53), complete.
    n_targets = len(target.texts)
    sums = np.rint(scores * (n_targets * UNITS_PER_ONE)).astype(np.int64)
    spread = (np.random.default_rng(12).uniform(0.01, 0.05, n) * UNITS_PER_ONE).astype(np.int64)
    squares = np.zeros((SQUARE_LIMBS, n), dtype=np.int64)
    for lo in range(0, n, 500_000):  # Python ints a block at a time: sum**2 / n + n * spread**2 needs 128 bits
        block = [total * total // n_targets + n_targets * s * s
                 for total, s in zip(sums[lo:lo + 500_000].tolist(), spread[lo:lo + 500_000].tolist())]
        squares[:, lo:lo + len(block)] = np.stack(to_limbs(block, SQUARE_LIMBS))
    ends = round_ends(n_targets)
    state = ScoreState(n, ends, len(ends), np.stack([sums, np.zeros(n, np.int64)]), squares, 0,
                       np.zeros((2, n), np.int64), np.zeros((SQUARE_LIMBS, n), np.int64))
    request = ScoreRequest.for_run(source.texts, target.texts, run)
    entry = CacheEntry(cache, request.key)
    if not entry.try_lock():
        raise RuntimeError("the score cache entry is locked")
    try:
        entry.save(state, run, schedule_description(target_order(n_targets), ends), run.label)
    finally:
        entry.unlock()
    return {"seconds": time.perf_counter() - start, "key": request.key, "rows": n}


def child_app_convert(pool_location: str) -> dict:
    """The app's loader converting the pool (its store is keyed with the app's data root: a store of its own)."""
    sys.path.insert(0, str(REPO))
    from tests.app.sessions import prepared_session
    from zipfit_app.services import loaders, work
    from zipfit_app.state.view import DataChoice
    from zipfit_core.store.data_store import data_root_folder, store_key

    choice = DataChoice("local", pool_location)
    key = store_key(loaders.data_source(choice), loaders.text_spec(choice), loaders.load_options())
    shutil.rmtree(data_root_folder(work.manager().cache_dir) / key, ignore_errors=True)  # measure the conversion
    start = time.perf_counter()
    session = prepared_session(choice, DataChoice("local", "targets.jsonl"))
    assert session is not None
    return {"seconds": time.perf_counter() - start}


def child_app(pool_location: str, n_rows: int, moves: int) -> dict:
    """One process as the server: load, first Explore view, cut changes, Export page, a folder export."""
    sys.path.insert(0, str(REPO))
    from tests.app.sessions import app_with_session, prepared_session
    from tests.app_harness import installed_components
    from zipfit_app.services import exports as exporting
    from zipfit_app.state.view import DataChoice

    installed_components()  # what a server finds once, when it starts: not the first view's time
    times: dict[str, object] = {}
    start = time.perf_counter()
    session = prepared_session(DataChoice("local", pool_location), DataChoice("local", "targets.jsonl"),
                               cut_kind="top_k", cut_value=100.0)
    times["load_s"] = time.perf_counter() - start
    times["rss_after_load"] = rss_now()
    if session.result is None:
        raise RuntimeError("the app did not find the cached result for the pool (the run's key differs)")
    start = time.perf_counter()
    app = app_with_session(session, timeout=3600)
    times["first_view_s"] = time.perf_counter() - start
    problems = [item.value for item in app.exception]
    if problems:
        raise RuntimeError(f"the Explore page raised: {problems}")
    times["rss_after_first_view"] = rss_now()
    cuts = []
    values = [n_rows // 10] + [max(1, n_rows * (k + 1) // (moves + 2)) for k in range(moves - 1)]
    for value in values:
        app.number_input(key="explore.top_k").set_value(int(value))
        start = time.perf_counter()
        app.run()
        cuts.append(time.perf_counter() - start)
        if app.exception:
            raise RuntimeError(f"a cut change raised: {[item.value for item in app.exception]}")
    times["cut_s"] = cuts
    # Export the 10% cut (as `zipfit select --top-percent 10`): the page with its preview, then a folder export.
    app.number_input(key="explore.top_k").set_value(n_rows // 10)
    app.run()
    start = time.perf_counter()
    app.switch_page("pages/export.py").run()
    times["export_page_s"] = time.perf_counter() - start
    if app.exception:
        raise RuntimeError(f"the Export page raised: {[item.value for item in app.exception]}")
    waited = time.perf_counter()
    buttons = [button for button in app.button if button.key == "export.to_folder"]
    patience = 120 + 60 * n_rows / 1e6  # the pool's copy check comes first: ~20 s per million rows here
    while not buttons and time.perf_counter() - waited < patience:  # background checks (copies of targets) first
        time.sleep(1.0)
        app.run()
        buttons = [button for button in app.button if button.key == "export.to_folder"]
    times["export_ready_s"] = time.perf_counter() - start
    if not buttons:
        shown = [element.value for kind in ("info", "warning", "error", "markdown") for element in getattr(app, kind)]
        raise RuntimeError(f"the Export page offers no folder export after {patience:.0f} s; it shows: {shown}")
    start = time.perf_counter()
    buttons[0].click().run()
    export = session.folder_export
    if export is None:
        raise RuntimeError(f"the folder export did not start: {[e.value for e in app.error]}")
    while True:
        status = exporting.export_status(export)
        if status is not None and status.state not in ("queued", "running"):
            break
        time.sleep(0.1)
    times["export_s"] = time.perf_counter() - start
    if status.state != "done":
        raise RuntimeError(f"the folder export ended {status.state}: {status}")
    times["export_rows"] = export.n_rows
    times["export_bytes"] = Path(export.output).stat().st_size
    times["rss_end"] = rss_now()
    return times


def rss_now() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# -- the parent ---------------------------------------------------------------------------------------------------

def measured(command: list[str], env: dict, log: Path, timeout: float | None = None) -> dict:
    """Run `command`; its wall seconds, peak RSS (bytes, from wait4), exit code, and its last stdout line as JSON
    when it printed one. Output goes to `log`."""
    start = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        deadline = None if timeout is None else start + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    result = {"wall_s": time.perf_counter() - start, "rss": usage.ru_maxrss * 1024, "code": process.returncode,
              "timed_out": deadline is not None and time.perf_counter() > deadline}
    lines = log.read_text(errors="replace").splitlines()
    for line in reversed(lines):
        if line.startswith("RESULT "):
            result.update(json.loads(line[len("RESULT "):]))
            break
    if process.returncode != 0:
        result["error"] = "\n".join(lines[-25:])
    return result


def child(name: str, *arguments: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", name, *arguments]


def zipfit(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "zipfit_core.cli.main", *arguments]


def stores(cache: Path) -> set[str]:
    folder = cache / "data"
    return {entry.name for entry in folder.iterdir() if not entry.name.startswith(".")} if folder.is_dir() else set()


def run_size(n_rows: int, work: Path, only: set[str], contamination_limit: int | None, moves: int,
             row_group_rows: int = SHARD_ROWS) -> dict:
    name = pool_name(n_rows) + ("" if row_group_rows == SHARD_ROWS else f"_rg{row_group_rows}")
    data_root, cache, out = work / "data", work / "cache", work / "out" / name
    for folder in (data_root, cache, out):
        folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "ZIPFIT_CACHE_DIR": str(cache), "ZIPFIT_DATA_ROOT": str(data_root), "ZIPFIT_SMALL_EXPORT_ROWS": "1000",
           "ZIPFIT_MAX_JOBS": "1", "PYTHONUNBUFFERED": "1"}
    pool = data_root / name
    row: dict = {"rows": n_rows}
    info = work / "pool-info" / f"{pool.name}.json"  # written last: a pool without it is written again
    if not info.exists():
        start = time.perf_counter()
        written = write_pool(pool, n_rows, row_group_rows=row_group_rows)
        info.parent.mkdir(exist_ok=True)
        info.write_text(json.dumps(written))
        print(f"  wrote {pool} in {time.perf_counter() - start:.1f} s", flush=True)
    row["pool"] = json.loads(info.read_text())
    row["pool_bytes"] = sum(p.stat().st_size for p in pool.glob("*.parquet"))
    references = data_root / f"references_{pool.name}.jsonl"
    if not references.exists() or not (data_root / "targets.jsonl").exists():
        write_small_sets(data_root, pool)

    def step(name: str, command: list[str], timeout: float | None = None) -> dict:
        print(f"  {name} ...", end=" ", flush=True)
        before = stores(cache)
        result = measured(command, env, out / f"{name}.log", timeout)
        result["new_stores"] = len(stores(cache) - before)
        print(f"{result['wall_s']:.1f} s, peak RSS {result['rss'] / 2**20:,.0f} MiB"
              + (f"  FAILED (exit {result['code']}), log {out / (name + '.log')}" if result["code"] else ""),
              flush=True)
        row[name] = result
        return result

    if "convert" in only:
        step("convert", child("convert", str(pool), str(cache)))
    scores = out / "scores.parquet"
    if only & {"select", "app"} and not scores.exists():
        step("prepare", child("prepare", str(pool), str(data_root), str(cache), str(scores)))
    if "select" in only:
        # Twice: the first after `zipfit score`'s conversion, as a user runs it; the second on its own store.
        for name in ("select_first", "select"):
            for path in out.glob("selected*"):
                path.unlink()
            step(name, zipfit("select", str(pool), "--scores", str(scores), "--top-percent", "10", "--out",
                              str(out / "selected.jsonl")))
    if "contamination" in only:
        limit = ["--source-limit", str(contamination_limit)] if contamination_limit and n_rows > contamination_limit \
            else []
        row["contamination_rows"] = contamination_limit if limit else n_rows
        flags = out / "flags.parquet"
        flags.unlink(missing_ok=True)
        result = step("contamination", zipfit("check-contamination", str(pool), "--ref", str(references), "--out",
                                              str(flags)))
        if flags.exists():
            import pyarrow.parquet as pq

            table = pq.read_table(flags)
            result["flags"] = table.num_rows
            result["flagged_rows"] = len(set(table.column("row").to_pylist()))
    if "app" in only:
        shutil.rmtree(data_root / "exports", ignore_errors=True)
        step("app_convert", child("app-convert", pool.name))
        step("app", child("app", pool.name, str(n_rows), str(moves)))
    return row


def cell(row: dict, step: str, key: str, scale: float = 1.0, form: str = "{:.1f}") -> str:
    result = row.get(step)
    if not result:
        return "-"
    if result.get("code"):
        return "FAILED"
    value = result.get(key)
    return form.format(value * scale) if isinstance(value, (int, float)) else "-"


def mib(row: dict, step: str) -> str:
    return cell(row, step, "rss", 1 / 2**20, "{:,.0f}")


def report(rows: list[dict]) -> None:
    print("\nScores are synthetic (a scores file and a score-cache entry with the converted data's fingerprints): "
          "exact ZIP-FIT scoring of 10M rows takes hours. Times are wall seconds of the step's process (imports "
          "included) unless named server time; RSS is the process's peak (wait4 ru_maxrss).\n")
    header = ("| rows | pool text GB | convert s | MB/s | convert RSS MiB | app convert s | app convert RSS MiB "
              "| app load s | first Explore s | cut change ms (median) | export page s (until it offers the export) | export s | app peak RSS MiB "
              "| select s | select RSS MiB | contamination s | contamination RSS MiB |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        convert = row.get("convert") or {}
        rate = (row["pool"]["text_bytes"] / convert["seconds"] / 1e6) if convert.get("seconds") else None
        app = row.get("app") or {}
        cut = f"{statistics.median(app['cut_s']) * 1000:,.0f}" if app.get("cut_s") and not app.get("code") else \
            cell(row, "app", "x")
        contamination_rows = row.get("contamination_rows", row["rows"])
        limited = f" ({contamination_rows:,} rows)" if contamination_rows != row["rows"] else ""
        print(f"| {row['rows']:,} | {row['pool']['text_bytes'] / 1e9:.2f} | {cell(row, 'convert', 'seconds')} "
              f"| {f'{rate:.0f}' if rate else '-'} | {mib(row, 'convert')} | {cell(row, 'app_convert', 'seconds')} "
              f"| {mib(row, 'app_convert')} | {cell(row, 'app', 'load_s', form='{:.2f}')} "
              f"| {cell(row, 'app', 'first_view_s', form='{:.2f}')} | {cut} "
              f"| {cell(row, 'app', 'export_page_s', form='{:.2f}')} ({cell(row, 'app', 'export_ready_s', form='{:.1f}')}) | {cell(row, 'app', 'export_s')} "
              f"| {mib(row, 'app')} | {cell(row, 'select', 'wall_s')} | {mib(row, 'select')} "
              f"| {cell(row, 'contamination', 'wall_s')}{limited} | {mib(row, 'contamination')} |")
    print("\nGoals: app server and `zipfit select` peak RSS < 1,536 MB at 2M rows, < 3,072 MB at 10M, growth <= ~100 "
          "bytes/row; first Explore view <= 3 s and a cut change <= 1 s of server time at 10M; conversion >= 50 MB/s.")
    for row in rows:
        notes = []
        first = row.get("select_first") or {}
        if first.get("new_stores"):
            notes.append(f"the first `zipfit select` after the conversion converted the pool again: "
                         f"{first['wall_s']:.1f} s, peak RSS {first['rss'] / 2**20:,.0f} MiB (the scores file's "
                         "recorded recipe names the text field, so its store key differs)")
        for step in ("convert", "prepare", "select_first", "select", "contamination", "app_convert", "app"):
            result = row.get(step)
            if result and result.get("code"):
                notes.append(f"{step} FAILED (exit {result['code']}"
                             f"{', timed out' if result.get('timed_out') else ''}):\n{result.get('error', '')}")
            if result and step in ("select", "app") and result.get("new_stores"):
                notes.append(f"{step} converted the pool again ({result['new_stores']} new store)")
        app = row.get("app") or {}
        if app.get("cut_s") and not app.get("code"):
            notes.append("cut changes (ms): " + ", ".join(f"{s * 1000:,.0f}" for s in app["cut_s"])
                         + f"; app RSS after load {app['rss_after_load'] / 2**20:,.0f} MiB, after first view "
                         f"{app['rss_after_first_view'] / 2**20:,.0f} MiB, at the end {app['rss_end'] / 2**20:,.0f} MiB; "
                         f"exported {app['export_rows']:,} rows, {app['export_bytes'] / 1e6:,.0f} MB")
        contamination = row.get("contamination") or {}
        if "flags" in contamination:
            notes.append(f"contamination: {contamination['flags']:,} flags on {contamination['flagged_rows']:,} rows "
                         f"({N_PLANTED} planted copies)")
        convert = row.get("convert") or {}
        if convert.get("store_bytes"):
            notes.append(f"store {convert['store_bytes'] / 1e9:.2f} GB, pool Parquet {row['pool_bytes'] / 1e9:.2f} GB")
        for note in notes:
            print(f"  {row['rows']:,}: {note}")
    print("\nGrowth of peak RSS between sizes (bytes per row):")
    for step in ("convert", "app_convert", "app", "select", "contamination"):
        measured_rows = [(row["rows"], row[step]["rss"]) for row in rows
                         if row.get(step) and not row[step].get("code") and
                         (step != "contamination" or row.get("contamination_rows", row["rows"]) == row["rows"])]
        pairs = [f"{a:,} -> {b:,}: {(rb - ra) / (b - a):,.0f}" for (a, ra), (b, rb) in
                 zip(measured_rows, measured_rows[1:])]
        if pairs:
            print(f"  {step:<14} " + "; ".join(pairs) + ("  (goal <= 100)" if step in ("app", "select") else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--work", type=Path, help="folder for pools and cache (kept; pools reused)")
    parser.add_argument("--only", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--contamination-limit", type=int, default=None,
                        help="check only the first N rows of bigger pools (--source-limit: converts those rows)")
    parser.add_argument("--moves", type=int, default=5, help="cut changes in the app")
    parser.add_argument("--row-group-rows", type=int, default=SHARD_ROWS,
                        help="rows per Parquet row group (default: one group per shard)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, rest = args.child[0], args.child[1:]
        function = {"convert": lambda: child_convert(Path(rest[0]), Path(rest[1])),
                    "prepare": lambda: child_prepare(*map(Path, rest)),
                    "app-convert": lambda: child_app_convert(rest[0]),
                    "app": lambda: child_app(rest[0], int(rest[1]), int(rest[2]))}[name]
        print("RESULT " + json.dumps(function()), flush=True)
        return
    temporary = None
    if args.work is None:
        temporary = tempfile.mkdtemp(prefix="bench-scale-")
        args.work = Path(temporary)
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"work folder {args.work}; load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores; "
          f"free disk {shutil.disk_usage(args.work).free / 1e9:.0f} GB")
    rows = []
    try:
        for n_rows in args.rows:
            print(f"[{n_rows:,} rows]", flush=True)
            rows.append(run_size(n_rows, args.work, set(args.only), args.contamination_limit, args.moves,
                                 args.row_group_rows))
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1))
    finally:
        if rows:
            report(rows)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
