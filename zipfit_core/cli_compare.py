"""`zipfit score --method ...` for the baselines, `zipfit compare` and `zipfit proxy-eval`.

Kept apart from cli.py so the compare commands grow here; cli.py registers them and dispatches.
Like cli.py, this only parses, loads and calls the core (`selectors`, `compare`, `proxy_eval`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .compare import compare_methods
from .errors import ZipFitError
from .export import read_manifest
from .cli_data import SOURCE_HELP, add_data_arguments, load_data_argument, recorded_recipe
from .data_sources import DataRecipe
from .loading import LoadedTexts, load_recipe, load_texts
from .proxy_eval import (BUDGET_UNITS, DEFAULT_DISCOUNT, DEFAULT_MAX_TRAIN_CHARS, DEFAULT_ORDER, NO_SELECTION,
                         proxy_evaluation)
from .selection import SelectionRule, TokenCounter
from .selectors import (NON_ZIPFIT_CODEC, SELECTORS, method_score_run, method_spec, run_method, score_sources,
                        short_label)
from .storage import ScoreRun, read_scores, write_json_atomic, write_scores



def methods_help() -> str:
    lines = []
    for info in SELECTORS.values():
        names = ", ".join(setting.name for setting in info.settings) or "none"
        lines.append(f"{info.name} (settings: {names})")
    return "; ".join(lines)


def add_method_arguments(score: argparse.ArgumentParser) -> None:
    """`--method` and `--setting` for `zipfit score`."""
    score.add_argument("--method", default="zipfit", choices=list(SELECTORS),
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


def run_score_method(args: argparse.Namespace, source: LoadedTexts, target: LoadedTexts, level: int,
                     cache_dir: Path | None, progress: Callable[[int, int], None]) -> int:
    """Score with a method other than plain ZIP-FIT and write the same scores file `zipfit score` writes."""
    settings = dict(parse_settings(args.setting))
    info = SELECTORS[args.method]
    compresses = any(setting.name == "codec" for setting in info.settings)
    if compresses:
        settings.update(codec=args.codec, level=level, workers=args.workers)
    elif args.level is not None or args.codec != "gzip":
        raise ZipFitError(f"--codec/--level apply to ZIP-FIT only, not to --method {args.method}.")
    resolved = info.resolve(settings)
    scores = score_sources(args.method, source.texts, target.texts, progress=progress, cache_dir=cache_dir,
                           **resolved)
    run = method_score_run(source, target, source_name=str(args.source), target_name=str(args.target),
                           method=args.method, settings=resolved)
    write_scores(args.out, scores, np.array([len(text) for text in source.texts], dtype=np.int64), run)
    print(f"scored {len(scores)} rows with {method_spec(args.method, resolved)} against {len(target.texts)} "
          f"targets -> {args.out}", file=sys.stderr)
    return 0


# ----- loading scored methods -----------------------------------------------------------------------

def method_label(run: ScoreRun | None, fallback: str) -> str:
    """The method's name plus its non-default settings (the full spec stays in the JSON outputs)."""
    if run is None:
        return fallback
    try:
        label = short_label(*run_method(run))
    except ZipFitError:  # a method (or setting) this version does not know
        return run.method
    if run.codec != NON_ZIPFIT_CODEC and (run.codec, run.level) != ("gzip", 9):
        label += f" [{run.codec}-{run.level}]"
    return label


