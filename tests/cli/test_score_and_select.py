"""The `zipfit` command line as a user runs it: real child processes, real files, real data.

Round trips (score -> select in every output format, with the manifest) and every bad input:
exit code 2, one line `zipfit: error: ...` on stderr, no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import zipfit_core
from zipfit_core import alignment_scores
from zipfit_core.analysis.selection import SelectionRule, TokenCounter, select
from zipfit_core.data.texts import texts_fingerprint
from zipfit_core.store.scores_file import read_scores


def write_jsonl(path: Path, records: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def assert_user_error(result, *fragments: str) -> str:
    """Exit code 2, a single `zipfit: error:` line that mentions every fragment, and no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zipfit: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_row_reported(result, fragment: str) -> None:
    """A bad value is either refused (one-line error) or handled with a warning; either way the row is named."""
    assert "Traceback" not in result.stderr
    if result.returncode == 2:
        assert_user_error(result, fragment)
    else:
        assert result.returncode == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        assert any(fragment in line for line in warnings), result.stderr


# ---------------------------------------------------------------------------------------------
# Data: a source pool of ProofNet and HumanEval rows with extra fields, HumanEval targets as CSV.

@pytest.fixture(scope="module")
def workspace(tmp_path_factory, proofnet_rows, proofnet_texts, humaneval_texts):
    folder = tmp_path_factory.mktemp("cli")
    texts = proofnet_texts[:50] + humaneval_texts[60:110]
    records = [
        {"id": index, "text": text, "origin": "proofnet" if index < 50 else "humaneval",
         "weight": (index + 1) / 7}  # floats that need all 17 digits to survive a round trip
        for index, text in enumerate(texts)
    ]
    source = write_jsonl(folder / "source.jsonl", records)
    targets = humaneval_texts[:20]
    target = folder / "target.csv"
    pd.DataFrame({"task_id": [f"HumanEval/{i}" for i in range(20)], "problem": targets}).to_csv(target, index=False)
    return {"folder": folder, "source": source, "target": target, "records": records, "texts": texts,
            "targets": targets}


@pytest.fixture(scope="module")
def scored(workspace, run_cli):
    out = workspace["folder"] / "scores.parquet"
    result = run_cli("score", workspace["source"], workspace["target"], "--target-field", "problem",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    return {**workspace, "scores_file": out, "score_result": result,
            "scores": alignment_scores(workspace["texts"], workspace["targets"])}


def test_score_writes_row_score_n_chars_equal_to_the_library(scored):
    table = pq.read_table(scored["scores_file"])
    assert table.column_names == ["row", "score", "n_chars"]
    assert table.column("row").to_pylist() == list(range(len(scored["texts"])))
    assert table.column("n_chars").to_pylist() == [len(text) for text in scored["texts"]]
    assert np.asarray(table.column("score")).tobytes() == scored["scores"].tobytes()
    assert "scoring" in scored["score_result"].stderr  # the progress bar goes to stderr
    assert scored["score_result"].stdout == ""


def test_scores_file_describes_the_run(scored):
    scores, run = read_scores(scored["scores_file"])
    assert scores.tobytes() == scored["scores"].tobytes()
    assert (run.codec, run.level, run.n_sources, run.n_targets) == ("gzip", 9, 100, 20)
    assert (run.source_field, run.target_field) == ("text", "problem")
    assert run.source_fingerprint == texts_fingerprint(scored["texts"])
    assert run.target_fingerprint == texts_fingerprint(scored["targets"])


def test_score_with_another_codec_and_level(workspace, run_cli, tmp_path):
    out = tmp_path / "zstd.parquet"
    result = run_cli("score", workspace["source"], workspace["target"], "--target-field", "problem",
                     "--codec", "zstd", "--level", "5", "--workers", "1", "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    scores, run = read_scores(out)
    assert (run.codec, run.level) == ("zstd", 5)
    assert scores.tobytes() == alignment_scores(workspace["texts"], workspace["targets"], codec="zstd",
                                                level=5).tobytes()


def test_score_at_level_zero_warns_on_one_line(workspace, run_cli, tmp_path):
    result = run_cli("score", workspace["source"], workspace["target"], "--target-field", "problem",
                     "--level", "0", "--quiet", "--out", tmp_path / "level0.parquet")
    assert result.returncode == 0, result.stderr
    warning_lines = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warning_lines) == 1 and "length" in warning_lines[0]


def read_output(path: Path) -> pd.DataFrame:
    suffix = path.suffix
    if suffix == ".jsonl":
        return pd.DataFrame([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()])
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path)
    from datasets import load_from_disk

    return load_from_disk(str(path)).to_pandas()


