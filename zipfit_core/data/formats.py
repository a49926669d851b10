"""What a file is and how to read one into a DataFrame: its format and compression from its name (and its
first bytes), columnar formats (Parquet, Arrow IPC file or stream, Feather), and uploaded bytes.

Formats: JSONL / NDJSON, JSON, CSV, TSV (`text_formats.py`), Parquet, Arrow, plain text (.txt: one document per
file or per line); each optionally compressed (.gz, .zst, .bz2, .xz, .lz4: fsspec's codecs, which the shard reader
in engines/shards.py opens through `decompressed` too). A compressed file may expand to at most
`max_expansion` times its size (64 MiB at least), an upload to at most 20 times the upload limit: the bound
is checked while decompressing, so a decompression bomb stops early. Columnar files are read with pyarrow and
converted to pandas without turning the strings into Python objects (pandas keeps them Arrow-backed), so the
only Python copy of a text is the one `texts.py` makes when it takes the text column.
"""

from __future__ import annotations

import contextlib
import io
import lzma
import mmap
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa

from zipfit_core.data.data_root import open_inside_root, root_path
from zipfit_core.data.sources import LoadOptions, LoadReport
from zipfit_core.data.text_formats import text_format_pieces
from zipfit_core.errors import ZipFitError

TABLE_FORMATS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
    ".parquet": "parquet", ".arrow": "arrow", ".feather": "arrow", ".txt": "txt",
}


# Suffix -> fsspec codec name (fsspec.compression.compr); fsspec's own suffix table lacks .gzip and .zstd.
COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2", ".xz": "xz",
                ".lz4": "lz4"}
TEXT_FORMATS = ("jsonl", "json", "csv", "tsv", "txt")
SUPPORTED_NAMES = "JSONL, JSON, CSV, TSV, Parquet, Arrow/Feather or .txt (optionally .gz / .zst / .bz2 / .xz / .lz4)"
FILE_COLUMN = "file"  # added when rows come from several files (a folder or a glob)
UPLOAD_EXPANSION_LIMIT = 20  # a compressed upload may decompress to at most this many times the upload limit
EXPANSION_FLOOR_BYTES = 64 * 2**20  # small compressed files may always expand this far (`max_expansion` aside)
READ_BUFFER_BYTES = 2**20
PARQUET_BATCH_ROWS = 65_536
PIECE_ROWS = 50_000  # rows of a big file read at a time when it is converted to the data store


