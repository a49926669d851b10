"""Long CSV / TSV and .txt files are read a piece at a time (`text_formats`, `text_lines.DecodedText`): the rows,
the reports (undecodable bytes with their lines, malformed lines) and the refusals are those of reading the file
whole; the data store converts them in pieces. The size at which a CSV is streamed and the decoder's block are made
tiny here so that small files cross every boundary (a quoted field with newlines, a multi-byte character, a BOM)."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from zipfit_core.data import text_formats, text_lines
from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource, LoadOptions, LoadReport, TextSpec
from zipfit_core.errors import ZipFitError
from zipfit_core.store.data_store import open_data

ROWS = [(f"row {i}: «é» and \"quotes\"" + ("\n\nwith a blank line inside" if i % 7 == 0 else ""), f"k{i % 3}")
        for i in range(40)]


def csv_bytes(separator: str = ",", bom: bool = False, extra: bytes = b"") -> bytes:
    frame = pd.DataFrame(ROWS, columns=["text", "kind"])
    body = frame.to_csv(index=False, sep=separator).encode("utf-8")
    return (b"\xef\xbb\xbf" if bom else b"") + body + extra


@pytest.fixture()
def tiny_pieces(monkeypatch):
    monkeypatch.setattr(text_formats, "CSV_WHOLE_CHARS", 50)
    monkeypatch.setattr(text_lines.DecodedText, "BLOCK_BYTES", 7)  # splits «é» and every line somewhere


def read(data: bytes, fmt: str, piece_rows: int | None, options: LoadOptions | None = None):
    report = LoadReport()
    pieces = list(text_formats.text_format_pieces(fmt, io.BufferedReader(io.BytesIO(data)), "f", options or
                                                  LoadOptions(), report, None, piece_rows))
    return pieces, report


@pytest.mark.parametrize("fmt,separator,bom", [("csv", ",", False), ("csv", ",", True), ("tsv", "\t", False)])
def test_a_long_csv_in_pieces_reads_the_rows_and_reports_of_a_whole_read(tiny_pieces, fmt, separator, bom):
    data = csv_bytes(separator, bom, extra=f"bad\xff bytes{separator}k1\nx{separator}y{separator}z\n".encode("latin-1"))
    whole, whole_report = read(data, fmt, None, LoadOptions(on_bad_line="skip"))
    pieces, report = read(data, fmt, 4, LoadOptions(on_bad_line="skip"))
    assert len(whole) == 1 and len(pieces) > 5 and max(len(piece) for piece in pieces) <= 4
    together = pd.concat(pieces, ignore_index=True)
    pd.testing.assert_frame_equal(together, whole[0])
    assert together["text"].iloc[0] == ROWS[0][0] and len(together) == len(ROWS) + 1
    assert report.warnings == whole_report.warnings and any("U+FFFD" in line for line in report.warnings)
    assert any("line 50" in line or "Skipping" in line or "malformed" in line for line in report.warnings)


def test_an_unclosed_quote_in_a_long_csv_names_its_record(tiny_pieces):
    data = csv_bytes() + b'"never closed,k1\nmore,k2\n'
    with pytest.raises(ZipFitError, match=r"record 42 \(the header is record 1\): a quoted field opens there"):
        read(data, "csv", 4)
    with pytest.raises(ZipFitError, match=r"line 54: a quoted field opens there"):  # whole: the exact line
        read(data, "csv", None)


def test_a_too_wide_header_is_refused_before_pandas_in_pieces_too(tiny_pieces):
    data = (",".join(f"c{i}" for i in range(30)) + "\n" + ",".join("1" * 30) + "\n").encode() * 3
    with pytest.raises(ZipFitError, match="30 columns"):
        read(data, "csv", 4, LoadOptions(max_columns=20))


def test_txt_lines_come_in_pieces_with_their_numbers():
    data = "".join(f"line {i}\n" + ("\n" if i % 5 == 0 else "") for i in range(23)).encode()
    whole, _ = read(data, "txt", None, LoadOptions(plain_text_unit="line"))
    pieces, _ = read(data, "txt", 5, LoadOptions(plain_text_unit="line"))
    assert [len(piece) for piece in pieces] == [5, 5, 5, 5, 3]
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True), whole[0])


def test_the_data_store_converts_a_long_csv_in_pieces_to_the_same_texts(tiny_pieces, tmp_path):
    path = tmp_path / "pool.csv"
    path.write_bytes(csv_bytes())
    expected = load_source(DataSource("local", str(path)), TextSpec(field="text"))
    stored = open_data(DataSource("local", str(path)), TextSpec(field="text"), cache_dir=tmp_path / "cache")
    assert list(stored.texts) == list(expected.texts) == [text for text, _kind in ROWS]
    assert stored.fingerprint == expected.fingerprint
