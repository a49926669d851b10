"""The local engine: shard after shard, each scored on this machine's threads (`source_unit_sums`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zipfit_core.engines.shard_job import CancelCheck, ShardJob, ShardSink, scored_from_sums
from zipfit_core.engines.shards import Shard, ShardIndex, read_shard_texts
from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.scoring.alignment import source_unit_sums
from zipfit_core.scoring.kernel import AlignmentKernel


@dataclass
class LocalEngine:
    """Threads on this machine; `workers` None means all cores."""

    workers: int | None = None
    name: str = "local"

    def score(self, job: ShardJob, shards: Sequence[Shard], sink: ShardSink, cancel: CancelCheck) -> None:
        kernel = AlignmentKernel(job.codec, job.level)
        targets = kernel.encode(job.targets, what="target")
        for shard in shards:
            if cancel():
                raise ScoringCancelled("Scoring was cancelled; the shards done so far are kept.")
            try:
                texts = read_shard_texts(job.source, shard, job.text_field, job.template)
                index = ShardIndex.of_texts(texts, job.source.display(shard))
            except ZipFitError as error:  # a bad shard: say which, and go on with the others
                sink.record_failure(shard, str(error))
                continue
            sums = source_unit_sums(texts, targets, kernel, workers=self.workers, cancel=cancel)
            sink.write_shard(shard, scored_from_sums(sums, texts, len(job.targets), index.fingerprint))
