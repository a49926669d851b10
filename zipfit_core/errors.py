"""The exceptions of zipfit_core: every error a user can cause is a `ZipFitError`.

    ZipFitError          a problem the user can fix; the message says what is wrong and what to do
    ├── ScoringCancelled scoring (or other background work) was stopped on request
    └── CacheDamaged     a cache entry that cannot be trusted; callers report it and recompute

Messages name the library's parameters (`max_chars`, `out`); the CLI and the app translate them to their own
flags and fields (`cli.main.CLI_WORDS`). Anything else that escapes is a bug.
"""

from __future__ import annotations


class ZipFitError(Exception):
    """A problem the user can fix; the message says what is wrong and what to do."""


class ScoringCancelled(ZipFitError):
    """Scoring was stopped on request; nothing partial was returned or written."""


class CacheDamaged(ZipFitError):
    """A cache entry that cannot be trusted; the message says why (for the user-facing warning)."""
