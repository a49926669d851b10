"""`zipfit select --json` reports which targets the cut covers, the manifest records it, and `--balance targets`
fills the same budget covering the rare targets (the planted pool of tests/core/analysis/test_coverage.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.planted_targets import POOL, RARE_TARGETS, TARGET_SET, direct_covered
from zipfit_core.analysis.export import manifest_path


def write_lines(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    return path


def test_select_reports_coverage_and_the_balanced_cut_covers_the_rare_targets(cli, tmp_path) -> None:
    pool, targets = write_lines(tmp_path / "pool.jsonl", POOL), write_lines(tmp_path / "targets.jsonl", TARGET_SET)
    assert cli("score", pool, targets, "--out", tmp_path / "scores.parquet", "-q").returncode == 0
    found = {}
    for balance in ("none", "targets"):
        out = tmp_path / f"cut-{balance}.jsonl"
        result = cli("select", pool, "--scores", tmp_path / "scores.parquet", "--top-k", 60, "--balance", balance,
                     "--json", "--out", out)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        manifest = json.loads(manifest_path(out).read_text())
        assert manifest["coverage"] == summary["coverage"]
        kept = np.array([POOL.index(json.loads(line)["text"]) for line in out.read_text().splitlines()])
        expected = direct_covered(kept)
        assert summary["coverage"]["targets"] == len(TARGET_SET) and summary["rows"]["kept"] == 60
        assert summary["coverage"]["covered"] == sum(expected)
        assert summary["coverage"]["uncovered"] == [t for t, covered in enumerate(expected) if not covered]
        found[balance] = (summary["coverage"], manifest["rule"]["order"])
    assert set(RARE_TARGETS) <= set(found["none"][0]["uncovered"]) and found["targets"][0]["uncovered"] == []
    assert "paper" in found["none"][1] and "not the paper's rule" in found["targets"][1]


def test_a_balanced_cut_without_the_per_target_facts_says_what_to_do(cli, tmp_path) -> None:
    pool, targets = write_lines(tmp_path / "pool.jsonl", POOL[:30]), write_lines(tmp_path / "t.jsonl", TARGET_SET[:3])
    assert cli("score", pool, targets, "--out", tmp_path / "scores.parquet", "--no-cache", "-q").returncode == 0
    result = cli("select", pool, "--scores", tmp_path / "scores.parquet", "--top-k", 5, "--json",
                 "--out", tmp_path / "plain.jsonl")
    assert result.returncode == 0 and json.loads(result.stdout)["coverage"] is None
    result = cli("select", pool, "--scores", tmp_path / "scores.parquet", "--top-k", 5, "--balance", "targets",
                 "--out", tmp_path / "balanced.jsonl")
    assert result.returncode == 2 and "per-target facts" in result.stderr and "zipfit score" in result.stderr
