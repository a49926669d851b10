"""An app export made again on the command line (issue 23): its manifest records the cut plan and a `replay` section
that `zipfit select --from-manifest` follows to the same bytes (the scores found in the app's cache, or computed
again in an empty one), and the Export page's commands (`cli/commands.view_commands`) make the same rows. Driven
with AppTest (no browser); the commands run in real child processes, from a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zipfit_app.services import shaping
from zipfit_core.analysis.export import manifest_path, removed_path
from zipfit_core.analysis.shaping import CutPlan, GroupCap, Shaping
from zipfit_core.cli.commands import view_commands
from zipfit_core.data.sources import DataRecipe
from zipfit_core.jobs.manager import JobManager
from zipfit_core.store.run import ScoreRun

from .app_steps import assert_no_exception, load_in_form, new_app, scored_local_app, session_of, set_cut, write_pool

TOP_K = 30
REPO = Path(__file__).resolve().parents[2]


def zipfit(*args, cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    """`zipfit ARGS` in a child process, with its own cache folder."""
    environment = dict(os.environ, ZIPFIT_CACHE_DIR=str(cache), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "zipfit_core", *map(str, args)], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


def shell(script: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    """A copied script run by bash, `zipfit` being this checkout's command line."""
    environment = dict(os.environ, ZIPFIT_CACHE_DIR=str(cache), PYTHONPATH=str(REPO), ZIPFIT_PYTHON=sys.executable)
    prelude = 'set -e\nzipfit() { "$ZIPFIT_PYTHON" -m zipfit_core "$@"; }\n'
    return subprocess.run(["bash", "-c", prelude + script], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=600)


def exported(at, folder: Path) -> tuple[Path, dict, bytes | None]:
    """The Export page's download and manifest, written to `folder` as a user saves them."""
    downloads = session_of(at).downloads
    assert downloads is not None, [item.value for item in at.info]
    folder.mkdir()
    out = folder / downloads.name
    out.write_bytes(downloads.file())
    manifest_path(out).write_bytes(downloads.manifest())
    return out, json.loads(downloads.manifest()), downloads.removed() if downloads.removed else None


def open_export(at):
    at.switch_page("pages/export.py").run()
    for _ in range(100):  # the contamination check runs as background work: the page waits for it
        if session_of(at).downloads is not None:
            break
        time.sleep(0.2)
        at.run()
    assert_no_exception(at)
    return at


@pytest.fixture
def shaped_export(isolated, tmp_path):
    """The written pool scored in the app, a held-out set copying a kept row chosen on Explore, the cut balanced
    over the targets and shaped by hand (a row kept, one excluded, a pattern, a cap), exported with copies removed."""
    write_pool(isolated)
    pool = [json.loads(line) for line in (isolated / "pool.jsonl").read_text().splitlines()]
    at = scored_local_app(isolated)
    scores = JobManager.shared().result(session_of(at).result.job_id)
    ranked = sorted(range(len(scores)), key=lambda row: (-scores[row], row))
    (isolated / "heldout.jsonl").write_text(json.dumps({"text": pool[ranked[3]]["text"]}) + "\n")
    hand = Shaping(include_rows=(ranked[-1],), exclude_rows=(ranked[0],), patterns=(r"return x \* 2 \+",),
                   caps=(GroupCap("source", "code", 0.6),))
    shaping.record(session_of(at).result.run, hand)
    at.switch_page("pages/explore.py").run()
    set_cut(at, "top_k", TOP_K)
    at.toggle(key="explore.balanced").set_value(True).run()
    at.multiselect(key="curation.references_widget").set_value(["file: heldout.jsonl"]).run()
    assert_no_exception(at)
    open_export(at)
    assert at.toggle(key="export.decontaminate").value
    out, manifest, removed = exported(at, tmp_path / "app-export")
    return at, out, manifest, removed, hand


def test_an_app_manifest_records_the_plan_and_the_scores_by_their_run(shaped_export):
    at, out, manifest, removed, hand = shaped_export
    kept = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert hand.include_rows[0] in kept and hand.exclude_rows[0] not in kept  # the shaping made this cut
    plan = CutPlan.from_dict(manifest["plan"])
    assert plan.shaping == hand and plan.balanced and plan.rule == {"kind": "top_k", "value": TOP_K}
    assert plan.curation["decontaminate"]
    replay = manifest["replay"]
    assert "path" not in replay["scores"] and len(replay["scores"]["sha256"]) == 64
    run = ScoreRun.from_dict(replay["scores"]["run"])
    assert run.method_settings() == session_of(at).result.run.method_settings()
    assert DataRecipe.from_dict(run.source_recipe).source.location == str(out.parents[1] / "data" / "pool.jsonl")
    assert [item["argument"] for item in replay["evaluation_sets"]] == ["file: heldout.jsonl"]
    assert Path(replay["evaluation_sets"][0]["recipe"]["source"]["location"]).is_absolute()
    assert removed is not None and b"heldout.jsonl" in removed  # the held-out copy was taken out


@pytest.mark.parametrize("cache", ["the app's cache", "an empty cache"])
def test_from_manifest_makes_an_app_export_again_byte_for_byte(shaped_export, tmp_path, cache):
    _at, out, _manifest, removed, _hand = shaped_export
    cache_dir = JobManager.shared().cache_dir if cache == "the app's cache" else tmp_path / "empty-cache"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = zipfit("select", "--from-manifest", manifest_path(out), "--out", "again.jsonl", cwd=elsewhere,
                   cache=cache_dir)
    assert again.returncode == 0, again.stderr
    assert (elsewhere / "again.jsonl").read_bytes() == out.read_bytes()
    assert removed_path(elsewhere / "again.jsonl").read_bytes() == removed
    if cache == "an empty cache":
        assert "scoring again" in again.stderr  # not found: computed as `zipfit score` computes them


