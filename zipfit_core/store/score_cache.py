"""The on-disk score cache: one folder per (sources, targets, codec, level, package version).

A folder holds a JSON manifest and one Parquet file with the exact progress of a scoring job:

    <cache dir>/<key>/manifest.json       format, version, key, settings, the run record, label, schedule,
                                          progress,
                                          name + sha256 of the data file
    <cache dir>/<key>/state-<id>.parquet  per source: exact similarity-unit sums and sums of squares
                                          over the targets done, and over the current round's part
    <cache dir>/<key>/lock                held (filelock: flock on POSIX, msvcrt on Windows) by the one
                                          process computing this entry

The sums are exact integers (units of 2**-53, see scoring/kernel.py) that can exceed int64, so each is
stored as int64 "limbs" of 62 bits (top limb signed). Writes are atomic: the Parquet file gets a new
name, then the manifest is replaced to point at it, so a crash at any moment leaves the previous
consistent pair. What the manifest says the numbers are (key, settings, schedule, progress) is also written in
the data file's own metadata, so the data file's checksum covers it: an edited manifest no longer matches its
data. Anything that does not check out (JSON, format version, key, settings, checksum, progress, shape) raises
`CacheDamaged`; callers report it and recompute, never serve it. No pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from zipfit_core.data.sources import plural
from zipfit_core.errors import CacheDamaged
from zipfit_core.scoring.kernel import units_to_mean
from zipfit_core.store.files import (
    atomic_path,
    file_sha256,
    now_iso,
    read_json_file,
    shared_file_mode,
    write_json_atomic,
)
from zipfit_core.store.run import ScoreRun

CACHE_FORMAT = "zipfit-score-cache"
CACHE_FORMAT_VERSION = 1
CACHE_DIR_ENV = "ZIPFIT_CACHE_DIR"
MANIFEST_NAME = "manifest.json"
LOCK_NAME = "lock"
LIMB_BITS = 62
EXACT_CHUNK_ROWS = 65_536
LIMB_MASK = (1 << LIMB_BITS) - 1
SUM_LIMBS = 2      # |sum| <= n_targets * 2**53 < 2**123
SQUARE_LIMBS = 3   # sum of squares <= n_targets * 2**106 < 2**185
COVERED_METADATA_KEY = b"zipfit-score-cache"  # in the data file: what the manifest must agree with


def default_cache_dir() -> Path:
    """$ZIPFIT_CACHE_DIR, else the user's cache folder (XDG on Linux) + /zipfit."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "zipfit"
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else Path.home() / "AppData" / "Local") / "zipfit" / "Cache"
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "zipfit"


def cache_settings(run: ScoreRun) -> dict:
    """Everything the cached numbers depend on, as the manifest's `settings` section records it."""
    return {
        "source_fingerprint": run.source_fingerprint,
        "target_fingerprint": run.target_fingerprint,
        "codec": run.codec,
        "level": run.level,
        "n_sources": run.n_sources,
        "n_targets": run.n_targets,
        "package_version": run.package_version,
    }


