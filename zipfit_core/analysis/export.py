"""Writing a selection (original fields + score, best first) with a manifest that reproduces it."""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from zipfit_core._version import __version__
from zipfit_core.analysis.coverage import BALANCED_RULE_NOTE, Coverage
from zipfit_core.analysis.curation import CuratedSelection
from zipfit_core.analysis.selection import Selection, TokenCounter
from zipfit_core.analysis.shaping import CutPlan
from zipfit_core.data.data_root import is_inside
from zipfit_core.errors import ZipFitError
from zipfit_core.store.files import read_json_file, write_json_atomic, write_with
from zipfit_core.store.outputs import check_output_path, matches_written, remove_written, replace_folder, written_files
from zipfit_core.store.run import ScoreRun

MANIFEST_FORMAT = "zipfit-export-manifest"
MANIFEST_FORMAT_VERSION = 1  # manifests written before this one carry no format (only "tool": "zipfit-studio")
EXPORT_FORMATS = {".jsonl": "jsonl", ".parquet": "parquet", ".csv": "csv"}
SCORE_COLUMN = "zipfit_score"


def export_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in EXPORT_FORMATS:
        return EXPORT_FORMATS[suffix]
    if suffix == "":
        return "datasets"  # a folder written with datasets' save_to_disk
    raise ZipFitError(
        f"Cannot tell the export format from {path}: end the name with .jsonl, .parquet or .csv, "
        "or give a folder name (no extension) for a `datasets` folder."
    )


EXPORT_CHUNK_ROWS = 20_000  # rows taken from the data and written at a time: an export of any size holds one chunk


