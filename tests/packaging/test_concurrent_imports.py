"""The app's sessions run in threads of one process: two sessions reaching a fresh server at once import the app's
modules at the same time. That must work (it failed with _DeadlockError or "partially initialized module" while
zipfit_core/__init__.py imported its modules: 9 of 12 fresh processes, two threads).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("zipfit_core", "zipfit_app")

# In a fresh process: ROUNDS times, forget every module of ours, then import MODULES from one thread each, all
# released at once (the third-party modules stay imported, as on a running server). Prints one line per failure.
RACE = """
import importlib, sys, threading
modules, rounds = sys.argv[1].split(","), int(sys.argv[2])
for name in modules:  # once, one at a time: the third-party modules are imported, as on a running server
    importlib.import_module(name)
failures = []
for round_number in range(rounds):
    for name in [name for name in sys.modules if name.split(".")[0] in ("zipfit_core", "zipfit_app")]:
        del sys.modules[name]
    start = threading.Barrier(len(modules))
    order = modules[round_number % len(modules):] + modules[:round_number % len(modules)]
    def load(name):
        start.wait()
        try:
            importlib.import_module(name)
        except BaseException as error:
            failures.append(f"round {round_number}, {name}: {type(error).__name__}: {error}")
    threads = [threading.Thread(target=load, args=(name,)) for name in order]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
print("\\n".join(failures))
"""


def _modules_of(package: str) -> list[str]:
    return sorted(".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
                  for path in (REPO_ROOT / package).rglob("*.py") if path.stem != "__init__")


def test_threads_importing_the_app_at_once_all_succeed():
    # The pages' first imports, the frame's, a core module the app reaches late, and the package's public names.
    modules = ["zipfit_app.frame", "zipfit_app.panels.explore", "zipfit_app.panels.score", "zipfit_app.panels.export",
               "zipfit_app.panels.compare", "zipfit_core.data.formats", "zipfit_core"]
    assert set(modules) - {"zipfit_core"} <= set(_modules_of("zipfit_app")) | {"zipfit_core.data.formats"}
    done = subprocess.run([sys.executable, "-c", RACE, ",".join(modules), "12"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "", done.stdout[:3000]


def _own_module_imports(init: Path, package: str) -> list[str]:
    """The module-level imports of `package`'s own modules in its __init__.py (function bodies do not count)."""
    found = []
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.level == 0 else [f"{package}.{node.module}"]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found += [name for name in names if name.startswith(package + ".") and name.split(".")[-1][0] != "_"]
    return found


def test_no_package_init_imports_its_own_modules():
    # Why the race above cannot come back: a module's package is imported first, so a package that imports its
    # modules closes an import cycle. Leaf modules named with an underscore (_version, _lazy) import nothing of ours.
    inits = [path for package in PACKAGES for path in (REPO_ROOT / package).rglob("__init__.py")]
    assert len(inits) >= 8
    offenders = {}
    for init in inits:
        package = ".".join(init.parent.relative_to(REPO_ROOT).parts)
        if imports := _own_module_imports(init, package):
            offenders[package] = imports
    assert offenders == {}
