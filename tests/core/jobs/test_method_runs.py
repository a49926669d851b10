"""Background method runs (`JobManager.submit_method`) and score folders opened under a data root
(`engines.open_folder`): the core under the app's Score page, tested without Streamlit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.selector_data import labelled_pool
from zipfit_core.data.loading import LoadedTexts, load_source
from zipfit_core.data.sources import DataSource, TextSpec
from zipfit_core.engines import score_shards
from zipfit_core.engines.local import LocalEngine
from zipfit_core.engines.open_folder import find_score_folders, open_score_folder, recorded_target
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.method_scores import score_sources, stored_scores
from zipfit_core.store.method_cache import memo
from zipfit_core.store.run import ScoreRun

TIMEOUT = 120


@pytest.fixture(scope="module")
def pool():
    return labelled_pool(12, 6, 6)


def test_a_run_computes_what_score_sources_computes_and_caches_it(pool, tmp_path):
    memo.clear()
    runs = JobManager(tmp_path / "cache")
    run_id = runs.submit_method("tfidf", pool.sources, pool.targets, {"analyzer": "char_wb"})
    assert runs.submit_method("tfidf", pool.sources, pool.targets, {"analyzer": "char_wb"}) == run_id  # joins
    status = runs.wait(run_id, timeout=TIMEOUT)
    assert status.state == "done" and status.done == status.total == len(pool.sources)
    memo.clear()
    expected = score_sources("tfidf", pool.sources, pool.targets, analyzer="char_wb")
    np.testing.assert_array_equal(runs.result(run_id), expected)
    assert not runs.result(run_id).flags.writeable  # shared by every session

    memo.clear()  # another server (or the CLI) on the same cache finds it without computing
    found = stored_scores("tfidf", pool.sources, pool.targets, cache_dir=tmp_path / "cache", analyzer="char_wb")
    np.testing.assert_array_equal(found, expected)
    other = JobManager(tmp_path / "cache")
    source_fp, target_fp = LoadedTexts(pool.sources, None, "text", "pool").fingerprint, \
        LoadedTexts(pool.targets, None, "text", "targets").fingerprint
    adopted = other.adopt_stored_method("tfidf", len(pool.sources), {"analyzer": "char_wb"}, source_fingerprint=source_fp,
                                 target_fingerprint=target_fp)
    assert adopted == run_id
    np.testing.assert_array_equal(other.result(adopted), expected)
    assert other.adopt_stored_method("tfidf", len(pool.sources), {"analyzer": "word"}, source_fingerprint=source_fp,
                              target_fingerprint=target_fp) is None  # other settings: not computed


def test_a_failing_run_reports_its_error_and_bad_requests_fail_at_once(pool, tmp_path):
    runs = JobManager(tmp_path / "cache")
    run_id = runs.submit_method("tfidf", pool.sources, pool.targets, {"ngram_min": 3, "ngram_max": 2})
    status = runs.wait(run_id, timeout=TIMEOUT)
    assert status.state == "failed" and "ngram_min <= ngram_max" in status.error
    assert runs.result(run_id) is None
    with pytest.raises(ZipFitError, match="target set is empty"):
        runs.submit_method("random", pool.sources, [], {})
    with pytest.raises(ZipFitError, match="no setting"):
        runs.submit_method("random", pool.sources, pool.targets, {"colour": 3})


def test_method_score_run_records_method_codec_and_settings(pool):
    source = LoadedTexts(pool.sources, None, "text", "pool")
    target = LoadedTexts(pool.targets, None, "text", "targets")
    tfidf = ScoreRun.for_texts(source, target, source_name="pool", target_name="targets", method="tfidf", settings={})
    assert (tfidf.method, tfidf.codec, tfidf.level) == ("tfidf", "none", 0)
    assert tfidf.settings == {"analyzer": "word", "ngram_min": None, "ngram_max": None, "sublinear_tf": 1}
    debiased = ScoreRun.for_texts(source, target, source_name="pool", target_name="targets", method="zipfit-debiased",
                                settings={"codec": "gzip", "level": None})
    assert (debiased.codec, debiased.level, debiased.settings) == ("gzip", 9, {"codec": "gzip", "level": 9})


def write_pool(folder: Path, texts: list[str]) -> None:
    folder.mkdir(parents=True)
    half = len(texts) // 2
    for name, part in (("a.jsonl", texts[:half]), ("b.jsonl", texts[half:])):
        (folder / name).write_text("".join(json.dumps({"text": text}) + "\n" for text in part))


def test_a_folder_scored_elsewhere_opens_with_its_recorded_relative_paths(pool, tmp_path, monkeypatch):
    root = tmp_path / "root"
    project = root / "project"
    write_pool(project / "pool", pool.sources)
    (project / "targets.jsonl").write_text("".join(json.dumps({"text": text}) + "\n" for text in pool.targets))
    monkeypatch.chdir(project)  # the command ran here: SOURCE and TARGET are recorded relative to it
    target = load_source(DataSource("local", "targets.jsonl"), TextSpec())
    score_shards("pool", target, "out", engine=LocalEngine(workers=1), target_label="targets.jsonl")
    monkeypatch.chdir(tmp_path)  # the app runs elsewhere: found from the folder's parent

    opened = open_score_folder("project/out", root)
    assert opened.source.texts == pool.sources and opened.source_location == "project/pool"
    assert len(opened.scores) == len(pool.sources) and opened.run.n_targets == len(pool.targets)
    source, text = recorded_target(opened.run, root, opened.path)
    assert (source.kind, source.location, text.field) == ("local", "project/targets.jsonl", "text")
    (root / "exports" / "old").mkdir(parents=True)
    (root / "exports" / "old" / "manifest.json").write_text((project / "out" / "manifest.json").read_text())
    assert find_score_folders(root) == ["project/out"]  # exports are not inputs

    with pytest.raises(ZipFitError, match="outside the data folder"):
        open_score_folder("../root/project/../../x", root)
    other = tmp_path / "other"
    shutil.copytree(project / "out", other / "out")  # the folder without its shards
    with pytest.raises(ZipFitError, match="not under the data folder"):
        open_score_folder("out", other)
