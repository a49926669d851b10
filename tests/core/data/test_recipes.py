"""Data recipes: scores files and export manifests record exactly how the source and target texts were
loaded, and `zipfit select` / `compare` / `proxy-eval --from-manifest` load them again from that record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.selector_data import proofnet_split, stdlib_code, stdlib_prose
from zipfit_core.analysis.export import manifest_path
from zipfit_core.cli.main import main
from zipfit_core.data.loading import load_recipe, load_source
from zipfit_core.data.sources import DataRecipe, DataSource, LoadOptions, TextSpec
from zipfit_core.errors import ZipFitError
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.scores_file import METADATA_KEY, read_scores

MAX_CHARS = 400  # not the default: the recipe must carry it


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A pool with a `split` column and long rows, and targets with prompt/solution fields and a split."""
    folder = tmp_path_factory.mktemp("recipes")
    texts = proofnet_split("test")[:30] + stdlib_prose(15) + stdlib_code(15)
    pool = write_jsonl(folder / "pool.jsonl", [{"id": index, "body": text, "part": "keep" if index % 3 else "drop"}
                                               for index, text in enumerate(texts)])
    valid, test = proofnet_split("valid")[:12], proofnet_split("valid")[12:24]
    targets = write_jsonl(folder / "targets.jsonl",
                          [{"prompt": text[: len(text) // 2], "solution": text[len(text) // 2:], "split": split}
                           for split, chunk in (("valid", valid), ("test", test)) for text in chunk])
    return folder, pool, targets


def run(*args) -> int:
    return main([str(arg) for arg in args])


@pytest.fixture(scope="module")
def scored(files):
    """`zipfit score` with a filter, a sample, a template, a target filter and a non-default --max-chars."""
    folder, pool, targets = files
    scores = folder / "zipfit.parquet"
    assert run("score", pool, targets, "--source-field", "body", "--source-filter", "part=keep",
               "--source-sample", "25", "--sample-seed", "7", "--target-template", "{prompt}{solution}",
               "--target-filter", "split=valid", "--max-chars", MAX_CHARS, "--out", scores, "--quiet",
               "--cache-dir", folder / "cache") == 0
    return scores


# ----- the record itself --------------------------------------------------------------------------------

def test_data_recipe_round_trips_through_json():
    recipe = DataRecipe(DataSource("hub", "owner/name", config="c", split="train", revision="v1", streaming=True,
                                   limit=100, sample=10, seed=3),
                        TextSpec(template="{a}\n{b}", row_filter=("lang", "en")),
                        on_bad_line="stop", max_chars=None, plain_text_unit="line")
    content = json.loads(json.dumps(recipe.to_dict()))
    assert content["text"]["row_filter"] == ["lang", "en"]
    assert DataRecipe.from_dict(content) == recipe
    assert "owner/name" in recipe.describe() and "lang == 'en'" in recipe.describe()
    assert "no text cap" in recipe.describe() and "sample of 10 (seed 3)" in recipe.describe()
    # Keys from a newer version are ignored; options left out take the defaults.
    content["source"]["someday"] = 1
    assert DataRecipe.from_dict({"source": content["source"], "text": {"field": "x"}}) == DataRecipe(
        recipe.source, TextSpec(field="x"))
    with pytest.raises(ZipFitError, match="malformed"):
        DataRecipe.from_dict({"text": {}})
    with pytest.raises(ZipFitError):
        DataRecipe(DataSource("local", "x.jsonl"), TextSpec(field="t"), on_bad_line="ignore")


def test_load_source_records_the_text_actually_used_and_load_recipe_reloads_it(files):
    _, pool, _ = files
    loaded = load_source(DataSource("local", str(pool), sample=20, seed=1), TextSpec(row_filter=("part", "keep")),
                         LoadOptions(max_chars=MAX_CHARS))
    recipe = loaded.recipe
    assert recipe.text == TextSpec(field="body", row_filter=("part", "keep"))  # the proposed field, filled in
    assert (recipe.max_chars, recipe.source.sample, recipe.source.seed) == (MAX_CHARS, 20, 1)
    again = load_recipe(DataRecipe.from_dict(json.loads(json.dumps(recipe.to_dict()))))
    assert again.fingerprint == loaded.fingerprint and again.row_ids.tolist() == loaded.row_ids.tolist()


def test_a_demo_recipe_stays_a_demo_name():
    loaded = load_source(DataSource("demo", "proofnet-valid"))
    recipe = loaded.recipe
    assert (recipe.source.kind, recipe.source.location) == ("demo", "proofnet-valid")
    assert recipe.text == TextSpec(template="{informal_prefix}{formal_statement}", row_filter=("split", "valid"))
    assert load_recipe(recipe).fingerprint == loaded.fingerprint


# ----- the command line ----------------------------------------------------------------------------------

def test_scores_and_manifest_record_both_recipes_and_select_needs_no_options(files, scored, tmp_path, monkeypatch):
    folder, pool, targets = files
    _, run_record = read_scores(scored)
    source_recipe = DataRecipe.from_dict(run_record.source_recipe)
    target_recipe = DataRecipe.from_dict(run_record.target_recipe)
    assert source_recipe.text == TextSpec(field="body", row_filter=("part", "keep"))
    assert (source_recipe.source.sample, source_recipe.source.seed, source_recipe.max_chars) == (25, 7, MAX_CHARS)
    assert target_recipe.text == TextSpec(template="{prompt}{solution}", row_filter=("split", "valid"))
    assert run_record.method == "zipfit" and run_record.settings == {"codec": "gzip", "level": 9}

    with_options = tmp_path / "with_options.jsonl"
    assert run("select", pool, "--scores", scored, "--source-field", "body", "--source-filter", "part=keep",
               "--source-sample", "25", "--sample-seed", "7", "--max-chars", MAX_CHARS, "--top-k", "6",
               "--out", with_options) == 0
    recorded = tmp_path / "recorded.jsonl"
    assert run("select", pool, "--scores", scored, "--top-k", "6", "--out", recorded) == 0  # only SOURCE
    assert recorded.read_text(encoding="utf-8") == with_options.read_text(encoding="utf-8")
    rows = [json.loads(line) for line in recorded.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6 and all(row["part"] == "keep" and len(row["body"]) <= MAX_CHARS for row in rows)
    manifest = json.loads(manifest_path(recorded).read_text(encoding="utf-8"))
    assert manifest["scoring"]["source_recipe"] == run_record.source_recipe
    assert manifest["scoring"]["target_recipe"] == run_record.target_recipe
    # The same file named another way (./pool.jsonl from its folder) is the recorded source too.
    relative = tmp_path / "relative.jsonl"
    monkeypatch.chdir(folder)
    assert run("select", "./" + pool.name, "--scores", scored, "--top-k", "6", "--out", relative) == 0
    assert relative.read_text(encoding="utf-8") == with_options.read_text(encoding="utf-8")


def test_command_line_options_win_over_the_recording(files, scored, tmp_path, capsys):
    _, pool, _ = files
    capsys.readouterr()
    assert run("select", pool, "--scores", scored, "--max-chars", "0", "--top-k", "3",
               "--out", tmp_path / "o.jsonl") == 2  # whole texts: no longer the texts that were scored
    error = capsys.readouterr().err
    assert "changed since it was scored" in error and "no text cap" in error
    assert run("select", pool, "--scores", scored, "--source-sample", "20", "--top-k", "3",
               "--out", tmp_path / "o.jsonl") == 2
    assert "holds 25 scores" in capsys.readouterr().err


def test_a_recording_of_other_data_is_not_applied(files, scored, tmp_path, capsys):
    folder, pool, _ = files
    copy = folder / "copy.jsonl"
    copy.write_bytes(pool.read_bytes())
    capsys.readouterr()
    assert run("select", copy, "--scores", scored, "--top-k", "3", "--out", tmp_path / "o.jsonl") == 2
    assert "same data options" in capsys.readouterr().err


def test_proxy_eval_from_manifest_loads_filtered_targets_as_recorded(files, tmp_path, capsys):
    folder, pool, targets = files
    cache = folder / "cache"
    manifests = []
    for method in ("zipfit", "random"):
        scores = tmp_path / f"{method}.parquet"
        assert run("score", pool, targets, "--source-field", "body", "--target-template", "{prompt}{solution}",
                   "--target-filter", "split=valid", "--method", method, "--out", scores, "--quiet",
                   "--cache-dir", cache) == 0
        assert run("select", pool, "--scores", scores, "--top-k", "5", "--out", tmp_path / f"{method}.jsonl") == 0
        manifests.append(manifest_path(tmp_path / f"{method}.jsonl"))
    out = tmp_path / "curves.json"
    capsys.readouterr()
    # No --selection-target: the targets load through the recorded recipe (template and split=valid filter),
    # so they match the recorded fingerprint and stay disjoint from the split=test held-out rows.
    assert run("proxy-eval", pool, "--from-manifest", *manifests, "--eval-target", targets,
               "--eval-template", "{prompt}{solution}", "--eval-filter", "split=test", "--k", "5", "10",
               "--cache-dir", cache, "--out", out, "--quiet") == 0, capsys.readouterr().err
    content = json.loads(out.read_text(encoding="utf-8"))
    assert [curve["method"] for curve in content["curves"]] == ["zipfit", "random"]
    assert content["inputs"]["source_recipe"]["text"]["field"] == "body"
    assert content["inputs"]["evaluation_recipe"]["text"]["row_filter"] == ["split", "test"]
    # compare with the manifests and no data options works the same way.
    assert run("compare", pool, "--from-manifest", *manifests, "--top-k", "5", "--cache-dir", cache) == 0


# ----- files written before recipes were recorded --------------------------------------------------------

def rewrite_as_old_format(path: Path, method_spec: str | None = None) -> None:
    """Drop the recipe and settings keys from a scores file's metadata, as older versions wrote it."""
    table = pq.read_table(path)
    description = json.loads(table.schema.metadata[METADATA_KEY])
    for name in ("source_recipe", "target_recipe", "settings"):
        description.pop(name)
    if method_spec is not None:
        description["method"] = method_spec
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(description).encode()}), path)


