"""`zipfit score SOURCE TARGET --out FILE.parquet`: ZIP-FIT through the resumable jobs, or `--method` for the
baselines and the debiased variant; an `--out` folder (or `--engine ray`) goes to `shards.py`. With `--json`,
a summary of what was written goes to stdout (`print_summary`; its keys are in README, "Command line").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from zipfit_core.bounds import WORKERS
from zipfit_core.cli.data_options import cache_dir, load_data_argument
from zipfit_core.cli.progress import ProgressBar
from zipfit_core.cli.shards import run_score_shards
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.data.sources import plural
from zipfit_core.engines.folder import read_score_folder
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.method_scores import score_sources
from zipfit_core.jobs.score_job import ScoreRequest, run_foreground
from zipfit_core.scoring.alignment import require_texts
from zipfit_core.scoring.codecs import codec_info, resolve_level
from zipfit_core.scoring.methods import METHODS, method_spec
from zipfit_core.store.outputs import check_output_path
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.scores_file import is_scores_file, write_scores


def print_summary(summary: dict) -> None:
    """`--json`: one JSON object on stdout (progress, notes and warnings stay on stderr)."""
    print(json.dumps(summary, ensure_ascii=False, default=str), flush=True)


def score_summary(out: str, output_format: str, run: ScoreRun, rows: int, cache: dict | None = None,
                  shards: int | None = None) -> dict:
    return {"command": "score", "out": str(out), "format": output_format, "rows": rows, "targets": run.n_targets,
            "method": run.method, "shards": shards, "cache": cache, "run": run.to_dict()}


def run_score(args: argparse.Namespace) -> int:
    settings = method_settings(args)  # before any work: a setting out of range is a usage error
    if args.engine == "ray" or not args.out.lower().endswith(".parquet"):
        code = run_score_shards(args)  # shard by shard into a score folder (zipfit_core/engines)
        if code == 0 and args.json:
            folder = read_score_folder(args.out)
            print_summary(score_summary(args.out, "score-folder", folder.run, len(folder.scores),
                                        shards=len(folder.shards)))
        return code
    check_output_path(args.out, what="scores file", folder=False, is_ours=is_scores_file,
                      inputs=(args.source, args.target))  # before any work
    level = settings.get("level")  # resolved for the compressing methods (method_settings)
    if not codec_info(args.codec).exact:
        print(f"note: {args.codec} is approximate: fast, close to gzip-9 but not identical.", file=sys.stderr)
    source = load_data_argument(args, "source")
    target = load_data_argument(args, "target")
    require_texts(source.texts, "source")
    require_texts(target.texts, "target")
    progress = ProgressBar(enabled=not args.quiet)
    cache_folder = None if args.no_cache else cache_dir(args)
    if args.method != "zipfit":  # the baselines and the debiased variant (run_score_method)
        try:
            return run_score_method(args, source, target, settings, cache_folder, progress)
        finally:
            progress.close()
    run = ScoreRun.for_texts(source, target, source_name=str(args.source), target_name=str(args.target),
                             method="zipfit", settings={"codec": args.codec, "level": level})
    request = ScoreRequest.for_run(source.texts, target.texts, run)
    try:
        scores = run_foreground(request, cache_folder, progress=progress.job_status, workers=settings["workers"])
    except KeyboardInterrupt:
        progress.close()
        saved = progress.last.done if progress.last else 0  # the job's count after its last checkpoint
        where = (f"{saved:,} pairs are saved in {cache_folder}: run the same command again to resume"
                 if cache_folder is not None else "nothing was saved (--no-cache)")
        print(f"zipfit: interrupted; {where}.", file=sys.stderr)
        return 130
    finally:
        progress.close()
    n_chars = np.array([len(text) for text in source.texts], dtype=np.int64)
    write_scores(args.out, scores, n_chars, run)
    final = progress.last
    cache = None
    if final is None or cache_folder is None:
        origin = ""
    elif final.message == "loaded from the cache" or final.message.startswith("computed by another"):
        origin = f" ({final.message})"
        cache = {"dir": str(cache_folder), "pairs": final.total, "computed": 0, "resumed": final.total,
                 "note": final.message}
    else:
        origin = (f" ({plural(final.total - final.resumed, 'pair')} computed, "
                  f"{final.resumed:,} resumed from the cache)")
        cache = {"dir": str(cache_folder), "pairs": final.total, "computed": final.total - final.resumed,
                 "resumed": final.resumed, "note": "computed"}
    print(f"scored {plural(len(scores), 'row')} against {plural(len(target.texts), 'target')}{origin} -> {args.out}",
          file=sys.stderr)
    if args.json:
        print_summary(score_summary(args.out, "scores-file", run, len(scores), cache=cache))
    return 0


def methods_help() -> str:
    lines = []
    for info in METHODS.values():
        names = ", ".join(setting.name for setting in info.settings) or "none"
        lines.append(f"{info.name} (settings: {names})")
    return "; ".join(lines)


def add_method_arguments(score: argparse.ArgumentParser) -> None:
    """`--method` and `--setting` for `zipfit score`."""
    score.add_argument("--method", default="zipfit", choices=list(METHODS),
                       help="selector (default zipfit, the paper's score): " + methods_help())
    score.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                       help="a method setting, e.g. --setting analyzer=char_wb --setting seed=3 (repeatable)")


def parse_settings(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise ZipFitError(f"--setting {pair!r}: write NAME=VALUE, e.g. --setting seed=3.")
        settings[name.strip()] = value.strip()
    return settings


FLAG_SETTINGS = {"codec": "--codec", "level": "--level", "workers": "--workers"}  # settings that have a flag


def method_settings(args: argparse.Namespace) -> dict:
    """The method's settings, from --setting and from --codec, --level and --workers, each checked against its
    range (`MethodInfo.resolve`, as the app and its links do)."""
    settings: dict = parse_settings(args.setting)
    info = METHODS[args.method]
    for name, flag in FLAG_SETTINGS.items():
        if name in settings:
            raise ZipFitError(f"--setting {name}={settings[name]}: set it with {flag} instead.")
    if args.workers is not None:
        WORKERS.check("--workers", args.workers)  # every engine and method uses it, not only ZIP-FIT's
    if info.compresses:
        settings.update(codec=args.codec, level=resolve_level(args.codec, args.level), workers=args.workers)
    elif args.level is not None or args.codec != "gzip":
        raise ZipFitError(f"--codec/--level apply to ZIP-FIT only, not to --method {args.method}.")
    return info.resolve(settings)


def run_score_method(args: argparse.Namespace, source: LoadedTexts, target: LoadedTexts, resolved: dict,
                     cache_dir: Path | None, progress: Callable[[int, int], None]) -> int:
    """Score with a method other than plain ZIP-FIT and write the same scores file `zipfit score` writes."""
    scores = score_sources(args.method, source.texts, target.texts, progress=progress, cache_dir=cache_dir,
                           **resolved)
    run = ScoreRun.for_texts(source, target, source_name=str(args.source), target_name=str(args.target),
                             method=args.method, settings=resolved)
    write_scores(args.out, scores, np.array([len(text) for text in source.texts], dtype=np.int64), run)
    print(f"scored {plural(len(scores), 'row')} with {method_spec(args.method, resolved)} against "
          f"{plural(len(target.texts), 'target')} -> {args.out}", file=sys.stderr)
    if args.json:
        print_summary(score_summary(args.out, "scores-file", run, len(scores)))
    return 0
