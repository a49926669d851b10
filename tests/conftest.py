"""Shared test data and helpers: real target sets (HumanEval, ProofNet; read by target_sets.py), the reference
oracle, the CLI.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from target_sets import PROOFNET_FILE, humaneval_file, humaneval_paper_text, proofnet_paper_text, read_jsonl_gz


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


# -- the app (AppTest) ---------------------------------------------------------------------------
@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A fresh score cache, data root and Streamlit caches for one test."""
    import streamlit as st

    from zipfit_core.jobs.manager import JobManager

    data_root = tmp_path / "data"
    data_root.mkdir()
    monkeypatch.setenv("ZIPFIT_DATA_ROOT", str(data_root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(JobManager, "_shared", JobManager(cache_dir=tmp_path / "cache"))
    st.cache_resource.clear()
    yield data_root
    st.cache_resource.clear()


@pytest.fixture
def app_with_data(tmp_path, monkeypatch):
    """An app session with the labelled pool and ProofNet valid loaded from local files."""
    import json

    import streamlit as st
    from app_steps import APP, TIMEOUT
    from selector_data import labelled_pool
    from streamlit.testing.v1 import AppTest

    from zipfit_core.jobs.manager import JobManager
    from zipfit_core.store.method_cache import memo

    data_root = tmp_path / "data"
    data_root.mkdir()
    pool = labelled_pool(16, 8, 8)
    with open(data_root / "pool.jsonl", "w", encoding="utf-8") as handle:
        for text, origin in zip(pool.sources, pool.origin):
            handle.write(json.dumps({"text": text, "origin": origin}) + "\n")
    with open(data_root / "valid.jsonl", "w", encoding="utf-8") as handle:
        for text in pool.targets:
            handle.write(json.dumps({"text": text}) + "\n")
    monkeypatch.setenv("ZIPFIT_DATA_ROOT", str(data_root))
    monkeypatch.setattr(JobManager, "_shared", JobManager(cache_dir=tmp_path / "cache"))
    st.cache_resource.clear()
    memo.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    for role, location in (("source", "pool.jsonl"), ("target", "valid.jsonl")):
        at.radio(key=f"data.{role}.kind").set_value("local").run()
        at.text_input(key=f"data.{role}.local_path").set_value(location).run()
        at.button(key=f"data.{role}.load").click().run()
    assert not at.exception
    yield at, pool
    st.cache_resource.clear()
    memo.clear()
