"""A virtual environment with one package at the oldest version pyproject.toml allows, for the floor tests.

Only that package is installed (from PyPI, without its dependencies); everything else comes from this
environment's site-packages, the project included (nested_env.py). Skips the test when PyPI cannot be reached.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from .nested_env import environment_over_this_one

REPO = Path(__file__).resolve().parents[2]


def declared_floor(name: str, extra: str | None = None) -> str:
    """The version in `name>=VERSION` of pyproject's dependencies (or of an extra's)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["optional-dependencies"][extra] if extra else project["dependencies"]
    (requirement,) = [item for item in requirements if re.match(rf"{re.escape(name)}\s*>=", item)]
    return re.match(rf"{re.escape(name)}\s*>=\s*([0-9.]+)", requirement).group(1)


def python_with_floor(folder: Path, name: str, floor: str, also: tuple[str, ...] = ()) -> Path:
    """The Python of a new environment under `folder` with `name==floor` (and `also`) installed over this one's."""
    python = environment_over_this_one(folder)
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                              "--disable-pip-version-check", f"{name}=={floor}", *also],
                             capture_output=True, text=True, timeout=400, check=False)
    if install.returncode != 0 and "No matching distribution" not in install.stderr:
        pytest.skip(f"PyPI is not reachable to install {name}=={floor}: {install.stderr[-300:]}")
    assert install.returncode == 0, install.stderr
    return python