def test_changed_scores_are_refused(shaped_export, tmp_path):
    _at, out, manifest, _removed, _hand = shaped_export
    manifest["replay"]["scores"]["sha256"] = "0" * 64
    manifest_path(out).write_text(json.dumps(manifest))
    again = zipfit("select", "--from-manifest", manifest_path(out), "--out", tmp_path / "again.jsonl",
                   cwd=tmp_path, cache=JobManager.shared().cache_dir)
    assert again.returncode == 2 and "have changed since" in again.stderr


def test_the_pages_commands_make_the_same_rows(shaped_export, tmp_path):
    at, out, manifest, _removed, _hand = shaped_export
    shown = [block.value for block in at.code if "zipfit select" in block.value]
    assert len(shown) == 1
    script = shown[0]
    assert "--balance targets" in script and "--include-rows always-keep.txt" in script
    assert "--exclude-rows never-keep.txt" in script and "--cap=source=code:0.6" in script
    assert "--decontaminate " + str(out.parents[1] / "data" / "heldout.jsonl") in script
    run = session_of(at).result.run
    made = view_commands(run, CutPlan.from_dict(manifest["plan"]), out.name, data_root=out.parents[1] / "data",
                         evaluation_sets=[DataRecipe.from_dict(item["recipe"])
                                          for item in manifest["replay"]["evaluation_sets"]])
    assert made.script.rstrip("\n") == script.rstrip("\n")
    folder = tmp_path / "by-hand"
    folder.mkdir()
    for name, content in made.row_files.items():
        (folder / name).write_text(content)
    done = shell(script, folder, tmp_path / "fresh-cache")
    assert done.returncode == 0, done.stderr
    assert (folder / out.name).read_bytes() == out.read_bytes()


def test_an_uploaded_source_is_refused_with_what_to_do(isolated, tmp_path):
    write_pool(isolated)
    at = new_app()
    at.radio(key="data.source.kind").set_value("upload").run()
    at.file_uploader(key="data.source.upload").set_value(("mine.jsonl", (isolated / "pool.jsonl").read_bytes(),
                                                          "application/octet-stream")).run()
    load_in_form(at, "target", "local", "targets.jsonl")
    at.switch_page("pages/score.py").run()
    next(button for button in at.button if button.label == "Start scoring").click().run()
    assert JobManager.shared().wait(session_of(at).result.job_id, timeout=120).state == "done"
    open_export(at)
    out, _manifest, _removed = exported(at, tmp_path / "app-export")
    again = zipfit("select", "--from-manifest", manifest_path(out), "--out", tmp_path / "again.jsonl",
                   cwd=tmp_path, cache=JobManager.shared().cache_dir)
    assert again.returncode == 2
    assert "mine.jsonl was uploaded to the app" in again.stderr and "save the file" in again.stderr
    assert not (tmp_path / "again.jsonl").exists()
    script = next(block.value for block in at.code if "zipfit select" in block.value)
    assert "save it as mine.jsonl here first" in script


def test_a_folder_export_of_another_methods_scores_replays_and_its_commands_match(isolated, tmp_path, monkeypatch):
    """Random scores with seed 7 (the method cache, a setting on the command line), a group capped at its pool
    share, near-duplicates removed, no score column, written to the export folder as Parquet."""
    monkeypatch.setenv("ZIPFIT_SMALL_EXPORT_ROWS", "10")
    write_pool(isolated)
    at = new_app()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "local", "targets.jsonl")
    at.switch_page("pages/score.py").run()
    at.selectbox(key="score.method").set_value("random").run()
    at.number_input(key="score.random.seed").set_value(7).run()
    next(button for button in at.button if button.label == "Start scoring").click().run()
    assert JobManager.shared().wait(session_of(at).result.job_id, timeout=120).state == "done"
    shaping.record(session_of(at).result.run, Shaping(patterns=("^The council met on day 1",),
                                                      caps=(GroupCap("source", None, None),)))
    at.switch_page("pages/explore.py").run()
    set_cut(at, "top_percent", 25.0)
    open_export(at)
    at.toggle(key="export.dedup").set_value(True).run()
    at.toggle(key="export.include_score").set_value(False).run()
    at.radio(key="export.format").set_value("parquet").run()
    next(button for button in at.button if button.label == "Write to the export folder").click().run()
    assert_no_exception(at)
    job = session_of(at).folder_export
    assert JobManager.shared().wait(job.work_id, timeout=120).state == "done"
    manifest = json.loads(manifest_path(job.output).read_text())
    assert manifest["plan"]["shaping"]["caps"] == [{"column": "source", "value": None, "share": None}]
    assert ScoreRun.from_dict(manifest["replay"]["scores"]["run"]).method_settings() == ("random", {"seed": 7})
    for cache in (JobManager.shared().cache_dir, tmp_path / "empty-cache"):
        again = zipfit("select", "--from-manifest", manifest_path(job.output), "--out", tmp_path / "again.parquet",
                       cwd=tmp_path, cache=cache)
        assert again.returncode == 0, again.stderr
        assert (tmp_path / "again.parquet").read_bytes() == job.output.read_bytes()
    script = next(block.value for block in at.code if "zipfit select" in block.value)
    assert "--method random --setting seed=7" in script and "--cap=source=*:pool" in script
    assert "--dedup" in script and "--no-score" in script
    folder = tmp_path / "by-hand"
    folder.mkdir()
    done = shell(script, folder, tmp_path / "fresh-cache")
    assert done.returncode == 0, done.stderr
    assert (folder / job.output.name).read_bytes() == job.output.read_bytes()
