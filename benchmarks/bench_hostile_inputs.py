"""What a hostile request costs now (issue #21, items 4-6): peak memory (RSS from the OS) and seconds of the real
code path, each case in its own child process.

Cases:
4. the link `/?src=demo&src.loc=pool&src.tpl={text}{text}...` (1,000 times): the app's path (`decode_view`, then
   `services.loaders.load_choice` for what the link asks), and the widest template allowed (32 fields) loaded
   twice with different words, so the loader cache's byte budget shows (ZIPFIT_LOADER_CACHE_MB, set below);
5. a 10 MB CSV with 1,000,000 columns: `zipfit score` (the CLI), and as an upload through the app's loader;
6. a 200 MB UTF-16 JSONL file that is one long line: `zipfit score --max-line-mb 1`.

Peak RSS is the child's `ru_maxrss` (os.wait4), so it includes Python and the imports (about 150 MB for the app).

Usage:
    python3 benchmarks/bench_hostile_inputs.py               # all cases
    python3 benchmarks/bench_hostile_inputs.py --code DIR --cases 46   # another checkout (e.g. before the fix)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

APP_LINK = textwrap.dedent("""
    import sys
    from zipfit_app.services.loaders import load_choice
    from zipfit_app.state.view import DataChoice, decode_view
    template = "{text}" * 1000
    view, problems = decode_view({"src": "demo", "src.loc": "pool", "src.tpl": template})
    print("link notes:", problems[:1])
    choice = view.source or DataChoice("demo", "pool", template=template)  # what the old app loaded
    try:
        loaded, _ref = load_choice(choice)
        print("loaded", len(loaded.texts), "rows,", sum(map(len, loaded.texts)), "characters")
    except Exception as error:
        print("refused:", type(error).__name__, str(error)[:160])
""")

APP_WIDEST = textwrap.dedent("""
    from zipfit_app.services.loaders import load_choice, loaded_cache
    from zipfit_app.state.view import DataChoice
    for word in ("first", "second", "third"):
        template = word + "{text}" * 31 + "{id}"  # 32 field uses, the most a template may have
        loaded, _ref = load_choice(DataChoice("demo", "pool", template=template))
        print(word, len(loaded.texts), "rows,", sum(map(len, loaded.texts)), "characters; cache holds",
              loaded_cache().total_bytes // 2**20, "MiB")
""")

APP_UPLOAD = textwrap.dedent("""
    import sys
    from zipfit_app.services.loaders import load_choice
    from zipfit_app.state.view import DataChoice
    data = open(sys.argv[1], "rb").read()
    try:
        load_choice(DataChoice("upload", "wide.csv"), data)
        print("loaded")
    except Exception as error:
        print("refused:", type(error).__name__, str(error)[:160])
""")


def run_child(command: list[str], env: dict[str, str], code: Path) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, last line of output) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=code)  # -c and -m put the cwd first
    _pid, _status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    output = child.stdout.read().decode("utf-8", "replace").strip().splitlines() if child.stdout else []
    return seconds, usage.ru_maxrss / 1024, (output[-1] if output else "")[:200]


def write_inputs(folder: Path) -> dict[str, Path]:
    wide = folder / "wide.csv"  # 1,000,000 columns, about 10 MB
    with open(wide, "w") as handle:
        handle.write(",".join(f"c{i}" for i in range(1_000_000)) + "\n")
        handle.write(",".join("x" for _ in range(1_000_000)) + "\n")
    long_line = folder / "long_line.jsonl"  # 200 MB of UTF-16: one line
    with open(long_line, "wb") as handle:
        handle.write("\ufeff".encode("utf-16-le"))
        handle.writelines([("x" * 2**20).encode("utf-16-le")] * 100)
    return {"wide": wide, "long_line": long_line}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--cases", default="456", help="which cases to run, e.g. 46 (before the fix, case 5 took "
                                                       "minutes and gigabytes)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.code.resolve()), "ZIPFIT_LOADER_CACHE_MB": "512",
           "HF_HUB_OFFLINE": "1"}
    cli = [sys.executable, "-m", "zipfit_core.cli.main"]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        env["ZIPFIT_DATA_ROOT"] = str(tmp)
        paths = write_inputs(tmp)
        cases = [
            ("4  link src.tpl={text}x1000 (app loader)", [sys.executable, "-c", APP_LINK]),
            ("4  widest template x3 (loader cache 512 MiB)", [sys.executable, "-c", APP_WIDEST]),
            ("5  CSV 1,000,000 columns (CLI score)", [*cli, "score", str(paths["wide"]), "demo:humaneval",
                                                      "--out", str(tmp / "s.parquet"), "--no-cache", "-q"]),
            ("5  CSV 1,000,000 columns (app upload)", [sys.executable, "-c", APP_UPLOAD, str(paths["wide"])]),
            ("6  UTF-16 200 MB one line, --max-line-mb 1", [*cli, "score", str(paths["long_line"]), "demo:humaneval",
                                                             "--out", str(tmp / "t.parquet"), "--max-line-mb", "1",
                                                             "--no-cache", "-q"]),
        ]
        print(f"code: {args.code.resolve()}")
        print(f"{'case':<46} {'seconds':>8} {'peak RSS MiB':>13}  outcome")
        for name, command in cases:
            if name[0] not in args.cases:
                continue
            seconds, peak, last = run_child(command, env, args.code.resolve())
            print(f"{name:<46} {seconds:>8.1f} {peak:>13,.0f}  {last}", flush=True)


if __name__ == "__main__":
    main()
