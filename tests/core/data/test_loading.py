"""Data in (`zipfit_core.loading`): every format, the text choice, the hub path, and every kind of bad input.

The central check: the same 300 real rows (HumanEval problems and ProofNet statements) saved as JSONL,
JSONL.gz, CSV, Parquet and a save_to_disk folder give identical texts, and identical scores through
`zipfit score`. The Hugging Face Hub is unreachable here, so the hub path is exercised with a local
dataset repository folder (tests/data/hub_repo) and an offline datasets cache built in tmp_path.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest

import zipfit_core
from tests.target_sets import PROOFNET_FILE, humaneval_file, read_jsonl_gz
from zipfit_core.cli.data_options import parse_row_filter
from zipfit_core.data.loading import LoadedTexts, default_text_spec, load_source, preview_table, source_from_argument
from zipfit_core.data.sources import DataSource, LoadOptions, TextSpec
from zipfit_core.data.texts import TEMPLATE_TEXT_COLUMN, propose_text_field, text_like_fields, texts_fingerprint
from zipfit_core.errors import ZipFitError
from zipfit_core.store.scores_file import read_scores

DATA = Path(__file__).resolve().parents[2] / "data"  # tests/data
HUB_REPO = DATA / "hub_repo"
HUMANEVAL_TEMPLATE = "Problem description: {prompt} \nCanonical solution: {canonical_solution}"
PROOFNET_TEMPLATE = "{informal_prefix}{formal_statement}"


def local(path: str | Path, **settings) -> DataSource:
    return DataSource("local", str(path), **settings)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def warning_with(loaded: LoadedTexts, *fragments: str) -> str:
    """The one warning that mentions every fragment."""
    matching = [message for message in loaded.warnings if all(fragment in message for fragment in fragments)]
    assert len(matching) == 1, (fragments, loaded.warnings)
    return matching[0]


# ---------------------------------------------------------------------------------------------------
# The same 300 rows in every format.


@pytest.fixture(scope="module")
def rows_300() -> pd.DataFrame:
    """300 real rows: 164 HumanEval problems (code) and 136 ProofNet statements (maths, Unicode)."""
    humaneval = read_jsonl_gz(humaneval_file())
    proofnet = read_jsonl_gz(PROOFNET_FILE)[:136]
    records = [{"id": index, "origin": "humaneval", "task": problem["task_id"],
                "text": problem["prompt"] + problem["canonical_solution"]}
               for index, problem in enumerate(humaneval)]
    records += [{"id": 164 + index, "origin": "proofnet", "task": row["name"],
                 "text": row["informal_prefix"] + row["formal_statement"]}
                for index, row in enumerate(proofnet)]
    frame = pd.DataFrame.from_records(records)
    assert len(frame) == 300 and frame["text"].str.len().min() > 0
    assert not frame["text"].str.contains("\r").any()  # a lone CR does not survive a CSV round trip
    return frame


def save_every_format(frame: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """The same rows as JSONL, JSONL.gz, CSV, Parquet, save_to_disk, and a few more formats."""
    from datasets import Dataset

    folder.mkdir(parents=True, exist_ok=True)
    records = frame.to_dict(orient="records")
    paths = {"jsonl": write_jsonl(folder / "rows.jsonl", records)}
    paths["jsonl.gz"] = folder / "rows.jsonl.gz"
    paths["jsonl.gz"].write_bytes(gzip.compress(paths["jsonl"].read_bytes()))
    paths["csv"] = folder / "rows.csv"
    frame.to_csv(paths["csv"], index=False)
    paths["parquet"] = folder / "rows.parquet"
    frame.to_parquet(paths["parquet"], index=False)
    paths["save_to_disk"] = folder / "rows_dataset"
    Dataset.from_pandas(frame, preserve_index=False).save_to_disk(str(paths["save_to_disk"]))
    # Beyond the five of the check: more formats and compressions, same rows.
    paths["tsv"] = folder / "rows.tsv"
    frame.to_csv(paths["tsv"], sep="\t", index=False)
    paths["json"] = folder / "rows.json"
    paths["json"].write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    paths["feather"] = folder / "rows.feather"
    feather.write_feather(pa.Table.from_pandas(frame, preserve_index=False), paths["feather"])
    paths["arrow stream"] = folder / "rows.arrow"  # the layout of datasets' own .arrow files
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.OSFile(str(paths["arrow stream"]), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=64)
    paths["jsonl.zst"] = folder / "rows.jsonl.zst"
    import zstandard

    paths["jsonl.zst"].write_bytes(zstandard.ZstdCompressor().compress(paths["jsonl"].read_bytes()))
    paths["csv.bz2"] = folder / "rows.csv.bz2"
    paths["csv.bz2"].write_bytes(bz2.compress(paths["csv"].read_bytes()))
    paths["parquet.xz"] = folder / "rows.parquet.xz"
    paths["parquet.xz"].write_bytes(lzma.compress(paths["parquet"].read_bytes()))
    return paths


@pytest.fixture(scope="module")
def every_format(rows_300: pd.DataFrame, tmp_path_factory) -> dict[str, Path]:
    return save_every_format(rows_300, tmp_path_factory.mktemp("formats"))


def test_every_format_gives_the_same_texts_and_rows(rows_300, every_format):
    expected = rows_300["text"].tolist()
    for name, path in every_format.items():
        loaded = load_source(local(path))
        assert loaded.text_field == "text", name
        assert loaded.texts == expected, name
        assert loaded.fingerprint == texts_fingerprint(expected), name
        assert loaded.warnings == [], (name, loaded.warnings)
        assert loaded.row_ids.tolist() == list(range(300)), name
        assert loaded.table["task"].tolist() == rows_300["task"].tolist(), name
        assert [str(value) for value in loaded.table["id"]] == [str(value) for value in range(300)], name


def test_a_folder_and_a_glob_of_the_same_rows(rows_300, tmp_path):
    expected = rows_300["text"].tolist()
    folder = tmp_path / "parts"
    folder.mkdir()
    records = rows_300.to_dict(orient="records")
    write_jsonl(folder / "part-0.jsonl", records[:100])
    rows_300.iloc[100:200].to_parquet(folder / "part-1.parquet", index=False)
    rows_300.iloc[200:].to_csv(folder / "part-2.csv", index=False)
    (folder / "NOTES.md").write_text("not data", encoding="utf-8")
    by_folder = load_source(local(folder))
    assert by_folder.texts == expected
    assert by_folder.table["file"].tolist() == ["part-0.jsonl"] * 100 + ["part-1.parquet"] * 100 + ["part-2.csv"] * 100
    warning_with(by_folder, "ignored 1 file of unsupported type", "NOTES.md")
    by_glob = load_source(local(folder / "part-*"))
    assert by_glob.texts == expected and by_glob.warnings == []


def test_same_rows_in_five_formats_score_identically_through_the_cli(rows_300, every_format, run_cli, tmp_path):
    """The check of issue 3: JSONL, JSONL.gz, CSV, Parquet and save_to_disk give identical scores."""
    targets = write_jsonl(tmp_path / "targets.jsonl",
                          [{"text": row["informal_prefix"] + row["formal_statement"]}
                           for row in read_jsonl_gz(PROOFNET_FILE)[200:212]])
    results = {}
    for name in ("jsonl", "jsonl.gz", "csv", "parquet", "save_to_disk"):
        out = tmp_path / f"scores-{name.replace('.', '-')}.parquet"
        result = run_cli("score", every_format[name], targets, "--out", out, "--no-cache", "--quiet",
                         "--workers", "2")
        assert result.returncode == 0, (name, result.stderr)
        assert "warning" not in result.stderr, (name, result.stderr)
        results[name] = read_scores(out)
    reference_scores, reference_run = results["jsonl"]
    assert len(reference_scores) == 300 and np.all(np.isfinite(reference_scores))
    assert reference_run.source_fingerprint == texts_fingerprint(rows_300["text"].tolist())
    for name, (scores, run) in results.items():
        assert np.array_equal(scores, reference_scores), name
        assert run.source_fingerprint == reference_run.source_fingerprint, name
        assert run.source_field == "text", name
    # The maths rows align with maths targets better than the code rows do.
    assert reference_scores[164:].mean() > reference_scores[:164].mean()


def test_parquet_texts_stay_arrow_backed_in_the_table(every_format):
    """Memory: the table keeps Arrow strings; the only Python copy of each text is `texts`."""
    loaded = load_source(local(every_format["parquet"]))
    assert isinstance(loaded.table["text"].dtype, pd.StringDtype)
    assert loaded.table["text"].dtype.storage == "pyarrow"


# ---------------------------------------------------------------------------------------------------
# Choosing the text: fields, templates, filters, proposals.


def test_humaneval_paper_template(humaneval_texts):
    loaded = load_source(local(humaneval_file()), TextSpec(template=HUMANEVAL_TEMPLATE))
    assert loaded.texts == humaneval_texts
    assert loaded.text_field == TEMPLATE_TEXT_COLUMN and loaded.text_template == HUMANEVAL_TEMPLATE
    assert loaded.text_description == "template:" + HUMANEVAL_TEMPLATE
    assert loaded.table[TEMPLATE_TEXT_COLUMN].tolist() == humaneval_texts
    assert "prompt" in loaded.table.columns and "task_id" in loaded.table.columns


def test_proofnet_template_with_its_own_split_column(proofnet_rows):
    loaded = load_source(local(PROOFNET_FILE), TextSpec(template=PROOFNET_TEMPLATE, row_filter=("split", "valid")))
    expected = [(index, row["informal_prefix"] + row["formal_statement"])
                for index, row in enumerate(proofnet_rows) if row["split"] == "valid"]
    assert len(loaded.texts) == 185
    assert loaded.texts == [text for _index, text in expected]
    assert loaded.row_ids.tolist() == [index for index, _text in expected]  # positions in the file
    assert set(loaded.table["split"]) == {"valid"}


def test_proposed_field_is_text_else_the_longest_string_column():
    assert propose_text_field(pd.DataFrame({"text": ["a"], "body": ["much longer"]})) == "text"
    frame = pd.DataFrame({"title": ["short", "tiny"], "body": ["a much longer body", "another long one"],
                          "n": [1, 2]})
    assert propose_text_field(frame) == "body"
    assert text_like_fields(frame) == ["body", "title"]
    # A few non-strings do not hide a text column.
    assert propose_text_field(pd.DataFrame({"text": ["a", None, 3, "b"], "id": ["x", "y", "z", "w"]})) == "text"
    with pytest.raises(ZipFitError, match="No text column"):
        propose_text_field(pd.DataFrame({"n": [1, 2]}))


def test_filter_values_compare_as_text(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", [{"text": f"row {i}", "fold": i % 3} for i in range(9)])
    loaded = load_source(local(path), TextSpec(row_filter=("fold", "1")))
    assert loaded.texts == ["row 1", "row 4", "row 7"] and loaded.row_ids.tolist() == [1, 4, 7]


def test_empty_result_after_a_filter_names_the_values_that_exist():
    with pytest.raises(ZipFitError) as error:
        load_source(local(PROOFNET_FILE), TextSpec(field="formal_statement", row_filter=("split", "validation")))
    message = str(error.value)
    assert "split == 'validation'" in message and "'valid' (185)" in message and "'test' (186)" in message


def test_filter_on_a_missing_column_lists_the_fields():
    with pytest.raises(ZipFitError, match="Row filter column 'fold' not found.*Fields that exist: .*split"):
        load_source(local(PROOFNET_FILE), TextSpec(field="formal_statement", row_filter=("fold", "1")))


def test_template_errors():
    with pytest.raises(ZipFitError, match=r"uses field\(s\) 'solution' not found.*prompt"):
        load_source(local(humaneval_file()), TextSpec(template="{prompt}{solution}"))
    for bad in ("{prompt", "{}", "{0}", "{prompt!r}", "{prompt:>10}", "no fields at all"):
        with pytest.raises(ZipFitError, match="Template"):
            TextSpec(template=bad)


def test_template_with_literal_braces_and_dotted_names(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", [{"a.b": "x", "c": "y"}])
    loaded = load_source(local(path), TextSpec(template="{{{a.b}}}-{c}"))
    assert loaded.texts == ["{x}-y"]


def test_limit_reads_the_first_rows_and_sample_is_seeded_and_ordered():
    first = load_source(local(PROOFNET_FILE, limit=10), TextSpec(field="formal_statement"))
    assert first.row_ids.tolist() == list(range(10))
    sampled = load_source(local(PROOFNET_FILE, sample=20, seed=7), TextSpec(field="formal_statement"))
    again = load_source(local(PROOFNET_FILE, sample=20, seed=7), TextSpec(field="formal_statement"))
    other = load_source(local(PROOFNET_FILE, sample=20, seed=8), TextSpec(field="formal_statement"))
    assert sampled.texts == again.texts and sampled.row_ids.tolist() == again.row_ids.tolist()
    assert sampled.row_ids.tolist() != other.row_ids.tolist()
    assert sampled.row_ids.tolist() == sorted(sampled.row_ids.tolist()) and len(set(sampled.row_ids)) == 20
    every = [row["formal_statement"] for row in read_jsonl_gz(PROOFNET_FILE)]
    assert sampled.texts == [every[index] for index in sampled.row_ids]
    # Limit first, then filter, then sample from what is left.
    combined = load_source(local(PROOFNET_FILE, limit=100, sample=5, seed=1),
                           TextSpec(field="formal_statement", row_filter=("split", "test")))
    assert len(combined.texts) == 5 and combined.row_ids.max() < 100
    too_many = load_source(local(PROOFNET_FILE, limit=10, sample=50), TextSpec(field="formal_statement"))
    assert len(too_many.texts) == 10
    warning_with(too_many, "sample of 50 rows", "only 10 rows")


def test_a_sample_is_the_seeded_choice_among_the_filtered_rows_and_converts_in_pieces(tmp_path, monkeypatch):
    """Two passes (ids, then the chosen rows) keep the sample of one pass: a seeded choice among the rows left by
    the limit and the filter, in row order; the data store converts it a piece at a time to the same rows."""
    from zipfit_core.data import formats
    from zipfit_core.store.data_store import open_data

    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i}", "kind": "ab"[i % 3 == 0]}) + "\n" for i in range(500)))
    monkeypatch.setattr(formats, "PIECE_ROWS", 37)  # the store reads 37 rows at a time
    source = DataSource("local", str(path), limit=400, sample=25, seed=3)
    spec = TextSpec(field="text", row_filter=("kind", "a"))
    left = [i for i in range(400) if i % 3 != 0]
    chosen = sorted(np.array(left)[np.random.default_rng(3).choice(len(left), size=25, replace=False)].tolist())
    loaded = load_source(source, spec)
    stored = open_data(source, spec, cache_dir=tmp_path / "cache")
    assert loaded.row_ids.tolist() == chosen and list(loaded.texts) == [f"row {i}" for i in chosen]
    assert list(stored.texts) == list(loaded.texts) and stored.fingerprint == loaded.fingerprint


def test_plain_text_files_per_file_and_per_line(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "b.txt").write_text("second document\nwith two lines\n", encoding="utf-8")
    (folder / "a.txt").write_text("first document", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    per_file = load_source(local(folder))
    assert per_file.texts == ["first document", "second document\nwith two lines\n"]
    assert per_file.table["file"].tolist() == ["a.txt", "b.txt"]
    warning_with(per_file, "had no rows", "empty.txt")
    per_line = load_source(local(folder / "b.txt"), options=LoadOptions(plain_text_unit="line"))
    assert per_line.texts == ["second document", "with two lines"]
    assert per_line.table["line"].tolist() == [1, 2]


def test_json_shapes(tmp_path):
    records = [{"text": "one", "n": 1}, {"text": "two", "n": 2}]
    shapes = {
        "list.json": records,
        "wrapped.json": {"data": records, "version": "1"},
        "columns.json": {"text": ["one", "two"], "n": [1, 2]},
        "keyed.json": {"a": {"text": "one"}, "b": {"text": "two"}},
    }
    for name, content in shapes.items():
        (tmp_path / name).write_text(json.dumps(content), encoding="utf-8")
        assert load_source(local(tmp_path / name)).texts == ["one", "two"], name
    (tmp_path / "lines.json").write_text("\n".join(json.dumps(record) for record in records), encoding="utf-8")
    assert load_source(local(tmp_path / "lines.json")).texts == ["one", "two"]  # JSON lines named .json


def test_byte_order_marks(tmp_path):
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbftext,id\nhello,1\n")
    assert load_source(local(tmp_path / "bom.csv")).table.columns[0] == "text"
    (tmp_path / "utf16.csv").write_bytes("text,id\nhéllo,1\n".encode("utf-16"))
    assert load_source(local(tmp_path / "utf16.csv")).texts == ["héllo"]
    (tmp_path / "bom.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "hello"}\n')
    assert load_source(local(tmp_path / "bom.jsonl")).texts == ["hello"]


def test_save_to_disk_dataset_dict_needs_a_split(tmp_path):
    from datasets import Dataset, DatasetDict

    folder = tmp_path / "dict"
    DatasetDict({"train": Dataset.from_dict({"text": ["t1", "t2"]}),
                 "test": Dataset.from_dict({"text": ["s1"]})}).save_to_disk(str(folder))
    assert load_source(local(folder, split="test")).texts == ["s1"]
    chosen = load_source(local(folder))
    assert chosen.texts == ["t1", "t2"]
    warning_with(chosen, "using `train`")
    with pytest.raises(ZipFitError, match="no split 'dev'.*train, test|no split 'dev'.*test, train"):
        load_source(local(folder, split="dev"))


def test_uploaded_bytes(every_format, rows_300):
    for name in ("jsonl", "jsonl.gz", "csv", "parquet"):
        path = every_format[name]
        loaded = load_source(DataSource("upload", path.name), upload=path.read_bytes())
        assert loaded.texts == rows_300["text"].tolist(), name
        assert loaded.origin == f"upload:{path.name}"
    with pytest.raises(ZipFitError, match="above the upload limit"):
        load_source(DataSource("upload", "rows.jsonl"), options=LoadOptions(max_upload_bytes=1000),
                    upload=every_format["jsonl"].read_bytes())
    bomb = gzip.compress(b'{"text": "' + b"a" * 2_000_000 + b'"}\n')
    with pytest.raises(ZipFitError, match="decompresses to more than"):
        load_source(DataSource("upload", "bomb.jsonl.gz"), options=LoadOptions(max_upload_bytes=len(bomb) + 10),
                    upload=bomb)
    with pytest.raises(ZipFitError, match="No bytes were uploaded"):
        load_source(DataSource("upload", "rows.jsonl"))


def test_preview_shows_the_first_rows_before_a_text_is_chosen(every_format):
    preview = preview_table(local(every_format["parquet"]), n_rows=5)
    assert len(preview) == 5 and list(preview.columns) == ["id", "origin", "task", "text"]
    assert preview.attrs["warnings"] == []
    malformed = preview_table(local(DATA / "malformed.jsonl"), n_rows=2)
    assert malformed["text"].tolist() == ["first good row", "second good row"]


def test_a_path_alone_or_with_a_field_loads_texts(every_format, rows_300):
    loaded = load_source(local(every_format["csv"]))
    assert loaded.texts == rows_300["text"].tolist() and loaded.origin == str(every_format["csv"])
    assert load_source(local(every_format["csv"]), TextSpec(field="task")).texts == rows_300["task"].tolist()
    assert len(load_source(local(every_format["parquet"])).table) == 300


def test_command_line_arguments_become_sources(tmp_path):
    existing = write_jsonl(tmp_path / "x.jsonl", [{"text": "a"}])
    assert source_from_argument(str(existing)).kind == "local"
    assert source_from_argument("hub:owner/name", split="train") == DataSource("hub", "owner/name", split="train")
    assert source_from_argument("owner/name").kind == "hub"  # not a local path
    assert source_from_argument("demo:proofnet").kind == "demo"
    assert source_from_argument("data/missing.jsonl").kind == "local"  # a typo stays a file error
    assert source_from_argument("data/*.parquet").kind == "local"
    assert parse_row_filter("split=valid") == ("split", "valid")
    assert parse_row_filter("expr=a=b") == ("expr", "a=b")
    with pytest.raises(ZipFitError, match="COLUMN=VALUE"):
        parse_row_filter("split")


# ---------------------------------------------------------------------------------------------------
# Bad input: each kind has a message that says what to do, and nothing else is lost.


def test_malformed_lines_are_skipped_and_reported_with_line_numbers():
    loaded = load_source(local(DATA / "malformed.jsonl"))
    assert loaded.texts == ["first good row", "second good row", "third good row", "fourth good row"]
    message = warning_with(loaded, "skipped 4 malformed lines")
    assert "lines 3, 4, 7, 9" in message and "not valid JSON" in message


def test_malformed_lines_stop_when_asked():
    with pytest.raises(ZipFitError, match=r"malformed.jsonl, line 3: not valid JSON"):
        load_source(local(DATA / "malformed.jsonl"), options=LoadOptions(on_bad_line="stop"))


def test_malformed_csv_rows_are_skipped_or_stop():
    loaded = load_source(local(DATA / "bad_rows.csv"))
    assert loaded.texts == ["a good row", "another good row", "a quoted\nmulti-line text", "last good row"]
    message = warning_with(loaded, "skipped 2 malformed lines")
    assert "expected 2 fields, saw 3" in message
    with pytest.raises(ZipFitError, match="expected 2 fields|Expected 2 fields"):
        load_source(local(DATA / "bad_rows.csv"), options=LoadOptions(on_bad_line="stop"))


def test_undecodable_bytes_are_replaced_and_counted():
    loaded = load_source(local(DATA / "latin1.csv"))
    assert loaded.texts == ["caf\ufffd cr\ufffdme", "na\ufffdve", "plain ascii"]
    message = warning_with(loaded, "replaced 3 undecodable byte sequences")
    assert "on 2 lines: 2, 3" in message


def test_undecodable_bytes_in_jsonl_name_their_lines(tmp_path):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"text": "fine"}\n{"text": "bad \xff\xfe here"}\n{"text": "fine again"}\n')
    loaded = load_source(local(path))
    assert loaded.texts == ["fine", "bad \ufffd\ufffd here", "fine again"]
    assert "on 1 line: 2" in warning_with(loaded, "replaced 2 undecodable byte sequences")


def test_missing_field_lists_the_fields_that_exist():
    with pytest.raises(ZipFitError, match=r"Field 'content' not found in .*Fields that exist: text, id"):
        load_source(local(DATA / "mixed_values.jsonl"), TextSpec(field="content"))


def test_non_string_values_follow_the_documented_policy():
    """Numbers and booleans -> text; lists and objects -> JSON; null, missing and empty -> row skipped."""
    loaded = load_source(local(DATA / "mixed_values.jsonl"), TextSpec(field="text"))
    assert loaded.texts == ["a string", "42", "2.5", "True", '["a", "list", 1]', '{"nested": "object"}',
                            "another string"]
    assert loaded.row_ids.tolist() == [0, 1, 2, 3, 6, 7, 9]
    assert loaded.table["id"].tolist() == [0, 1, 2, 3, 6, 7, 9]
    assert "rows 1, 2, 3" in warning_with(loaded, "converted 3 values of numbers and booleans")
    assert "rows 6, 7" in warning_with(loaded, "converted 2 values of lists / objects to JSON")
    assert "rows 4, 5" in warning_with(loaded, "skipped 2 rows with a null")
    assert "row 8" in warning_with(loaded, "skipped 1 row whose text is empty")


def test_a_field_with_no_text_at_all_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "nulls.jsonl", [{"text": None, "id": 1}, {"text": "", "id": 2}])
    with pytest.raises(ZipFitError, match="No row of .* has text .*: 1 row is null, 1 row is empty"):
        load_source(local(path), TextSpec(field="text"))


@pytest.mark.parametrize("name, content", [
    ("empty.jsonl", b""), ("blank.jsonl", b"\n\n  \n"), ("empty.csv", b""), ("header_only.csv", b"text,id\n"),
    ("empty.json", b"[]"), ("empty.txt", b""), ("empty.jsonl.gz", gzip.compress(b"")),
])
def test_empty_files(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ZipFitError, match="contains no rows"):
        load_source(local(tmp_path / name))


def test_empty_folder_and_unmatched_glob(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ZipFitError, match="folder .* is empty"):
        load_source(local(tmp_path / "empty"))
    with pytest.raises(ZipFitError, match="No file matches"):
        load_source(local(tmp_path / "*.parquet"))


def test_a_multi_megabyte_text_is_capped_with_a_warning(tmp_path):
    huge = "x" * 3_000_000
    path = write_jsonl(tmp_path / "huge.jsonl", [{"text": "small"}, {"text": huge}])
    loaded = load_source(local(path))
    assert loaded.texts == ["small", huge[:1_000_000]]
    assert "row 1" in warning_with(loaded, "capped 1 text longer than 1,000,000 characters", "3,000,000")
    assert load_source(local(path), options=LoadOptions(max_chars=None)).texts[1] == huge
    assert len(load_source(local(path), options=LoadOptions(max_chars=10)).texts[1]) == 10


@pytest.mark.parametrize("name", ["junk.jsonl", "junk.csv", "junk.json", "junk.txt", "junk.jsonl.gz"])
def test_binary_junk_in_text_formats(tmp_path, name):
    junk = np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    (tmp_path / name).write_bytes(junk)
    with pytest.raises(ZipFitError, match="binary data|not valid gzip"):
        load_source(local(tmp_path / name))


@pytest.mark.parametrize("name", ["junk.parquet", "junk.arrow", "junk.feather"])
def test_binary_junk_in_columnar_formats(tmp_path, name):
    (tmp_path / name).write_bytes(b"\x00\x01not really columnar" * 100)
    with pytest.raises(ZipFitError, match="not a readable"):
        load_source(local(tmp_path / name))


def test_misnamed_and_damaged_files(tmp_path, every_format):
    misnamed = tmp_path / "really_gzip.jsonl"
    misnamed.write_bytes(every_format["jsonl.gz"].read_bytes())
    with pytest.raises(ZipFitError, match="gzip-compressed data.*add .gz"):
        load_source(local(misnamed))
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(every_format["jsonl.gz"].read_bytes()[:500])
    with pytest.raises(ZipFitError, match="not valid gzip data"):
        load_source(local(truncated))
    with pytest.raises(ZipFitError, match="Unsupported file type .xlsx"):
        load_source(local(shutil.copy(every_format["csv"], tmp_path / "rows.xlsx")))
    with pytest.raises(ZipFitError, match="File not found.*hub:NAME"):
        load_source(local(tmp_path / "nothing.jsonl"))


def test_paths_outside_the_data_root_are_refused(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    write_jsonl(root / "sub" / "inside.jsonl", [{"text": "inside"}])
    outside = write_jsonl(tmp_path / "outside.jsonl", [{"text": "secret"}])
    (root / "link.jsonl").symlink_to(outside)
    (root / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    (root / "folder").mkdir()
    write_jsonl(root / "folder" / "ok.jsonl", [{"text": "ok"}])
    (root / "folder" / "escape.jsonl").symlink_to(outside)
    options = LoadOptions(data_root=root)
    assert load_source(local("sub/inside.jsonl"), options=options).texts == ["inside"]  # relative to the root
    assert load_source(local(root / "sub" / ".." / "sub" / "inside.jsonl"), options=options).texts == ["inside"]
    for location in ("../outside.jsonl", str(outside), "link.jsonl", "linked_dir/outside.jsonl", "folder",
                     "sub/../../outside.jsonl", "*.jsonl", str(tmp_path / "*.jsonl")):
        with pytest.raises(ZipFitError, match="outside the data folder"):
            load_source(local(location), options=options)
    with pytest.raises(ZipFitError, match="outside the data folder"):
        load_source(DataSource("hub", str(tmp_path)), options=options)
    with pytest.raises(ZipFitError, match="outside the data folder"):
        load_source(DataSource("hub", "../"), options=options)
    with pytest.raises(ZipFitError, match="outside the data folder"):
        preview_table(local("../outside.jsonl"), options)


# ---------------------------------------------------------------------------------------------------
# The hub path: a local dataset repository folder, the offline cache, unknown ids, no hangs.


@pytest.fixture
def datasets_cache(tmp_path, monkeypatch) -> Path:
    """datasets writes its cache in tmp_path (never in the user's home)."""
    import datasets.config

    cache = tmp_path / "hf-datasets-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    return cache


@pytest.fixture
def hub_offline(monkeypatch, datasets_cache) -> Path:
    """HF_HUB_OFFLINE=1 for this process, as datasets and huggingface_hub read it."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return datasets_cache


@pytest.fixture
def hub_online(monkeypatch, datasets_cache) -> Path:
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return datasets_cache


def cache_hub_dataset(cache: Path, repo_id: str, splits: dict[str, list[dict]], work: Path) -> None:
    """Put a dataset in the datasets cache exactly where a download of hub id `repo_id` would leave it."""
    from datasets.data_files import DataFilesDict
    from datasets.packaged_modules.json.json import Json

    work.mkdir(parents=True, exist_ok=True)
    files = {name: [str(write_jsonl(work / f"{name}.jsonl", rows))] for name, rows in splits.items()}
    owner, name = repo_id.split("/")
    builder = Json(dataset_name=name, config_name="default", hash="0123456789abcdef", cache_dir=str(work / "build"),
                   data_files=DataFilesDict.from_patterns(files, base_path=str(work)))
    builder.download_and_prepare()
    target = cache / f"{owner}___{name}" / "default" / "0.0.0"
    target.mkdir(parents=True)
    shutil.copytree(builder.cache_dir, target / "0123456789abcdef")


def test_a_dataset_repository_folder_relative_to_the_data_root(hub_offline, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(HUB_REPO, root / "repos" / "tiny")
    loaded = load_source(DataSource("hub", "repos/tiny", split="validation"), options=LoadOptions(data_root=root))
    assert loaded.texts == validation_texts()


def test_local_dataset_repository_folder_through_datasets(hub_offline):
    repo = str(HUB_REPO)
    train = load_source(DataSource("hub", repo))
    assert len(train.texts) == 12 and train.texts[0] == "def add_0(x):\n    return x + 0\n"
    warning_with(train, "using `train`")
    validation = load_source(DataSource("hub", repo, split="validation"))
    assert validation.texts == [f"Theorem t{i} : {i} + 0 = {i} := by simp" for i in range(4)]
    statements = load_source(DataSource("hub", repo, config="statements"),
                             TextSpec(template="{informal}\n{formal}"))
    assert statements.texts[1] == "Addition commutes.\ntheorem c (a b : ℕ) : a + b = b + a"
    with pytest.raises(ZipFitError, match="nope"):
        load_source(DataSource("hub", repo, config="nope"))
    with pytest.raises(ZipFitError, match="dev"):
        load_source(DataSource("hub", repo, split="dev"))


def test_hub_streaming_limit_filter_and_sample(hub_offline):
    repo = str(HUB_REPO)
    limited = load_source(DataSource("hub", repo, split="train", streaming=True, limit=5))
    assert limited.row_ids.tolist() == [0, 1, 2, 3, 4]
    code = load_source(DataSource("hub", repo, split="train", streaming=True),
                       TextSpec(row_filter=("kind", "code")))
    assert code.row_ids.tolist() == [1, 2, 4, 5, 7, 8, 10, 11]
    sampled = load_source(DataSource("hub", repo, split="train", streaming=True, sample=3, seed=5),
                          TextSpec(row_filter=("kind", "code")))
    again = load_source(DataSource("hub", repo, split="train", streaming=True, sample=3, seed=5),
                        TextSpec(row_filter=("kind", "code")))
    assert sampled.row_ids.tolist() == again.row_ids.tolist()
    assert len(sampled.texts) == 3 and set(sampled.row_ids) <= set(code.row_ids)
    assert sampled.row_ids.tolist() == sorted(sampled.row_ids.tolist())
    full = load_source(DataSource("hub", repo, split="train"))
    assert sampled.texts == [full.texts[index] for index in sampled.row_ids]
    preview = preview_table(DataSource("hub", repo, split="validation"), n_rows=2)
    assert preview["text"].tolist() == validation_texts()[:2]


def validation_texts() -> list[str]:
    return [f"Theorem t{i} : {i} + 0 = {i} := by simp" for i in range(4)]


def test_offline_cache_serves_a_hub_id(hub_offline, tmp_path):
    cache_hub_dataset(hub_offline, "zipfit-tests/tiny", {
        "train": [{"text": f"cached row {i}", "n": i} for i in range(6)],
        "test": [{"text": "cached test row", "n": 0}],
    }, tmp_path / "work")
    assert load_source(DataSource("hub", "zipfit-tests/tiny", split="train")).texts == [
        f"cached row {i}" for i in range(6)]
    streamed = load_source(DataSource("hub", "zipfit-tests/tiny", split="test", streaming=True))
    assert streamed.texts == ["cached test row"]


def test_unknown_hub_id_offline_says_what_to_do(hub_offline):
    with pytest.raises(ZipFitError) as error:
        load_source(DataSource("hub", "zipfit-tests/does-not-exist"))
    message = str(error.value)
    assert "not in the local datasets cache" in message and "HF_HUB_OFFLINE" in message
    assert "local files" in message


def test_unknown_hub_id_online(hub_online, monkeypatch):
    """The first (bounded) request says the repository does not exist: no datasets retries."""
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    def not_found(self, repo_id, **kwargs):
        error = RepositoryNotFoundError.__new__(RepositoryNotFoundError)
        Exception.__init__(error, f"404: {repo_id}")
        raise error

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", not_found)
    with pytest.raises(ZipFitError) as error:
        load_source(DataSource("hub", "zipfit-tests/does-not-exist"))
    message = str(error.value)
    assert "was not found on the Hugging Face Hub" in message
    assert "HF_HUB_OFFLINE" in message and "local files" in message


def test_unreachable_hub_gives_up_after_the_timeout(hub_online, monkeypatch):
    """A Hub that never answers: the load stops waiting after hub_timeout_s, with the way out."""
    import huggingface_hub

    release = threading.Event()

    def never_answers(self, repo_id, **kwargs):
        release.wait(60)
        raise ConnectionError("gave up")

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", never_answers)
    try:
        with pytest.raises(ZipFitError) as error:
            load_source(DataSource("hub", "owner/name"), options=LoadOptions(hub_timeout_s=0.3))
    finally:
        release.set()
    message = str(error.value)
    assert "no answer within 0.3 s" in message and "HF_HUB_OFFLINE" in message and "local files" in message


def test_network_errors_name_the_way_out(hub_online, monkeypatch):
    import huggingface_hub

    def refused(self, repo_id, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", refused)
    with pytest.raises(ZipFitError, match="Could not reach the Hugging Face Hub.*HF_HUB_OFFLINE"):
        load_source(DataSource("hub", "owner/name"))


def test_cli_reads_a_cached_hub_dataset_offline(tmp_path):
    """`zipfit score hub:owner/name ...` with HF_HUB_OFFLINE=1 and the cache in tmp_path, as a user runs it."""
    cache = tmp_path / "cache"
    cache_hub_dataset(cache, "zipfit-tests/pool", {
        "train": [{"text": f"def f{i}(x):\n    return x * {i}\n", "kind": "code"} for i in range(8)]
                 + [{"text": f"Theorem t{i} : {i} = {i} := rfl", "kind": "math"} for i in range(8)],
    }, tmp_path / "work")
    targets = write_jsonl(tmp_path / "targets.jsonl", [{"text": "Theorem goal : 1 = 1 := rfl"}])
    environment = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(cache), PYTHONUNBUFFERED="1")
    environment.pop("PYTHONWARNINGS", None)

    def zipfit(*args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "zipfit_core", *map(str, args)], env=environment,
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)

    result = zipfit("score", "hub:zipfit-tests/pool", targets, "--source-split", "train", "--out",
                    tmp_path / "scores.parquet", "--no-cache", "--quiet")
    assert result.returncode == 0, result.stderr
    scores, run = read_scores(tmp_path / "scores.parquet")
    assert len(scores) == 16 and scores[8:].mean() > scores[:8].mean()  # the maths rows align better
    filtered = zipfit("score", "zipfit-tests/pool", targets, "--source-filter", "kind=math",
                      "--out", tmp_path / "maths.parquet", "--no-cache", "--quiet")
    assert filtered.returncode == 0, filtered.stderr
    assert np.array_equal(read_scores(tmp_path / "maths.parquet")[0], scores[8:])
    missing = zipfit("score", "hub:zipfit-tests/absent", targets, "--out", tmp_path / "x.parquet", "--no-cache")
    assert missing.returncode == 2 and "HF_HUB_OFFLINE" in missing.stderr and "Traceback" not in missing.stderr


# ---------------------------------------------------------------------------------------------------
# Demo sources (zipfit_core.demo, written elsewhere): resolved through DEMO_DATASETS.


@pytest.fixture
def fake_demo(monkeypatch):
    """A stand-in `zipfit_core.data.demo` with the agreed shape: DEMO_DATASETS[name].path / .text / ..."""
    module = types.ModuleType("zipfit_core.data.demo")
    module.DEMO_DATASETS = {"proofnet-valid": types.SimpleNamespace(
        path=PROOFNET_FILE, text=TextSpec(template=PROOFNET_TEMPLATE, row_filter=("split", "valid")),
        description="ProofNet valid split", licence="MIT")}
    monkeypatch.setitem(sys.modules, "zipfit_core.data.demo", module)
    monkeypatch.setattr(zipfit_core.data, "demo", module, raising=False)
    return module


def test_demo_source_uses_its_own_text_and_ignores_the_data_root(fake_demo, proofnet_rows, tmp_path):
    loaded = load_source(DataSource("demo", "proofnet-valid"), options=LoadOptions(data_root=tmp_path))
    assert len(loaded.texts) == 185 and loaded.origin == "demo:proofnet-valid"
    assert loaded.texts[0] == next(row["informal_prefix"] + row["formal_statement"]
                                   for row in proofnet_rows if row["split"] == "valid")
    assert default_text_spec(DataSource("demo", "proofnet-valid")).template == PROOFNET_TEMPLATE
    test_split = load_source(DataSource("demo", "proofnet-valid"), TextSpec(row_filter=("split", "test")))
    assert len(test_split.texts) == 186  # the user's filter wins, the demo's template stays
    assert len(preview_table(DataSource("demo", "proofnet-valid"), n_rows=3)) == 3
    with pytest.raises(ZipFitError, match="Unknown demo data set 'nope'.*proofnet-valid"):
        load_source(DataSource("demo", "nope"))


def test_every_bundled_demo_data_set_loads_with_its_declared_rows():
    demo = pytest.importorskip("zipfit_core.data.demo")
    assert demo.DEMO_DATASETS
    for name, entry in demo.DEMO_DATASETS.items():
        loaded = load_source(DataSource("demo", name))
        assert loaded.warnings == [], (name, loaded.warnings)
        if entry.rows is not None:
            assert len(loaded.texts) == entry.rows, name
        spec = default_text_spec(DataSource("demo", name))
        assert (spec.field, spec.template, spec.row_filter) == (entry.text.field, entry.text.template,
                                                                entry.text.row_filter), name


# ---------------------------------------------------------------------------------------------------
# The command line: options reach the loader, select reuses the template, errors are one line.


def test_cli_templates_filters_and_select(run_cli, tmp_path):
    targets = tmp_path / "humaneval.jsonl.gz"
    shutil.copy(humaneval_file(), targets)
    scores = tmp_path / "scores.parquet"
    result = run_cli("score", PROOFNET_FILE, targets, "--source-template", PROOFNET_TEMPLATE,
                     "--source-filter", "split=valid", "--target-template",
                     r"Problem description: {prompt} \nCanonical solution: {canonical_solution}",
                     "--target-limit", "20", "--out", scores, "--no-cache", "--quiet")
    assert result.returncode == 0, result.stderr
    values, run = read_scores(scores)
    assert len(values) == 185 and run.n_targets == 20
    assert run.source_field == "template:" + PROOFNET_TEMPLATE
    assert run.target_field == "template:" + HUMANEVAL_TEMPLATE  # \n typed in the shell is a newline
    out = tmp_path / "best.jsonl"
    chosen = run_cli("select", PROOFNET_FILE, "--scores", scores, "--source-filter", "split=valid",
                     "--top-k", "5", "--out", out)
    assert chosen.returncode == 0, chosen.stderr
    best = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(best) == 5 and all(row["split"] == "valid" for row in best)
    assert all(row[TEMPLATE_TEXT_COLUMN] == row["informal_prefix"] + row["formal_statement"] for row in best)
    # Without the options, the scores file's recorded recipe (filter and template) loads the same rows.
    again = tmp_path / "again.jsonl"
    recorded = run_cli("select", PROOFNET_FILE, "--scores", scores, "--top-k", "5", "--out", again)
    assert recorded.returncode == 0, recorded.stderr
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")
    # An option given on the command line wins over the recorded one: other rows, so the scores do not fit.
    other_split = run_cli("select", PROOFNET_FILE, "--scores", scores, "--source-filter", "split=test",
                          "--top-k", "5", "--out", out)
    assert other_split.returncode == 2 and "same data options" in other_split.stderr


def test_cli_reports_skipped_lines_and_stops_when_asked(run_cli, tmp_path):
    targets = write_jsonl(tmp_path / "t.jsonl", [{"text": "first good row"}])
    skipped = run_cli("score", DATA / "malformed.jsonl", targets, "--out", tmp_path / "s.parquet", "--no-cache",
                      "--quiet")
    assert skipped.returncode == 0
    assert "warning:" in skipped.stderr and "lines 3, 4, 7, 9" in skipped.stderr
    stopped = run_cli("score", DATA / "malformed.jsonl", targets, "--on-bad-line", "stop",
                      "--out", tmp_path / "s.parquet", "--no-cache")
    assert stopped.returncode == 2 and "line 3" in stopped.stderr and "Traceback" not in stopped.stderr
    capped = run_cli("score", DATA / "mixed_values.jsonl", targets, "--source-field", "text", "--max-chars", "5",
                     "--out", tmp_path / "c.parquet", "--no-cache", "--quiet")
    assert capped.returncode == 0 and "capped" in capped.stderr



def test_the_fingerprint_of_an_arrow_column_is_the_fingerprint_of_its_texts():
    import hashlib

    from zipfit_core.data.texts import fingerprint_update_arrow

    rng = np.random.default_rng(5)
    alphabet = list("ab z\n\t") + list("éß日—\u2028")
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 200))) for _ in range(2000)] + ["", "x", ""]
    for kind in (pa.string(), pa.large_string()):
        for array in (pa.array(texts, type=kind), pa.array(texts, type=kind).slice(11, 1500),
                      pa.array([], type=kind)):
            digest = hashlib.sha256()
            fingerprint_update_arrow(digest, array)
            assert digest.hexdigest() == texts_fingerprint(array.to_pylist()), kind