def scores_from_file(path: str, source: LoadedTexts) -> tuple[np.ndarray, ScoreRun | None]:
    scores, run = read_scores(path)
    if len(scores) != len(source.texts):
        raise ZipFitError(f"{path} holds {len(scores)} scores but {source.origin} has {len(source.texts)} rows: "
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


def recorded_target(run: ScoreRun) -> LoadedTexts:
    """The targets a run was scored against, loaded as recorded: by its recipe (filters, sample, text cap, ...)
    when the file has one, else by the target argument and text field (older files)."""
    if run.target_recipe:
        return load_recipe(DataRecipe.from_dict(run.target_recipe))
    return load_texts(run.target, run.target_field)


def scores_from_manifest(path: str, source: LoadedTexts, cache_dir: Path | None) -> tuple[np.ndarray, ScoreRun]:
    """Recompute (or fetch from the cache) the scores an export manifest describes."""
    run = run_from_manifest(path)
    if run.source_fingerprint != source.fingerprint:
        raise ZipFitError(f"{source.origin} is not the source {path} describes (its texts differ).")
    target = recorded_target(run)
    if target.fingerprint != run.target_fingerprint:
        raise ZipFitError(f"The target {run.target} has changed since {path} was written: its texts differ.")
    method, settings = run_method(run)
    return score_sources(method, source.texts, target.texts, cache_dir=cache_dir, **settings), run


def load_scored_methods(args: argparse.Namespace, source: LoadedTexts,
                        cache_dir: Path | None) -> tuple[dict[str, np.ndarray], dict[str, ScoreRun | None]]:
    scores: dict[str, np.ndarray] = {}
    runs: dict[str, ScoreRun | None] = {}
    inputs = [("scores", path) for path in args.scores or []]
    inputs += [("manifest", path) for path in args.from_manifest or []]
    for kind, path in inputs:
        if kind == "scores":
            values, run = scores_from_file(path, source)
        else:
            values, run = scores_from_manifest(path, source, cache_dir)
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


def cache_dir_for(args: argparse.Namespace) -> Path:
    from .cache import default_cache_dir

    return Path(args.cache_dir) if args.cache_dir else default_cache_dir()


# ----- zipfit compare -------------------------------------------------------------------------------

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
    compare.add_argument("--json", help="also write everything to this JSON file")
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
    source = load_source_for(args)
    if len(args.scores) + len(args.from_manifest) < 2:
        raise ZipFitError("Give at least two methods to compare (--scores and/or --from-manifest).")
    if args.column and args.column not in source.table.columns:
        raise ZipFitError(f"Column {args.column!r} not found in {args.source}. Columns: "
                          f"{', '.join(map(str, source.table.columns))}.")
    scores, runs = load_scored_methods(args, source, cache_dir_for(args))
    rule = budget_rule(args)
    token_counts = TokenCounter(args.tokenizer).count(source.texts) if rule.kind == "token_budget" else None
    lengths = np.array([len(text) for text in source.texts])
    column_values = source.table[args.column].tolist() if args.column else None
    result = compare_methods(scores, rule, token_counts=token_counts, lengths=lengths, column_values=column_values)
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.precision", 4):
        print(f"budget: {rule.describe()} of {len(source.texts)} rows")
        print("\noverlap of kept rows\n" + result.overlaps.to_string(index=False))
        print("\nrank correlation over all rows\n" + result.correlations.to_string(index=False))
        print("\nlength bias (score vs length in characters)\n" + result.length_bias.to_string(index=False))
        if result.composition is not None:
            print(f"\ncomposition by {args.column}\n" + result.composition.to_string())
    for name, rows in result.exclusive.items():
        print(f"\nkept only by {name}: {len(rows)} rows")
        for row in rows[: args.show]:
            print(f"  row {row}: {preview(source.texts[row])}")
    if args.json:
        write_json_atomic(args.json, {
            "kind": "zipfit-compare", "package_version": __version__,
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
        })
        print(f"\n-> {args.json}", file=sys.stderr)
    return 0


# ----- zipfit proxy-eval ----------------------------------------------------------------------------

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
    proxy.add_argument("--quiet", action="store_true", help="no progress bar")
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
            loaded = recorded_target(run)
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
    source = load_source_for(args)
    if not args.scores and not args.from_manifest:
        raise ZipFitError("Give the methods to evaluate: --scores FILE ... and/or --from-manifest FILE ...")
    scores, runs = load_scored_methods(args, source, cache_dir_for(args))
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
        print(f"held-out bits per character ({result.evaluation_rows} rows, {result.evaluation_chars} chars of "
              f"{args.eval}); char {args.order}-gram Kneser-Ney; a proxy, not fine-tuning")
        print(table.to_string())
    baseline = NO_SELECTION if result.no_selection_rows == result.n_sources else (
        f"no selection (a random {result.no_selection_rows:,} of {result.n_sources:,} rows)")
    print(f"{baseline}: {result.no_selection_bits_per_char:.4f}   "
          f"untrained (uniform over {result.alphabet_size} chars): {result.untrained_bits_per_char:.4f}")
    if result.evaluation_rows_in_pool:
        print(f"warning: {result.evaluation_rows_in_pool} held-out targets also occur in the source pool, "
              "so a selection can train on them.", file=sys.stderr)
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
