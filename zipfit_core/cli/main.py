"""`zipfit` command line: parses arguments, calls the same core functions the app uses, and prints every error as
one line (`zipfit: error: ...`, exit code 2) in the command line's words (`words.cli_text`).

Conventions of every command: `--help` ends with examples (EXAMPLES); a command with a progress bar takes
`-q/--quiet`; `score` and `select` take `--json` for a summary on stdout (README, "Command line").
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from zipfit_core._version import __version__
from zipfit_core.analysis.coverage import BALANCE_CHOICES
from zipfit_core.cli.app import add_app_command, run_app
from zipfit_core.cli.cache import add_cache_command, run_cache
from zipfit_core.cli.compare import add_compare_command, run_compare
from zipfit_core.cli.contamination import (
    add_check_contamination_command,
    add_select_curation_options,
    run_check_contamination,
)
from zipfit_core.cli.data_options import SOURCE_HELP, add_data_arguments
from zipfit_core.cli.proxy_eval import add_proxy_eval_command, run_proxy_eval
from zipfit_core.cli.score import add_method_arguments, run_score
from zipfit_core.cli.select import run_select
from zipfit_core.cli.shaping import add_select_shaping_options
from zipfit_core.cli.words import cli_text
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.codecs import CODECS

EXIT_USER_ERROR = 2
EXAMPLES = {
    "score": """examples:
  zipfit score demo:pool demo:proofnet-valid --out scores.parquet
  zipfit score pool.jsonl targets.jsonl --target-field prompt --codec zstd -q --json --out s.parquet
  zipfit score 'shards/*.jsonl.zst' targets.jsonl --out scored/              # a resumable score folder
  zipfit score shards/ targets.jsonl --engine ray --out scored/""",
    "select": """examples:
  zipfit select demo:pool --scores scores.parquet --top-percent 10 --out best.jsonl
  zipfit select pool.jsonl --scores s.parquet --token-budget 1000000 --json --out subset/
  zipfit select pool.jsonl --scores s.parquet --top-k 5000 --decontaminate heldout.jsonl --out best.parquet
  zipfit select pool.jsonl --scores s.parquet --top-k 5000 --exclude-matching "Licensed under" --out best.jsonl
  zipfit select pool.jsonl --scores s.parquet --top-k 5000 --cap kind=changelog:1% --exclude-rows drop.txt --out b.jsonl
  zipfit select --from-manifest best.jsonl.manifest.json --out again.jsonl   # the same rows again""",
    "check-contamination": """examples:
  zipfit check-contamination pool.jsonl --ref humaneval.jsonl --out flags.parquet
  zipfit check-contamination pool.jsonl --ref test.jsonl --ref-field question --ngram 8 --out flags.parquet""",
    "compare": """examples:
  zipfit compare demo:pool --scores zipfit.parquet dsir.parquet --top-percent 10
  zipfit compare pool.jsonl --from-manifest best.jsonl.manifest.json other.jsonl.manifest.json --top-k 1000 \\
      --column domain --json compare.json""",
    "proxy-eval": """examples:
  zipfit proxy-eval demo:pool --scores zipfit.parquet random.parquet --eval-target demo:proofnet-test \\
      --out proxy.json
  zipfit proxy-eval pool.jsonl --from-manifest best.jsonl.manifest.json --eval-target heldout.jsonl -q""",
    "cache": """examples:
  zipfit cache list --json
  zipfit cache remove 3f2a9c
  zipfit cache prune --older-than 30 --max-size 2GB --dry-run""",
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' lines (an epilog with line breaks) and wraps one-paragraph descriptions as usual."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zipfit", description="ZIP-FIT data selection by compression alignment.",
                                     epilog="`zipfit COMMAND --help` shows each command's options and examples.")
    parser.add_argument("--version", action="version", version=f"zipfit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    score = commands.add_parser("score", help="score every SOURCE row by its alignment with TARGET")
    score.add_argument("source", help=f"source pool: {SOURCE_HELP}")
    score.add_argument("target", help="target examples: same kinds of data")
    score.add_argument("--out", required=True, help="output Parquet file (columns row, score, n_chars)")
    score.add_argument("--source-field", help="text field of the source rows (default: `text` or the longest)")
    score.add_argument("--target-field", help="text field of the target rows (default: `text` or the longest)")
    score.add_argument("--codec", default="gzip", choices=sorted(CODECS), help="compressor (default gzip)")
    score.add_argument("--level", type=int, help="compression level (default: the codec's; gzip 9)")
    score.add_argument("--workers", type=int, help="threads (default: all cores)")
    add_quiet_option(score)
    score.add_argument("--json", action="store_true", help="print a summary as JSON on stdout (what was written, "
                                                           "counts, the run record)")
    score.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local threads (default) or Ray Data; with --engine ray or an --out folder, SOURCE's "
                            "Parquet/JSONL shards are scored into a resumable score folder")
    score.add_argument("--ray-address", help="the Ray cluster for --engine ray (default: $RAY_ADDRESS, a cluster "
                                             "started here with `ray start --head`, or a new local instance)")
    add_data_arguments(score, ("source", "target"))
    add_method_arguments(score)
    caching = score.add_mutually_exclusive_group()
    caching.add_argument("--cache-dir", help="where results and checkpoints are kept, so a killed run resumes "
                                             "and a repeated run is instant (default: $ZIPFIT_CACHE_DIR or "
                                             "the user cache folder)")
    caching.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")

    choose = commands.add_parser("select", help="write the best SOURCE rows by a scores file")
    choose.add_argument("source", nargs="?", help="the source that was scored (its data options default to those "
                                                  "the scores file records; options given here win)")
    choose.add_argument("--scores", help="Parquet file written by `zipfit score`")
    choose.add_argument("--from-manifest", metavar="MANIFEST",
                        help="make the cut an export's manifest records again (scores, rule, curation, rows by hand, "
                             "patterns, caps), to --out: the same rows")
    choose.add_argument("--source-field", help="text field (default: the one used for scoring)")
    add_data_arguments(choose, ("source", "ref"))
    add_select_curation_options(choose)
    add_select_shaping_options(choose)
    rule = choose.add_mutually_exclusive_group()
    rule.add_argument("--threshold", type=float, help="keep rows with score > X")
    rule.add_argument("--top-k", type=int, help="keep the K best rows")
    rule.add_argument("--top-percent", type=float, help="keep the best P percent of rows")
    rule.add_argument("--token-budget", type=int, help="keep best rows until N tokens (last one truncated)")
    choose.add_argument("--tokenizer", help="a `tokenizers` JSON file for exact token counts "
                                            "(default: fast approximate regex count)")
    choose.add_argument("--no-score", action="store_true", help="leave out the score column")
    choose.add_argument("--balance", choices=BALANCE_CHOICES, default="none",
                        help="targets: fill the same budget with each target's nearest rows in turn, then by score, "
                             "so every target is served before any is served twice (not the paper's rule)")
    choose.add_argument("--cache-dir", help="the score cache holding the scoring's per-target facts, for the "
                                            "coverage and --balance (default: $ZIPFIT_CACHE_DIR or the user cache "
                                            "folder)")
    choose.add_argument("--out", required=True, help="output .jsonl, .parquet, .csv, or a folder (datasets)")
    choose.add_argument("--json", action="store_true", help="print a summary as JSON on stdout (what was "
                                                            "written, counts, the run record)")
    add_check_contamination_command(commands)
    add_compare_command(commands)
    add_proxy_eval_command(commands)
    add_cache_command(commands)
    add_app_command(commands, HelpFormatter)
    for name, command in commands.choices.items():  # the commands other modules define get theirs here
        if name in EXAMPLES:
            command.epilog, command.formatter_class = EXAMPLES[name], HelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"score": run_score, "select": run_select, "compare": run_compare,
               "proxy-eval": run_proxy_eval, "cache": run_cache,
               "check-contamination": run_check_contamination, "app": run_app}[args.command]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            shown: set[str] = set()  # several layers check the same setting (e.g. gzip level 0): say it once

            def show_once(message, *rest, **kw) -> None:
                if str(message) not in shown:
                    shown.add(str(message))
                    print(f"warning: {cli_text(message)}", file=sys.stderr)
            warnings.showwarning = show_once
            return handler(args)
    except ZipFitError as error:
        print(f"zipfit: error: {cli_text(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as error:  # the file system refused (permissions, disk full): what and where, not a traceback
        where = f" ({error.filename})" if error.filename else ""
        print(f"zipfit: error: {error.strerror or error}{where}: check the path, its permissions and the free space.",
              file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("zipfit: interrupted; nothing was written.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
