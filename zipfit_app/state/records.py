"""Small records the session holds: references to loaded data and results, notices, an export in progress.

No Streamlit here: the services and actions build and read them; `state.session.Session` keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from zipfit_core.store.run import ScoreRun

from .view import DataChoice


@dataclass(frozen=True)
class LoadedRef:
    """A loaded data set: the choice that loads it again, and its key in the process's loader cache."""

    choice: DataChoice
    key: str


@dataclass(frozen=True)
class ResultRef:
    """The result a session shows: its id in the job manager, the loaded data it was for, and its run record."""

    job_id: str
    source_key: str
    target_key: str | None  # None: a score folder's scores, which need no loaded targets
    run: ScoreRun


@dataclass(frozen=True)
class Notice:
    """A message for a place on a page, shown once."""

    text: str
    kind: str = "info"  # info, success, warning or error
    icon: str | None = None


@dataclass(frozen=True)
class FolderExport:
    """A background export to a folder under the data root: where it writes, and its work in the manager."""

    output: Path
    n_rows: int
    work_id: str


@dataclass(frozen=True)
class ProxyResult:
    """A proxy evaluation's curves, and the comparison they were computed for (never shown for another)."""

    comparison: str  # `services.compare.comparison_key` of the data, targets and scores
    content: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Downloads:
    """What the Export page's download buttons serve, each made only when clicked (tests call them too)."""

    name: str
    file: Callable[[], bytes]
    manifest: Callable[[], bytes]
    removed: Callable[[], bytes] | None  # None: nothing was left out
