"""A first look at a large pool (issue 11, item 3): before the first full round ends, the job publishes a preview of
a seeded sample of rows against the first round's targets, labelled as a sample; the exact result is unchanged.
The size thresholds are lowered here so that a pool of a few hundred rows counts as large."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import zipfit_core.jobs.schedule as schedule
import zipfit_core.jobs.score_job as jobs_module
from tests.proofnet_jobs import TARGETS, make_sources
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.schedule import target_order
from zipfit_core.jobs.score_job import ScoreRequest
from zipfit_core.scoring.alignment import alignment_scores

from .app_steps import assert_no_exception, load_in_form, new_app, session_of, start_scoring, write_pool

SOURCES = make_sources(300, seed=5)
TARGETS_USED = TARGETS[:6]
TIMEOUT = 120


@pytest.fixture
def small_first_look(monkeypatch):
    monkeypatch.setattr(schedule, "FIRST_LOOK_MIN_SOURCES", 200)
    monkeypatch.setattr(schedule, "FIRST_LOOK_ROWS", 40)


class HeldFirstRound:
    """Lets the first look through and holds the first full round's first block until released."""

    def __init__(self, monkeypatch) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        original = jobs_module.source_unit_moments

        def held(sources, targets, kernel, **options):
            rows = options.get("rows")
            if rows is not None and not isinstance(rows, range):  # the first look's sample: let it through
                return original(sources, targets, kernel, **options)
            self.entered.set()
            self.release.wait(60)
            return original(sources, targets, kernel, **options)

        monkeypatch.setattr(jobs_module, "source_unit_moments", held)


def test_a_large_pool_shows_a_sample_before_its_first_round_and_the_result_is_unchanged(tmp_path, monkeypatch,
                                                                                        small_first_look):
    held = HeldFirstRound(monkeypatch)
    manager = JobManager(tmp_path, workers=2)
    job = manager.submit(ScoreRequest(SOURCES, TARGETS_USED))
    assert held.entered.wait(TIMEOUT)
    look = manager.snapshot(job)
    assert look is not None and look.is_sample and not look.complete
    rows = look.sample_rows
    assert len(rows) == 40 == len(set(rows.tolist())) and np.all(np.diff(rows) > 0)
    assert look.targets_seen == 2 and look.n_targets == len(TARGETS_USED)
    first_two = [TARGETS_USED[i] for i in target_order(len(TARGETS_USED))[:2]]
    expected = alignment_scores([SOURCES[row] for row in rows], first_two)
    np.testing.assert_array_equal(look.scores, expected)  # the same means the kernel gives
    assert manager.status(job).done == 0  # the sample's pairs are extra: progress counts the real work only

    held.release.set()
    assert manager.wait(job, timeout=TIMEOUT).state == "done"
    final = manager.snapshot(job)
    assert not final.is_sample and final.complete
    np.testing.assert_array_equal(final.scores, alignment_scores(SOURCES, TARGETS_USED))


def test_the_sample_is_seeded_and_small_pools_wait_for_their_first_round(small_first_look):
    assert np.array_equal(schedule.first_look_rows(1000), schedule.first_look_rows(1000))
    assert schedule.first_look_rows(199) is None


def test_the_score_page_labels_the_first_look_as_a_sample(isolated, monkeypatch, small_first_look):
    held = HeldFirstRound(monkeypatch)
    write_pool(isolated, rows=300)
    at = new_app()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "local", "targets.jsonl")
    start_scoring(at)
    assert held.entered.wait(TIMEOUT)
    at.run()
    assert_no_exception(at)
    shown = " ".join(str(item.value) for item in at.markdown)
    assert "A first look" in shown and "40 of 300 rows" in shown
    at.switch_page("pages/explore.py").run()  # Explore waits for a preview of every row
    assert_no_exception(at)
    held.release.set()
    JobManager.shared().wait(session_of(at).result.job_id, timeout=TIMEOUT)
