"""Messages count right: the command line's counts carry thousands separators (`1,200 rows`), and a count of one
takes the singular (`1 row is`, `1 target`), in the CLI and in the library's messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zipfit_core.data.sources import LoadReport, TextSpec, plural
from zipfit_core.data.texts import drop_missing
from zipfit_core.errors import ZipFitError

TARGET = "def add(a, b):\n    return a + b"


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    return path


def line_with(text: str, fragment: str) -> str:
    (line,) = [line for line in text.splitlines() if fragment in line]
    return line


def test_plural_counts_with_separators_and_takes_an_irregular_plural() -> None:
    assert plural(1, "row") == "1 row" and plural(0, "row") == "0 rows" and plural(1200, "row") == "1,200 rows"
    assert plural(1, "entry", "entries") == "1 entry" and plural(2, "entry", "entries") == "2 entries"


def test_score_select_and_compare_print_counts_with_thousands_separators(cli, tmp_path: Path) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl",
                       [f"def add_{i}(a, b):\n    return a + b + {i}  # sum of two numbers" for i in range(1200)])
    targets = write_jsonl(tmp_path / "targets.jsonl", [TARGET])
    scores, random_scores = tmp_path / "scores.parquet", tmp_path / "random.parquet"
    result = cli("score", pool, targets, "--out", scores, "-q")
    assert result.returncode == 0, result.stderr
    assert line_with(result.stderr, "scored").startswith(
        "scored 1,200 rows against 1 target (1,200 pairs computed")
    result = cli("score", pool, targets, "--out", random_scores, "--method", "random", "-q")
    assert result.returncode == 0, result.stderr
    assert line_with(result.stderr, "scored").startswith("scored 1,200 rows with random")
    assert "against 1 target ->" in result.stderr

    result = cli("select", pool, "--scores", scores, "--top-k", 1000, "--out", tmp_path / "best.jsonl")
    assert result.returncode == 0, result.stderr
    kept = line_with(result.stderr, "kept ")
    tokens = json.loads((tmp_path / "best.jsonl.manifest.json").read_text(encoding="utf-8"))["tokens"]["kept"]
    assert kept.startswith(f"kept 1,000 of 1,200 rows ({tokens:,} tokens) ->") and tokens >= 1000

    result = cli("compare", pool, "--scores", scores, random_scores, "--top-k", 1000, "-q")
    assert result.returncode == 0, result.stderr
    assert "budget: top 1000 rows of 1,200 rows" in result.stdout
    exclusive = [line for line in result.stdout.splitlines() if line.startswith("kept only by")]
    assert exclusive and all(line.endswith((" row", " rows")) for line in exclusive)


def test_one_row_and_one_target_are_singular_on_the_command_line(cli, tmp_path: Path) -> None:
    pool = write_jsonl(tmp_path / "pool.jsonl", ["def double(x):\n    return 2 * x"])
    targets = write_jsonl(tmp_path / "targets.jsonl", [TARGET])
    result = cli("score", pool, targets, "--out", tmp_path / "scores.parquet", "-q")
    assert result.returncode == 0, result.stderr
    assert line_with(result.stderr, "scored").startswith("scored 1 row against 1 target (1 pair computed, 0 resumed")
    result = cli("select", pool, "--scores", tmp_path / "scores.parquet", "--top-k", 1, "--out",
                 tmp_path / "best.jsonl")
    assert result.returncode == 0, result.stderr
    assert line_with(result.stderr, "kept ").startswith("kept 1 of 1 row (")


def test_one_shard_is_singular(cli, tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    shards.mkdir()
    write_jsonl(shards / "a.jsonl", ["def double(x):\n    return 2 * x", "def half(x):\n    return x / 2"])
    targets = write_jsonl(tmp_path / "targets.jsonl", [TARGET])
    result = cli("score", shards, targets, "--out", tmp_path / "scored", "-q")
    assert result.returncode == 0, result.stderr
    assert "local engine: 1 shard scored, 0 already done (2 rows against 1 target) in " in result.stderr


def test_one_copy_of_the_targets_in_the_cut_is_singular(cli, tmp_path: Path) -> None:
    target = "Every finite group of prime order is cyclic, and its only subgroups are the trivial group and itself."
    pool = write_jsonl(tmp_path / "pool.jsonl",
                       [target] + [f"Lemma {i}: the sum of two even numbers {i} and {i + 2} is even." for i in range(20)])
    targets = write_jsonl(tmp_path / "targets.jsonl", [target])
    assert cli("score", pool, targets, "--out", tmp_path / "scores.parquet", "-q").returncode == 0
    result = cli("select", pool, "--scores", tmp_path / "scores.parquet", "--top-k", 5, "--out",
                 tmp_path / "best.jsonl")
    assert result.returncode == 0, result.stderr
    assert line_with(result.stderr, "copies the scoring targets").startswith(
        "warning: 1 row of the cut copies the scoring targets (1 exact after normalising, 0 sharing 13 words)")
    result = cli("check-contamination", pool, "--ref", targets, "--ngram", 1, "--out", tmp_path / "flags.parquet")
    assert result.returncode == 0, result.stderr
    assert "sharing 1 word)" in result.stderr


def test_a_source_without_text_says_is_for_one_row() -> None:
    spec = TextSpec(field="text")
    with pytest.raises(ZipFitError, match="1 row is null, 1 row is empty"):
        drop_missing([None, ""], "rows.jsonl", LoadReport(), np.arange(2), spec)
    with pytest.raises(ZipFitError, match="2 rows are null, 1 row is empty"):
        drop_missing([None, None, ""], "rows.jsonl", LoadReport(), np.arange(3), spec)


def test_a_sample_larger_than_one_row_says_is(tmp_path: Path) -> None:
    from zipfit_core.data.loading import load_source
    from zipfit_core.data.sources import DataSource

    path = write_jsonl(tmp_path / "one.jsonl", ["only row"])
    loaded = load_source(DataSource(kind="local", location=str(path), sample=5), TextSpec(field="text"))
    assert any("asked for a sample of 5 rows but only 1 row is there" in warning for warning in loaded.warnings)
