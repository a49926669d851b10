"""The progress fragment's line: done of total, the rate, and the time left, for any work (a score folder too)."""

from __future__ import annotations

from zipfit_app.ui.progress import default_text
from zipfit_core.jobs.work import WorkStatus


def test_the_progress_line_shows_pairs_the_rate_and_the_time_left() -> None:
    status = WorkStatus(work_id="out", kind="zipfit", state="running", done=1_234_000, total=9_600_000, unit="pairs",
                        rate=24_100.4, eta_seconds=348.0, seconds=52.0, message="3 of 20 shards done", error=None)
    assert default_text(status) == ("3 of 20 shards done · 1,234,000 of 9,600,000 pairs (52 s) · 24,100 pairs/s · "
                                    "about 5 min 48 s left")
