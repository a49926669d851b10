"""Reading local data into a DataFrame: files, folders, globs, `save_to_disk` folders and uploaded bytes.

Formats: JSONL / NDJSON, JSON, CSV, TSV, Parquet, Arrow (IPC file or stream, as datasets writes them,
and Feather), plain text (.txt: one document per file or per line); each optionally compressed
(.gz, .zst, .bz2, .xz). What is skipped or replaced goes into a `LoadReport`, with counts and line
numbers; what cannot be read raises `ZipFitError` with a message that says what to do.

Columnar files (Parquet, Arrow) are read with pyarrow and converted to pandas without turning the
strings into Python objects (pandas keeps them Arrow-backed), so the only Python copy of a text is
the one `loading` makes when it picks the text column.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import glob as globbing
import gzip
import io
import json
import lzma
import os
import re
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa

from .data_sources import LoadOptions, LoadReport, choose_split, labelled, numbered, plural
from .errors import ZipFitError

TABLE_FORMATS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
    ".parquet": "parquet", ".arrow": "arrow", ".feather": "arrow", ".txt": "txt",
}
COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2", ".xz": "xz"}
TEXT_FORMATS = ("jsonl", "json", "csv", "tsv", "txt")
SUPPORTED_NAMES = "JSONL, JSON, CSV, TSV, Parquet, Arrow/Feather or .txt (optionally .gz / .zst / .bz2 / .xz)"
FILE_COLUMN = "file"  # added when rows come from several files (a folder or a glob)
UPLOAD_EXPANSION_LIMIT = 20  # a compressed upload may decompress to at most this many times the upload limit
SNIFF_BYTES = 8192
PARQUET_BATCH_ROWS = 65_536

MAGIC_NUMBERS = (  # what a file really is, whatever its name says
    (b"\x1f\x8b", "gzip-compressed data", "add .gz to its name"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data", "add .zst to its name"),
    (b"BZh", "bzip2-compressed data", "add .bz2 to its name"),
    (b"\xfd7zXZ\x00", "xz-compressed data", "add .xz to its name"),
    (b"PAR1", "a Parquet file", "name it .parquet"),
    (b"ARROW1", "an Arrow file", "name it .arrow"),
    (b"PK\x03\x04", "a zip archive", "unpack it first"),
)
BYTE_ORDER_MARKS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
CSV_BAD_LINE = re.compile(r"Skipping line (\d+): (.*)")

# ---------------------------------------------------------------------------------------------------
# Decoding: replace undecodable bytes with U+FFFD and remember where they were.

_decoding = threading.local()
_REPLACE_AND_RECORD = "zipfit-replace-and-record"


def _replace_and_record(error: UnicodeDecodeError) -> tuple[str, int]:
    positions = getattr(_decoding, "positions", None)
    if positions is not None:
        positions.append(error.start)
    return "\ufffd", error.end


codecs.register_error(_REPLACE_AND_RECORD, _replace_and_record)


def decode_replacing(data: bytes, encoding: str = "utf-8") -> tuple[str, list[int]]:
    """Decode like errors='replace' (one U+FFFD per bad sequence) and return the bad sequences' byte offsets."""
    try:
        return data.decode(encoding), []
    except UnicodeDecodeError:
        pass
    _decoding.positions = []
    try:
        text = data.decode(encoding, _REPLACE_AND_RECORD)
        return text, _decoding.positions
    finally:
        _decoding.positions = None


def line_numbers_of(data: bytes, offsets: list[int]) -> list[int]:
    """1-based line numbers of byte offsets (offsets in increasing order)."""
    numbers, line, start = [], 1, 0
    for offset in offsets:
        line += data.count(b"\n", start, offset)
        start = offset
        if not numbers or numbers[-1] != line:
            numbers.append(line)
    return numbers


def report_replaced(report: LoadReport, display: str, count: int, lines: list[int]) -> None:
    if count:
        where = f" on {plural(len(lines), 'line')}: {numbered(lines)}" if lines else ""
        report.warn(
            f"{display}: replaced {plural(count, 'undecodable byte sequence')} with U+FFFD{where} "
            "(the file is not valid UTF-8; re-save it as UTF-8 if those texts look wrong)."
        )


# ---------------------------------------------------------------------------------------------------
# Names, compression and sniffing.


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


