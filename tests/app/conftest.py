"""Fixtures for the AppTest tests: a session with its own score cache, data root and Streamlit caches (`isolated`),
and one with the labelled pool and ProofNet valid loaded (`app_with_data`). What the tests do to the app is in
app_steps.py."""

from __future__ import annotations

import json

import pytest
import streamlit as st

from tests.app_harness import app_test
from tests.selector_data import labelled_pool
from zipfit_core.jobs.manager import JobManager
from zipfit_core.store.method_cache import memo


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A fresh score cache, data root and Streamlit caches for one test."""
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
    at = app_test().run()
    for role, location in (("source", "pool.jsonl"), ("target", "valid.jsonl")):
        at.radio(key=f"data.{role}.kind").set_value("local").run()
        at.text_input(key=f"data.{role}.local_path").set_value(location).run()
        at.button(key=f"data.{role}.load").click().run()
    assert not at.exception
    yield at, pool
    st.cache_resource.clear()
    memo.clear()
