"""What tests in more than one folder use: the real target sets (HumanEval, ProofNet; read by target_sets.py) and the
command line, in a child process (`run_cli`) or in this one (`cli`).

Each folder's conftest.py holds what only its tests use: the reference oracle (core/scoring), the app's sessions (app),
the browser and server (e2e).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from collections.abc import Callable

import pytest

from tests.target_sets import PROOFNET_FILE, humaneval_file, humaneval_paper_text, proofnet_paper_text, read_jsonl_gz


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
def in_tmp_path(monkeypatch, tmp_path) -> Path:
    """Run the test from tmp_path (relative paths in commands land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


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
