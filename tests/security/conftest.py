"""The security tests' data root, with a secret planted beside it (outside)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.security.planted import SECRET


@pytest.fixture
def root(tmp_path) -> Path:
    """A data root, and beside it (outside) a folder holding a secret as JSON lines."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jsonl").write_text(json.dumps({"text": SECRET}) + "\n")
    data_root = tmp_path / "root"
    data_root.mkdir()
    return data_root