def _decompressing(raw: BinaryIO, compression: str | None) -> BinaryIO:
    if compression is None:
        return raw
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(reader)  # type: ignore[arg-type]
    if compression == "bz2":
        return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]
    return lzma.LZMAFile(raw, mode="rb")  # type: ignore[return-value]


class _BoundedReader(io.RawIOBase):
    """Refuses to yield more than `limit` bytes: guards against decompression bombs in uploads."""

    def __init__(self, inner: BinaryIO, limit: int, display: str) -> None:
        self.inner, self.limit, self.display, self.count = inner, limit, display, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise ZipFitError(
                f"{self.display} decompresses to more than {self.limit / 2**20:,.0f} MiB: "
                "too large to upload; put it in the data folder and load it by path."
            )
        buffer[: len(data)] = data
        return len(data)


def _decompression_error(display: str, compression: str, error: Exception) -> ZipFitError:
    return ZipFitError(
        f"{display} is not valid {compression} data ({type(error).__name__}: {error}): "
        "the file may be truncated or not compressed; check it, or rename it without the compression suffix."
    )


def _peek(stream: BinaryIO) -> bytes:
    peek = getattr(stream, "peek", None)
    if peek is None:
        return b""
    return peek(SNIFF_BYTES)[:SNIFF_BYTES]


def _text_encoding(head: bytes, display: str, fmt: str) -> str:
    """utf-8 unless a byte-order mark says otherwise; binary data is refused with a hint."""
    for mark, encoding in BYTE_ORDER_MARKS:
        if head.startswith(mark):
            return encoding
    for magic, what, hint in MAGIC_NUMBERS:
        if head.startswith(magic):
            raise ZipFitError(f"{display} is {what}, not {fmt.upper()} text: {hint}.")
    if b"\x00" in head:
        raise ZipFitError(
            f"{display} looks like binary data, not {fmt.upper()} text (it contains NUL bytes): "
            "check that it is the file you meant and that its name matches its format."
        )
    return "utf-8"


# ---------------------------------------------------------------------------------------------------
# Text formats.


