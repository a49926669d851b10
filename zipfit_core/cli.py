"""`zipfit` command line: parses arguments and calls the same core functions the app uses."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from . import __version__
from .codecs import CODECS, codec_info, resolve_level
from .errors import ZipFitError
from .export import export_format, export_selection, manifest_path
from .jobs import JobStatus, ScoreRequest, default_cache_dir, run_foreground
from .cli_data import SOURCE_HELP, add_data_arguments, load_data_argument, recorded_recipe
from .loading import LoadedTexts, check_not_empty, texts_fingerprint
from .selection import SelectionRule, TokenCounter, select
from .selectors import recorded_settings
from .storage import ScoreRun, read_scores, write_scores
from .engines import is_score_folder
from .engines.commands import run_score_shards, scored_folder_for_select
from .cli_compare import (add_compare_command, add_method_arguments, add_proxy_eval_command, run_compare,
                          run_proxy_eval, run_score_method)
from .cli_cache import add_cache_command, run_cache

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zipfit", description="ZIP-FIT data selection by compression alignment.")
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
    score.add_argument("--quiet", action="store_true", help="no progress bar")
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
    choose.add_argument("source", help="the source that was scored (its data options default to those the "
                                       "scores file records; options given here win)")
    choose.add_argument("--scores", required=True, help="Parquet file written by `zipfit score`")
    choose.add_argument("--source-field", help="text field (default: the one used for scoring)")
    add_data_arguments(choose, ("source",))
    rule = choose.add_mutually_exclusive_group(required=True)
    rule.add_argument("--threshold", type=float, help="keep rows with score > X")
    rule.add_argument("--top-k", type=int, help="keep the K best rows")
    rule.add_argument("--top-percent", type=float, help="keep the best P percent of rows")
    rule.add_argument("--token-budget", type=int, help="keep best rows until N tokens (last one truncated)")
    choose.add_argument("--tokenizer", help="a `tokenizers` JSON file for exact token counts "
                                            "(default: fast approximate regex count)")
    choose.add_argument("--no-score", action="store_true", help="leave out the score column")
    choose.add_argument("--out", required=True, help="output .jsonl, .parquet, .csv, or a folder (datasets)")
    add_compare_command(commands)
    add_proxy_eval_command(commands)
    add_cache_command(commands)
    return parser


class ProgressBar:
    """A tqdm bar on stderr counting source-target pairs, with an ETA for what is left."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.last: JobStatus | None = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            # Starting at `done` keeps pairs resumed from a checkpoint out of the rate and the ETA.
            self.bar = tqdm(total=total, initial=done, unit="pair", unit_scale=True, file=sys.stderr,
                            desc="scoring", dynamic_ncols=True)
        self.bar.update(done - self.bar.n)

    def job_status(self, status: JobStatus) -> None:
        """Follow a scoring job: say once what was resumed or who else computes, then the bar."""
        if self.last is None and status.resumed_pairs and status.state != "done":
            self.write(f"resuming: {status.resumed_pairs:,} of {status.total_pairs:,} pairs "
                       f"({status.resumed_pairs / status.total_pairs:.0%}) are already done in the cache")
        if status.message.startswith("another run") and not (self.last and self.last.message == status.message):
            self.write(f"note: {status.message}")
        self.last = status
        if status.state == "done" and self.bar is None:
            return  # loaded from the cache: no bar
        self(status.done_pairs, status.total_pairs)
        if self.bar is not None:
            self.bar.set_postfix_str(f"targets {status.targets_seen}/{status.n_targets}", refresh=False)

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_score(args: argparse.Namespace) -> int:
    if args.engine == "ray" or not args.out.lower().endswith(".parquet"):
        return run_score_shards(args)  # shard by shard into a score folder (zipfit_core/engines)
    level = resolve_level(args.codec, args.level)
    if not codec_info(args.codec).exact:
        print(f"note: {args.codec} is approximate: fast, close to gzip-9 but not identical.", file=sys.stderr)
    source = load_data_argument(args, "source")
    target = load_data_argument(args, "target")
    check_not_empty(source.texts, "source")
    check_not_empty(target.texts, "target")
    progress = ProgressBar(enabled=not args.quiet)
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    if args.method != "zipfit":  # the baselines and the debiased variant (cli_compare.py)
        try:
            return run_score_method(args, source, target, level, cache_dir, progress)
        finally:
            progress.close()
    request = ScoreRequest(source.texts, target.texts, codec=args.codec, level=level,
                           source_fingerprint=source.fingerprint, target_fingerprint=target.fingerprint,
                           label=f"{args.source} vs {args.target}")
    try:
        scores = run_foreground(request, cache_dir, progress=progress.job_status, workers=args.workers)
    except KeyboardInterrupt:
        progress.close()
        saved = progress.last.done_pairs if progress.last else 0  # the job's count after its last checkpoint
        where = (f"{saved:,} pairs are saved in {cache_dir}: run the same command again to resume"
                 if cache_dir is not None else "nothing was saved (--no-cache)")
        print(f"zipfit: interrupted; {where}.", file=sys.stderr)
        return 130
    finally:
        progress.close()
    run = ScoreRun.for_texts(source, target, source_name=str(args.source), target_name=str(args.target),
                             codec=args.codec, level=level, method="zipfit",
                             settings=recorded_settings("zipfit", {"codec": args.codec, "level": level}))
    n_chars = np.array([len(text) for text in source.texts], dtype=np.int64)
    write_scores(args.out, scores, n_chars, run)
    final = progress.last
    if final is None or cache_dir is None:
        origin = ""
    elif final.message == "loaded from the cache" or final.message.startswith("computed by another"):
        origin = f" ({final.message})"
    else:
        origin = (f" ({final.total_pairs - final.resumed_pairs:,} pairs computed, "
                  f"{final.resumed_pairs:,} resumed from the cache)")
    print(f"scored {len(scores)} rows against {len(target.texts)} targets{origin} -> {args.out}", file=sys.stderr)
    return 0


