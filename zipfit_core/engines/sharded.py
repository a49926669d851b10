"""Scoring sharded corpora into a resumable score folder, on local threads or on a Ray cluster.

    report = score_shards("pool/*.parquet", targets, "scores_out", engine=make_engine("ray"))
    scores, run, source = load_scored_folder("scores_out", "pool/*.parquet")   # for selection / export

Both engines score with the same exact kernel, so a folder's scores do not depend on the engine
(a run started with one can be finished with the other). See `shards.py` for what a shard and a
row id are, and `folder.py` for the folder layout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from zipfit_core.data.formats import FILE_COLUMN, arrow_to_frame
from zipfit_core.data.loading import LoadedTexts
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
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.alignment import CancelSignal, ProgressCallback, as_cancel_check, require_texts
from zipfit_core.scoring.codecs import resolve_level
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


class _ProgressSink:
    """The folder, plus a progress callback counting finished shards."""

    def __init__(self, folder: ScoreFolderWriter, progress: ProgressCallback | None) -> None:
        self.folder, self.progress = folder, progress
        self.total = len(folder.source.shards)

    def _report(self) -> None:
        if self.progress:
            self.progress(len(self.folder.done) + len(self.folder.failed), self.total)

    def write_shard(self, shard: Shard, scored: ScoredShard) -> None:
        self.folder.write_shard(shard, scored)
        self._report()

    def record_failure(self, shard: Shard, message: str) -> None:
        self.folder.record_failure(shard, message)
        self._report()


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
    progress: ProgressCallback | None = None,
    cancel: CancelSignal = None,
) -> ShardedScoreReport:
    """Score every shard of `source` against `targets` into the folder `out`, skipping shards already done.

    Each row's text is its `source_field` (proposed if None), or `source_template` rendered as
    `loading.template_texts` renders it (e.g. "{title}\n{body}"; it wins over the field).
    Bad shards are reported in the result (and the folder's manifest) while the others are scored.
    `progress(finished_shards, total_shards)`; `cancel` raises ScoringCancelled, keeping finished shards.
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
    pending = folder.pending
    sink = _ProgressSink(folder, progress)
    sink._report()
    job = ShardJob(shard_source, text_field, tuple(target_texts), codec, level, source_template)
    try:
        if pending:
            engine.score(job, pending, sink, as_cancel_check(cancel))
    finally:
        folder.write_manifest(finished=True)
    names = {shard.index: shard.name for shard in shard_source.shards}
    return ShardedScoreReport(
        folder=Path(out), shards=len(shard_source.shards), scored=[names[index] for index in folder.scored_now],
        skipped=skipped, failed={names[index]: message for index, message in folder.failed.items()},
        rows=sum(marker["rows"] for marker in folder.done.values()), seconds=time.time() - started,
    )


def load_scored_folder(out: str | Path, source: str, source_field: str | None = None,
                       source_template: str | None = None) -> tuple[np.ndarray, ScoreRun, LoadedTexts]:
    """A complete score folder's scores with the source rows they belong to, in global row order.

    Each shard is read again (its texts taken with the folder's field or template) and checked against
    the fingerprint recorded when it was scored; the table gets a `file` column (the shard's name)
    unless it has one, and with a template a TEMPLATE_TEXT_COLUMN column of the rendered texts.
    `source_field` / `source_template`, when given, must be what the folder was scored with.
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
    shard_source = discover_shards(source)
    names = [shard.name for shard in shard_source.shards]
    expected = [entry["name"] for entry in folder.shards]
    if names != expected:
        raise ZipFitError(f"{source} does not hold the shards scored in {out} ({plural(len(names), 'file')} now, "
                          f"{len(expected):,} scored): give the SOURCE that was scored ({folder.run.source}).")
    tables, texts = [], []
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
        tables.append(table)
        texts.extend(rows)
    frame = arrow_to_frame(pa.concat_tables(tables, promote_options="permissive"))
    if template is not None:  # as `load_source` does with a template: the rendered texts become a column
        frame[TEMPLATE_TEXT_COLUMN] = pd.Series(texts, dtype=object, index=frame.index)
        field = TEMPLATE_TEXT_COLUMN
    loaded = LoadedTexts(texts=texts, table=frame, text_field=field, origin=str(source), text_template=template)
    return folder.scores, folder.run, loaded