def _lines(stream: BinaryIO, encoding: str, display: str, report: LoadReport) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line) pairs; undecodable bytes are replaced and reported."""
    count, bad_lines = 0, []
    try:
        if encoding == "utf-8" or encoding == "utf-8-sig":
            for number, raw in enumerate(stream, start=1):
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                line, offsets = decode_replacing(raw)
                if offsets:
                    count += len(offsets)
                    bad_lines.append(number)
                yield number, line
        else:  # UTF-16/32 files are rare: decode them as a whole stream
            text, offsets = decode_replacing(stream.read(), encoding)
            count += len(offsets)
            yield from enumerate(io.StringIO(text, newline=None), start=1)
    finally:
        report_replaced(report, display, count, bad_lines)


def _read_text_all(stream: BinaryIO, encoding: str, display: str, report: LoadReport) -> str:
    data = stream.read()
    text, offsets = decode_replacing(data, "utf-8" if encoding == "utf-8-sig" else encoding)
    if encoding in ("utf-8", "utf-8-sig"):
        report_replaced(report, display, len(offsets), line_numbers_of(data, offsets))
        text = text.removeprefix("\ufeff")
    else:
        report_replaced(report, display, len(offsets), [])
    return text


def _malformed(display: str, number: int, reason: str, options: LoadOptions, unit: str = "line") -> None:
    if options.on_bad_line == "stop":
        raise ZipFitError(
            f"{display}, {unit} {number}: {reason}. Fix or remove that {unit}, "
            "or skip malformed lines (--on-bad-line skip)."
        )


def _report_malformed(report: LoadReport, display: str, bad: list[tuple[int, str]], unit: str = "line") -> None:
    if bad:
        numbers = [number for number, _reason in bad]
        first_number, first_reason = bad[0]
        report.warn(
            f"{display}: skipped {plural(len(bad), f'malformed {unit}')}: {labelled(unit, numbers)} "
            f"({unit} {first_number}: {first_reason})."
        )


def _records_frame(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records) if records else pd.DataFrame()


def _read_jsonl_lines(lines: Iterator[tuple[int, str]], display: str, options: LoadOptions, report: LoadReport,
                      max_rows: int | None) -> pd.DataFrame:
    records: list[dict] = []
    bad: list[tuple[int, str]] = []
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            reason = f"not valid JSON ({error.msg})"
        else:
            if isinstance(record, dict):
                records.append(record)
                if max_rows is not None and len(records) >= max_rows:
                    break
                continue
            reason = f"a JSON {type(record).__name__}, not an object with fields"
        _malformed(display, number, reason, options)
        bad.append((number, reason))
    _report_malformed(report, display, bad)
    return _records_frame(records)


def _read_json(text: str, display: str, options: LoadOptions, report: LoadReport,
               max_rows: int | None) -> pd.DataFrame:
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data":  # many `.json` files are really JSON lines
            lines = enumerate(io.StringIO(text), start=1)
            return _read_jsonl_lines(lines, display, options, report, max_rows)
        raise ZipFitError(
            f"{display}, line {error.lineno}: malformed JSON ({error.msg}). Fix the file, or save it as JSONL "
            "(one object per line) so that bad lines can be skipped."
        ) from None
    if isinstance(content, dict):
        lists = [value for value in content.values() if isinstance(value, list)]
        if len(lists) == 1 and lists[0] and all(isinstance(item, dict) for item in lists[0]):
            content = lists[0]  # {"data": [records]}
        elif content and all(isinstance(value, dict) for value in content.values()):
            content = [{"key": key, **value} for key, value in content.items()]  # {id: record}
        else:
            try:
                frame = pd.DataFrame(content)  # column-oriented {"col": [...]}
            except ValueError:
                raise ZipFitError(
                    f"{display}: a JSON object must hold a list of records, records by key, or equal-length "
                    "columns. Save the data as a list of objects or as JSONL."
                ) from None
            return frame.head(max_rows) if max_rows is not None else frame
    if not isinstance(content, list):
        raise ZipFitError(f"{display}: expected a JSON list of objects (records), got a {type(content).__name__}.")
    records, bad = [], []
    for index, item in enumerate(content):
        if isinstance(item, dict):
            records.append(item)
            if max_rows is not None and len(records) >= max_rows:
                break
        else:
            reason = f"a JSON {type(item).__name__}, not an object with fields"
            _malformed(display, index, reason, options, unit="item")
            bad.append((index, reason))
    _report_malformed(report, display, bad, unit="item")
    return _records_frame(records)


def _read_csv(text: str, separator: str, display: str, options: LoadOptions, report: LoadReport,
              max_rows: int | None) -> pd.DataFrame:
    if not text.strip():
        return pd.DataFrame()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(
                io.StringIO(text), sep=separator, dtype=str, keep_default_na=False, engine="c",
                on_bad_lines="error" if options.on_bad_line == "stop" else "warn", nrows=max_rows,
            )
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
        except pd.errors.ParserError as error:
            detail = str(error).replace("Error tokenizing data. C error: ", "")
            raise ZipFitError(
                f"{display} is not valid {'TSV' if separator == chr(9) else 'CSV'} ({detail.strip()}). "
                "Fix that line, or skip malformed lines (--on-bad-line skip)."
            ) from None
    bad = []
    for warning in caught:
        for number, reason in CSV_BAD_LINE.findall(str(warning.message)):
            bad.append((int(number), reason))
    if bad:
        _report_malformed(report, f"{display} (lines as counted by the CSV reader, header = line 1)", bad)
    return frame


def _read_txt(stream: BinaryIO, encoding: str, display: str, options: LoadOptions, report: LoadReport,
              max_rows: int | None) -> pd.DataFrame:
    if options.plain_text_unit == "file":
        text = _read_text_all(stream, encoding, display, report)
        return pd.DataFrame({"text": [text]}) if text else pd.DataFrame()
    texts, numbers = [], []
    with contextlib.closing(_lines(stream, encoding, display, report)) as lines:  # reports at close
        for number, line in lines:
            line = line.rstrip("\r\n")
            if line.strip():
                texts.append(line)
                numbers.append(number)
                if max_rows is not None and len(texts) >= max_rows:
                    break
    return pd.DataFrame({"text": texts, "line": numbers}) if texts else pd.DataFrame()


def _read_text_format(fmt: str, stream: BinaryIO, display: str, options: LoadOptions, report: LoadReport,
                      max_rows: int | None) -> pd.DataFrame:
    encoding = _text_encoding(_peek(stream), display, fmt)
    if fmt == "jsonl":
        with contextlib.closing(_lines(stream, encoding, display, report)) as lines:  # reports at close
            return _read_jsonl_lines(lines, display, options, report, max_rows)
    if fmt == "txt":
        return _read_txt(stream, encoding, display, options, report, max_rows)
    text = _read_text_all(stream, encoding, display, report)
    if fmt == "json":
        return _read_json(text, display, options, report, max_rows)
    return _read_csv(text, "\t" if fmt == "tsv" else ",", display, options, report, max_rows)


# ---------------------------------------------------------------------------------------------------
# Columnar formats.


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
    import pyarrow.parquet as pq

    try:
        # Batch by batch: decoding a whole row group at once needs about three times the table's size.
        batches, count = [], 0
        parquet = pq.ParquetFile(source)
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS if max_rows is None
                                          else min(max_rows, PARQUET_BATCH_ROWS)):
            batches.append(batch)
            count += batch.num_rows
            if max_rows is not None and count >= max_rows:
                break
        table = pa.Table.from_batches(batches, schema=parquet.schema_arrow)
        return table.slice(0, max_rows) if max_rows is not None else table
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


# ---------------------------------------------------------------------------------------------------
# One file, uploaded bytes.


def read_file(path: Path, options: LoadOptions, report: LoadReport, max_rows: int | None = None,
              display: str | None = None) -> pd.DataFrame:
    """Read one local file (format from its name); may return an empty frame."""
    display = display or str(path)
    fmt, compression = format_of(path.name)
    if fmt is None:
        raise _unsupported(display, path.name)
    if fmt in ("parquet", "arrow") and compression is None:
        source = pa.memory_map(str(path), "r") if fmt == "arrow" else str(path)
        return _read_columnar(fmt, source, display, max_rows)
    try:
        raw = open(path, "rb")
    except OSError as error:
        raise ZipFitError(f"Could not open {display} ({error.strerror or error}): check its permissions.") from None
    with raw:
        return _read_stream(fmt, compression, raw, display, options, report, max_rows)


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
    return _read_stream(fmt, compression, io.BytesIO(data), display, options, report, max_rows,
                        expanded_limit=options.max_upload_bytes * UPLOAD_EXPANSION_LIMIT)


def _read_stream(fmt: str, compression: str | None, raw: BinaryIO, display: str, options: LoadOptions,
                 report: LoadReport, max_rows: int | None, expanded_limit: int | None = None) -> pd.DataFrame:
    try:
        with contextlib.ExitStack() as stack:
            stream = _decompressing(raw, compression)
            if compression is not None:
                stack.callback(stream.close)
            if expanded_limit is not None:
                stream = io.BufferedReader(_BoundedReader(stream, expanded_limit, display))
            elif not hasattr(stream, "peek"):
                stream = io.BufferedReader(stream)  # type: ignore[arg-type]
            if fmt in TEXT_FORMATS:
                return _read_text_format(fmt, stream, display, options, report, max_rows)
            return _read_columnar(fmt, pa.BufferReader(stream.read()), display, max_rows)
    except ZipFitError:
        raise
    except (OSError, EOFError, lzma.LZMAError, ValueError) as error:
        if compression is None:
            raise ZipFitError(f"Could not read {display} ({type(error).__name__}: {error}).") from None
        raise _decompression_error(display, compression, error) from None
    except Exception as error:
        if compression == "zstd" and type(error).__name__ == "ZstdError":
            raise _decompression_error(display, compression, error) from None
        raise


# ---------------------------------------------------------------------------------------------------
# Paths: the data root, folders, globs, save_to_disk folders.


def is_glob(location: str) -> bool:
    return any(character in location for character in "*?[")


def resolve_in_root(location: str | Path, data_root: Path | None) -> Path:
    """The path to read; with a data root, relative paths start there and nothing may resolve outside it."""
    path = Path(location).expanduser()
    if data_root is None:
        return path
    root = Path(data_root).expanduser().resolve()
    if not path.is_absolute():
        path = root / path
    check_inside_root(path, root, shown=str(location))
    return path


def check_inside_root(path: Path, root: Path, shown: str | None = None) -> None:
    resolved = path.resolve()  # follows symlinks and removes `..`
    if resolved != root and not resolved.is_relative_to(root):
        raise ZipFitError(
            f"{shown or path} is outside the data folder {root}: only files inside it can be read "
            "(paths with .. or links that lead outside are refused). Copy the data into that folder."
        )


def is_saved_dataset(folder: Path) -> bool:
    """A folder written by datasets' `save_to_disk` (a Dataset or a DatasetDict)."""
    return (folder / "dataset_dict.json").is_file() or (
        (folder / "state.json").is_file() and (folder / "dataset_info.json").is_file()
    )


