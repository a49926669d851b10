"""The text formats: JSONL, JSON, CSV / TSV and .txt, from the decoded lines `text_lines.py` gives.

Malformed lines and rows are skipped and reported with their line numbers (`on_bad_line='skip'`), or stop the
read with the first one; a JSON value Python cannot hold as text (nested too deeply, a lone surrogate) is a
malformed line too. What is skipped goes into a `LoadReport`.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import re
import sys
import warnings
from collections.abc import Iterator
from typing import BinaryIO

import pandas as pd

from zipfit_core.data.sources import LoadOptions, LoadReport, labelled, plural, too_many_columns
from zipfit_core.data.text_lines import DecodedText, decoded_lines, peek_head, read_all_text, text_encoding
from zipfit_core.errors import ZipFitError

CSV_WHOLE_CHARS = 64 << 20  # a CSV up to this long is read whole (an unclosed quote's exact line); longer: in pieces
CSV_HEADER_MAX_CHARS = 256 << 20  # a header line longer than this is not looked for further (its width is checked)
MAX_JSON_DEPTH = 200  # deeper JSON values are malformed rows: Python code that walks them would hit its recursion limit
CSV_BAD_LINE = re.compile(r"Skipping line (\d+): (.*)")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # how JSON writes half of a UTF-16 surrogate pair
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")  # what json.loads makes of a half that has no other half
TOO_DEEP = f"a value nested more than {MAX_JSON_DEPTH} levels deep"
HAS_LONE_SURROGATE = "a string with a lone surrogate escape (\\ud800 ... \\udfff without its pair), which is not text"


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


class _RecordColumns:
    """JSON objects kept as one list per field: a dict per row costs about four times the memory of its values."""

    def __init__(self, display: str, options: LoadOptions) -> None:
        self.columns: dict[str, list] = {}
        self.count = 0
        self.display, self.options = display, options

    def add(self, record: dict) -> None:
        for name, value in record.items():
            column = self.columns.get(name)
            if column is None:  # a field first seen here: the rows before lack it
                if len(self.columns) >= self.options.max_columns:  # each field costs a list as long as the rows
                    raise too_many_columns(self.display, f"over {self.options.max_columns:,}", self.options)
                column = self.columns[name] = [None] * self.count
            column.append(value)
        self.count += 1
        if len(record) < len(self.columns):
            for column in self.columns.values():
                if len(column) < self.count:
                    column.append(None)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns) if self.count else pd.DataFrame()


def json_value_problem(value: object) -> str | None:
    """Why a parsed JSON value cannot be a row's data, or None: nested deeper than MAX_JSON_DEPTH, or holding a
    string (or key) with a lone surrogate. Walked with a list, not recursion."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if LONE_SURROGATE.search(item):
                return HAS_LONE_SURROGATE
        elif isinstance(item, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                return TOO_DEEP
            children = [*item, *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return None


def _number_problem(error: ValueError) -> str:
    """A JSON number Python will not convert: an integer longer than its limit on digits."""
    if "digits" not in str(error):
        raise error  # not the digit limit: no other ValueError is expected from the JSON parser
    return f"an integer of more than {sys.get_int_max_str_digits():,} digits, longer than Python reads"


def _may_have_problem(text: str) -> bool:
    """Whether `json_value_problem` could find anything in the value `text` holds: enough brackets to nest that
    deep, or a surrogate escape. A cheap test, so that the walk is rare."""
    return (text.count("[") + text.count("{") > MAX_JSON_DEPTH
            or ("\\" in text and SURROGATE_ESCAPE.search(text) is not None))  # `in`: memchr, before the regex


def _read_jsonl_lines(lines: Iterator[tuple[int, str]], display: str, options: LoadOptions, report: LoadReport,
                      max_rows: int | None) -> pd.DataFrame:
    return next(_jsonl_pieces(lines, display, options, report, max_rows, piece_rows=None))


def _jsonl_pieces(lines: Iterator[tuple[int, str]], display: str, options: LoadOptions, report: LoadReport,
                  max_rows: int | None, piece_rows: int | None) -> Iterator[pd.DataFrame]:
    """The file's records as frames of `piece_rows` rows (one frame when None; the last may be empty)."""
    records = _RecordColumns(display, options)
    bad: list[tuple[int, str]] = []
    kept = 0
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            reason: str | None = f"not valid JSON ({error.msg})"
        except RecursionError:
            reason = TOO_DEEP
        except ValueError as error:  # Python refuses integers of over 4,300 digits (int_max_str_digits)
            reason = _number_problem(error)
        else:  # json.loads accepts a lone "\\ud800" and ~1,000 levels of nesting; what comes after cannot
            reason = json_value_problem(record) if _may_have_problem(line) else None
            if reason is None and isinstance(record, dict):
                records.add(record)
                kept += 1
                if max_rows is not None and kept >= max_rows:
                    break
                if piece_rows is not None and records.count >= piece_rows:
                    yield records.frame()
                    records = _RecordColumns(display, options)
                continue
            reason = reason or f"a JSON {type(record).__name__}, not an object with fields"
        _malformed(display, number, reason, options)
        bad.append((number, reason))
    _report_malformed(report, display, bad)
    yield records.frame()


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
    except ValueError as error:
        raise ZipFitError(
            f"{display} holds {_number_problem(error)}, and a JSON document is read whole. Write that number as a "
            "string, or save the data as JSONL (one object per line) so that its line can be skipped."
        ) from None
    except RecursionError:
        raise ZipFitError(
            f"{display} holds {TOO_DEEP}, and a JSON document is read whole. Flatten that value, or save the data "
            "as JSONL (one object per line) so that its line can be skipped."
        ) from None
    check_values = _may_have_problem(text)
    if isinstance(content, dict):
        lists = [value for value in content.values() if isinstance(value, list)]
        if len(lists) == 1 and lists[0] and all(isinstance(item, dict) for item in lists[0]):
            content = lists[0]  # {"data": [records]}
        elif content and all(isinstance(value, dict) for value in content.values()):
            content = [{"key": key, **value} for key, value in content.items()]  # {id: record}
        else:
            problem = json_value_problem(content) if check_values else None
            if problem is not None:
                raise ZipFitError(f"{display} holds {problem}. Fix it, or save the data as JSONL (one object per "
                                  "line) so that its line can be skipped.")
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
        problem = json_value_problem(item) if check_values and isinstance(item, dict) else None
        if isinstance(item, dict) and problem is None:
            records.append(item)
            if max_rows is not None and len(records) >= max_rows:
                break
        else:
            reason = problem or f"a JSON {type(item).__name__}, not an object with fields"
            _malformed(display, index, reason, options, unit="item")
            bad.append((index, reason))
    _report_malformed(report, display, bad, unit="item")
    return _records_frame(records)


def unclosed_quote_line(text: str) -> int | None:
    """The 1-based line of the quote that opens a field still open at the end of `text`, as pandas' CSV reader
    sees it: inside a quoted field quotes come doubled, so it is the first quote of the last odd run of quotes."""
    end = len(text)
    while (last := text.rfind('"', 0, end)) >= 0:
        first = last
        while first > 0 and text[first - 1] == '"':
            first -= 1
        if (last - first + 1) % 2:
            return text.count("\n", 0, first) + 1
        end = first
    return None


def _check_header_width(text: str, separator: str, display: str, options: LoadOptions) -> None:
    """Refuse a header of more than `max_columns` fields before pandas builds a column for each (a 10 MB header
    of a million fields took minutes and gigabytes). Separators in the first line bound the count from above;
    only a header that may be too wide is parsed, with quotes, to count exactly."""
    end = text.find("\n")
    first_line = text if end < 0 else text[:end]
    if first_line.count(separator) < options.max_columns:
        return
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=separator), [])
    except csv.Error:  # a field longer than the csv module reads: count the separators
        header = first_line.split(separator)
    if len(header) > options.max_columns:
        raise too_many_columns(display, len(header), options)