def test_old_scores_files_and_manifests_still_work(files, tmp_path, capsys):
    folder, pool, targets = files
    cache = folder / "cache"
    paths = {}
    for method, extra in (("zipfit", []), ("tfidf", ["--setting", "analyzer=char_wb"])):
        paths[method] = tmp_path / f"{method}.parquet"
        assert run("score", pool, targets, "--source-field", "body", "--target-field", "prompt",
                   "--method", method, *extra, "--out", paths[method], "--quiet", "--cache-dir", cache) == 0
    rewrite_as_old_format(paths["zipfit"])
    rewrite_as_old_format(paths["tfidf"], "tfidf:analyzer=char_wb,ngram_max=None,ngram_min=None,sublinear_tf=1")
    scores, old_run = read_scores(paths["tfidf"])
    assert old_run is not None and old_run.source_recipe is None and old_run.settings is None
    assert old_run.source_field == "body" and len(scores) == 60

    capsys.readouterr()
    out = tmp_path / "tfidf.jsonl"
    assert run("select", pool, "--scores", paths["tfidf"], "--top-k", "4", "--out", out) == 0  # the recorded field
    assert run("compare", pool, "--scores", paths["zipfit"], paths["tfidf"], "--top-k", "5") == 0
    assert "tfidf(analyzer=char_wb)" in capsys.readouterr().out  # the settings packed in the old method string

    # An old manifest: no recipe keys, the method string carries the settings.
    manifest = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    assert manifest["scoring"]["source_recipe"] is None
    manifest["scoring"] = {name: value for name, value in manifest["scoring"].items()
                           if name not in ("source_recipe", "target_recipe", "settings")}
    manifest_path(out).write_text(json.dumps(manifest), encoding="utf-8")
    assert run("compare", pool, "--source-field", "body", "--scores", paths["tfidf"], "--from-manifest",
               manifest_path(out), "--top-k", "5", "--cache-dir", cache) == 0


def test_score_run_reads_files_without_the_new_keys():
    required = {name: "x" for name in ("codec", "method", "package_version", "source", "target", "source_field",
                                       "target_field", "source_fingerprint", "target_fingerprint")}
    required.update(level=9, n_sources=2, n_targets=1)
    run_record = ScoreRun.from_dict({**required, "unknown_key": 1})
    assert run_record is not None and (run_record.source_recipe, run_record.settings) == (None, None)
    assert ScoreRun.from_dict({name: value for name, value in required.items() if name != "n_targets"}) is None
