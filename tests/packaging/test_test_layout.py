"""The tests' own layout: test modules live in folders that mirror the code, and no test module imports another.

tests/core/<layer> for each layer of zipfit_core (its command line is tests/cli), tests/app for the AppTest tests,
tests/e2e for the browser, tests/packaging for what is checked about the project as a whole, tests/security for
what a hostile input cannot do (one module per kind of attack). What several modules
share is a fixture in the nearest conftest.py above them or a plain helper module (app/app_steps.py,
proofnet_jobs.py, ...), never another test module: importing one runs it a second time under another name
and ties its tests to its helpers.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
CORE = REPO / "zipfit_core"


def mirror_folders() -> set[str]:
    layers = {path.name for path in CORE.iterdir() if (path / "__init__.py").exists()} - {"cli"}
    return {f"core/{layer}" for layer in layers} | {"cli", "app", "e2e", "packaging", "security"}


def python_files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


def modules_of_tests() -> list[Path]:
    return [path for path in python_files() if path.name.startswith("test_")]


def imports_of_test_modules(source: str) -> list[str]:
    """Every import in `source` (module level or inside a function) that names a test module, as written."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if any(part.startswith("test_")
                                                                 for part in alias.name.split("."))]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            parts = (node.module or "").split(".") + [alias.name for alias in node.names]
            if any(part.startswith("test_") for part in parts):
                found.append(f"from {module} import {', '.join(alias.name for alias in node.names)}")
    return found


def test_no_test_module_sits_directly_in_tests() -> None:
    assert [path.name for path in TESTS.glob("test_*.py")] == []


def test_test_modules_sit_in_the_folders_that_mirror_the_code() -> None:
    folders = mirror_folders()
    misplaced = [str(path.relative_to(TESTS)) for path in modules_of_tests()
                 if path.parent.relative_to(TESTS).as_posix() not in folders]
    assert misplaced == [], f"test modules belong in one of tests/{{{', '.join(sorted(folders))}}}"


def test_every_folder_of_test_code_is_a_package() -> None:
    # Without __init__.py a folder's modules would be imported by their bare names: two conftest.py or two
    # test_first_walk.py would clash, and tests/packaging would shadow PyPI's `packaging`.
    folders = {path.parent for path in python_files()}
    assert sorted(str(folder.relative_to(REPO)) for folder in folders if not (folder / "__init__.py").exists()) == []


def test_no_test_module_imports_another_test_module() -> None:
    offenders = {str(path.relative_to(TESTS)): imports for path in python_files()
                 if (imports := imports_of_test_modules(path.read_text(encoding="utf-8")))}
    assert offenders == {}, "move what they share into the folder's conftest.py or a helper module"


def test_the_import_check_catches_every_way_of_importing_a_test_module() -> None:
    caught = ["from test_app import new_app", "import test_jobs", "import tests.app.test_pages",
              "from tests.core.jobs.test_score_job import TARGETS", "from .test_pages import write_pool",
              "from . import test_pages", "from ..core.store import test_cache_admin",
              "def helper():\n    from .test_compare_page import compute_and_wait\n"]
    assert [source for source in caught if not imports_of_test_modules(source)] == []
    allowed = ["from .app_steps import new_app", "from tests.proofnet_jobs import TARGETS", "import pytest",
               "from .conftest import go_to", "from tests.selector_data import labelled_pool"]
    assert [source for source in allowed if imports_of_test_modules(source)] == []
