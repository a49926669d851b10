"""Explore shows which targets the cut serves (issue 24): coverage n of M as the definition counts it, the worst
served targets first, a target's nearest rows with how far they stand above its typical similarity, and the
uncovered targets to download. The planted pool: tests/core/analysis/test_coverage.py (rare changelog targets)."""

from __future__ import annotations

import numpy as np

from tests.planted_targets import POOL, RARE_TARGETS, TARGET_SET, direct_covered
from zipfit_core.scoring.alignment import alignment_scores, rank_by_score

from .app_steps import assert_no_exception, metric, scored_local_app, set_cut


def test_explore_shows_coverage_worst_served_targets_their_nearest_rows_and_the_gaps(isolated):
    at = scored_local_app(isolated, POOL, TARGET_SET)
    at.switch_page("pages/explore.py").run()
    assert_no_exception(at)
    set_cut(at, "top_k", 60)
    expected = direct_covered(rank_by_score(alignment_scores(POOL, TARGET_SET, workers=2))[:60])
    assert metric(at, "Targets covered").value == f"{sum(expected)} of {len(TARGET_SET)}"
    worst = next(frame.value for frame in at.dataframe if "nearest kept" in frame.value.columns)
    assert set(RARE_TARGETS) <= set(worst["target"][: len(RARE_TARGETS) + 1]) and not worst["covered"].iloc[0]
    at.selectbox(key="explore.targets.pick").set_value(RARE_TARGETS[0]).run()
    assert_no_exception(at)
    nearest = next(frame.value for frame in at.dataframe if "above typical" in frame.value.columns)
    assert len(nearest) == 10 and np.all(np.isfinite(nearest["above typical"]))
    gaps_button = at.get("download_button")
    assert gaps_button, "the uncovered targets can be downloaded"
    assert any("uncovered" in text.value for text in at.warning)
    set_cut(at, "top_k", len(POOL))
    assert metric(at, "Targets covered").value == f"{len(TARGET_SET)} of {len(TARGET_SET)}"
