"""The declared Streamlit floor is true: every `st.*` function the app calls, and every keyword it passes, exists
in the oldest Streamlit pyproject.toml allows (installed from PyPI into a virtual environment of its own)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .floor_env import REPO, declared_floor, python_with_floor

# Run inside the environment with the floor version: prints the calls that version lacks, as JSON.
CHECK = r"""
import ast, inspect, json, sys
from pathlib import Path
import streamlit as st

def called(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return list(reversed(parts)) if isinstance(node, ast.Name) and node.id == "st" else None

missing = set()
for path in map(Path, sys.argv[1:]):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = called(node.func) if isinstance(node, ast.Call) else None
        if not names:
            continue
        target = st
        try:
            for name in names:
                target = getattr(target, name)
        except AttributeError:
            missing.add(f"{path.name}: st.{'.'.join(names)}")
            continue
        try:
            parameters = inspect.signature(target).parameters
        except (TypeError, ValueError):
            continue
        if any(item.kind == item.VAR_KEYWORD for item in parameters.values()):
            continue
        missing |= {f"{path.name}: st.{'.'.join(names)}({keyword.arg}=)" for keyword in node.keywords
                    if keyword.arg and keyword.arg not in parameters}
print(json.dumps({"version": st.__version__, "missing": sorted(missing)}))
"""


def app_files() -> list[str]:
    return [str(path) for path in [REPO / "app.py", *sorted((REPO / "pages").glob("*.py")),
                                   *sorted((REPO / "zipfit_app").glob("*.py"))]]


def test_the_checker_finds_a_keyword_streamlit_does_not_have(tmp_path: Path) -> None:
    """With the installed Streamlit: the app passes, and a made-up keyword is reported."""
    made_up = tmp_path / "page.py"
    made_up.write_text("import streamlit as st\nst.button('Go', width='stretch', sparkle=True)\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", CHECK, *app_files(), str(made_up)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["missing"] == ["page.py: st.button(sparkle=)"]


@pytest.mark.timeout(600)
def test_the_app_runs_on_the_declared_streamlit_floor(tmp_path: Path) -> None:
    floor = declared_floor("streamlit", extra="app")
    # Only Streamlit itself at the floor (and cachetools and blinker, which older releases import and newer ones no
    # longer require): signatures are what this checks, not a full install.
    python = python_with_floor(tmp_path / "floor", "streamlit", floor, also=("cachetools", "blinker"))
    result = subprocess.run([str(python), "-c", CHECK, *app_files()], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["version"].split(".")[:len(floor.split("."))] == floor.split(".")  # 1.56 is 1.56.0
    assert report["missing"] == [], f"raise the streamlit floor in pyproject.toml and requirements.txt: {report}"
