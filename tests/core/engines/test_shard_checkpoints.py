"""A shard in flight checkpoints like a single-file job: an interrupt (cancel, SIGKILL) loses seconds of it, the
next run resumes it from OUTDIR/partial/NNNNN to the same scores, a damaged checkpoint is recomputed, and the
progress counts pairs, rate and ETA across shards.

Data: ProofNet statements bundled in zipfit_core/data/demo_data (see its ATTRIBUTION.md), glued into sources of
different lengths (proofnet_jobs.py) and cut into Parquet shards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.proofnet_jobs import TARGETS, count_computed_pairs, make_sources
from zipfit_core import ScoringCancelled, alignment_scores
from zipfit_core.cli.main import main
from zipfit_core.engines import score_shards
from zipfit_core.engines.folder import read_score_folder
from zipfit_core.engines.local import LocalEngine
from zipfit_core.jobs.work import WorkStatus

SHARD_ROWS = (300, 200, 250)
TARGET_TEXTS = TARGETS[:24]


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sharded_pool")
    texts = make_sources(sum(SHARD_ROWS), seed=11)
    first = 0
    for index, rows in enumerate(SHARD_ROWS):
        pq.write_table(pa.table({"text": texts[first:first + rows]}), root / f"part-{index}.parquet")
        first += rows
    return {"path": root, "texts": texts, "exact": alignment_scores(texts, TARGET_TEXTS, workers=2)}


def checkpoint_of(out: Path, shard: int) -> dict | None:
    """The progress saved in a shard's checkpoint manifest, if there is one."""
    try:
        return json.loads((out / "partial" / f"{shard:05d}" / "manifest.json").read_text())["progress"]
    except (OSError, ValueError):
        return None


def cancel_once_saved(out: Path, shard: int):
    """A cancel signal that fires once the shard has a checkpoint with some pairs in it."""
    return lambda: (checkpoint_of(out, shard) or {}).get("done_pairs", 0) > 0


