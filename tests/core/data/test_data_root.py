"""Nothing outside the data root is read, whatever the source kind (issue 15, item 1).

Each test plants a secret outside the root and a way to it inside (a link, a dataset YAML, save_to_disk
metadata, a Hub id naming a folder elsewhere) and checks that loading refuses with the data root's message
and that the secret never reaches a row. The app test walks the reported link `/?src=hub&src.loc=leak`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.app_harness import app_test
from zipfit_core.data.loading import load_source, preview_table
from zipfit_core.data.local import data_files_under
from zipfit_core.data.sources import DataSource, LoadOptions
from zipfit_core.errors import ZipFitError

SECRET = "root:x:0:0:the secret outside the data root"


@pytest.fixture
def root(tmp_path) -> Path:
    """A data root, and beside it (outside) a folder holding secrets in several formats."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.txt").write_text(SECRET + "\n")
    (outside / "secret.jsonl").write_text(json.dumps({"text": SECRET}) + "\n")
    data_root = tmp_path / "root"
    data_root.mkdir()
    return data_root


def options(root: Path) -> LoadOptions:
    return LoadOptions(data_root=root)


def assert_refused(source: DataSource, root: Path, *, preview: bool = True) -> None:
    with pytest.raises(ZipFitError, match="outside the data folder") as refused:
        load_source(source, options=options(root))
    assert SECRET not in str(refused.value)
    if preview:
        with pytest.raises(ZipFitError, match="outside the data folder"):
            preview_table(source, options(root))


def test_a_hub_source_folder_with_a_link_to_a_file_outside_is_refused(root):
    leak = root / "leak"
    leak.mkdir()
    (leak / "train.txt").symlink_to(root.parent / "outside" / "passwd.txt")
    assert_refused(DataSource("hub", "leak"), root)
    assert_refused(DataSource("hub", "leak", split="train", streaming=True), root)


def test_the_reported_link_to_etc_passwd_is_refused(root):
    if not Path("/etc/passwd").is_file():
        pytest.skip("no /etc/passwd on this system")
    leak = root / "leak"
    leak.mkdir()
    (leak / "train.txt").symlink_to("/etc/passwd")
    with pytest.raises(ZipFitError, match="outside the data folder"):
        load_source(DataSource("hub", "leak"), options=options(root))
    with pytest.raises(ZipFitError, match="outside the data folder"):
        load_source(DataSource("local", "leak"), options=options(root))


def test_a_hub_folder_whose_yaml_names_files_outside_is_refused(root):
    folder = root / "repo"
    folder.mkdir()
    (folder / "inside.jsonl").write_text(json.dumps({"text": "fine"}) + "\n")
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
        "    path: \"../../outside/*.jsonl\"\n---\n")
    assert_refused(DataSource("hub", "repo"), root, preview=False)
    assert_refused(DataSource("hub", "repo", split="train"), root)


def test_a_linked_folder_inside_the_root_that_links_out_is_refused(root):
    elsewhere = root / "elsewhere"  # inside the root, but holding a link out
    elsewhere.mkdir()
    (elsewhere / "train.jsonl").symlink_to(root.parent / "outside" / "secret.jsonl")
    repo = root / "repo"
    repo.mkdir()
    (repo / "data").symlink_to(elsewhere, target_is_directory=True)
    (repo / "self").symlink_to(repo, target_is_directory=True)  # a loop must not hang the check
    assert_refused(DataSource("hub", "repo"), root)


def test_a_hub_folder_with_links_inside_the_root_still_loads(root):
    repo = root / "repo"
    repo.mkdir()
    shared = root / "shared.jsonl"
    shared.write_text(json.dumps({"text": "shared inside"}) + "\n")
    (repo / "train.jsonl").symlink_to(shared)
    loaded = load_source(DataSource("hub", "repo"), options=options(root))
    assert loaded.texts == ["shared inside"]


