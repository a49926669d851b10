"""`zipfit proxy-eval SOURCE --scores ... --eval-target HELD_OUT`: the character n-gram proxy evaluation."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import asdict

import pandas as pd

from zipfit_core.analysis.proxy_eval import (
    BUDGET_UNITS,
    DEFAULT_DISCOUNT,
    DEFAULT_MAX_TRAIN_CHARS,
    DEFAULT_ORDER,
    NO_SELECTION,
    is_proxy_result,
    proxy_evaluation,
)
from zipfit_core.cli.data_options import SOURCE_HELP, add_data_arguments, cache_dir, load_data_argument, load_options
from zipfit_core.cli.scored_inputs import (
    add_scored_inputs,
    load_scored_methods,
    load_source_for,
    recorded_target,
)
from zipfit_core.data.sources import plural
from zipfit_core.errors import ZipFitError
from zipfit_core.store.files import write_json_atomic
from zipfit_core.store.outputs import check_output_path
from zipfit_core.store.run import ScoreRun


def add_proxy_eval_command(commands: argparse._SubParsersAction) -> None:
    proxy = commands.add_parser(
        "proxy-eval", help="proxy evaluation: held-out bits per character of a char n-gram model trained on "
                           "each method's top-k rows (not fine-tuning)")
    add_scored_inputs(proxy)
    proxy.add_argument("--eval-target", dest="eval", required=True,
                       help="held-out target examples, disjoint from the selection targets (e.g. ProofNet test): "
                            + SOURCE_HELP)
    proxy.add_argument("--eval-field", help="text field of the held-out targets")
    proxy.add_argument("--selection-target", dest="selection",
                       help="the targets the scores were computed against (default: as each scores file records)")
    proxy.add_argument("--selection-field", help="text field of --selection-target")
    proxy.add_argument("--k", type=int, nargs="+",
                       help="budgets, in --budget-unit (default: 1, 2, 5, 10, 25, 50%% of SOURCE)")
    proxy.add_argument("--budget-unit", default="rows", choices=BUDGET_UNITS,
                       help="rows: each method's top-k rows (default); chars: its best rows until k characters, "
                            "the last one cut, so every method trains on the same amount of text")
    proxy.add_argument("--order", type=int, default=DEFAULT_ORDER, help=f"n-gram order (default {DEFAULT_ORDER})")
    proxy.add_argument("--discount", type=float, default=DEFAULT_DISCOUNT,
                       help=f"Kneser-Ney discount (default {DEFAULT_DISCOUNT})")
    proxy.add_argument("--max-train-chars", type=int, default=DEFAULT_MAX_TRAIN_CHARS, metavar="N",
                       help=f"refuse budgets that train on more than N characters; the no-selection model then "
                            f"uses a seeded sample of N characters (default {DEFAULT_MAX_TRAIN_CHARS:,}; 0 = no limit)")
    proxy.add_argument("--out", help="write the curves and how to reproduce them to this JSON file")
    proxy.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_data_arguments(proxy, ["source", "eval", "selection"])


def selection_targets_for(args: argparse.Namespace, runs: dict[str, ScoreRun | None]) -> dict[str, list[str]]:
    if args.selection:
        texts = load_data_argument(args, "selection").texts
        return {name: texts for name in runs}
    targets: dict[str, list[str]] = {}
    for name, run in runs.items():
        if run is None:
            raise ZipFitError(f"The scores of {name} carry no record of their targets: give --selection-target.")
        try:
            loaded = recorded_target(run, load_options(args))
        except ZipFitError as error:
            raise ZipFitError(f"Cannot read the selection targets of {name} ({error}): give --selection-target.") \
                from None
        if loaded.fingerprint != run.target_fingerprint:
            raise ZipFitError(f"The selection targets of {name} ({run.target}) have changed since scoring: "
                              "give --selection-target with the targets that were used.")
        targets[name] = loaded.texts
    return targets


def reproduce_command(args: argparse.Namespace) -> str:
    """The `zipfit proxy-eval` command line that recomputes these curves."""
    words = ["zipfit", "proxy-eval", str(args.source), "--eval-target", str(args.eval)]
    if args.selection is not None:
        words += ["--selection-target", str(args.selection)]
    for role in ("source", "eval", "selection"):
        for option in ("field", "template", "filter", "split", "config", "revision", "limit", "sample"):
            value = getattr(args, f"{role}_{option}", None)
            if value is not None:
                words += [f"--{role}-{option}", str(value)]
        if getattr(args, f"{role}_streaming", False):
            words.append(f"--{role}-streaming")
    for flag, value in (("--sample-seed", args.sample_seed), ("--on-bad-line", args.on_bad_line),
                        ("--max-chars", args.max_chars), ("--txt-unit", args.txt_unit)):
        if value is not None:
            words += [flag, str(value)]
    for flag, values in (("--scores", args.scores), ("--from-manifest", args.from_manifest), ("--k", args.k)):
        if values:
            words += [flag, *map(str, values)]
    words += ["--budget-unit", args.budget_unit, "--order", str(args.order), "--discount", str(args.discount),
              "--max-train-chars", str(args.max_train_chars)]
    return shlex.join(words)


def run_proxy_eval(args: argparse.Namespace) -> int:
    if args.out:
        check_output_path(args.out, what="proxy evaluation", folder=False, is_ours=is_proxy_result,
                          inputs=(args.source, args.eval, *(args.scores or ()), *(args.from_manifest or ())))
    source = load_source_for(args)
    if not args.scores and not args.from_manifest:
        raise ZipFitError("Give the methods to evaluate: --scores FILE ... and/or --from-manifest FILE ...")
    scores, runs = load_scored_methods(args, source, cache_dir(args))
    evaluation = load_data_argument(args, "eval")
    selection_targets = selection_targets_for(args, runs)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="model", file=sys.stderr, desc="proxy-eval", dynamic_ncols=True)
        bar.update(done - bar.n)

    try:
        result = proxy_evaluation(source.texts, scores, evaluation.texts, selection_targets, ks=args.k,
                                  order=args.order, discount=args.discount, budget_unit=args.budget_unit,
                                  max_train_chars=args.max_train_chars or None, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    frame = result.to_frame()
    table = frame.pivot(index="k", columns="method", values="bits_per_char")[list(scores)]
    table.index.name = f"k ({args.budget_unit})"
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.precision", 4):
        print(f"held-out bits per character ({plural(result.evaluation_rows, 'row')}, "
              f"{plural(result.evaluation_chars, 'char')} of "
              f"{args.eval}); char {args.order}-gram Kneser-Ney; a proxy, not fine-tuning")
        print(table.to_string())
    baseline = NO_SELECTION if result.no_selection_rows == result.n_sources else (
        f"no selection (a random {result.no_selection_rows:,} of {result.n_sources:,} rows)")
    print(f"{baseline}: {result.no_selection_bits_per_char:.4f}   "
          f"untrained (uniform over {plural(result.alphabet_size, 'char')}): {result.untrained_bits_per_char:.4f}")
    if result.evaluation_rows_in_pool:
        one = result.evaluation_rows_in_pool == 1
        print(f"warning: {plural(result.evaluation_rows_in_pool, 'held-out target')} also "
              f"{'occurs' if one else 'occur'} in the source pool, so a selection can train on "
              f"{'it' if one else 'them'}.", file=sys.stderr)
    if args.out:
        content = result.to_dict()
        content["inputs"] = {
            "source": str(args.source), "source_text": source.text_description,
            "source_recipe": source.recipe.to_dict() if source.recipe else None,
            "evaluation_target": str(args.eval), "evaluation_text": evaluation.text_description,
            "evaluation_recipe": evaluation.recipe.to_dict() if evaluation.recipe else None,
            "methods": {name: asdict(run) if run else None for name, run in runs.items()},
        }
        content["command"] = reproduce_command(args)
        write_json_atomic(args.out, content)
        print(f"-> {args.out}", file=sys.stderr)
    return 0