def selection_rule(args: argparse.Namespace) -> SelectionRule:
    for kind in ("threshold", "top_k", "top_percent", "token_budget"):
        value = getattr(args, kind)
        if value is not None:
            return SelectionRule(kind, value)
    raise AssertionError("argparse requires one rule")


def run_select(args: argparse.Namespace) -> int:
    export_format(args.out)  # fail before any work on a bad output name
    if is_score_folder(args.scores):  # written by sharded scoring (zipfit_core/engines)
        return export_best(args, *scored_folder_for_select(args))
    scores, run = read_scores(args.scores)
    source = load_data_argument(args, "source", default_text=run.source_field if run else None,
                                recorded=recorded_recipe(args.source, run))
    loaded_as = f" (loaded as: {source.recipe.describe()})" if source.recipe else ""
    if len(scores) != len(source.texts):
        raise ZipFitError(
            f"{args.scores} holds {len(scores)} scores but {args.source} has {len(source.texts)} rows{loaded_as}: "
            "give the same data options as for scoring (--source-filter, --source-sample, ...), "
            "or score this source again."
        )
    if run and run.source_fingerprint != texts_fingerprint(source.texts):
        raise ZipFitError(
            f"{args.source} has changed since it was scored (its texts no longer match {args.scores}){loaded_as}: "
            "give the same data options as for scoring (--source-template, --source-filter, --source-split, "
            "--source-sample, ...), or score it again."
        )
    return export_best(args, scores, run, source)


def export_best(args: argparse.Namespace, scores: np.ndarray, run: ScoreRun | None, source: LoadedTexts) -> int:
    rule = selection_rule(args)
    counter = TokenCounter(args.tokenizer)
    token_counts = counter.count(source.texts)
    selection = select(scores, rule, token_counts)
    manifest = export_selection(source.table, source.texts, source.text_field, scores, selection, counter,
                                run, args.out, include_score=not args.no_score)
    print(f"kept {manifest['rows']['kept']} of {manifest['rows']['total']} rows "
          f"({manifest['tokens']['kept']} tokens) -> {args.out}; manifest {manifest_path(args.out)}",
          file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"score": run_score, "select": run_select, "compare": run_compare,
               "proxy-eval": run_proxy_eval, "cache": run_cache}[args.command]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            shown: set[str] = set()  # several layers check the same setting (e.g. gzip level 0): say it once

            def show_once(message, *rest, **kw) -> None:
                if str(message) not in shown:
                    shown.add(str(message))
                    print(f"warning: {message}", file=sys.stderr)
            warnings.showwarning = show_once
            return handler(args)
    except ZipFitError as error:
        print(f"zipfit: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("zipfit: interrupted; nothing was written.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
