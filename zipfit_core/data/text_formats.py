"""The text formats: JSONL, JSON, CSV / TSV and .txt, decoded with undecodable bytes replaced and counted.

The encoding comes from a byte order mark (UTF-8 otherwise); a binary file with a text name (gzip, Parquet,
zip ...) is recognised by its first bytes and refused with what to do. Malformed lines and rows are skipped
and reported with their line numbers (`on_bad_line='skip'`), or stop the read with the first one.
What is skipped or replaced goes into a `LoadReport`.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import re
import threading
import warnings
from collections.abc import Iterator
from typing import BinaryIO

import pandas as pd

from zipfit_core.data.sources import LoadOptions, LoadReport, labelled, numbered, plural
from zipfit_core.errors import ZipFitError

SNIFF_BYTES = 8192
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
            "or skip malformed lines (`on_bad_line='skip'`)."
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
                "Fix that line, or skip malformed lines (`on_bad_line='skip'`)."
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


def read_text_format(fmt: str, stream: BinaryIO, display: str, options: LoadOptions, report: LoadReport,
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
