"""Explore's "Balance over the targets" switch (issue 24): with it on, the cut is `select_balanced` at the same
budget: the counts, the coverage and the export are the balanced selection's; the link carries it (`bal=1`);
Export writes exactly the rows and manifest `zipfit select --balance targets` writes; Compare shows both cuts.
The planted pool: tests/planted_targets.py (rare changelog targets, left uncovered by the plain top 60)."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from tests.planted_targets import POOL, TARGET_SET
from zipfit_app.state.view import encode_view
from zipfit_core.analysis.coverage import BALANCED_RULE_NOTE, coverage_of_rows, select_balanced
from zipfit_core.analysis.explore import decimals_to_tell_apart
from zipfit_core.analysis.export import export_selection, manifest_path
from zipfit_core.analysis.selection import SelectionRule, TokenCounter
from zipfit_core.jobs.manager import JobManager
from zipfit_core.scoring.alignment import rank_by_score
from zipfit_core.store.score_cache import cached_target_facts

from .app_steps import assert_no_exception, metric, new_app, scored_local_app, session_of, set_cut

TOP_K = 60


def scored_explore(isolated):
    at = scored_local_app(isolated, POOL, TARGET_SET)
    at.switch_page("pages/explore.py").run()
    set_cut(at, "top_k", TOP_K)
    return at


def core_balanced(at):
    """The balanced selection as the command line makes it: the scores and the per-target facts in the cache."""
    run = session_of(at).result.run
    facts = cached_target_facts(JobManager.shared().cache_dir, run)
    scores = JobManager.shared().result(session_of(at).result.job_id)
    tokens = TokenCounter().count(POOL)  # as `zipfit select` counts them
    return scores, facts, select_balanced(scores, SelectionRule("top_k", TOP_K), facts, tokens)


def test_the_switch_keeps_the_balanced_rows_and_the_link_restores_it(isolated):
    at = scored_explore(isolated)
    plain_covered = metric(at, "Targets covered").value
    assert not at.toggle(key="explore.balanced").disabled
    at.toggle(key="explore.balanced").set_value(True).run()
    assert_no_exception(at)
    scores, facts, balanced = core_balanced(at)
    assert metric(at, "Rows kept").value == f"{TOP_K:,}"
    assert metric(at, "Targets covered").value == f"{len(TARGET_SET)} of {len(TARGET_SET)}" != plain_covered
    assert session_of(at).view.balanced and encode_view(session_of(at).view)["bal"] == "1"
    ranked = rank_by_score(scores)
    kept = np.isin(ranked, balanced.rows)
    low, high = scores[ranked[kept][-1]], scores[ranked[~kept][0]]
    assert high > low  # not a prefix of the ranking: the counts come from the selection's rows
    places = decimals_to_tell_apart(low, high) or 4
    assert (metric(at, "Lowest kept score").value, metric(at, "Best dropped score").value) == (f"{low:.{places}f}",
                                                                                   f"{high:.{places}f}")

    linked = new_app({**encode_view(session_of(at).view), "tab": "cut"})
    linked.switch_page("pages/explore.py").run()
    assert_no_exception(linked)
    assert linked.toggle(key="explore.balanced").value
    assert metric(linked, "Targets covered").value == f"{len(TARGET_SET)} of {len(TARGET_SET)}"
    shown = [frame.value["row"].tolist() for frame in linked.dataframe if "row" in frame.value.columns]
    assert ranked[kept][-5:].tolist() in shown and ranked[~kept][:5].tolist() in shown  # rows around the cut

    at.toggle(key="explore.balanced").set_value(False).run()
    assert metric(at, "Targets covered").value == plain_covered and "bal" not in encode_view(session_of(at).view)


def test_export_writes_the_balanced_selection_as_the_command_line_does(isolated, tmp_path):
    at = scored_explore(isolated)
    at.toggle(key="explore.balanced").set_value(True).run()
    at.switch_page("pages/export.py").run()
    assert_no_exception(at)
    at.toggle(key="export.decontaminate").set_value(False).run()
    at.radio(key="export.format").set_value("jsonl").run()
    assert_no_exception(at)
    scores, facts, balanced = core_balanced(at)
    source = pd.read_json(io.StringIO((isolated / "pool.jsonl").read_text()), lines=True)
    out = tmp_path / "cli.jsonl"
    coverage = coverage_of_rows(facts, balanced.rows, len(scores))
    expected = export_selection(source, POOL, "text", scores, balanced, TokenCounter(), session_of(at).result.run,
                                out, coverage=coverage, balanced=True)
    downloads = session_of(at).downloads
    assert downloads.file() == out.read_bytes()
    manifest = json.loads(downloads.manifest())
    assert manifest["rule"]["order"] == BALANCED_RULE_NOTE == expected["rule"]["order"]
    assert manifest["coverage"] == expected["coverage"] == coverage.to_dict()
    assert manifest["coverage"]["covered"] == len(TARGET_SET)
    assert manifest["rows"] == expected["rows"] and manifest["tokens"] == expected["tokens"]
    assert json.loads(manifest_path(out).read_text())["coverage"] == manifest["coverage"]


def test_a_threshold_disables_the_switch_with_a_reason(isolated):
    at = scored_explore(isolated)
    at.toggle(key="explore.balanced").set_value(True).run()
    set_cut(at, "threshold", 0.0)
    assert at.toggle(key="explore.balanced").disabled and not at.toggle(key="explore.balanced").value
    assert any("not a score threshold" in caption.value for caption in at.caption)


def test_compare_shows_the_cut_by_score_beside_the_balanced_one(isolated):
    at = scored_explore(isolated)
    _, facts, balanced = core_balanced(at)
    at.switch_page("pages/compare.py").run()
    at.multiselect(key="compare.methods").set_value(["zipfit", "zipfit-debiased"]).run()
    at.radio(key="compare.budget_kind").set_value("top_k").run()
    at.number_input(key="compare.budget.top_k").set_value(float(TOP_K)).run()
    assert_no_exception(at)
    table = next(frame.value for frame in at.dataframe if "targets covered" in frame.value.columns)
    assert table["cut"].tolist() == ["by score", "balanced"] and table["rows kept"].tolist() == [TOP_K, TOP_K]
    assert table["targets covered"].iloc[1] == len(TARGET_SET) > table["targets covered"].iloc[0]
    assert any("Jaccard" in text.value for text in at.markdown)
