"""Compare's two numbers about a selection as a whole (issue 24): DSIR's KL reduction toward the targets, and the
compression ratio of the selection's texts."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from zipfit_core.analysis import selection_measures as measures_module
from zipfit_core.analysis.compare import compare_methods
from zipfit_core.analysis.selection import SelectionRule, select
from zipfit_core.analysis.selection_measures import compression_ratio, selection_measures
from zipfit_core.scoring.baselines import hashed_ngram_distribution


def test_hashed_ngrams_are_dsirs_own_features(humaneval_texts):
    from data_selection.hashed_ngram_dsir import get_ngram_counts

    counts = np.zeros(10000, dtype=np.int64)
    for text in humaneval_texts[:40]:
        get_ngram_counts(text, counts=counts)
    assert np.allclose(hashed_ngram_distribution(humaneval_texts[:40]), counts / counts.sum())


def test_compression_ratio_is_gzip_9_of_the_concatenated_texts(humaneval_texts):
    rows = np.arange(0, 40, 3)
    raw = "".join(humaneval_texts[row] for row in rows).encode()
    assert compression_ratio(humaneval_texts, rows) == pytest.approx(len(gzip.compress(raw, 9)) / len(raw))
    repeated = [humaneval_texts[0]] * 20 + humaneval_texts[1:21]
    assert compression_ratio(repeated, np.arange(20)) < 0.5 * compression_ratio(repeated, np.arange(20, 40))


def test_a_selection_of_target_like_rows_has_a_positive_kl_reduction(humaneval_texts, proofnet_texts):
    pool = humaneval_texts[:80] + proofnet_texts[:80]
    code_first = np.r_[np.ones(80), np.zeros(80)] + np.linspace(0, 0.5, 160)
    maths_first = 1 - code_first
    rule = SelectionRule("top_k", 60)
    result = compare_methods({"code": code_first, "maths": maths_first}, rule, texts=pool,
                             targets=humaneval_texts[100:140])
    table = result.measures.table.set_index("method")
    assert table.loc["code", "kl_reduction"] > 0.2 and table.loc["maths", "kl_reduction"] < -0.2
    assert (table["rows_measured"] == 60).all() and not result.measures.sampled
    no_targets = selection_measures(result.selections, pool, None).table
    assert no_targets["kl_reduction"].isna().all() and no_targets["compression_ratio"].notna().all()


def test_a_large_selection_is_measured_on_a_sample(humaneval_texts, monkeypatch):
    monkeypatch.setattr(measures_module, "MAX_MEASURED_ROWS", 50)
    selections = {"all": select(np.arange(164.0), SelectionRule("top_k", 164))}
    measured = selection_measures(selections, humaneval_texts, humaneval_texts[:10])
    assert measured.sampled and measured.table["rows_measured"].tolist() == [50]
    assert "sample of 50 rows" in measures_module.describe_sampling(measured)