SELECT_CASES = [
    ("top.jsonl", ["--top-k", "10"], SelectionRule("top_k", 10)),
    ("above.parquet", ["--threshold", "0.2"], SelectionRule("threshold", 0.2)),
    ("share.csv", ["--top-percent", "25"], SelectionRule("top_percent", 25)),
    ("budget_folder", ["--token-budget", "3000"], SelectionRule("token_budget", 3000)),
]


@pytest.mark.parametrize(("name", "arguments", "rule"), SELECT_CASES, ids=[case[0] for case in SELECT_CASES])
def test_select_writes_best_rows_with_all_fields_and_a_manifest(scored, run_cli, tmp_path, name, arguments, rule):
    out = tmp_path / name
    result = run_cli("select", scored["source"], "--scores", scored["scores_file"], *arguments, "--out", out)
    assert result.returncode == 0, result.stderr

    counter = TokenCounter()
    counts = counter.count(scored["texts"])
    expected = select(scored["scores"], rule, counts)
    assert 0 < expected.n_rows < len(scored["texts"])  # the case really cuts
    written = read_output(out)
    assert list(written.columns) == ["id", "text", "origin", "weight", "zipfit_score"]
    assert written["id"].tolist() == expected.rows.tolist()  # best first, ties by row
    originals = [scored["records"][row] for row in expected.rows]
    assert written["origin"].tolist() == [record["origin"] for record in originals]
    assert written["weight"].tolist() == [record["weight"] for record in originals]
    assert written["zipfit_score"].tolist() == scored["scores"][expected.rows].tolist()
    assert written["zipfit_score"].is_monotonic_decreasing
    texts = written["text"].tolist()
    if rule.kind == "token_budget":
        assert texts[:-1] == [record["text"] for record in originals[:-1]]
        assert originals[-1]["text"].startswith(texts[-1]) and texts[-1] != originals[-1]["text"]
        assert counter.count(texts).sum() == 3000  # filled exactly, last document truncated
    else:
        assert texts == [record["text"] for record in originals]

    manifest = json.loads(Path(f"{out}.manifest.json").read_text(encoding="utf-8"))
    assert manifest["package_version"] == zipfit_core.__version__
    assert manifest["scoring"]["codec"] == "gzip" and manifest["scoring"]["level"] == 9
    assert manifest["scoring"]["source_fingerprint"] == texts_fingerprint(scored["texts"])
    assert manifest["scoring"]["target_fingerprint"] == texts_fingerprint(scored["targets"])
    assert len(manifest["scoring"]["source_fingerprint"]) == 64  # sha256 hex
    assert manifest["rule"]["kind"] == rule.kind and manifest["rule"]["value"] == rule.value
    assert manifest["rows"] == {"kept": expected.n_rows, "total": len(scored["texts"])}
    assert manifest["tokens"]["kept"] == expected.tokens_kept
    assert manifest["tokens"]["counter"] == "approx-regex"


def test_select_without_score_column(scored, run_cli, tmp_path):
    out = tmp_path / "plain.jsonl"
    result = run_cli("select", scored["source"], "--scores", scored["scores_file"], "--top-k", "3",
                     "--no-score", "--out", out)
    assert result.returncode == 0, result.stderr
    assert list(read_output(out).columns) == ["id", "text", "origin", "weight"]


# ---------------------------------------------------------------------------------------------
# Undecodable bytes are replaced (U+FFFD), not fatal.

@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_undecodable_bytes_are_replaced_and_scoring_goes_on(cli, tmp_path, suffix):
    source = tmp_path / f"latin1{suffix}"
    if suffix == ".jsonl":
        source.write_bytes(b'{"text": "caf\xe9 au lait"}\n{"text": "plain ascii"}\n')
    else:
        source.write_bytes(b'text\n"caf\xe9 au lait"\nplain ascii\n')
    target = write_jsonl(tmp_path / "target.jsonl", [{"text": "coffee with milk"}])
    scores_file = tmp_path / "scores.parquet"
    result = cli("score", source, target, "--quiet", "--out", scores_file)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "chosen.jsonl"
    result = cli("select", source, "--scores", scores_file, "--top-k", "2", "--out", out)
    assert result.returncode == 0, result.stderr
    assert sorted(read_output(out)["text"]) == ["caf\ufffd au lait", "plain ascii"]


