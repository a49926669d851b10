"""Keeping the targets out on the command line: `zipfit check-contamination`, and the cut of `zipfit select`
with `--decontaminate REF ...` and `--dedup` (`curated_cut`).

`select` always checks its cut against the scoring targets the scores file records: without
`--decontaminate` it warns with the count; with it, the flagged rows (targets and every REF) are removed
and the cut is refilled from the next best rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zipfit_core.analysis.contamination import (
    DEFAULT_MAX_MATCHES,
    DEFAULT_NGRAM,
    ContaminationFlags,
    ReferenceTexts,
    find_contamination,
)
from zipfit_core.analysis.curation import CuratedSelection, CurationSettings, curate
from zipfit_core.analysis.near_duplicates import DEFAULT_THRESHOLD, MinHashes
from zipfit_core.analysis.selection import Selection, SelectionRule, select
from zipfit_core.analysis.shaping import ShapedRows
from zipfit_core.bounds import MATCH_COUNTS
from zipfit_core.cli.data_options import SOURCE_HELP, add_data_arguments, load_data_argument, load_options
from zipfit_core.cli.words import cli_text
from zipfit_core.data.loading import LoadedTexts, load_recipe
from zipfit_core.data.sources import DataRecipe, plural
from zipfit_core.errors import ZipFitError
from zipfit_core.store.files import atomic_path
from zipfit_core.store.outputs import check_output_path
from zipfit_core.store.run import ScoreRun

FLAGS_METADATA_KEY = b"zipfit-contamination"
THE_TARGETS = "targets"  # `--decontaminate` alone: only the scoring targets


def add_reference_options(parser: argparse.ArgumentParser) -> None:
    """--ngram and --ref-field (the other --ref-... options come with `add_data_arguments(..., ("ref",))`)."""
    parser.add_argument("--ref-field", help="text field of the reference rows (default: `text` or the longest)")
    parser.add_argument("--ngram", type=int, default=DEFAULT_NGRAM, metavar="N",
                        help=f"flag rows sharing a run of N words with a reference row (default {DEFAULT_NGRAM})")
    parser.add_argument("--max-matches", default=DEFAULT_MAX_MATCHES, metavar="M",
                        help="ignore an n-gram found in more than M pool rows: boilerplate such as a licence header "
                             f"is no sign of copying (default {DEFAULT_MAX_MATCHES}, as NeMo Curator; exact copies "
                             "always count)")


def max_matches(args: argparse.Namespace) -> int:
    return MATCH_COUNTS.check("--max-matches", args.max_matches)


def spared_note(flags: ContaminationFlags, rows: np.ndarray | None = None) -> str:
    """How many rows (among `rows`) were kept as sharing only boilerplate, with one example; "" when none."""
    spared = flags.spared
    among = np.flatnonzero(spared.among(rows, flags.n_pool_rows)) if rows is not None else np.arange(len(spared.rows))
    if len(among) == 0:
        return ""
    first = int(among[0])
    return (f"{plural(len(among), 'row')} kept as sharing only boilerplate with a reference (n-grams in more than "
            f"--max-matches {flags.max_matches} pool rows), e.g. row {int(spared.rows[first])} shares "
            f"\"{spared.matches[first]}\" with row {int(spared.reference_rows[first])} of {spared.references[first]}"
            f" ({int(spared.matched_rows[first]):,} pool rows hold it)")


def add_select_curation_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("keeping the targets out")
    group.add_argument("--decontaminate", action="append", default=[], metavar="REF", nargs="?", const=THE_TARGETS,
                       help="remove rows that copy the scoring targets (always) or REF (any SOURCE kind; repeat for "
                            "several sets): equal after normalising, or sharing --ngram words; the cut is refilled "
                            "from the next best rows")
    group.add_argument("--dedup", action="store_true",
                       help="keep only the best row of each near-duplicate group (MinHash, word 5-gram shingles)")
    group.add_argument("--dedup-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="J",
                       help=f"Jaccard similarity that makes two rows near-duplicates (default {DEFAULT_THRESHOLD})")
    add_reference_options(parser)


def add_check_contamination_command(commands) -> None:
    check = commands.add_parser(
        "check-contamination", help="flag SOURCE rows that copy rows of one or more reference sets",
        description="Flag every SOURCE row whose normalised text (NFKC, case-folded, whitespace collapsed) equals a "
                    "reference row's, or that shares a run of --ngram words with one (ignoring n-grams found in "
                    "more than --max-matches SOURCE rows: boilerplate); write the flags to Parquet.",
        epilog="example: zipfit check-contamination pool.jsonl --ref demo:proofnet-valid --ref test.jsonl "
               "--out flags.parquet. To check the targets themselves against evaluation sets (targets that copy "
               "a test item pull the selection towards it), give the targets as SOURCE: zipfit check-contamination "
               "demo:proofnet-valid --ref demo:proofnet-test --out target-flags.parquet")
    check.add_argument("source", help=f"the pool: {SOURCE_HELP}")
    check.add_argument("--ref", action="append", required=True, metavar="REF",
                       help="a reference set (targets, an evaluation set), any SOURCE kind; repeat for several")
    check.add_argument("--source-field", help="text field of the source rows (default: `text` or the longest)")
    check.add_argument("--out", required=True, help="Parquet file of flags: row, kind, reference, reference_row, "
                                                    "match")
    add_reference_options(check)
    add_data_arguments(check, ("source", "ref"))


def load_references(args: argparse.Namespace, locations: list[str]) -> list[ReferenceTexts]:
    """Each REF loaded with the --ref-... options (warnings to stderr), named as given."""
    references = []
    for location in locations:
        loaded = load_data_argument(argparse.Namespace(**{**vars(args), "ref": location}), "ref")
        references.append(ReferenceTexts(location, loaded.texts))
    return references


def recorded_targets(run: ScoreRun | None, args: argparse.Namespace) -> ReferenceTexts | None:
    """The scoring targets a scores file records, loaded again; None (with a warning) when they cannot be."""
    if run is None or not run.target_recipe:
        print("warning: the scores file records no targets, so the cut was not checked for copies of them.",
              file=sys.stderr)
        return None
    try:
        loaded = load_recipe(DataRecipe.from_dict(run.target_recipe), load_options(args))
    except ZipFitError as error:
        print(f"warning: the scoring targets ({run.target}) could not be loaded again, so the cut was not checked "
              f"for copies of them: {cli_text(error)}", file=sys.stderr)
        return None
    if loaded.fingerprint != run.target_fingerprint:
        print(f"warning: the scoring targets ({run.target}) have changed since scoring; checking against them as "
              "they are now.", file=sys.stderr)
    return ReferenceTexts(f"targets ({run.target})", loaded.texts)


def curation_settings(args: argparse.Namespace) -> CurationSettings:
    return CurationSettings(decontaminate=bool(args.decontaminate), ngram=args.ngram, max_matches=max_matches(args),
                            dedup=args.dedup, dedup_threshold=args.dedup_threshold)


def evaluation_set_arguments(args: argparse.Namespace) -> list[str]:
    """The REF sets of `--decontaminate` (not the scoring targets, which the scores file records)."""
    return [ref for ref in args.decontaminate if ref != THE_TARGETS]


def curated_cut(args: argparse.Namespace, settings: CurationSettings, evaluation_sets: list[ReferenceTexts],
                scores: np.ndarray, rule: SelectionRule, token_counts: np.ndarray, run: ScoreRun | None,
                source: LoadedTexts, cut: Callable[..., Selection] = select,
                shaped: ShapedRows | None = None) -> CuratedSelection:
    """The cut with contamination and near-duplicates handled as `settings` say (see the module docstring), and
    shaped by hand (`shaped`); `args` gives the read limits for loading the scoring targets again."""
    targets = recorded_targets(run, args)
    references = [reference for reference in [targets] if reference is not None] + evaluation_sets
    flags = (find_contamination(source.texts, references, settings.ngram, max_matches=settings.max_matches)
             if references else None)
    if targets is not None and evaluation_sets:
        warn_targets_copy_evaluation_sets(targets, evaluation_sets, settings)
    minhashes = MinHashes(source.texts, settings.shingle) if settings.dedup else None
    curated = curate(scores, rule, token_counts, settings, flags=flags, minhashes=minhashes, cut=cut, shaped=shaped)
    if flags is not None and not settings.decontaminate:
        plain = curated.selection.rows
        counts = flags.counts(plain)
        if sum(counts.values()):
            copying = sum(counts.values())
            print(f"warning: {plural(copying, 'row')} of the cut {'copies' if copying == 1 else 'copy'} the scoring "
                  f"targets ({counts['exact']:,} exact after normalising, {counts['ngram']:,} sharing "
                  f"{plural(settings.ngram, 'word')}): add --decontaminate to remove them.", file=sys.stderr)
    if flags is not None and settings.decontaminate:
        note = spared_note(flags, curated.selection.rows)
        if note:
            print(f"note: {note}.", file=sys.stderr)
    return curated


def warn_targets_copy_evaluation_sets(targets: ReferenceTexts, evaluation_sets: list[ReferenceTexts],
                                      settings: CurationSettings) -> None:
    """Targets that copy an evaluation set make the evaluation leak through the selection itself: say how many."""
    flags = find_contamination(targets.texts, evaluation_sets, settings.ngram, max_matches=settings.max_matches)
    if len(flags.rows):
        counts = flags.counts()
        print(f"warning: {plural(len(flags.rows), 'row')} of the scoring targets "
              f"{'copies' if len(flags.rows) == 1 else 'copy'} an evaluation set ({counts['exact']:,} exact after "
              f"normalising, {counts['ngram']:,} sharing {plural(settings.ngram, 'word')}; e.g. target row "
              f"{int(flags.rows[0])} and row {int(flags.reference_rows[0])} of {flags.references[0]}): the selection "
              "is pulled towards the evaluation items; list them with `zipfit check-contamination TARGETS --ref "
              "EVAL`.", file=sys.stderr)


def run_check_contamination(args: argparse.Namespace) -> int:
    check_output_path(args.out, what="flags file", folder=False, is_ours=is_flags_file,
                      inputs=(args.source, *args.ref))
    limit = max_matches(args)
    source = load_data_argument(args, "source")
    flags = find_contamination(source.texts, load_references(args, args.ref), args.ngram, max_matches=limit)
    write_flags(args.out, flags)
    counts = flags.counts()
    print(f"flagged {len(flags.rows):,} of {plural(len(source.texts), 'row')} ({counts['exact']:,} exact after "
          f"normalising, {counts['ngram']:,} sharing {plural(args.ngram, 'word')}) -> {args.out}", file=sys.stderr)
    note = spared_note(flags)
    if note:
        print(f"{note[0].upper()}{note[1:]}.", file=sys.stderr)
    return 0


def write_flags(path: str | Path, flags: ContaminationFlags) -> None:
    table = pa.Table.from_pandas(flags.to_frame(), preserve_index=False)
    table = table.replace_schema_metadata({FLAGS_METADATA_KEY: json.dumps(flags.describe()).encode()})
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)


def is_flags_file(path: str | Path) -> bool:
    try:
        return FLAGS_METADATA_KEY in (pq.read_schema(path).metadata or {})
    except Exception:  # not Parquet: not ours
        return False
