"""Background scoring jobs: progress, preview, cancel, resume after SIGKILL, joining, a damaged cache.

Data: ProofNet statements glued into sources of different lengths and contents (proofnet_jobs.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.proofnet_jobs import TARGETS, count_computed_pairs, make_sources
from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.schedule import round_ends, target_order
from zipfit_core.jobs.score_job import ScoreJob, ScoreRequest, run_foreground
from zipfit_core.scoring.alignment import alignment_scores
from zipfit_core.store.cache_admin import list_cache
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.score_cache import CacheEntry, ScoreState
from zipfit_core.store.score_state import from_limbs, to_limbs

SMALL_SOURCES = make_sources(120)
SMALL_TARGETS = TARGETS[:40]


@pytest.fixture(scope="module")
def small_exact() -> np.ndarray:
    return alignment_scores(SMALL_SOURCES, SMALL_TARGETS, workers=2)


def manifest_of(cache_dir: Path) -> dict:
    (folder,) = [path for path in cache_dir.iterdir() if path.is_dir() and path.name != "data"]  # data: loaded data
    return json.loads((folder / "manifest.json").read_text())


# -- the schedule --------------------------------------------------------------------------------
def test_round_schedule_doubles_then_caps_and_covers_every_target() -> None:
    assert round_ends(1) == (1,)
    assert round_ends(185) == (2, 6, 14, 30, 62, 126, 185)
    ends = round_ends(1000)
    sizes = np.diff((0,) + ends)
    assert ends[-1] == 1000 and sizes.max() == 64 and sizes[0] == 2
    order = target_order(185)
    assert sorted(order) == list(range(185)) and order != list(range(185))
    assert target_order(185) == order  # fixed, not drawn from a global RNG


def test_a_jobs_running_sums_are_numpy_limbs_exact_past_int64(tmp_path: Path) -> None:
    state = ScoreState.fresh(3, (2, 4))
    arrays = (state.sums, state.squares, state.round_sums, state.round_squares)
    assert all(isinstance(array, np.ndarray) and array.dtype == np.int64 for array in arrays)  # no int per row
    big = [2**62 + 5, -(2**61) - 3, 7]
    for _ in range(2):
        state.add_round_block(0, [(value, value * value) for value in big])
        state.commit_round()
    assert from_limbs(list(state.sums)) == [2 * value for value in big]
    assert from_limbs(list(state.squares)) == [2 * value * value for value in big]
    assert state.exact_scores().tolist() == [2 * value / (4 * 2**53) for value in big]
    entry = CacheEntry(tmp_path, "k")
    run = ScoreRun.for_plain_texts(["a", "b", "c"], ["t"] * 4, settings={"codec": "gzip", "level": 9})
    entry.save(state, run, {"round_ends": [2, 4]}, "")
    _, loaded = entry.load()
    for name in ("sums", "squares", "round_sums", "round_squares"):
        assert np.array_equal(getattr(loaded, name), getattr(state, name))


def test_exact_integers_survive_parquet_limbs() -> None:
    values = [0, 1, -1, 2**53, -(2**53) + 7, 2**62 - 1, 2**62, -(2**62), 3 * 2**106 + 12345, -(2**120) + 5]
    assert from_limbs(to_limbs(values, 2)) == values
    squares = [v * v for v in values if abs(v) < 2**63] + [185 * 2**106]
    assert from_limbs(to_limbs(squares, 3)) == squares
    with pytest.raises(OverflowError):  # never silently wrapped
        to_limbs([2**126], 2)


# -- a job in the background ---------------------------------------------------------------------
def test_job_progress_moves_and_final_scores_equal_alignment_scores(tmp_path: Path, small_exact: np.ndarray) -> None:
    manager = JobManager(tmp_path, workers=2)
    key = manager.submit(ScoreRequest(SMALL_SOURCES, SMALL_TARGETS, label="small"))
    seen = []
    while True:
        status = manager.status(key)
        seen.append(status)
        if status.finished:
            break
        time.sleep(0.01)
    assert status.state == "done", status
    assert status.done == status.total == len(SMALL_SOURCES) * len(SMALL_TARGETS)
    assert status.targets_seen == status.n_targets == len(SMALL_TARGETS)
    done = [s.done for s in seen]
    assert done == sorted(done)
    assert np.array_equal(manager.result(key), small_exact)
    snapshot = manager.snapshot(key)
    assert snapshot.complete and np.array_equal(snapshot.scores, small_exact)
    assert not snapshot.stderr.any()
    (listed,) = list_cache(tmp_path)
    assert (listed.key, listed.label, listed.state, listed.n_sources, listed.n_targets) == (
        key, "small", "complete", len(SMALL_SOURCES), len(SMALL_TARGETS))


def test_preview_is_the_mean_over_the_targets_seen_and_converges(tmp_path: Path, small_exact: np.ndarray) -> None:
    snapshots = []
    job = ScoreJob(ScoreRequest(SMALL_SOURCES, SMALL_TARGETS), tmp_path, workers=2,
                   on_progress=lambda status: snapshots.append(job.snapshot()))
    job.run()
    previews = {s.targets_seen: s for s in snapshots if s is not None}
    assert sorted(previews) == list(round_ends(len(SMALL_TARGETS)))
    order = target_order(len(SMALL_TARGETS))
    errors = []
    for seen, preview in sorted(previews.items()):
        if preview.complete:
            continue
        subset = [SMALL_TARGETS[i] for i in order[:seen]]
        np.testing.assert_allclose(preview.scores, alignment_scores(SMALL_SOURCES, subset, workers=2), rtol=1e-12)
        assert (preview.stderr > 0).all()
        errors.append(np.abs(preview.scores - small_exact).max())
        if seen >= 6:  # the standard error describes the real error for most rows
            assert np.mean(np.abs(preview.scores - small_exact) <= 3 * preview.stderr) >= 0.9
    assert errors == sorted(errors, reverse=True)
    final = previews[len(SMALL_TARGETS)]
    assert final.complete and np.array_equal(final.scores, small_exact) and not final.stderr.any()


def test_cancel_stops_the_job_and_keeps_its_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources, targets = make_sources(1500, seed=1, pieces=4), TARGETS[:60]
    computed = count_computed_pairs(monkeypatch)
    manager = JobManager(tmp_path, workers=1, checkpoint_seconds=0.05)
    key = manager.submit(ScoreRequest(sources, targets))
    deadline = time.monotonic() + 60
    while not (tmp_path / key / "manifest.json").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    manager.cancel(key)
    status = manager.wait(key, timeout=30)
    assert status.state == "cancelled", status
    saved = manifest_of(tmp_path)["progress"]
    assert 0 < saved["done_pairs"] < status.total
    assert status.done == saved["done_pairs"]
    assert "resume" in status.message

    # Submitting again resumes from the checkpoint: finished pairs are not computed again.
    computed[0] = 0
    again = manager.submit(ScoreRequest(sources, targets))
    final = manager.wait(again, timeout=120)
    assert again == key and final.state == "done"
    assert final.resumed == saved["done_pairs"]
    assert computed[0] == final.total - saved["done_pairs"]
    assert np.array_equal(manager.result(key), alignment_scores(sources, targets, workers=2))


def test_foreground_cancel_raises_and_saves_progress(tmp_path: Path) -> None:
    calls = []

    def cancel_after_some_progress() -> bool:
        return len(calls) > 3

    request = ScoreRequest(make_sources(400, seed=2), TARGETS[:30])
    with pytest.raises(ScoringCancelled, match="resume"):
        run_foreground(request, tmp_path, progress=calls.append, cancel=cancel_after_some_progress,
                       workers=1, checkpoint_seconds=0)
    assert manifest_of(tmp_path)["progress"]["done_pairs"] > 0


def test_a_queued_job_says_it_is_waiting(tmp_path: Path) -> None:
    manager = JobManager(tmp_path, max_concurrent_jobs=1, workers=1)
    first = manager.submit(ScoreRequest(make_sources(1500, seed=3, pieces=4), TARGETS[:60]))
    second = manager.submit(ScoreRequest(SMALL_SOURCES, SMALL_TARGETS))
    waiting = manager.status(second)
    assert waiting.state == "queued" and waiting.message.startswith("waiting for a free slot (1 job running")
    assert manager.snapshot(second) is None and manager.result(second) is None
    manager.cancel(first)
    assert manager.wait(second, timeout=60).state == "done"
    assert manager.status(first).state == "cancelled"


def test_unknown_job_id_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(ZipFitError, match="Unknown job"):
        JobManager(tmp_path).status("0" * 64)


# -- the same work twice -------------------------------------------------------------------------
def test_two_concurrent_requests_for_the_same_work_run_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              small_exact: np.ndarray) -> None:
    computed = count_computed_pairs(monkeypatch)
    manager = JobManager(tmp_path, max_concurrent_jobs=2, workers=1)
    keys = []
    # Two "browser sessions" submit at the same moment, each with its own copy of the texts.
    threads = [threading.Thread(target=lambda: keys.append(manager.submit(
        ScoreRequest(list(SMALL_SOURCES), list(SMALL_TARGETS))))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert keys[0] == keys[1]
    assert manager.wait(keys[0], timeout=60).state == "done"
    assert computed[0] == len(SMALL_SOURCES) * len(SMALL_TARGETS)
    assert np.array_equal(manager.result(keys[0]), small_exact)

    # Later, another manager (another process) gets the finished result from the cache.
    other = JobManager(tmp_path)
    key = other.submit(ScoreRequest(SMALL_SOURCES, SMALL_TARGETS))
    assert other.status(key).state == "done" and other.status(key).message == "loaded from the cache"
    assert computed[0] == len(SMALL_SOURCES) * len(SMALL_TARGETS)
    assert np.array_equal(other.result(key), small_exact)


def test_a_second_manager_follows_the_running_job_instead_of_recomputing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    computed = count_computed_pairs(monkeypatch)
    sources, targets = make_sources(600, seed=4), TARGETS[:40]
    first, second = JobManager(tmp_path, workers=1), JobManager(tmp_path, workers=1)
    key = first.submit(ScoreRequest(sources, targets))
    while first.status(key).done == 0 and not first.status(key).finished:
        time.sleep(0.01)
    assert second.submit(ScoreRequest(sources, targets)) == key
    assert second.wait(key, timeout=120).state == "done"
    assert first.wait(key, timeout=120).state == "done"
    assert computed[0] == len(sources) * len(targets)
    assert np.array_equal(second.result(key), first.result(key))


def test_a_finished_result_can_be_reopened_by_key_without_the_texts(tmp_path: Path, small_exact: np.ndarray) -> None:
    run_foreground(ScoreRequest(SMALL_SOURCES, SMALL_TARGETS, label="pool vs ProofNet"), tmp_path)
    manager = JobManager(tmp_path)
    (listed,) = list_cache(tmp_path)
    assert listed.label == "pool vs ProofNet" and listed.state == "complete"
    assert manager.status(listed.key).state == "done"
    assert np.array_equal(manager.result(listed.key), small_exact)
    assert np.array_equal(manager.snapshot(listed.key).scores, small_exact)


# -- a damaged cache -----------------------------------------------------------------------------
def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def edit_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


DAMAGES = {
    "data file bytes": lambda folder: flip_a_byte(next(folder.glob("state-*.parquet"))),
    "data file missing": lambda folder: next(folder.glob("state-*.parquet")).unlink(),
    "manifest not JSON": lambda folder: (folder / "manifest.json").write_text("{not json"),
    "other format version": lambda folder: edit_manifest(folder, lambda m: m.update(format_version=999)),
    "foreign key": lambda folder: edit_manifest(folder, lambda m: m.update(key="f" * 64)),
    "other target order": lambda folder: edit_manifest(folder, lambda m: m["schedule"].update(seed=1)),
    "progress out of range": lambda folder: edit_manifest(folder, lambda m: m["progress"].update(rounds_done=99)),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("complete", [True, False], ids=["complete", "partial"])
def test_a_damaged_cache_entry_is_reported_and_recomputed(tmp_path: Path, small_exact: np.ndarray,
                                                          damage: str, complete: bool) -> None:
    request = ScoreRequest(SMALL_SOURCES, SMALL_TARGETS)
    if complete:
        run_foreground(request, tmp_path)
    else:
        with pytest.raises(ScoringCancelled):
            run_foreground(request, tmp_path, progress=lambda status: None,
                           cancel=lambda: manifest_exists(tmp_path), checkpoint_seconds=0)
    (folder,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    DAMAGES[damage](folder)
    statuses = []
    with pytest.warns(RuntimeWarning, match="damaged"):
        scores = run_foreground(request, tmp_path, progress=statuses.append)
    assert np.array_equal(scores, small_exact)
    assert statuses[-1].resumed == 0  # nothing was taken from the damaged entry
    manifest, state = CacheEntry(tmp_path, folder.name).load()  # and the entry is whole again
    assert state.complete and np.array_equal(state.exact_scores(), small_exact)


def manifest_exists(cache_dir: Path) -> bool:
    return any(cache_dir.glob("*/manifest.json"))


def test_the_manager_reports_a_damaged_entry_in_the_status(tmp_path: Path, small_exact: np.ndarray) -> None:
    request = ScoreRequest(SMALL_SOURCES, SMALL_TARGETS)
    run_foreground(request, tmp_path)
    (folder,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    flip_a_byte(next(folder.glob("state-*.parquet")))
    manager = JobManager(tmp_path)
    with pytest.warns(RuntimeWarning, match="checksum"):
        key = manager.submit(request)
        status = manager.wait(key, timeout=60)
    assert status.state == "done"
    job = manager._work(key)
    assert any("checksum" in text for text in job.warnings)
    assert np.array_equal(manager.result(key), small_exact)


# -- the command line ----------------------------------------------------------------------------
def write_jsonl(path: Path, texts: list[str]) -> Path:
    pd.DataFrame({"text": texts}).to_json(path, orient="records", lines=True, force_ascii=False)
    return path


def cli(*args, env: dict | None = None, **popen) -> subprocess.Popen:
    environment = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "zipfit_core", "score", *map(str, args)],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_cli_killed_with_sigkill_resumes_to_identical_scores_without_redoing_work(tmp_path: Path) -> None:
    sources, targets = make_sources(1200, seed=5, pieces=4), TARGETS[:60]
    source_file = write_jsonl(tmp_path / "pool.jsonl", sources)
    target_file = write_jsonl(tmp_path / "target.jsonl", targets)
    cache = tmp_path / "cache"
    arguments = (source_file, target_file, "--out", tmp_path / "scores.parquet", "--cache-dir", cache,
                 "--workers", "2")
    first = cli(*arguments, env={"ZIPFIT_CHECKPOINT_SECONDS": "0.2"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        manifests = list(cache.glob("*/manifest.json"))
        if manifests and json.loads(manifests[0].read_text())["progress"]["done_pairs"] > 0:
            break
        time.sleep(0.02)
    assert first.poll() is None, "the first run finished before it could be killed: make the workload bigger"
    first.send_signal(signal.SIGKILL)
    first.communicate()
    saved = manifest_of(cache)["progress"]
    total = len(sources) * len(targets)
    assert 0 < saved["done_pairs"] < total and not saved["complete"]

    second = cli(*arguments)
    _, stderr = second.communicate(timeout=300)
    assert second.returncode == 0, stderr
    assert f"resuming: {saved['done_pairs']:,} of {total:,} pairs" in stderr
    match = re.search(r"\(([\d,]+) pairs computed, ([\d,]+) resumed from the cache\)", stderr)
    computed, resumed = (int(group.replace(",", "")) for group in match.groups())
    assert (computed, resumed) == (total - saved["done_pairs"], saved["done_pairs"])
    written = pd.read_parquet(tmp_path / "scores.parquet")
    assert np.array_equal(written["score"].to_numpy(), alignment_scores(sources, targets, workers=2))
    # The per-target facts kept beside the scores are those of an uninterrupted run.
    run_foreground(ScoreRequest(sources, targets), tmp_path / "whole", workers=1)
    resumed, whole = (CacheEntry(folder.parent, folder.name).load()[1].target_facts()
                      for folder in (next(cache.glob("*/manifest.json")).parent,
                                     next((tmp_path / "whole").glob("*/manifest.json")).parent))
    for field in ("top_rows", "top_similarity", "mean", "spread"):
        assert np.array_equal(getattr(resumed, field), getattr(whole, field), equal_nan=field == "top_similarity")

    # A third run is served from the cache.
    third = cli(*arguments[:3], tmp_path / "again.parquet", *arguments[4:])
    _, stderr = third.communicate(timeout=120)
    assert third.returncode == 0 and "(loaded from the cache)" in stderr
    assert np.array_equal(pd.read_parquet(tmp_path / "again.parquet")["score"].to_numpy(),
                          written["score"].to_numpy())


def test_cli_no_cache_leaves_the_cache_folder_alone(tmp_path: Path, small_exact: np.ndarray) -> None:
    source_file = write_jsonl(tmp_path / "pool.jsonl", SMALL_SOURCES)
    target_file = write_jsonl(tmp_path / "target.jsonl", SMALL_TARGETS)
    cache = tmp_path / "cache"
    run = cli(source_file, target_file, "--out", tmp_path / "s.parquet", "--no-cache", "--quiet",
              env={"ZIPFIT_CACHE_DIR": str(cache)})
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert not cache.exists()
    assert np.array_equal(pd.read_parquet(tmp_path / "s.parquet")["score"].to_numpy(), small_exact)
    # Without flags the cache folder comes from ZIPFIT_CACHE_DIR.
    run = cli(source_file, target_file, "--out", tmp_path / "t.parquet", "--quiet",
              env={"ZIPFIT_CACHE_DIR": str(cache)})
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert len(list(cache.glob("*/manifest.json"))) == 1


def test_an_unusable_cache_folder_is_reported_and_scoring_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  small_exact: np.ndarray) -> None:
    def refuse(self) -> bool:
        raise PermissionError(13, "Permission denied", str(self.folder))

    monkeypatch.setattr(CacheEntry, "try_lock", refuse)
    with pytest.warns(RuntimeWarning, match="Could not use the score cache"):
        scores = run_foreground(ScoreRequest(SMALL_SOURCES, SMALL_TARGETS), tmp_path)
    assert np.array_equal(scores, small_exact)


def test_bad_input_fails_the_job_with_the_users_message(tmp_path: Path) -> None:
    manager = JobManager(tmp_path)
    with pytest.raises(ZipFitError, match="source row 1 is int"):
        manager.submit(ScoreRequest(["text", 5], ["target"]))
    described = ScoreRun.for_plain_texts(["text", "5"], ["target"], source_fingerprint="given by the caller")
    key = manager.submit(ScoreRequest.for_run(["text", 5], ["target"], described))
    status = manager.wait(key, timeout=30)
    assert status.state == "failed" and "source row 1 is int" in status.error
    with pytest.raises(ZipFitError, match="target set is empty"):
        manager.submit(ScoreRequest(["text"], []))
