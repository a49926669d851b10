"""One progress fragment for any background work (scoring, method runs, checks, exports), and one watcher.

A fragment reruns on its own every `every` seconds; when the work ends (or `changed` says what the page shows
is out of date) it reruns the whole page, which then shows the result instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import streamlit as st

from zipfit_core.jobs.work import WorkStatus

from ..services import work
from .markdown import message

POLL_SECONDS = 1.0


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating..."
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def default_text(status: WorkStatus) -> str:
    """e.g. `3 of 20 shards done · 1,234,000 of 9,600,000 pairs (52 s) · 24,100 pairs/s · about 5 min 48 s left`."""
    text = f"{status.message} · {status.done:,} of {status.total:,} {status.unit} ({status.seconds:.0f} s)"
    if status.rate > 0:
        text += f" · {status.rate:,.0f} {status.unit}/s"
        if status.eta_seconds is not None:
            text += f" · about {duration(status.eta_seconds)} left"
    return text


def reason(status: WorkStatus) -> str:
    """Why the work was stopped, when it was stopped with a reason (e.g. for everyone, by its starter)."""
    return f" ({message(status.stopped_because)})" if status.stopped_because else ""


def work_progress(work_ids: Sequence[str], *, what: str = "The work", text: Callable[[WorkStatus], str] = default_text,
                  below: Callable[[list[WorkStatus]], None] | None = None,
                  changed: Callable[[], bool] | None = None, every: float = POLL_SECONDS) -> None:
    """Bars for running work, the error of failed work, the reason of cancelled work; `below(statuses)` draws
    more under them (a preview, Cancel). Polls while any work runs; reruns the page when one ends or `changed()`."""
    first = [work.find(work_id) for work_id in work_ids]
    running = any(status is not None and not status.finished for status in first)
    was_finished = {status.work_id for status in first if status is not None and status.finished}

    def body() -> None:
        statuses = [status for status in map(work.find, work_ids) if status is not None]
        ended = any(status.finished and status.work_id not in was_finished for status in statuses)
        if running and (ended or (changed is not None and changed())):
            st.rerun(scope="app")
        for status in statuses:
            if status.state == "failed":
                st.error(f"{what} failed: {message(status.error or status.message)}", icon=":material/error:")
            elif status.state == "cancelled":
                st.warning(f"{what} was cancelled{reason(status)}.", icon=":material/pause:")
            elif status.state != "done":
                st.progress(status.fraction_done if status.state == "running" else 0.0, text=text(status))
        if below is not None:
            below(statuses)

    st.fragment(run_every=every if running else None)(body)()


class ConversionProgress:
    """A line that says how far the first load of a data set has got (its conversion to the data store)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.line = None
        self.shown_at = 0.0

    def __call__(self, rows: int, text_bytes: int) -> None:
        now = time.monotonic()
        if now - self.shown_at < 0.5:  # a line per half second is plenty, and cheap
            return
        self.shown_at = now
        self.line = self.line or st.empty()
        self.line.caption(f":material/hourglass_top: Converting {message(self.what)} once for fast reading: "
                          f"{rows:,} rows, {text_bytes / 1e6:,.0f} MB of text so far. Later loads open it at once.")

    def done(self) -> None:
        if self.line is not None:
            self.line.empty()


def watch(changed: Callable[[], bool], every: float = 3.0) -> None:
    """Rerun the page when `changed()` (e.g. a preview sharpened while the page shows it)."""

    def body() -> None:
        if changed():
            st.rerun(scope="app")

    st.fragment(run_every=every)(body)()
