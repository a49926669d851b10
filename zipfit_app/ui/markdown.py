"""Text from data, files or error messages shown in Streamlit's Markdown elements exactly as written.

Streamlit renders alerts, captions and markdown as Markdown (never raw HTML here: the app does not
use `unsafe_allow_html`), so a `$`, `*`, `[` or `:name:` in a file name, a template or a loader's
message would otherwise turn into maths, emphasis, links or icons.
"""

from __future__ import annotations

import re

from zipfit_core.errors import reword

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|$<>~:=])")  # `=` and `-` underline setext headings


def literal(text: object) -> str:
    """`text` with every Markdown-special character escaped, so it displays verbatim."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


# The library names its parameters in backticks; in the app each reads as the control (or limit) behind it.
APP_WORDS = {
    "`field`": "the Text field",
    "`template`": "a template",
    "`split`": "the Split field",
    "`config`": "the Config field",
    "`max_chars`": "the cap on text length, 1,000,000 characters in the app; `zipfit --max-chars` raises it",
    "`on_bad_line='skip'`": "skipping malformed lines, as the app does unless the file is unreadable",
    "`max_line_bytes`": "the app's line limit (the ZIPFIT_MAX_LINE_MB setting, in MiB)",
    "`max_expansion`": "the app's expansion limit (the ZIPFIT_MAX_EXPANSION setting)",
    "`max_columns`": "the app's column limit (the ZIPFIT_MAX_COLUMNS setting)",
    "`cache_dir=None`": "no cache",
}


def message(text: object) -> str:
    """A library message (an error, a warning, a status) in the app's words, escaped like `literal`."""
    return literal(reword(text, APP_WORDS))
