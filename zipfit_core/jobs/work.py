"""One piece of background work: its states, its progress, cancel, and one status type for every kind.

    queued -> running -> done | cancelled | failed

A `Work` runs once, in whatever thread calls `run()` (the manager's worker thread, or the CLI's own), and
never raises a `ZipFitError` out of it: the error becomes the `failed` state with the user's message; a
bug becomes `failed` with "internal error: ..." and is logged. Every reading method is thread-safe, so a
page thread reads `status()` while the work computes.

Kinds: a ZIP-FIT scoring job (`score_job.ScoreJob`: rounds, previews, checkpoints), and `FunctionWork` for
anything that is one function with progress and cancel: another method's scoring (`method_scores`), or an
export the app writes to a folder.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.scoring.alignment import CancelSignal, ProgressCallback, as_cancel_check

logger = logging.getLogger(__name__)

WORK_STATES = ("queued", "running", "done", "cancelled", "failed")
FINISHED_STATES = ("done", "cancelled", "failed")
RATE_WINDOW_SECONDS = 30.0
BACKGROUND_NICE = 10  # background threads yield the CPU to page interactions
PROGRESS_CALL_SECONDS = 0.1  # an `on_progress` listener hears at most this often while work advances


@dataclass(frozen=True)
class WorkStatus:
    """A piece of work at one moment, cheap to read from any thread."""

    work_id: str
    kind: str  # "zipfit", another method's name, or "export"
    state: str  # one of WORK_STATES
    done: int
    total: int
    unit: str  # what `done` and `total` count: "pairs", "rows"
    rate: float  # units per second over the last half minute (0 until measured)
    eta_seconds: float | None
    seconds: float  # running time so far (0 while queued)
    message: str  # e.g. "waiting for a free slot (2 jobs running, limit 2): 3rd in line"
    error: str | None
    resumed: int = 0  # units restored from a checkpoint instead of computed in this run
    targets_seen: int = 0  # ZIP-FIT's preview: every source has been scored against this many targets
    n_targets: int = 0
    stopped_because: str | None = None  # who or what stopped it, when it was cancelled with a reason

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def fraction_done(self) -> float:
        return min(1.0, self.done / self.total) if self.total else (1.0 if self.state == "done" else 0.0)


def lower_thread_priority(nice: int) -> None:
    """Raise this thread's nice value (Linux: per thread, inherited by threads it starts)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        thread_id = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, current + nice))
    except OSError:
        pass


