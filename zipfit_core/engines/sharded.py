"""Scoring sharded corpora into a resumable score folder, on local threads or on a Ray cluster.

    report = score_shards("pool/*.parquet", targets, "scores_out", engine=make_engine("ray"))
    scores, run, source = load_scored_folder("scores_out", "pool/*.parquet")   # for selection / export

Both engines score with the same exact kernel, so a folder's scores do not depend on the engine
(a run started with one can be finished with the other). See `shards.py` for what a shard and a
row id are, and `folder.py` for the folder layout.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from zipfit_core.data.formats import FILE_COLUMN, arrow_to_frame
from zipfit_core.data.loading import LoadedPiece, LoadedTexts
from zipfit_core.data.sources import TextSpec, plural, template_fields
from zipfit_core.data.texts import TEMPLATE_TEXT_COLUMN, texts_fingerprint
from zipfit_core.engines.folder import ScoredShard, ScoreFolderWriter, is_score_folder, read_score_folder
from zipfit_core.engines.local import LocalEngine
from zipfit_core.engines.shard_job import Engine, ShardJob
from zipfit_core.engines.shards import (
    Shard,
    ShardIndex,
    discover_shards,
    propose_shard_field,
    read_shard_table,
    shard_texts,
)
from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.jobs.work import Work, WorkStatus
from zipfit_core.scoring.alignment import CancelSignal, require_texts
from zipfit_core.scoring.codecs import resolve_level
from zipfit_core.store.data_store import data_root_folder, open_store, write_store
from zipfit_core.store.outputs import check_output_path
from zipfit_core.store.run import PLAIN_TEXT_FIELD, ScoreRun

ENGINES = ("local", "ray")


def make_engine(name: str, *, workers: int | None = None, ray_address: str | None = None,
                show_progress: bool = True) -> Engine:
    """`local` (threads; `workers` of them) or `ray` (`workers` caps the actors); Ray is imported only for `ray`."""
    if name == "local":
        if ray_address is not None:
            raise ZipFitError("`ray_address` is for `engine='ray'`.")
        return LocalEngine(workers=workers)
    if name == "ray":
        from zipfit_core.engines.ray_engine import RayEngine, import_ray

        import_ray()  # say how to install Ray before any work
        return RayEngine(address=ray_address, max_actors=workers, show_progress=show_progress)
    raise ZipFitError(f"Unknown engine {name!r}: choose one of {', '.join(ENGINES)}.")


@dataclass(frozen=True)
class ShardedScoreReport:
    """What one `score_shards` call did."""

    folder: Path
    shards: int
    scored: list[str]  # shard names scored by this call
    skipped: list[str]  # shard names already done before it
    failed: dict[str, str]  # shard name -> why it could not be scored
    rows: int  # rows in the folder's done shards
    seconds: float

    @property
    def complete(self) -> bool:
        return len(self.scored) + len(self.skipped) == self.shards


class ShardedScoring(Work):
    """One `score_shards` call as work: the engine's sink, counting pairs across shards for one `WorkStatus`.

    `done` counts the pairs of the shards done (before this call too) and of the shards in flight (with what
    their checkpoints restored); `resumed` is what was not computed by this call, so the rate and the ETA are
    this call's own. The total is exact once every shard's rows are known; until then the shards not yet
    read count as the mean of the ones read.
    """

    def __init__(self, folder: ScoreFolderWriter, engine: Engine, job: ShardJob, cancel: CancelSignal,
                 on_progress: Callable[[WorkStatus], None] | None) -> None:
        super().__init__(str(folder.path), "zipfit", unit="pairs", total=0, cancel=cancel, on_progress=on_progress)
        self.folder, self.engine, self.job = folder, engine, job
        self.pairs_per_row = len(job.targets)
        self.rows = {index: int(marker["rows"]) for index, marker in folder.done.items()}  # shard -> rows, once known
        self.flight: dict[int, tuple[int, int]] = {}  # shard -> (pairs done, pairs resumed), while it is scored
        self.finished_pairs = self.resumed_pairs = sum(self.rows.values()) * self.pairs_per_row
        self._resumed = self._done = self.resumed_pairs
        self._count(report=False)

    def _count(self, report: bool = True) -> None:
        shards = self.folder.source.shards
        scoring = [shard.index for shard in shards if shard.index not in self.folder.failed]
        known = [self.rows[index] for index in scoring if index in self.rows]
        guessed = (len(scoring) - len(known)) * (sum(known) / len(known) if known else 0)
        self.total = round(sum(known) + guessed) * self.pairs_per_row
        ended = len(self.folder.done) + len(self.folder.failed)
        with self._lock:
            self._resumed = self.resumed_pairs + sum(resumed for _, resumed in self.flight.values())
            self._message = f"{ended:,} of {plural(len(shards), 'shard')} done" + (
                f" ({len(self.folder.failed):,} failed)" if self.folder.failed else "")
        if report:
            self._record_progress(self.finished_pairs + sum(done for done, _ in self.flight.values()))

    # -- the engine's sink -----------------------------------------------------------------------------
    def shard_progress(self, shard: Shard, done: int, total: int, resumed: int = 0) -> None:
        self.rows[shard.index] = total // max(1, self.pairs_per_row)
        self.flight[shard.index] = (done, resumed)
        self._count()

    def write_shard(self, shard: Shard, scored: ScoredShard) -> None:
        self.folder.write_shard(shard, scored)
        self.rows[shard.index] = scored.rows
        _, resumed = self.flight.pop(shard.index, (0, 0))
        self.finished_pairs += scored.rows * self.pairs_per_row
        self.resumed_pairs += resumed
        self._count()

    def record_failure(self, shard: Shard, message: str) -> None:
        self.folder.record_failure(shard, message)
        self.flight.pop(shard.index, None)
        self._count()

    # -- running -----------------------------------------------------------------------------------------
    def _work(self) -> None:
        self._count()
        pending = self.folder.pending
        if pending:
            self.engine.score(self.job, pending, self, self.is_cancelled)
        self._count()
        self._finish(None, self.status().message)  # "20 of 20 shards done"


def score_shards(
    source: str,
    targets: Sequence[str] | LoadedTexts,
    out: str | Path,
    *,
    engine: Engine | None = None,
    source_field: str | None = None,
    source_template: str | None = None,
    codec: str = "gzip",
    level: int | None = None,
    target_label: str = "targets",
    progress: Callable[[WorkStatus], None] | None = None,
    cancel: CancelSignal = None,
) -> ShardedScoreReport:
    """Score every shard of `source` against `targets` into the folder `out`, skipping shards already done.

    Each row's text is its `source_field` (proposed if None), or `source_template` rendered as
    `loading.template_texts` renders it (e.g. "{title}\n{body}"; it wins over the field).
    Bad shards are reported in the result (and the folder's manifest) while the others are scored.
    `progress(status)` hears pairs done and total, rate and ETA across shards (a `WorkStatus`); `cancel`
    raises ScoringCancelled, keeping finished shards and the checkpoint of the one in flight.
    """
    started = time.time()
    engine = engine or LocalEngine()
    level = resolve_level(codec, level)
    target_texts = targets.texts if isinstance(targets, LoadedTexts) else list(targets)
    require_texts(target_texts, "target")
    shard_source = discover_shards(source)
    check_output_path(out, what="score folder", folder=True, is_ours=is_score_folder, inputs=(source,))
    if source_template is not None:
        template_fields(source_template)  # a template that cannot be rendered fails before any work
        text_field = TextSpec(template=source_template).describe()
    else:
        text_field = source_field or propose_shard_field(shard_source)
    loaded = targets if isinstance(targets, LoadedTexts) else None
    run = ScoreRun.for_method(
        "zipfit", {"codec": codec, "level": level}, source=str(source), target=target_label, source_field=text_field,
        target_field=loaded.text_description if loaded is not None else PLAIN_TEXT_FIELD,
        source_fingerprint=None, target_fingerprint=texts_fingerprint(target_texts), n_sources=None,
        n_targets=len(target_texts),
        target_recipe=loaded.recipe.to_dict() if loaded is not None and loaded.recipe is not None else None)
    folder = ScoreFolderWriter.open(out, run, shard_source, engine.name)
    skipped = [shard.name for shard in shard_source.shards if shard.index in folder.done]
    job = ShardJob(shard_source, text_field, tuple(target_texts), codec, level, source_template, run=run,
                   checkpoints=folder.checkpoints)
    work = ShardedScoring(folder, engine, job, cancel, progress)
    try:
        work.run()  # a KeyboardInterrupt goes on up, after the shard in flight saved its checkpoint
    finally:
        folder.write_manifest(finished=True)
    status = work.status()
    if status.state == "cancelled":
        raise ScoringCancelled("Scoring was cancelled; the shards done so far are kept, and a shard in progress "
                               "resumes from its last checkpoint.")
    if status.state == "failed":
        raise ZipFitError(status.error or status.message)
    names = {shard.index: shard.name for shard in shard_source.shards}
    return ShardedScoreReport(
        folder=Path(out), shards=len(shard_source.shards), scored=[names[index] for index in folder.scored_now],
        skipped=skipped, failed={names[index]: message for index, message in folder.failed.items()},
        rows=sum(marker["rows"] for marker in folder.done.values()), seconds=time.time() - started,
    )


def load_scored_folder(out: str | Path, source: str, source_field: str | None = None,
                       source_template: str | None = None,
                       cache_dir: str | Path | None = None) -> tuple[np.ndarray, ScoreRun, LoadedTexts]:
    """A complete score folder's scores with the source rows they belong to, in global row order.

    Each shard is read again (its texts taken with the folder's field or template) and checked against
    the fingerprint recorded when it was scored; the table gets a `file` column (the shard's name)
    unless it has one, and with a template a TEMPLATE_TEXT_COLUMN column of the rendered texts.
    `source_field` / `source_template`, when given, must be what the folder was scored with. With `cache_dir`,
    the rows are kept in the data store (on disk, converted once) rather than in memory.
    """
    folder = read_score_folder(out)
    recorded = folder.run.source_template
    if source_template is not None and source_template != recorded:
        scored_with = f"template {recorded!r}" if recorded is not None else f"field {folder.run.source_field!r}"
        raise ZipFitError(f"{out} was scored with {scored_with}, not template {source_template!r}: give the same "
                          "`source_template` as for scoring (or none: the folder's own is used).")
    if recorded is not None and source_field is not None:
        raise ZipFitError(f"{out} was scored with template {recorded!r}, not field {source_field!r}: drop "
                          "`source_field` (the folder's template is used).")
    template = recorded
    field = source_field or folder.run.source_field
    pieces_field = TEMPLATE_TEXT_COLUMN if template is not None else field
    shard_source = discover_shards(source)
    names = [shard.name for shard in shard_source.shards]
    expected = [entry["name"] for entry in folder.shards]
    if names != expected:
        raise ZipFitError(f"{source} does not hold the shards scored in {out} ({plural(len(names), 'file')} now, "
                          f"{len(expected):,} scored): give the SOURCE that was scored ({folder.run.source}).")
    pieces = _scored_pieces(out, folder, shard_source, field, template)
    if cache_dir is not None:  # the rows go to the data store, a shard at a time: a folder of any size fits
        key = hashlib.sha256(json.dumps(["score-folder", [entry["fingerprint"] for entry in folder.shards], field,
                                         template], sort_keys=True).encode()).hexdigest()
        stored = data_root_folder(cache_dir) / key
        loaded = open_store(stored)
        if loaded is None:
            write_store(stored, pieces, lambda: {"origin": str(source), "recipe": None, "text_field": pieces_field,
                                                 "text_template": template, "warnings": [], "notes": []})
            loaded = open_store(stored)
        if loaded is not None:
            return folder.scores, folder.run, loaded
    frames, texts = [], []
    for piece in _scored_pieces(out, folder, shard_source, field, template):
        frames.append(piece.table)
        texts.extend(piece.texts)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    loaded = LoadedTexts(texts=texts, table=frame, text_field=pieces_field, origin=str(source),
                         text_template=template)
    return folder.scores, folder.run, loaded


def _scored_pieces(out: str | Path, folder, shard_source, field: str, template: str | None) -> Iterator[LoadedPiece]:
    """Each shard's rows with their texts, checked against the fingerprint recorded when it was scored."""
    start = 0
    for shard, entry in zip(shard_source.shards, folder.shards):
        table = read_shard_table(shard_source, shard)
        shown = shard_source.display(shard)
        rows = shard_texts(table, field, shown, template)
        if ShardIndex.of_texts(rows, shown).fingerprint != entry["fingerprint"]:
            used = f"template {template!r}" if template is not None else f"field {field!r}"
            raise ZipFitError(f"{shown} has changed since it was scored into {out} ({used}; scored with "
                              f"{folder.run.source_field!r}): score it again.")
        if FILE_COLUMN not in table.column_names:
            table = table.add_column(0, FILE_COLUMN, pa.array([shard.name] * table.num_rows, pa.string()))
        frame = arrow_to_frame(table)
        if template is not None:  # as `load_source` does with a template: the rendered texts become a column
            frame[TEMPLATE_TEXT_COLUMN] = pd.Series(rows, dtype=object, index=frame.index)
        yield LoadedPiece(rows, frame, np.arange(start, start + len(rows), dtype=np.int64),
                          TEMPLATE_TEXT_COLUMN if template is not None else field)
        start += len(rows)
