"""`zipfit select` shaped by hand (--include-rows, --exclude-rows, --exclude-matching, --cap), its bad input, and
`--from-manifest` making every kind of cut again, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.planted_targets import POOL, TARGET_SET
from zipfit_core.analysis.export import manifest_path, removed_path

KINDS = ["changelog" if index >= 240 else ("docs" if index % 3 == 0 else "code") for index in range(len(POOL))]


@pytest.fixture()
def scored(cli, tmp_path, monkeypatch) -> Path:
    """The planted pool (with a `kind` column and a licence line in every 7th row), its targets, scored; cwd."""
    monkeypatch.chdir(tmp_path)
    rows = [{"text": text + ("\nLicensed under the Apache License" if index % 7 == 0 else ""), "kind": kind}
            for index, (text, kind) in enumerate(zip(POOL, KINDS))]
    Path("pool.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    Path("targets.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TARGET_SET), encoding="utf-8")
    Path("heldout.jsonl").write_text(json.dumps({"text": rows[3]["text"]}) + "\n", encoding="utf-8")
    Path("keep.txt").write_text("250\n# a changelog we want\n251\n", encoding="utf-8")
    Path("drop.txt").write_text("0\n1\n2\n", encoding="utf-8")
    assert cli("score", "pool.jsonl", "targets.jsonl", "--out", "scores.parquet", "-q").returncode == 0
    return tmp_path


CUTS = {
    "top-k": ["--top-k", 40],
    "top-percent": ["--top-percent", 15],
    "threshold": ["--threshold", 0.05],
    "token-budget": ["--token-budget", 3000],
    "decontaminate": ["--top-k", 40, "--decontaminate", "--decontaminate", "heldout.jsonl"],
    "dedup": ["--top-k", 40, "--dedup"],
    "overrides": ["--top-k", 40, "--include-rows", "keep.txt", "--exclude-rows", "drop.txt"],
    "patterns": ["--top-percent", 20, "--exclude-matching", "Apache License", "--exclude-matching", "^fix"],
    "caps": ["--token-budget", 4000, "--cap", "kind=docs:10%", "--cap", "kind=changelog:0.02"],
    "caps-pool-share": ["--top-k", 60, "--cap", "kind=*:pool"],
    "balanced": ["--top-k", 60, "--balance", "targets", "--cap", "kind=code:50%", "--include-rows", "keep.txt"],
}


@pytest.mark.parametrize("cut", CUTS, ids=list(CUTS))
def test_from_manifest_makes_every_kind_of_cut_again_byte_for_byte(cli, scored, cut) -> None:
    first = cli("select", "pool.jsonl", "--scores", "scores.parquet", *CUTS[cut], "--out", "first.jsonl")
    assert first.returncode == 0, first.stderr
    again = cli("select", "--from-manifest", manifest_path("first.jsonl"), "--out", "again.jsonl")
    assert again.returncode == 0, again.stderr
    assert Path("again.jsonl").read_bytes() == Path("first.jsonl").read_bytes()
    assert removed_path("again.jsonl").exists() == removed_path("first.jsonl").exists()
    if removed_path("first.jsonl").exists():
        assert removed_path("again.jsonl").read_bytes() == removed_path("first.jsonl").read_bytes()
    first_manifest, again_manifest = (json.loads(manifest_path(name).read_text()) for name in ("first.jsonl",
                                                                                               "again.jsonl"))
    for manifest in (first_manifest, again_manifest):
        manifest["curation"].pop("removed_rows_file", None)  # named after each export
    for part in ("plan", "rule", "rows", "tokens", "curation", "coverage", "replay"):
        assert first_manifest[part] == again_manifest[part], part


def test_shaping_keeps_k_rows_and_lists_why_rows_are_out(cli, scored) -> None:
    result = cli("select", "pool.jsonl", "--scores", "scores.parquet", "--top-k", 40, "--include-rows", "keep.txt",
                 "--exclude-rows", "drop.txt", "--exclude-matching", "Apache License", "--cap", "kind=docs:10%",
                 "--json", "--out", "cut.jsonl")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    kept = [json.loads(line) for line in Path("cut.jsonl").read_text().splitlines()]
    assert summary["rows"]["kept"] == len(kept) == 40
    assert {row["text"] for row in kept[:2]} == {POOL[250], POOL[251]}  # by hand, first
    assert sum(row["kind"] == "docs" for row in kept) <= 4
    assert not any("Apache License" in row["text"] for row in kept)
    reasons = {json.loads(line)["reason"] for line in removed_path("cut.jsonl").read_text().splitlines()}
    assert {"excluded by a pattern", "over its group's cap"} <= reasons
    assert summary["removed"]["excluded by a pattern"] > 0 and summary["removed"]["over its group's cap"] > 0
    plan = json.loads(manifest_path("cut.jsonl").read_text())["plan"]
    assert plan["shaping"]["include_rows"] == [250, 251] and plan["shaping"]["patterns"] == ["Apache License"]


@pytest.mark.parametrize("options, message", [
    (["--exclude-rows", "far.txt"], "outside the pool of 252 rows"),
    (["--cap", "size=big:1%"], "no column 'size'"),
    (["--cap", "kind=tests:1%"], "no value 'tests'"),
    (["--exclude-matching", "(?<=a)b"], "RE2"),
    (["--exclude-matching", "(unclosed"], "missing )"),
    (["--cap", "kind=docs:1%", "--cap", "kind=code:1%", "--cap", "kind=changelog:1%"], "raise a cap"),
    (["--cap", "kind=docs:1"], None),  # holds: a sanity check of the table
])
def test_bad_shaping_input_says_what_to_change(cli, scored, options, message) -> None:
    Path("far.txt").write_text("5\n252\n", encoding="utf-8")
    result = cli("select", "pool.jsonl", "--scores", "scores.parquet", "--top-k", 40, *options, "--out", "x.jsonl")
    if message is None:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()[-1].split(". ")) <= 2  # one sentence (and its example)


def test_from_manifest_refuses_cut_options_and_changed_scores(cli, scored) -> None:
    assert cli("select", "pool.jsonl", "--scores", "scores.parquet", "--top-k", 5, "--out", "a.jsonl").returncode == 0
    mixed = cli("select", "--from-manifest", manifest_path("a.jsonl"), "--top-k", 6, "--out", "b.jsonl")
    assert mixed.returncode == 2 and "leave out --top-k" in mixed.stderr
    for recorded in (["--balance", "targets"], ["--no-score"], ["--ngram", 8]):  # recorded too: never ignored
        refused = cli("select", "--from-manifest", manifest_path("a.jsonl"), *recorded, "--out", "b.jsonl")
        assert refused.returncode == 2 and f"leave out {recorded[0]}" in refused.stderr
    assert cli("score", "pool.jsonl", "heldout.jsonl", "--out", "scores.parquet", "-q").returncode == 0
    changed = cli("select", "--from-manifest", manifest_path("a.jsonl"), "--out", "b.jsonl")
    assert changed.returncode == 2 and "have changed since" in changed.stderr
    missing = cli("select", "pool.jsonl", "--top-k", 5, "--out", "c.jsonl")
    assert missing.returncode == 2 and "--from-manifest" in missing.stderr


def test_from_manifest_works_from_another_folder(cli, scored, monkeypatch) -> None:
    options = ["--top-k", 20, "--decontaminate", "heldout.jsonl", "--exclude-matching", "Apache"]
    assert cli("select", "pool.jsonl", "--scores", "scores.parquet", *options, "--out", "a.jsonl").returncode == 0
    elsewhere = scored / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = cli("select", "--from-manifest", "../a.jsonl.manifest.json", "--out", "b.jsonl")
    assert result.returncode == 0, result.stderr
    assert (elsewhere / "b.jsonl").read_bytes() == (scored / "a.jsonl").read_bytes()
