"""Making a cut from its plan and inputs and exporting it with a manifest that records both: what `zipfit select`
and `zipfit select --from-manifest` (cli/replay.py) share."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zipfit_core.analysis.contamination import ReferenceTexts
from zipfit_core.analysis.coverage import coverage_of_rows, select_balanced
from zipfit_core.analysis.curation import CurationSettings
from zipfit_core.analysis.export import export_selection, manifest_path, removed_path
from zipfit_core.analysis.selection import SelectionRule, TokenCounter, select
from zipfit_core.analysis.shaping import CutPlan, shape_rows
from zipfit_core.cli.contamination import curated_cut
from zipfit_core.cli.data_options import cache_dir
from zipfit_core.cli.score import print_summary
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.data.sources import plural
from zipfit_core.engines.folder import is_score_folder
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.target_facts import TargetFacts
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.score_cache import cached_target_facts


def check_scored_source(scores: np.ndarray, run: ScoreRun | None, source: LoadedTexts, scores_path: str,
                        source_argument: str) -> None:
    """Raise unless `source` is the data the scores were computed on (same rows, same texts)."""
    loaded_as = f" (loaded as: {source.recipe.describe()})" if source.recipe else ""
    if len(scores) != len(source.texts):
        raise ZipFitError(
            f"{scores_path} holds {plural(len(scores), 'score')} but {source_argument} has "
            f"{plural(len(source.texts), 'row')}{loaded_as}: "
            "give the same data options as for scoring (--source-filter, --source-sample, ...), "
            "or score this source again."
        )
    if run and run.source_fingerprint != source.fingerprint:
        raise ZipFitError(
            f"{source_argument} has changed since it was scored (its texts no longer match {scores_path}){loaded_as}: "
            "give the same data options as for scoring (--source-template, --source-filter, --source-split, "
            "--source-sample, ...), or score it again."
        )


def target_facts_of(args: argparse.Namespace, run: ScoreRun | None, n_rows: int) -> TargetFacts | None:
    """The scoring's per-target facts from the score cache (None: not ZIP-FIT, not cached, or another pool)."""
    if run is None or run.n_sources != n_rows:
        return None
    return cached_target_facts(cache_dir(args), run)


@dataclass(frozen=True)
class CutInputs:
    """What a cut is made from besides its plan: the scores, the pool, the evaluation sets, the token counter.

    `scores_path` is the scores file or score folder; None for scores that are no file (the app's, from the score
    or method cache): the replay names them by their run record. `data_root` is where the recipes' relative local
    paths start (the app's data folder; None: the working folder)."""

    scores: np.ndarray
    run: ScoreRun | None
    source: LoadedTexts
    scores_path: str | None
    source_argument: str
    evaluation_sets: list[tuple[str, LoadedTexts]]
    tokenizer: str | None
    include_score: bool
    data_root: Path | None = None

    def replay(self) -> dict:
        """What `--from-manifest` needs to load these inputs again (the manifest's `replay`)."""
        root = self.data_root
        if self.scores_path is not None:
            scores = {"path": str(Path(self.scores_path).resolve()), "sha256": scores_fingerprint(self.scores),
                      "folder": is_score_folder(self.scores_path)}
        elif self.run is not None:  # found again in the caches, or computed as `zipfit score` computes them
            scores = {"run": located_run(self.run, root), "sha256": scores_fingerprint(self.scores)}
        else:
            raise ValueError("scores without a file need their run record")  # a caller's bug, not a user's
        return {"scores": scores,
                "source": {"argument": self.source_argument, "recipe": located_recipe(self.source, root),
                           "fingerprint": self.source.fingerprint},
                "evaluation_sets": [{"argument": name, "recipe": located_recipe(loaded, root),
                                     "fingerprint": loaded.fingerprint} for name, loaded in self.evaluation_sets],
                "targets_recipe": absolute_locations(self.run.target_recipe, root)
                if self.run and self.run.target_recipe else None,  # the scoring targets, as found from here
                "tokenizer": str(Path(self.tokenizer).resolve()) if self.tokenizer else None,
                "include_score": self.include_score}


def located_run(run: ScoreRun, root: Path | None = None) -> dict:
    """A run record's dict with its recipes' local paths made absolute (`absolute_locations`)."""
    content = run.to_dict()
    for name in ("source_recipe", "target_recipe"):
        if content.get(name):
            content[name] = absolute_locations(content[name], root)
    return content


