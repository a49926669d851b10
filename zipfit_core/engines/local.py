"""The local engine: shard after shard, each scored on this machine's threads by the one ZIP-FIT job.

A shard is a `ScoreJob` (rounds of targets, blocks of about a second) whose checkpoints go to the shard's
own folder next to its output, so an interrupt loses seconds of a shard, not the shard, and the next run
resumes it from there; the sums are exact integers, so the scores do not depend on where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zipfit_core.engines.folder import ScoredShard, checkpoint_name
from zipfit_core.engines.shard_job import CancelCheck, ShardJob, ShardSink, scored_from_sums
from zipfit_core.engines.shards import Shard, ShardIndex, read_shard_texts
from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.jobs.score_job import ScoreJob, ScoreRequest
from zipfit_core.store.run import ScoreRun


@dataclass
class LocalEngine:
    """Threads on this machine; `workers` None means all cores."""

    workers: int | None = None
    name: str = "local"

    def score(self, job: ShardJob, shards: Sequence[Shard], sink: ShardSink, cancel: CancelCheck) -> None:
        for shard in shards:
            if cancel():
                raise ScoringCancelled("Scoring was cancelled; the shards done so far are kept.")
            try:
                texts = read_shard_texts(job.source, shard, job.text_field, job.template)
                index = ShardIndex.of_texts(texts, job.source.display(shard))
            except ZipFitError as error:  # a bad shard: say which, and go on with the others
                sink.record_failure(shard, str(error))
                continue
            if not texts:
                sink.write_shard(shard, scored_from_sums([], [], len(job.targets), index.fingerprint))
                continue
            scores = self._score_shard(job, shard, texts, index, sink, cancel)
            if scores is not None:
                n_chars = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
                sink.write_shard(shard, ScoredShard(scores, n_chars, index.fingerprint))

    def _score_shard(self, job: ShardJob, shard: Shard, texts: list[str], index: ShardIndex, sink: ShardSink,
                     cancel: CancelCheck) -> np.ndarray | None:
        """The shard's scores, resumed from and checkpointed to its folder; None when it failed (recorded)."""
        if job.run is not None:
            run = job.run.with_sources(index.fingerprint, len(texts))
        else:
            run = ScoreRun.for_plain_texts(texts, job.targets, settings={"codec": job.codec, "level": job.level},
                                           source_fingerprint=index.fingerprint)
        scoring = ScoreJob(
            ScoreRequest.for_run(texts, job.targets, run, label=job.source.display(shard)), job.checkpoints,
            workers=self.workers, cancel=cancel, entry_name=checkpoint_name(shard.index), first_look=False,
            on_progress=lambda status: sink.shard_progress(shard, status.done, status.total, status.resumed))
        scoring.run()  # a KeyboardInterrupt saves the shard's checkpoint, then goes on up
        status = scoring.status()
        if status.state == "done":
            return scoring.result()
        if status.state == "cancelled":
            raise ScoringCancelled(f"Scoring was cancelled; the shards done so far are kept, and "
                                   f"{job.source.display(shard)} resumes from its last checkpoint.")
        sink.record_failure(shard, f"{job.source.display(shard)}: {status.error or status.message}")
        return None
