"""The declared `datasets` floor is true: the Hub-folder, save_to_disk and data-root tests pass with the oldest
`datasets` pyproject.toml allows, next to the newest huggingface-hub (installed from PyPI into an environment of
its own). datasets 3.0-3.2 fail here: a Hub folder whose files are links inside the data root finds no data files.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .floor_env import REPO, declared_floor, python_with_floor


@pytest.mark.timeout(600)
def test_loading_works_on_the_declared_datasets_floor(tmp_path: Path) -> None:
    floor = declared_floor("datasets")
    python = python_with_floor(tmp_path / "floor", "datasets", floor)
    version = subprocess.run([str(python), "-c", "import datasets; print(datasets.__version__)"],
                             capture_output=True, text=True, timeout=120, check=True).stdout.strip()
    assert version.split(".")[:len(floor.split("."))] == floor.split(".")  # 3.3 is 3.3.0
    result = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/core/data/test_data_root.py", "tests/core/data/test_loading.py",
                             "tests/core/data/test_recipes.py",
                             "-k", "hub or saved or save_to_disk or arrow or folder"],
                            cwd=REPO, capture_output=True, text=True, timeout=500, check=False)
    assert result.returncode == 0, f"raise the datasets floor in pyproject.toml and requirements.txt:\n" \
                                   f"{result.stdout[-3000:]}"
    assert " passed" in result.stdout and "deselected" in result.stdout
