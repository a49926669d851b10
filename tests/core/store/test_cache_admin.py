"""Seeing and reclaiming the score cache's disk: list, remove, prune (core, `zipfit cache`; the Score page's side is
app/test_cache_page.py).

Entries are made by the real code paths (`run_foreground`, a cancelled job, `score_sources` for a method;
cache_entries.py); sizes are checked against the files on disk, ages by setting mtimes. Running jobs are held still
by gating `source_unit_moments` on an event, so nothing depends on timing. Data: ProofNet statements bundled
in zipfit_core/data/demo_data (see its ATTRIBUTION.md), made by proofnet_jobs.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import zipfit_core.store.method_cache as method_cache_module
from tests.cache_entries import SOURCES, TARGETS_USED, finished_entry, method_entry, partial_entry
from tests.proofnet_jobs import HeldJobs, count_computed_pairs
from zipfit_core.cli.main import main
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.method_scores import stored_scores
from zipfit_core.jobs.score_job import ScoreRequest
from zipfit_core.store.cache_admin import PruneCriteria, format_size, list_cache, parse_size, prune_cache, remove_entry
from zipfit_core.store.method_cache import memo
from zipfit_core.store.score_cache import CacheEntry

DAY = 86400.0


@pytest.fixture
def populated(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "cache"
    return root, {"finished": finished_entry(root), "partial": partial_entry(root), "method": method_entry(root)}


def bytes_on_disk(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def age(folder: Path, days: float) -> None:
    """Make the entry look last written `days` ago."""
    when = time.time() - days * DAY
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (when, when))


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- listing --------------------------------------------------------------------------------------
def test_list_shows_a_finished_a_partial_and_a_method_entry_with_their_sizes(populated, capsys) -> None:
    root, keys = populated
    items = {item.key: item for item in list_cache(root)}
    assert set(items) == set(keys.values())
    finished, partial, method = (items[keys[name]] for name in ("finished", "partial", "method"))
    assert (finished.kind, finished.state, finished.label, finished.codec, finished.level) == (
        "zipfit", "complete", "finished", "gzip", 9)
    assert (finished.n_sources, finished.n_targets, finished.targets_done) == (60, 20, 20)
    assert (partial.kind, partial.state, partial.n_sources, partial.targets_done) == ("zipfit", "partial", 50, 2)
    assert partial.state_text == "partial (2/20 targets)"
    assert (method.kind, method.state, method.codec, method.n_sources, method.n_targets) == (
        "random", "complete", None, 60, 20)
    for item in items.values():
        assert item.reusable and item.problem is None
        assert item.size_bytes == bytes_on_disk(item.path) > 0
        assert time.time() - 600 < item.modified <= time.time() + 1

    code, out, _ = run_main(capsys, "cache", "list", "--cache-dir", str(root))
    assert code == 0
    for item in items.values():
        line = next(line for line in out.splitlines() if line.startswith(item.key[:12]))
        assert item.kind in line and format_size(item.size_bytes) in line and item.state_text in line
    assert f"3 entries, {format_size(sum(item.size_bytes for item in items.values()))}" in out

    code, out, _ = run_main(capsys, "cache", "list", "--cache-dir", str(root), "--json")
    listed = json.loads(out)
    assert code == 0 and listed["total_bytes"] == sum(item.size_bytes for item in items.values())
    assert {entry["key"]: entry["size_bytes"] for entry in listed["entries"]} == {
        key: item.size_bytes for key, item in items.items()}


def test_sizes_parse_and_print_in_powers_of_1000_and_1024() -> None:
    assert parse_size("2GB") == 2_000_000_000 and parse_size("1.5 GiB") == 1.5 * 2**30
    assert parse_size("500mb") == 500_000_000 and parse_size("1024") == 1024
    assert format_size(16_655) == "16.7 kB" and format_size(999) == "999 B"
    with pytest.raises(ZipFitError, match="not understood"):
        parse_size("lots")


# -- removing -------------------------------------------------------------------------------------
def test_remove_deletes_exactly_that_entry_and_a_later_submit_recomputes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    others = {"partial": partial_entry(root), "method": method_entry(root)}
    manager = JobManager(root, workers=1)
    request = ScoreRequest(SOURCES, TARGETS_USED, label="finished")
    key = manager.submit(request)
    assert manager.wait(key, timeout=120).state == "done"
    first = manager.result(key).copy()
    untouched = {path: files_of(path) for path in [root / others["partial"], root / "methods" / others["method"]]}

    removed = manager.remove_cached(key[:10])  # a unique prefix is enough
    assert removed.key == key and removed.size_bytes > 0
    assert not (root / key).exists()
    assert [path.name for path in root.iterdir() if path.name.startswith(".")] == []  # no tombstone left
    assert {path: files_of(path) for path in untouched} == untouched
    assert {item.key for item in list_cache(root)} == set(others.values())

    computed = count_computed_pairs(monkeypatch)
    assert manager.submit(request) == key
    status = manager.wait(key, timeout=120)
    assert status.state == "done" and status.resumed == 0
    assert computed[0] == len(SOURCES) * len(TARGETS_USED)  # every pair again: nothing came from memory or disk
    assert np.array_equal(manager.result(key), first)
    assert (root / key / "manifest.json").exists()


def test_removing_a_running_jobs_entry_is_refused_and_prune_keeps_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    held = HeldJobs(monkeypatch)
    manager = JobManager(root, workers=1)
    key = manager.submit(ScoreRequest(SOURCES, TARGETS_USED))
    try:
        assert held.entered.wait(60)
        with pytest.raises(ZipFitError, match="running on it: cancel it first"):
            manager.remove_cached(key)
        with pytest.raises(ZipFitError, match="another process is computing it"):  # the entry's lock, as
            remove_entry(root, key)                                                 # `zipfit cache` sees it
        report = manager.prune_cache(PruneCriteria(other_versions=True))  # no checkpoint yet: "empty"
        assert report.removed == [] and [item.key for item, _ in report.kept_in_use] == [key]
        assert (root / key / "lock").exists()
    finally:
        manager.cancel(key)
        held.release.set()
        assert manager.wait(key, timeout=60).state == "cancelled"
    assert manager.remove_cached(key).key == key  # stopped: now it goes
    assert not (root / key).exists()


LOCK_HOLDER = """
import fcntl, sys
handle = open(sys.argv[1], "a+b")
fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


