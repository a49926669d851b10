"""One run record (`store/run.py`) in every file that carries scores: scores files, score folders, both caches
and export manifests; older records still read, cache keys unchanged so earlier entries are reused.

Data: ProofNet statements bundled in zipfit_core/data/demo_data (see its ATTRIBUTION.md), made by proofnet_jobs.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tests.proofnet_jobs import TARGETS, make_sources
from zipfit_core._version import __version__
from zipfit_core.analysis.export import MANIFEST_FORMAT, read_manifest
from zipfit_core.cli.main import main
from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource
from zipfit_core.data.texts import texts_fingerprint
from zipfit_core.engines import read_score_folder, score_shards
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.method_scores import score_sources
from zipfit_core.jobs.score_job import ScoreRequest, run_foreground
from zipfit_core.store.cache_admin import list_cache
from zipfit_core.store.method_cache import memo
from zipfit_core.store.run import RECORD_VERSION, ScoreRun
from zipfit_core.store.score_cache import CACHE_FORMAT_VERSION
from zipfit_core.store.scores_file import read_scores

SOURCES = make_sources(12, seed=31)
TARGETS_USED = TARGETS[:5]


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    return path


def test_a_record_round_trips_and_older_records_read_as_version_1():
    run = ScoreRun.for_plain_texts(SOURCES, TARGETS_USED, method="tfidf", settings={"analyzer": "char_wb"})
    assert ScoreRun.from_dict(json.loads(json.dumps(run.to_dict()))) == run
    assert run.record_version == RECORD_VERSION and (run.codec, run.level) == ("none", 0)
    assert run.method_settings() == ("tfidf", {"analyzer": "char_wb", "ngram_min": None, "ngram_max": None,
                                               "sublinear_tf": 1})
    older = {key: value for key, value in run.to_dict().items() if key != "record_version"}
    assert ScoreRun.from_dict(older).record_version == 1
    packed = {**older, "method": "tfidf:analyzer=char_wb", "settings": None}  # how the first files named settings
    assert ScoreRun.from_dict(packed).method_settings() == run.method_settings()


def test_cache_keys_are_those_earlier_versions_wrote(tmp_path):
    request = ScoreRequest(SOURCES, TARGETS_USED, codec="zstd", level=3)
    identity = {"source_fingerprint": texts_fingerprint(SOURCES), "target_fingerprint": texts_fingerprint(TARGETS_USED),
                "codec": "zstd", "level": 3, "package_version": __version__,
                "cache_format_version": CACHE_FORMAT_VERSION}
    assert request.key == hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def test_every_file_that_carries_scores_carries_the_run_record(tmp_path, capsys):
    source = write_jsonl(tmp_path / "pool.jsonl", SOURCES)
    target = write_jsonl(tmp_path / "targets.jsonl", TARGETS_USED)
    cache = tmp_path / "cache"
    for method in ("zipfit", "tfidf"):
        assert main(["score", str(source), str(target), "--method", method, "--quiet", "--cache-dir", str(cache),
                     "--out", str(tmp_path / f"{method}.parquet")]) == 0
    assert main(["select", str(source), "--scores", str(tmp_path / "zipfit.parquet"), "--top-k", "3",
                 "--out", str(tmp_path / "best.jsonl")]) == 0
    read_back, from_file = read_scores(tmp_path / "zipfit.parquet")
    assert not read_back.flags.writeable  # shared numbers: ranked once (rank_by_score), never changed
    assert (from_file.source, from_file.target) == (str(source), str(target))
    assert from_file.source_recipe["source"]["location"] == str(source) and from_file.n_targets == 5

    manifest = read_manifest(tmp_path / "best.jsonl.manifest.json")
    assert (manifest["format"], manifest["format_version"]) == (MANIFEST_FORMAT, 1)
    assert ScoreRun.from_dict(manifest["scoring"]) == from_file

    entries = {item.kind: item for item in list_cache(cache)}
    assert entries["zipfit"].run == from_file  # the job's manifest holds the run that computed it
    assert entries["tfidf"].run.method == "tfidf" and entries["tfidf"].n_targets == 5  # from the record, no label
    assert entries["tfidf"].run.target_fingerprint == from_file.target_fingerprint


def test_a_score_folder_records_the_run_and_its_sources_once_scored(tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    write_jsonl(pool / "a.jsonl", SOURCES[:6])
    write_jsonl(pool / "b.jsonl", SOURCES[6:])
    targets = load_source(DataSource("local", str(write_jsonl(tmp_path / "t.jsonl", TARGETS_USED))))
    score_shards(str(pool), targets, tmp_path / "out", target_label="t.jsonl")
    settings = json.loads((tmp_path / "out" / "manifest.json").read_text())["settings"]
    assert settings["source_fingerprint"] is None and settings["n_sources"] is None  # known per shard
    assert settings["record_version"] == RECORD_VERSION and settings["target_recipe"] == targets.recipe.to_dict()
    folder = read_score_folder(tmp_path / "out")
    assert folder.run.n_sources == 12 and folder.run.source_fingerprint.startswith("shards:")
    np.testing.assert_array_equal(folder.scores, run_foreground(ScoreRequest(SOURCES, TARGETS_USED), None))


def test_a_request_refuses_a_run_record_for_other_work():
    run = ScoreRun.for_plain_texts(SOURCES, TARGETS_USED, settings={"codec": "gzip", "level": 9})
    assert ScoreRequest.for_run(SOURCES, TARGETS_USED, run).key == ScoreRequest(SOURCES, TARGETS_USED).key
    with pytest.raises(ZipFitError, match="run record"):
        ScoreRequest(SOURCES, TARGETS_USED, codec="gzip", level=1, run=run).resolved_run()
    with pytest.raises(ZipFitError, match="other texts"):
        ScoreRequest.for_run(SOURCES[:-1], TARGETS_USED, run).resolved_run()


def test_the_method_cache_serves_a_result_whatever_the_record_says_of_names(tmp_path):
    memo.clear()
    first = score_sources("random", SOURCES, TARGETS_USED, cache_dir=tmp_path, seed=9)
    memo.clear()
    (item,) = list_cache(tmp_path)
    assert item.run.source == "sources" and item.run.n_sources == 12  # plain texts: named generically
    assert (item.run.source_field, item.run.source_template) == ("text", None)
    np.testing.assert_array_equal(score_sources("random", SOURCES, TARGETS_USED, cache_dir=tmp_path, seed=9), first)


def test_export_manifests_written_before_they_had_a_format_still_read_and_newer_ones_are_refused(tmp_path):
    run = ScoreRun.for_plain_texts(SOURCES, TARGETS_USED, settings={"codec": "gzip", "level": 9})
    older = tmp_path / "older.manifest.json"
    older.write_text(json.dumps({"tool": "zipfit-studio", "package_version": "0.1.0",
                                 "scoring": {k: v for k, v in run.to_dict().items() if k != "record_version"}}))
    read = ScoreRun.from_dict(read_manifest(older)["scoring"])
    assert read.method_settings() == run.method_settings() and read.source_fingerprint == run.source_fingerprint
    newer = tmp_path / "newer.manifest.json"
    newer.write_text(json.dumps({"format": MANIFEST_FORMAT, "format_version": 99, "scoring": run.to_dict()}))
    with pytest.raises(ZipFitError, match="upgrade zipfit-studio"):
        read_manifest(newer)
    (tmp_path / "broken.manifest.json").write_text("{not json")
    with pytest.raises(ZipFitError, match="not a readable export manifest"):
        read_manifest(tmp_path / "broken.manifest.json")
