"""`zipfit compare SOURCE --scores A B ... --top-percent P`: several methods' scores on the same rows."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
import pandas as pd

from zipfit_core._version import __version__
from zipfit_core.analysis.compare import compare_methods
from zipfit_core.analysis.selection import SelectionRule, TokenCounter
from zipfit_core.analysis.selection_measures import COMPRESSION_MEANING, KL_MEANING, describe_sampling
from zipfit_core.cli.data_options import add_data_arguments, cache_dir, load_options
from zipfit_core.cli.progress import ProgressBar
from zipfit_core.cli.scored_inputs import add_scored_inputs, load_scored_methods, load_source_for
from zipfit_core.cli.words import cli_text
from zipfit_core.data.loading import load_recipe
from zipfit_core.data.sources import DataRecipe, plural
from zipfit_core.errors import ZipFitError, reword
from zipfit_core.store.files import write_json_atomic
from zipfit_core.store.outputs import check_output_path, is_json_of_kind

COMPARE_RESULT_KIND = "zipfit-compare"  # what --json files say they are


def add_compare_command(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser("compare", help="compare methods' scores on the same SOURCE at one budget")
    add_scored_inputs(compare)
    budget = compare.add_mutually_exclusive_group(required=True)
    budget.add_argument("--top-k", type=int, help="compare the K best rows of each method")
    budget.add_argument("--top-percent", type=float, help="compare the best P percent of rows")
    budget.add_argument("--token-budget", type=int, help="compare the best rows until N tokens")
    compare.add_argument("--tokenizer", help="a `tokenizers` JSON file for exact token counts")
    compare.add_argument("--column", help="a metadata column of SOURCE to show the kept rows' composition by")
    compare.add_argument("--show", type=int, default=3, help="rows only one method keeps: show this many each")
    compare.add_argument("--json", nargs="?", const="-", metavar="FILE",
                         help="everything as JSON: on stdout (the tables then go to stderr), or into FILE")
    compare.add_argument("-q", "--quiet", action="store_true", help="no progress bar while --from-manifest re-scores")
    add_data_arguments(compare, ["source"])


def budget_rule(args: argparse.Namespace) -> SelectionRule:
    for kind in ("top_k", "top_percent", "token_budget"):
        value = getattr(args, kind)
        if value is not None:
            return SelectionRule(kind, value)
    raise AssertionError("argparse requires one budget")


def preview(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def run_compare(args: argparse.Namespace) -> int:
    if args.json not in (None, "-"):
        try:
            check_output_path(args.json, what="comparison", folder=False,
                              is_ours=lambda path: is_json_of_kind(path, COMPARE_RESULT_KIND),
                              inputs=(args.source, *args.scores, *args.from_manifest))
        except ZipFitError as error:
            raise ZipFitError(reword(str(error), {"`out`": "--json"})) from None
    # With the JSON on stdout, the tables go to stderr, so that stdout is the JSON alone.
    with contextlib.redirect_stdout(sys.stderr) if args.json == "-" else contextlib.nullcontext():
        source, rule, runs, result = _compare_and_print(args)
    if args.json:
        content = {
            "kind": COMPARE_RESULT_KIND, "package_version": __version__,
            "source": str(args.source), "source_fingerprint": source.fingerprint,
            "source_recipe": source.recipe.to_dict() if source.recipe else None,
            "rule": {"kind": rule.kind, "value": rule.value, "description": rule.describe()},
            "methods": {name: asdict(run) if run else None for name, run in runs.items()},
            "kept_rows": {name: selection.rows.tolist() for name, selection in result.selections.items()},
            "overlaps": result.overlaps.to_dict(orient="records"),
            "correlations": result.correlations.to_dict(orient="records"),
            "length_bias": result.length_bias.to_dict(orient="records"),
            "composition": (result.composition.reset_index().to_dict(orient="records")
                            if result.composition is not None else None),
            "exclusive_rows": {name: rows.tolist() for name, rows in result.exclusive.items()},
            "selection_measures": {"meanings": {"kl_reduction": KL_MEANING, "compression_ratio": COMPRESSION_MEANING},
                                   "sampling": describe_sampling(result.measures),
                                   "methods": result.measures.table.to_dict(orient="records")},
        }
        if args.json == "-":
            print(json.dumps(content, indent=2))
        else:
            write_json_atomic(args.json, content)
            print(f"\n-> {args.json}", file=sys.stderr)
    return 0


def recorded_targets(runs: dict, args: argparse.Namespace) -> Sequence[str] | None:
    """The scoring targets the first scores file records, loaded again (for the KL reduction); None when none is
    recorded or they cannot be loaded (said on stderr)."""
    run = next((run for run in runs.values() if run is not None and run.target_recipe), None)
    if run is None:
        print("note: no scores file records its targets, so the KL reduction is not shown.", file=sys.stderr)
        return None
    try:
        return load_recipe(DataRecipe.from_dict(run.target_recipe), load_options(args)).texts
    except ZipFitError as error:
        print(f"note: the scoring targets ({run.target}) could not be loaded again, so the KL reduction is not "
              f"shown: {cli_text(error)}", file=sys.stderr)
        return None


def _compare_and_print(args: argparse.Namespace):
    """Load, compare, and print the tables; returns what the JSON needs."""
    source = load_source_for(args)
    if len(args.scores) + len(args.from_manifest) < 2:
        raise ZipFitError("Give at least two methods to compare (--scores and/or --from-manifest).")
    if args.column and args.column not in source.table.columns:
        raise ZipFitError(f"Column {args.column!r} not found in {args.source}. Columns: "
                          f"{', '.join(map(str, source.table.columns))}.")
    scores, runs = load_scored_methods(args, source, cache_dir(args),
                                       progress_bar=lambda name: ProgressBar(not args.quiet, f"re-scoring {name}"))
    rule = budget_rule(args)
    token_counts = TokenCounter(args.tokenizer).count_loaded(source) if rule.kind == "token_budget" else None
    lengths = np.array([len(text) for text in source.texts])
    column_values = source.table[args.column].tolist() if args.column else None
    result = compare_methods(scores, rule, token_counts=token_counts, lengths=lengths, column_values=column_values,
                             texts=source.texts, targets=recorded_targets(runs, args))
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.precision", 4):
        print(f"budget: {rule.describe()} of {plural(len(source.texts), 'row')}")
        print("\noverlap of kept rows\n" + result.overlaps.to_string(index=False))
        print("\nrank correlation over all rows\n" + result.correlations.to_string(index=False))
        print("\nlength bias (score vs length in characters)\n" + result.length_bias.to_string(index=False))
        if result.composition is not None:
            print(f"\ncomposition by {args.column}\n" + result.composition.to_string())
        measures = result.measures.table[["method", "kl_reduction", "compression_ratio", "rows_measured"]]
        print(f"\nthe selection as a whole ({describe_sampling(result.measures)})\n  {KL_MEANING}\n  "
              f"{COMPRESSION_MEANING}\n" + measures.to_string(index=False))
    for name, rows in result.exclusive.items():
        print(f"\nkept only by {name}: {plural(len(rows), 'row')}")
        for row in rows[: args.show]:
            print(f"  row {row}: {preview(source.texts[row])}")
    return source, rule, runs, result