def test_an_entry_locked_by_another_process_is_refused(populated, capsys) -> None:
    root, keys = populated
    key = keys["partial"]
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(root / key / "lock")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ZipFitError, match="another process is computing it"):
            remove_entry(root, key)
        code, out, err = run_main(capsys, "cache", "remove", key[:12], "--cache-dir", str(root))
        assert code == 2 and "another process is computing it" in err and "removed" not in out
        assert (root / key / "manifest.json").exists()
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert remove_entry(root, key).key == key
    assert not (root / key).exists()


def test_a_reader_racing_a_removal_finds_the_whole_entry_or_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry disappears between a reader's manifest and its data file: the reader finds no entry
    (no damage warning, no half result), for a ZIP-FIT job and for a method's scores."""
    root = tmp_path / "cache"
    key, method = finished_entry(root), method_entry(root)
    original_manifest, reads = CacheEntry.read_manifest, []

    def removed_after_the_second_read(entry: CacheEntry) -> dict:
        manifest = original_manifest(entry)
        reads.append(entry.key)
        if len(reads) == 2:  # `JobManager` checks the manifest, then `load()` reads it and the data file
            remove_entry(root, key)
        return manifest

    monkeypatch.setattr(CacheEntry, "read_manifest", removed_after_the_second_read)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert JobManager(root).result(key) is None
        assert len(reads) >= 2 and not (root / key).exists()

        original_sha = method_cache_module.file_sha256

        def removed_before_the_data_is_read(path: Path) -> str:
            remove_entry(root, method)
            return original_sha(path)

        monkeypatch.setattr(method_cache_module, "file_sha256", removed_before_the_data_is_read)
        memo.clear()
        assert stored_scores("random", SOURCES, TARGETS_USED, cache_dir=root) is None
    assert list_cache(root) == []


# -- pruning --------------------------------------------------------------------------------------
def test_prune_by_age_removes_only_old_entries(populated) -> None:
    root, keys = populated
    age(root / keys["partial"], 40)
    age(root / "methods" / keys["method"], 10)
    dry = prune_cache(root, PruneCriteria(older_than_days=30), dry_run=True)
    assert [item.key for item in dry.removed] == [keys["partial"]] and (root / keys["partial"]).exists()
    report = prune_cache(root, PruneCriteria(older_than_days=30))
    assert [item.key for item in report.removed] == [keys["partial"]]
    assert report.freed_bytes == dry.freed_bytes > 0
    assert {item.key for item in list_cache(root)} == {keys["finished"], keys["method"]}


def copy_entry(source: Path, edit) -> Path:
    """A copy of an entry under another 64-hex name, with its manifest changed by `edit`."""
    target = source.with_name(hashlib.sha256(f"{source.name} {edit.__name__}".encode()).hexdigest())
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    edit(manifest, target.name)
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def older_package(manifest: dict, key: str) -> None:
    manifest["settings"]["package_version"] = "0.0.1"
    manifest["key"] = key