class Work:
    """The states, progress and cancel every kind of background work shares; subclasses implement `_work`."""

    def __init__(self, work_id: str, kind: str, *, unit: str, total: int, cancel: CancelSignal = None,
                 on_progress: Callable[[WorkStatus], None] | None = None) -> None:
        self.work_id, self.kind, self.unit, self.total = work_id, kind, unit, total
        self.on_progress = on_progress
        self._cancel_event = threading.Event()
        self._cancel_reason: str | None = None  # why it was stopped, for everyone who sees its status
        self._external_cancel = as_cancel_check(cancel)
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._state, self._message, self._error = "queued", "queued", None
        self._done = self._resumed = self._targets_seen = 0
        self.n_targets = 0
        self._started: float | None = None
        self._ended: float | None = None
        self._rate_samples: deque[tuple[float, int]] = deque()
        self._last_progress_call = 0.0
        self._result: Any = None

    # -- reading (any thread) ------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def status(self, message: str | None = None) -> WorkStatus:
        with self._lock:
            rate = self._rate()
            if self._state == "done":
                eta = 0.0
            elif rate > 0 and self._state == "running":
                eta = (self.total - self._done) / rate
            else:
                eta = None
            seconds = ((self._ended or time.monotonic()) - self._started) if self._started is not None else 0.0
            return WorkStatus(
                work_id=self.work_id, kind=self.kind, state=self._state, done=self._done, total=self.total,
                unit=self.unit, rate=rate, eta_seconds=eta, seconds=seconds, message=message or self._message,
                error=self._error, resumed=self._resumed, targets_seen=self._targets_seen, n_targets=self.n_targets,
                stopped_because=self._cancel_reason)

    def result(self) -> Any:
        return self._result

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def cancel(self, reason: str | None = None) -> None:
        """Stop the work; `reason` (e.g. who stopped it) becomes part of its status message."""
        with self._lock:
            self._cancel_reason = self._cancel_reason or reason
        self._cancel_event.set()
        with self._lock:
            if self._state == "queued":
                self._state = "cancelled"
                self._message = f"cancelled before it started{self._because()}"
                self._finished.set()

    def _because(self) -> str:
        return f" ({self._cancel_reason})" if self._cancel_reason else ""

    def is_cancelled(self) -> bool:
        return self._cancel_event.is_set() or self._external_cancel()

    # -- running ----------------------------------------------------------------------------------------
    def claim(self) -> bool:
        """Move queued work to running (a scheduler does it as it gives the work a slot, so that the state is
        right before its thread starts); False when it was cancelled or already claimed."""
        with self._lock:
            if self._state != "queued":
                return False
            self._state, self._message = "running", "starting"
            self._started = time.monotonic()
            return True

    def run(self, on_end: Callable[[], None] | None = None) -> None:
        """Do the work until done, cancelled or failed; never raises ZipFitError. `on_end` runs after the work
        and before anyone waiting for it wakes (a scheduler frees the slot there)."""
        self.claim()  # unless a scheduler already did (then nothing changes its state until it runs)
        if self.state != "running":  # cancelled before it started, or run again after it ended
            return
        try:
            self._work()
        except ScoringCancelled:
            self._set("cancelled", self._stopped_message(f"cancelled{self._because()}"))
        except ZipFitError as error:
            with self._lock:
                self._error = str(error)
            self._set("failed", f"failed: {error}")
        except Exception as error:  # a bug: report it on the page instead of killing the server thread
            logger.exception("%s work %s failed", self.kind, self.work_id)
            with self._lock:
                self._error = f"internal error: {type(error).__name__}: {error}"
            self._set("failed", self._error)
        except BaseException:  # KeyboardInterrupt in the foreground: the subclass saved progress; re-raise
            self._set("cancelled", self._stopped_message("interrupted"))
            raise
        finally:
            self._ended = time.monotonic()
            self._release()
            if on_end is not None:
                on_end()
            self._finished.set()

    def _work(self) -> None:
        """Compute; end with `_finish(result, message)`; raise ScoringCancelled when `is_cancelled()`."""
        raise NotImplementedError

    def _stopped_message(self, what: str) -> str:
        return what

    def _release(self) -> None:
        """Let go of what a finished work no longer needs (texts, locks)."""

    # -- bookkeeping (the working thread) ---------------------------------------------------------------
    def _finish(self, result: Any, message: str) -> None:
        with self._lock:
            self._result = result
            self._done = self.total
        self._set("done", message)

    def _rate(self) -> float:
        samples = self._rate_samples
        if len(samples) < 2:
            return 0.0
        (t0, p0), (t1, p1) = samples[0], samples[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else 0.0

    def _record_progress(self, done: int, computed: bool = True) -> None:
        """`done` units so far; `computed` ones count toward the rate (resumed ones do not)."""
        now = time.monotonic()
        with self._lock:
            self._done = done
            if computed:  # units computed here: what is resumed later (a shard's checkpoint) is no speed
                self._rate_samples.append((now, done - self._resumed))
                while len(self._rate_samples) > 2 and now - self._rate_samples[0][0] > RATE_WINDOW_SECONDS:
                    self._rate_samples.popleft()
        if self.on_progress and now - self._last_progress_call >= PROGRESS_CALL_SECONDS:
            self._last_progress_call = now
            self.on_progress(self.status())

    def _set(self, state: str | None = None, message: str | None = None) -> None:
        if state is not None and state not in WORK_STATES:
            raise ValueError(f"unknown work state {state!r}")
        with self._lock:
            if state is not None:
                self._state = state
            if message is not None:
                self._message = message
        if self.on_progress:
            self.on_progress(self.status())


class FunctionWork(Work):
    """Work that is one call, `function(progress, cancelled) -> result`, e.g. a baseline's scores or an export.

    `progress(done, total)` may change the total (a method that learns its unit count as it goes); `cancelled`
    is an Event set by `cancel()`, usable wherever a `CancelSignal` is.
    """

    def __init__(self, work_id: str, kind: str, function: Callable[[ProgressCallback, threading.Event], Any], *,
                 unit: str, total: int, running_message: str = "running", done_message: str = "done") -> None:
        super().__init__(work_id, kind, unit=unit, total=total)
        self.function = function
        self.running_message, self.done_message = running_message, done_message

    def _work(self) -> None:
        self._set(message=self.running_message)

        def progress(done: int, total: int) -> None:
            self.total = total
            self._record_progress(done)

        self._finish(self.function(progress, self._cancel_event), self.done_message)

    def _release(self) -> None:
        self.function = None  # drop what the call held (texts, tables): a finished work keeps only its result

    def finished_with(self, result: Any, message: str) -> FunctionWork:
        """Mark this (never started) work done with a result found elsewhere (a cache); returns it."""
        with self._lock:
            self._state, self._result, self._done = "running", result, self.total
            self._started = self._ended = time.monotonic()
        self._set("done", message)
        self.function = None
        self._finished.set()
        return self
