"""Bytes to lines of text: the encoding from the first bytes, binary data refused, undecodable bytes replaced and
counted, and lines read with a bound on their length.

The encoding comes from a byte order mark (UTF-8 otherwise); a binary file with a text name (gzip, Parquet,
zip ... or bytes that mostly do not decode) is recognised by its first bytes and refused with what to do.
JSONL and .txt lines are read in chunks, never more than `max_line_bytes` of one line: a longer line stops the
read whatever `on_bad_line` says (it is a limit, not a malformed line). What is replaced goes into a `LoadReport`.
"""

from __future__ import annotations

import codecs
import io
import re
import threading
from collections.abc import Iterator
from typing import BinaryIO

from zipfit_core.data.sources import LoadReport, numbered, plural
from zipfit_core.errors import ZipFitError

SNIFF_BYTES = 8192
NOT_TEXT_SHARE = 0.25  # above this share of undecodable or control characters in its head, a file is not text
NOT_TEXT_MINIMUM = 16  # ... and at least this many (a few bad bytes in a tiny file are a bad encoding, not binary)
LINE_CHUNK_BYTES = 2**20
BLANK_RUN_LINES = 64  # after this many blank lines in a row, lines are read in chunks that skip blank runs at once
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


NOT_TEXT_CHARACTERS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f\ufffd]")  # all controls but \t\n\v\f\r, ESC
BLANK_LINES = re.compile(rb"[ \t\r\n\x0b\x0c]*\n")  # a run of blank lines, up to the last newline in it
BLANK_BYTES = frozenset(b" \t\r\n\x0b\x0c")


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


def peek_head(stream: BinaryIO) -> bytes:
    peek = getattr(stream, "peek", None)
    if peek is None:
        return b""
    return peek(SNIFF_BYTES)[:SNIFF_BYTES]


def text_encoding(head: bytes, display: str, fmt: str) -> str:
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
    _check_looks_like_text(head, display, fmt)
    return "utf-8"


def _check_looks_like_text(head: bytes, display: str, fmt: str) -> None:
    """Refuse a head that decodes mostly to U+FFFD or control characters: binary data (or text in another
    encoding) that would load as rows of garbage."""
    text = head.decode("utf-8", "replace")
    odd = len(NOT_TEXT_CHARACTERS.findall(text))
    if odd >= NOT_TEXT_MINIMUM and odd > NOT_TEXT_SHARE * len(text):
        raise ZipFitError(
            f"{display} does not look like text: {odd:,} of its first {len(text):,} characters are undecodable "
            f"bytes or control characters. Check that it is the file you meant and that its name matches its "
            f"format ({fmt.upper()}); if it is text in another encoding, re-save it as UTF-8."
        )


def _too_long(display: str, number: int, max_line_bytes: int) -> ZipFitError:
    size = f"{max_line_bytes / 2**20:,.0f} MiB" if max_line_bytes >= 2**20 else f"{max_line_bytes:,} bytes"
    return ZipFitError(
        f"{display}, line {number}: longer than {size}, the longest line read before it is parsed (a line is held "
        "whole in memory), so reading stopped. Split it into shorter lines, or, if it is genuine, raise "
        "`max_line_bytes`."
    )


