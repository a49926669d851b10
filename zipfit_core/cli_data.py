"""The data options of `zipfit score` / `zipfit select`: how SOURCE and TARGET arguments become texts.

A SOURCE or TARGET argument is a local file, folder, glob pattern or save_to_disk folder;
`hub:owner/name` (or a bare `owner/name` that is not a local path) for a Hugging Face dataset;
or `demo:NAME` for a bundled demo data set. The options below choose the split, the text, a row
filter, a limit or a sample; they map one to one onto `loading.DataSource` / `TextSpec` / `LoadOptions`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from .data_sources import BAD_LINE_POLICIES, PLAIN_TEXT_UNITS, LoadOptions, TextSpec
from .loading import LoadedTexts, load_source, parse_row_filter, source_from_argument

SOURCE_HELP = ("a data file (.jsonl .json .csv .tsv .parquet .arrow .txt, optionally .gz/.zst), a folder, "
               "a glob pattern, a save_to_disk folder, hub:owner/name, or demo:NAME")


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
    group.add_argument("--sample-seed", type=int, default=0, help="seed of the random samples (default 0)")
    group.add_argument("--on-bad-line", choices=BAD_LINE_POLICIES, default="skip",
                       help="malformed lines and rows: skip them with a warning (default) or stop with an error")
    group.add_argument("--max-chars", type=int, default=LoadOptions.max_chars, metavar="N",
                       help=f"cap each text at N characters, with a warning (default {LoadOptions.max_chars:,}; "
                            "0 = no cap)")
    group.add_argument("--txt-unit", choices=PLAIN_TEXT_UNITS, default="file",
                       help=".txt files: one document per file (default) or per non-empty line")


def load_data_argument(args: argparse.Namespace, role: str, default_text: str | None = None) -> LoadedTexts:
    """Load the SOURCE or TARGET argument with its options; warnings go to stderr.

    `default_text` (a field or `template:...`, e.g. from a scores file) is used when neither
    --ROLE-field nor --ROLE-template is given.
    """
    source = source_from_argument(
        getattr(args, role), config=getattr(args, f"{role}_config"), split=getattr(args, f"{role}_split"),
        revision=getattr(args, f"{role}_revision"), streaming=getattr(args, f"{role}_streaming"),
        limit=getattr(args, f"{role}_limit"), sample=getattr(args, f"{role}_sample"), seed=args.sample_seed,
    )
    row_filter = parse_row_filter(getattr(args, f"{role}_filter"))
    field, template = getattr(args, f"{role}_field", None), getattr(args, f"{role}_template")
    if template is not None:
        template = unescape_template(template)
    if field is None and template is None:
        text = TextSpec.from_description(default_text, row_filter=row_filter)
    else:
        text = TextSpec(field=field, template=template, row_filter=row_filter)
    options = LoadOptions(on_bad_line=args.on_bad_line, max_chars=args.max_chars or None,
                          plain_text_unit=args.txt_unit)
    loaded = load_source(source, text, options)
    for message in loaded.warnings:
        print(f"warning: {message}", file=sys.stderr)
    return loaded


def unescape_template(template: str) -> str:
    """Shell-typed templates: `\\n` is a newline, `\\t` a tab, `\\\\` a backslash."""
    return re.sub(r"\\([nt\\])", lambda match: {"n": "\n", "t": "\t", "\\": "\\"}[match.group(1)], template)