def _csv_head(text: DecodedText, separator: str, display: str, options: LoadOptions) -> str:
    """The start of a CSV text, to its header's end at least (its width checked before pandas sees it), put back
    into `text`: up to CSV_WHOLE_CHARS characters, or all of a shorter text."""
    head = text.read(CSV_WHOLE_CHARS)
    while "\n" not in head and not text.exhausted and len(head) < CSV_HEADER_MAX_CHARS:
        head += text.read(CSV_WHOLE_CHARS)
    _check_header_width(head, separator, display, options)
    text.unread(head)
    return head


def _csv_pieces(stream: BinaryIO, encoding: str, separator: str, display: str, options: LoadOptions,
                report: LoadReport, max_rows: int | None, piece_rows: int | None) -> Iterator[pd.DataFrame]:
    """A CSV / TSV file's rows: a short one (up to CSV_WHOLE_CHARS characters) read whole, with the exact line of
    an unclosed quote; a longer one decoded and parsed `piece_rows` rows at a time (bounded memory)."""
    with contextlib.closing(DecodedText(stream, encoding, display, report)) as text:  # reports replaced bytes
        _csv_head(text, separator, display, options)
        if piece_rows is None or text.exhausted:
            yield _read_csv(text.read(), separator, display, options, report, max_rows)
            return
        yield from _parsed_csv(text, separator, display, options, report, max_rows, piece_rows)


def _read_csv(text: str, separator: str, display: str, options: LoadOptions, report: LoadReport,
              max_rows: int | None) -> pd.DataFrame:
    """A short CSV / TSV read whole (its header's width was checked by `_csv_head`)."""
    if not text.strip():
        return pd.DataFrame()
    return next(_parsed_csv(io.StringIO(text), separator, display, options, report, max_rows, None, text))


