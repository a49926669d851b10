"""Reading the methods to compare: scores files and export manifests (re-scored as recorded, or read from the
cache, with a progress bar unless --quiet), checked against the source they were scored on; shared by `compare`
and `proxy-eval`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from zipfit_core.analysis.export import read_manifest
from zipfit_core.cli.data_options import SOURCE_HELP, load_data_argument, load_options, recorded_recipe
from zipfit_core.data.loading import LoadedTexts, load_recipe, load_source, source_from_argument
from zipfit_core.data.sources import DataRecipe, LoadOptions, TextSpec, plural
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.method_scores import score_sources
from zipfit_core.scoring.alignment import ProgressCallback
from zipfit_core.scoring.methods import NON_ZIPFIT_CODEC, short_label
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.scores_file import read_scores


def method_label(run: ScoreRun | None, fallback: str) -> str:
    """The method's name plus its non-default settings (the full spec stays in the JSON outputs)."""
    if run is None:
        return fallback
    try:
        label = short_label(*run.method_settings())
    except ZipFitError:  # a method (or setting) this version does not know
        return run.method
    if run.codec != NON_ZIPFIT_CODEC and (run.codec, run.level) != ("gzip", 9):
        label += f" [{run.codec}-{run.level}]"
    return label


def scores_from_file(path: str, source: LoadedTexts) -> tuple[np.ndarray, ScoreRun | None]:
    scores, run = read_scores(path)
    if len(scores) != len(source.texts):
        raise ZipFitError(f"{path} holds {plural(len(scores), 'score')} but {source.origin} has "
                          f"{plural(len(source.texts), 'row')}: "
                          "give the source that was scored, with the same data options (--source-filter, ...).")
    if run is not None and run.source_fingerprint != source.fingerprint:
        raise ZipFitError(f"{source.origin} is not the source {path} was scored on (its texts differ): "
                          "give the same source and data options as for scoring, or score it again.")
    return scores, run


def run_from_manifest(path: str) -> ScoreRun:
    """The scoring run an export manifest records (older manifests, without recipes, too)."""
    try:
        run = ScoreRun.from_dict(read_manifest(path)["scoring"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ZipFitError(f"{path} is not an export manifest with a `scoring` section ({error}).") from None
    if run is None:
        raise ZipFitError(f"{path} is not an export manifest with a complete `scoring` section.")
    return run


def recorded_target(run: ScoreRun, options: LoadOptions) -> LoadedTexts:
    """The targets a run was scored against, loaded as recorded: by its recipe (filters, sample, text cap, ...)
    when the file has one, else by the target argument and text field (older files); `options` are the read
    limits (`load_options`)."""
    if run.target_recipe:
        return load_recipe(DataRecipe.from_dict(run.target_recipe), options)
    return load_source(source_from_argument(run.target), TextSpec.from_description(run.target_field), options)


def scores_from_manifest(path: str, source: LoadedTexts, cache_dir: Path | None, options: LoadOptions,
                         progress: ProgressCallback | None = None) -> tuple[np.ndarray, ScoreRun]:
    """Recompute (or fetch from the cache) the scores an export manifest describes; `progress(done, total)`
    follows the re-scoring."""
    run = run_from_manifest(path)
    return scores_of_run(run, source, cache_dir, options, progress, where=path), run


def scores_of_run(run: ScoreRun, source: LoadedTexts, cache_dir: Path | None, options: LoadOptions,
                  progress: ProgressCallback | None = None, where: str = "the manifest") -> np.ndarray:
    """The scores a run record describes for `source`: from the score or method cache when they are there, else
    computed as `zipfit score` computes them (`score_sources`, which writes them to the cache); the targets are
    loaded by the run's recipe and checked against its fingerprint."""
    if run.source_fingerprint != source.fingerprint:
        raise ZipFitError(f"{source.origin} is not the source {where} describes (its texts differ).")
    target = recorded_target(run, options)
    if target.fingerprint != run.target_fingerprint:
        raise ZipFitError(f"The target {run.target} has changed since {where} was written: its texts differ.")
    method, settings = run.method_settings()
    return score_sources(method, source.texts, target.texts, cache_dir=cache_dir, progress=progress, **settings)


class Bar(Protocol):
    """What `load_scored_methods` needs of a progress bar (progress.ProgressBar): called with (done, total), closed."""

    def __call__(self, done: int, total: int) -> None: ...

    def close(self) -> None: ...


def load_scored_methods(args: argparse.Namespace, source: LoadedTexts, cache_dir: Path | None,
                        progress_bar: Callable[[str], Bar] | None = None,
                        ) -> tuple[dict[str, np.ndarray], dict[str, ScoreRun | None]]:
    """Every --scores file and --from-manifest manifest's scores; `progress_bar(name)` makes the bar that follows
    re-scoring the manifest `name` (None: no bar)."""
    scores: dict[str, np.ndarray] = {}
    runs: dict[str, ScoreRun | None] = {}
    inputs = [("scores", path) for path in args.scores or []]
    inputs += [("manifest", path) for path in args.from_manifest or []]
    for kind, path in inputs:
        if kind == "scores":
            values, run = scores_from_file(path, source)
        else:
            bar = progress_bar(Path(path).name) if progress_bar is not None else None
            try:
                values, run = scores_from_manifest(path, source, cache_dir, load_options(args), progress=bar)
            finally:
                if bar is not None:
                    bar.close()
        label = method_label(run, Path(path).stem)
        if label in scores:
            label = f"{label} [{Path(path).name}]"
        scores[label], runs[label] = values, run
    return scores, runs


def add_scored_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="the source that was scored: " + SOURCE_HELP)
    parser.add_argument("--source-field", help="text field (default: the one used for scoring)")
    parser.add_argument("--scores", nargs="+", default=[], metavar="FILE",
                        help="scores files written by `zipfit score` (one per method)")
    parser.add_argument("--from-manifest", nargs="+", default=[], metavar="FILE",
                        help="export manifests (FILE.manifest.json): each method is re-scored as recorded "
                             "there (or read from the cache)")
    parser.add_argument("--cache-dir", help="score cache for --from-manifest (default: $ZIPFIT_CACHE_DIR "
                                            "or the user cache folder)")


def load_source_for(args: argparse.Namespace) -> LoadedTexts:
    """SOURCE with its data options; what is not given defaults to what the first scores file (or manifest)
    that records SOURCE's recipe says, else to the text field the first run records."""
    runs = [read_scores(path)[1] for path in args.scores or []]
    runs += [run_from_manifest(path) for path in args.from_manifest or []]
    runs = [run for run in runs if run is not None]
    recorded = next(filter(None, (recorded_recipe(args.source, run) for run in runs)), None)
    return load_data_argument(args, "source", default_text=runs[0].source_field if runs else None,
                              recorded=recorded)


