"""The Score page's Runs list (AppTest): it removes an entry and refuses to remove a running job's.

The store's side (list, remove, prune; `zipfit cache`) is tested in core/store/test_cache_admin.py. Entries are made
by the real code paths (cache_entries.py); the running job is held still (proofnet_jobs.HeldJobs).
"""

from __future__ import annotations

import re

from tests.cache_entries import OTHER_SOURCES, TARGETS_USED, finished_entry, method_entry
from tests.proofnet_jobs import HeldJobs
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.score_job import ScoreRequest

from .app_steps import assert_no_exception, new_app


def plain(markdown: str) -> str:
    """Text shown through `zipfit_app.ui.markdown.literal`, without its escapes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_the_score_page_removes_an_entry_and_refuses_a_running_one(isolated, monkeypatch) -> None:
    root = JobManager.shared().cache_dir
    finished, method = finished_entry(root), method_entry(root)
    at = new_app()
    at.switch_page("pages/score.py").run()
    assert_no_exception(at)
    (expander,) = [item for item in at.expander if item.label.startswith("Runs")]
    assert expander.label.startswith("Runs (2, ")
    assert any("finished" in plain(item.value) and "exact" in plain(item.value) for item in at.markdown)

    at.button(key=f"score.remove.{finished}").click().run()
    assert_no_exception(at)
    assert any("Removed finished: freed" in plain(item.value) for item in at.success)
    assert not (root / finished).exists() and (root / "methods" / method).exists()
    assert not [button for button in at.button if button.key == f"score.remove.{finished}"]

    held = HeldJobs(monkeypatch)
    manager = JobManager.shared()
    key = manager.submit(ScoreRequest(OTHER_SOURCES, TARGETS_USED, label="still running"))
    try:
        assert held.entered.wait(60)
        at.run()
        assert any("running" in plain(item.value).split("·")[-3] for item in at.markdown)
        at.button(key=f"score.remove.{key}").click().run()
        assert_no_exception(at)
        assert any("cancel it first" in plain(item.value) for item in at.warning)
        assert (root / key).exists()
    finally:
        manager.cancel(key)
        held.release.set()
        manager.wait(key, timeout=60)
