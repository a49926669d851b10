"""The data store: loaded data as Arrow on disk, memory-mapped, written once per recipe and source state.

    <cache dir>/data/<key>/rows.arrow     every kept row, in record batches (the text in the text column)
                           numbers.npz    per-row numbers: row ids in the source, characters, approximate tokens
                           manifest.json  format, recipe, origin, text field, rows, fingerprint, warnings, notes

`open_data(source, text, options)` converts a data set the first time (a piece at a time: memory holds one
piece, never the data set) and opens the store every later time, in any process. The key holds the data root:
the app never opens a store the command line converted without the root's checks (links followed, say), so
the two keep their own copies; every session of the app shares the app's. What it returns is a `LoadedTexts` whose texts and rows stay on
disk (`StoredTexts`, `StoredTable`); only the per-row numbers are in memory. A store is written in a hidden
folder and renamed into place, so a reader finds a whole store or none; one whose files do not match its
manifest is rebuilt, never read as data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zipfit_core._version import __version__
from zipfit_core.data.loading import LoadedPiece, LoadedTexts, load_stream
from zipfit_core.data.local import folder_files, glob_matches, is_glob, resolve_in_root
from zipfit_core.data.sources import DataRecipe, DataSource, LoadOptions, TextSpec
from zipfit_core.data.texts import fingerprint_update_arrow
from zipfit_core.data.token_counts import approx_token_counts
from zipfit_core.errors import ZipFitError
from zipfit_core.store.files import now_iso, read_json_file, write_json_atomic
from zipfit_core.store.stored_rows import BATCH_ROWS, StoredTable, StoredTexts, arrow_piece, widened

STORE_FORMAT = "zipfit-data-store"
STORE_FORMAT_VERSION = 1
DATA_FOLDER = "data"
ROWS_NAME = "rows.arrow"
NUMBERS_NAME = "numbers.npz"
MANIFEST_NAME = "manifest.json"
ALIASES = "aliases"  # <key> -> the store a recipe asked in other words converted into (a file naming its key)
KEY_PATTERN = re.compile(r"[0-9a-f]{64}")
MAX_LISTED_FILES = 100_000  # a source's state lists at most this many files (a bigger folder is keyed by the rest)

Progress = Callable[[int, int], None]  # (rows stored, bytes of text stored)


def data_root_folder(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / DATA_FOLDER


def source_state(source: DataSource, options: LoadOptions, upload_digest: str | None = None) -> list:
    """What the rows depend on besides the recipe: each local file's name, size and modification time, the
    uploaded bytes' digest, the bundled demo's version. An edited file makes a new store."""
    if source.kind == "upload":
        return [upload_digest]
    if source.kind == "demo":
        return [__version__]
    if source.kind != "local":
        return []  # a Hub dataset is keyed by its name, configuration, split and revision
    try:
        path = resolve_in_root(source.location, options.data_root)
    except ZipFitError:
        return []  # the load itself says what is wrong
    if path.is_dir():  # the files a folder read takes (and a save_to_disk folder's)
        paths = folder_files(path)
    elif not path.exists() and is_glob(source.location):
        paths = glob_matches(path)
    else:
        paths = [path]
    state = []
    for entry in paths[:MAX_LISTED_FILES]:
        try:
            stat = entry.stat()
        except OSError:
            continue
        state.append([str(entry), stat.st_size, stat.st_mtime_ns])
    return state


def store_key(source: DataSource, text: TextSpec, options: LoadOptions = LoadOptions(),
              upload_digest: str | None = None) -> str:
    """The store's name: sha256 of what the rows depend on (recipe, reading options, the source's state)."""
    recipe = {"source": asdict(source), "text": asdict(text),
              "options": {"data_root": str(options.data_root) if options.data_root is not None else None,
                          "max_chars": options.max_chars, "on_bad_line": options.on_bad_line,
                          "plain_text_unit": options.plain_text_unit, "max_line_bytes": options.max_line_bytes,
                          "max_expansion": options.max_expansion},
              "state": source_state(source, options, upload_digest), "format": STORE_FORMAT_VERSION}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()


def open_data(source: DataSource, text: TextSpec = TextSpec(), options: LoadOptions = LoadOptions(), *,
              cache_dir: str | Path, upload: bytes | None = None, progress: Progress | None = None) -> LoadedTexts:
    """The data set's store, converted first if it is not there (or damaged); its rows stay on disk."""
    digest = hashlib.sha256(upload).hexdigest() if upload is not None else None
    stores = data_root_folder(cache_dir)
    key = store_key(source, text, options, digest)
    opened = open_store(stores / key) or _open_alias(stores, key)
    if opened is not None:
        return opened
    build_store(stores / key, source, text, options, upload=upload, progress=progress)
    opened = open_store(stores / key)
    if opened is None:
        raise ZipFitError(f"The converted data in {stores / key} could not be read back: check the disk, then load "
                          "again.")
    if text.field is None and text.template is None and opened.recipe is not None:
        # Loaded with the text field chosen for the user: asking for that field by name (as `zipfit select` does
        # with the recipe a scores file records) opens the same store instead of converting the data again.
        _write_alias(stores, store_key(source, opened.recipe.text, options, digest), key)
    return opened