# ---------------------------------------------------------------------------------------------
# Every bad input: exit code 2, one line, no traceback. Most run `main()` in this process (same code,
# no interpreter start-up: an escaping exception fails the test just as a traceback would); the
# commonest also run as real child processes.

@pytest.fixture(params=["child process", "in process"])
def any_cli(request, run_cli):
    return run_cli if request.param == "child process" else request.getfixturevalue("cli")


@pytest.fixture()
def good(tmp_path):
    source = write_jsonl(tmp_path / "source.jsonl", [{"id": 1, "text": "def f(x): return x"},
                                                     {"id": 2, "text": "theorem t : 1 + 1 = 2 :="}])
    target = write_jsonl(tmp_path / "target.jsonl", [{"prompt": "def g(y): return y + 1"}])
    return source, target


def test_missing_source_file(any_cli, good, tmp_path):
    _, target = good
    assert_user_error(any_cli("score", tmp_path / "nowhere.jsonl", target, "--out", tmp_path / "s.parquet"),
                      "not found", "nowhere.jsonl")


def test_missing_target_file(cli, good, tmp_path):
    source, _ = good
    assert_user_error(cli("score", source, tmp_path / "gone.csv", "--out", tmp_path / "s.parquet"),
                      "not found", "gone.csv")


def test_malformed_json_line_gives_the_line_number(any_cli, good, tmp_path):
    """Skipped with a warning naming the line (the default), or refused with an error naming it."""
    _, target = good
    source = tmp_path / "broken.jsonl"
    source.write_text('{"text": "fine"}\n\n{"text": "also fine"}\n{"text": "no closing brace"\n{"text": "x"}\n')
    out = tmp_path / "s.parquet"
    result = any_cli("score", source, target, "--quiet", "--out", out)
    assert_row_reported(result, "line 4")
    if result.returncode == 0:
        assert read_scores(out)[0].shape == (3,)  # the three good rows


def test_malformed_json_line_stops_when_asked(cli, good, tmp_path):
    _, target = good
    source = tmp_path / "broken.jsonl"
    source.write_text('{"text": "fine"}\n{"text": "no closing brace"\n{"text": "x"}\n')
    assert_user_error(cli("score", source, target, "--on-bad-line", "stop", "--out", tmp_path / "s.parquet"),
                      "line 2", "broken.jsonl")
    assert not (tmp_path / "s.parquet").exists()


def test_malformed_json_file_gives_the_line_number(cli, good, tmp_path):
    _, target = good
    source = tmp_path / "broken.json"
    source.write_text('[\n  {"text": "fine"},\n  {"text": oops}\n]\n')
    assert_user_error(cli("score", source, target, "--out", tmp_path / "s.parquet"), "line 3")


def test_missing_field_lists_the_fields_that_exist(cli, good, tmp_path):
    source, target = good
    line = assert_user_error(cli("score", source, target, "--source-field", "content",
                                     "--out", tmp_path / "s.parquet"), "content")
    assert "id" in line and "text" in line


def test_missing_target_field_lists_the_fields_that_exist(cli, good, tmp_path):
    source, target = good
    assert_user_error(cli("score", source, target, "--target-field", "text", "--out", tmp_path / "s.parquet"),
                      "'text'", "prompt")


@pytest.mark.parametrize("content", ["", "\n\n   \n"])
def test_empty_source(cli, good, tmp_path, content):
    _, target = good
    source = tmp_path / "empty.jsonl"
    source.write_text(content)
    assert_user_error(cli("score", source, target, "--out", tmp_path / "s.parquet"), "empty.jsonl")


def test_empty_target(any_cli, good, tmp_path):
    source, _ = good
    target = tmp_path / "empty.csv"
    target.write_text("prompt\n")
    assert_user_error(any_cli("score", source, target, "--out", tmp_path / "s.parquet"), "empty.csv")


def test_non_text_values_in_the_chosen_field(cli, good, tmp_path):
    _, target = good
    source = write_jsonl(tmp_path / "mixed.jsonl", [{"text": "fine"}, {"text": "fine too"}, {"text": 42}])
    assert_row_reported(cli("score", source, target, "--source-field", "text", "--quiet",
                            "--out", tmp_path / "s.parquet"), "2")


