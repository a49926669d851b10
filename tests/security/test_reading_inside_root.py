"""Nothing outside the data root is read or written through what a data folder's metadata says (issue 21).

`save_to_disk` metadata naming splits outside (as a dict: datasets iterates any iterable), a local dataset's
README naming a URL, a linked exports folder, and the warning when the data root is the whole machine.
"""

from __future__ import annotations

import argparse
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.security.planted import SECRET, refused
from zipfit_core.data.local import data_files_under
from zipfit_core.data.sources import DataSource
from zipfit_core.errors import ZipFitError


def saved_secret(root: Path, name: str = "ds") -> Path:
    """A save_to_disk Dataset holding the secret, outside the root."""
    from datasets import Dataset

    folder = root.parent / "outside" / name
    Dataset.from_dict({"text": [SECRET]}).save_to_disk(str(folder))
    return folder


def saved_dict(root: Path, name: str = "dict") -> Path:
    from datasets import Dataset, DatasetDict

    folder = root / name
    DatasetDict({"train": Dataset.from_dict({"text": ["fine"]})}).save_to_disk(str(folder))
    return folder


def test_a_dict_of_splits_naming_a_folder_outside_is_refused_and_not_offered(root):
    saved_secret(root)
    folder = saved_dict(root)
    (folder / "dataset_dict.json").write_text(json.dumps({"splits": {"../../outside/ds": None}}))
    refused(DataSource("local", "dict"), root)
    refused(DataSource("local", "dict", split="../../outside/ds"), root)
    assert "dict/" not in data_files_under(root, (".jsonl",), limit=50)  # the pickers of every data set


def test_a_split_inside_whose_state_names_arrow_files_outside_is_refused_and_not_offered(root):
    outside = saved_secret(root)
    folder = saved_dict(root)
    state_file = folder / "train" / "state.json"
    state = json.loads(state_file.read_text())
    arrow = state["_data_files"][0]["filename"]
    state["_data_files"][0]["filename"] = f"../../../outside/{outside.name}/{arrow}"
    state_file.write_text(json.dumps(state))
    (folder / "dataset_dict.json").write_text(json.dumps({"splits": {"train": None}}))
    refused(DataSource("local", "dict", split="train"), root)
    assert "dict/" not in data_files_under(root, (".jsonl",), limit=50)


def test_a_save_to_disk_folder_inside_the_root_is_still_read_and_offered(root):
    saved_dict(root)
    from zipfit_core.data.loading import load_source
    from zipfit_core.data.sources import LoadOptions

    assert load_source(DataSource("local", "dict"), options=LoadOptions(data_root=root)).texts == ["fine"]
    assert "dict/" in data_files_under(root, (".jsonl",), limit=50)


class _Recorder(http.server.BaseHTTPRequestHandler):
    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self._answer()

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        type(self).asked.append(self.path)
        body = (json.dumps({"text": SECRET}) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_server():
    """A local HTTP server that serves the secret and records every request."""
    _Recorder.asked = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.asked
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("metadata", ["README.md", ".huggingface.yaml"])
def test_a_local_dataset_naming_a_url_is_refused_and_nothing_is_fetched(root, web_server, monkeypatch, metadata):
    address, asked = web_server
    monkeypatch.chdir(root)  # `zipfit app --data-root .`: a URL read as a relative path lands inside the root
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)  # online, as the probe ran: a URL is fetched
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    repo = root / "repo"
    repo.mkdir()
    (repo / "inside.jsonl").write_text(json.dumps({"text": "fine"}) + "\n")
    configs = (f"configs:\n- config_name: default\n  data_files:\n  - split: train\n"
               f"    path: \"{address}/secret.jsonl\"\n")
    (repo / metadata).write_text(f"---\n{configs}---\n" if metadata == "README.md" else configs)
    for source in (DataSource("hub", "repo"), DataSource("hub", "repo", split="train", streaming=True)):
        refused(source, root, said="names a URL")
    assert asked == []


def test_exports_refuse_a_linked_exports_folder(root):
    from zipfit_core.analysis.export import export_selection
    from zipfit_core.analysis.selection import SelectionRule, select

    outside = root.parent / "outside" / "exports"
    outside.mkdir()
    (root / "exports").symlink_to(outside, target_is_directory=True)
    scores = np.array([0.9, 0.1])
    selection = select(scores, SelectionRule("top_k", 1))
    with pytest.raises(ZipFitError, match="export folder"):
        export_selection(pd.DataFrame({"text": ["a", "b"]}), ["a", "b"], "text", scores, selection, None, None,
                         root / "exports" / "cut.jsonl", data_root=root)
    assert list(outside.iterdir()) == []


def test_the_app_warns_when_its_data_folder_is_the_whole_machine(monkeypatch, capsys):
    from zipfit_core.cli import app

    started = []

    class Server:
        def __init__(self, command, env):
            started.append(env[app.DATA_ROOT_ENV])

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(app.subprocess, "Popen", Server)
    assert app.run_app(argparse.Namespace(data_root="/", port=None)) == 0
    assert started == ["/"]
    warning = capsys.readouterr().err
    assert "warning" in warning and "root of the file system" in warning

    monkeypatch.setenv(app.DATA_ROOT_ENV, str(Path.home()))  # any other folder starts without a word
    assert app.run_app(argparse.Namespace(data_root=None, port=None)) == 0
    assert capsys.readouterr().err == ""
