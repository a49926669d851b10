"""Declared dependencies tell the truth: every third-party module the library and the app import is declared in
pyproject.toml (dependencies or an extra), requirements*.txt say the same as pyproject, and the installed
versions meet the declared floors."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"zipfit_core", "zipfit_app", "zipfit_studio"}
DISTRIBUTION_OF = {  # import name -> distribution name, where they differ
    "sklearn": "scikit-learn",
    "huggingface_hub": "huggingface-hub",
    "data_selection": "data-selection",
    "yaml": "pyyaml",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.match(r"[A-Za-z0-9_.\-]+", requirement.strip()).group(0))


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def declared() -> dict[str, list[str]]:
    """Every requirement of pyproject.toml by where it is declared: `dependencies` or an extra's name."""
    project = pyproject()
    return {"dependencies": project["dependencies"], **project["optional-dependencies"]}


def app_and_library_files() -> list[Path]:
    files = [REPO / "app.py", *sorted((REPO / "pages").glob("*.py"))]
    for top in ("zipfit_core", "zipfit_app"):
        files += sorted(path for path in (REPO / top).rglob("*.py") if "__pycache__" not in path.parts)
    return files


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in a file (inside functions too), less the standard library and
    the project's own packages."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name not in FIRST_PARTY}


def test_the_import_walk_sees_imports_inside_functions() -> None:
    """The check below can fail: a lazy import (scipy in analysis/compare.py) is found like a top-level one."""
    assert "scipy" in third_party_imports(REPO / "zipfit_core" / "analysis" / "compare.py")
    assert "streamlit" in third_party_imports(REPO / "app.py") | third_party_imports(REPO / "zipfit_app" / "frame.py")


def test_every_third_party_import_of_the_library_and_the_app_is_declared() -> None:
    names = {requirement_name(requirement) for requirements in declared().values() for requirement in requirements}
    undeclared = {}
    for path in app_and_library_files():
        for module in third_party_imports(path):
            if canonical(DISTRIBUTION_OF.get(module, module)) not in names:
                undeclared.setdefault(module, []).append(str(path.relative_to(REPO)))
    assert not undeclared, f"declare these in pyproject.toml (and requirements*.txt): {undeclared}"


def test_the_library_needs_no_extra_for_its_own_imports_outside_functions() -> None:
    """`import zipfit_core` must work with the base dependencies: module-level imports of zipfit_core are all in
    `dependencies` (extras are imported inside the functions that need them)."""
    base = {requirement_name(requirement) for requirement in declared()["dependencies"]}
    offenders = {}
    for path in sorted((REPO / "zipfit_core").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                       [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in FIRST_PARTY:
                    continue
                if canonical(DISTRIBUTION_OF.get(top, top)) not in base:
                    offenders.setdefault(top, []).append(str(path.relative_to(REPO)))
    assert not offenders, offenders


def requirement_lines(path: Path) -> set[str]:
    """The requirements a requirements file names itself (comments, blank lines and -r includes left out),
    without spaces."""
    lines = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.add(line.replace(" ", ""))
    return lines


def test_requirements_files_agree_with_pyproject() -> None:
    extras = declared()
    same = lambda requirements: {requirement.replace(" ", "") for requirement in requirements}
    assert requirement_lines(REPO / "requirements.txt") == same(extras["dependencies"] + extras["app"])
    assert requirement_lines(REPO / "requirements-test.txt") == same(extras["test"] + extras["ray"])
    assert "-r requirements.txt" in (REPO / "requirements-test.txt").read_text(encoding="utf-8")


def test_the_installed_versions_meet_the_declared_floors() -> None:
    """The floors are not above what this environment runs the suite with (extras not installed are skipped)."""
    requirements = pytest.importorskip("packaging.requirements")
    unmet = []
    for extra, items in declared().items():
        for text in items:
            requirement = requirements.Requirement(text)
            try:
                installed = metadata.version(requirement.name)
            except metadata.PackageNotFoundError:
                if extra in ("dependencies", "app"):
                    unmet.append(f"{requirement} is not installed")
                continue
            if not requirement.specifier.contains(installed, prereleases=True):
                unmet.append(f"{requirement} ({extra}): {installed} is installed")
    assert not unmet, unmet
