"""The scores file: Parquet with `row`, `score`, `n_chars`, and the run record in its metadata.

    write_scores(path, scores, n_chars, run)     # atomic
    scores, run = read_scores(path)              # run is None for a plain row/score Parquet file
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zipfit_core.errors import ZipFitError
from zipfit_core.store.files import atomic_path
from zipfit_core.store.run import ScoreRun

if TYPE_CHECKING:
    pass


SCORES_FORMAT = "zipfit-scores"
SCORES_FORMAT_VERSION = 1
METADATA_KEY = b"zipfit"


def write_scores(path: str | Path, scores: np.ndarray, n_chars: np.ndarray, run: ScoreRun) -> None:
    """Write `row`, `score`, `n_chars` to Parquet, with the run description in the file metadata."""
    table = pa.table({
        "row": pa.array(np.arange(len(scores), dtype=np.int64)),
        "score": pa.array(np.asarray(scores, dtype=np.float64)),
        "n_chars": pa.array(np.asarray(n_chars, dtype=np.int64)),
    })
    description = {"format": SCORES_FORMAT, "format_version": SCORES_FORMAT_VERSION, **asdict(run)}
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(description).encode()})
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)


def is_scores_file(path: str | Path) -> bool:
    """A Parquet file whose metadata says `zipfit score` wrote it (only the footer is read)."""
    try:
        metadata = pq.read_schema(path).metadata or {}
        return json.loads(metadata[METADATA_KEY]).get("format") == SCORES_FORMAT
    except Exception:  # not Parquet, no metadata, damaged: not ours
        return False


def read_scores(path: str | Path) -> tuple[np.ndarray, ScoreRun | None]:
    """Scores in row order and the run that made them (None for a plain row/score Parquet file)."""
    path = Path(path)
    if not path.exists():
        raise ZipFitError(f"Scores file not found: {path}. Run `zipfit score` first.")
    try:
        names = pq.read_schema(path).names
        table = pq.read_table(path, columns=[name for name in ("row", "score") if name in names])  # not n_chars
    except Exception as error:
        raise ZipFitError(f"{path} is not a readable scores file ({error}).") from None
    if "score" not in table.column_names:
        raise ZipFitError(f"{path} has no `score` column: give a file written by `zipfit score`.")
    scores = table.column("score").to_numpy().astype(np.float64, copy=False)
    if "row" in table.column_names:
        rows = table.column("row").to_numpy()
        if not np.array_equal(rows, np.arange(len(rows))):
            ordered = np.full(int(rows.max()) + 1 if len(rows) else 0, np.nan)
            ordered[rows] = scores
            scores = ordered
    run = None
    metadata = table.schema.metadata or {}
    if METADATA_KEY in metadata:
        description = json.loads(metadata[METADATA_KEY])
        if description.get("format") == SCORES_FORMAT:
            run = ScoreRun.from_dict(description)
    scores.setflags(write=False)  # the file's numbers: read-only, so that their ranking is made once (rank_by_score)
    return scores, run
