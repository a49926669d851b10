"""`zipfit select --from-manifest MANIFEST --out NEW`: an export's cut made again from what its manifest records
(the scores and their fingerprint, the pool's recipe, the evaluation sets, the cut plan): the same rows."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from zipfit_core.analysis.export import check_export_destination, read_manifest
from zipfit_core.analysis.selection import RULE_KINDS
from zipfit_core.analysis.shaping import CutPlan
from zipfit_core.cli.cut_export import CutInputs, check_scored_source, export_plan, scores_fingerprint
from zipfit_core.cli.data_options import cache_dir, open_recipe
from zipfit_core.data.sources import DataRecipe
from zipfit_core.errors import ZipFitError
from zipfit_core.store.scores_file import read_scores

CUT_OPTIONS = ("source", "scores", *RULE_KINDS, "include_rows", "exclude_rows", "exclude_matching", "cap",
               "decontaminate", "dedup")


def replay_manifest(args: argparse.Namespace) -> int:
    path = args.from_manifest
    given = [name for name in CUT_OPTIONS if getattr(args, name, None) not in (None, False, [])]
    if given:
        shown = ", ".join("SOURCE" if name == "source" else "--" + name.replace("_", "-") for name in given)
        raise ZipFitError(f"--from-manifest makes the recorded cut again: leave out {shown} (or leave out "
                          "--from-manifest to make a new cut).")
    manifest = read_manifest(path)
    if not isinstance(manifest.get("plan"), dict) or not isinstance(manifest.get("replay"), dict):
        raise ZipFitError(f"{path} records no cut plan to make again (it was written by an older version, or by "
                          "the app): export it again with `zipfit select`.")
    plan, replay = CutPlan.from_dict(manifest["plan"]), manifest["replay"]
    try:
        scores_path, fingerprint = replay["scores"]["path"], replay["scores"]["sha256"]
        source_part, references = replay["source"], replay["evaluation_sets"]
        tokenizer, include_score = replay["tokenizer"], bool(replay["include_score"])
    except (KeyError, TypeError) as error:
        raise ZipFitError(f"{path} has a malformed `replay` section (missing {error}): export it again.") from None
    check_export_destination(args.out, inputs=(path, scores_path))
    if replay["scores"].get("folder"):
        from zipfit_core.engines.sharded import load_scored_folder

        recipe = DataRecipe.from_dict(source_part["recipe"])
        scores, run, source = load_scored_folder(scores_path, source_part["argument"], recipe.text.field,
                                                 recipe.text.template, cache_dir=cache_dir(args))
    else:
        if not Path(scores_path).exists():
            raise ZipFitError(f"The scores file {scores_path} that {path} records is gone: put it back there, or "
                              "make the cut again from a new scores file.")
        scores, run = read_scores(scores_path)
        if not source_part.get("recipe"):
            raise ZipFitError(f"{path} records no recipe for its source: export it again with `zipfit select`.")
        source = open_recipe(args, DataRecipe.from_dict(source_part["recipe"]), "source")
    if scores_fingerprint(scores) != fingerprint:
        raise ZipFitError(f"The scores in {scores_path} have changed since {path} was written: make the cut again "
                          "from the new scores, or put the old scores file back.")
    check_scored_source(scores, run, source, scores_path, source_part["argument"])
    if run is not None and replay.get("targets_recipe"):  # load the targets from where the export found them
        run = dataclasses.replace(run, target_recipe=replay["targets_recipe"])
    if source.fingerprint != source_part.get("fingerprint", source.fingerprint):
        raise ZipFitError(f"{source_part['argument']} has changed since {path} was written (its texts differ).")
    evaluation_sets = []
    for reference in references:
        loaded = open_recipe(args, DataRecipe.from_dict(reference["recipe"]), "ref")
        if loaded.fingerprint != reference.get("fingerprint", loaded.fingerprint):
            raise ZipFitError(f"The evaluation set {reference['argument']} has changed since {path} was written.")
        evaluation_sets.append((reference["argument"], loaded))
    inputs = CutInputs(scores, run, source, scores_path, source_part["argument"], evaluation_sets, tokenizer,
                       include_score)
    return export_plan(args, plan, inputs)
