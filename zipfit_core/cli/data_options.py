"""The data options of `zipfit score` / `zipfit select` / `compare` / `proxy-eval`: how SOURCE and TARGET
arguments become texts.

A SOURCE or TARGET argument is a local file, folder, glob pattern or save_to_disk folder;
`hub:owner/name` (or a bare `owner/name` that is not a local path) for a Hugging Face dataset;
or `demo:NAME` for a bundled demo data set. The options choose the split, the text, a row
filter, a limit or a sample; they map one to one onto `DataSource` / `TextSpec` / `LoadOptions`.

Commands that read a scores file start from the `DataRecipe` it records when SOURCE names the data that was
scored: every option given on the command line wins, the others are as recorded, so the same texts load
without repeating the options. The read limits (--max-line-mb, --max-expansion) guard this machine, not the
texts: they are not recorded, and `load_options` applies them to every load a command makes.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from zipfit_core.cli.words import cli_text
from zipfit_core.data.formats import EXPANSION_FLOOR_BYTES
from zipfit_core.data.loading import LoadedTexts, load_recipe, source_from_argument
from zipfit_core.data.sources import (
    BAD_LINE_POLICIES,
    COLUMN_COUNTS,
    PLAIN_TEXT_UNITS,
    DataRecipe,
    LoadOptions,
    TextSpec,
)
from zipfit_core.errors import ZipFitError
from zipfit_core.store.data_store import open_data
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.score_cache import default_cache_dir


def parse_row_filter(text: str | None) -> tuple[str, str] | None:
    """`COLUMN=VALUE` -> (column, value); the value may contain '='."""
    if text is None:
        return None
    column, separator, value = text.partition("=")
    if not separator or not column.strip():
        raise ZipFitError(f"A row filter is written COLUMN=VALUE, e.g. split=valid (got {text!r}).")
    return column.strip(), value


SOURCE_HELP = ("a data file (.jsonl .json .csv .tsv .parquet .arrow .txt, optionally .gz/.zst/.bz2/.xz/.lz4), "
               "a folder, a glob pattern, a save_to_disk folder, hub:owner/name, or demo:NAME")


def add_data_arguments(parser: argparse.ArgumentParser, roles: Sequence[str]) -> None:
    """Add --ROLE-template/-filter/-split/-config/-revision/-streaming/-limit/-sample and the shared options.

    `--ROLE-field` is defined by the command itself.
    """
    group = parser.add_argument_group("data loading")
    for role in roles:
        group.add_argument(f"--{role}-template", metavar="TEMPLATE",
                           help=f"build the {role} text from fields, e.g. '{{informal_prefix}}{{formal_statement}}' "
                                "(wins over the field; \\n and \\t are a newline and a tab)")
        group.add_argument(f"--{role}-filter", metavar="COLUMN=VALUE",
                           help=f"keep only {role} rows whose COLUMN equals VALUE, e.g. split=valid")
        group.add_argument(f"--{role}-split", help=f"{role} split (hub datasets, save_to_disk DatasetDicts)")
        group.add_argument(f"--{role}-config", help=f"{role} configuration (hub datasets)")
        group.add_argument(f"--{role}-revision", help=f"{role} branch, tag or commit (hub datasets)")
        group.add_argument(f"--{role}-streaming", action="store_true",
                           help=f"stream the {role} hub dataset instead of downloading it (use with a limit)")
        group.add_argument(f"--{role}-limit", type=int, metavar="N", help=f"read at most N {role} rows")
        group.add_argument(f"--{role}-sample", type=int, metavar="N",
                           help=f"keep a random sample of N {role} rows (seeded, row order kept)")
    # These four default to None ("not given"), so that a recorded recipe can fill them (see data_recipe).
    group.add_argument("--sample-seed", type=int, help="seed of the random samples (default 0)")
    group.add_argument("--on-bad-line", choices=BAD_LINE_POLICIES,
                       help="malformed lines and rows: skip them with a warning (default) or stop with an error")
    group.add_argument("--max-chars", type=int, metavar="N",
                       help=f"cap each text at N characters, with a warning (default {LoadOptions.max_chars:,}; "
                            "0 = no cap)")
    group.add_argument("--txt-unit", choices=PLAIN_TEXT_UNITS,
                       help=".txt files: one document per file (default) or per non-empty line")
    group.add_argument("--max-line-mb", type=float, metavar="N",
                       help="longest JSONL / .txt line read (whole) before it is parsed, in MiB "
                            f"(default {LoadOptions.max_line_bytes // 2**20}; 0 = no bound)")
    group.add_argument("--max-columns", type=int, metavar="N",
                       help=f"refuse tables with more than N columns (default {LoadOptions.max_columns:,})")
    group.add_argument("--max-expansion", type=float, metavar="X",
                       help=f"a compressed file may decompress to X times its size, and always to "
                            f"{EXPANSION_FLOOR_BYTES // 2**20} MiB (default {LoadOptions.max_expansion:g}; "
                            "0 = no bound)")


def load_options(args: argparse.Namespace) -> LoadOptions:
    """The read limits --max-line-mb and --max-expansion (defaults where a command has no such flags), for every
    load a command makes: they are not part of a recipe, so they apply to recorded data too."""
    limits: dict[str, float | None] = {}
    for flag, name in (("--max-line-mb", "max_line_bytes"), ("--max-expansion", "max_expansion")):
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is None:  # not given: the library's default
            continue
        if not (value >= 0 and math.isfinite(value)):
            raise ZipFitError(f"{flag} must be 0 (no bound) or a positive number (got {value:g}).")
        limits[name] = value or None
    line_mb = limits.get("max_line_bytes", LoadOptions.max_line_bytes / 2**20)
    max_columns = getattr(args, "max_columns", None)
    if max_columns is not None:
        max_columns = COLUMN_COUNTS.check("--max-columns", max_columns)
    return LoadOptions(max_line_bytes=None if line_mb is None else max(1, int(line_mb * 2**20)),
                       max_expansion=limits.get("max_expansion", LoadOptions.max_expansion),
                       max_columns=LoadOptions.max_columns if max_columns is None else max_columns)


def recorded_recipe(argument: str, run: ScoreRun | None, role: str = "source") -> DataRecipe | None:
    """The recipe a scores file records for its source (or target), when `argument` names that data: the
    argument recorded, or the same kind and location. None otherwise, and for files that record none."""
    content = getattr(run, f"{role}_recipe", None) if run is not None else None
    if not content:
        return None
    try:
        recipe = DataRecipe.from_dict(content)
    except ZipFitError as error:
        warnings.warn(f"{error} Ignoring it: give the data options yourself.")
        return None
    if str(argument) == getattr(run, role):
        return recipe
    try:
        asked = source_from_argument(argument)
    except ZipFitError:
        return None
    if asked.kind == "local":  # the same file written another way (relative paths: from this folder)
        same_place = _absolute(asked.location) == _absolute(recipe.source.location)
    else:
        same_place = asked.location == recipe.source.location
    return recipe if asked.kind == recipe.source.kind and same_place else None


def _absolute(location: str) -> str:
    return os.path.abspath(os.path.expanduser(location))


def data_recipe(args: argparse.Namespace, role: str, default_text: str | None = None,
                recorded: DataRecipe | None = None) -> DataRecipe:
    """What the command line asks to load for ROLE: each option given wins; the others come from `recorded`
    (a scores file's recipe for this data) when there is one, else from the defaults.

    `default_text` (a field or `template:...`, e.g. from an older scores file) is used when neither
    --ROLE-field nor --ROLE-template is given and nothing is recorded.
    """
    def given(name: str):
        return getattr(args, f"{role}_{name}", None)

    def pick(value, recorded_value, default):
        """The command line's value if given, else the recorded one, else the default."""
        if value is not None:
            return value
        return recorded_value if recorded is not None else default

    was = recorded.source if recorded is not None else None
    source = source_from_argument(
        getattr(args, role),
        **{name: pick(given(name), getattr(was, name, None), None)
           for name in ("config", "split", "revision", "limit", "sample")},
        streaming=bool(given("streaming")) or bool(getattr(was, "streaming", False)),
        seed=pick(args.sample_seed, getattr(was, "seed", 0), 0),
    )
    row_filter = pick(parse_row_filter(given("filter")), getattr(recorded, "text", TextSpec()).row_filter, None)
    field, template = given("field"), given("template")
    if template is not None:
        template = unescape_template(template)
    if field is not None or template is not None:
        text = TextSpec(field=field, template=template, row_filter=row_filter)
    elif recorded is not None:
        text = replace(recorded.text, row_filter=row_filter)
    else:
        text = TextSpec.from_description(default_text, row_filter=row_filter)
    if args.max_chars is not None:
        max_chars = args.max_chars or None  # 0 = no cap
    else:
        max_chars = recorded.max_chars if recorded is not None else LoadOptions.max_chars
    return DataRecipe(
        source, text,
        on_bad_line=pick(args.on_bad_line, getattr(recorded, "on_bad_line", None), LoadOptions.on_bad_line),
        max_chars=max_chars,
        plain_text_unit=pick(args.txt_unit, getattr(recorded, "plain_text_unit", None), LoadOptions.plain_text_unit),
    )


def load_data_argument(args: argparse.Namespace, role: str, default_text: str | None = None,
                       recorded: DataRecipe | None = None) -> LoadedTexts:
    """Load the SOURCE or TARGET argument with its options (see `data_recipe`); the choices made for the user
    (which field is the text, and why) and the warnings go to stderr."""
    return open_recipe(args, data_recipe(args, role, default_text, recorded), role)


def open_recipe(args: argparse.Namespace, recipe: DataRecipe, role: str) -> LoadedTexts:
    """The data a recipe describes (through the data store unless --no-cache), with its notes and warnings on
    stderr."""
    if getattr(args, "no_cache", False):
        loaded = load_recipe(recipe, load_options(args))
    else:  # the data store: converted once, then opened in about a second at any size; texts stay on disk
        loaded = open_data(recipe.source, recipe.text, recipe.options(load_options(args)), cache_dir=cache_dir(args))
    for note in loaded.notes:
        print(f"note: {role}: {cli_text(note, role)}", file=sys.stderr)
    for message in loaded.warnings:
        print(f"warning: {cli_text(message, role)}", file=sys.stderr)
    return loaded


def cache_dir(args: argparse.Namespace) -> Path:
    """The cache folder (scores, converted data): `--cache-dir` when the command has one and it is given, else
    $ZIPFIT_CACHE_DIR or the user cache folder (the app's server uses the same one)."""
    given = getattr(args, "cache_dir", None)
    return Path(given).expanduser() if given else default_cache_dir()


def unescape_template(template: str) -> str:
    """Shell-typed templates: `\\n` is a newline, `\\t` a tab, `\\\\` a backslash."""
    return re.sub(r"\\([nt\\])", lambda match: {"n": "\n", "t": "\t", "\\": "\\"}[match.group(1)], template)
