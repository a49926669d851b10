"""The other methods' scores on disk (`<cache dir>/methods/<key>/`) and in a small in-process memo.

    <cache dir>/methods/<sha256 of the key>/manifest.json    format, version, the key's identity, the run
                                                             record, label,
                                                             sha256 and row count of the data file
    <cache dir>/methods/<sha256 of the key>/scores.parquet   row, score

A key (`result_key`) names the method, the settings that change its scores, the fingerprints of the source
and target texts and the package version. Entries are written once, whole: the Parquet file first, then
the manifest that vouches for it (both atomic). A damaged entry is reported and ignored (recomputed).
ZIP-FIT's own results live in the resumable score cache (`score_cache.py`), not here.
"""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zipfit_core._version import __version__
from zipfit_core.scoring.methods import recorded_settings
from zipfit_core.store.files import atomic_path, file_sha256, now_iso, read_json_file, write_json_atomic
from zipfit_core.store.run import ScoreRun

METHOD_CACHE_FORMAT = "zipfit-method-scores"
METHOD_CACHE_FORMAT_VERSION = 1
METHOD_CACHE_FOLDER = "methods"
METHOD_SCORES_FILE = "scores.parquet"
MANIFEST_NAME = "manifest.json"
MEMO_ENTRIES = 16


class ScoreMemo:
    """The last few results by key, shared by every thread of the process (reads return copies)."""

    def __init__(self, entries: int = MEMO_ENTRIES) -> None:
        self.entries = entries
        self._lock = threading.Lock()
        self._scores: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            scores = self._scores.get(key)
            if scores is None:
                return None
            self._scores.move_to_end(key)
        return scores.copy()

    def put(self, key: str, scores: np.ndarray) -> None:
        stored = np.array(scores, dtype=np.float64)  # our own copy: callers may change theirs
        with self._lock:
            self._scores[key] = stored
            self._scores.move_to_end(key)
            while len(self._scores) > self.entries:
                self._scores.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._scores.clear()


memo = ScoreMemo()  # the process's memo: `score_sources` fills it, removing cache entries clears it


def result_key(method: str, settings: dict[str, Any], source_fingerprint: str, target_fingerprint: str) -> str:
    """The identity of a result: method, the settings that change scores, the data, the package version."""
    kept = recorded_settings(method, settings)
    return json.dumps({"method": method, "settings": kept, "source": source_fingerprint,
                       "target": target_fingerprint, "version": __version__}, sort_keys=True)


def method_cache_folder(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / METHOD_CACHE_FOLDER / hashlib.sha256(key.encode()).hexdigest()


def read_method_cache(cache_dir: str | Path, key: str, n_sources: int) -> np.ndarray | None:
    """Stored scores for `key`, or None if there are none; a damaged entry is reported and ignored."""
    folder = method_cache_folder(cache_dir, key)
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.exists():
        return None
    try:
        manifest = read_json_file(manifest_path)
        if not isinstance(manifest, dict) or (manifest.get("format") != METHOD_CACHE_FORMAT
                or manifest.get("format_version") != METHOD_CACHE_FORMAT_VERSION):
            raise ValueError("unknown format or version")
        if manifest.get("identity") != json.loads(key):
            raise ValueError("it belongs to other work")
        data_path = folder / METHOD_SCORES_FILE
        if file_sha256(data_path) != manifest["data"]["sha256"]:
            raise ValueError("its data file does not match the manifest's checksum")
        scores = pq.read_table(data_path).column("score").to_numpy().astype(np.float64)
        if len(scores) != n_sources or not np.all(np.isfinite(scores)):
            raise ValueError("its scores do not cover the sources")
        return scores
    except Exception as error:  # any damage: JSON, Parquet, missing keys or files
        if not manifest_path.exists():
            return None  # removed while we read it (cache_admin): gone, not damaged
        warnings.warn(f"Ignoring a damaged cached result in {folder} ({error}); computing it again.")
        return None


def write_method_cache(cache_dir: str | Path, key: str, scores: np.ndarray, run: ScoreRun, label: str = "") -> Path:
    """Store scores under `key`: the Parquet file first, then the manifest that vouches for it (both atomic)."""
    folder = method_cache_folder(cache_dir, key)
    folder.mkdir(parents=True, exist_ok=True)
    data_path = folder / METHOD_SCORES_FILE
    with atomic_path(data_path) as temporary:
        pq.write_table(pa.table({"row": np.arange(len(scores), dtype=np.int64),
                                 "score": np.asarray(scores, dtype=np.float64)}), temporary)
    write_json_atomic(folder / MANIFEST_NAME, {
        "format": METHOD_CACHE_FORMAT, "format_version": METHOD_CACHE_FORMAT_VERSION,
        "identity": json.loads(key), "run": run.to_dict(), "label": label, "created": now_iso(),
        "data": {"file": METHOD_SCORES_FILE, "sha256": file_sha256(data_path), "rows": len(scores)},
    })
    return folder
