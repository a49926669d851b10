"""What the score cache holds and how to reclaim its disk: list, remove and prune entries.

The cache folder (`cache.default_cache_dir()`) holds two kinds of entries:

    <cache dir>/<key>/                ZIP-FIT jobs (score_cache.py): manifest, exact partial sums, a lock
    <cache dir>/methods/<key>/        other methods' scores (method_cache.py): manifest + scores.parquet
    <cache dir>/data/<key>/           loaded data sets, converted to Arrow (data_store.py): kind "data"

Both keys are 64 hex digits. Only folders named like that are ever listed or removed: anything else
in the folder is not ours and is left alone.

Removal is safe against concurrent readers and writers:
- a ZIP-FIT entry is removed only while holding its lock (`CacheEntry.try_lock`, the same lock a
  computing job holds), so an entry another process is computing is refused, not torn apart;
- the folder is first renamed to a hidden tombstone (`.removing-<key>-<random>`) in one step, then
  deleted: a reader finds the whole entry or no entry (a read that straddles the rename finds the
  manifest gone and reports no entry, not damage), and a job starting afterwards computes from
  scratch in a new folder. Tombstones left by a crash mid-delete are swept by the next prune.

A job running *in this process* is the caller's to know (`JobManager.busy_reason`): pass `in_use`.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from zipfit_core._version import __version__
from zipfit_core.errors import ZipFitError
from zipfit_core.store.data_store import MANIFEST_NAME as DATA_MANIFEST_NAME
from zipfit_core.store.data_store import STORE_FORMAT, STORE_FORMAT_VERSION, data_root_folder
from zipfit_core.store.files import read_json_file
from zipfit_core.store.method_cache import METHOD_CACHE_FOLDER, METHOD_CACHE_FORMAT, METHOD_CACHE_FORMAT_VERSION, memo
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.score_cache import CACHE_FORMAT, CACHE_FORMAT_VERSION, MANIFEST_NAME, CacheEntry

TOMBSTONE_PREFIX = ".removing-"
MIN_KEY_PREFIX = 6  # shorter prefixes are too easy to mistype into the wrong entry
SECONDS_PER_DAY = 86400.0
_KEY_PATTERN = re.compile(r"[0-9a-f]{64}")


InUse = Callable[["CacheItem"], "str | None"]  # why an entry must not be removed now, or None


@dataclass(frozen=True)
class CacheItem:
    """One entry of the score cache as listed for the user (read from its manifest, not verified)."""

    key: str
    kind: str                  # "zipfit", or the method's name ("tfidf", "dsir", "random", ...)
    label: str
    codec: str | None          # ZIP-FIT's compressor; None for methods that do not compress
    level: int | None
    n_sources: int | None
    n_targets: int | None
    state: str                 # "complete" | "partial" (targets_done of n_targets) | "empty" | "damaged"
    targets_done: int | None
    size_bytes: int            # bytes of every file in the entry's folder
    modified: float            # POSIX time of the last write to the entry
    package_version: str | None
    reusable: bool             # written by this package and cache-format version, and readable
    problem: str | None        # why it is not reusable (another version, damage), else None
    path: Path
    run: ScoreRun | None = None  # how it was computed, when the entry records it (older entries do not)

    @property
    def modified_text(self) -> str:
        return datetime.fromtimestamp(self.modified, timezone.utc).strftime("%Y-%m-%d %H:%M")

    @property
    def state_text(self) -> str:
        if self.state == "partial" and self.n_targets:
            return f"partial ({self.targets_done}/{self.n_targets} targets)"
        return self.state

    @property
    def shape_text(self) -> str:
        """`n_sources x n_targets`, with ? for a count the entry does not record."""
        def count(value: int | None) -> str:
            return "?" if value is None else f"{value:,}"
        return f"{count(self.n_sources)} x {count(self.n_targets)}"

    @property
    def codec_text(self) -> str:
        return "-" if self.codec is None else f"{self.codec} {self.level}"

    def as_json(self) -> dict:
        return {
            "key": self.key, "kind": self.kind, "label": self.label, "codec": self.codec, "level": self.level,
            "n_sources": self.n_sources, "n_targets": self.n_targets, "state": self.state,
            "targets_done": self.targets_done, "size_bytes": self.size_bytes,
            "modified": datetime.fromtimestamp(self.modified, timezone.utc).isoformat(timespec="seconds"),
            "package_version": self.package_version, "reusable": self.reusable, "problem": self.problem,
            "path": str(self.path), "run": self.run.to_dict() if self.run is not None else None,
        }


# -- sizes ------------------------------------------------------------------------------------------
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
               "t": 1000**4, "tb": 1000**4, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def parse_size(text: str) -> int:
    """Bytes in `2GB`, `500 MB`, `1.5GiB` or `1048576` (kB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _SIZE_UNITS:
        raise ZipFitError(f"Size {text!r} is not understood: write e.g. 2GB, 500MB, 1.5GiB or a number of bytes.")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def format_size(n_bytes: int) -> str:
    """`1.2 MB`: powers of 1000, as `parse_size` reads them."""
    value = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _folder_size_and_mtime(folder: Path) -> tuple[int, float]:
    """Total bytes of the files under `folder` and the latest modification time of it or anything in it."""
    total, latest = 0, 0.0
    for directory, _subfolders, files in os.walk(folder):
        try:
            latest = max(latest, os.lstat(directory).st_mtime)
        except OSError:
            continue
        for name in files:
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:  # removed while we looked
                continue
            total += info.st_size
            latest = max(latest, info.st_mtime)
    return total, latest


# -- listing ----------------------------------------------------------------------------------------
def _read_json(path: Path) -> tuple[dict | None, str | None]:
    """(manifest, None), (None, None) when there is no manifest, or (None, why it is unreadable)."""
    try:
        content = read_json_file(path)
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as error:
        return None, f"its manifest is not readable JSON ({error})"
    if not isinstance(content, dict):
        return None, "its manifest is not a JSON object"
    return content, None


def _zipfit_item(folder: Path) -> CacheItem:
    size, modified = _folder_size_and_mtime(folder)
    blank = dict(key=folder.name, kind="zipfit", label="", codec=None, level=None, n_sources=None, n_targets=None,
                 targets_done=None, size_bytes=size, modified=modified, package_version=None, reusable=False,
                 path=folder)
    manifest, problem = _read_json(folder / MANIFEST_NAME)
    if manifest is None:
        if problem is None:
            return CacheItem(**blank, state="empty", problem="no result yet: a job is starting, or it stopped "
                                                              "before its first checkpoint")
        return CacheItem(**blank, state="damaged", problem=problem)
    if manifest.get("format") != CACHE_FORMAT:
        return CacheItem(**blank, state="damaged", problem="its manifest is not a ZIP-FIT score cache manifest")
    format_version = manifest.get("format_version")
    if format_version != CACHE_FORMAT_VERSION:
        problem = f"written in cache format version {format_version!r} (this program uses {CACHE_FORMAT_VERSION})"
    try:  # other format versions are read as far as they go: enough to list them
        settings, progress = manifest["settings"], manifest["progress"]
        codec, level = str(settings["codec"]), int(settings["level"])
        n_sources, n_targets = int(settings["n_sources"]), int(settings["n_targets"])
        complete, targets_done = bool(progress["complete"]), int(progress["targets_done"])
        version = str(settings.get("package_version", ""))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        return CacheItem(**blank, state="damaged", problem=problem or f"its manifest is incomplete ({error})")
    if problem is None and version != __version__:
        problem = f"written by zipfit {version or '?'} (this is {__version__})"
    if problem is None and manifest.get("key") != folder.name:
        problem = "its manifest belongs to another cache key"
    return CacheItem(
        key=folder.name, kind="zipfit", label=str(manifest.get("label", "")), codec=codec, level=level,
        n_sources=n_sources, n_targets=n_targets, state="complete" if complete else "partial",
        targets_done=targets_done, size_bytes=size, modified=modified, package_version=version or None,
        run=_run_of(manifest),
        reusable=problem is None, problem=problem, path=folder)


def _method_item(folder: Path) -> CacheItem:
    size, modified = _folder_size_and_mtime(folder)
    manifest, problem = _read_json(folder / MANIFEST_NAME)
    identity = manifest.get("identity") if manifest else None
    if manifest is None or manifest.get("format") != METHOD_CACHE_FORMAT or not isinstance(identity, dict):
        problem = problem or ("it has no manifest" if manifest is None else "its manifest is not a method-scores "
                                                                              "manifest")
        return CacheItem(key=folder.name, kind="method", label="", codec=None, level=None, n_sources=None,
                         n_targets=None, state="damaged", targets_done=None, size_bytes=size, modified=modified,
                         package_version=None, reusable=False, problem=problem, path=folder)
    label = str(manifest.get("label", ""))
    data = manifest.get("data") if isinstance(manifest.get("data"), dict) else {}
    rows = data.get("rows")
    run = _run_of(manifest)
    version = identity.get("version")
    settings = identity.get("settings") if isinstance(identity.get("settings"), dict) else {}
    format_version = manifest.get("format_version")
    if format_version != METHOD_CACHE_FORMAT_VERSION:
        problem = f"written in method-cache format version {format_version!r} " \
                  f"(this program uses {METHOD_CACHE_FORMAT_VERSION})"
    elif version != __version__:
        problem = f"written by zipfit {version or '?'} (this is {__version__})"
    return CacheItem(
        key=folder.name, kind=str(identity.get("method", "method")), label=label,
        codec=settings.get("codec"), level=settings.get("level") if settings.get("codec") else None,
        n_sources=int(rows) if isinstance(rows, int) else None,
        n_targets=run.n_targets if run is not None else None, state="complete", targets_done=None,
        size_bytes=size, modified=modified, package_version=str(version) if version else None,
        reusable=problem is None, problem=problem, path=folder, run=run)


def _data_item(folder: Path) -> CacheItem:
    """A converted data set (data_store.py): its origin, text field and rows."""
    size, modified = _folder_size_and_mtime(folder)
    manifest, problem = _read_json(folder / DATA_MANIFEST_NAME)
    if manifest is None or manifest.get("format") != STORE_FORMAT:
        problem = problem or "its manifest is not a data-store manifest"
        manifest = {}
    elif manifest.get("version") != STORE_FORMAT_VERSION:
        problem = f"written in data-store format version {manifest.get('version')!r} " \
                  f"(this program uses {STORE_FORMAT_VERSION})"
    rows = manifest.get("rows")
    text = manifest.get("text_template") or manifest.get("text_field")
    label = f"{manifest.get('origin', '?')} ({text})" if manifest else ""
    return CacheItem(key=folder.name, kind="data", label=label, codec=None, level=None,
                     n_sources=rows if isinstance(rows, int) else None, n_targets=None,
                     state="complete" if problem is None else "damaged", targets_done=None, size_bytes=size,
                     modified=modified, package_version=manifest.get("package_version"), reusable=problem is None,
                     problem=problem, path=folder)


def _run_of(manifest: dict) -> ScoreRun | None:
    """The run record an entry's manifest carries (entries written before records were kept have none)."""
    content = manifest.get("run")
    return ScoreRun.from_dict(content) if isinstance(content, dict) else None


def _entry_folders(folder: Path) -> Iterable[Path]:
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir()
                  if _KEY_PATTERN.fullmatch(path.name) and path.is_dir() and not path.is_symlink())


