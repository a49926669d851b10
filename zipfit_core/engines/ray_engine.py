"""The Ray engine: score shards on a Ray cluster (or a local Ray instance) with Ray Data.

1. Index: one Ray task per shard reads it (pyarrow) and returns its row count and row digests; a
   shard that cannot be read, lacks the text field or holds a non-text row is reported by name
   here, and the others go on.
2. Score: `ray.data.read_parquet` / `read_json` read the good shards (with each row's file path),
   `repartition` cuts them into blocks of about a second of work, and `map_batches` runs
   `RayShardScorer`, a callable class that encodes the targets once per worker, on an autoscaling
   pool of one actor per CPU. Rows come back as (path, digest, score, n_chars).
3. Assemble: the driver puts each score at its row by the row's digest (rows with the same text
   have the same score), so the result does not depend on the order Ray returns rows in; a shard
   is written to the score folder as soon as its last row is back. The sink hears each shard's rows as
   they arrive (pairs, rate and ETA across shards); inside a shard nothing is checkpointed here: an
   interrupted Ray run scores its shards in flight again (the local engine resumes them).

Ray is imported here only, and only when this engine runs: `import zipfit_core` never loads it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from zipfit_core.data.sources import plural
from zipfit_core.engines.folder import ScoredShard
from zipfit_core.engines.shard_job import CancelCheck, ShardJob, ShardSink, scored_from_sums
from zipfit_core.engines.shards import (
    DIGEST_BYTES,
    URI_SCHEME,
    Shard,
    ShardIndex,
    ShardSource,
    index_shard,
    row_digest,
    shard_texts,
)
from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.scoring.kernel import AlignmentKernel

RAY_INSTALL_HINT = ("The Ray engine needs Ray Data, which is not installed: pip install 'zipfit-studio[ray]' "
                    "(from a checkout: pip install '.[ray]'), or use `engine='local'`.")
SECONDS_OF_WORK_PER_BLOCK = 1.0
PAIRS_PER_SECOND_GUESS = 40_000  # gzip-9 on ~2 KB pairs, one core: sizes blocks to about a second of work


def import_ray():
    """The `ray` module with Ray Data, or a ZipFitError saying how to install it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Ray's own, about its own settings
            import ray
            import ray.data  # noqa: F401  (the engine needs the data library, not only the core)
    except ImportError:
        raise ZipFitError(RAY_INSTALL_HINT) from None
    return ray


class RayShardScorer:
    """`map_batches` callable: built once per Ray worker, it encodes the targets once, then scores batches."""

    def __init__(self, targets: Sequence[str], codec: str, level: int, text_field: str,
                 template: str | None = None) -> None:
        self.kernel = AlignmentKernel(codec, level)
        self.targets = self.kernel.encode(list(targets), what="target")
        self.n_targets = len(targets)
        self.text_field = text_field
        self.template = template

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self.template is None:
            texts = batch.column(self.text_field).to_pylist()
        else:  # rendered exactly as the index pass rendered the whole shard
            texts = shard_texts(batch, self.text_field, "a Ray Data batch", self.template)
        sums = self.kernel.unit_sums(self.kernel.encode(texts), self.targets)
        scored = scored_from_sums(sums, texts, self.n_targets, fingerprint="")
        return pa.table({
            "path": batch.column("path"),
            "digest": pa.array([row_digest(text) for text in texts], pa.binary(DIGEST_BYTES)),
            "score": pa.array(scored.scores),
            "n_chars": pa.array(scored.n_chars),
        })


def index_or_error(source: ShardSource, shard: Shard, text_field: str,
                   template: str | None = None) -> ShardIndex | str:
    """A Ray task: the shard's index, or why it cannot be scored (never raises, so one bad shard stops nothing)."""
    try:
        return index_shard(source, shard, text_field, template)
    except ZipFitError as error:
        return str(error)
    except Exception as error:  # e.g. a remote filesystem refusing access
        return f"{source.display(shard)}: {type(error).__name__}: {error}"


def _normal_path(path: str) -> str:
    return URI_SCHEME.sub("", path).lstrip("/")


@dataclass
class _OpenShard:
    """A shard whose rows are coming back: where each digest goes, and what has arrived."""

    index: ShardIndex
    free_positions: dict[bytes, list[int]]
    scores: np.ndarray
    n_chars: np.ndarray
    filled: int = 0

    @classmethod
    def expecting(cls, index: ShardIndex) -> _OpenShard:
        positions: dict[bytes, list[int]] = {}
        for row in range(index.rows - 1, -1, -1):  # reversed, so pop() hands out positions in row order
            positions.setdefault(index.digests[row * DIGEST_BYTES:(row + 1) * DIGEST_BYTES], []).append(row)
        return cls(index, positions, np.full(index.rows, np.nan), np.zeros(index.rows, dtype=np.int64))


