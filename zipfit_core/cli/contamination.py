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

from zipfit_core.analysis.contamination import DEFAULT_NGRAM, ContaminationFlags, ReferenceTexts, find_contamination
from zipfit_core.analysis.curation import CuratedSelection, CurationSettings, curate
from zipfit_core.analysis.near_duplicates import DEFAULT_THRESHOLD, MinHashes
from zipfit_core.analysis.selection import Selection, SelectionRule, select
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
                    "reference row's, or that shares a run of --ngram words with one; write the flags to Parquet.",
        epilog="example: zipfit check-contamination pool.jsonl --ref demo:proofnet-valid --ref test.jsonl "
               "--out flags.parquet")
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


def curated_cut(args: argparse.Namespace, scores: np.ndarray, rule: SelectionRule, token_counts: np.ndarray,
                run: ScoreRun | None, source: LoadedTexts, cut: Callable[..., Selection] = select) -> CuratedSelection:
    """The cut with contamination and near-duplicates handled as the options say (see the module docstring)."""
    settings = CurationSettings(decontaminate=bool(args.decontaminate), ngram=args.ngram, dedup=args.dedup,
                                dedup_threshold=args.dedup_threshold)
    references = [reference for reference in [recorded_targets(run, args)] if reference is not None]
    references += load_references(args, [ref for ref in args.decontaminate if ref != THE_TARGETS])
    flags = find_contamination(source.texts, references, settings.ngram) if references else None
    minhashes = MinHashes(source.texts, settings.shingle) if settings.dedup else None
    curated = curate(scores, rule, token_counts, settings, flags=flags, minhashes=minhashes, cut=cut)
    if flags is not None and not settings.decontaminate:
        plain = curated.selection.rows
        counts = flags.counts(plain)
        if sum(counts.values()):
            copying = sum(counts.values())
            print(f"warning: {plural(copying, 'row')} of the cut {'copies' if copying == 1 else 'copy'} the scoring "
                  f"targets ({counts['exact']:,} exact after normalising, {counts['ngram']:,} sharing "
                  f"{plural(settings.ngram, 'word')}): add --decontaminate to remove them.", file=sys.stderr)
    return curated


def run_check_contamination(args: argparse.Namespace) -> int:
    check_output_path(args.out, what="flags file", folder=False, is_ours=is_flags_file,
                      inputs=(args.source, *args.ref))
    source = load_data_argument(args, "source")
    flags = find_contamination(source.texts, load_references(args, args.ref), args.ngram)
    write_flags(args.out, flags)
    counts = flags.counts()
    print(f"flagged {len(flags.rows):,} of {plural(len(source.texts), 'row')} ({counts['exact']:,} exact after "
          f"normalising, {counts['ngram']:,} sharing {plural(args.ngram, 'word')}) -> {args.out}", file=sys.stderr)
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