def folder_files(folder: Path) -> list[Path]:
    """Every file below `folder` in sorted order, hidden files and folders left out."""
    found = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        found.extend(Path(directory) / name for name in files if not name.startswith("."))
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def read_files(paths: list[Path], base: Path, display: str, options: LoadOptions, report: LoadReport,
               max_rows: int | None, data_root: Path | None) -> pd.DataFrame:
    """Read several files into one frame with a `file` column (path relative to `base`)."""
    frames, unsupported, empty = [], [], []
    remaining = max_rows
    for path in paths:
        if data_root is not None:
            check_inside_root(path, data_root)
        relative = path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)
        if format_of(path.name)[0] is None:
            unsupported.append(relative)
            continue
        frame = read_file(path, options, report, remaining, display=f"{display}: {relative}")
        if len(frame) == 0:
            empty.append(relative)
            continue
        column = next((name for name in (FILE_COLUMN, "source_file") if name not in frame.columns), None)
        if column is not None:
            frame.insert(0, column, relative)
        frames.append(frame)
        if remaining is not None:
            remaining -= len(frame)
            if remaining <= 0:
                break
    if unsupported:
        report.warn(f"{display}: ignored {plural(len(unsupported), 'file')} of unsupported type: "
                    f"{', '.join(unsupported[:10])}{', ...' if len(unsupported) > 10 else ''}.")
    if empty:
        report.warn(f"{display}: {plural(len(empty), 'file')} had no rows: {', '.join(empty[:10])}.")
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_saved_dataset(folder: Path, split: str | None, display: str, report: LoadReport,
                       max_rows: int | None) -> pd.DataFrame:
    """A `save_to_disk` folder, memory-mapped; a DatasetDict needs a split (or has only one)."""
    from datasets import DatasetDict, load_from_disk

    try:
        dataset = load_from_disk(str(folder))
    except Exception as error:
        raise ZipFitError(f"{display} looks like a save_to_disk folder but could not be read ({error}).") from None
    if isinstance(dataset, DatasetDict):
        chosen = choose_split(list(dataset), split, display, report)
        dataset = dataset[chosen]
    elif split is not None:
        report.warn(f"{display} holds a single dataset (no splits): the split {split!r} was ignored.")
    if getattr(dataset, "_indices", None) is not None:
        dataset = dataset.flatten_indices()
    table = dataset.data.table
    return arrow_to_frame(table.slice(0, max_rows) if max_rows is not None else table)