@dataclass
class _Assembler:
    """Puts the rows Ray returns back into their shards, and hands each complete shard to the sink."""

    source: ShardSource
    shards: Sequence[Shard]
    indexes: dict[int, ShardIndex]
    sink: ShardSink
    pairs_per_row: int = 1  # the targets: the sink counts pairs
    open: dict[int, _OpenShard] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)  # written or failed

    def __post_init__(self) -> None:
        self.by_path = {_normal_path(shard.path): shard for shard in self.shards}
        for shard in self.shards:  # every shard's size is known from the index pass: an exact total at once
            self.sink.shard_progress(shard, 0, self.indexes[shard.index].rows * self.pairs_per_row)

    def add(self, batch: pa.Table) -> None:
        paths = batch.column("path").to_pylist()
        digests = batch.column("digest").to_pylist()
        scores = batch.column("score").to_numpy()
        n_chars = batch.column("n_chars").to_numpy()
        touched: dict[int, Shard] = {}
        for path, digest, score, chars in zip(paths, digests, scores, n_chars):
            shard = self.by_path.get(_normal_path(path))
            if shard is None:
                raise RuntimeError(f"Ray returned rows of {path}, which is not one of the shards being scored.")
            if shard.index in self.ended:
                continue
            state = self.open.get(shard.index) or self.open.setdefault(
                shard.index, _OpenShard.expecting(self.indexes[shard.index]))
            positions = state.free_positions.get(digest)
            if not positions:
                self._fail(shard, f"{self.source.display(shard)}: Ray Data read a row that differs from the file as "
                                  "pyarrow reads it (its digest matches no remaining row); check the file's encoding.")
                continue
            row = positions.pop()
            state.scores[row], state.n_chars[row] = score, chars
            state.filled += 1
            touched[shard.index] = shard
            if state.filled == state.index.rows:
                del self.open[shard.index]
                self.ended.add(shard.index)
                self.sink.write_shard(shard, ScoredShard(state.scores, state.n_chars, state.index.fingerprint))
        for index, shard in touched.items():
            if index in self.open:  # rows of a shard still coming back
                rows = self.open[index].index.rows
                self.sink.shard_progress(shard, self.open[index].filled * self.pairs_per_row, rows * self.pairs_per_row)

    def _fail(self, shard: Shard, message: str) -> None:
        self.open.pop(shard.index, None)
        self.ended.add(shard.index)
        self.sink.record_failure(shard, message)

    def unfinished(self) -> list[Shard]:
        return [shard for shard in self.shards if shard.index not in self.ended]

    def finish(self) -> None:
        for shard in self.unfinished():
            state = self.open.get(shard.index)
            got = state.filled if state else 0
            self._fail(shard, f"{self.source.display(shard)}: Ray Data returned {got:,} of its "
                              f"{plural(self.indexes[shard.index].rows, 'row')}.")


