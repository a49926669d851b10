"""Atomic file writes and the scores file format (Parquet with a JSON description in its metadata)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import MISSING, asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import ZipFitError

if TYPE_CHECKING:
    from .loading import LoadedTexts

SCORES_FORMAT = "zipfit-scores"
SCORES_FORMAT_VERSION = 1
METADATA_KEY = b"zipfit"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are shared like any file
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once at import, before worker threads exist
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, content: dict) -> None:
    write_text_atomic(path, json.dumps(content, indent=2, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class ScoreRun:
    """How a set of scores was computed: enough to reproduce it and to check it belongs to the data."""

    codec: str
    level: int
    method: str
    package_version: str
    source: str
    target: str
    source_field: str
    target_field: str
    source_fingerprint: str
    target_fingerprint: str
    n_sources: int
    n_targets: int
    # Optional: files written before these were recorded lack them (read as None).
    source_recipe: dict | None = None  # data_sources.DataRecipe.to_dict() of the source texts
    target_recipe: dict | None = None  # ... and of the target texts
    settings: dict | None = None  # the method's settings that change its scores (older files: in `method`)

    @classmethod
    def from_dict(cls, content: Mapping) -> ScoreRun | None:
        """The run in a scores file's metadata or a manifest's `scoring` section; None when a required key is
        missing. Keys this version does not know are ignored."""
        known = {name: content[name] for name in cls.__dataclass_fields__ if name in content}
        required = [name for name, item in cls.__dataclass_fields__.items() if item.default is MISSING]
        if any(name not in known for name in required):
            return None
        return cls(**known)

    @classmethod
    def for_texts(cls, source: LoadedTexts, target: LoadedTexts, *, source_name: str, target_name: str,
                  codec: str, level: int, method: str, settings: dict | None) -> ScoreRun:
        """The run that scored `source` against `target`, with the recipes that load them again."""
        from . import __version__

        return cls(
            codec=codec, level=level, method=method, package_version=__version__,
            source=source_name, target=target_name,
            source_field=source.text_description, target_field=target.text_description,
            source_fingerprint=source.fingerprint, target_fingerprint=target.fingerprint,
            n_sources=len(source.texts), n_targets=len(target.texts),
            source_recipe=source.recipe.to_dict() if source.recipe is not None else None,
            target_recipe=target.recipe.to_dict() if target.recipe is not None else None,
            settings=settings,
        )


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


def read_scores(path: str | Path) -> tuple[np.ndarray, ScoreRun | None]:
    """Scores in row order and the run that made them (None for a plain row/score Parquet file)."""
    path = Path(path)
    if not path.exists():
        raise ZipFitError(f"Scores file not found: {path}. Run `zipfit score` first.")
    try:
        table = pq.read_table(path)
    except Exception as error:
        raise ZipFitError(f"{path} is not a readable scores file ({error}).") from None
    if "score" not in table.column_names:
        raise ZipFitError(f"{path} has no `score` column: give a file written by `zipfit score`.")
    scores = table.column("score").to_numpy().astype(np.float64)
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
    return scores, run


def write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Run `writer(temporary_path)` and move the result into place atomically."""
    with atomic_path(path) as temporary:
        writer(temporary)