def test_a_hub_id_naming_a_folder_outside_the_root_is_refused(root, monkeypatch):
    monkeypatch.chdir(root.parent)  # datasets would read ./outside as a local dataset folder
    with pytest.raises(ZipFitError, match="outside the data folder"):
        load_source(DataSource("hub", "outside"), options=options(root))


def test_a_save_to_disk_folder_naming_files_outside_is_refused(root):
    from datasets import Dataset

    saved = root / "saved"
    Dataset.from_dict({"text": ["fine"]}).save_to_disk(str(saved))
    outside_copy = root.parent / "outside" / "copied"
    Dataset.from_dict({"text": [SECRET]}).save_to_disk(str(outside_copy))
    state = json.loads((saved / "state.json").read_text())
    arrow_name = state["_data_files"][0]["filename"]
    state["_data_files"][0]["filename"] = f"../../outside/copied/{arrow_name}"
    (saved / "state.json").write_text(json.dumps(state))
    assert_refused(DataSource("local", "saved"), root)

    linked = root / "linked"
    Dataset.from_dict({"text": ["fine"]}).save_to_disk(str(linked))
    own = linked / arrow_name
    own.unlink()
    own.symlink_to(outside_copy / arrow_name)
    assert_refused(DataSource("local", "linked"), root)


def test_a_save_to_disk_dict_naming_a_split_outside_is_refused(root):
    from datasets import Dataset, DatasetDict

    saved = root / "dict"
    DatasetDict({"train": Dataset.from_dict({"text": ["fine"]})}).save_to_disk(str(saved))
    Dataset.from_dict({"text": [SECRET]}).save_to_disk(str(root.parent / "outside" / "test"))
    (saved / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "../../outside/test"]}))
    assert_refused(DataSource("local", "dict", split="train"), root)


def test_the_file_picker_offers_no_link_that_leads_outside(root):
    (root / "mine.jsonl").write_text(json.dumps({"text": "mine"}) + "\n")
    (root / "out.jsonl").symlink_to(root.parent / "outside" / "secret.jsonl")
    (root / "in.jsonl").symlink_to(root / "mine.jsonl")
    (root / "outdir").symlink_to(root.parent / "outside", target_is_directory=True)
    (root / "exports").mkdir()
    (root / "exports" / "old.jsonl").write_text("{}\n")
    (root / ".hidden.jsonl").write_text("{}\n")
    offered = data_files_under(root, (".jsonl", ".txt"), limit=50, skip=("exports",))
    assert offered == ["in.jsonl", "mine.jsonl"]


def test_without_a_data_root_local_links_are_followed(root):
    """The CLI has no data root: a user's own links are theirs to follow."""
    (root / "linked.jsonl").symlink_to(root.parent / "outside" / "secret.jsonl")
    loaded = load_source(DataSource("local", str(root / "linked.jsonl")))
    assert loaded.texts == [SECRET]


@pytest.mark.parametrize("location, said", [("leak", "outside the data folder"),
                                             ("a" * 300, "not a Hugging Face dataset id")])
def test_app_links_to_a_leaking_folder_or_a_bad_hub_id_show_one_sentence(root, tmp_path, monkeypatch, location,
                                                                         said):
    import streamlit as st

    from zipfit_core.jobs.manager import JobManager

    leak = root / "leak"
    leak.mkdir()
    (leak / "train.txt").symlink_to(root.parent / "outside" / "passwd.txt")
    monkeypatch.setenv("ZIPFIT_DATA_ROOT", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(JobManager, "_shared", JobManager(cache_dir=tmp_path / "cache"))
    st.cache_resource.clear()
    app = app_test()
    app.query_params.update({"src": "hub", "src.loc": location})
    app.run()
    st.cache_resource.clear()
    assert not app.exception, [item.value for item in app.exception]
    shown = " ".join(str(element.value) for kind in (app.error, app.markdown, app.caption, app.success)
                     for element in kind)
    assert said in shown.replace("\\", "")
    assert "Errno" not in shown and "Traceback" not in shown
    assert SECRET.split(":the")[0] not in shown.replace("\\", "")
    assert os.path.islink(leak / "train.txt")  # nothing was changed on disk