def raw_lines(stream: BinaryIO, max_line_bytes: int | None, display: str) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) for each line that is not blank; never more than `max_line_bytes` of a line
    (plus its newline) is read. Line by line, until a long run of blank lines: then in chunks, which skip such
    runs in bulk (a file of newlines costs what reading it costs, not a Python step per line)."""
    number, blank_run = 0, 0
    readline, limit = stream.readline, -1 if max_line_bytes is None else max_line_bytes + 1
    while raw := readline(limit):
        number += 1
        if max_line_bytes is not None and len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            raise _too_long(display, number, max_line_bytes)
        if not raw.isspace():
            blank_run = 0
            yield number, raw
        elif (blank_run := blank_run + 1) >= BLANK_RUN_LINES:
            for batch in _raw_line_batches(stream, max_line_bytes, display, number):
                yield from batch
            return


def _raw_line_batches(stream: BinaryIO, max_line_bytes: int | None, display: str,
                      number: int = 0) -> Iterator[list[tuple[int, bytes]]]:
    """Lists of (1-based line number, line without its newline) for the lines after line `number` that are not
    blank, read in chunks; no more than `max_line_bytes` of one line is held (plus one chunk)."""
    carry, carried = [], 0  # the start of a line that goes on in the next chunk
    while chunk := stream.read(LINE_CHUNK_BYTES):
        last = chunk.rfind(b"\n")
        if last < 0:
            carry.append(chunk)
            carried += len(chunk)
            if max_line_bytes is not None and carried > max_line_bytes:
                raise _too_long(display, number + 1, max_line_bytes)
            continue
        block = b"".join([*carry, chunk[:last]]) if carry else chunk[:last]  # whole lines, the last newline cut
        newlines = block.count(b"\n")
        lines, too_long = _block_lines(block, newlines, number, max_line_bytes)
        yield lines
        if too_long is not None:
            raise _too_long(display, too_long, max_line_bytes)  # type: ignore[arg-type]
        number += newlines + 1
        carry = [chunk[last + 1:]] if last + 1 < len(chunk) else []
        carried = len(chunk) - last - 1
        if max_line_bytes is not None and carried > max_line_bytes:
            raise _too_long(display, number + 1, max_line_bytes)
    if carry and (line := b"".join(carry)).strip():
        yield [(number + 1, line)]


def _block_lines(block: bytes, newlines: int, number: int,
                 max_line_bytes: int | None) -> tuple[list[tuple[int, bytes]], int | None]:
    """The lines of `block` (whole lines, without the last newline) that are not blank, numbered after `number`,
    up to the first one longer than `max_line_bytes`; and that one's number (None if there is none)."""
    if 16 * newlines < len(block):  # 16 bytes a line or more on average: split them all at once
        parts = block.split(b"\n")
        too_long = None
        if max_line_bytes is not None and len(block) > max_line_bytes:
            too_long = next((index for index, part in enumerate(parts) if len(part) > max_line_bytes), None)
            parts = parts[:too_long]
        lines = [(index, part) for index, part in enumerate(parts, start=number + 1) if part and not part.isspace()]
        return lines, None if too_long is None else number + 1 + too_long
    lines, position, size = [], 0, len(block)  # short or blank lines: skip each run of blank lines in one step
    while position <= size:
        if position < size and block[position] in BLANK_BYTES and (blank := BLANK_LINES.match(block, position)):
            number += block.count(b"\n", position, blank.end())
            position = blank.end()
            continue
        end = block.find(b"\n", position)
        end = size if end < 0 else end
        number += 1
        if max_line_bytes is not None and end - position > max_line_bytes:
            return lines, number
        if end > position and not block[position:end].isspace():
            lines.append((number, block[position:end]))
        position = end + 1
    return lines, None


