"""The hand shaping of a run's cut (rows always or never kept, patterns, caps), kept on disk with the run.

One file per run, `<cache>/shaping/<key>.json`, keyed by what the run's scores depend on (the pool's and the
targets' fingerprints, the method, its settings, codec and level). It holds every state the shaping went through,
oldest first, so a reload finds the last one and each change can be undone. The states are plain dicts
(`analysis.shaping.Shaping.to_dict`): this layer does not know what they mean. Changes are made under a lock (two
sessions of one run never lose each other's change) and written atomically (a crash leaves the previous file).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from .files import read_json_file, shared_file_mode, write_json_atomic
from .run import ScoreRun

FORMAT_VERSION = 1
MAX_STATES = 50  # the undo history; older states are dropped
MAX_LOG_BYTES = 32 << 20  # ~2 million row numbers across the history; older states are dropped to stay below
FOLDER = "shaping"


def shaping_key(run: ScoreRun) -> str:
    """Names a run's shaping: the same scores (pool, targets, method and settings) find the same file."""
    identity = [run.source_fingerprint, run.target_fingerprint, run.method, run.settings or {}, run.codec, run.level]
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:24]


def shaping_path(cache_dir: str | Path, run: ScoreRun) -> Path:
    return Path(cache_dir) / FOLDER / f"{shaping_key(run)}.json"


@dataclass(frozen=True)
class ShapingLog:
    """The states a run's shaping went through, oldest first (none: never shaped); `problem` says why a file
    that was there could not be read (it is then set aside, not overwritten)."""

    states: tuple[dict, ...] = ()
    problem: str | None = None

    @property
    def current(self) -> dict:
        return self.states[-1] if self.states else {}

    @property
    def can_undo(self) -> bool:
        return bool(self.states)


def read_log(cache_dir: str | Path, run: ScoreRun) -> ShapingLog:
    """The run's shaping log; a missing file is an empty log, a damaged one is moved aside (said in `problem`)."""
    path = shaping_path(cache_dir, run)
    try:
        content = read_json_file(path, MAX_LOG_BYTES)
        if (not isinstance(content, dict) or content.get("format") != FORMAT_VERSION
                or content.get("key") != shaping_key(run) or not isinstance(content.get("states"), list)
                or not all(isinstance(state, dict) for state in content["states"])):
            raise ValueError("not a shaping log of this run")
    except FileNotFoundError:
        return ShapingLog()
    except (OSError, ValueError) as error:
        aside = path.with_name(path.name + ".damaged")
        try:
            os.replace(path, aside)
        except OSError:
            pass
        return ShapingLog(problem=f"the saved rows by hand, patterns and caps of this run could not be read "
                                  f"({error}); they were moved to {aside} and the cut starts unshaped")
    return ShapingLog(tuple(content["states"]))


def _write(path: Path, run: ScoreRun, states: list[dict]) -> list[dict]:
    states = states[-MAX_STATES:]
    while len(states) > 1 and len(json.dumps(states)) > MAX_LOG_BYTES - 4096:
        states = states[1:]  # the oldest undo steps go first: the current state is always kept
    write_json_atomic(path, {"format": FORMAT_VERSION, "key": shaping_key(run), "run": run.label,
                             "states": states})
    return states


def _locked(path: Path) -> FileLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path.with_name(path.name + ".lock"), mode=shared_file_mode(), timeout=30)


def record_state(cache_dir: str | Path, run: ScoreRun, state: dict) -> ShapingLog:
    """Make `state` the run's current shaping (the one before stays in the history, for undo)."""
    path = shaping_path(cache_dir, run)
    with _locked(path):
        log = read_log(cache_dir, run)
        if log.states and log.current == state:
            return log
        states = _write(path, run, [*log.states, state])
    return ShapingLog(tuple(states), log.problem)


def undo_state(cache_dir: str | Path, run: ScoreRun) -> ShapingLog:
    """Go back to the state before the current one (from the first: unshaped)."""
    path = shaping_path(cache_dir, run)
    with _locked(path):
        log = read_log(cache_dir, run)
        if not log.states:
            return log
        states = list(log.states[:-1])
        if states:
            states = _write(path, run, states)
        else:
            path.unlink(missing_ok=True)
    return ShapingLog(tuple(states), log.problem)