def interrupted_in_first_shard(pool: dict, out: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("ZIPFIT_CHECKPOINT_SECONDS", "0.02")
    with pytest.raises(ScoringCancelled, match="resumes from its last checkpoint"):
        score_shards(str(pool["path"]), TARGET_TEXTS, out, engine=LocalEngine(workers=1),
                     cancel=cancel_once_saved(out, 0))
    assert not (out / "completions").exists() or not any((out / "completions").iterdir())
    saved = checkpoint_of(out, 0)
    assert 0 < saved["done_pairs"] < SHARD_ROWS[0] * len(TARGET_TEXTS)
    return saved


def test_a_shard_cancelled_midway_resumes_from_its_checkpoint_to_identical_scores(pool, tmp_path, monkeypatch):
    out = tmp_path / "scores"
    saved = interrupted_in_first_shard(pool, out, monkeypatch)
    computed = count_computed_pairs(monkeypatch)
    statuses: list[WorkStatus] = []
    report = score_shards(str(pool["path"]), TARGET_TEXTS, out, engine=LocalEngine(workers=2),
                          progress=statuses.append)
    total = sum(SHARD_ROWS) * len(TARGET_TEXTS)
    assert report.complete and computed[0] == total - saved["done_pairs"]  # the checkpoint's pairs are not redone
    assert max(status.resumed for status in statuses) == saved["done_pairs"]
    assert np.array_equal(read_score_folder(out).scores, pool["exact"])
    assert not (out / "partial").exists()  # checkpoints go once their shards are done


def test_scores_do_not_depend_on_the_worker_count_or_on_checkpoints(pool, tmp_path, monkeypatch):
    monkeypatch.setenv("ZIPFIT_CHECKPOINT_SECONDS", "0.01")
    for workers in (1, 2):
        score_shards(str(pool["path"]), TARGET_TEXTS, tmp_path / f"w{workers}", engine=LocalEngine(workers=workers))
        assert np.array_equal(read_score_folder(tmp_path / f"w{workers}").scores, pool["exact"])


def test_a_damaged_shard_checkpoint_is_recomputed_not_served(pool, tmp_path, monkeypatch):
    out = tmp_path / "scores"
    interrupted_in_first_shard(pool, out, monkeypatch)
    (data,) = (out / "partial" / "00000").glob("state-*.parquet")
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0xFF
    data.write_bytes(bytes(content))
    computed = count_computed_pairs(monkeypatch)
    with pytest.warns(RuntimeWarning, match="damaged"):
        score_shards(str(pool["path"]), TARGET_TEXTS, out, engine=LocalEngine(workers=2))
    assert computed[0] == sum(SHARD_ROWS) * len(TARGET_TEXTS)  # nothing of the damaged checkpoint was used
    assert np.array_equal(read_score_folder(out).scores, pool["exact"])


def test_progress_counts_pairs_with_rate_and_eta_across_shards(pool, tmp_path, monkeypatch):
    monkeypatch.setenv("ZIPFIT_CHECKPOINT_SECONDS", "0.05")
    statuses: list[WorkStatus] = []
    score_shards(str(pool["path"]), TARGET_TEXTS, tmp_path / "scores", engine=LocalEngine(workers=1),
                 progress=statuses.append)
    total = sum(SHARD_ROWS) * len(TARGET_TEXTS)
    assert {status.unit for status in statuses} == {"pairs"}
    assert statuses[-1].state == "done" and statuses[-1].done == statuses[-1].total == total
    done = [status.done for status in statuses]
    assert done == sorted(done)
    shard_ends = set(np.cumsum((0,) + SHARD_ROWS) * len(TARGET_TEXTS))
    assert any(value not in shard_ends for value in done)  # inside a shard, not only shard by shard
    # From the first shard's rows, the total is estimated for all three (the mean shard), then exact.
    assert any(status.total == round(SHARD_ROWS[0] * 3) * len(TARGET_TEXTS) for status in statuses)
    measured = [status for status in statuses if status.state == "running" and status.rate > 0]
    assert measured and all(status.eta_seconds is not None for status in measured)
    assert any("of 3 shards done" in status.message for status in statuses)


def test_the_command_line_line_counts_pairs_and_shards(pool, tmp_path, capsys):
    target_file = tmp_path / "targets.jsonl"
    target_file.write_text("".join(json.dumps({"text": text}) + "\n" for text in TARGET_TEXTS))
    code = main(["score", str(pool["path"]), str(target_file), "--out", str(tmp_path / "scores"), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 0, err
    total = sum(SHARD_ROWS) * len(TARGET_TEXTS)
    assert f"{total / 1000:.1f}k/{total / 1000:.1f}k pairs" in err and "3 of 3 shards done" in err


def test_a_shard_killed_with_sigkill_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    sources = make_sources(1500, seed=3, pieces=4)
    shards = tmp_path / "pool"
    shards.mkdir()
    pq.write_table(pa.table({"text": sources[:1200]}), shards / "a.parquet")
    pq.write_table(pa.table({"text": sources[1200:]}), shards / "b.parquet")
    targets = TARGETS[:40]
    target_file = tmp_path / "targets.jsonl"
    target_file.write_text("".join(json.dumps({"text": text}) + "\n" for text in targets))
    out = tmp_path / "scores"
    environment = dict(os.environ, ZIPFIT_CHECKPOINT_SECONDS="0.2")
    first = subprocess.Popen([sys.executable, "-m", "zipfit_core", "score", str(shards), str(target_file), "--out",
                              str(out), "--workers", "1", "--quiet"], env=environment,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        if (checkpoint_of(out, 0) or {}).get("done_pairs", 0) > 0:
            break
        time.sleep(0.02)
    assert first.poll() is None, "the first run ended before its first checkpoint: " + first.stderr.read()
    first.send_signal(signal.SIGKILL)
    first.communicate()
    saved = checkpoint_of(out, 0)
    shard_pairs = 1200 * len(targets)
    assert 0 < saved["done_pairs"] < shard_pairs

    computed = count_computed_pairs(monkeypatch)
    report = score_shards(str(shards), targets, out, engine=LocalEngine(workers=2), target_label=str(target_file))
    assert report.complete and computed[0] == len(sources) * len(targets) - saved["done_pairs"]
    assert np.array_equal(read_score_folder(out).scores, alignment_scores(sources, targets, workers=2))
