"""`zipfit select --decontaminate / --dedup` and `zipfit check-contamination`, run as a user runs them (issue 14).

The pool holds HumanEval problems as planted copies of the targets (exact, re-spaced, one line edited), a
near-copy pair, and ProofNet statements; the targets are other HumanEval problems' copies' originals.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests import boilerplate_data
from tests.boilerplate_data import LICENCE_ONLY, boilerplate_pool, evaluation_rows
from tests.records import write_jsonl
from zipfit_core.analysis.export import manifest_path, removed_path
from zipfit_core.cli.contamination import is_flags_file


pytestmark = pytest.mark.usefixtures("in_tmp_path")  # the commands run from tmp_path


@pytest.fixture()
def scored(cli, humaneval_texts, proofnet_texts):
    targets = humaneval_texts[:20]
    evaluation = humaneval_texts[20:30]  # an evaluation set that must stay out too
    pool = ([{"text": text, "kind": "target copy"} for text in targets[:10]]
            + [{"text": "  ".join(text.upper().split(" ")), "kind": "target copy"} for text in targets[10:15]]
            + [{"text": text, "kind": "evaluation copy"} for text in evaluation[:5]]
            + [{"text": text, "kind": "code"} for text in humaneval_texts[40:80]]
            + [{"text": text, "kind": "maths"} for text in proofnet_texts[:60]])
    write_jsonl(Path("pool.jsonl"), pool)
    write_jsonl(Path("targets.jsonl"), [{"text": text} for text in targets])
    write_jsonl(Path("evaluation.jsonl"), [{"prompt": text} for text in evaluation])
    result = cli("score", "pool.jsonl", "targets.jsonl", "--quiet", "--out", "scores.parquet")
    assert result.returncode == 0, result.stderr
    return pool


def kinds_of(path: str) -> list[str]:
    return [json.loads(line)["kind"] for line in Path(path).read_text().splitlines()]


def test_select_warns_about_copies_of_the_targets_in_the_cut(cli, scored):
    result = cli("select", "pool.jsonl", "--scores", "scores.parquet", "--top-k", "30", "--out", "plain.jsonl")
    assert result.returncode == 0, result.stderr
    warning = next(line for line in result.stderr.splitlines() if "copy the scoring targets" in line)
    copies = kinds_of("plain.jsonl").count("target copy")
    assert copies >= 10 and warning.startswith(f"warning: {copies} rows of the cut") and "--decontaminate" in warning
    manifest = json.loads(manifest_path("plain.jsonl").read_text())
    assert manifest["curation"]["contamination"]["flagged"]["exact"] == 15
    assert not removed_path("plain.jsonl").exists()


def test_decontaminate_removes_targets_and_evaluation_copies_and_refills(cli, scored):
    result = cli("select", "pool.jsonl", "--scores", "scores.parquet", "--top-k", "30", "--decontaminate",
                 "--decontaminate", "evaluation.jsonl", "--ref-field", "prompt", "--out", "clean.jsonl")
    assert result.returncode == 0, result.stderr
    kinds = kinds_of("clean.jsonl")
    assert len(kinds) == 30 and "target copy" not in kinds and "evaluation copy" not in kinds
    manifest = json.loads(manifest_path("clean.jsonl").read_text())
    curation = manifest["curation"]
    assert curation["settings"]["decontaminate"] and curation["settings"]["ngram"] == 13
    assert set(curation["contamination"]["references"]) == {"targets (targets.jsonl)", "evaluation.jsonl"}
    removed = [json.loads(line) for line in removed_path("clean.jsonl").read_text().splitlines()]
    assert {record["reference"] for record in removed} == {"targets (targets.jsonl)", "evaluation.jsonl"}
    assert sum(curation["removed"].values()) == len(removed)
    assert curation["removed_rows_file"] == "clean.jsonl.removed.jsonl"
    assert {scored[record["row"]]["kind"] for record in removed} == {"target copy", "evaluation copy"}
    assert "refilled" in curation["refill"] or "replaced" in curation["refill"]


def test_decontaminate_with_nothing_to_remove_writes_no_removed_rows_file(cli, humaneval_texts, proofnet_texts):
    write_jsonl(Path("clean_pool.jsonl"), [{"text": text} for text in humaneval_texts[40:80] + proofnet_texts[:60]])
    write_jsonl(Path("targets.jsonl"), [{"text": text} for text in humaneval_texts[:20]])
    assert cli("score", "clean_pool.jsonl", "targets.jsonl", "--quiet", "--out", "scores.parquet").returncode == 0
    result = cli("select", "clean_pool.jsonl", "--scores", "scores.parquet", "--top-k", "30", "--decontaminate",
                 "--out", "clean.jsonl", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    manifest = json.loads(manifest_path("clean.jsonl").read_text())
    assert summary["removed"] == manifest["curation"]["removed"] == {"exact": 0, "ngram": 0, "near-duplicate": 0}
    assert summary["removed_rows_file"] is None and manifest["curation"]["removed_rows_file"] is None
    assert not removed_path("clean.jsonl").exists()

def test_dedup_keeps_the_best_of_each_near_duplicate_pair(cli, scored, humaneval_texts):
    pool = scored + [{"text": humaneval_texts[41].replace("return", "return ", 1), "kind": "near copy"}]
    write_jsonl(Path("pool2.jsonl"), pool)
    assert cli("score", "pool2.jsonl", "targets.jsonl", "--quiet", "--out", "scores2.parquet").returncode == 0
    result = cli("select", "pool2.jsonl", "--scores", "scores2.parquet", "--top-percent", "100", "--dedup",
                 "--out", "dedup.jsonl")
    assert result.returncode == 0, result.stderr
    removed = [json.loads(line) for line in removed_path("dedup.jsonl").read_text().splitlines()]
    pairs = {tuple(sorted((record["row"], record["reference_row"]))) for record in removed}
    assert (21, len(pool) - 1) in pairs  # pool row 21 is humaneval_texts[41]
    assert len(kinds_of("dedup.jsonl")) == len(pool) - len(removed)


def test_check_contamination_writes_the_flags(cli, scored):
    result = cli("check-contamination", "pool.jsonl", "--ref", "targets.jsonl", "--ref", "evaluation.jsonl",
                 "--ref-field", "prompt", "--out", "flags.parquet")
    assert result.returncode == 2 and "Field 'prompt' not found" in result.stderr  # one field for all refs
    result = cli("check-contamination", "pool.jsonl", "--ref", "targets.jsonl", "--out", "flags.parquet")
    assert result.returncode == 0, result.stderr
    flags = pd.read_parquet("flags.parquet")
    exact = flags[flags["kind"] == "exact"]
    assert exact["row"].tolist() == list(range(15)) and exact["reference_row"].tolist() == list(range(15))
    # HumanEval 20 (pool row 15) shares a 13-word run of its solution with HumanEval 0: a true n-gram flag
    assert flags[flags["kind"] == "ngram"]["row"].tolist() == [15]
    assert is_flags_file("flags.parquet") and "flagged 16 of 120 rows (15 exact" in result.stderr
    assert cli("check-contamination", "pool.jsonl", "--ref", "targets.jsonl", "--out", "flags.parquet").returncode == 0
    assert cli("check-contamination", "pool.jsonl", "--ref", "targets.jsonl", "--out", "pool.jsonl").returncode == 2


def test_demo_minif2f_rows_are_found_when_they_are_the_targets(cli):
    result = cli("check-contamination", "demo:pool-mini", "--ref", "demo:pool-mini", "--ref-filter",
                 "source=minif2f", "--out", "minif2f.parquet")
    assert result.returncode == 0, result.stderr
    flags = pd.read_parquet("minif2f.parquet")
    from zipfit_core.data.loading import load_source
    from zipfit_core.data.sources import DataSource

    pool = load_source(DataSource("demo", "pool-mini"))
    minif2f_rows = np.flatnonzero(pool.table["source"].to_numpy() == "minif2f")
    assert set(minif2f_rows.tolist()) <= set(flags["row"].tolist())


@pytest.fixture()
def licence_pool(cli, humaneval_texts, proofnet_texts):
    """The planted boilerplate pool (tests/boilerplate_data.py) scored against HumanEval targets; the evaluation
    set holds the two licensed ProofNet rows, and the targets hold a near copy of one of them."""
    pool = boilerplate_pool(humaneval_texts, proofnet_texts)
    write_jsonl(Path("licensed.jsonl"), pool)
    evaluation = evaluation_rows(proofnet_texts)
    write_jsonl(Path("evaluation.jsonl"), [{"text": text} for text in evaluation])
    write_jsonl(Path("targets.jsonl"), [{"text": text} for text in humaneval_texts[100:110]]
                + [{"text": boilerplate_data.one_line_changed(evaluation[0])}])
    assert cli("score", "licensed.jsonl", "targets.jsonl", "--quiet", "--out", "licensed.parquet").returncode == 0
    return pool


def test_select_keeps_rows_sharing_only_a_licence_header_and_removes_respaced_copies(cli, licence_pool):
    result = cli("select", "licensed.jsonl", "--scores", "licensed.parquet", "--top-percent", "100",
                 "--decontaminate", "evaluation.jsonl", "--out", "kept.jsonl")
    assert result.returncode == 0, result.stderr
    assert sorted(kinds_of("kept.jsonl")) == ["licence only"] * LICENCE_ONLY
    assert f"{LICENCE_ONLY} rows kept as sharing only boilerplate" in result.stderr and "copyright" in result.stderr
    curation = json.loads(manifest_path("kept.jsonl").read_text())["curation"]
    assert curation["settings"]["max_matches"] == 10 and curation["spared_as_boilerplate"] == LICENCE_ONLY
    assert curation["contamination"]["flagged"] == {"exact": 1, "ngram": 1}  # the re-spaced and the edited copy
    warning = next(line for line in result.stderr.splitlines() if "of the scoring targets" in line)
    assert warning.startswith("warning: 1 row of the scoring targets copies an evaluation set")

    strict = cli("select", "licensed.jsonl", "--scores", "licensed.parquet", "--top-percent", "100",
                 "--decontaminate", "evaluation.jsonl", "--max-matches", "100", "--out", "strict.jsonl")
    assert strict.returncode != 0 and "removed as a copy" in strict.stderr  # every row holds the header


def test_check_contamination_reports_rows_spared_as_boilerplate(cli, licence_pool):
    result = cli("check-contamination", "licensed.jsonl", "--ref", "evaluation.jsonl", "--out", "flags.parquet")
    assert result.returncode == 0, result.stderr
    assert len(pd.read_parquet("flags.parquet")) == 2
    assert f"{LICENCE_ONLY} rows kept as sharing only boilerplate" in result.stderr
    bad = cli("check-contamination", "licensed.jsonl", "--ref", "evaluation.jsonl", "--out", "flags.parquet",
              "--max-matches", "0")
    assert bad.returncode == 2 and "--max-matches must be a whole number" in bad.stderr


def test_compare_shows_each_selections_kl_reduction_and_compression_ratio(cli, scored):
    assert cli("score", "pool.jsonl", "targets.jsonl", "--method", "random", "--quiet",
               "--out", "random.parquet").returncode == 0
    result = cli("compare", "pool.jsonl", "--scores", "scores.parquet", "random.parquet", "--top-k", "30",
                 "--json", "compare.json")
    assert result.returncode == 0, result.stderr
    assert "KL reduction (DSIR): KL(targets || random rows) - KL(targets || selection)" in result.stdout
    assert "compression ratio: gzip -9 size / raw size" in result.stdout
    measures = json.loads(Path("compare.json").read_text())["selection_measures"]
    by_method = {record["method"]: record for record in measures["methods"]}
    zipfit, random = (next(record for name, record in by_method.items() if kind in name) for kind in ("zipfit", "random"))
    assert len(by_method) == 2 and measures["sampling"] == "measured on every row"
    assert zipfit["kl_reduction"] > random["kl_reduction"] and 0 < zipfit["compression_ratio"] < 1
