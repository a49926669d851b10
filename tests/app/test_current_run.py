"""The current run (actions.runs.resolve): every page shows the scores of the chosen data and settings when they
exist, keeps what exists when only a menu changed, and never shows another data set's or comparison's results.

Sessions are prepared without clicks (sessions.py); scoring goes through the same action as the Start button.
"""

from __future__ import annotations

import json
import time

from zipfit_app.actions import data, runs, view
from zipfit_app.services import scores
from zipfit_app.state.records import ProxyResult
from zipfit_app.state.view import DataChoice
from zipfit_core.jobs.manager import JobManager

from .app_steps import DEMO_SOURCE, TIMEOUT, assert_no_exception, session_of, texts_of
from .sessions import app_with_session, prepared_session

POOL, PROOFNET, HUMANEVAL = DataChoice("demo", DEMO_SOURCE), DataChoice("demo", "proofnet-valid"), \
    DataChoice("demo", "humaneval")


def scored(session):
    """Start the chosen run as the Start button does, and wait until it is exact."""
    assert runs.start_scoring(session).ok
    assert JobManager.shared().wait(session.result.job_id, timeout=TIMEOUT).state == "done"
    return session.result.job_id


def test_going_back_to_data_whose_scores_are_cached_shows_them_on_every_page(isolated):
    session = prepared_session(POOL, PROOFNET)
    proofnet_job = scored(session)
    data.load_data(session, "target", HUMANEVAL)
    assert session.result is None  # ProofNet's scores are not HumanEval's
    humaneval_job = scored(session)
    data.load_data(session, "target", PROOFNET)
    assert session.result.job_id == proofnet_job != humaneval_job  # found again, no visit to Score
    at = app_with_session(session)
    assert_no_exception(at)
    assert {metric.label: metric.value for metric in at.metric}["Rows kept"] == "30"
    assert any("Scores: exact (ZIP" in text for text in texts_of(at.sidebar.caption))


def test_a_partial_result_in_the_cache_is_shown_as_a_preview_and_resumed(isolated):
    session = prepared_session(DataChoice("demo", "pool"), PROOFNET)  # 716,000 pairs: time to stop it midway
    assert runs.start_scoring(session).ok
    job, manager = session.result.job_id, JobManager.shared()
    deadline = time.monotonic() + TIMEOUT
    while manager.status(job).targets_seen < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    manager.cancel(job)
    assert manager.wait(job, timeout=TIMEOUT).state == "cancelled"
    manager.forget(job)  # as after a restart: only the checkpoint on disk is left
    fresh = prepared_session(DataChoice("demo", "pool"), PROOFNET)
    assert fresh.result is not None and fresh.result.job_id == job
    at = app_with_session(fresh)
    assert_no_exception(at)
    assert any(text.startswith("Preview from") for text in texts_of(at.info))  # every page shows it at once
    at.switch_page("pages/score.py").run()
    assert any(button.label == "Resume scoring" for button in at.button)
    assert any("partial" in text for text in texts_of(at.sidebar.caption))


def test_choosing_another_method_or_level_keeps_the_scores_that_exist(isolated):
    session = prepared_session(POOL, PROOFNET)
    job = scored(session)
    view.choose_method(session, "zipfit-debiased")
    assert session.result.job_id == job and session.view.method == "zipfit-debiased"
    at = app_with_session(session, "pages/score.py")
    assert any("Start** computes ZIP\\-FIT, length\\-debiased" in text for text in texts_of(at.info))
    at.switch_page("pages/explore.py").run()
    assert {metric.label: metric.value for metric in at.metric}["Rows kept"] == "30"
    assert any("these are ZIP-FIT's" in text for text in texts_of(at.caption))
    at.switch_page("pages/export.py").run()
    assert session_of(at).downloads is not None and session_of(at).downloads.name.endswith("-zipfit-top10pct.jsonl")
    manifest = json.loads(session_of(at).downloads.manifest())
    assert manifest["scoring"]["method"] == "zipfit"  # the manifest records the scores it exports
    view.set_level(session, 6)
    assert session.result.job_id == job  # a level in a menu hides nothing either
    view.choose_method(session, "zipfit")
    view.set_level(session, 9)
    debiased = scores.find(runs.current_data(session), runs.chosen_run(session))
    assert debiased is not None and debiased.job_id == job


def test_a_top_k_larger_than_the_pool_becomes_the_pool_and_the_export_names_data_targets_method_cut(isolated):
    session = prepared_session(POOL, PROOFNET, cut_kind="top_k", cut_value=299.0)
    scored(session)
    at = app_with_session(session)
    assert {metric.label: metric.value for metric in at.metric}["Rows kept"] == "299"
    (isolated / "small.jsonl").write_text("".join(json.dumps({"text": f"theorem t{i} : {i} = {i} := rfl"}) + "\n"
                                                  for i in range(60)))
    data.load_data(session, "source", DataChoice("local", "small.jsonl"))
    scored(session)
    at.run()
    assert {metric.label: metric.value for metric in at.metric}["Rows kept"] == "60"
    assert any("more than these 60 rows have" in text for text in texts_of(at.info))
    at.run()
    assert not any("more than these" in text for text in texts_of(at.info))  # said once
    at.switch_page("pages/export.py").run()
    assert session_of(at).downloads.name == "small-for-proofnet-valid-zipfit-top60.jsonl"


def test_evaluation_sets_belong_to_their_source(isolated):
    session = prepared_session(POOL, PROOFNET)
    view.set_references(session, ["demo: proofnet-test"])
    data.load_data(session, "target", HUMANEVAL)
    assert session.view.references == ("demo: proofnet-test",)  # other targets: the same source, the same sets
    data.load_data(session, "source", DataChoice("demo", "pool"))
    assert session.view.references == ()
    data.load_data(session, "source", POOL)
    assert session.view.references == ("demo: proofnet-test",)  # found again with their source


def test_proxy_curves_are_shown_only_for_the_comparison_they_were_computed_for(isolated):
    session = prepared_session(POOL, PROOFNET)
    scored(session)
    content = {"inputs": {"selection_target": "demo: proofnet-valid", "evaluation_target": "x"}}
    session.proxy_result = ProxyResult("another comparison", content)
    at = app_with_session(session, "pages/compare.py")
    assert_no_exception(at)
    assert not any("Selection targets" in text for text in texts_of(at.success))


def test_explore_groups_by_an_obvious_category_column_of_its_own(isolated):
    rows = [{"text": f"theorem t{i} : {i} + 0 = {i} := by simp" if i % 2 else f"def f{i}(x):\n    return x + {i}\n",
             "flavour": "lean" if i % 2 else "python", "id": i} for i in range(40)]
    (isolated / "kinds.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    session = prepared_session(DataChoice("local", "kinds.jsonl"), PROOFNET)
    scored(session)
    at = app_with_session(session)
    assert_no_exception(at)
    assert at.selectbox(key="explore.group_by").value == "flavour"  # not "(none)", though no well-known name
