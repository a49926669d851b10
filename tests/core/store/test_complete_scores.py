"""A finished result is reopened from its final scores and their stored ranking, not its exact sums (issue 22:
the first Explore view of a large pool maps the ranking instead of sorting again)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.cache_entries import SOURCES, TARGETS_USED, finished_entry, partial_entry
from zipfit_core.errors import CacheDamaged
from zipfit_core.jobs.manager import JobManager
from zipfit_core.scoring.alignment import alignment_scores, rank_by_score
from zipfit_core.store.files import file_sha256
from zipfit_core.store.score_cache import MANIFEST_NAME, CacheEntry


def rewrite_data_file(folder: Path, change) -> None:
    """Change the entry's data file as a writer with the checksum would: the manifest is made to match."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    path = folder / manifest["data"]["file"]
    table = change(pq.read_table(path))
    pq.write_table(table, path)
    manifest["data"]["sha256"] = file_sha256(path)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


def same_facts(first, second) -> bool:
    return all(np.array_equal(getattr(first, name), getattr(second, name), equal_nan=True)
               for name in ("top_rows", "top_similarity", "mean", "spread"))


def test_a_finished_entry_reopens_with_its_exact_scores_ranking_and_target_facts(tmp_path: Path) -> None:
    key = finished_entry(tmp_path)
    entry = CacheEntry(tmp_path, key)
    complete = entry.load_complete()
    expected = alignment_scores(SOURCES, TARGETS_USED)
    assert np.array_equal(complete.scores, expected) and not complete.scores.flags.writeable
    stored = pq.read_table(entry.folder / entry.read_manifest()["data"]["file"], columns=["ranking"])
    definition = np.lexsort((np.arange(len(expected)), -expected))
    assert stored.column(0).to_pylist() == definition.tolist()
    ranking = rank_by_score(complete.scores)
    assert ranking.tolist() == definition.tolist() and rank_by_score(complete.scores) is ranking
    _, state = entry.load()
    assert same_facts(complete.target_facts, state.target_facts()) and complete.n_targets == len(TARGETS_USED)
    assert complete.done_pairs == len(SOURCES) * len(TARGETS_USED)


def test_a_partial_entry_has_no_complete_scores(tmp_path: Path) -> None:
    assert CacheEntry(tmp_path, partial_entry(tmp_path)).load_complete() is None


def test_an_entry_written_without_a_ranking_is_read_from_its_sums(tmp_path: Path) -> None:
    key = finished_entry(tmp_path)
    rewrite_data_file(tmp_path / key, lambda table: table.drop_columns(["ranking"]))
    complete = CacheEntry(tmp_path, key).load_complete()
    assert np.array_equal(complete.scores, alignment_scores(SOURCES, TARGETS_USED))


def test_a_finished_entry_for_other_work_is_refused(tmp_path: Path) -> None:
    from zipfit_core.jobs.score_job import ScoreRequest

    key = finished_entry(tmp_path)
    other = ScoreRequest(SOURCES, TARGETS_USED, level=6).resolved_run()
    with pytest.raises(CacheDamaged, match="settings"):
        CacheEntry(tmp_path, key).load_complete(other)


def test_a_wrong_stored_ranking_is_damage_and_the_manager_does_not_serve_it(tmp_path: Path) -> None:
    key = finished_entry(tmp_path)

    def swap_best_two(table):
        ranking = table.column("ranking").to_numpy().copy()
        ranking[[0, 1]] = ranking[[1, 0]]
        return table.set_column(table.schema.get_field_index("ranking"), "ranking", [ranking])

    rewrite_data_file(tmp_path / key, swap_best_two)
    with pytest.raises(CacheDamaged, match="ranking"):
        CacheEntry(tmp_path, key).load_complete()
    with pytest.warns(RuntimeWarning, match="damaged"):
        assert JobManager(tmp_path).snapshot(key) is None


def test_the_manager_reopens_a_finished_entry_as_complete_scores(tmp_path: Path) -> None:
    key = finished_entry(tmp_path)
    snapshot = JobManager(tmp_path).snapshot(key)
    assert snapshot.complete and np.array_equal(snapshot.scores, alignment_scores(SOURCES, TARGETS_USED))
    assert not snapshot.stderr.any() and snapshot.stderr.shape == snapshot.scores.shape
    assert same_facts(snapshot.target_facts, CacheEntry(tmp_path, key).load()[1].target_facts())
