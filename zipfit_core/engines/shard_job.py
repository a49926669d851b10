"""What an engine is given (a `ShardJob`) and where it puts each finished or failed shard (a `ShardSink`).

Engines know nothing of score folders, manifests or the command line, as datatrove's executors
know nothing of the steps they run: they read shards, score them with the one exact kernel
(`AlignmentKernel`), tell the sink how far each shard is, and hand each whole shard to the sink.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from zipfit_core.engines.folder import ScoredShard
from zipfit_core.engines.shards import Shard, ShardSource, text_columns
from zipfit_core.scoring.kernel import units_to_mean
from zipfit_core.store.run import ScoreRun

CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class ShardJob:
    """Score these shards' `text_field` (or `template` rendered per row) against `targets` with one codec and level."""

    source: ShardSource
    text_field: str
    targets: tuple[str, ...]
    codec: str
    level: int
    template: str | None = None  # wins over text_field, as in `TextSpec`
    run: ScoreRun | None = None  # the folder's record (sources unknown); a shard's checkpoint adds the shard's
    checkpoints: Path | None = None  # a shard's partial state is saved in its folder here (None: not saved)

    @property
    def columns(self) -> list[str]:
        """The columns the texts are made of."""
        return text_columns(self.text_field, self.template)


class ShardSink(Protocol):
    def shard_progress(self, shard: Shard, done: int, total: int, resumed: int = 0) -> None:
        """`done` of the shard's `total` pairs are scored, `resumed` of them restored from its checkpoint."""

    def write_shard(self, shard: Shard, scored: ScoredShard) -> None: ...

    def record_failure(self, shard: Shard, message: str) -> None: ...


class Engine(Protocol):
    name: str

    def score(self, job: ShardJob, shards: Sequence[Shard], sink: ShardSink, cancel: CancelCheck) -> None:
        """Score `shards`; each one ends in exactly one sink call; raises ScoringCancelled when `cancel()`."""


def scored_from_sums(unit_sums: Sequence[int], texts: Sequence[str], n_targets: int, fingerprint: str) -> ScoredShard:
    """A shard's scores from its exact similarity-unit sums, exactly as `alignment_scores` makes them."""
    return ScoredShard(
        scores=np.array([units_to_mean(total, n_targets) for total in unit_sums], dtype=np.float64),
        n_chars=np.array([len(text) for text in texts], dtype=np.int64),
        fingerprint=fingerprint,
    )