def older_format(manifest: dict, key: str) -> None:
    manifest["format_version"] = 0
    manifest["key"] = key


def older_method(manifest: dict, key: str) -> None:
    manifest["identity"]["version"] = "0.0.1"


def test_prune_other_versions_removes_what_this_version_cannot_reuse_and_nothing_else(populated) -> None:
    root, keys = populated
    stale = {copy_entry(root / keys["finished"], older_package).name,
             copy_entry(root / keys["partial"], older_format).name,
             copy_entry(root / "methods" / keys["method"], older_method).name}
    damaged = root / ("d" * 64)
    damaged.mkdir()
    (damaged / "manifest.json").write_text("{ not json")
    stale.add(damaged.name)
    (root / "notes").mkdir()  # not a cache entry: never listed, never removed
    (root / "notes" / "keep.txt").write_text("mine")

    items = {item.key: item for item in list_cache(root)}
    assert {key for key, item in items.items() if not item.reusable} == stale
    assert all("0.0.1" in items[key].problem for key in stale if items[key].kind in ("random", "zipfit")
               and items[key].state == "complete")
    assert any("format version 0" in items[key].problem for key in stale)
    assert items[damaged.name].state == "damaged"

    report = prune_cache(root, PruneCriteria(other_versions=True))
    assert {item.key for item in report.removed} == stale
    assert {item.key for item in list_cache(root)} == set(keys.values())
    assert (root / "notes" / "keep.txt").read_text() == "mine"


def test_prune_to_a_size_removes_the_least_recently_written_first(populated, capsys) -> None:
    root, keys = populated
    age(root / keys["finished"], 3)
    age(root / "methods" / keys["method"], 2)
    age(root / keys["partial"], 1)
    sizes = {item.key: item.size_bytes for item in list_cache(root)}
    limit = sizes[keys["partial"]] + sizes[keys["method"]]
    code, out, _ = run_main(capsys, "cache", "prune", "--max-size", str(limit), "--dry-run", "--cache-dir", str(root))
    assert code == 0 and f"would remove {keys['finished'][:12]}" in out
    assert f"would free {format_size(sizes[keys['finished']])}" in out and len(list_cache(root)) == 3

    report = prune_cache(root, PruneCriteria(max_size_bytes=limit))
    assert [item.key for item in report.removed] == [keys["finished"]] and report.size_after <= limit
    report = prune_cache(root, PruneCriteria(max_size_bytes=limit - 1))
    assert [item.key for item in report.removed] == [keys["method"]]
    assert [item.key for item in list_cache(root)] == [keys["partial"]]


# -- the command line -------------------------------------------------------------------------------
def test_cli_exit_codes_and_messages(populated, capsys, tmp_path: Path) -> None:
    root, keys = populated
    where = ("--cache-dir", str(root))
    code, _, err = run_main(capsys, "cache", "remove", "deadbeefdead", *where)
    assert code == 2 and err.startswith("zipfit: error: No cache entry 'deadbeefdead'") and "zipfit cache list" in err
    code, _, err = run_main(capsys, "cache", "remove", keys["method"][:3], *where)
    assert code == 2 and "too short" in err
    code, out, err = run_main(capsys, "cache", "remove", keys["finished"], "not-a-key", *where)
    assert code == 2 and out == "" and (root / keys["finished"]).exists()  # every key is checked first
    code, _, err = run_main(capsys, "cache", "prune", *where)
    assert code == 2 and "Say what to prune" in err
    code, _, err = run_main(capsys, "cache", "prune", "--max-size", "lots", *where)
    assert code == 2 and "Size 'lots' is not understood" in err

    code, out, _ = run_main(capsys, "cache", "remove", keys["finished"][:12], keys["method"][:12], *where)
    assert code == 0
    assert f"removed {keys['finished'][:12]}" in out and f"removed {keys['method'][:12]}" in out and "freed" in out
    assert [item.key for item in list_cache(root)] == [keys["partial"]]

    code, out, _ = run_main(capsys, "cache", "prune", "--older-than", "0", *where)
    assert code == 0 and "freed" in out and "(1 entry); the cache now holds 0 B" in out
    code, out, _ = run_main(capsys, "cache", "list", *where)
    assert code == 0 and "is empty" in out


def test_zipfit_cache_list_as_a_user_runs_it(populated, run_cli) -> None:
    root, keys = populated
    result = run_cli("cache", "list", "--cache-dir", root)
    assert result.returncode == 0, result.stderr
    assert all(key[:12] in result.stdout for key in keys.values()) and "3 entries" in result.stdout