def _open_alias(stores: Path, key: str) -> LoadedTexts | None:
    try:
        named = read_json_file(stores / ALIASES / key)
    except (OSError, ValueError):
        return None
    target = named.get("key") if isinstance(named, dict) else None
    if not isinstance(target, str) or not KEY_PATTERN.fullmatch(target):
        return None
    return open_store(stores / target)


def _write_alias(stores: Path, alias: str, key: str) -> None:
    if alias != key:
        (stores / ALIASES).mkdir(exist_ok=True)
        write_json_atomic(stores / ALIASES / alias, {"key": key})


def open_store(folder: Path) -> LoadedTexts | None:
    """A whole, matching store as LoadedTexts, or None (absent, another format, or files that do not match)."""
    try:
        manifest = read_json_file(folder / MANIFEST_NAME)  # bounded; never through a link
        if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT or manifest.get("version") != STORE_FORMAT_VERSION:
            return None
        for name, size in manifest["files"].items():
            if (folder / name).stat().st_size != size:
                return None
        with np.load(folder / NUMBERS_NAME, allow_pickle=False) as numbers:  # one array at a time, narrowed
            row_ids, chars, tokens = (narrowed(numbers[name]) for name in ("row_ids", "chars", "tokens"))
        table = StoredTable(folder / ROWS_NAME)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None
    rows = manifest["rows"]
    if not (len(table) == len(row_ids) == len(chars) == len(tokens) == rows):
        return None
    loaded = LoadedTexts(texts=StoredTexts(table, manifest["text_field"]), table=table,
                         text_field=manifest["text_field"], origin=manifest["origin"], warnings=manifest["warnings"],
                         row_ids=row_ids, text_template=manifest["text_template"],
                         recipe=DataRecipe.from_dict(manifest["recipe"]) if manifest["recipe"] else None,
                         notes=manifest["notes"],
                         stored_fingerprint=manifest["fingerprint"], char_counts=chars, token_counts=tokens,
                         store_folder=folder)
    return loaded


class _RowNumbers:
    """A store's per-row numbers while it is written: appended to files a piece at a time (memory never holds a
    number per row), then streamed into numbers.npz, as int32 when every one of a kind fits."""

    NAMES = ("row_ids", "chars", "tokens")
    CHUNK = 1 << 20

    def __init__(self, staging: Path) -> None:
        self.paths = {name: staging / f"{name}.int64" for name in self.NAMES}
        self.files = {name: open(path, "wb") for name, path in self.paths.items()}
        self.fits_int32 = dict.fromkeys(self.NAMES, True)

    def add(self, **values: np.ndarray) -> None:
        for name, array in values.items():
            array = np.asarray(array, dtype=np.int64)
            self.fits_int32[name] &= _fits_int32(array)
            array.tofile(self.files[name])

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()

    def write(self, path: Path) -> None:
        """numbers.npz as np.savez writes it (one .npy per kind, stored), a chunk at a time."""
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name in self.NAMES:
                dtype = np.dtype(np.int32 if self.fits_int32[name] else np.int64)
                count = self.paths[name].stat().st_size // 8
                header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (count,)}
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member, \
                        open(self.paths[name], "rb") as values:
                    np.lib.format.write_array_header_1_0(member, header)
                    while len(chunk := np.fromfile(values, dtype=np.int64, count=self.CHUNK)):
                        member.write(chunk.astype(dtype).tobytes())
                self.paths[name].unlink()


class _Segments:
    """The rows files of a store being written: a new segment each time a piece brings a column the earlier ones
    lacked (`_join_segments` makes them one file)."""

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.paths: list[Path] = []
        self.schema: pa.Schema | None = None
        self._sink = self._writer = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None or not batch.schema.equals(self.schema):
            self.close()
            self.schema = batch.schema
            self.paths.append(self.staging / f"segment-{len(self.paths)}.arrow")
            self._sink = pa.OSFile(str(self.paths[-1]), "wb")
            self._writer = pa.ipc.new_file(self._sink, self.schema)
        for start in range(0, batch.num_rows, BATCH_ROWS):
            self._writer.write_batch(batch.slice(start, BATCH_ROWS))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._sink = self._writer = None