def read_local(location: str, split: str | None, options: LoadOptions, report: LoadReport,
               max_rows: int | None) -> pd.DataFrame:
    """A local file, folder, glob pattern or save_to_disk folder; raises if it holds no rows."""
    root = Path(options.data_root).expanduser().resolve() if options.data_root is not None else None
    path = resolve_in_root(location, options.data_root)
    display = str(location)
    if path.is_file():
        frame = read_file(path, options, report, max_rows, display=display)
    elif path.is_dir():
        if is_saved_dataset(path):
            frame = read_saved_dataset(path, split, display, report, max_rows)
        else:
            files = folder_files(path)
            if not files:
                raise ZipFitError(f"The folder {display} is empty: put data files ({SUPPORTED_NAMES}) in it.")
            frame = read_files(files, path, display, options, report, max_rows, root)
            if len(frame) == 0 and not any(format_of(file.name)[0] for file in files):
                raise ZipFitError(f"The folder {display} holds no data files: use {SUPPORTED_NAMES}.")
    elif is_glob(str(location)):
        pattern = str(path)
        matches = sorted(Path(match) for match in globbing.glob(pattern, recursive=True) if Path(match).is_file())
        if not matches:
            raise ZipFitError(f"No file matches the pattern {display}: check the folder and the pattern.")
        base = Path(os.path.commonpath([str(match.parent) for match in matches]))
        frame = read_files(matches, base, display, options, report, max_rows, root)
    else:
        raise ZipFitError(
            f"File not found: {display}. Check the path"
            + (f" (relative paths start in the data folder {root})" if root else "")
            + "; for a Hugging Face dataset write hub:NAME."
        )
    if len(frame) == 0:
        raise empty_rows_error(display, report)
    return frame


def empty_rows_error(display: str, report: LoadReport) -> ZipFitError:
    also = f" ({' '.join(report.warnings)})" if report.warnings else ""
    return ZipFitError(f"{display} contains no rows{also}: give data with at least one example.")