def _parsed_csv(source, separator: str, display: str, options: LoadOptions, report: LoadReport,
                max_rows: int | None, piece_rows: int | None, whole: str | None = None) -> Iterator[pd.DataFrame]:
    """pandas' C reader over `source` (a whole text, or a decoded stream read `piece_rows` rows at a time);
    malformed lines skipped and reported, or the first one stops the read."""
    def read():
        return pd.read_csv(source, sep=separator, dtype=str, keep_default_na=False, engine="c",
                           on_bad_lines="error" if options.on_bad_line == "stop" else "warn", nrows=max_rows,
                           chunksize=piece_rows)

    step = functools.partial(_csv_step, separator=separator, display=display, report=report, whole=whole)
    if piece_rows is None:
        yield step(read)
        return
    pieces = step(read)
    while (piece := step(lambda: next(pieces, None))) is not None:
        yield piece


def _csv_step(parse, *, separator: str, display: str, report: LoadReport, whole: str | None):
    """Run one step of pandas' CSV reader (warnings caught only meanwhile): its malformed lines reported, a parse
    error as one sentence (an unclosed quote with its line in `whole`, else the record pandas names)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return parse()
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
        except pd.errors.ParserError as error:
            detail = str(error).replace("Error tokenizing data. C error: ", "")
            if "EOF inside string" in detail:  # the rest of the file is one field: skipping lines cannot help
                opened_on = unclosed_quote_line(whole) if whole is not None else None
                record = re.search(r"row (\d+)", detail)
                where = (f"line {opened_on}" if opened_on is not None else
                         f"record {int(record.group(1)) + 1} (the header is record 1)" if record else "its end")
                raise ZipFitError(
                    f"{display}, {where}: a quoted field opens there and is never closed, so the rest of "
                    "the file reads as one value. Add the missing closing quote, and write a quote inside a quoted "
                    'field as two quotes ("").'
                ) from None
            raise ZipFitError(
                f"{display} is not valid {'TSV' if separator == chr(9) else 'CSV'} ({detail.strip()}). "
                "Fix that line, or skip malformed lines (`on_bad_line='skip'`)."
            ) from None
        finally:
            bad = [(int(number), reason) for warning in caught
                   for number, reason in CSV_BAD_LINE.findall(str(warning.message))]
            if bad:
                _report_malformed(report, f"{display} (lines as counted by the CSV reader, header = line 1)", bad)


def _txt_pieces(stream: BinaryIO, encoding: str, display: str, options: LoadOptions, report: LoadReport,
                max_rows: int | None, piece_rows: int | None) -> Iterator[pd.DataFrame]:
    """A .txt file's rows: the whole file as one (unit `file`), or each line that is not blank with its number,
    `piece_rows` lines at a time."""
    if options.plain_text_unit == "file":
        text = read_all_text(stream, encoding, display, report)
        yield pd.DataFrame({"text": [text]}) if text else pd.DataFrame()
        return
    texts, numbers, given = [], [], 0
    with contextlib.closing(decoded_lines(stream, encoding, display, report, options.max_line_bytes)) as lines:
        for number, line in lines:  # the undecodable bytes are reported when `lines` closes
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            texts.append(line)
            numbers.append(number)
            given += 1
            if max_rows is not None and given >= max_rows:
                break
            if piece_rows is not None and len(texts) >= piece_rows:
                yield pd.DataFrame({"text": texts, "line": numbers})
                texts, numbers = [], []
    yield pd.DataFrame({"text": texts, "line": numbers}) if texts else pd.DataFrame()


def text_format_pieces(fmt: str, stream: BinaryIO, display: str, options: LoadOptions, report: LoadReport,
                       max_rows: int | None, piece_rows: int | None) -> Iterator[pd.DataFrame]:
    """A text file's rows as frames: JSONL, .txt lines and long CSV / TSV a piece of `piece_rows` rows at a time, JSON
    (one value) whole."""
    encoding = text_encoding(peek_head(stream), display, fmt)
    if fmt == "jsonl":
        with contextlib.closing(decoded_lines(stream, encoding, display, report, options.max_line_bytes)) as lines:
            yield from _jsonl_pieces(lines, display, options, report, max_rows, piece_rows)  # reports at close
        return
    if fmt == "txt":
        yield from _txt_pieces(stream, encoding, display, options, report, max_rows, piece_rows)
        return
    if fmt == "json":
        yield _read_json(read_all_text(stream, encoding, display, report), display, options, report, max_rows)
        return
    yield from _csv_pieces(stream, encoding, "\t" if fmt == "tsv" else ",", display, options, report, max_rows,
                           piece_rows)
