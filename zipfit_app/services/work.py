"""The one way the app reaches the process's `JobManager`: ZIP-FIT jobs, method runs, checks and exports.

Many sessions share one server: each follows the work it waits for, by its session id, and Cancel means
"I no longer want this" (the work stops only when nobody else waits for it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.work import FunctionWork, WorkStatus

FIRST_WAIT_S = 2.0  # a new check is waited for this long, so that a small pool's answer is on the page at once
WAITED_ROWS = 50_000  # beyond this many rows a check takes longer than the wait: the page goes on at once


def manager() -> JobManager:
    return JobManager.shared()


def find(work_id: str) -> WorkStatus | None:
    """The work's status, or None for an id this process and its cache do not know."""
    return manager().find(work_id)


def status(work_id: str) -> WorkStatus:
    """The work's status (raises ZipFitError for an id the manager does not know)."""
    return manager().status(work_id)


def result(work_id: str) -> Any:
    return manager().result(work_id)


def follow(work_id: str, follower: str) -> None:
    manager().follow(work_id, follower)


def let_go(work_id: str, follower: str) -> int:
    """`follower` no longer wants the work: it stops unless others wait for it. Returns how many others do."""
    return manager().unfollow(work_id, follower)


def others_waiting(work_id: str, follower: str) -> int:
    return len([other for other in manager().followers(work_id) if other != follower])


def started_by(work_id: str, follower: str) -> bool:
    followers = manager().followers(work_id)
    return bool(followers) and followers[0] == follower


def stop_for_everyone(work_id: str) -> None:
    manager().stop_for_everyone(work_id, by="the session that started it")


def run_function(work_id: str, kind: str, function: Callable[[Callable, Callable], Any], *, total: int, unit: str,
                 running: str, wait_s: float | None = None) -> WorkStatus | None:
    """Background work computing `function(progress, cancelled)`, shared by every session asking the same
    question: submitted unless this process already has it (running or finished), then waited for a moment
    (FIRST_WAIT_S when `total` is small enough for the answer to come meanwhile, and the work started at once:
    work queued behind other work, e.g. a whole pool's copy check, cannot answer meanwhile)."""
    if wait_s is None:
        wait_s = FIRST_WAIT_S if total <= WAITED_ROWS else 0.0
    found = manager().find(work_id)
    if found is not None and found.state not in ("failed", "cancelled"):
        return found
    try:
        manager().submit_work(FunctionWork(work_id, kind, function, unit=unit, total=total, running_message=running,
                                           done_message="done"))
    except ZipFitError:
        return manager().find(work_id)  # another session submitted it a moment ago: join it
    found = manager().find(work_id)
    return manager().wait(work_id, timeout=wait_s) if wait_s and found is not None and found.state == "running" \
        else found


def finished_result(work_id: str) -> Any:
    """The work's result once it is done, else None."""
    found = manager().find(work_id)
    return manager().result(work_id) if found is not None and found.state == "done" else None