def format_of(name: str) -> tuple[str | None, str | None]:
    """(format, compression) from a file name such as `train.jsonl.gz`; format None if unsupported."""
    suffixes = [suffix.lower() for suffix in Path(name).suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    return (TABLE_FORMATS.get(suffixes[-1]) if suffixes else None), compression


def _unsupported(display: str, name: str) -> ZipFitError:
    suffix = "".join(Path(name).suffixes) or "(none)"
    return ZipFitError(f"Unsupported file type {suffix} for {display}: use {SUPPORTED_NAMES}.")


def _decompressing(raw: BinaryIO, compression: str) -> BinaryIO:
    """`raw`'s bytes decompressed by fsspec's codec for `compression` (a COMPRESSIONS value)."""
    from fsspec.compression import compr

    opener = compr.get(compression)
    if opener is None:  # fsspec registers a codec only when its package imports
        raise ZipFitError(f"Reading {compression}-compressed files needs the {compression} package: "
                          f"`pip install {compression}`, or decompress the file first.")
    return opener(raw, mode="rb")


@contextlib.contextmanager
def decompressed(raw: BinaryIO, compression: str | None, display: str, limit: int | None = None,
                 refusal: str = "") -> Iterator[io.BufferedReader]:
    """`raw` read through `_BoundedReader` (decompressed when `compression` is set): read and decompression
    errors become ZipFitErrors naming `display`, and more than `limit` bytes raise `refusal`."""
    with contextlib.ExitStack() as stack:
        inner = _decompressing(raw, compression) if compression is not None else raw
        if compression is not None:
            stack.callback(inner.close)
        reader = _BoundedReader(inner, display, compression, limit, refusal)
        yield io.BufferedReader(reader, buffer_size=READ_BUFFER_BYTES)


class _BoundedReader(io.RawIOBase):
    """A file's (decompressed) bytes: refuses to yield more than `limit` bytes (decompression bombs), and reports
    the errors of reading or decompressing as the file's, so that what fails later, while parsing, is never
    blamed on the compression."""

    def __init__(self, inner: BinaryIO, display: str, compression: str | None, limit: int | None = None,
                 refusal: str = "") -> None:
        self.inner, self.display, self.compression = inner, display, compression
        self.limit, self.refusal, self.count = limit, refusal, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        return self._counted(self._reading(self.inner.readinto, buffer) or 0)  # type: ignore[attr-defined]

    def readall(self) -> bytes:
        if self.limit is None:  # nothing to count against: one read, as fast as the file allows
            return self._reading(self.inner.read)
        chunks = []  # in large pieces: RawIOBase.readall would call readinto every 8 KiB
        while chunk := self._reading(self.inner.read, READ_BUFFER_BYTES):
            chunks.append(chunk)
            self._counted(len(chunk))
        return b"".join(chunks)

    def _reading(self, read: Callable[..., Any], *args: object) -> Any:
        try:
            return read(*args)
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as error:
            raise self._read_error(error) from None
        except Exception as error:
            # The codecs' own types (zstandard, isal through fsspec's gzip, lz4's RuntimeError), imported lazily.
            if type(error).__name__ in ("ZstdError", "IsalError") or isinstance(error, RuntimeError):
                raise self._read_error(error) from None
            raise

    def _counted(self, size: int) -> int:
        self.count += size
        if self.limit is not None and self.count > self.limit:
            raise ZipFitError(self.refusal)
        return size

    def _read_error(self, error: Exception) -> ZipFitError:
        if self.compression is None:
            return ZipFitError(f"Could not read {self.display} ({type(error).__name__}: {error}).")
        return ZipFitError(
            f"{self.display} is not valid {self.compression} data ({type(error).__name__}: {error}): the file "
            "may be truncated or not compressed; check it, or rename it without the compression suffix."
        )


def expansion_limit(compressed_bytes: int, max_expansion: float | None) -> int | None:
    """How many bytes a compressed file of `compressed_bytes` may decompress to (None: no bound)."""
    if max_expansion is None:
        return None
    return max(int(max_expansion * compressed_bytes), EXPANSION_FLOOR_BYTES)


def _expansion_bound(display: str, compressed_bytes: int, options: LoadOptions) -> tuple[int | None, str]:
    """`max_expansion`'s bound on a compressed file, and the message that refuses it."""
    limit = expansion_limit(compressed_bytes, options.max_expansion)
    if limit is None:
        return None, ""
    return limit, (
        f"{display} decompresses to more than {limit / 2**20:,.0f} MiB from {compressed_bytes / 2**20:,.1f} MiB "
        f"(a compressed file may expand {options.max_expansion:g} times, or to "
        f"{EXPANSION_FLOOR_BYTES // 2**20} MiB): it may be a decompression bomb, so reading stopped. "
        "If the file is genuine, raise `max_expansion`."
    )


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """A DataFrame over an Arrow table; strings stay Arrow-backed (no Python objects per text)."""
    frame = table.to_pandas(split_blocks=True)
    if not isinstance(frame.index, pd.RangeIndex):  # a pandas index saved in the file is data: keep it
        frame = frame.reset_index()
    # Decoding left freed buffers in Arrow's pool (mimalloc keeps them): give them back before the
    # texts become Python strings, which the pool cannot serve.
    pa.default_memory_pool().release_unused()
    return frame


def _read_parquet(source, display: str, max_rows: int | None) -> pa.Table:
    return next(_parquet_tables(source, display, max_rows, piece_rows=None))


def _parquet_tables(source, display: str, max_rows: int | None, piece_rows: int | None) -> Iterator[pa.Table]:
    """A Parquet file's rows as tables of about `piece_rows` rows (one table when None; the last may be empty),
    batch by batch: decoding a whole row group at once needs about three times the table's size."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source)
        size = min(PARQUET_BATCH_ROWS, piece_rows or PARQUET_BATCH_ROWS, max_rows or PARQUET_BATCH_ROWS)
        batches, count, read = [], 0, 0
        for batch in parquet.iter_batches(batch_size=size):
            if max_rows is not None and read + batch.num_rows > max_rows:
                batch = batch.slice(0, max_rows - read)
            batches.append(batch)
            count += batch.num_rows
            read += batch.num_rows
            finished = max_rows is not None and read >= max_rows
            if finished or (piece_rows is not None and count >= piece_rows):
                yield pa.Table.from_batches(batches, schema=parquet.schema_arrow)
                batches, count = [], 0
                if finished:
                    return
        yield pa.Table.from_batches(batches, schema=parquet.schema_arrow)
    except ZipFitError:
        raise
    except Exception as error:  # pyarrow raises several types for damaged files
        raise ZipFitError(
            f"{display} is not a readable Parquet file ({type(error).__name__}: {error}). "
            "Check the file, or export it again."
        ) from None


def _read_arrow(source, display: str, max_rows: int | None) -> pa.Table:
    """Arrow IPC file (Feather v2), IPC stream (datasets' .arrow files) or Feather v1."""
    import pyarrow.feather as feather

    errors = []
    for reader in (lambda: pa.ipc.open_file(source).read_all(), lambda: pa.ipc.open_stream(source).read_all(),
                   lambda: feather.read_table(source)):
        try:
            if hasattr(source, "seek"):
                source.seek(0)
            table = reader()
            return table.slice(0, max_rows) if max_rows is not None else table
        except Exception as error:  # try the next layout
            errors.append(f"{type(error).__name__}: {error}")
    raise ZipFitError(
        f"{display} is not a readable Arrow or Feather file ({errors[0]}). Check the file, or export it again."
    )


def _read_columnar(fmt: str, source, display: str, max_rows: int | None) -> pd.DataFrame:
    table = _read_parquet(source, display, max_rows) if fmt == "parquet" else _read_arrow(source, display, max_rows)
    return arrow_to_frame(table)


def read_file(path: Path, options: LoadOptions, report: LoadReport, max_rows: int | None = None,
              display: str | None = None) -> pd.DataFrame:
    """Read one local file (format from its name); may return an empty frame. With a data root it is opened by
    `open_inside_root` (verified on the open descriptor: inside the root, a regular file)."""
    return next(file_pieces(path, options, report, max_rows, display, piece_rows=None))


def file_pieces(path: Path, options: LoadOptions, report: LoadReport, max_rows: int | None = None,
                display: str | None = None, piece_rows: int | None = -1) -> Iterator[pd.DataFrame]:
    """`read_file`, a piece of about `piece_rows` rows at a time (-1: PIECE_ROWS as it is when called) for JSONL,
    long CSV / TSV, .txt lines, Parquet and Arrow files (a file of any size is converted in bounded memory); a JSON
    file in one piece. The last piece may be empty."""
    display = display or str(path)
    piece_rows = PIECE_ROWS if piece_rows == -1 else piece_rows
    fmt, compression = format_of(path.name)
    if fmt is None:
        raise _unsupported(display, path.name)
    with open_inside_root(path, root_path(options.data_root), display) as raw:  # unbuffered: readers buffer
        if fmt in ("parquet", "arrow") and compression is None:
            yield from _columnar_pieces(fmt, _mapped(raw), display, max_rows, piece_rows)
            return
        size = os.fstat(raw.fileno()).st_size
        limit, refusal = _expansion_bound(display, size, options) if compression is not None else (None, "")
        yield from _stream_pieces(fmt, compression, raw, display, options, report, max_rows, limit, refusal,
                                  piece_rows)


def _columnar_pieces(fmt: str, source, display: str, max_rows: int | None,
                     piece_rows: int | None) -> Iterator[pd.DataFrame]:
    if piece_rows is None:
        yield _read_columnar(fmt, source, display, max_rows)
        return
    if fmt == "arrow":  # memory-mapped: slicing copies nothing
        table = _read_arrow(source, display, max_rows)
        for start in range(0, max(table.num_rows, 1), piece_rows):
            yield arrow_to_frame(table.slice(start, piece_rows))
        return
    for table in _parquet_tables(source, display, max_rows, piece_rows):
        yield arrow_to_frame(table)


def _mapped(raw: BinaryIO) -> pa.BufferReader:
    """The open file's bytes memory-mapped (not copied); the map outlives the file object, as Arrow needs."""
    try:
        return pa.BufferReader(pa.py_buffer(mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ)))
    except ValueError:  # an empty file cannot be mapped
        return pa.BufferReader(b"")


def read_upload(name: str, data: bytes, options: LoadOptions, report: LoadReport,
                max_rows: int | None = None) -> pd.DataFrame:
    """Read bytes uploaded through the browser; the format comes from the file name."""
    display = f"upload {name}"
    if len(data) > options.max_upload_bytes:
        raise ZipFitError(
            f"{display} is {len(data) / 2**20:,.1f} MiB, above the upload limit of "
            f"{options.max_upload_bytes / 2**20:,.0f} MiB: put the file in the data folder and load it by path."
        )
    fmt, compression = format_of(name)
    if fmt is None:
        raise _unsupported(display, name)
    limit = options.max_upload_bytes * UPLOAD_EXPANSION_LIMIT
    refusal = (f"{display} decompresses to more than {limit / 2**20:,.0f} MiB: "
               "too large to upload; put it in the data folder and load it by path.")
    expansion, expansion_refusal = _expansion_bound(display, len(data), options)
    if expansion is not None and expansion < limit:  # the tighter bound speaks
        limit, refusal = expansion, expansion_refusal
    return _read_stream(fmt, compression, io.BytesIO(data), display, options, report, max_rows,
                        limit if compression is not None else None, refusal)


def _read_stream(fmt: str, compression: str | None, raw: BinaryIO, display: str, options: LoadOptions,
                 report: LoadReport, max_rows: int | None, expanded_limit: int | None = None,
                 refusal: str = "") -> pd.DataFrame:
    return next(_stream_pieces(fmt, compression, raw, display, options, report, max_rows, expanded_limit, refusal,
                               piece_rows=None))


def _stream_pieces(fmt: str, compression: str | None, raw: BinaryIO, display: str, options: LoadOptions,
                   report: LoadReport, max_rows: int | None, expanded_limit: int | None, refusal: str,
                   piece_rows: int | None) -> Iterator[pd.DataFrame]:
    """Read a file's bytes through `_BoundedReader`: read and decompression errors, and the expansion bound,
    are reported there; anything raised while parsing is the parser's. JSONL comes in pieces of `piece_rows`."""
    with decompressed(raw, compression, display, expanded_limit, refusal) as stream:
        if fmt in TEXT_FORMATS:
            yield from text_format_pieces(fmt, stream, display, options, report, max_rows, piece_rows)
        else:
            yield _read_columnar(fmt, pa.BufferReader(stream.read()), display, max_rows)
