"""Sharded scoring into score folders: the local engine, the Ray Data engine on a real local Ray
instance, resume after an interruption, bad shards, and `zipfit select` over a score folder.

Data: ProofNet statements bundled in zipfit_core/data/demo_data (see its ATTRIBUTION.md), cut into
Parquet and JSON Lines shards.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zipfit_core import ScoringCancelled, ZipFitError, alignment_scores, rank_by_score
from zipfit_core.cli.main import main
from zipfit_core.engines import load_scored_folder, make_engine, score_shards
from zipfit_core.engines.folder import marker_name, part_name, read_score_folder
from zipfit_core.engines.local import LocalEngine

TARGET_COUNT = 6


def write_jsonl(path: Path, records: list[dict], compress: bool = False) -> None:
    data = "".join(json.dumps(record) + "\n" for record in records).encode()
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, proofnet_rows) -> dict:
    """4 shards (2 Parquet, one of them in several row groups; 2 JSONL, one gzipped with a repeated row),
    a file that is not a shard, and a target file."""
    root = tmp_path_factory.mktemp("corpus")
    pool = root / "pool"
    (pool / "more").mkdir(parents=True)
    statements = [row["formal_statement"] for row in proofnet_rows[:100]]
    pq.write_table(pa.table({"text": statements[:30], "id": list(range(30))}), pool / "a.parquet", row_group_size=8)
    pq.write_table(pa.table({"text": statements[30:55]}), pool / "b.parquet")
    write_jsonl(pool / "more" / "c.jsonl", [{"text": text, "n": i} for i, text in enumerate(statements[55:80])])
    write_jsonl(pool / "more" / "d.jsonl.gz", [{"text": text} for text in statements[80:100] + statements[80:83]],
                compress=True)
    (pool / "README.md").write_text("not a shard")
    texts = statements[:100] + statements[80:83]  # the global row order: shards sorted by path
    targets = root / "targets.jsonl"
    write_jsonl(targets, [{"text": row["informal_prefix"] + row["formal_statement"]}
                          for row in proofnet_rows[300:300 + TARGET_COUNT]])
    target_texts = [row["informal_prefix"] + row["formal_statement"] for row in proofnet_rows[300:300 + TARGET_COUNT]]
    return {"root": root, "pool": pool, "targets": targets, "texts": texts, "target_texts": target_texts,
            "shards": ["a.parquet", "b.parquet", "more/c.jsonl", "more/d.jsonl.gz"]}


@pytest.fixture(scope="module")
def expected_scores(corpus) -> np.ndarray:
    return alignment_scores(corpus["texts"], corpus["target_texts"])


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main([str(arg) for arg in args])
    return code, capsys.readouterr().err


def copy_pool(corpus, destination: Path) -> Path:
    return Path(shutil.copytree(corpus["pool"], destination))


def markers_done(out: Path) -> list[int]:
    return sorted(int(path.stem) for path in (out / "completions").glob("*.json"))


def cancel_after_first_shard(out: Path):
    return lambda: len(markers_done(out)) >= 1


# ---------------------------------------------------------------------------------------------------
# The local engine and the folder format (no Ray needed).


def test_local_folder_scores_equal_alignment_scores_in_global_row_order(corpus, expected_scores, tmp_path, capsys):
    out = tmp_path / "scores"
    code, err = run_cli(capsys, "score", corpus["pool"], corpus["targets"], "--out", out, "--quiet")
    assert code == 0, err
    folder = read_score_folder(out)
    assert np.array_equal(folder.scores, expected_scores)
    assert [entry["name"] for entry in folder.shards] == corpus["shards"]
    assert folder.offsets.tolist() == [0, 30, 55, 80]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"] == {"shards": 4, "done": 4, "failed": 0, "pending": 0, "rows_scored": 103,
                                  "pairs_scored": 103 * TARGET_COUNT}
    assert manifest["ignored_files"] == ["README.md"]
    part = pq.read_table(out / part_name(3))
    assert part.column("row_in_shard").to_pylist() == list(range(23))
    assert part.column("shard").to_pylist() == [3] * 23


def test_select_over_a_score_folder_maps_rows_back(corpus, expected_scores, tmp_path, capsys):
    out = tmp_path / "scores"
    assert run_cli(capsys, "score", corpus["pool"], corpus["targets"], "--out", out, "--quiet")[0] == 0
    chosen = tmp_path / "best.jsonl"
    code, err = run_cli(capsys, "select", corpus["pool"], "--scores", out, "--top-k", "7", "--out", chosen)
    assert code == 0, err
    kept = [json.loads(line) for line in chosen.read_text().splitlines()]
    best = rank_by_score(expected_scores)[:7]
    assert sorted(row["text"] for row in kept) == sorted(corpus["texts"][i] for i in best)
    shard_of_row = np.searchsorted([0, 30, 55, 80], best, side="right") - 1
    assert sorted(row["file"] for row in kept) == sorted(corpus["shards"][s] for s in shard_of_row)


def test_select_refuses_changed_shards(corpus, tmp_path, capsys):
    pool = copy_pool(corpus, tmp_path / "pool")
    out = tmp_path / "scores"
    assert run_cli(capsys, "score", pool, corpus["targets"], "--out", out, "--quiet")[0] == 0
    pq.write_table(pa.table({"text": ["something else"] * 25}), pool / "b.parquet")
    with pytest.raises(ZipFitError, match="b.parquet has changed"):
        load_scored_folder(out, str(pool))


def test_local_resume_skips_the_shards_done_before_an_interruption(corpus, expected_scores, tmp_path):
    out = tmp_path / "scores"
    with pytest.raises(ScoringCancelled):
        score_shards(str(corpus["pool"]), corpus["target_texts"], out, engine=LocalEngine(workers=2),
                     cancel=cancel_after_first_shard(out))
    assert markers_done(out) == [0]
    first_part = (out / part_name(0)).stat().st_mtime_ns
    report = score_shards(str(corpus["pool"]), corpus["target_texts"], out, engine=LocalEngine(workers=2))
    assert report.skipped == ["a.parquet"]
    assert report.scored == corpus["shards"][1:]
    assert (out / part_name(0)).stat().st_mtime_ns == first_part  # not written again
    assert np.array_equal(read_score_folder(out).scores, expected_scores)


def test_resume_refuses_other_settings_or_other_shards(corpus, tmp_path):
    out = tmp_path / "scores"
    score_shards(str(corpus["pool"]), corpus["target_texts"], out)
    with pytest.raises(ZipFitError, match="other settings"):
        score_shards(str(corpus["pool"]), corpus["target_texts"], out, level=6)
    with pytest.raises(ZipFitError, match="other shards"):
        score_shards(str(corpus["pool"] / "more"), corpus["target_texts"], out)


def test_local_bad_shard_is_named_and_the_others_complete(corpus, tmp_path, capsys):
    pool = copy_pool(corpus, tmp_path / "pool")
    (pool / "broken.parquet").write_bytes(b"this is not parquet")
    out = tmp_path / "scores"
    code, err = run_cli(capsys, "score", pool, corpus["targets"], "--out", out, "--quiet")
    assert code == 2
    assert "1 of 5 shards could not be scored" in err and "broken.parquet" in err
    assert markers_done(out) == [0, 1, 3, 4]  # shard 2 is broken.parquet
    code, err = run_cli(capsys, "select", pool, "--scores", out, "--top-k", "3", "--out", tmp_path / "x.jsonl")
    assert code == 2 and "incomplete" in err and "broken.parquet (failed)" in err


def test_score_folder_names_and_engine_errors(corpus, tmp_path, capsys, monkeypatch):
    code, err = run_cli(capsys, "score", corpus["pool"], corpus["targets"], "--out", tmp_path / "s.csv")
    assert code == 2 and ".parquet" in err
    code, err = run_cli(capsys, "score", corpus["pool"], corpus["targets"], "--engine", "ray",
                        "--out", tmp_path / "s.parquet")
    assert code == 2 and "folder name" in err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    code, err = run_cli(capsys, "score", corpus["pool"], corpus["targets"], "--engine", "ray",
                        "--out", tmp_path / "ray_scores")
    assert code == 2 and "pip install" in err and "[ray]" in err
    assert not (tmp_path / "ray_scores").exists()


# ---------------------------------------------------------------------------------------------------
# --source-template in sharded mode: each row's text rendered from several fields.

TEMPLATE = "{title}\n{body}"


@pytest.fixture(scope="module")
def titled(tmp_path_factory, proofnet_rows) -> dict:
    """A pool whose rows have `title` and `body` (2 Parquet shards, one JSONL) and the texts the template renders."""
    pool = tmp_path_factory.mktemp("titled") / "pool"
    pool.mkdir()
    rows = [{"title": row["informal_prefix"].strip()[:60], "body": row["formal_statement"], "id": number}
            for number, row in enumerate(proofnet_rows[100:150])]
    pq.write_table(pa.Table.from_pylist(rows[:20]), pool / "a.parquet", row_group_size=7)
    pq.write_table(pa.Table.from_pylist(rows[20:35]), pool / "b.parquet")
    write_jsonl(pool / "c.jsonl", rows[35:])
    return {"pool": pool, "rows": rows, "texts": [f"{row['title']}\n{row['body']}" for row in rows]}


def test_template_scores_equal_alignment_scores_on_the_rendered_texts(corpus, titled, tmp_path, capsys):
    out = tmp_path / "scores"
    code, err = run_cli(capsys, "score", titled["pool"], corpus["targets"], "--out", out,
                        "--source-template", "{title}\\n{body}", "--quiet")  # typed in a shell: \n is a newline
    assert code == 0, err
    folder = read_score_folder(out)
    assert np.array_equal(folder.scores, alignment_scores(titled["texts"], corpus["target_texts"]))
    assert folder.run.source_template == TEMPLATE
    assert folder.run.source_field == "template:" + TEMPLATE  # as a scores file records a template
    assert folder.run.source_field == "template:" + TEMPLATE
    assert json.loads((out / "manifest.json").read_text())["settings"]["source_template"] == TEMPLATE
    assert folder.n_chars.tolist() == [len(text) for text in titled["texts"]]
    # A resume with the same template skips everything.
    assert score_shards(str(titled["pool"]), corpus["target_texts"], out, source_template=TEMPLATE).skipped == [
        "a.parquet", "b.parquet", "c.jsonl"]


def test_select_over_a_template_folder_uses_the_recorded_template(corpus, titled, tmp_path, capsys):
    out = tmp_path / "scores"
    score_shards(str(titled["pool"]), corpus["target_texts"], out, source_template=TEMPLATE)
    best = rank_by_score(alignment_scores(titled["texts"], corpus["target_texts"]))[:5]
    for given in ([], ["--source-template", TEMPLATE]):
        chosen = tmp_path / f"best{len(given)}.jsonl"
        code, err = run_cli(capsys, "select", titled["pool"], "--scores", out, "--top-k", "5", "--out", chosen,
                            *given)
        assert code == 0, err
        kept = [json.loads(line) for line in chosen.read_text().splitlines()]
        assert sorted(row["id"] for row in kept) == sorted(titled["rows"][i]["id"] for i in best)
        assert sorted(row["title"] for row in kept) == sorted(titled["rows"][i]["title"] for i in best)
    scores, run, loaded = load_scored_folder(out, str(titled["pool"]))
    assert loaded.texts == titled["texts"] and loaded.text_template == TEMPLATE
    assert loaded.table[loaded.text_field].tolist() == titled["texts"]
    code, err = run_cli(capsys, "select", titled["pool"], "--scores", out, "--top-k", "5",
                        "--out", tmp_path / "x.jsonl", "--source-template", "{body}")
    assert code == 2 and "scored with template" in err and "{body}" in err
    code, err = run_cli(capsys, "select", titled["pool"], "--scores", out, "--top-k", "5",
                        "--out", tmp_path / "x.jsonl", "--source-field", "body")
    assert code == 2 and "drop --source-field" in err
    code, err = run_cli(capsys, "select", titled["pool"], "--scores", out, "--top-k", "5",
                        "--out", tmp_path / "x.jsonl", "--source-filter", "id=3")
    assert code == 2 and "--source-filter cannot be used" in err


def test_a_template_folder_opens_in_the_app_with_its_template(corpus, titled, tmp_path, monkeypatch):
    from zipfit_core.engines.open_folder import open_score_folder

    root = tmp_path / "root"
    shutil.copytree(titled["pool"], root / "pool")
    monkeypatch.chdir(root)
    score_shards("pool", corpus["target_texts"], "out", engine=LocalEngine(workers=1), source_template=TEMPLATE)
    opened = open_score_folder("out", root)
    assert opened.source.texts == titled["texts"] and opened.source.text_template == TEMPLATE
    assert np.array_equal(opened.scores, alignment_scores(titled["texts"], corpus["target_texts"]))


def test_resume_refuses_another_template_and_old_folders_still_read(corpus, titled, tmp_path, capsys):
    out = tmp_path / "scores"
    score_shards(str(titled["pool"]), corpus["target_texts"], out, source_template=TEMPLATE)
    with pytest.raises(ZipFitError, match="other settings") as refused:
        score_shards(str(titled["pool"]), corpus["target_texts"], out, source_template="{body}")
    assert "source_template" in str(refused.value) and "'{body}'" in str(refused.value)
    with pytest.raises(ZipFitError, match="other settings"):
        score_shards(str(titled["pool"]), corpus["target_texts"], out, source_field="body")
    code, err = run_cli(capsys, "score", titled["pool"], corpus["targets"], "--out", out, "--quiet",
                        "--source-template", "{title}")
    assert code == 2 and "other settings" in err
    # A folder written before templates existed has no source_template key: it reads and resumes.
    old = tmp_path / "old"
    score_shards(str(corpus["pool"]), corpus["target_texts"], old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["settings"]["source_template"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert read_score_folder(old).run.source_template is None
    assert len(score_shards(str(corpus["pool"]), corpus["target_texts"], old).skipped) == 4
    assert load_scored_folder(old, str(corpus["pool"]))[2].text_template is None
    with pytest.raises(ZipFitError, match="not template"):
        load_scored_folder(old, str(corpus["pool"]), source_template="{text}")


def test_a_template_field_missing_from_a_shard_names_the_shard_and_its_fields(corpus, titled, tmp_path, capsys):
    pool = Path(shutil.copytree(titled["pool"], tmp_path / "pool"))
    write_jsonl(pool / "d.jsonl", [{"title": "no body here", "summary": "x"}])
    pq.write_table(pa.table({"title": ["a", None], "body": ["b", "c"]}), pool / "e.parquet")
    out = tmp_path / "scores"
    code, err = run_cli(capsys, "score", pool, corpus["targets"], "--out", out, "--quiet",
                        "--source-template", TEMPLATE)
    assert code == 2 and "2 of 5 shards could not be scored" in err
    assert "d.jsonl" in err and "'body' not found" in err and "title, summary" in err
    assert "e.parquet, row 1" in err and "null" in err
    assert markers_done(out) == [0, 1, 2]
    code, err = run_cli(capsys, "score", titled["pool"], corpus["targets"], "--out", tmp_path / "bad", "--quiet",
                        "--source-template", "{title")
    assert code == 2 and "not valid" in err


# ---------------------------------------------------------------------------------------------------
# The Ray engine on a real local Ray instance.


@pytest.mark.slow
def test_ray_scores_equal_the_local_engine(corpus, expected_scores, ray_instance, tmp_path, capsys):
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert run_cli(capsys, "score", corpus["pool"], corpus["targets"], "--out", local, "--quiet")[0] == 0
    code, err = run_cli(capsys, "score", corpus["pool"], corpus["targets"], "--engine", "ray", "--out", remote,
                        "--quiet")
    assert code == 0, err
    assert np.array_equal(read_score_folder(remote).scores, read_score_folder(local).scores)
    assert np.array_equal(read_score_folder(remote).scores, expected_scores)
    for index in range(4):
        assert pq.read_table(remote / part_name(index)).equals(pq.read_table(local / part_name(index)))


@pytest.mark.slow
def test_ray_resumes_after_an_interruption(corpus, expected_scores, ray_instance, tmp_path):
    out = tmp_path / "scores"
    engine = make_engine("ray", show_progress=False)
    engine.rows_per_block = 4  # many small blocks: the run stops with shards still in flight
    with pytest.raises(ScoringCancelled):
        score_shards(str(corpus["pool"]), corpus["target_texts"], out, engine=engine,
                     cancel=cancel_after_first_shard(out))
    done = markers_done(out)
    assert 1 <= len(done) < 4
    written = {index: (out / marker_name(index)).read_text() for index in done}
    report = score_shards(str(corpus["pool"]), corpus["target_texts"], out, engine=engine)
    assert report.skipped == [corpus["shards"][index] for index in done]
    assert sorted(report.scored) == sorted(set(corpus["shards"]) - set(report.skipped))
    assert all((out / marker_name(index)).read_text() == text for index, text in written.items())
    assert np.array_equal(read_score_folder(out).scores, expected_scores)


@pytest.mark.slow
def test_ray_reports_bad_shards_by_name_while_the_others_complete(corpus, ray_instance, tmp_path, capsys):
    pool = copy_pool(corpus, tmp_path / "pool")
    (pool / "broken.parquet").write_bytes(b"this is not parquet")
    write_jsonl(pool / "more" / "e.jsonl", [{"title": "a row without the text field"}])
    out = tmp_path / "scores"
    code, err = run_cli(capsys, "score", pool, corpus["targets"], "--engine", "ray", "--out", out, "--quiet")
    assert code == 2
    assert "2 of 6 shards could not be scored" in err
    assert "broken.parquet" in err and "more/e.jsonl" in err and "title" in err
    assert markers_done(out) == [0, 1, 3, 4]  # broken.parquet is shard 2, more/e.jsonl shard 5
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert [entry["status"] for entry in manifest["shards"]] == ["done", "done", "failed", "done", "done", "failed"]


@pytest.mark.slow
def test_ray_renders_a_template_like_the_local_engine(corpus, titled, ray_instance, tmp_path, capsys):
    local, remote = tmp_path / "local", tmp_path / "ray"
    for out, engine in ((local, "local"), (remote, "ray")):
        code, err = run_cli(capsys, "score", titled["pool"], corpus["targets"], "--engine", engine, "--out", out,
                            "--source-template", TEMPLATE, "--quiet")
        assert code == 0, err
    assert np.array_equal(read_score_folder(remote).scores, read_score_folder(local).scores)
    assert np.array_equal(read_score_folder(remote).scores, alignment_scores(titled["texts"], corpus["target_texts"]))


@pytest.mark.slow
def test_ray_names_compressed_shards_it_cannot_read_and_scores_the_others(corpus, ray_instance, tmp_path, capsys):
    import bz2
    import lzma

    pool = tmp_path / "pool"
    pool.mkdir()
    rows = "".join(json.dumps({"text": text}) + "\n" for text in corpus["texts"][:12]).encode()
    (pool / "a.jsonl.bz2").write_bytes(bz2.compress(rows))
    (pool / "b.jsonl.gz").write_bytes(gzip.compress(rows))
    (pool / "c.jsonl.xz").write_bytes(lzma.compress(rows))
    out = tmp_path / "scores"
    code, err = run_cli(capsys, "score", pool, corpus["targets"], "--engine", "ray", "--out", out, "--quiet")
    assert code == 2 and "c.jsonl.xz" in err and "--engine local" in err
    assert markers_done(out) == [0, 1]
    local = tmp_path / "local"
    code, err = run_cli(capsys, "score", pool, corpus["targets"], "--engine", "local", "--out", local, "--quiet")
    assert code == 0, err  # the local engine reads every compression the loader does
