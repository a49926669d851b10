"""A secret planted outside the data root, and the check that a load refuses to reach it (the security tests)."""

from __future__ import annotations

from pathlib import Path

from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource, LoadOptions
from zipfit_core.errors import ZipFitError

SECRET = "root:x:0:0:the secret outside the data root"


def refused(source: DataSource, root: Path, said: str = "outside the data folder") -> ZipFitError:
    """Loading `source` under `root` raises a ZipFitError saying `said`, and the secret is in no message."""
    try:
        loaded = load_source(source, options=LoadOptions(data_root=root))
    except ZipFitError as error:
        assert said in str(error), str(error)
        assert SECRET not in str(error)
        return error
    raise AssertionError(f"loaded instead of refusing: {loaded.texts[:3]}")
