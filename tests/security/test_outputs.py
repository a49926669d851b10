"""What an output may replace (issue 21, items 11-15): only files zipfit recorded writing, never an input or the
working folder; a killed writer's temporary is swept; the app's exports never share a name; a malformed score
folder is a one-line error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.records import write_jsonl
from zipfit_core.analysis.export import manifest_path, removed_path
from zipfit_core.errors import ZipFitError


pytestmark = pytest.mark.usefixtures("in_tmp_path")  # the commands run from tmp_path


@pytest.fixture()
def scored(cli, humaneval_texts, proofnet_texts):
    """pool.jsonl (with copies of the targets, so --decontaminate removes rows), targets.jsonl, scores.parquet."""
    targets = humaneval_texts[:10]
    pool = [{"text": text} for text in targets[:5] + humaneval_texts[40:60] + proofnet_texts[:20]]
    write_jsonl(Path("pool.jsonl"), pool)
    write_jsonl(Path("targets.jsonl"), [{"text": text} for text in targets])
    result = cli("score", "pool.jsonl", "targets.jsonl", "--quiet", "--out", "scores.parquet")
    assert result.returncode == 0, result.stderr
    return pool


@pytest.fixture()
def shards(cli, humaneval_texts, proofnet_texts):
    """A folder of two shards and targets.jsonl: `zipfit score pool targets.jsonl --out FOLDER` scores it."""
    write_jsonl(Path("pool/a.jsonl"), [{"text": text} for text in humaneval_texts[40:55]])
    write_jsonl(Path("pool/b.jsonl"), [{"text": text} for text in proofnet_texts[:15]])
    write_jsonl(Path("targets.jsonl"), [{"text": text} for text in humaneval_texts[:6]])


def select(cli, *arguments):
    return cli("select", "pool.jsonl", "--scores", "scores.parquet", "--top-k", "10", *arguments)


def refused(result, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("zipfit: error:") and "Traceback" not in result.stderr, result.stderr
    assert all(word in result.stderr for word in words), result.stderr


# -- 11: every sidecar goes through the output check ------------------------------------------------------
def test_decontaminate_keeps_a_users_file_where_the_removed_rows_would_go(cli, scored):
    users = removed_path("best.jsonl")
    users.write_text("my notes\n")
    refused(select(cli, "--decontaminate", "--out", "best.jsonl"), "best.jsonl.removed.jsonl")
    assert users.read_text() == "my notes\n" and not Path("best.jsonl").exists()


def test_decontaminate_keeps_a_link_where_the_removed_rows_would_go(cli, scored, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me\n")
    removed_path("best.jsonl").symlink_to(tmp_path / "precious.txt")
    refused(select(cli, "--decontaminate", "--out", "best.jsonl"), "best.jsonl.removed.jsonl")
    assert removed_path("best.jsonl").is_symlink() and (tmp_path / "precious.txt").read_text() == "keep me\n"


def test_an_earlier_curated_export_and_its_removed_rows_are_replaced(cli, scored):
    assert select(cli, "--decontaminate", "--out", "best.jsonl").returncode == 0
    assert removed_path("best.jsonl").exists()  # rows were removed: the list sits beside the export
    result = select(cli, "--out", "best.jsonl")  # again, not curated: the old list goes
    assert result.returncode == 0, result.stderr
    assert not removed_path("best.jsonl").exists()


# -- 12: an earlier output is recognised by the files zipfit recorded writing -----------------------------
def test_a_forged_manifest_does_not_let_select_delete_a_folder(cli, scored):
    Path("photos").mkdir()
    Path("photos/holiday.jpg").write_bytes(b"\xff\xd8 not really a photo")
    manifest_path("photos").write_text(json.dumps({"output": {"path": "photos"}}))
    refused(select(cli, "--out", "photos"), "photos", "not written by zipfit")
    assert Path("photos/holiday.jpg").read_bytes() == b"\xff\xd8 not really a photo"


def test_an_edited_export_is_no_longer_ours(cli, scored):
    assert select(cli, "--out", "best.jsonl").returncode == 0
    Path("best.jsonl").write_text(Path("best.jsonl").read_text() + '{"text": "my own row"}\n')
    refused(select(cli, "--out", "best.jsonl"), "not written by zipfit")
    assert "my own row" in Path("best.jsonl").read_text()


def test_an_earlier_datasets_export_is_replaced_when_unchanged(cli, scored):
    assert select(cli, "--out", "best").returncode == 0
    assert select(cli, "--out", "best").returncode == 0
    Path("best/mine.txt").write_text("added by the user\n")
    refused(select(cli, "--out", "best"), "not written by zipfit")
    assert Path("best/mine.txt").exists()


# -- 13: not inside an input, never `.`, stale temporaries swept ------------------------------------------
def test_an_export_inside_the_input_folder_is_refused(cli, shards):
    assert cli("score", "pool", "targets.jsonl", "--quiet", "--out", "scores").returncode == 0
    result = cli("select", "pool", "--scores", "scores", "--top-k", "5", "--out", "pool/best.jsonl")
    refused(result, "inside the input folder")
    assert sorted(path.name for path in Path("pool").iterdir()) == ["a.jsonl", "b.jsonl"]


def test_an_export_inside_a_globbed_input_folder_is_refused(cli, shards):
    assert cli("score", "pool/*.jsonl", "targets.jsonl", "--quiet", "--out", "scores").returncode == 0
    result = cli("select", "pool/*.jsonl", "--scores", "scores", "--top-k", "5", "--out", "pool/best.jsonl")
    refused(result, "inside the input folder")


@pytest.mark.parametrize("out", [".", "pool/scores"])
def test_a_score_folder_is_never_the_working_folder_or_inside_the_input(cli, shards, tmp_path, out):
    before = sorted(path.name for path in tmp_path.iterdir())
    refused(cli("score", "pool", "targets.jsonl", "--quiet", "--out", out), "--out '.'" if out == "." else "input")
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    assert sorted(path.name for path in Path("pool").iterdir()) == ["a.jsonl", "b.jsonl"]


KILLED_WRITER = """
import os, sys
from zipfit_core.store.files import write_with
def write(temporary):
    temporary.write_text("half an export")
    os._exit(9)  # killed mid-write: nothing after this runs