def selected_chunks(table, texts: Sequence[str], text_field: str, scores: np.ndarray, selection: Selection,
                    counter: TokenCounter, *, include_score: bool = True,
                    chunk_rows: int = EXPORT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The chosen rows, best first, a chunk at a time; with a token budget the last row's text is truncated to fit.
    `table` is a DataFrame or rows on disk (`StoredTable`): only each chunk's rows are read."""
    rows = np.asarray(selection.rows, dtype=np.int64)
    values = np.asarray(scores, dtype=np.float64)
    for start in range(0, max(len(rows), 1), chunk_rows):
        part = rows[start: start + chunk_rows]
        chosen = table.iloc[part].reset_index(drop=True).copy()
        if selection.last_row_tokens is not None and len(part) and start + len(part) == len(rows):
            last_row = int(rows[-1])
            chosen.at[len(chosen) - 1, text_field] = counter.truncate(texts[last_row], selection.last_row_tokens)
        if include_score:
            chosen[SCORE_COLUMN] = values[part]
        yield chosen


def selected_table(table, texts: Sequence[str], text_field: str, scores: np.ndarray,
                   selection: Selection, counter: TokenCounter, *, include_score: bool = True) -> pd.DataFrame:
    """The chosen rows, best first, in one frame (for previews and small selections: see `selected_chunks`)."""
    chunks = list(selected_chunks(table, texts, text_field, scores, selection, counter, include_score=include_score))
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def _json_cell(value: object) -> object:
    """Missing values (NaN, NaT, NA) as JSON null; everything else unchanged."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return None
    return value


def _json_fallback(value: object) -> object:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if hasattr(value, "isoformat"):  # timestamps and dates
        return value.isoformat()
    return str(value)


def jsonl_lines(table: pd.DataFrame) -> Iterator[str]:
    """One JSON object per row, each line ending in a newline; not pandas' to_json, which rounds floats (10 digits
    by default, 15 at most)."""
    for record in table.to_dict(orient="records"):
        cells = {str(name): _json_cell(value) for name, value in record.items()}
        yield json.dumps(cells, ensure_ascii=False, default=_json_fallback) + "\n"


def write_jsonl(table: pd.DataFrame, path: str | Path) -> None:
    _write_jsonl_chunks([table], Path(path))


def write_table(table: pd.DataFrame | Iterable[pd.DataFrame], path: str | Path) -> None:
    """Write rows (a frame, or frames in turn) in the format the path names, a chunk at a time (atomically: a
    file or folder appears whole, or not at all)."""
    chunks = [table] if isinstance(table, pd.DataFrame) else table
    kind = export_format(path)
    if kind == "datasets":
        replace_folder(path, lambda staging: _write_datasets_folder(chunks, staging))
    else:
        write_with(path, lambda temporary: _CHUNK_WRITERS[kind](chunks, temporary))


def _write_jsonl_chunks(chunks: Iterable[pd.DataFrame], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.writelines(jsonl_lines(chunk))


def _write_csv_chunks(chunks: Iterable[pd.DataFrame], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for number, chunk in enumerate(chunks):
            chunk.to_csv(handle, index=False, header=number == 0)


def _arrow_chunks(chunks: Iterable[pd.DataFrame]) -> Iterator[pa.Table]:
    """Each chunk as Arrow with the first chunk's schema (a later chunk's types are cast to it)."""
    schema = None
    for chunk in chunks:
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        if schema is None:
            schema = table.schema
        elif not table.schema.equals(schema):
            try:
                table = table.cast(schema)
            except (pa.ArrowException, ValueError) as error:
                raise ZipFitError(f"A column of the selection changes type between rows ({error}): export it as "
                                  ".jsonl, which keeps any value.") from None
        yield table


def _write_parquet_chunks(chunks: Iterable[pd.DataFrame], path: Path) -> None:
    writer = None
    try:
        for table in _arrow_chunks(chunks):
            writer = writer or pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _write_datasets_folder(chunks: Iterable[pd.DataFrame], staging: Path) -> None:
    """A `datasets` folder (save_to_disk), through an Arrow file on disk that `datasets` maps, not memory."""
    from datasets import Dataset

    rows_file = staging.parent / f".{staging.name}.rows.arrow"
    try:
        writer = None
        with pa.OSFile(str(rows_file), "wb") as sink:
            for table in _arrow_chunks(chunks):
                writer = writer or pa.ipc.new_stream(sink, table.schema)
                writer.write_table(table)
            if writer is not None:
                writer.close()
        Dataset.from_file(str(rows_file)).save_to_disk(str(staging))
    finally:
        rows_file.unlink(missing_ok=True)


_CHUNK_WRITERS = {"jsonl": _write_jsonl_chunks, "parquet": _write_parquet_chunks, "csv": _write_csv_chunks}


def check_export_destination(output: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """`output` once it is safe to export there: new, an empty folder, or an earlier export (the files its
    manifest records are there, unchanged); never `.`/`..`, an input, or anything else that exists. Its manifest
    and its list of removed rows (`removed_path`) pass the same check. Raises ZipFitError otherwise."""
    kind = export_format(output)
    path = check_output_path(output, what="export", folder=kind == "datasets", is_ours=is_previous_export,
                             inputs=inputs)
    check_output_path(manifest_path(path), what="export's manifest", folder=False, inputs=inputs,
                      is_ours=lambda manifest: _manifest_for(manifest, path.name) is not None)
    check_output_path(removed_path(path), what="list of removed rows", folder=False, inputs=inputs,
                      is_ours=lambda removed: _recorded_beside(path, removed))
    return path


def check_export_folder(folder: str | Path, data_root: Path) -> Path:
    """`folder` (the app's exports folder), created if missing, once it is a real folder inside `data_root`: a link
    there (even one planted in the data folder) would send the exports elsewhere on the machine."""
    folder, root = Path(folder), Path(data_root).expanduser().resolve()
    for step in (None, "created"):
        if os.path.islink(folder) or not is_inside(folder.resolve(), root):
            raise ZipFitError(f"The export folder {folder} is a link or leads outside the data folder {root}: "
                              "exports are written only inside it. Replace the link with a real folder.")
        if step is None:
            folder.mkdir(parents=True, exist_ok=True)
    return folder


def _manifest_for(manifest: Path, name: str) -> dict | None:
    """The export manifest at `manifest` if it is one for the export named `name`, else None."""
    try:
        content = read_manifest(manifest)
    except ZipFitError:
        return None
    output = content.get("output")
    return content if isinstance(output, dict) and output.get("path") == name else None


def _written_by(manifest: dict | None, name: str) -> list[dict] | None:
    """The files the manifest records writing for `name` (a file, or a folder's files), or None."""
    written = manifest.get("written") if manifest is not None else None
    if not isinstance(written, list):
        return None
    return [item for item in written if isinstance(item, dict) and isinstance(item.get("path"), str)
            and (item["path"] == name or item["path"].startswith(name + "/"))]


def is_previous_export(path: Path) -> bool:
    """An export zipfit wrote: the manifest beside it records writing exactly the files there now."""
    path = Path(path)
    recorded = _written_by(_manifest_for(manifest_path(path), path.name), path.name)
    return bool(recorded) and matches_written(path, recorded)


def _recorded_beside(output: Path, file: Path) -> bool:
    """Whether the export at `output` (one zipfit wrote) records writing `file` beside it, as it is now."""
    if not is_previous_export(output):
        return False
    recorded = _written_by(_manifest_for(manifest_path(output), output.name), file.name)
    return bool(recorded) and matches_written(file, recorded)


def manifest_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".manifest.json")


def build_manifest(run: ScoreRun | None, selection: Selection, counter: TokenCounter,
                   output: str | Path, output_format: str, include_score: bool,
                   curated: CuratedSelection | None = None, coverage: Coverage | None = None,
                   balanced: bool = False, plan: CutPlan | None = None, replay: dict | None = None) -> dict:
    """What `OUTPUT.manifest.json` holds: the run record that made the scores, the cut, the counts, the file,
    and with `curated` what was checked and removed (the removed rows, if any, are listed in
    `OUTPUT.removed.jsonl`); with `plan`, everything that made the cut (rule, order, rows in and out by hand,
    patterns, caps, curation), and with `replay` the inputs to make it again (`zipfit select --from-manifest`)."""
    scores_part = run.to_dict() if run else {"note": "scores file carried no run description"}
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_FORMAT_VERSION,
        "tool": "zipfit-studio",
        "package_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "scoring": scores_part,
        "rule": {"kind": selection.rule.kind, "value": selection.rule.value,
                 "description": selection.rule.describe(), "ties": "broken by source row index",
                 "order": BALANCED_RULE_NOTE if balanced else "by score (the paper's rule)"},
        "tokens": {"counter": counter.name, "kept": selection.tokens_kept,
                   "last_row_truncated_to": selection.last_row_tokens},
        "rows": {"kept": selection.n_rows, "total": selection.total_rows},
        "output": {"path": Path(output).name, "format": output_format, "score_column": include_score},
    }
    # Which targets the cut serves (None: the scoring's per-target facts were not at hand).
    manifest["coverage"] = coverage.to_dict() if coverage is not None else None
    if curated is not None:
        manifest["curation"] = curated.describe(removed_file=removed_path(output).name)
    if plan is not None:
        manifest["plan"] = plan.to_dict()
    if replay is not None:
        manifest["replay"] = replay
    return manifest


