"""`zipfit cache list | remove | prune`: see and reclaim the disk the score cache uses.

Like cli.py, this only parses and calls the core (`cache_admin`); cli.py registers the command.
Listings and what was freed go to stdout; errors are ZipFitError (exit 2, one line on stderr).
"""

from __future__ import annotations

import argparse
import json

from zipfit_core.cli.data_options import cache_dir
from zipfit_core.cli.words import cli_text
from zipfit_core.data.sources import plural
from zipfit_core.errors import ZipFitError
from zipfit_core.store.cache_admin import (
    CacheItem,
    PruneCriteria,
    find_entry,
    format_size,
    list_cache,
    parse_size,
    prune_cache,
    remove_item,
    total_size,
)

LABEL_WIDTH = 60


def add_cache_command(commands: argparse._SubParsersAction) -> None:
    """Register `zipfit cache` and its actions."""
    cache = commands.add_parser("cache", help="list, remove or prune cached results (see and reclaim disk space)")
    actions = cache.add_subparsers(dest="cache_command", required=True)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--cache-dir", help="the score cache (default: $ZIPFIT_CACHE_DIR or the user cache folder)")
    listing = actions.add_parser("list", parents=[where], help="every cached result: kind, state, size, age")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    remove = actions.add_parser("remove", parents=[where], help="remove entries by key (or a unique prefix of "
                                                                "6+ characters, as `list` shows)")
    remove.add_argument("keys", nargs="+", metavar="KEY")
    prune = actions.add_parser("prune", parents=[where],
                               help="remove entries by age and/or version, and/or until the cache fits a size")
    prune.add_argument("--older-than", type=float, metavar="DAYS", help="entries last written more than DAYS ago")
    prune.add_argument("--other-versions", action="store_true",
                       help="entries this version cannot reuse: other package or cache-format versions, damaged")
    prune.add_argument("--max-size", metavar="SIZE", help="then the least recently written entries until the "
                                                          "cache holds at most SIZE (e.g. 2GB, 500MB, 1.5GiB)")
    prune.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")


def run_cache(args: argparse.Namespace) -> int:
    return {"list": run_cache_list, "remove": run_cache_remove, "prune": run_cache_prune}[args.cache_command](args)


def _row(item: CacheItem) -> list[str]:
    state = item.state_text + ("" if item.reusable else " *")
    label = item.label if len(item.label) <= LABEL_WIDTH else item.label[: LABEL_WIDTH - 3] + "..."
    return [item.key[:12], item.kind, state, item.codec_text, item.shape_text, format_size(item.size_bytes),
            item.modified_text, label]


def _table(items: list[CacheItem]) -> list[str]:
    rows = [["KEY", "KIND", "STATE", "CODEC", "SOURCES x TARGETS", "SIZE", "MODIFIED (UTC)", "LABEL"]]
    rows += [_row(item) for item in items]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def run_cache_list(args: argparse.Namespace) -> int:
    folder = cache_dir(args)
    items = list_cache(folder)
    if args.json:
        print(json.dumps({"cache_dir": str(folder), "total_bytes": total_size(items),
                          "entries": [item.as_json() for item in items]}, indent=2))
        return 0
    if not items:
        print(f"The score cache {folder} is empty.")
        return 0
    print("\n".join(_table(items)))
    print(f"{plural(len(items), 'entry', 'entries')}, {format_size(total_size(items))} in {folder}")
    stale = [item for item in items if not item.reusable]
    if stale:
        print(f"* {len(stale):,} not reusable by this version (another version, damaged or empty, "
              f"{format_size(total_size(stale))}): `zipfit cache prune --other-versions` removes them.")
    return 0


def _line(item: CacheItem) -> str:
    label = f"  {item.label[:LABEL_WIDTH]}" if item.label else ""
    return (f"{item.key[:12]}  {item.kind}  {item.state_text}  {format_size(item.size_bytes)}  "
            f"{item.modified_text}{label}")


def run_cache_remove(args: argparse.Namespace) -> int:
    folder = cache_dir(args)
    items = list_cache(folder)
    chosen = list({item.key: item for item in (find_entry(folder, key, items) for key in args.keys)}.values())
    freed, refused = 0, []
    for item in chosen:  # every key is known before anything is removed
        try:
            remove_item(item)
        except ZipFitError as refusal:
            refused.append(str(refusal))
            continue
        freed += item.size_bytes
        print(f"removed {_line(item)}")
    if len(chosen) > len(refused):
        print(f"freed {format_size(freed)}; the cache now holds {format_size(total_size(list_cache(folder)))}")
    if refused:
        raise ZipFitError(" ".join(refused))
    return 0


def run_cache_prune(args: argparse.Namespace) -> int:
    criteria = PruneCriteria(older_than_days=args.older_than, other_versions=args.other_versions,
                             max_size_bytes=parse_size(args.max_size) if args.max_size is not None else None)
    report = prune_cache(cache_dir(args), criteria, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for item in report.removed:
        print(f"{verb} {_line(item)}")
    for item, reason in report.kept_in_use:
        print(f"kept {item.key[:12]}: {cli_text(reason)}")
    if report.leftover_bytes:
        print(f"{'would sweep' if args.dry_run else 'swept'} {format_size(report.leftover_bytes)} left by "
              "interrupted removals")
    entries = plural(len(report.removed), "entry", "entries")
    if args.dry_run:
        print(f"would free {format_size(report.freed_bytes)} ({entries}); the cache would "
              f"hold {format_size(report.size_after)} (dry run: nothing was removed; entries another process is "
              "computing are kept when run for real)")
    else:
        print(f"freed {format_size(report.freed_bytes)} ({entries}); the cache now holds "
              f"{format_size(report.size_after)}")
    return 0
