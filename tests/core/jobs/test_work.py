"""One background-work system (`jobs/work.py`, `jobs/manager.py`): ZIP-FIT jobs, other methods' runs and any
other work (the app's exports) share one queue, one concurrency limit, one set of states and one status type.

Data: ProofNet statements bundled in zipfit_core/data/demo_data (see its ATTRIBUTION.md), made by proofnet_jobs.py.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.proofnet_jobs import TARGETS, HeldJobs, make_sources
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs import manager as manager_module
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.method_scores import score_sources
from zipfit_core.jobs.score_job import ScoreRequest
from zipfit_core.jobs.work import WORK_STATES, FunctionWork
from zipfit_core.store.method_cache import ScoreMemo, memo

SOURCES = make_sources(40, seed=21)
TARGETS_USED = TARGETS[:8]
TIMEOUT = 120


def waiting_work(work_id: str, release: threading.Event, result: object = "written") -> FunctionWork:
    """Work that reports progress, then waits for `release` (or its cancel) before it returns `result`."""
    def function(progress, cancelled):
        progress(1, 4)
        while not release.wait(0.05):
            if cancelled.is_set():
                from zipfit_core.errors import ScoringCancelled
                raise ScoringCancelled("stopped")
        progress(4, 4)
        return result
    return FunctionWork(work_id, "export", function, unit="rows", total=4, running_message="writing 4 rows")


def test_every_kind_of_work_waits_for_the_one_limit_in_submission_order(tmp_path, monkeypatch):
    held = HeldJobs(monkeypatch)
    manager = JobManager(tmp_path, max_concurrent_jobs=1, workers=2)
    job = manager.submit(ScoreRequest(SOURCES, TARGETS_USED))
    assert held.entered.wait(TIMEOUT)
    method = manager.submit_method("tfidf", SOURCES, TARGETS_USED, {})
    release = threading.Event()
    export = manager.submit_work(waiting_work("export-1", release))
    statuses = {work_id: manager.status(work_id) for work_id in (job, method, export)}
    assert [statuses[work_id].state for work_id in (job, method, export)] == ["running", "queued", "queued"]
    assert statuses[method].message == "waiting for a free slot (1 job running, limit 1): 1st in line"
    assert statuses[export].message == "waiting for a free slot (1 job running, limit 1): 2nd in line"
    assert (statuses[method].kind, statuses[method].unit, statuses[export].kind) == ("tfidf", "rows", "export")

    held.release.set()
    assert manager.wait(job, timeout=TIMEOUT).state == "done"
    assert manager.wait(method, timeout=TIMEOUT).state == "done"
    assert manager.status(export).state == "running"  # its turn came after the method run's
    release.set()
    finished = manager.wait(export, timeout=TIMEOUT)
    assert (finished.state, finished.done, finished.total, manager.result(export)) == ("done", 4, 4, "written")
    memo.clear()
    np.testing.assert_array_equal(manager.result(method), score_sources("tfidf", SOURCES, TARGETS_USED))


def test_a_cached_result_is_served_at_once_even_when_every_slot_is_busy(tmp_path, monkeypatch):
    memo.clear()
    score_sources("random", SOURCES, TARGETS_USED, cache_dir=tmp_path, seed=5)  # on disk, as the CLI leaves it
    memo.clear()
    manager = JobManager(tmp_path, max_concurrent_jobs=1)
    release = threading.Event()
    manager.submit_work(waiting_work("export-busy", release))
    run_id = manager.submit_method("random", SOURCES, TARGETS_USED, {"seed": 5})
    status = manager.status(run_id)
    assert (status.state, status.message) == ("done", "loaded from the cache")
    np.testing.assert_array_equal(manager.result(run_id), np.random.default_rng(5).random(len(SOURCES)))
    assert not manager.result(run_id).flags.writeable  # shared by every session
    release.set()


def test_failures_and_cancels_end_in_their_states_with_the_users_message(tmp_path):
    manager = JobManager(tmp_path, max_concurrent_jobs=1)

    def refused(progress, cancelled):
        raise ZipFitError("The disk is full: free some space.")

    def buggy(progress, cancelled):
        return {}["missing"]

    failed = manager.submit_work(FunctionWork("fails", "export", refused, unit="rows", total=1))
    crashed = manager.submit_work(FunctionWork("crashes", "export", buggy, unit="rows", total=1))
    assert manager.wait(failed, timeout=TIMEOUT).error == "The disk is full: free some space."
    crash = manager.wait(crashed, timeout=TIMEOUT)
    assert crash.state == "failed" and crash.error.startswith("internal error: KeyError")

    release = threading.Event()
    running = manager.submit_work(waiting_work("running", release))
    queued = manager.submit_work(waiting_work("queued", release))
    manager.cancel(queued)
    assert manager.status(queued).state == "cancelled"
    assert manager.status(queued).message == "cancelled before it started"
    manager.cancel(running)
    assert manager.wait(running, timeout=TIMEOUT).state == "cancelled"
    assert set(WORK_STATES) >= {manager.status(work_id).state for work_id in (failed, crashed, running, queued)}
    with pytest.raises(ZipFitError, match="Unknown job"):
        manager.status("never-submitted")
    assert manager.find("never-submitted") is None


def test_finished_work_beyond_the_memory_bound_is_reopened_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(manager_module, "FINISHED_KEPT", 1)
    manager = JobManager(tmp_path, workers=2)
    first = manager.submit(ScoreRequest(SOURCES[:10], TARGETS_USED))
    assert manager.wait(first, timeout=TIMEOUT).state == "done"
    expected = manager.result(first)
    second = manager.submit(ScoreRequest(SOURCES[10:20], TARGETS_USED))
    assert manager.wait(second, timeout=TIMEOUT).state == "done"
    assert manager._work(first) is None  # forgotten: only the last finished piece stays in memory
    assert manager.status(first).message == "in the cache"
    np.testing.assert_array_equal(manager.result(first), expected)


def test_the_memo_is_safe_to_share_between_threads():
    shared = ScoreMemo(entries=4)
    errors = []

    def hammer(seed: int) -> None:
        try:
            for step in range(300):
                key = f"{seed}-{step % 6}"
                shared.put(key, np.full(3, float(step)))
                found = shared.get(key)
                assert found is None or found.shape == (3,)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(shared._scores) <= 4
    copy = shared.get(next(iter(shared._scores)))
    copy[:] = -1  # callers get copies
    assert all((values >= 0).all() for values in shared._scores.values())


# ---------------------------------------------------------------------------------------------------
# Many sessions on one server: Cancel means "I no longer want this".

def test_work_stops_only_when_nobody_waits_for_it(tmp_path):
    manager = JobManager(tmp_path, max_concurrent_jobs=1, workers=1)
    release = threading.Event()
    work_id = manager.submit_work(waiting_work("shared", release))
    manager.follow(work_id, "alice")
    manager.follow(work_id, "bob")
    manager.follow(work_id, "alice")  # following twice is following once
    assert manager.followers(work_id) == ("alice", "bob")
    assert manager.unfollow(work_id, "alice") == 1
    assert not manager.wait(work_id, timeout=0.3).finished  # bob still waits: it goes on
    assert manager.unfollow(work_id, "bob") == 0
    stopped = manager.wait(work_id, timeout=TIMEOUT)
    assert stopped.state == "cancelled" and "nobody waits for it any more" in stopped.message
    release.set()


def test_the_starter_can_stop_it_for_everyone_and_the_others_see_why(tmp_path):
    manager = JobManager(tmp_path, max_concurrent_jobs=1, workers=1)
    release = threading.Event()
    running = manager.submit_work(waiting_work("running", release))
    queued = manager.submit_work(waiting_work("queued", release))
    for work_id in (running, queued):
        manager.follow(work_id, "alice")
        manager.follow(work_id, "bob")
    assert manager.status(queued).message.endswith("1st in line")
    manager.stop_for_everyone(queued, by="alice")  # while the first holds the one slot
    assert manager.status(queued).state == "cancelled"
    assert manager.status(queued).message == "cancelled before it started (stopped for everyone by alice)"
    manager.stop_for_everyone(running, by="alice")
    stopped = manager.wait(running, timeout=TIMEOUT)
    assert stopped.state == "cancelled" and "stopped for everyone by alice" in stopped.message
    assert manager.followers(running) == ()
    release.set()


def test_stop_all_cancels_the_running_and_the_queued_work_and_waits_for_them(tmp_path):
    manager = JobManager(tmp_path, max_concurrent_jobs=1, workers=1)
    release = threading.Event()  # never set: only a cancel ends them
    running = manager.submit_work(waiting_work("running", release))
    queued = manager.submit_work(waiting_work("queued", release))
    manager.stop_all("the server is stopping", timeout=TIMEOUT)
    assert {manager.status(work_id).state for work_id in (running, queued)} == {"cancelled"}
    assert "the server is stopping" in manager.status(running).message


def test_ordinals_read_as_words():
    from zipfit_core.jobs.manager import ordinal

    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
