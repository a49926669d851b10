"""The on-disk score cache: one folder per (sources, targets, codec, level, package version).

A folder holds a JSON manifest and one Parquet file with the exact progress of a scoring job:

    <cache dir>/<key>/manifest.json       format, version, key, settings, the run record, label, schedule,
                                          progress,
                                          name + sha256 of the data file
    <cache dir>/<key>/state-<id>.parquet  per source: exact similarity-unit sums and sums of squares
                                          over the targets done, and over the current round's part; once
                                          complete, also the final score and the ranking (best first), which
                                          is what reopening a finished result reads
    <cache dir>/<key>/targets-<id>.parquet per target: its k most similar source rows and their units, and
                                          exact sums and sums of squares over the rows scored against it
                                          (scoring/target_facts.py); its checksum is in the state file's metadata
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
from zipfit_core.scoring.alignment import adopt_ranking, rank_by_score
from zipfit_core.scoring.target_facts import TARGET_TOP_K, TargetFacts
from zipfit_core.store.files import (
    atomic_path,
    file_sha256,
    now_iso,
    read_json_file,
    shared_file_mode,
    write_json_atomic,
)
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.score_state import LIMB_MASK, SQUARE_LIMBS, SUM_LIMBS, ScoreState, facts_of_target_limbs

CACHE_FORMAT = "zipfit-score-cache"
CACHE_FORMAT_VERSION = 2  # 2: per-target facts (older entries are listed as such and recomputed)
CACHE_DIR_ENV = "ZIPFIT_CACHE_DIR"
MANIFEST_NAME = "manifest.json"
LOCK_NAME = "lock"
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


def _limb_columns(name: str, limbs: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{name}_{index}": limb for index, limb in enumerate(limbs)}


def _read_limbs(parquet: pq.ParquetFile, name: str, n_limbs: int, *, signed: bool = False) -> np.ndarray:
    """`n_limbs` int64 columns `name_0`..; limbs (all but the top one in [0, 2**62)) unless `signed` columns.
    Read a column at a time into one array: the whole file's table beside the arrays doubled a large pool's peak."""
    names = [f"{name}_{index}" for index in range(n_limbs)]
    missing = [column for column in names if column not in parquet.schema_arrow.names]
    if missing:
        raise CacheDamaged(f"the data file lacks columns {', '.join(missing)}")
    stacked = np.empty((n_limbs, parquet.metadata.num_rows), dtype=np.int64)
    for limb, column in enumerate(names):
        try:
            array = parquet.read(columns=[column]).column(0)
        except Exception as error:  # pyarrow raises several types for a bad file
            raise CacheDamaged(f"column {column} is not readable ({error})") from None
        if array.type != pa.int64() or array.null_count:
            raise CacheDamaged(f"column {column} is not plain int64")
        stacked[limb] = array.to_numpy()
    if not signed and stacked.size and (stacked[:-1].min(initial=0) < 0 or stacked[:-1].max(initial=0) > LIMB_MASK):
        raise CacheDamaged("a stored number is out of range")
    return stacked


@dataclass(frozen=True)
class CompleteScores:
    """A finished result as its readers need it: the final scores (read-only; their ranking is shared) and each
    target's facts."""

    scores: np.ndarray
    target_facts: TargetFacts
    n_targets: int

    @property
    def done_pairs(self) -> int:
        return len(self.scores) * self.n_targets


