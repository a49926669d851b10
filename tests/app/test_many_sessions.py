"""Several sessions on one server (issue 13): one session's Cancel leaves the job running for another that waits
for it; the last one to cancel stops it; the session that started it can stop it for everyone, and the others
see why. Two AppTest sessions share the process's JobManager, as two browser tabs share the server."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import app_test
from tests.proofnet_jobs import HeldJobs
from zipfit_core.jobs.manager import JobManager

from .app_steps import TIMEOUT, assert_no_exception, load_in_form, session_of, start_scoring, write_pool


def session_on_score_page() -> AppTest:
    at = app_test().run()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "local", "targets.jsonl")
    at.switch_page("pages/score.py").run()
    assert_no_exception(at)
    return at


@dataclass
class TwoSessions:
    alice: AppTest  # started the job
    bob: AppTest  # asked for the same scores while it ran, so follows the same job
    job: str
    held: HeldJobs  # the job is held in its first block until `held.release` is set


@pytest.fixture
def two_sessions(isolated, monkeypatch) -> TwoSessions:
    held = HeldJobs(monkeypatch)
    write_pool(isolated)
    alice, bob = session_on_score_page(), session_on_score_page()
    job = start_scoring(alice)
    assert_no_exception(alice)
    assert held.entered.wait(TIMEOUT)
    bob.run()  # bob's page finds the running job for the same data and follows it
    alice.run()
    return TwoSessions(alice, bob, job, held)


def texts(elements) -> str:
    return " ".join(str(element.value) for element in elements)


def test_one_sessions_cancel_leaves_the_job_to_the_other(two_sessions):
    alice, bob, job, held = two_sessions.alice, two_sessions.bob, two_sessions.job, two_sessions.held
    assert session_of(bob).result.job_id == job
    manager = JobManager.shared()
    assert len(manager.followers(job)) == 2
    assert any(button.label.startswith("Stop for everyone (1 other session waits for it)") for button in alice.button)
    assert not any(button.label.startswith("Stop for everyone") for button in bob.button)

    alice.button(key="score.cancel").click().run()
    assert_no_exception(alice)
    assert "1 other session still waits for it, so it goes on for them" in texts(alice.info)
    assert manager.status(job).state == "running"
    alice.run()
    assert session_of(alice).result is None  # alice no longer follows it, and is not re-attached

    bob.run()
    bob.button(key="score.cancel").click().run()
    held.release.set()  # the held block ends; the job sees that it was cancelled
    stopped = manager.wait(job, timeout=TIMEOUT)
    assert stopped.state == "cancelled" and stopped.stopped_because == "nobody waits for it any more"


def test_the_starter_can_stop_it_for_everyone_and_the_other_sees_why(two_sessions):
    alice, bob, job, held = two_sessions.alice, two_sessions.bob, two_sessions.job, two_sessions.held
    alice.button(key="score.stop_all").click().run()
    held.release.set()
    assert JobManager.shared().wait(job, timeout=TIMEOUT).state == "cancelled"
    bob.run()
    assert_no_exception(bob)
    assert "stopped for everyone by the session that started it" in texts(bob.warning).replace("\\", "")
