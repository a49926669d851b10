"""A score folder: the resumable output of sharded scoring, one Parquet file and one marker per shard.

    OUTDIR/manifest.json                inputs, settings, every shard with its status and counts
    OUTDIR/scores/part-00007.parquet    shard 7: columns shard, row_in_shard, score, n_chars
    OUTDIR/completions/00007.json       written after the part file: shard 7 is done (rows, fingerprint)
    OUTDIR/partial/00007/               shard 7's checkpoint while it is scored (a score job's cache entry:
                                        manifest with checksum + exact sums), removed once it is done

As in datatrove, a shard counts as done only when its completion marker exists (the marker is
written after its scores, each atomically), so a rerun with the same arguments skips the done ones;
a shard in flight resumes from its checkpoint (saved every few seconds), so a kill loses seconds. `read_score_folder` puts the scores in global
row order (see `shards.py`): the order of the rows when the shards are read one after another.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zipfit_core.data.sources import plural
from zipfit_core.engines.shards import Shard, ShardSource, digests_fingerprint
from zipfit_core.errors import ZipFitError
from zipfit_core.store.files import atomic_path, read_json_file, remove_stale_temporaries, write_json_atomic
from zipfit_core.store.run import ScoreRun

FOLDER_FORMAT = "zipfit-score-folder"
FOLDER_FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
CHECKPOINTS = "partial"
ROW_IDS = ("shards are the SOURCE's Parquet/JSONL files sorted by path; a row is (shard, row_in_shard); "
           "its global row number is row_in_shard plus the rows of all earlier shards")
MANIFEST_EVERY_SECONDS = 10.0  # the markers are the truth; the manifest's counts follow them this often
# What must match for a rerun to add shards to an existing folder.
RESUME_KEYS = ("codec", "level", "method", "source_field", "source_template", "target_fingerprint", "n_targets")


@dataclass(frozen=True)
class ScoredShard:
    """The scores of one whole shard, in row order."""

    scores: np.ndarray
    n_chars: np.ndarray
    fingerprint: str

    @property
    def rows(self) -> int:
        return len(self.scores)


def part_name(index: int) -> str:
    return f"scores/part-{index:05d}.parquet"


def marker_name(index: int) -> str:
    return f"completions/{index:05d}.json"


def checkpoint_name(index: int) -> str:
    """A shard's checkpoint folder, under OUTDIR/partial."""
    return f"{index:05d}"


def is_score_folder(path: str | Path) -> bool:
    return (Path(path) / MANIFEST_NAME).is_file()


