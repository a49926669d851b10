"""FIFOs (and devices) in the data folder are skipped with a message or refused, never opened (issue 21, item 3).

Opening a FIFO for reading waits for a writer forever, so every load here runs in a thread with a deadline; a load
that is still waiting fails the test, and the FIFO is then opened for writing once so that the thread can end.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from tests.security.planted import refused
from zipfit_core.data.loading import load_source
from zipfit_core.data.local import data_files_under
from zipfit_core.data.sources import DataSource, LoadOptions

DEADLINE_S = 60.0

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


def finished(work, fifo: Path):
    """`work()`'s outcome (its value, or the exception it raised); fails if it still waits after the deadline."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the test below
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    if thread.is_alive():
        descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # a writer arrives, and leaves: the reader ends
        os.close(descriptor)
        thread.join(DEADLINE_S)
        pytest.fail(f"the load was still waiting on the FIFO {fifo.name} after {DEADLINE_S:g} s")
    return outcome


def test_a_fifo_in_a_data_folder_is_skipped_with_a_message(root):
    folder = root / "pool"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps({"text": "fine"}) + "\n")
    os.mkfifo(folder / "b.jsonl")
    outcome = finished(lambda: load_source(DataSource("local", "pool"), options=LoadOptions(data_root=root)),
                       folder / "b.jsonl")
    assert "error" not in outcome, outcome.get("error")
    loaded = outcome["value"]
    assert loaded.texts == ["fine"]
    assert any("b.jsonl" in warning and "never opened" in warning for warning in loaded.warnings), loaded.warnings


def test_a_fifo_given_as_the_file_is_refused_unopened(root):
    os.mkfifo(root / "pipe.jsonl")
    outcome = finished(lambda: refused(DataSource("local", "pipe.jsonl"), root, said="FIFO"), root / "pipe.jsonl")
    assert "error" not in outcome, outcome.get("error")


def test_a_fifo_in_a_hub_folder_is_refused_unopened(root, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = root / "repo"
    repo.mkdir()
    (repo / "a.jsonl").write_text(json.dumps({"text": "fine"}) + "\n")
    os.mkfifo(repo / "b.jsonl")
    outcome = finished(lambda: refused(DataSource("hub", "repo"), root, said="FIFO"), repo / "b.jsonl")
    assert "error" not in outcome, outcome.get("error")


def test_the_file_picker_offers_no_fifo(root):
    (root / "a.jsonl").write_text("{}\n")
    os.mkfifo(root / "b.jsonl")
    assert data_files_under(root, (".jsonl",), limit=50) == ["a.jsonl"]