def export_selection(table: pd.DataFrame, texts: list[str], text_field: str, scores: np.ndarray,
                     selection: Selection, counter: TokenCounter, run: ScoreRun | None,
                     output: str | Path, *, include_score: bool = True,
                     inputs: Iterable[str | Path] = (), curated: CuratedSelection | None = None,
                     data_root: Path | None = None, coverage: Coverage | None = None,
                     balanced: bool = False, plan: CutPlan | None = None, replay: dict | None = None) -> dict:
    """Write the selection and `OUTPUT.manifest.json` beside it; return the manifest.

    The destination is checked first (`check_export_destination`); `inputs` are the files it must not replace.
    With `curated` (the cut with contaminated rows and near-duplicates removed), the manifest records the settings
    and counts, and the removed rows, if any, are written to `OUTPUT.removed.jsonl` (an earlier export's list is
    taken away when this one removed none). With `data_root` (the app), the folder written to must be a real folder
    inside it (`check_export_folder`).
    """
    if data_root is not None:
        check_export_folder(Path(output).parent, data_root)
    check_export_destination(output, inputs)
    if curated is not None:
        selection = curated.selection
    chosen = selected_chunks(table, texts, text_field, scores, selection, counter, include_score=include_score)
    manifest = build_manifest(run, selection, counter, output, export_format(output), include_score, curated,
                              coverage, balanced, plan, replay)
    writes_removed = curated is not None and curated.removed_any
    stale_removed = not writes_removed and _recorded_beside(Path(output), removed_path(output))  # before replacing
    write_table(chosen, output)
    try:
        written = written_files(output)
        if writes_removed:
            write_with(removed_path(output), lambda temporary: write_jsonl(curated.removed, temporary))
            written += written_files(removed_path(output))
        manifest["written"] = written  # how a later run recognises these files as ours (names, sizes, hashes)
        write_json_atomic(manifest_path(output), manifest)
    except BaseException:  # an export without its manifest could never be recognised (or replaced) later
        remove_written(output)
        raise
    if stale_removed:
        removed_path(output).unlink(missing_ok=True)
    return manifest


def removed_path(path: str | Path) -> Path:
    """Where the rows a curated export left out are listed, beside the export."""
    path = Path(path)
    return path.with_name(path.name + ".removed.jsonl")


def read_manifest(path: str | Path) -> dict:
    """An export manifest: this format's versions, and those written before it had one (`tool` only).
    Raises ZipFitError for anything else."""
    try:
        manifest = read_json_file(path)
    except (OSError, ValueError) as error:
        raise ZipFitError(f"{path} is not a readable export manifest ({error}).") from None
    if not isinstance(manifest, dict):
        raise ZipFitError(f"{path} is not an export manifest (not a JSON object).")
    version = manifest.get("format_version")
    if manifest.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT or (version or 0) > MANIFEST_FORMAT_VERSION:
        raise ZipFitError(f"{path} is not an export manifest this version reads (format {manifest.get('format')!r}, "
                          f"version {version!r}): upgrade zipfit-studio or export again.")
    return manifest
