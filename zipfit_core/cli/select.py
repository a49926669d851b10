"""`zipfit select SOURCE --scores FILE_OR_FOLDER --top-k K --out OUT`: cut the scores and export the rows; with
`--json`, a summary of what was written goes to stdout (keys in README, "Command line")."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from zipfit_core.analysis.coverage import coverage_of_rows, select_balanced
from zipfit_core.analysis.export import check_export_destination, export_selection, manifest_path, removed_path
from zipfit_core.analysis.selection import SelectionRule, TokenCounter, select
from zipfit_core.cli.contamination import curated_cut
from zipfit_core.cli.data_options import load_data_argument, recorded_recipe
from zipfit_core.cli.score import print_summary
from zipfit_core.cli.shards import scored_folder_for_select
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.data.sources import plural
from zipfit_core.engines.folder import is_score_folder
from zipfit_core.errors import ZipFitError
from zipfit_core.store.run import ScoreRun
from zipfit_core.scoring.target_facts import TargetFacts
from zipfit_core.store.score_cache import cached_target_facts, default_cache_dir
from zipfit_core.store.scores_file import read_scores


def selection_rule(args: argparse.Namespace) -> SelectionRule:
    for kind in ("threshold", "top_k", "top_percent", "token_budget"):
        value = getattr(args, kind)
        if value is not None:
            return SelectionRule(kind, value)
    raise AssertionError("argparse requires one rule")


def run_select(args: argparse.Namespace) -> int:
    check_export_destination(args.out, inputs=(args.source, args.scores))  # before any work
    if is_score_folder(args.scores):  # written by sharded scoring (zipfit_core/engines)
        return export_best(args, *scored_folder_for_select(args))
    scores, run = read_scores(args.scores)
    source = load_data_argument(args, "source", default_text=run.source_field if run else None,
                                recorded=recorded_recipe(args.source, run))
    loaded_as = f" (loaded as: {source.recipe.describe()})" if source.recipe else ""
    if len(scores) != len(source.texts):
        raise ZipFitError(
            f"{args.scores} holds {plural(len(scores), 'score')} but {args.source} has "
            f"{plural(len(source.texts), 'row')}{loaded_as}: "
            "give the same data options as for scoring (--source-filter, --source-sample, ...), "
            "or score this source again."
        )
    if run and run.source_fingerprint != source.fingerprint:
        raise ZipFitError(
            f"{args.source} has changed since it was scored (its texts no longer match {args.scores}){loaded_as}: "
            "give the same data options as for scoring (--source-template, --source-filter, --source-split, "
            "--source-sample, ...), or score it again."
        )
    return export_best(args, scores, run, source)


def target_facts_of(args: argparse.Namespace, run: ScoreRun | None, n_rows: int) -> TargetFacts | None:
    """The scoring's per-target facts from the score cache (None: not ZIP-FIT, not cached, or another pool)."""
    if run is None or run.n_sources != n_rows:
        return None
    return cached_target_facts(args.cache_dir or default_cache_dir(), run)


def export_best(args: argparse.Namespace, scores: np.ndarray, run: ScoreRun | None, source: LoadedTexts) -> int:
    rule = selection_rule(args)
    counter = TokenCounter(args.tokenizer)
    token_counts = counter.count_loaded(source)
    if select(scores, rule, token_counts).n_rows == 0:  # an empty export is never what was meant: say why
        best = float(np.nanmax(scores)) if len(scores) and not np.all(np.isnan(scores)) else float("nan")
        raise ZipFitError(f"The cut ({rule.describe()}) keeps no rows (the best score is {best:.6f}), so nothing was "
                          "written: choose a lower --threshold, or a --top-k, --top-percent or --token-budget "
                          "above 0.")
    facts = target_facts_of(args, run, len(scores))
    balanced = args.balance == "targets"
    if balanced and facts is None:
        raise ZipFitError("A balanced cut needs the per-target facts of the ZIP-FIT scoring, kept in the score "
                          "cache: score this source with `zipfit score` (cache on), or give its --cache-dir.")
    cut = (lambda *options: select_balanced(*options[:2], facts, *options[2:])) if balanced else select
    curated = curated_cut(args, scores, rule, token_counts, run, source, cut=cut)
    selection = curated.selection
    coverage = coverage_of_rows(facts, selection.rows, len(scores)) if facts is not None else None
    if selection.n_rows == 0:
        raise ZipFitError(f"Every row the cut ({rule.describe()}) would keep was removed as a copy of a reference "
                          f"({plural(len(curated.removed), 'row')}), so nothing was written: loosen the cut.")
    manifest = export_selection(source.table, source.texts, source.text_field, scores, selection, counter,
                                run, args.out, include_score=not args.no_score,
                                inputs=(args.source, args.scores, *args.decontaminate), curated=curated,
                                coverage=coverage, balanced=balanced)
    print(f"kept {manifest['rows']['kept']:,} of {plural(manifest['rows']['total'], 'row')} "
          f"({plural(manifest['tokens']['kept'], 'token')}) -> {args.out}; manifest {manifest_path(args.out)}",
          file=sys.stderr)
    if args.json:
        curation = manifest.get("curation")
        print_summary({
            "command": "select", "out": str(args.out), "format": manifest["output"]["format"],
            "manifest": str(manifest_path(args.out)), "rule": manifest["rule"], "rows": manifest["rows"],
            "tokens": manifest["tokens"], "coverage": manifest["coverage"], "removed": curation["removed"] if curation else None,
            "removed_rows_file": (str(removed_path(args.out)) if curation and curation.get("removed_rows_file")
                                  else None),
            "run": manifest["scoring"]})
    return 0
