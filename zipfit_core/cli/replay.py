"""`zipfit select --from-manifest MANIFEST --out NEW`: an export's cut made again from what its manifest records
(the scores and their fingerprint, the pool's recipe, the evaluation sets, the cut plan): the same rows.

The scores are a file or score folder (`zipfit select`), or, for an app export, named by their run record: found in
the score or method cache (--cache-dir), else computed as `zipfit score` computes them; either way their sha256 must
be the recorded one."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from zipfit_core.analysis.contamination import DEFAULT_MAX_MATCHES, DEFAULT_NGRAM
from zipfit_core.analysis.export import check_export_destination, read_manifest
from zipfit_core.analysis.near_duplicates import DEFAULT_THRESHOLD
from zipfit_core.analysis.selection import RULE_KINDS
from zipfit_core.analysis.shaping import CutPlan
from zipfit_core.cli.cut_export import CutInputs, check_scored_source, export_plan, scores_fingerprint
from zipfit_core.cli.data_options import cache_dir, load_options, open_recipe
from zipfit_core.cli.progress import ProgressBar
from zipfit_core.cli.scored_inputs import scores_of_run
from zipfit_core.data.sources import DataRecipe
from zipfit_core.errors import ZipFitError
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.scores_file import read_scores

CUT_OPTIONS = ("source", "scores", *RULE_KINDS, "include_rows", "exclude_rows", "exclude_matching", "cap",
               "decontaminate", "dedup")
# Options of the cut the manifest records too, with their defaults: given with --from-manifest they would be ignored.
RECORDED_OPTIONS = {"balance": "none", "no_score": False, "tokenizer": None, "ngram": DEFAULT_NGRAM,
                    "max_matches": DEFAULT_MAX_MATCHES, "dedup_threshold": DEFAULT_THRESHOLD, "ref_field": None}


def replay_manifest(args: argparse.Namespace) -> int:
    path = args.from_manifest
    given = [name for name in CUT_OPTIONS if getattr(args, name, None) not in (None, False, [])]
    given += [name for name, default in RECORDED_OPTIONS.items() if getattr(args, name, default) != default]
    if given:
        shown = ", ".join("SOURCE" if name == "source" else "--" + name.replace("_", "-") for name in given)
        raise ZipFitError(f"--from-manifest makes the recorded cut again: leave out {shown} (or leave out "
                          "--from-manifest to make a new cut).")
    manifest = read_manifest(path)
    if not isinstance(manifest.get("plan"), dict) or not isinstance(manifest.get("replay"), dict):
        raise ZipFitError(f"{path} records no cut plan to make again (it was written by an older version): export "
                          "it again.")
    plan, replay = CutPlan.from_dict(manifest["plan"]), manifest["replay"]
    try:
        named, fingerprint = replay["scores"], replay["scores"]["sha256"]
        source_part, references = replay["source"], replay["evaluation_sets"]
        tokenizer, include_score = replay["tokenizer"], bool(replay["include_score"])
        scores_path = named.get("path")
        recorded_run = ScoreRun.from_dict(named["run"]) if scores_path is None else None
        if scores_path is None and recorded_run is None:
            raise KeyError("the scores' run record")
    except (KeyError, TypeError, AttributeError) as error:
        raise ZipFitError(f"{path} has a malformed `replay` section (missing {error}): export it again.") from None
    check_export_destination(args.out, inputs=(path, *filter(None, [scores_path])))
    for part in (source_part, *references):
        check_not_uploaded(part.get("recipe"))
    if named.get("folder"):
        from zipfit_core.engines.sharded import load_scored_folder

        text = DataRecipe.from_dict(source_part["recipe"]).text if source_part.get("recipe") else None
        scores, run, source = load_scored_folder(scores_path, source_part["argument"], text and text.field,
                                                 text and text.template, cache_dir=cache_dir(args))
    elif scores_path is not None:
        if not Path(scores_path).exists():
            raise ZipFitError(f"The scores file {scores_path} that {path} records is gone: put it back there, or "
                              "make the cut again from a new scores file.")
        scores, run = read_scores(scores_path)
        source = open_recipe(args, recorded_source(source_part, path), "source")
    else:  # the app's scores: in the score or method cache, or computed again as `zipfit score` would
        check_not_uploaded(recorded_run.target_recipe)
        source = open_recipe(args, recorded_source(source_part, path), "source")
        bar = ProgressBar(enabled=True, description="scoring again")
        try:
            scores = scores_of_run(recorded_run, source, cache_dir(args), load_options(args), progress=bar,
                                   where=str(path))
        finally:
            bar.close()
        run = recorded_run
    where = scores_path or f"the scores {path} names"
    if scores_fingerprint(scores) != fingerprint:
        raise ZipFitError(f"The scores in {where} have changed since {path} was written: make the cut again from "
                          "the new scores, or put the old scores back.")
    check_scored_source(scores, run, source, where, source_part["argument"])
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


def recorded_source(source_part: dict, path: str) -> DataRecipe:
    if not source_part.get("recipe"):
        raise ZipFitError(f"{path} records no recipe for its source: export it again.")
    return DataRecipe.from_dict(source_part["recipe"])


def check_not_uploaded(recipe: dict | None) -> None:
    """An upload to the app is not kept on disk, so nothing can load it again: say what to do instead."""
    if recipe and recipe.get("source", {}).get("kind") == "upload":
        raise ZipFitError(f"{recipe['source'].get('location')} was uploaded to the app, which keeps no copy of it: save the file, score it with "
                          "`zipfit score` and cut it with `zipfit select` (the app's Export page shows the commands).")
