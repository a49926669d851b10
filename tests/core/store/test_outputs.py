"""Outputs never replace what the project did not write (issue 15, items 2, 5 and 6).

`zipfit select --out DIR` used to delete DIR with everything in it; `--out ..` from a subfolder deleted the
parent. Now an output is written only where nothing exists, into an empty folder, or over an earlier
output of the same kind (recognised by its manifest or metadata), and every refusal is one line, exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from zipfit_core.analysis.export import is_previous_export, manifest_path, write_table
from zipfit_core.store.outputs import replace_folder
from zipfit_core.store.scores_file import is_scores_file


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.fixture()
def cli(cli, monkeypatch, tmp_path):
    """The in-process `zipfit` (conftest.py), run from a working folder `work/` inside tmp_path."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return cli


@pytest.fixture()
def scored(cli, tmp_path):
    """A source, its scores file, both in the working folder."""
    source = write_jsonl(Path("source.jsonl"), [{"id": i, "text": f"def f{i}(x): return x * {i}"} for i in range(6)])
    target = write_jsonl(Path("target.jsonl"), [{"text": "def g(y): return y + 1"}])
    assert cli("score", source, target, "--quiet", "--out", "scores.parquet").returncode == 0
    return source, Path("scores.parquet")


def user_error(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("zipfit: error: "), result.stderr
    return lines[0]


def user_files(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): path.read_text() for path in sorted(folder.rglob("*"))
            if path.is_file()}


def test_select_into_a_folder_of_user_files_refuses_and_keeps_them(cli, scored):
    source, scores = scored
    mine = Path("mine")
    (mine / "deep").mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes")
    (mine / "deep" / "thesis.tex").write_text("chapter one")
    before = user_files(mine)
    line = user_error(cli("select", source, "--scores", scores, "--top-k", "2", "--out", mine))
    assert "already exists and was not written by zipfit" in line and "--out" in line
    assert user_files(mine) == before


def test_select_into_the_parent_folder_refuses_and_deletes_nothing(cli, scored, tmp_path):
    source, scores = scored
    (tmp_path / "sibling.txt").write_text("keep me")
    sub = Path("sub")
    sub.mkdir()
    for out in ("..", ".", "../..", str(Path.cwd()), "sub/.."):
        line = user_error(cli("select", source, "--scores", scores, "--top-k", "2", "--out", out))
        assert "--out" in line, line
    assert (tmp_path / "sibling.txt").read_text() == "keep me"
    assert source.is_file() and scores.is_file() and sub.is_dir()


def test_select_over_its_own_inputs_is_refused(cli, scored):
    source, scores = scored
    for out in (source, scores):
        before = out.read_bytes()
        line = user_error(cli("select", source, "--scores", scores, "--top-k", "2", "--out", out))
        assert "would replace the input" in line or "not written by zipfit" in line, line
        assert out.read_bytes() == before


def test_select_into_an_existing_folder_named_like_a_file(cli, scored):
    source, scores = scored
    Path("x.jsonl").mkdir()
    line = user_error(cli("select", source, "--scores", scores, "--top-k", "2", "--out", "x.jsonl"))
    assert "is an existing folder" in line and "x.jsonl" in line


def test_select_over_a_user_file_is_refused_but_an_earlier_export_is_replaced(cli, scored):
    source, scores = scored
    Path("theirs.jsonl").write_text("precious\n")
    user_error(cli("select", source, "--scores", scores, "--top-k", "2", "--out", "theirs.jsonl"))
    assert Path("theirs.jsonl").read_text() == "precious\n"
    for kind in ("picked.jsonl", "picked.parquet", "picked.csv", "picked"):
        assert cli("select", source, "--scores", scores, "--top-k", "2", "--out", kind).returncode == 0
        assert cli("select", source, "--scores", scores, "--top-k", "3", "--out", kind).returncode == 0
        manifest = json.loads(manifest_path(kind).read_text())
        assert manifest["rows"]["kept"] == 3 and is_previous_export(Path(kind))
    from datasets import load_from_disk

    assert len(load_from_disk("picked")) == 3
    assert not [path.name for path in Path.cwd().iterdir() if path.name.startswith(".picked")]  # no staging left


def test_a_stray_manifest_name_that_is_not_ours_is_kept(cli, scored):
    source, scores = scored
    Path("fresh.jsonl.manifest.json").write_text("my own json, not a manifest")
    user_error(cli("select", source, "--scores", scores, "--top-k", "2", "--out", "fresh.jsonl"))
    assert Path("fresh.jsonl.manifest.json").read_text() == "my own json, not a manifest"
    assert not Path("fresh.jsonl").exists()


def test_an_empty_folder_takes_a_datasets_export(cli, scored):
    source, scores = scored
    Path("empty").mkdir()
    assert cli("select", source, "--scores", scores, "--top-k", "2", "--out", "empty").returncode == 0
    assert (Path("empty") / "dataset_info.json").is_file()


def test_score_never_overwrites_a_file_it_did_not_write(cli, scored):
    source, scores = scored
    Path("data.parquet").write_bytes(b"not ours")
    line = user_error(cli("score", source, "target.jsonl", "--quiet", "--out", "data.parquet"))
    assert "not written by zipfit" in line
    assert Path("data.parquet").read_bytes() == b"not ours"
    assert is_scores_file(scores) and not is_scores_file(Path("data.parquet"))
    assert cli("score", source, "target.jsonl", "--quiet", "--out", scores).returncode == 0  # ours: replaced


def test_a_cut_that_keeps_nothing_says_so_and_writes_nothing(cli, scored):
    source, scores = scored
    for rule in (("--token-budget", "0"), ("--top-k", "0"), ("--threshold", "0.99")):
        line = user_error(cli("select", source, "--scores", scores, *rule, "--out", "none.jsonl"))
        assert "keeps no rows" in line and "best score" in line
        assert not Path("none.jsonl").exists()


def test_a_too_long_hub_id_is_one_line(cli, scored):
    line = user_error(cli("score", "a" * 300, "target.jsonl", "--quiet", "--out", "s.parquet"))
    assert "not a Hugging Face dataset id" in line and len(line) < 400


def test_a_failed_folder_write_leaves_the_old_folder_whole(tmp_path):
    folder = tmp_path / "export"
    write_table(pd.DataFrame({"text": ["old"]}), folder)

    def broken(staging: Path) -> None:
        (staging / "half.arrow").write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        replace_folder(folder, broken)
    from datasets import load_from_disk

    assert load_from_disk(str(folder))["text"] == ["old"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export"]