def decoded_lines(stream: BinaryIO, encoding: str, display: str, report: LoadReport,
           max_line_bytes: int | None) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line) pairs of the lines that are not blank; undecodable bytes are
    replaced and reported."""
    count, bad_lines = 0, []
    try:
        if encoding == "utf-8" or encoding == "utf-8-sig":
            for number, raw in raw_lines(stream, max_line_bytes, display):
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                line, offsets = decode_replacing(raw)
                if offsets:
                    count += len(offsets)
                    bad_lines.append(number)
                yield number, line
        else:  # UTF-16/32: decoded as a stream, never more than `max_line_bytes` characters of a line at once
            for number, line, replaced in _wide_lines(stream, encoding, display, max_line_bytes):
                count += replaced
                yield number, line
    finally:
        report_replaced(report, display, count, bad_lines)


def _wide_lines(stream: BinaryIO, encoding: str, display: str,
                max_line_bytes: int | None) -> Iterator[tuple[int, str, int]]:
    """(1-based number, line, undecodable sequences replaced in it) for each line of a UTF-16/32 stream that is
    not blank; universal newlines, as `io.StringIO(text, newline=None)` splits them. A line's characters count
    against `max_line_bytes` (each takes at least two bytes in these encodings)."""
    wrapper = io.TextIOWrapper(stream, encoding=encoding, errors=_REPLACE_AND_RECORD, newline=None)
    limit = -1 if max_line_bytes is None else max_line_bytes + 1
    number = 0
    try:
        while True:
            _decoding.positions = []  # around one read only: other decoding may happen between the yields
            try:
                line = wrapper.readline(limit)
                replaced = len(_decoding.positions)
            finally:
                _decoding.positions = None
            if not line:
                return
            number += 1
            if max_line_bytes is not None and len(line) > max_line_bytes and not line.endswith("\n"):
                raise _too_long(display, number, max_line_bytes)
            if not line.isspace():
                yield number, line, replaced
    finally:
        wrapper.detach()  # the caller owns the stream


def read_all_text(stream: BinaryIO, encoding: str, display: str, report: LoadReport) -> str:
    data = stream.read()
    text, offsets = decode_replacing(data, "utf-8" if encoding == "utf-8-sig" else encoding)
    if encoding in ("utf-8", "utf-8-sig"):
        report_replaced(report, display, len(offsets), line_numbers_of(data, offsets))
        text = text.removeprefix("\ufeff")
    else:
        report_replaced(report, display, len(offsets), [])
    return text


class DecodedText(io.TextIOBase):
    """A binary stream decoded a block at a time, as a text file a parser reads (pandas' CSV reader): undecodable
    bytes replaced and reported with their lines when it closes, like `read_all_text`, without the whole text in
    memory. `unread` gives back what was read first (a head looked at before the parser reads)."""

    BLOCK_BYTES = 1 << 20

    def __init__(self, stream: BinaryIO, encoding: str, display: str, report: LoadReport) -> None:
        super().__init__()
        self._stream, self._display, self._report = stream, display, report
        codec = "utf-8" if encoding == "utf-8-sig" else encoding
        self._decoder = codecs.getincrementaldecoder(codec)(errors=_REPLACE_AND_RECORD)
        self._utf8 = codec == "utf-8"
        self._pending, self._first, self._ended = "", True, False
        self._lines_before, self._replaced, self._bad_lines = 1, 0, []

    def readable(self) -> bool:
        return True

    def _decode_block(self) -> None:
        data = self._stream.read(self.BLOCK_BYTES)
        _decoding.positions = []
        try:
            text = self._decoder.decode(data, final=not data)
            offsets = _decoding.positions
        finally:
            _decoding.positions = None
        if offsets:
            self._replaced += len(offsets)
            if self._utf8:  # offsets are into this block (an incremental decoder's errors point into its input)
                self._bad_lines += [self._lines_before + number - 1 for number in line_numbers_of(data, offsets)]
        self._lines_before += data.count(b"\n")
        if self._first and text:
            text, self._first = text.removeprefix("\ufeff"), False
        self._pending += text
        self._ended = not data

    def read(self, size: int | None = -1) -> str:
        wanted = None if size is None or size < 0 else size
        while not self._ended and (wanted is None or len(self._pending) < wanted):
            self._decode_block()
        cut = len(self._pending) if wanted is None else wanted
        text, self._pending = self._pending[:cut], self._pending[cut:]
        return text

    def unread(self, text: str) -> None:
        self._pending = text + self._pending

    @property
    def exhausted(self) -> bool:
        """Every byte of the stream is decoded (what is left, if anything, is in memory)."""
        return self._ended

    def close(self) -> None:
        if not self.closed:
            report_replaced(self._report, self._display, self._replaced, sorted(set(self._bad_lines)))
        super().close()
