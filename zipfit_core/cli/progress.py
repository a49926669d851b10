"""The command line's progress line: a tqdm bar on stderr over pairs, with a job's own rate and ETA."""

from __future__ import annotations

import sys
from collections.abc import Callable

from zipfit_core.cli.words import cli_text
from zipfit_core.data.sources import plural
from zipfit_core.jobs.work import WorkStatus


def targets_seen(status: WorkStatus) -> str:
    return f"targets {status.targets_seen}/{status.n_targets}"


class ProgressBar:
    """A tqdm bar on stderr counting source-target pairs; for a job, its pairs per second and ETA.

    `detail(status)` ends the line (default: the targets every source has seen; a score folder: its shards).
    """

    def __init__(self, enabled: bool, description: str = "scoring",
                 detail: Callable[[WorkStatus], str] = targets_seen) -> None:
        self.enabled, self.description, self.detail = enabled, description, detail
        self.bar = None
        self.last: WorkStatus | None = None

    def __call__(self, done: int, total: int, bar_format: str | None = None) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            # Starting at `done` keeps pairs resumed from a checkpoint out of the rate and the ETA.
            self.bar = tqdm(total=total, initial=done, unit="pair", unit_scale=True, file=sys.stderr,
                            desc=self.description, dynamic_ncols=True, bar_format=bar_format)
        if self.bar.total != total:
            self.bar.total = total  # a score folder's total is exact once every shard has been read
        self.bar.update(done - self.bar.n)

    def job_status(self, status: WorkStatus) -> None:
        """Follow a scoring job: say once what was resumed or who else computes, then the bar with the job's
        own rate and ETA (pairs computed here: resumed ones, even when a shard resumes midway, are no speed)."""
        if self.last is None and status.resumed and status.state != "done":
            self.write(f"resuming: {status.resumed:,} of {plural(status.total, 'pair')} "
                       f"({status.resumed / max(1, status.total):.0%}) are already done")
        if status.message.startswith("another run") and not (self.last and self.last.message == status.message):
            self.write(f"note: {status.message}")
        self.last = status
        if self.bar is None and (status.state == "done" or not status.total):
            return  # loaded from the cache: no bar; or nothing counted yet (no shard read)
        self(status.done, status.total, bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} pairs "
                                                   "[{elapsed}{postfix}]")
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(part for part in (rate_and_eta(status), self.detail(status)) if part),
                                     refresh=False)

    def write(self, text: str) -> None:
        text = cli_text(text)
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def rate_and_eta(status: WorkStatus) -> str:
    """e.g. `24.1k pairs/s, 12:04 left` (nothing until the rate is measured)."""
    from tqdm import tqdm

    if status.rate <= 0:
        return ""
    left = f", {tqdm.format_interval(status.eta_seconds)} left" if status.eta_seconds is not None else ""
    return f"{tqdm.format_sizeof(status.rate)} {status.unit}/s{left}"