def _read_manifest(path: Path) -> dict:
    """The folder's manifest, its shape checked (what is read from it below is there, with its type)."""
    try:
        manifest = read_json_file(path / MANIFEST_NAME)
    except (OSError, ValueError) as error:
        raise ZipFitError(f"{path / MANIFEST_NAME} is not readable ({error}): "
                          "score into a new `out` folder.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FOLDER_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ZipFitError(f"{path} is not a zipfit score folder (its manifest has format {found!r}).")
    version = manifest.get("format_version", 0)
    if not isinstance(version, int) or version > FOLDER_FORMAT_VERSION:
        raise ZipFitError(f"{path} was written by a newer zipfit (folder format {version!r}): "
                          "upgrade zipfit-studio.")
    shards = manifest.get("shards")
    well_formed = isinstance(manifest.get("settings"), dict) and isinstance(shards, list) and all(
        isinstance(entry, dict) and _is_count(entry.get("index")) and isinstance(entry.get("name"), str)
        for entry in shards)
    if not well_formed:
        raise ZipFitError(f"{path / MANIFEST_NAME} is damaged (it lacks `settings`, or a list of `shards` with an "
                          "index and a name each): score into a new `out` folder.")
    return manifest


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_marker(path: Path) -> dict | None:
    """A shard's completion marker, or None when it is missing or damaged (the shard then counts as not done)."""
    try:
        content = read_json_file(path)
    except (OSError, ValueError):
        return None
    if not isinstance(content, dict) or not _is_count(content.get("rows")):
        return None
    if not all(isinstance(content.get(key), str) for key in ("shard", "fingerprint", "scores")):
        return None
    return content


@dataclass
class ScoreFolderWriter:
    """An OUTDIR being written by one run: which shards are done, and writing the next ones."""

    path: Path
    run: ScoreRun  # its sources' fingerprint and count are known only per shard: None here
    source: ShardSource
    engine: str
    done: dict[int, dict] = field(default_factory=dict)  # shard index -> its completion marker
    failed: dict[int, str] = field(default_factory=dict)  # shard index -> what went wrong, this run
    scored_now: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    manifest_written: float = 0.0

    @classmethod
    def open(cls, path: str | Path, run: ScoreRun, source: ShardSource, engine: str) -> ScoreFolderWriter:
        """Start or resume a run into `path`; refuses a folder made with other settings or other shards."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ZipFitError(f"`out` {path} is a file: sharded scoring writes a folder; give a folder name.")
        if is_score_folder(path):
            _check_resumable(path, _read_manifest(path), run, source)
        elif path.exists() and any(path.iterdir()):
            raise ZipFitError(f"`out` {path} is a folder that holds other files: give a new or empty folder.")
        for part in (path, path / "scores", path / "completions"):
            remove_stale_temporaries(part)  # a killed run's half-written parts and markers
        folder = cls(path, run, source, engine)
        folder.done = folder._completed_markers()
        for index in folder.done:  # a run killed between a marker and removing the checkpoint
            folder._remove_checkpoint(index)
        folder.write_manifest()
        return folder

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    def _remove_checkpoint(self, index: int) -> None:
        shutil.rmtree(self.checkpoints / checkpoint_name(index), ignore_errors=True)

    def _completed_markers(self) -> dict[int, dict]:
        done = {}
        for shard in self.source.shards:
            marker = self.path / marker_name(shard.index)
            content = read_marker(marker)
            if content is not None and content["shard"] == shard.name and (self.path / part_name(shard.index)).is_file():
                done[shard.index] = content
        return done

    @property
    def pending(self) -> list[Shard]:
        return [shard for shard in self.source.shards if shard.index not in self.done]

    def write_shard(self, shard: Shard, scored: ScoredShard) -> None:
        """The shard's scores, then its completion marker (both atomic): from then on it is done."""
        table = pa.table({
            "shard": pa.array(np.full(scored.rows, shard.index, dtype=np.int32)),
            "row_in_shard": pa.array(np.arange(scored.rows, dtype=np.int64)),
            "score": pa.array(np.asarray(scored.scores, dtype=np.float64)),
            "n_chars": pa.array(np.asarray(scored.n_chars, dtype=np.int64)),
        })
        with atomic_path(self.path / part_name(shard.index)) as temporary:
            pq.write_table(table, temporary)
        marker = {"shard": shard.name, "rows": scored.rows, "fingerprint": scored.fingerprint,
                  "scores": part_name(shard.index), "engine": self.engine, "finished": _now()}
        write_json_atomic(self.path / marker_name(shard.index), marker)
        self._remove_checkpoint(shard.index)
        self.done[shard.index] = marker
        self.failed.pop(shard.index, None)
        self.scored_now.append(shard.index)
        if time.time() - self.manifest_written > MANIFEST_EVERY_SECONDS:
            self.write_manifest()

    def record_failure(self, shard: Shard, message: str) -> None:
        self.failed[shard.index] = message

    @property
    def complete(self) -> bool:
        return len(self.done) == len(self.source.shards)

    def write_manifest(self, finished: bool = False) -> dict:
        shards = []
        for shard in self.source.shards:
            entry: dict = {"index": shard.index, "name": shard.name, "path": self.source.display(shard),
                           "format": shard.format}
            if shard.index in self.done:
                marker = self.done[shard.index]
                entry.update(status="done", rows=marker["rows"], fingerprint=marker["fingerprint"],
                             scores=marker["scores"])
            elif shard.index in self.failed:
                entry.update(status="failed", error=self.failed[shard.index])
            else:
                entry.update(status="pending")
            shards.append(entry)
        rows = sum(marker["rows"] for marker in self.done.values())
        manifest = {
            "format": FOLDER_FORMAT,
            "format_version": FOLDER_FORMAT_VERSION,
            "status": "complete" if self.complete else "incomplete",
            "settings": _settings(self.run),
            "row_ids": ROW_IDS,
            "counts": {"shards": len(shards), "done": len(self.done), "failed": len(self.failed),
                       "pending": len(shards) - len(self.done) - len(self.failed),
                       "rows_scored": rows, "pairs_scored": rows * self.run.n_targets},
            "last_run": {"engine": self.engine, "started": _now(self.started),
                         "finished": _now() if finished else None,
                         "seconds": round(time.time() - self.started, 3) if finished else None,
                         "shards_scored": len(self.scored_now),
                         "shards_skipped": len(self.done) - len(self.scored_now),
                         "shards_failed": len(self.failed)},
            "ignored_files": list(self.source.ignored),
            "shards": shards,
        }
        write_json_atomic(self.path / MANIFEST_NAME, manifest)
        self.manifest_written = time.time()
        if finished and self.complete:
            shutil.rmtree(self.checkpoints, ignore_errors=True)
        return manifest


def _settings(run: ScoreRun) -> dict:
    """The manifest's `settings`: the run record, with its template apart (as folders have always had it)."""
    return {**run.to_dict(), "source_template": run.source_template}


def _check_resumable(path: Path, manifest: dict, run: ScoreRun, source: ShardSource) -> None:
    before, now = manifest["settings"], _settings(run)
    changed = [key for key in RESUME_KEYS if before.get(key) != now[key]]
    if "source_template" in changed and "source_field" in changed:
        changed.remove("source_field")  # with a template, source_field only describes it
    if changed:
        shown = ", ".join(f"{key} {before.get(key)!r} -> {now[key]!r}" for key in changed)
        raise ZipFitError(f"{path} holds scores made with other settings ({shown}): rerun with the same "
                          "settings to resume, or give a new `out` folder.")
    names_before = [entry["name"] for entry in manifest["shards"]]
    names_now = [shard.name for shard in source.shards]
    if names_before != names_now:
        added = sorted(set(names_now) - set(names_before))
        removed = sorted(set(names_before) - set(names_now))
        raise ZipFitError(f"{path} was started for other shards (new: {', '.join(added[:5]) or 'none'}; "
                          f"missing: {', '.join(removed[:5]) or 'none'}): give the same SOURCE to resume, "
                          "or a new `out` folder.")


def _now(moment: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(moment))


# ---------------------------------------------------------------------------------------------------
# Reading a finished folder.


@dataclass(frozen=True)
class FolderScores:
    """All scores of a complete folder in global row order, with the shards they came from."""

    scores: np.ndarray
    n_chars: np.ndarray
    shards: list[dict]  # manifest entries in shard order, each with `rows` and `fingerprint`
    run: ScoreRun  # with the sources' fingerprint and count filled in
    path: Path

    @property
    def offsets(self) -> np.ndarray:
        """Global row number of each shard's first row."""
        return np.concatenate([[0], np.cumsum([entry["rows"] for entry in self.shards])])[:-1].astype(np.int64)


def read_score_folder(path: str | Path) -> FolderScores:
    """The scores of a complete score folder, in global row order; an incomplete one is an error."""
    path = Path(path)
    if not is_score_folder(path):
        raise ZipFitError(f"{path} is not a score folder (no {MANIFEST_NAME}): give the output folder of "
                          "`zipfit score`.")
    manifest = _read_manifest(path)
    entries, not_done = [], []
    for entry in manifest["shards"]:
        marker = path / marker_name(entry["index"])
        content = read_marker(marker) or {}
        if content.get("shard") != entry["name"] or content.get("scores") != part_name(entry["index"]):
            not_done.append(entry)
            continue
        entries.append({**entry, "status": "done", "rows": content["rows"], "fingerprint": content["fingerprint"],
                        "scores": content["scores"]})
    if not_done:
        names = ", ".join(f"{entry['name']} ({entry.get('status', 'pending')})" for entry in not_done[:10])
        raise ZipFitError(f"{path} is incomplete: {len(not_done):,} of {plural(len(manifest['shards']), 'shard')} "
                          f"{'is' if len(not_done) == 1 else 'are'} not scored ({names}). Fix any failed shard and "
                          "rerun the same `zipfit score` command: done shards are skipped.")
    if not entries:
        raise ZipFitError(f"{path} lists no shards: score into a new `out` folder.")
    scores, n_chars = [], []
    for entry in entries:
        try:
            table = pq.read_table(path / entry["scores"], columns=["row_in_shard", "score", "n_chars"])
        except Exception as error:
            raise ZipFitError(f"{path / entry['scores']} is not readable ({error}): delete "
                              f"{path / marker_name(entry['index'])} and rerun `zipfit score` to redo it.") from None
        rows = table.column("row_in_shard").to_numpy()
        if len(rows) != entry["rows"] or not np.array_equal(rows, np.arange(entry["rows"])):
            raise ZipFitError(f"{path / entry['scores']} does not hold rows 0..{entry['rows'] - 1} of "
                              f"{entry['name']}: delete {path / marker_name(entry['index'])} and rerun.")
        scores.append(table.column("score").to_numpy())
        n_chars.append(table.column("n_chars").to_numpy())
    # Folders written before the run record was shared lack the sources' fingerprint and count: known here.
    run = ScoreRun.from_dict({"source_fingerprint": None, "n_sources": None, **manifest["settings"]})
    if run is None:
        raise ZipFitError(f"{path / MANIFEST_NAME} does not record how its scores were computed: score into a new "
                          "folder.")
    all_scores = np.concatenate(scores).astype(np.float64)
    fingerprint = "shards:" + digests_fingerprint("".join(entry["fingerprint"] for entry in entries).encode())
    return FolderScores(all_scores, np.concatenate(n_chars).astype(np.int64), entries,
                        run.with_sources(fingerprint, len(all_scores)), path)
