"""Shaping `zipfit select`'s cut by hand: `--include-rows FILE`, `--exclude-rows FILE` (0-based row numbers as in
the scores file, one per line), `--exclude-matching REGEX` and `--cap COLUMN=VALUE:SHARE` (repeatable); all refill
the cut like `--decontaminate` (see analysis/shaping.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from zipfit_core.analysis.shaping import EVERY_GROUP, POOL_SHARE, GroupCap, Shaping
from zipfit_core.bounds import ROW_NUMBERS
from zipfit_core.errors import ZipFitError


def add_select_shaping_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("shaping the cut by hand (removed rows are replaced by the next best)")
    group.add_argument("--include-rows", metavar="FILE",
                       help="rows always kept (0-based row numbers as in the scores file, one per line); they count "
                            "toward the cut, so it still keeps K rows in all")
    group.add_argument("--exclude-rows", metavar="FILE", help="rows never kept (row numbers, one per line)")
    group.add_argument("--exclude-matching", action="append", default=[], metavar="REGEX",
                       help="never keep a row whose text this regular expression (RE2 syntax) matches anywhere, "
                            "e.g. a licence header; repeatable")
    group.add_argument("--cap", action="append", default=[], metavar="COLUMN=VALUE:SHARE",
                       help=f"at most SHARE (1%% or 0.01) of the cut from rows whose COLUMN is VALUE; VALUE "
                            f"{EVERY_GROUP} caps every group, SHARE {POOL_SHARE} caps a group at its share of the "
                            "pool; repeatable")


def read_row_numbers(path: str, option: str) -> tuple[int, ...]:
    """The row numbers in `path`, one per line (blank lines and `#` comments skipped)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ZipFitError(f"Cannot read {option} {path} ({error}): give a text file with one row number a line.") \
            from None
    rows = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            rows.append(ROW_NUMBERS.check(f"Line {number} of {option} {path}", text))
    return tuple(rows)


def shaping_from_args(args: argparse.Namespace) -> Shaping:
    return Shaping(
        include_rows=read_row_numbers(args.include_rows, "--include-rows") if args.include_rows else (),
        exclude_rows=read_row_numbers(args.exclude_rows, "--exclude-rows") if args.exclude_rows else (),
        patterns=tuple(args.exclude_matching), caps=tuple(GroupCap.parse(text) for text in args.cap))
