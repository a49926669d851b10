"""The exceptions of zipfit_core: every error a user can cause is a `ZipFitError`.

    ZipFitError          a problem the user can fix; the message says what is wrong and what to do
    ├── ScoringCancelled scoring (or other background work) was stopped on request
    └── CacheDamaged     a cache entry that cannot be trusted; callers report it and recompute

Messages name the library's parameters in backticks (`max_chars`, `out`); each front end puts them in its own
words with `reword`: the CLI's flags (`cli/words.py`), the app's controls (`zipfit_app/markdown.py`).
Anything else that escapes is a bug.
"""

from __future__ import annotations

from collections.abc import Mapping


def reword(message: object, words: Mapping[str, str]) -> str:
    """`message` with each backticked parameter name in `words` replaced by what a front end calls it."""
    text = str(message)
    for parameter, said in words.items():
        text = text.replace(parameter, said)
    return text


class ZipFitError(Exception):
    """A problem the user can fix; the message says what is wrong and what to do."""


class ScoringCancelled(ZipFitError):
    """Scoring was stopped on request; nothing partial was returned or written."""


class CacheDamaged(ZipFitError):
    """A cache entry that cannot be trusted; the message says why (for the user-facing warning)."""