write_with(sys.argv[1], write)
"""


def test_a_killed_exports_temporary_is_removed_by_the_next_run(cli, scored, tmp_path):
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, "best.jsonl"], cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert killed.returncode == 9
    (left,) = tmp_path.glob(".best.jsonl.*.tmp")  # what the killed writer left
    assert select(cli, "--out", "best.jsonl").returncode == 0
    assert not left.exists() and not list(tmp_path.glob(".best.jsonl.*"))


# -- 14: app exports reserve their names atomically ---------------------------------------------------------
def test_sessions_exporting_at_once_never_share_a_name(tmp_path, humaneval_texts):
    from zipfit_app.services.exports import start_folder_export
    from zipfit_app.services.work import manager
    from zipfit_core.analysis.curation import CurationSettings, curate
    from zipfit_core.analysis.selection import SelectionRule, TokenCounter
    from zipfit_core.data.loading import load_source
    from zipfit_core.data.sources import DataSource, TextSpec

    write_jsonl(tmp_path / "pool.jsonl", [{"text": text} for text in humaneval_texts[:30]])
    source = load_source(DataSource("local", str(tmp_path / "pool.jsonl")), TextSpec(field="text"))
    scores = np.linspace(0.0, 1.0, len(source.texts))
    counter = TokenCounter()
    curated = curate(scores, SelectionRule("top_k", 10), counter.count(source.texts), CurationSettings())
    start = threading.Barrier(3)
    exports = []

    def export() -> None:
        start.wait()
        exports.append(start_folder_export(tmp_path / "exports", tmp_path, "pool-top10", source, scores, curated, counter,
                                           None, "jsonl", True))

    threads = [threading.Thread(target=export) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for item in exports:
        assert manager().wait(item.work_id, timeout=120).state == "done"
    outputs = {item.output for item in exports}
    assert len(outputs) == 3 and all(path.stat().st_size > 0 and manifest_path(path).exists() for path in outputs)


# -- 15: malformed score-folder manifests are one-line errors -----------------------------------------------
def _no_shards(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["shards"]
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _a_list(folder: Path) -> None:
    (folder / "manifest.json").write_text(json.dumps([{"format": "zipfit-score-folder"}]))


def _marker_without_rows(folder: Path) -> None:
    marker = folder / "completions" / "00000.json"
    content = json.loads(marker.read_text())
    del content["rows"]
    marker.write_text(json.dumps(content))


MALFORMED = {"no shards": _no_shards, "a list": _a_list, "a marker without rows": _marker_without_rows}


@pytest.mark.parametrize("damage", sorted(MALFORMED))
def test_a_malformed_score_folder_is_a_one_line_error(cli, shards, tmp_path, damage):
    assert cli("score", "pool", "targets.jsonl", "--quiet", "--out", "scores").returncode == 0
    MALFORMED[damage](tmp_path / "scores")
    refused(cli("select", "pool", "--scores", "scores", "--top-k", "5", "--out", "best.jsonl"), "scores")
    from zipfit_core.engines.open_folder import open_score_folder

    with pytest.raises(ZipFitError):  # what the app shows (it said "Could not load this data (KeyError ...)")
        open_score_folder("scores", tmp_path)


def test_a_killed_score_folder_writers_temporaries_are_removed_by_the_next_run(cli, shards, tmp_path):
    assert cli("score", "pool", "targets.jsonl", "--quiet", "--out", "scores").returncode == 0
    for part in ("scores/scores/part-00000.parquet", "scores/completions/00000.json"):
        killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, part], cwd=tmp_path,
                                env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        assert killed.returncode == 9
    assert len(list(tmp_path.glob("scores/*/.*.tmp"))) == 2
    assert cli("score", "pool", "targets.jsonl", "--quiet", "--out", "scores").returncode == 0  # all done: resumes
    assert not list(tmp_path.glob("scores/*/.*.tmp"))
