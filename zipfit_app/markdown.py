"""Text from data, files or error messages shown in Streamlit's Markdown elements exactly as written.

Streamlit renders alerts, captions and markdown as Markdown (never raw HTML here: the app does not
use `unsafe_allow_html`), so a `$`, `*`, `[` or `:name:` in a file name, a template or a loader's
message would otherwise turn into maths, emphasis, links or icons.
"""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|$<>~:])")


def literal(text: object) -> str:
    """`text` with every Markdown-special character escaped, so it displays verbatim."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