def cache_key(run: ScoreRun) -> str:
    """The entry's folder name: a hash of what the numbers depend on (counts are implied by the fingerprints;
    the manifest keeps them as a cross-check)."""
    identity = {
        "source_fingerprint": run.source_fingerprint,
        "target_fingerprint": run.target_fingerprint,
        "codec": run.codec,
        "level": run.level,
        "package_version": run.package_version,
        "cache_format_version": CACHE_FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


@dataclass
class ScoreState:
    """Exact progress of a job. Targets are taken in a fixed order, in rounds ending at `round_ends`.

    `sums`/`squares` cover the first `targets_done` targets for every source (a consistent preview);
    `round_sums`/`round_squares` cover the current round's targets for sources [0, round_rows_done).
    Each is a numpy array of int64 limbs, shape (limbs, n_sources), as the data file stores them: exact
    integers at 8 bytes per limb and row, not a Python int per row (lists of ints are accepted and converted).
    """

    n_sources: int
    round_ends: tuple[int, ...]
    rounds_done: int
    sums: np.ndarray
    squares: np.ndarray
    round_rows_done: int
    round_sums: np.ndarray
    round_squares: np.ndarray

    def __post_init__(self) -> None:
        for name, n_limbs in (("sums", SUM_LIMBS), ("squares", SQUARE_LIMBS), ("round_sums", SUM_LIMBS),
                              ("round_squares", SQUARE_LIMBS)):
            value = getattr(self, name)
            if not isinstance(value, np.ndarray):
                value = np.stack(to_limbs(list(value), n_limbs)) if len(value) else np.zeros((n_limbs, 0), np.int64)
            if value.shape != (n_limbs, self.n_sources) or value.dtype != np.int64:
                raise ValueError(f"{name} must be {n_limbs} int64 limbs per source")
            setattr(self, name, value)

    @classmethod
    def fresh(cls, n_sources: int, round_ends: tuple[int, ...]) -> ScoreState:
        def zeros(n_limbs: int) -> np.ndarray:
            return np.zeros((n_limbs, n_sources), dtype=np.int64)

        return cls(n_sources, tuple(round_ends), 0, zeros(SUM_LIMBS), zeros(SQUARE_LIMBS),
                   0, zeros(SUM_LIMBS), zeros(SQUARE_LIMBS))

    @property
    def n_targets(self) -> int:
        return self.round_ends[-1] if self.round_ends else 0

    @property
    def targets_done(self) -> int:
        return self.round_ends[self.rounds_done - 1] if self.rounds_done else 0

    @property
    def complete(self) -> bool:
        return self.rounds_done == len(self.round_ends)

    @property
    def current_round_targets(self) -> int:
        return 0 if self.complete else self.round_ends[self.rounds_done] - self.targets_done

    @property
    def done_pairs(self) -> int:
        return self.targets_done * self.n_sources + self.round_rows_done * self.current_round_targets

    def add_round_block(self, first_row: int, moments: list[tuple[int, int]]) -> None:
        """Record the current round's (sum, squares) for rows first_row.. (must continue the prefix)."""
        if first_row != self.round_rows_done:
            raise ValueError("round blocks must be added in row order")
        end = first_row + len(moments)
        if moments:
            self.round_sums[:, first_row:end] = to_limbs([total for total, _ in moments], SUM_LIMBS)
            self.round_squares[:, first_row:end] = to_limbs([squares for _, squares in moments], SQUARE_LIMBS)
        self.round_rows_done = end

    def commit_round(self) -> None:
        """Fold the finished round into the totals: every source has now seen the same targets."""
        if self.round_rows_done != self.n_sources:
            raise ValueError("the round is not finished")
        self.sums = add_limbs(self.sums, self.round_sums)
        self.squares = add_limbs(self.squares, self.round_squares)
        self.rounds_done += 1
        self.round_rows_done = 0
        self.round_sums[:] = 0
        self.round_squares[:] = 0

    def approximate_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """The totals' sums and sums of squares as float64 (for a preview; only the final mean needs them exact)."""
        return limbs_to_float(self.sums), limbs_to_float(self.squares)

    def exact_scores(self) -> np.ndarray:
        """The final alignment scores (only when complete): correctly rounded exact means."""
        if not self.complete:
            raise ValueError("scores are exact only when every target is done")
        n = self.n_targets
        limbs = list(self.sums)
        means = np.empty(len(limbs[0]) if limbs else 0, dtype=np.float64)
        for start in range(0, len(means), EXACT_CHUNK_ROWS):  # Python ints for a slice at a time, not every row
            part = from_limbs([limb[start:start + EXACT_CHUNK_ROWS] for limb in limbs])
            means[start:start + len(part)] = [units_to_mean(total, n) for total in part]
        return means


def to_limbs(values: list[int], n_limbs: int) -> list[np.ndarray]:
    """Exact int64 limbs of Python ints: low limbs unsigned 62-bit, the top limb signed."""
    limbs = []
    rest = values
    for _ in range(n_limbs - 1):
        limbs.append(np.fromiter((value & LIMB_MASK for value in rest), dtype=np.int64, count=len(rest)))
        rest = [value >> LIMB_BITS for value in rest]
    limbs.append(np.array(rest, dtype=np.int64) if rest else np.zeros(0, dtype=np.int64))  # overflow raises
    return limbs


def from_limbs(limbs: list[np.ndarray]) -> list[int]:
    values = limbs[-1].tolist()
    for limb in reversed(limbs[:-1]):
        if len(limb) and (limb.min() < 0 or limb.max() > LIMB_MASK):
            raise CacheDamaged("a stored number is out of range")
        values = [(high << LIMB_BITS) | low for high, low in zip(values, limb.tolist())]
    return values


def add_limbs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The exact sum of two limb arrays (limbs, n), carried in numpy: low limbs stay in [0, 2**62)."""
    total = first + second  # two low limbs sum below 2**63: no int64 overflow before the carry
    for limb in range(len(total) - 1):
        total[limb + 1] += total[limb] >> LIMB_BITS
        total[limb] &= LIMB_MASK
    return total


def limbs_to_float(limbs: np.ndarray) -> np.ndarray:
    return sum(limb.astype(np.float64) * float(1 << (LIMB_BITS * index)) for index, limb in enumerate(limbs))


def _limb_columns(name: str, limbs: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{name}_{index}": limb for index, limb in enumerate(limbs)}


def _read_limbs(table: pa.Table, name: str, n_limbs: int) -> np.ndarray:
    names = [f"{name}_{index}" for index in range(n_limbs)]
    missing = [column for column in names if column not in table.column_names]
    if missing:
        raise CacheDamaged(f"the data file lacks columns {', '.join(missing)}")
    limbs = []
    for column in names:
        array = table.column(column)
        if array.type != pa.int64() or array.null_count:
            raise CacheDamaged(f"column {column} is not plain int64")
        limbs.append(array.to_numpy())
    stacked = np.stack(limbs) if limbs[0].size else np.zeros((n_limbs, 0), dtype=np.int64)
    if stacked.size and (stacked[:-1].min(initial=0) < 0 or stacked[:-1].max(initial=0) > LIMB_MASK):
        raise CacheDamaged("a stored number is out of range")
    return np.ascontiguousarray(stacked)


class CacheEntry:
    """The folder of one cache key: read, verify, write, and the cross-process lock."""

    def __init__(self, root: str | Path, key: str) -> None:
        self.root = Path(root)
        self.key = key
        self.folder = self.root / key
        self.manifest_path = self.folder / MANIFEST_NAME
        self._file_lock: FileLock | None = None

    # -- the lock: one process computes an entry; others follow its checkpoints ------------------
    def try_lock(self) -> bool:
        """Take the entry's lock without waiting; True if this object now holds it."""
        if self._file_lock is not None:
            return True
        self.folder.mkdir(parents=True, exist_ok=True)
        # Not thread-local: a job takes the lock on its worker thread and may release it from another one.
        lock = FileLock(self.folder / LOCK_NAME, mode=shared_file_mode(), thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:  # held by another process (or another job object: each FileLock opens its own file)
            return False
        self._file_lock = lock
        self._remove_leftovers(keep=None)
        return True

    @property
    def locked(self) -> bool:
        """Whether this object holds the entry's lock (only the holder writes)."""
        return self._file_lock is not None

    def unlock(self) -> None:
        if self._file_lock is not None:
            self._file_lock.release(force=True)
            self._file_lock = None

    def _remove_leftovers(self, keep: str | None) -> None:
        """Delete temporary files of killed writers and data files the manifest no longer names."""
        if keep is None:
            try:
                keep = self.read_manifest().get("data", {}).get("file")
            except CacheDamaged:
                keep = None
        for path in self.folder.iterdir():
            stale_temporary = path.name.startswith(".") and path.name.endswith(".tmp")
            stale_data = path.name.startswith("state-") and path.name != keep
            if stale_temporary or stale_data:
                path.unlink(missing_ok=True)

    # -- reading -----------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.manifest_path.exists()

    def read_manifest(self) -> dict:
        try:
            manifest = read_json_file(self.manifest_path)
        except FileNotFoundError:
            raise CacheDamaged("the manifest is missing") from None
        except (OSError, ValueError) as error:
            raise CacheDamaged(f"the manifest is not readable JSON ({error})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT:
            raise CacheDamaged("the manifest is not a ZIP-FIT score cache manifest")
        if manifest.get("format_version") != CACHE_FORMAT_VERSION:
            raise CacheDamaged(f"it was written in cache format version {manifest.get('format_version')!r}, "
                               f"this program reads version {CACHE_FORMAT_VERSION}")
        if manifest.get("key") != self.key:
            raise CacheDamaged("the manifest belongs to another cache key")
        for part in ("settings", "schedule", "progress", "data"):
            if not isinstance(manifest.get(part), dict):
                raise CacheDamaged(f"the manifest has no valid `{part}` section")
        return manifest

    def load(self) -> tuple[dict, ScoreState]:
        """The manifest and the verified state it points to; raises CacheDamaged."""
        manifest = self.read_manifest()
        try:
            settings = manifest["settings"]
            n_sources = int(settings["n_sources"])
            round_ends = tuple(int(end) for end in manifest["schedule"]["round_ends"])
            progress = manifest["progress"]
            rounds_done = int(progress["rounds_done"])
            round_rows_done = int(progress["round_rows_done"])
            data_name = str(manifest["data"]["file"])
            data_sha256 = str(manifest["data"]["sha256"])
        except (KeyError, TypeError, ValueError) as error:
            raise CacheDamaged(f"the manifest is incomplete ({error})") from None
        if not 0 <= rounds_done <= len(round_ends) or not 0 <= round_rows_done <= n_sources:
            raise CacheDamaged("the manifest's progress is out of range")
        if rounds_done == len(round_ends) and round_rows_done:
            raise CacheDamaged("the manifest's progress is inconsistent")
        if int(settings.get("n_targets", -1)) != (round_ends[-1] if round_ends else 0):
            raise CacheDamaged("the manifest's schedule does not cover the targets")
        data_path = self.folder / data_name
        if Path(data_name).name != data_name or not data_path.is_file():
            raise CacheDamaged(f"its data file {data_name} is missing")
        if file_sha256(data_path) != data_sha256:
            raise CacheDamaged("its data file does not match the manifest's checksum")
        try:
            table = pq.read_table(data_path)
        except Exception as error:  # pyarrow raises several types for a bad file
            raise CacheDamaged(f"its data file is not readable Parquet ({error})") from None
        if table.num_rows != n_sources:
            raise CacheDamaged(f"its data file has {plural(table.num_rows, 'row')}, expected {n_sources:,}")
        try:
            covered = json.loads((table.schema.metadata or {})[COVERED_METADATA_KEY])
        except (KeyError, ValueError):
            covered = None
        if covered != self._covered(settings, manifest["schedule"], rounds_done, round_rows_done):
            raise CacheDamaged("the manifest does not match what its data file records (settings, schedule or "
                               "progress were changed after it was written)")
        state = ScoreState(
            n_sources=n_sources,
            round_ends=round_ends,
            rounds_done=rounds_done,
            sums=_read_limbs(table, "sum", SUM_LIMBS),
            squares=_read_limbs(table, "squares", SQUARE_LIMBS),
            round_rows_done=round_rows_done,
            round_sums=_read_limbs(table, "round_sum", SUM_LIMBS),
            round_squares=_read_limbs(table, "round_squares", SQUARE_LIMBS),
        )
        if (state.squares[-1] < 0).any() or (state.round_squares[-1] < 0).any():  # the top limb holds the sign
            raise CacheDamaged("a stored sum of squares is negative")
        return manifest, state

    def load_matching(self, run: ScoreRun, schedule: dict) -> ScoreState | None:
        """The stored state if it is for exactly this work; None when there is none yet."""
        if not self.exists():
            return None
        manifest, state = self.load()
        if manifest["settings"] != cache_settings(run):
            raise CacheDamaged("its settings do not match the request")
        if manifest["schedule"] != schedule:
            raise CacheDamaged("it was computed with a different target order")
        return state

    def _covered(self, settings: dict, schedule: dict, rounds_done: int, round_rows_done: int) -> dict:
        """What the data file's metadata records, so that its checksum covers it too."""
        return {"key": self.key, "settings": settings, "schedule": schedule,
                "progress": {"rounds_done": rounds_done, "round_rows_done": round_rows_done}}

    # -- writing (only while holding the lock) ----------------------------------------------------
    def save(self, state: ScoreState, run: ScoreRun, schedule: dict, label: str) -> None:
        """Write the state under a new file name, then point the manifest at it (both atomic)."""
        columns: dict[str, np.ndarray] = {"row": np.arange(state.n_sources, dtype=np.int64)}
        columns.update(_limb_columns("sum", state.sums))  # the state's own arrays: nothing to convert
        columns.update(_limb_columns("squares", state.squares))
        columns.update(_limb_columns("round_sum", state.round_sums))
        columns.update(_limb_columns("round_squares", state.round_squares))
        if state.complete:
            columns["score"] = state.exact_scores()  # convenience for other readers; sums are the truth
        covered = self._covered(cache_settings(run), schedule, state.rounds_done, state.round_rows_done)
        # Through JSON and back, as the manifest is read: tuples become lists, so both compare equal when loaded.
        table = pa.table(columns).replace_schema_metadata({COVERED_METADATA_KEY: json.dumps(covered).encode()})
        self.folder.mkdir(parents=True, exist_ok=True)
        data_name = f"state-{secrets.token_hex(6)}.parquet"
        data_path = self.folder / data_name
        with atomic_path(data_path) as temporary:
            pq.write_table(table, temporary)
        created = now_iso()
        try:
            previous = self.read_manifest()
            created = previous.get("created", created)
            label = label or previous.get("label", "")
        except CacheDamaged:
            pass
        manifest = {
            "format": CACHE_FORMAT,
            "format_version": CACHE_FORMAT_VERSION,
            "key": self.key,
            "label": label,
            "created": created,
            "updated": now_iso(),
            "settings": cache_settings(run),
            "run": run.to_dict(),  # how the texts were loaded: a listed entry can be opened again
            "schedule": schedule,
            "progress": {
                "rounds_done": state.rounds_done,
                "targets_done": state.targets_done,
                "round_rows_done": state.round_rows_done,
                "done_pairs": state.done_pairs,
                "total_pairs": state.n_sources * state.n_targets,
                "complete": state.complete,
            },
            "data": {"file": data_name, "sha256": file_sha256(data_path), "bytes": data_path.stat().st_size},
        }
        write_json_atomic(self.manifest_path, manifest)
        self._remove_leftovers(keep=data_name)

    def discard(self) -> None:
        """Remove a damaged entry's manifest and data (keeps the folder and its lock file)."""
        self.manifest_path.unlink(missing_ok=True)
        self._remove_leftovers(keep="")