def _error_summary(error: BaseException) -> str:
    """The innermost cause of a (possibly wrapped) Ray error, on one line."""
    inner, seen = error, set()
    while (inner.__cause__ or inner.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        inner = inner.__cause__ or inner.__context__
    lines = [line.strip() for line in str(inner).strip().splitlines() if line.strip()]
    return f"{type(inner).__name__}: {lines[-1] if lines else ''}"[:500]


def _named_in(error: BaseException, shards: Sequence[Shard]) -> Shard | None:
    """The shard whose file an error message names, if exactly one does."""
    text, inner = "", error
    while inner is not None and len(text) < 200_000:
        text += str(inner)
        inner = inner.__cause__ or inner.__context__
    named = [shard for shard in shards if shard.path in text]
    return named[0] if len(named) == 1 else None


RAY_JSONL_ENDINGS = tuple(f"{name}{compression}" for name in (".jsonl", ".ndjson")
                          for compression in ("", ".gz", ".bz2", ".zst"))  # what pyarrow's codecs open by name


def _refuse_unreadable(job: ShardJob, shards: Sequence[Shard], sink: ShardSink) -> list[Shard]:
    """The shards Ray Data can read; each other one is recorded as failed with what to do (the local engine
    reads every compression the file loader does; Ray Data's JSON reader only pyarrow's, by file ending)."""
    readable = []
    for shard in shards:
        if shard.format == "jsonl" and not shard.name.lower().endswith(RAY_JSONL_ENDINGS):
            sink.record_failure(shard, f"{job.source.display(shard)}: Ray Data reads JSON Lines shards plain or "
                                       "compressed as .gz, .bz2 or .zst: recompress it (or rename .gzip / .zstd to "
                                       "those endings), or score with `engine='local'`.")
        else:
            readable.append(shard)
    return readable


@dataclass
class RayEngine:
    """Ray Data on the cluster at `address` (None: RAY_ADDRESS, a running local cluster, or a new local instance)."""

    address: str | None = None
    max_actors: int | None = None  # None: one per CPU of the cluster
    rows_per_block: int | None = None  # None: about a second of work
    show_progress: bool = True
    name: str = "ray"

    def connect(self):
        ray = import_ray()
        if not ray.is_initialized():
            options = {"logging_level": logging.WARNING}
            if self.address is None:
                options["include_dashboard"] = False  # only a new local instance takes this option
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise ZipFitError(f"Could not connect to Ray at {self.address or 'the default address'} ({error}): "
                                  "start a cluster with `ray start --head`, or check `ray_address`.") from None
        return ray

    def score(self, job: ShardJob, shards: Sequence[Shard], sink: ShardSink, cancel: CancelCheck) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Ray Data warns about its own settings
            self._score(job, shards, sink, cancel)

    def _score(self, job: ShardJob, shards: Sequence[Shard], sink: ShardSink, cancel: CancelCheck) -> None:
        shards = _refuse_unreadable(job, shards, sink)
        if not shards:
            return
        ray = self.connect()
        indexes = self._index(ray, job, shards, sink, cancel)
        pending = [shard for shard in shards if shard.index in indexes]
        while pending:
            assembler = _Assembler(job.source, pending, indexes, sink, pairs_per_row=len(job.targets))
            try:
                self._stream(ray, job, pending, assembler, cancel)
            except ScoringCancelled:
                raise
            except Exception as error:  # Ray wraps what failed in its own exception types
                remaining = assembler.unfinished()
                culprit = _named_in(error, remaining)
                if culprit is None:
                    raise ZipFitError(f"Ray Data stopped ({_error_summary(error)}). The shards finished so far are "
                                      "saved: rerun the same command to score the rest.") from error
                sink.record_failure(culprit, f"{job.source.display(culprit)}: Ray Data could not read or score it "
                                             f"({_error_summary(error)}).")
                pending = [shard for shard in remaining if shard is not culprit]
                continue
            assembler.finish()
            return

    def _index(self, ray, job: ShardJob, shards: Sequence[Shard], sink: ShardSink,
               cancel: CancelCheck) -> dict[int, ShardIndex]:
        """Read every shard once in Ray tasks: bad shards are reported, empty ones written, the rest indexed."""
        task = ray.remote(num_cpus=1)(index_or_error)
        source = ray.put(job.source)
        waiting = {task.remote(source, shard, job.text_field, job.template): shard for shard in shards}
        indexes = {}
        while waiting:
            ready, _ = ray.wait(list(waiting), num_returns=1, timeout=0.5)
            if cancel():
                for reference in waiting:
                    ray.cancel(reference)
                raise ScoringCancelled("Scoring was cancelled; the shards done so far are kept.")
            for reference in ready:
                shard = waiting.pop(reference)
                result = ray.get(reference)
                if isinstance(result, str):
                    sink.record_failure(shard, result)
                elif result.rows == 0:
                    sink.write_shard(shard, scored_from_sums([], [], len(job.targets), result.fingerprint))
                else:
                    indexes[shard.index] = result
        return indexes

    def _stream(self, ray, job: ShardJob, shards: Sequence[Shard], assembler: _Assembler,
                cancel: CancelCheck) -> None:
        import ray.data as ray_data

        ray_data.DataContext.get_current().enable_progress_bars = self.show_progress
        if not self.show_progress:  # --quiet: no per-job INFO lines either
            logging.getLogger("ray.data").setLevel(logging.WARNING)
        columns = [*job.columns, "path"]  # only what the texts are made of
        readers = {"parquet": ray_data.read_parquet, "jsonl": ray_data.read_json}
        parts = []
        for fmt, read in readers.items():
            paths = [shard.path for shard in shards if shard.format == fmt]
            if paths:
                parts.append(read(paths, filesystem=job.source.filesystem, include_paths=True,
                                  file_extensions=None).select_columns(columns))
        dataset = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
        rows_per_block = self.rows_per_block or max(
            8, min(4096, int(SECONDS_OF_WORK_PER_BLOCK * PAIRS_PER_SECOND_GUESS) // len(job.targets)))
        actors = self.max_actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        scored = dataset.repartition(target_num_rows_per_block=rows_per_block).map_batches(
            RayShardScorer,
            fn_constructor_kwargs={"targets": job.targets, "codec": job.codec, "level": job.level,
                                   "text_field": job.text_field, "template": job.template},
            batch_size=rows_per_block, batch_format="pyarrow", num_cpus=1,
            # Autoscaling from one actor: a fixed pool holding every CPU would starve Ray's file-listing task.
            compute=ray_data.ActorPoolStrategy(min_size=1, max_size=actors),
        )
        batches = scored.iter_batches(batch_format="pyarrow", batch_size=None)
        try:
            for batch in batches:
                assembler.add(batch)
                if cancel():
                    raise ScoringCancelled("Scoring was cancelled; the shards done so far are kept.")
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