def _count_piece(digest, numbers: _RowNumbers, row_ids: np.ndarray, column: pa.Array) -> None:
    """A written piece's share of the fingerprint and its per-row numbers, from its text column alone (the piece's
    Python texts and table are let go while it is counted)."""
    fingerprint_update_arrow(digest, column)
    numbers.add(row_ids=row_ids, chars=pc.utf8_length(column).to_numpy(), tokens=approx_token_counts(column))


def narrowed(numbers: np.ndarray) -> np.ndarray:
    """Integers as int32 when every one fits (row ids, lengths and token counts of real data do): the per-row
    numbers a data set keeps in memory, 12 bytes a row instead of 24."""
    numbers = np.asarray(numbers)
    if numbers.dtype.kind != "i" or numbers.dtype.itemsize <= 4 or not _fits_int32(numbers):
        return numbers
    return numbers.astype(np.int32)


def _fits_int32(numbers: np.ndarray) -> bool:
    return not len(numbers) or (int(numbers.min()) >= -2**31 and int(numbers.max()) < 2**31)


def build_store(folder: Path, source: DataSource, text: TextSpec, options: LoadOptions, *,
                upload: bytes | None = None, progress: Progress | None = None) -> None:
    """Convert the data set into `folder`, a piece at a time, then rename it into place in one step."""
    stream = load_stream(source, text, options, upload=upload)
    write_store(folder, stream, lambda: {"origin": stream.origin, "recipe": stream.recipe.to_dict(),
                                         "text_field": stream.text_field, "text_template": stream.text_template,
                                         "warnings": stream.report.warnings, "notes": stream.notes},
                progress=progress)


def write_store(folder: Path, pieces: Iterable[LoadedPiece], describe: Callable[[], dict], *,
                progress: Progress | None = None) -> None:
    """Write `pieces` (kept rows with their texts) as a store in `folder`; `describe()`, asked once every piece
    is written, gives the manifest's origin, recipe, text field and template, warnings and notes."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.building-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        digest = hashlib.sha256()
        numbers = _RowNumbers(staging)
        segments = _Segments(staging)
        rows = text_bytes = 0
        text_field = None
        try:
            # The next piece is read and written while a worker counts this one (numpy lets both cores work):
            # at most two pieces in memory, counted in order.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zipfit-store-numbers") as worker:
                counting: Future | None = None
                for piece in pieces:
                    text_field = text_field or piece.text_field
                    batch = arrow_piece(piece, text_field, segments.schema)
                    segments.write(batch)
                    column = batch.column(text_field)
                    if counting is not None:
                        counting.result()
                    counting = worker.submit(_count_piece, digest, numbers, piece.row_ids, column)
                    rows += len(piece.texts)
                    text_bytes += column.nbytes
                    del piece, batch, column  # the next piece is read beside the text column being counted only
                    if progress is not None:
                        progress(rows, text_bytes)
                if counting is not None:
                    counting.result()
        finally:
            segments.close()
            numbers.close()
        if not segments.paths:
            raise ZipFitError("There are no rows to keep: give data with at least one example.")
        _join_segments(segments.paths, segments.schema, staging / ROWS_NAME)
        numbers.write(staging / NUMBERS_NAME)
        files = {name: (staging / name).stat().st_size for name in (ROWS_NAME, NUMBERS_NAME)}
        described = describe()
        write_json_atomic(staging / MANIFEST_NAME, {
            "format": STORE_FORMAT, "version": STORE_FORMAT_VERSION, "package_version": __version__,
            "created": now_iso(), **described, "warnings": list(described.get("warnings", [])),
            "rows": rows, "text_bytes": text_bytes, "fingerprint": digest.hexdigest(), "files": files})
        _move_into_place(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _join_segments(segments: list[Path], schema: pa.Schema, rows_file: Path) -> None:
    """The segments as one rows file in the last (widest) schema: renamed when there is one, else rewritten a
    batch at a time, earlier batches given the later columns as nulls."""
    if len(segments) == 1:
        os.replace(segments[0], rows_file)
        return
    with pa.OSFile(str(rows_file), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for segment in segments:
            with pa.memory_map(str(segment)) as source:
                reader = pa.ipc.open_file(source)
                for index in range(reader.num_record_batches):
                    writer.write_batch(widened(reader.get_batch(index), schema))
            segment.unlink()


def _move_into_place(staging: Path, folder: Path) -> None:
    """Rename the new store into place; a damaged store there goes first, a whole one (another process
    converted the same data meanwhile) is kept and ours dropped."""
    if folder.exists():
        if open_store(folder) is not None:
            return
        discarded = folder.parent / f".{folder.name}.damaged-{secrets.token_hex(4)}"
        os.rename(folder, discarded)
        shutil.rmtree(discarded, ignore_errors=True)
    try:
        os.rename(staging, folder)
    except OSError:
        if open_store(folder) is None:
            raise
