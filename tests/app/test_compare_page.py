"""The Compare page's wiring with streamlit.testing.v1.AppTest: every number it shows is the core's.

Local files under a per-test data root: a labelled pool (ProofNet test rows, stdlib prose and code)
and ProofNet valid as the target; the bundled ProofNet test split is the held-out evaluation set.
"""

from __future__ import annotations

import time

import numpy as np

from tests.selector_data import proofnet_split
from zipfit_core import alignment_scores
from zipfit_core.analysis.compare import compare_methods
from zipfit_core.analysis.proxy_eval import proxy_evaluation
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.analysis.selection_measures import selection_measures
from zipfit_core.errors import ScoringCancelled
from zipfit_core.jobs import method_scores
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.method_scores import score_sources

from .app_steps import TIMEOUT, assert_no_exception, click, compute_and_wait, session_of


def test_compare_page_shows_the_cores_numbers_and_proxy_curves(app_with_data):
    at, pool = app_with_data
    at.switch_page("pages/compare.py").run()
    assert_no_exception(at)
    assert any("not complete" in warning.value for warning in at.warning)  # ZIP-FIT not scored yet

    at.switch_page("pages/score.py").run()
    click(at, "Start scoring")
    assert JobManager.shared().wait(session_of(at).result.job_id, timeout=TIMEOUT).state == "done"
    at.switch_page("pages/compare.py").run()
    at.multiselect(key="compare.methods").set_value(["zipfit", "tfidf", "random"]).run()
    compute_and_wait(at)
    assert not any("not complete" in warning.value for warning in at.warning)
    at.radio(key="compare.budget_kind").set_value("top_k").run()
    at.number_input(key="compare.budget.top_k").set_value(10.0).run()
    at.selectbox(key="compare.group_by").set_value("origin").run()
    assert_no_exception(at)

    expected = compare_methods(
        {"ZIP-FIT": alignment_scores(pool.sources, pool.targets),
         "TF-IDF cosine": score_sources("tfidf", pool.sources, pool.targets),
         "Random": score_sources("random", pool.sources, pool.targets)},
        SelectionRule("top_k", 10), lengths=np.array([len(text) for text in pool.sources]),
        column_values=pool.origin)
    frames = [frame.value for frame in at.dataframe]
    overlap = next(frame for frame in frames if "jaccard" in frame.columns)
    assert overlap.reset_index(drop=True).equals(expected.overlaps)
    bias = next(frame for frame in frames if "spearman_score_length" in frame.columns)
    np.testing.assert_allclose(bias["spearman_score_length"], expected.length_bias["spearman_score_length"])
    composition = next(frame for frame in frames if "pool_share" in frame.columns)
    assert composition["ZIP-FIT"].to_dict() == expected.composition["ZIP-FIT"].to_dict()
    whole = next(frame for frame in frames if "kl_reduction" in frame.columns).set_index("method")
    measures = selection_measures(expected.selections, pool.sources, pool.targets).table.set_index("method")
    np.testing.assert_allclose(whole["kl_reduction"], measures["kl_reduction"])
    np.testing.assert_allclose(whole["compression_ratio"], measures["compression_ratio"])
    captions = " ".join(caption.value for caption in at.caption)
    assert "KL reduction (DSIR)" in captions and "compression ratio: gzip -9" in captions

    at.selectbox(key="compare.eval").set_value("demo: proofnet-test").run()
    at.text_input(key="compare.ks.rows").set_value("4, 16").run()
    click(at, "Run the proxy evaluation")
    assert any("disjoint" in message.value for message in at.success)
    assert any("also occur in the source pool" in warning.value for warning in at.warning)  # the pool holds test rows
    content = session_of(at).proxy_result.content
    held_out = proofnet_split("test")
    reference = proxy_evaluation(pool.sources, {"ZIP-FIT": alignment_scores(pool.sources, pool.targets)}, held_out,
                                 pool.targets, ks=[4, 16])
    assert content["curves"][0]["method"] == "ZIP-FIT"
    assert content["curves"][0]["bits_per_char"] == reference.curves[0].bits_per_char
    assert "Proxy, not fine-tuning" in " ".join(caption.value for caption in at.caption)


def test_proxy_evaluation_on_the_selection_targets_is_refused_in_place(app_with_data):
    at, _ = app_with_data
    at.switch_page("pages/compare.py").run()
    at.multiselect(key="compare.methods").set_value(["tfidf", "random"]).run()
    compute_and_wait(at)
    at.selectbox(key="compare.eval").set_value("demo: proofnet-valid").run()  # the same rows as valid.jsonl
    click(at, "Run the proxy evaluation")
    assert any("also occur among the selection targets" in error.value for error in at.error)
    assert session_of(at).proxy_result is None


def test_compute_returns_while_the_runs_go_on_and_cancel_stops_them(app_with_data, monkeypatch):
    at, _ = app_with_data
    real_score_sources = method_scores.score_sources

    def tfidf_until_cancelled(method, sources, targets, *, progress=None, cancel=None, **settings):
        if method != "tfidf":
            return real_score_sources(method, sources, targets, progress=progress, cancel=cancel, **settings)
        progress(3, len(sources))
        cancel.wait(TIMEOUT)  # runs until the page's Cancel button stops it
        raise ScoringCancelled("cancelled")

    monkeypatch.setattr(method_scores, "score_sources", tfidf_until_cancelled)
    at.switch_page("pages/compare.py").run()
    at.multiselect(key="compare.methods").set_value(["tfidf", "random"]).run()
    click(at, "Compute")  # returns although TF-IDF cannot finish before it is cancelled
    tfidf_run = next(run_id for run_id in session_of(at).compare_runs
                     if JobManager.shared().status(run_id).kind == "tfidf")
    assert JobManager.shared().status(tfidf_run).state == "running"  # claimed as it was given its slot
    deadline = time.monotonic() + TIMEOUT
    while JobManager.shared().status(tfidf_run).done < 3 and time.monotonic() < deadline:
        time.sleep(0.02)  # its thread reports progress soon after it starts
    at.run()
    progress_texts = [element.proto.text for element in at.get("progress")]
    assert any(text.startswith("TF-IDF cosine: running, 3 of 32 rows") for text in progress_texts), progress_texts
    assert any(text.startswith("Random: queued") for text in progress_texts), progress_texts
    assert not any("jaccard" in frame.value.columns for frame in at.dataframe)  # no comparison yet
    assert not [button for button in at.button if button.label.startswith("Compute")]

    at.button(key="compare.cancel").click().run()
    assert_no_exception(at)
    assert JobManager.shared().wait(tfidf_run, timeout=TIMEOUT).state == "cancelled"
    at.run()
    assert_no_exception(at)
    assert any("TF-IDF cosine was cancelled" in warning.value for warning in at.warning)
    # One job at a time (ZIPFIT_MAX_JOBS=1): Random waited behind TF-IDF, and Cancel stopped both.
    assert [button.label for button in at.button if button.label.startswith("Compute")] == [
        "Compute TF-IDF cosine, Random (32 rows)"]