def method_cache_root(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / METHOD_CACHE_FOLDER


def list_cache(cache_dir: str | Path) -> list[CacheItem]:
    """Every entry (ZIP-FIT jobs and method results), newest first. Reads manifests only: fast, not verified."""
    cache_dir = Path(cache_dir)
    items = []
    for folder in _entry_folders(cache_dir):
        if folder.exists():  # removed while we listed
            items.append(_zipfit_item(folder))
    for folder in _entry_folders(method_cache_root(cache_dir)):
        if folder.exists():
            items.append(_method_item(folder))
    for folder in _entry_folders(data_root_folder(cache_dir)):
        if folder.exists():
            items.append(_data_item(folder))
    return sorted(items, key=lambda item: (item.modified, item.key), reverse=True)


def total_size(items: Iterable[CacheItem]) -> int:
    return sum(item.size_bytes for item in items)


def find_entry(cache_dir: str | Path, key: str, items: list[CacheItem] | None = None) -> CacheItem:
    """The entry whose key is `key` or starts with it (at least 6 characters); raises ZipFitError."""
    wanted = key.strip().lower()
    items = list_cache(cache_dir) if items is None else items
    exact = [item for item in items if item.key == wanted]
    if exact:
        return exact[0]
    if not re.fullmatch(r"[0-9a-f]+", wanted):
        raise ZipFitError(f"No cache entry {key!r} in {cache_dir}: keys are hexadecimal, as `zipfit cache list` "
                          "shows them.")
    if len(wanted) < MIN_KEY_PREFIX:
        raise ZipFitError(f"The key {key!r} is too short: give at least {MIN_KEY_PREFIX} characters of a key "
                          "from `zipfit cache list`.")
    matches = [item for item in items if item.key.startswith(wanted)]
    if not matches:
        raise ZipFitError(f"No cache entry {key!r} in {cache_dir}: run `zipfit cache list` to see the keys.")
    if len(matches) > 1:
        kinds = ", ".join(f"{item.key[:16]} ({item.kind})" for item in matches)
        raise ZipFitError(f"The key prefix {key!r} matches {len(matches)} entries ({kinds}): give more characters.")
    return matches[0]


# -- removing ---------------------------------------------------------------------------------------
def _describe(item: CacheItem) -> str:
    label = f" ({item.label})" if item.label else ""
    return f"cache entry {item.key[:12]}{label}"


def _to_tombstone(folder: Path) -> Path | None:
    """Rename `folder` to a hidden name beside it in one step; None if it is already gone."""
    tombstone = folder.with_name(f"{TOMBSTONE_PREFIX}{folder.name}-{secrets.token_hex(4)}")
    try:
        os.rename(folder, tombstone)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ZipFitError(f"Could not remove {folder} ({error}): check its permissions.") from None
    return tombstone


def remove_item(item: CacheItem, in_use: InUse | None = None) -> None:
    """Remove one listed entry (from `list_cache`); raises ZipFitError (nothing removed) while it is in use."""
    reason = in_use(item) if in_use is not None else None
    if reason:
        raise ZipFitError(f"Not removing {_describe(item)}: {reason}.")
    if item.kind == "zipfit":
        entry = CacheEntry(item.path.parent, item.key)
        if not entry.try_lock():  # the lock every computing job holds, in whichever process
            raise ZipFitError(f"Not removing {_describe(item)}: another process is computing it (its lock is "
                              "held). Let that run finish or stop it, then remove the entry.")
        try:
            tombstone = _to_tombstone(item.path)  # while locked: nobody writes it meanwhile
        finally:
            entry.unlock()
    else:  # method entries and converted data are written once, whole, and have no lock
        tombstone = _to_tombstone(item.path)
    if tombstone is not None:
        shutil.rmtree(tombstone, ignore_errors=True)
    memo.clear()  # the in-memory copies of removed results go too: the next request recomputes


def remove_entry(cache_dir: str | Path, key: str, *, in_use: InUse | None = None) -> CacheItem:
    """Remove the entry `key` (or a unique prefix of it); returns what was removed.

    Raises ZipFitError, removing nothing, for an unknown or ambiguous key, an entry another process is
    computing (its lock is held), or one `in_use` names a reason for (e.g. a job in this process).
    """
    item = find_entry(cache_dir, key)
    remove_item(item, in_use)
    return item


@dataclass(frozen=True)
class PruneCriteria:
    """Which entries to prune: any entry matching a given criterion goes; then the oldest until the size fits."""

    older_than_days: float | None = None  # last written more than this many days ago
    other_versions: bool = False          # not reusable: another package/cache-format version, damaged, empty
    max_size_bytes: int | None = None     # then remove the least recently written until the total is at most this

    def check(self) -> None:
        if self.older_than_days is None and not self.other_versions and self.max_size_bytes is None:
            raise ZipFitError("Say what to prune: `older_than_days`, `other_versions` and/or `max_size_bytes`.")
        if self.older_than_days is not None and not 0 <= self.older_than_days < math.inf:  # nan compares false
            raise ZipFitError(f"`older_than_days` must be a finite number of days >= 0, got {self.older_than_days}.")
        if self.max_size_bytes is not None and self.max_size_bytes < 0:
            raise ZipFitError("`max_size_bytes` must be at least 0.")


@dataclass
class PruneReport:
    """What a prune removed (or, in a dry run, would remove) and what it had to keep."""

    removed: list[CacheItem] = field(default_factory=list)
    kept_in_use: list[tuple[CacheItem, str]] = field(default_factory=list)  # (entry, why it stays)
    size_before: int = 0
    leftover_bytes: int = 0  # tombstones of interrupted removals, swept
    dry_run: bool = False

    @property
    def freed_bytes(self) -> int:
        return total_size(self.removed) + self.leftover_bytes

    @property
    def size_after(self) -> int:
        return self.size_before - total_size(self.removed)


def _sweep_tombstones(cache_dir: Path, dry_run: bool) -> int:
    swept = 0
    for folder in (cache_dir, method_cache_root(cache_dir)):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name.startswith(TOMBSTONE_PREFIX) and path.is_dir() and not path.is_symlink():
                swept += _folder_size_and_mtime(path)[0]
                if not dry_run:
                    shutil.rmtree(path, ignore_errors=True)
    return swept


def prune_cache(cache_dir: str | Path, criteria: PruneCriteria, *, dry_run: bool = False,
                in_use: InUse | None = None, now: float | None = None) -> PruneReport:
    """Remove the entries `criteria` pick; entries in use are kept and reported. Raises ZipFitError for
    criteria that pick nothing at all (none given). A dry run removes nothing and cannot know which
    entries another process holds: those would be kept when run for real."""
    criteria.check()
    cache_dir = Path(cache_dir)
    now = time.time() if now is None else now
    items = list_cache(cache_dir)
    report = PruneReport(size_before=total_size(items), dry_run=dry_run,
                         leftover_bytes=_sweep_tombstones(cache_dir, dry_run))

    def take(item: CacheItem) -> bool:
        if dry_run:
            reason = in_use(item) if in_use is not None else None
            if reason:
                report.kept_in_use.append((item, reason))
                return False
        else:
            try:
                remove_item(item, in_use)
            except ZipFitError as refusal:
                report.kept_in_use.append((item, str(refusal)))
                return False
        report.removed.append(item)
        return True

    def matches(item: CacheItem) -> bool:
        too_old = (criteria.older_than_days is not None
                   and now - item.modified > criteria.older_than_days * SECONDS_PER_DAY)
        return too_old or (criteria.other_versions and not item.reusable)

    rest = []
    for item in items:
        if not (matches(item) and take(item)):
            rest.append(item)
    if criteria.max_size_bytes is not None:
        remaining = total_size(rest)
        for item in sorted(rest, key=lambda item: (item.modified, item.key)):  # least recently written first
            if remaining <= criteria.max_size_bytes:
                break
            if item in (kept for kept, _ in report.kept_in_use):
                continue
            if take(item):
                remaining -= item.size_bytes
    return report
