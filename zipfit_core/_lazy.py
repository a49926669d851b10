"""Names a package offers without importing its modules when the package is imported (PEP 562).

Why: a package whose __init__ imports its own modules makes an import cycle (a module imports its package
first), and two threads importing different modules of it at once then fail with a _DeadlockError or "partially
initialized module" (the app's sessions run in threads: tests/packaging/test_concurrent_imports.py). A lazy name imports
its module on first use, under that module's own import lock.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, modules: dict[str, tuple[str, ...]]) -> tuple[Callable, Callable]:
    """`__getattr__` and `__dir__` for `package`: each module (relative to `package`) with the names it offers."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        setattr(sys.modules[package], name, value)  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
