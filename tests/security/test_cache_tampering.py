"""What an edited or hostile score cache cannot do (issue 21, items 10 and 15): serve numbers its data does not
back, hang or exhaust `zipfit cache list`, or let `cache prune` take an age that is not a number of days.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.cache_entries import SOURCES, TARGETS_USED, finished_entry, partial_entry
from zipfit_core.errors import CacheDamaged
from zipfit_core.jobs.score_job import ScoreRequest, run_foreground
from zipfit_core.scoring.alignment import alignment_scores
from zipfit_core.store.score_cache import MANIFEST_NAME, CacheEntry


def edit_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    change(manifest)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


def one_round_back(manifest: dict) -> None:
    """What the probe did: `"rounds_done": 4` -> 3 (and the fields shown with it, so the edit looks consistent)."""
    progress = manifest["progress"]
    progress.update(rounds_done=progress["rounds_done"] - 1, complete=False)


@pytest.mark.parametrize("edit", ["rounds_done one back", "round_rows_done forward"])
def test_an_edited_cache_manifest_is_recomputed_never_served(tmp_path: Path, edit: str) -> None:
    exact = alignment_scores(SOURCES, TARGETS_USED)
    key = finished_entry(tmp_path)
    folder = tmp_path / key
    edit_manifest(folder, one_round_back)
    if edit == "round_rows_done forward":
        edit_manifest(folder, lambda manifest: manifest["progress"].update(round_rows_done=len(SOURCES) // 2))
    with pytest.raises(CacheDamaged, match="does not match"):
        CacheEntry(tmp_path, key).load_matching(ScoreRequest(SOURCES, TARGETS_USED).resolved_run(),
                                                 _schedule(folder))
    with pytest.warns(RuntimeWarning, match="damaged"):
        scores = run_foreground(ScoreRequest(SOURCES, TARGETS_USED), tmp_path, workers=1)
    assert np.array_equal(scores, exact)  # recomputed: the probe got scores up to 0.173 off, silently
    assert np.array_equal(run_foreground(ScoreRequest(SOURCES, TARGETS_USED), tmp_path, workers=1), exact)


def test_an_edited_partial_entry_is_recomputed_not_resumed(tmp_path: Path) -> None:
    key = partial_entry(tmp_path)
    folder = tmp_path / key
    edit_manifest(folder, lambda manifest: manifest["progress"].update(rounds_done=0, targets_done=0))
    with pytest.raises(CacheDamaged, match="does not match"):
        CacheEntry(tmp_path, key).load()


def _schedule(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_NAME).read_text())["schedule"]


def _limited_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # reading /dev/zero whole fails here, not the host


def cache_list(cache_dir: Path) -> subprocess.CompletedProcess:
    """`zipfit cache list` as a user runs it; a hang or a runaway read fails the test instead of the machine."""
    environment = dict(os.environ, PYTHONUNBUFFERED="1", ZIPFIT_CACHE_DIR=str(cache_dir))
    try:
        return subprocess.run([sys.executable, "-m", "zipfit_core", "cache", "list", "--cache-dir", str(cache_dir)],
                              env=environment, capture_output=True, text=True, timeout=120,
                              preexec_fn=_limited_memory)
    except subprocess.TimeoutExpired:
        pytest.fail("`zipfit cache list` hung on the manifest")


def _as_link(manifest: Path, elsewhere: Path) -> None:
    elsewhere.write_bytes(manifest.read_bytes())
    manifest.unlink()
    manifest.symlink_to(elsewhere)


HOSTILE_MANIFESTS = {
    "a link to a valid manifest": lambda manifest, tmp: _as_link(manifest, tmp / "elsewhere.json"),
    "a FIFO": lambda manifest, tmp: (manifest.unlink(), os.mkfifo(manifest)),
    "a link to /dev/zero": lambda manifest, tmp: (manifest.unlink(), manifest.symlink_to("/dev/zero")),
}


@pytest.mark.parametrize("hostile", sorted(HOSTILE_MANIFESTS))
def test_a_cache_manifest_that_is_a_link_fifo_or_device_is_refused_and_listed_as_damaged(tmp_path: Path,
                                                                                         hostile: str) -> None:
    cache_dir = tmp_path / "cache"
    key = finished_entry(cache_dir)
    manifest = cache_dir / key / MANIFEST_NAME
    HOSTILE_MANIFESTS[hostile](manifest, tmp_path)
    listed = cache_list(cache_dir)  # first, in a child process: reading a FIFO or /dev/zero must not stop pytest
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(key[:12]))
    assert "damaged" in row
    with pytest.raises(CacheDamaged):
        CacheEntry(cache_dir, key).load()


def test_the_manifest_reader_is_bounded(tmp_path: Path) -> None:
    from zipfit_core.store.files import UnreadableFile, read_json_file  # new with this reader

    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"padding": "x" * 2000}))
    assert read_json_file(path, max_bytes=4096)["padding"] == "x" * 2000
    with pytest.raises(UnreadableFile, match="larger"):
        read_json_file(path, max_bytes=1024)


@pytest.mark.parametrize("days", ["nan", "inf", "-1"])
def test_cache_prune_refuses_an_age_that_is_not_a_number_of_days(cli, tmp_path: Path, days: str) -> None:
    result = cli("cache", "prune", f"--older-than={days}", "--cache-dir", tmp_path)
    assert result.returncode == 2 and "--older-than" in result.stderr and "finite" in result.stderr, result.stderr
