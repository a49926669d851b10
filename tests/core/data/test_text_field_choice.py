"""Which field is the text when none is named (issue 12, items 9 and 10), in the library and on the command line.

A file without a `text` field is scored on a guessed field, and `zipfit` says which and why on stderr; the scores
file records it. A `text` field holding a mix of strings, numbers, nulls, lists and empty strings is used, each
kind of value converted or skipped with a warning, as `--source-field text` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource
from zipfit_core.data.texts import choose_text_field
from zipfit_core.errors import ZipFitError
from zipfit_core.store.scores_file import read_scores

MIXED = [{"text": "def f(x):\n    return x + 1\n", "id": 0}, {"text": 3, "id": 1}, {"text": None, "id": 2},
         {"text": ["a", "b"], "id": 3}, {"text": "", "id": 4}, {"text": 2.5, "id": 5}, {"text": {"k": 1}, "id": 6},
         {"text": "def g(y):\n    return y * 2\n", "id": 7}]
BODIES = [{"id": i, "title": f"note {i}", "body": f"def f{i}(x):\n    return x + {i}  # a longer body\n"}
          for i in range(6)]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_without_a_text_field_the_longest_text_field_is_chosen_and_explained():
    choice = choose_text_field(pd.DataFrame(BODIES), "pool.jsonl")
    assert choice.field == "body"
    assert choice.reason.startswith("pool.jsonl: no field named 'text', so the text is the field 'body'")
    assert "'title' (6)" in choice.reason and "`field`" in choice.reason  # the other candidate, and the fix


def test_a_text_field_of_mixed_values_is_used_and_said_so():
    choice = choose_text_field(pd.DataFrame(MIXED), "mixed.jsonl")
    assert choice.field == "text"
    assert "holds 3 strings among 7 non-null values" in choice.reason
    assert choose_text_field(pd.DataFrame({"text": ["a", "b"], "body": ["much longer", "x"]})).reason == ""
    empty = choose_text_field(pd.DataFrame({"text": [None, None], "body": ["x", "y"]}), "f")
    assert empty.field == "body" and "the field 'text' is empty in every row" in empty.reason
    with pytest.raises(ZipFitError, match="No text column found among n"):
        choose_text_field(pd.DataFrame({"n": [1, 2]}))


def test_loading_keeps_the_choice_as_a_note(tmp_path):
    loaded = load_source(DataSource("local", str(write_jsonl(tmp_path / "mixed.jsonl", MIXED))))
    assert loaded.text_field == "text"
    assert loaded.texts == [MIXED[0]["text"], "3", '["a", "b"]', "2.5", '{"k": 1}', MIXED[7]["text"]]
    assert len(loaded.notes) == 1 and "holds 3 strings" in loaded.notes[0]
    assert len(loaded.warnings) == 4  # numbers, lists / objects, the null row, the empty row
    assert load_source(DataSource("demo", "proofnet-valid")).notes == []  # a demo names its own text


def test_the_cli_says_which_field_it_scores_and_records_it(run_cli, tmp_path):
    source = write_jsonl(tmp_path / "pool.jsonl", BODIES)
    target = write_jsonl(tmp_path / "targets.jsonl", [{"text": "def g(y):\n    return y * 2\n"}] * 3)
    out = tmp_path / "scores.parquet"
    result = run_cli("score", source, target, "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1, result.stderr
    assert notes[0].startswith(f"note: source: {source}: no field named 'text', so the text is the field 'body'")
    assert notes[0].endswith("Choose another with --source-field or --source-template.")
    scores, run = read_scores(out)
    assert len(scores) == 6 and run.source_field == "body"
    assert run.source_recipe["text"]["field"] == "body"  # the export manifest's recipe carries it too


def test_the_cli_scores_a_mixed_text_field_with_warnings(run_cli, tmp_path):
    source = write_jsonl(tmp_path / "mixed.jsonl", MIXED)
    target = write_jsonl(tmp_path / "targets.jsonl", [{"text": "def g(y):\n    return y * 2\n"}] * 3)
    out = tmp_path / "scores.parquet"
    result = run_cli("score", source, target, "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr  # it was: "No text column found among text, id"
    lines = result.stderr.splitlines()
    assert any(line.startswith("note: source:") and "holds 3 strings among 7 non-null values" in line
               for line in lines), result.stderr
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert any("converted 2 values of numbers and booleans to text: rows 1, 5" in line for line in warnings)
    assert any("converted 2 values of lists / objects" in line and "rows 3, 6" in line for line in warnings)
    assert any("null (missing) value for the text field: row 2" in line for line in warnings)
    assert any("whose text is empty: row 4" in line for line in warnings)
    scores, run = read_scores(out)
    assert len(scores) == 6 and run.source_field == "text"
