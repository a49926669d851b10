"""Engines: scoring sharded corpora into a resumable score folder, on local threads or a Ray cluster.

    shards.py        what a shard is, finding them, reading one, row ids and digests
    folder.py        the score folder on disk: writing it shard by shard, reading a complete one
    shard_job.py     what an engine is given (`ShardJob`) and where finished shards go (`ShardSink`)
    local.py         the local engine: threads on this machine
    ray_engine.py    the Ray engine: Ray Data on a cluster (Ray is imported only when it runs)
    sharded.py       `score_shards` and `load_scored_folder`: the entry points, whatever the engine
    open_folder.py   opening a score folder where only a data root may be read (the app)

Engines know nothing of score folders or the command line, as datatrove's executors know nothing of the
steps they run: a new engine implements `shard_job.Engine` and is named in `sharded.make_engine`.
"""

from zipfit_core._lazy import lazy_exports

# Imported on first use, not here (zipfit_core/_lazy.py says why).
__getattr__, __dir__ = lazy_exports(__name__, {
    "folder": ("FolderScores", "ScoreFolderWriter", "is_score_folder", "read_score_folder"),
    "local": ("LocalEngine",),
    "shard_job": ("Engine", "ShardJob"),
    "sharded": ("ENGINES", "ShardedScoreReport", "load_scored_folder", "make_engine", "score_shards"),
    "shards": ("discover_shards",),
})

__all__ = [
    "ENGINES", "Engine", "FolderScores", "LocalEngine", "ScoreFolderWriter", "ShardJob", "ShardedScoreReport",
    "discover_shards", "is_score_folder", "load_scored_folder", "make_engine", "read_score_folder", "score_shards",
]
