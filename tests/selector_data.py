"""Small real data for the selector, compare and proxy-evaluation tests.

In-domain rows: ProofNet test statements (bundled, see zipfit_core/data/demo_data/ATTRIBUTION.md).
Out-of-domain rows: English prose from Python's own help topics (`pydoc_data.topics`) and Python code
from standard-library modules (`inspect.getsource`), both shipped with every Python installation.
Targets: ProofNet valid statements. Nothing here reads ../shared.
"""

from __future__ import annotations

import ast
import functools
import gzip
import inspect
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROOFNET_FILE = REPO_ROOT / "zipfit_core" / "data" / "demo_data" / "proofnet_lean4.jsonl.gz"


def proofnet_split(split: str) -> list[str]:
    """ProofNet statements of one split in the paper's format: informal statement, then the Lean 4 one."""
    return list(_proofnet_split(split))


@functools.lru_cache(maxsize=None)
def _proofnet_split(split: str) -> tuple[str, ...]:
    with gzip.open(PROOFNET_FILE, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return tuple(row["informal_prefix"] + row["formal_statement"] for row in rows if row["split"] == split)


def stdlib_prose(count: int) -> list[str]:
    import pydoc_data.topics

    texts = [text for _, text in sorted(pydoc_data.topics.topics.items()) if 300 <= len(text) <= 3000]
    return texts[:count]


def stdlib_code(count: int) -> list[str]:
    return list(_stdlib_functions()[:count])


@functools.lru_cache(maxsize=None)
def _stdlib_functions() -> tuple[str, ...]:
    import json.decoder
    import string

    functions = []
    for module in (textwrap, json.decoder, string, inspect):
        source = inspect.getsource(module)
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                segment = ast.get_source_segment(source, node)
                if segment and 200 <= len(segment) <= 3000:
                    functions.append(segment)
    return tuple(functions)


@dataclass(frozen=True)
class LabelledPool:
    """Sources with a known answer: `in_domain[i]` says whether source i is a ProofNet statement."""

    sources: list[str]
    in_domain: list[bool]
    origin: list[str]
    targets: list[str]


def labelled_pool(n_in: int = 30, n_prose: int = 15, n_code: int = 15) -> LabelledPool:
    inside = proofnet_split("test")[:n_in]
    prose = stdlib_prose(n_prose)
    code = stdlib_code(n_code)
    assert len(inside) == n_in and len(prose) == n_prose and len(code) == n_code
    return LabelledPool(
        sources=inside + prose + code,
        in_domain=[True] * n_in + [False] * (n_prose + n_code),
        origin=["proofnet"] * n_in + ["prose"] * n_prose + ["code"] * n_code,
        targets=proofnet_split("valid"),
    )