def test_null_values_in_the_chosen_field(cli, good, tmp_path):
    _, target = good
    source = write_jsonl(tmp_path / "nulls.jsonl", [{"text": "fine"}, {"text": None}])
    assert_row_reported(cli("score", source, target, "--source-field", "text", "--quiet",
                            "--out", tmp_path / "s.parquet"), "1")


def test_only_null_values_is_an_empty_source(cli, good, tmp_path):
    _, target = good
    source = write_jsonl(tmp_path / "nulls.jsonl", [{"text": None, "id": 1}, {"text": None, "id": 2}])
    assert_user_error(cli("score", source, target, "--source-field", "text", "--out", tmp_path / "s.parquet"))


def test_no_text_column_at_all(cli, good, tmp_path):
    _, target = good
    source = write_jsonl(tmp_path / "numbers.jsonl", [{"a": 1, "b": 2.5}, {"a": 3, "b": 4.5}])
    assert_user_error(cli("score", source, target, "--out", tmp_path / "s.parquet"), "a, b")


def test_unsupported_input_extension(cli, good, tmp_path):
    _, target = good
    source = tmp_path / "notes.xlsx"
    source.write_bytes(b"PK\x03\x04 not really a workbook")
    assert_user_error(cli("score", source, target, "--out", tmp_path / "s.parquet"), ".xlsx")


def test_bad_level_for_codec(cli, good, tmp_path):
    source, target = good
    assert_user_error(cli("score", source, target, "--codec", "brotli", "--level", "12",
                              "--out", tmp_path / "s.parquet"), "brotli", "0 to 11")


def test_scores_output_must_be_parquet(cli, good, tmp_path):
    source, target = good
    assert_user_error(cli("score", source, target, "--out", tmp_path / "scores.csv"), ".parquet")
    assert not (tmp_path / "scores.csv").exists()


@pytest.fixture()
def good_scores(cli, good, tmp_path):
    source, target = good
    scores_file = tmp_path / "scores.parquet"
    assert cli("score", source, target, "--quiet", "--out", scores_file).returncode == 0
    return source, scores_file


def test_bad_output_extension(any_cli, good_scores, tmp_path):
    source, scores_file = good_scores
    out = tmp_path / "chosen.xlsx"
    assert_user_error(any_cli("select", source, "--scores", scores_file, "--top-k", "1", "--out", out),
                      "chosen.xlsx", ".jsonl")
    assert not out.exists() and not Path(f"{out}.manifest.json").exists()


def test_missing_scores_file(cli, good, tmp_path):
    source, _ = good
    assert_user_error(cli("select", source, "--scores", tmp_path / "none.parquet", "--top-k", "1",
                              "--out", tmp_path / "o.jsonl"), "none.parquet", "zipfit score")


def test_scores_file_that_is_not_parquet(cli, good, tmp_path):
    source, _ = good
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet at all")
    assert_user_error(cli("select", source, "--scores", fake, "--top-k", "1", "--out", tmp_path / "o.jsonl"),
                      "fake.parquet")


def test_scores_of_another_file(cli, good_scores, tmp_path):
    _, scores_file = good_scores
    longer = write_jsonl(tmp_path / "longer.jsonl", [{"text": f"row {index}"} for index in range(5)])
    assert_user_error(cli("select", longer, "--scores", scores_file, "--top-k", "1",
                              "--out", tmp_path / "o.jsonl"), "2 scores", "5 rows")


def test_source_changed_since_scoring(cli, good_scores, tmp_path):
    source, scores_file = good_scores
    write_jsonl(source, [{"id": 1, "text": "edited"}, {"id": 2, "text": "theorem t : 1 + 1 = 2 :="}])
    assert_user_error(cli("select", source, "--scores", scores_file, "--top-k", "1",
                              "--out", tmp_path / "o.jsonl"), "changed", "score it again")


@pytest.mark.parametrize("arguments", [["--top-k", "-1"], ["--top-percent", "150"]])
def test_invalid_selection_rule(cli, good_scores, tmp_path, arguments):
    source, scores_file = good_scores
    assert_user_error(cli("select", source, "--scores", scores_file, *arguments,
                              "--out", tmp_path / "o.jsonl"))
