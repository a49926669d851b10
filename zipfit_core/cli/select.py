"""`zipfit select SOURCE --scores FILE_OR_FOLDER --top-k K --out OUT`: cut the scores and export the rows; with
`--json`, a summary of what was written goes to stdout (keys in README, "Command line")."""

from __future__ import annotations

import argparse

import numpy as np

from zipfit_core.analysis.export import check_export_destination
from zipfit_core.analysis.selection import RULE_KINDS, SelectionRule
from zipfit_core.analysis.shaping import CutPlan
from zipfit_core.cli.contamination import curation_settings, evaluation_set_arguments
from zipfit_core.cli.cut_export import CutInputs, check_scored_source, export_plan
from zipfit_core.cli.data_options import load_data_argument, recorded_recipe
from zipfit_core.cli.shaping import shaping_from_args
from zipfit_core.cli.shards import scored_folder_for_select
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.engines.folder import is_score_folder
from zipfit_core.errors import ZipFitError
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.scores_file import read_scores


def selection_rule(args: argparse.Namespace) -> SelectionRule:
    for kind in RULE_KINDS:
        value = getattr(args, kind)
        if value is not None:
            return SelectionRule(kind, value)
    raise AssertionError("argparse requires one rule")


def run_select(args: argparse.Namespace) -> int:
    if args.from_manifest:
        from zipfit_core.cli.replay import replay_manifest

        return replay_manifest(args)
    given = [name for name, value in (("SOURCE", args.source), ("--scores", args.scores)) if not value]
    if given or all(getattr(args, kind) is None for kind in RULE_KINDS):
        raise ZipFitError("zipfit select needs SOURCE, --scores FILE and a rule (--threshold, --top-k, --top-percent "
                          "or --token-budget), or --from-manifest MANIFEST to make an export's cut again.")
    check_export_destination(args.out, inputs=(args.source, args.scores))  # before any work
    if is_score_folder(args.scores):  # written by sharded scoring (zipfit_core/engines)
        return export_best(args, *scored_folder_for_select(args))
    scores, run = read_scores(args.scores)
    source = load_data_argument(args, "source", default_text=run.source_field if run else None,
                                recorded=recorded_recipe(args.source, run))
    check_scored_source(scores, run, source, args.scores, args.source)
    return export_best(args, scores, run, source)


def export_best(args: argparse.Namespace, scores: np.ndarray, run: ScoreRun | None, source: LoadedTexts) -> int:
    """The cut the options describe, exported (see `export_plan`)."""
    plan = CutPlan.of(selection_rule(args), args.balance == "targets", shaping_from_args(args),
                      curation_settings(args))
    evaluation_sets = [load_data_argument(argparse.Namespace(**{**vars(args), "ref": ref}), "ref")
                       for ref in evaluation_set_arguments(args)]
    inputs = CutInputs(scores, run, source, str(args.scores), args.source,
                       [(ref, loaded) for ref, loaded in zip(evaluation_set_arguments(args), evaluation_sets)],
                       args.tokenizer, not args.no_score)
    return export_plan(args, plan, inputs)


