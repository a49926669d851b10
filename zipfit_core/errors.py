"""The one exception type users can cause, and its cancellation subtype."""

from __future__ import annotations


class ZipFitError(Exception):
    """A problem the user can fix; the message says what is wrong and what to do."""


class ScoringCancelled(ZipFitError):
    """Scoring was stopped on request; nothing partial was returned or written."""
