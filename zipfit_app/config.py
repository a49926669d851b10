"""Deployment settings of the app, read from the environment once per process."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from zipfit_core.data.sources import COLUMN_COUNTS, LoadOptions


@dataclass(frozen=True)
class AppSettings:
    """Where the app may read and write, and how much it accepts from a browser."""

    data_root: Path  # local paths are read only under here; exports are written under here
    max_upload_mb: int  # per uploaded file
    small_export_rows: int  # up to this many rows: download button; above: written to a folder
    hub_timeout_s: float  # bound on every network wait when loading from the Hugging Face Hub
    max_line_bytes: int | None  # longest JSONL / .txt line read before it is parsed; None = no bound
    max_expansion: float | None  # how many times its size a compressed file may expand; None = no bound
    max_columns: int = LoadOptions.max_columns  # a wider table is refused
    loader_cache_bytes: int = 2**30  # the loaded data sets kept for all sessions (their texts and tables)
    started_by_cli: bool = False  # served by `zipfit app`: hints name its options (--data-root), not variables

    @property
    def export_root(self) -> Path:
        return self.data_root / "exports"

    @property
    def data_root_hint(self) -> str:
        """How to set the data root where this server was started."""
        return "start with `zipfit app --data-root DIR`" if self.started_by_cli else "set ZIPFIT\\_DATA\\_ROOT"


def _int_env(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def _limit_env(name: str, default: float) -> float | None:
    """A read limit: 0 means no bound; a value that is not a non-negative number keeps the default."""
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    if not (value >= 0 and math.isfinite(value)):
        return default
    return value or None


def app_settings() -> AppSettings:
    """ZIPFIT_DATA_ROOT (default ./data under the working directory), ZIPFIT_MAX_UPLOAD_MB (200),
    ZIPFIT_SMALL_EXPORT_ROWS (200000), ZIPFIT_HUB_TIMEOUT_S (20), ZIPFIT_MAX_LINE_MB (64; 0 = no bound),
    ZIPFIT_MAX_EXPANSION (100; 0 = no bound), ZIPFIT_MAX_COLUMNS (10000), ZIPFIT_LOADER_CACHE_MB (1024)."""
    root = Path(os.environ.get("ZIPFIT_DATA_ROOT") or "data").expanduser().resolve()
    try:
        hub_timeout = float(os.environ.get("ZIPFIT_HUB_TIMEOUT_S", 20))
    except ValueError:
        hub_timeout = 20.0
    line_mb = _limit_env("ZIPFIT_MAX_LINE_MB", (LoadOptions.max_line_bytes or 0) / 2**20)
    line_bytes = max(1, int(line_mb * 2**20)) if line_mb is not None else None
    return AppSettings(data_root=root, max_upload_mb=_int_env("ZIPFIT_MAX_UPLOAD_MB", 200),
                       small_export_rows=_int_env("ZIPFIT_SMALL_EXPORT_ROWS", 200_000),
                       hub_timeout_s=hub_timeout,
                       max_line_bytes=line_bytes,
                       max_expansion=_limit_env("ZIPFIT_MAX_EXPANSION", LoadOptions.max_expansion or 0),
                       max_columns=min(_int_env("ZIPFIT_MAX_COLUMNS", LoadOptions.max_columns), COLUMN_COUNTS.maximum),
                       loader_cache_bytes=_int_env("ZIPFIT_LOADER_CACHE_MB", 1024) * 2**20,
                       started_by_cli=os.environ.get("ZIPFIT_STARTED_BY") == "zipfit app")