def located_recipe(loaded: LoadedTexts, root: Path | None = None) -> dict | None:
    """The recipe of loaded data, a local path made absolute: a replay may run from another folder."""
    if loaded.recipe is None:
        return None
    return absolute_locations(loaded.recipe.to_dict(), root)


def absolute_locations(recipe: dict, root: Path | None = None) -> dict:
    """A recipe's dict with a local path made absolute: from `root` (the app's data folder) or the working folder."""
    content = {**recipe, "source": dict(recipe["source"])}
    if content["source"].get("kind") == "local":
        location = os.path.expanduser(content["source"]["location"])
        content["source"]["location"] = os.path.abspath(os.path.join(root, location) if root is not None
                                                        else location)
    return content


def scores_fingerprint(scores: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(scores, dtype=np.float64).tobytes()).hexdigest()


def export_plan(args: argparse.Namespace, plan: CutPlan, inputs: CutInputs) -> int:
    """Make `plan`'s cut of `inputs` and export it to `args.out` with a manifest that records both."""
    scores, run, source = inputs.scores, inputs.run, inputs.source
    rule = SelectionRule(plan.rule["kind"], plan.rule["value"])
    counter = TokenCounter(inputs.tokenizer)
    token_counts = counter.count_loaded(source)
    if select(scores, rule, token_counts).n_rows == 0 and not plan.shaping.include_rows:  # say why, never write none
        best = float(np.nanmax(scores)) if len(scores) and not np.all(np.isnan(scores)) else float("nan")
        raise ZipFitError(f"The cut ({rule.describe()}) keeps no rows (the best score is {best:.6f}), so nothing was "
                          "written: choose a lower --threshold, or a --top-k, --top-percent or --token-budget "
                          "above 0.")
    facts = target_facts_of(args, run, len(scores))
    if plan.balanced and facts is None:
        raise ZipFitError("A balanced cut needs the per-target facts of the ZIP-FIT scoring, kept in the score "
                          "cache: score this source with `zipfit score` (cache on), or give its --cache-dir.")
    cut = (lambda *options, **hand: select_balanced(*options[:2], facts, *options[2:], **hand)) if plan.balanced \
        else select
    shaped = shape_rows(plan.shaping, source.texts, source.table, len(scores)) if not plan.shaping.empty else None
    settings = CurationSettings(**plan.curation) if plan.curation is not None else CurationSettings()
    evaluation_sets = [ReferenceTexts(name, loaded.texts) for name, loaded in inputs.evaluation_sets]
    curated = curated_cut(args, settings, evaluation_sets, scores, rule, token_counts, run, source, cut=cut,
                          shaped=shaped)
    selection = curated.selection
    coverage = coverage_of_rows(facts, selection.rows, len(scores)) if facts is not None else None
    if selection.n_rows == 0:
        raise ZipFitError(f"Every row the cut ({rule.describe()}) would keep was removed as a copy of a reference "
                          f"or excluded ({plural(len(curated.removed), 'row')}), so nothing was written: loosen the "
                          "cut.")
    manifest = export_selection(source.table, source.texts, source.text_field, scores, selection, counter,
                                run, args.out, include_score=inputs.include_score,
                                inputs=(inputs.source_argument, *filter(None, [inputs.scores_path]),
                                        *(name for name, _ in inputs.evaluation_sets)),
                                curated=curated, coverage=coverage, balanced=plan.balanced, plan=plan,
                                replay=inputs.replay())
    print(f"kept {manifest['rows']['kept']:,} of {plural(manifest['rows']['total'], 'row')} "
          f"({plural(manifest['tokens']['kept'], 'token')}) -> {args.out}; manifest {manifest_path(args.out)}",
          file=sys.stderr)
    if args.json:
        curation = manifest.get("curation")
        print_summary({
            "command": "select", "out": str(args.out), "format": manifest["output"]["format"],
            "manifest": str(manifest_path(args.out)), "rule": manifest["rule"], "rows": manifest["rows"],
            "tokens": manifest["tokens"], "coverage": manifest["coverage"],
            "removed": curation["removed"] if curation else None,
            "removed_rows_file": (str(removed_path(args.out)) if curation and curation.get("removed_rows_file")
                                  else None),
            "run": manifest["scoring"]})
    return 0
