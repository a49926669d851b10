"""The command-line side of score folders: `zipfit score ... --out FOLDER [--engine ray]` and
`zipfit select SOURCE --scores FOLDER`. Parses nothing itself: `cli.py` hands over its arguments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from zipfit_core.cli.progress import ProgressBar
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.data.sources import plural
from zipfit_core.engines.folder import is_score_folder
from zipfit_core.engines.sharded import load_scored_folder, make_engine, score_shards
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.codecs import codec_info
from zipfit_core.store.outputs import check_output_path
from zipfit_core.store.run import ScoreRun

# Data options that change which rows a SOURCE gives: a score folder scores every row of every shard (its
# field, or --source-template rendered per row), so they cannot apply to it.
ROW_OPTIONS = ("filter", "split", "config", "revision", "streaming", "limit", "sample")
EXIT_INTERRUPTED = 130


def _options_given(args: argparse.Namespace, role: str) -> list[str]:
    return [f"--{role}-{name}" for name in ROW_OPTIONS
            if getattr(args, f"{role}_{name}", None) not in (None, False)]


def _check_folder_name(out: str, engine: str) -> None:
    """A score folder is named without an extension (or exists): `scores.csv` is a typo, not a folder."""
    path = Path(out)
    if path.is_dir() or not path.suffix:
        return
    if engine == "ray":
        raise ZipFitError(f"--engine ray writes a score folder: give --out a folder name without an extension "
                          f"(got {out}).")
    raise ZipFitError(f"The scores file is Parquet: give --out a name ending in .parquet (got {out}), or a folder "
                      "name without an extension to score SOURCE's shards into a resumable score folder.")


def run_score_shards(args: argparse.Namespace) -> int:
    """Score SOURCE's shards into the folder --out with --engine; a bad shard is listed and the exit code is 2."""
    from zipfit_core.cli.data_options import load_data_argument

    _check_folder_name(args.out, args.engine)
    refused = _options_given(args, "source")
    if getattr(args, "method", "zipfit") != "zipfit":
        refused.append(f"--method {args.method}")
    if refused:
        raise ZipFitError(f"{', '.join(refused)} cannot be used when scoring shards into a folder (--engine ray or "
                          "an --out folder): every row of each shard is scored (its field, or --source-template). "
                          "Give --out FILE.parquet to use them, or prepare the shards first.")
    if not codec_info(args.codec).exact:
        print(f"note: {args.codec} is approximate: fast, close to gzip-9 but not identical.", file=sys.stderr)
    check_output_path(args.out, what="score folder", folder=True, is_ours=is_score_folder,
                      inputs=(args.source,))  # before any work, converting the targets included
    target = load_data_argument(args, "target")
    engine = make_engine(args.engine, workers=args.workers, ray_address=args.ray_address,
                         show_progress=not args.quiet)
    bar = ProgressBar(enabled=not args.quiet, detail=lambda status: status.message)  # "3 of 20 shards done"
    try:
        report = score_shards(args.source, target, args.out, engine=engine, source_field=args.source_field,
                              source_template=_source_template(args), codec=args.codec, level=args.level,
                              target_label=str(args.target), progress=bar.job_status)
    except KeyboardInterrupt:
        bar.close()
        print(f"zipfit: interrupted; the finished shards and the last checkpoint of the shard in progress are saved "
              f"in {args.out}: run the same command again to score the rest.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        bar.close()
    summary = (f"{args.engine} engine: {plural(len(report.scored), 'shard')} scored, {len(report.skipped):,} already "
               f"done ({plural(report.rows, 'row')} against {plural(len(target.texts), 'target')}) in "
               f"{report.seconds:.1f} s -> {args.out}")
    print(summary, file=sys.stderr)
    if report.failed:
        listing = "\n".join(f"  {name}: {message}" for name, message in report.failed.items())
        raise ZipFitError(f"{len(report.failed):,} of {plural(report.shards, 'shard')} could not be scored:\n"
                          f"{listing}\n"
                          f"The other shards are saved in {args.out}: fix or replace these files and run the same "
                          "command again (done shards are skipped).")
    return 0


def scored_folder_for_select(args: argparse.Namespace) -> tuple[np.ndarray, ScoreRun, LoadedTexts]:
    """`zipfit select SOURCE --scores FOLDER`: the folder's scores and SOURCE's rows, checked shard by shard."""
    refused = _options_given(args, "source")
    if refused:
        raise ZipFitError(f"{', '.join(refused)} cannot be used with a score folder: its rows are the shards' rows "
                          "as scored.")
    from zipfit_core.cli.data_options import cache_dir

    return load_scored_folder(args.scores, args.source, args.source_field, _source_template(args),
                              cache_dir=cache_dir(args))


def _source_template(args: argparse.Namespace) -> str | None:
    """--source-template as typed in a shell (`\\n` is a newline), or None."""
    from zipfit_core.cli.data_options import unescape_template

    template = getattr(args, "source_template", None)
    return unescape_template(template) if template is not None else None