@dataclass(frozen=True)
class _OpenedEntry:
    """An entry's verified data file and the progress its manifest gives."""

    table: pq.ParquetFile
    n_sources: int
    round_ends: tuple[int, ...]
    rounds_done: int
    round_rows_done: int
    targets_file: dict

    @property
    def n_targets(self) -> int:
        return self.round_ends[-1] if self.round_ends else 0


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

    def _remove_leftovers(self, keep: tuple[str, ...] | None) -> None:
        """Delete temporary files of killed writers and data files the manifest no longer names."""
        if keep is None:
            try:
                data = self.read_manifest().get("data", {})
                keep = (data.get("file"), data.get("targets_file"))
            except CacheDamaged:
                keep = ()
        for path in self.folder.iterdir():
            stale_temporary = path.name.startswith(".") and path.name.endswith(".tmp")
            stale_data = path.name.startswith(("state-", "targets-")) and path.name not in keep
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

    def _opened(self, manifest: dict) -> _OpenedEntry:
        """The manifest's numbers checked against each other and the data file it names, verified (checksum, rows,
        and the metadata that must agree with the manifest); raises CacheDamaged."""
        try:
            settings = manifest["settings"]
            n_sources = int(settings["n_sources"])
            round_ends = tuple(int(end) for end in manifest["schedule"]["round_ends"])
            progress = manifest["progress"]
            rounds_done = int(progress["rounds_done"])
            round_rows_done = int(progress["round_rows_done"])
            data_name = str(manifest["data"]["file"])
            data_sha256 = str(manifest["data"]["sha256"])
            targets_file = {"file": str(manifest["data"]["targets_file"]),
                            "sha256": str(manifest["data"]["targets_sha256"])}
        except (KeyError, TypeError, ValueError) as error:
            raise CacheDamaged(f"the manifest is incomplete ({error})") from None
        if not 0 <= rounds_done <= len(round_ends) or not 0 <= round_rows_done <= n_sources:
            raise CacheDamaged("the manifest's progress is out of range")
        if rounds_done == len(round_ends) and round_rows_done:
            raise CacheDamaged("the manifest's progress is inconsistent")
        if int(settings.get("n_targets", -1)) != (round_ends[-1] if round_ends else 0):
            raise CacheDamaged("the manifest's schedule does not cover the targets")
        table = self._verified_parquet(data_name, data_sha256, n_sources, "data file", "the manifest's checksum")
        try:
            covered = json.loads((table.schema_arrow.metadata or {})[COVERED_METADATA_KEY])
        except (KeyError, ValueError):
            covered = None
        if covered != self._covered(settings, manifest["schedule"], rounds_done, round_rows_done, targets_file):
            raise CacheDamaged("the manifest does not match what its data file records (settings, schedule or "
                               "progress were changed after it was written)")
        return _OpenedEntry(table, n_sources, round_ends, rounds_done, round_rows_done, targets_file)

    def load(self) -> tuple[dict, ScoreState]:
        """The manifest and the verified state it points to; raises CacheDamaged."""
        manifest = self.read_manifest()
        return manifest, self._state(self._opened(manifest))

    def _state(self, opened: _OpenedEntry) -> ScoreState:
        table = opened.table
        target_columns = self._read_targets(opened.targets_file, opened.n_targets)
        state = ScoreState(
            n_sources=opened.n_sources,
            round_ends=opened.round_ends,
            rounds_done=opened.rounds_done,
            sums=_read_limbs(table, "sum", SUM_LIMBS),
            squares=_read_limbs(table, "squares", SQUARE_LIMBS),
            round_rows_done=opened.round_rows_done,
            round_sums=_read_limbs(table, "round_sum", SUM_LIMBS),
            round_squares=_read_limbs(table, "round_squares", SQUARE_LIMBS),
            **target_columns,
        )
        if any((squares[-1] < 0).any() for squares in (state.squares, state.round_squares)):  # the top limb: the sign
            raise CacheDamaged("a stored sum of squares is negative")
        return state

    def load_complete(self, run: ScoreRun | None = None, schedule: dict | None = None) -> CompleteScores | None:
        """A complete entry's final scores, their ranking (shared: rank_by_score returns it) and per-target facts,
        without its exact sums: the scores and ranking columns the last save wrote (the sums are read and the
        ranking made only for an entry written without them). None when the entry is not complete; CacheDamaged
        when it does not check out, or (with `run` and `schedule`) is for other work."""
        manifest = self.read_manifest()
        if run is not None and manifest["settings"] != cache_settings(run):
            raise CacheDamaged("its settings do not match the request")
        if schedule is not None and manifest["schedule"] != schedule:
            raise CacheDamaged("it was computed with a different target order")
        opened = self._opened(manifest)
        if opened.rounds_done != len(opened.round_ends):
            return None
        names = opened.table.schema_arrow.names
        if "score" not in names or "ranking" not in names:  # written before rankings were kept: from the sums
            state = self._state(opened)
            scores = state.exact_scores()
            scores.flags.writeable = False
            return CompleteScores(scores, state.target_facts(), state.n_targets)
        try:
            scores = opened.table.read(columns=["score"]).column(0)
            ranking = opened.table.read(columns=["ranking"]).column(0)
        except Exception as error:  # pyarrow raises several types for a bad file
            raise CacheDamaged(f"its scores are not readable ({error})") from None
        if scores.type != pa.float64() or scores.null_count or not pa.types.is_integer(ranking.type) \
                or ranking.null_count:
            raise CacheDamaged("its scores or their ranking are not plain numbers")
        scores = scores.to_numpy()
        scores.flags.writeable = False  # shared by every page: its ranking is made (here: adopted) once
        try:
            adopt_ranking(scores, ranking.to_numpy())
        except ValueError as problem:
            raise CacheDamaged(f"its stored ranking is wrong ({problem})") from None
        columns = self._read_targets(opened.targets_file, opened.n_targets)
        facts = facts_of_target_limbs(columns["target_top_rows"], columns["target_top_units"],
                                      columns["target_sums"], columns["target_squares"], opened.n_sources)
        return CompleteScores(scores, facts, opened.n_targets)

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

    def _covered(self, settings: dict, schedule: dict, rounds_done: int, round_rows_done: int,
                 targets_file: dict) -> dict:
        """What the data file's metadata records, so that its checksum covers it too (and the targets file's)."""
        return {"key": self.key, "settings": settings, "schedule": schedule,
                "progress": {"rounds_done": rounds_done, "round_rows_done": round_rows_done},
                "targets_file": targets_file}


    def _verified_parquet(self, name: str, sha256: str, rows: int, what: str, checksum: str) -> pq.ParquetFile:
        """One of the entry's Parquet files, opened only when it is whole: named plainly, matching its checksum,
        readable, with the rows expected; CacheDamaged otherwise. Columns are read by whoever needs them."""
        path = self.folder / name
        if Path(name).name != name or not path.is_file():
            raise CacheDamaged(f"its {what} {name} is missing")
        if file_sha256(path) != sha256:
            raise CacheDamaged(f"its {what} does not match {checksum}")
        try:
            parquet = pq.ParquetFile(path)
        except Exception as error:  # pyarrow raises several types for a bad file
            raise CacheDamaged(f"its {what} is not readable Parquet ({error})") from None
        if parquet.metadata.num_rows != rows:
            raise CacheDamaged(f"its {what} has {plural(parquet.metadata.num_rows, 'row')}, expected {rows:,}")
        return parquet
    def _read_targets(self, targets_file: dict, n_targets: int) -> dict[str, np.ndarray]:
        """The per-target facts' arrays, verified against the checksum the data file records."""
        table = self._verified_parquet(targets_file["file"], targets_file["sha256"], n_targets, "per-target file",
                                       "its checksum")
        columns = {"target_top_rows": _read_limbs(table, "top_row", TARGET_TOP_K, signed=True).T,
                   "target_top_units": _read_limbs(table, "top_units", TARGET_TOP_K, signed=True).T,
                   "target_sums": _read_limbs(table, "sum", SUM_LIMBS),
                   "target_squares": _read_limbs(table, "squares", SQUARE_LIMBS)}
        if (columns["target_squares"][-1] < 0).any():  # the top limb holds the sign
            raise CacheDamaged("a stored sum of squares is negative")
        return columns

    def _write_targets(self, state: ScoreState) -> dict:
        columns: dict[str, np.ndarray] = {"target": np.arange(state.n_targets, dtype=np.int64)}
        columns.update(_limb_columns("top_row", state.target_top_rows.T))
        columns.update(_limb_columns("top_units", state.target_top_units.T))
        columns.update(_limb_columns("sum", state.target_sums))
        columns.update(_limb_columns("squares", state.target_squares))
        name = f"targets-{secrets.token_hex(6)}.parquet"
        with atomic_path(self.folder / name) as temporary:
            pq.write_table(pa.table(columns), temporary)
        return {"file": name, "sha256": file_sha256(self.folder / name)}

    # -- writing (only while holding the lock) ----------------------------------------------------
    def save(self, state: ScoreState, run: ScoreRun, schedule: dict, label: str,
             scores: np.ndarray | None = None) -> None:
        """Write the state under a new file name, then point the manifest at it (both atomic). A complete state's
        final scores (`scores` when the caller has them) and their ranking are written too: reopening a finished
        result reads them instead of the sums, and does not sort again."""
        columns: dict[str, np.ndarray] = {"row": np.arange(state.n_sources, dtype=np.int64)}
        columns.update(_limb_columns("sum", state.sums))  # the state's own arrays: nothing to convert
        columns.update(_limb_columns("squares", state.squares))
        columns.update(_limb_columns("round_sum", state.round_sums))
        columns.update(_limb_columns("round_squares", state.round_squares))
        if state.complete:
            if scores is None:
                scores = state.exact_scores()
                scores.flags.writeable = False  # read-only: its ranking is made once and shared
            columns["score"] = scores  # sums are the truth; these are what a reader of the finished result needs
            columns["ranking"] = rank_by_score(scores)
        self.folder.mkdir(parents=True, exist_ok=True)
        targets_file = self._write_targets(state)
        targets_name = targets_file["file"]
        covered = self._covered(cache_settings(run), schedule, state.rounds_done, state.round_rows_done, targets_file)
        # Through JSON and back, as the manifest is read: tuples become lists, so both compare equal when loaded.
        table = pa.table(columns).replace_schema_metadata({COVERED_METADATA_KEY: json.dumps(covered).encode()})
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
            "data": {"file": data_name, "sha256": file_sha256(data_path), "bytes": data_path.stat().st_size,
                     "targets_file": targets_name, "targets_sha256": targets_file["sha256"]},
        }
        write_json_atomic(self.manifest_path, manifest)
        self._remove_leftovers(keep=(data_name, targets_name))

    def discard(self) -> None:
        """Remove a damaged entry's manifest and data (keeps the folder and its lock file)."""
        self.manifest_path.unlink(missing_ok=True)
        self._remove_leftovers(keep=())


def cached_target_facts(cache_root: str | Path, run: ScoreRun) -> TargetFacts | None:
    """The per-target facts of a run's complete ZIP-FIT entry in the cache; None when there is none to trust."""
    if run.method != "zipfit":
        return None
    entry = CacheEntry(cache_root, cache_key(run))
    try:
        complete = entry.load_complete(run) if entry.exists() else None
    except (CacheDamaged, OSError):
        return None
    return complete.target_facts if complete is not None else None
