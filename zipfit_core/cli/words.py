"""How the library's messages read on the command line: parameter names become the flags that set them.

The library names its parameters in backticks (`max_chars`, `out`); here each becomes the option a
`zipfit` user types. A parameter not listed stays as written.
"""

from __future__ import annotations

from zipfit_core.errors import reword

FLAGS = {
    "`max_chars`": "--max-chars",
    "`max_line_bytes`": "--max-line-mb",
    "`max_expansion`": "--max-expansion",
    "`max_columns`": "--max-columns",
    "`on_bad_line='skip'`": "--on-bad-line skip",
    "`field`": "--source-field / --target-field",
    "`template`": "--source-template / --target-template",
    "`split`": "--source-split / --target-split",
    "`config`": "--source-config / --target-config",
    "`source_field`": "--source-field",
    "`source_template`": "--source-template",
    "`out`": "--out",
    "`engine='ray'`": "--engine ray",
    "`engine='local'`": "--engine local",
    "`ray_address`": "--ray-address",
    "`cache_dir=None`": "--no-cache",
    "`older_than_days`": "--older-than DAYS",
    "`other_versions`": "--other-versions",
    "`max_size_bytes`": "--max-size SIZE",
}


def cli_text(message: object, role: str | None = None) -> str:
    """`message` with the library's parameter names replaced by the command line's flags (`--ROLE-field` and
    `--ROLE-template` when the message is about one role's data)."""
    flags = FLAGS if role is None else {**FLAGS, "`field`": f"--{role}-field", "`template`": f"--{role}-template"}
    return reword(message, flags)
