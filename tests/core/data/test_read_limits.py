"""Reading untrusted files safely (issue #15, parts 3, 5 and 6): bounded lines and decompression, JSON that Python
cannot hold as text, and messages that say what is wrong and what helps.

- `max_line_bytes`: a JSONL / .txt line longer than the limit stops the read with its line number, whatever
  `on_bad_line` says, and without the line ever being held whole; `max_expansion`: a compressed file may expand
  that many times (64 MiB at least), checked while decompressing. Both are in the CLI's and the app's words.
- JSON nested too deeply, or holding a lone surrogate, is a malformed line (skipped with its number, or an error
  under `on_bad_line='stop'`), never a traceback and never "not valid gzip data".
- An unclosed CSV quote names its line and how to fix it; bytes that are not text are refused as such.

The decompression bombs are written directly as deflate blocks (one compressed 16 MiB block, repeated), so a
1 MB file that expands to 1 GiB takes well under a second to make.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import struct
import subprocess
import tracemalloc
import zlib
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zipfit_core.cli.data_options import load_options
from zipfit_core.data import text_lines
from zipfit_core.data.loading import load_recipe, load_source, preview_table
from zipfit_core.data.sources import DataRecipe, DataSource, LoadOptions, LoadReport, TextSpec
from zipfit_core.data.texts import field_texts
from zipfit_core.errors import ZipFitError
from zipfit_core.store.scores_file import read_scores

MiB = 2**20
BOMB_BLOCK = 16 * MiB


def write_gzip_bomb(path: Path, head: bytes, fill: bytes, size: int, tail: bytes) -> Path:
    """A gzip file holding head + `size` bytes of `fill` + tail: the same compressed block, written size/16 MiB
    times (each block starts afresh after a full flush, so the copies decompress one after another)."""
    piece = fill * (BOMB_BLOCK // len(fill))
    assert size % len(piece) == 0

    def deflated(data: bytes, mode: int) -> bytes:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(mode)

    repeated = deflated(piece, zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(head)
    for _ in range(size // len(piece)):
        crc = zlib.crc32(piece, crc)
    crc = zlib.crc32(tail, crc)
    with open(path, "wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # gzip header: deflate, no name, no time
        out.write(deflated(head, zlib.Z_FULL_FLUSH))
        for _ in range(size // len(piece)):
            out.write(repeated)
        out.write(deflated(tail, zlib.Z_FINISH))
        out.write(struct.pack("<II", crc & 0xFFFFFFFF, (len(head) + size + len(tail)) & 0xFFFFFFFF))
    return path


def local(path: Path, **settings) -> DataSource:
    return DataSource("local", str(path), **settings)


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


def nested(depth: int) -> str:
    """A JSON list nested `depth` levels deep."""
    return "[" * depth + "]" * depth


@pytest.fixture()
def target(tmp_path) -> Path:
    return write_jsonl(tmp_path / "target.jsonl", [{"text": "def g(y): return y + 1"}])


def user_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit code 2 and one `zipfit: error:` line holding every fragment; no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("zipfit: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def warned(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit code 0 and a `warning:` line holding every fragment."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for line in result.stderr.splitlines():
        if line.startswith("warning:") and all(fragment in line for fragment in fragments):
            return line
    raise AssertionError(f"no warning with {fragments}: {result.stderr}")


def test_the_bomb_writer_writes_valid_gzip(tmp_path):
    path = write_gzip_bomb(tmp_path / "small.gz", b"head ", b"ab", 2 * BOMB_BLOCK, b" tail")
    assert gzip.decompress(path.read_bytes()) == b"head " + b"ab" * BOMB_BLOCK + b" tail"


# ---------------------------------------------------------------------------------------------
# max_line_bytes: the longest line read before it is parsed.

@pytest.fixture()
def long_line_jsonl(tmp_path) -> Path:
    """Line 2 holds a 3 MiB text."""
    return write_jsonl(tmp_path / "long.jsonl", [{"text": "short"}, {"text": "x" * (3 * MiB)}, {"text": "after"}])


@pytest.mark.parametrize("on_bad_line", ["skip", "stop"])
def test_a_line_longer_than_the_limit_stops_the_read_with_its_number(long_line_jsonl, on_bad_line):
    """A resource limit, not a malformed line: skipping bad lines does not skip it."""
    options = LoadOptions(max_line_bytes=MiB, on_bad_line=on_bad_line)
    with pytest.raises(ZipFitError) as raised:
        load_source(local(long_line_jsonl), options=options)
    message = str(raised.value)
    assert "long.jsonl, line 2: longer than 1 MiB" in message
    assert "`max_line_bytes`" in message


def test_without_a_line_limit_the_long_line_loads(long_line_jsonl):
    loaded = load_source(local(long_line_jsonl), options=LoadOptions(max_line_bytes=None, max_chars=None))
    assert [len(text) for text in loaded.texts] == [5, 3 * MiB, 5]


def test_the_limit_counts_the_bytes_of_a_line_without_its_newline(tmp_path):
    limit = 1000
    at_limit = '{"text": "' + "y" * (limit - 12) + '"}'
    assert len(at_limit) == limit
    path = tmp_path / "edge.jsonl"
    path.write_text(at_limit + "\n" + at_limit[:-2] + 'z"}' + "\n")  # line 2: one byte over the limit
    with pytest.raises(ZipFitError, match=r"edge\.jsonl, line 2: longer than 1,000 bytes"):
        load_source(local(path), options=LoadOptions(max_line_bytes=limit))
    path.write_text(at_limit + "\n" + at_limit)  # the last line without a newline, exactly at the limit
    assert len(load_source(local(path), options=LoadOptions(max_line_bytes=limit)).texts) == 2


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".txt"])
def test_the_line_limit_holds_for_compressed_and_plain_text_lines(tmp_path, suffix):
    lines = b"first line\n\n" + b"z" * (2 * MiB) + b"\nlast line\n"
    path = tmp_path / f"lines{suffix}"
    path.write_bytes(gzip.compress(lines) if suffix.endswith(".gz") else lines)
    with pytest.raises(ZipFitError, match=r"line 3: longer than 1 MiB"):
        load_source(local(path), options=LoadOptions(max_line_bytes=MiB, plain_text_unit="line"))


def test_a_preview_does_not_read_as_far_as_a_long_line(long_line_jsonl):
    frame = preview_table(local(long_line_jsonl), LoadOptions(max_line_bytes=MiB), n_rows=1)
    assert frame["text"].tolist() == ["short"]


# ---------------------------------------------------------------------------------------------
# max_expansion: how far a compressed file may expand.

def test_a_compressed_file_that_expands_past_the_bound_is_refused_while_reading(tmp_path):
    path = write_gzip_bomb(tmp_path / "bomb.jsonl.gz", b'{"text": "a"}\n', b"\n", 5 * BOMB_BLOCK, b'{"text": "b"}\n')
    assert path.stat().st_size < MiB  # 80 MiB of newlines
    with pytest.raises(ZipFitError) as raised:
        load_source(local(path))  # the bound: 100 x 80 KB < the 64 MiB floor
    message = str(raised.value)
    assert "bomb.jsonl.gz decompresses to more than 64 MiB" in message
    assert "`max_expansion`" in message
    assert load_source(local(path), options=LoadOptions(max_expansion=None)).texts == ["a", "b"]


def test_blank_runs_are_counted_in_line_numbers(tmp_path):
    """Bulk skipping of blank lines keeps the line numbers of what follows."""
    path = write_gzip_bomb(tmp_path / "runs.jsonl.gz", b'{"text": "a"}\n', b"\n", BOMB_BLOCK, b'{"text": oops}\n')
    with pytest.raises(ZipFitError, match=rf"line {BOMB_BLOCK + 2}: not valid JSON"):
        load_source(local(path), options=LoadOptions(max_expansion=None, on_bad_line="stop"))


def test_the_expansion_bound_is_a_multiple_of_the_compressed_size(tmp_path):
    """max(max_expansion x compressed size, 64 MiB)."""
    path = write_gzip_bomb(tmp_path / "rows.jsonl.gz", b'{"text": "a"}\n', b"\n", 5 * BOMB_BLOCK, b'{"text": "b"}\n')
    size = path.stat().st_size
    with pytest.raises(ZipFitError, match="more than 64 MiB .* expand 2 times, or to 64 MiB"):
        load_source(local(path), options=LoadOptions(max_expansion=2))
    with pytest.raises(ZipFitError, match=r"more than 72 MiB"):
        load_source(local(path), options=LoadOptions(max_expansion=72 * MiB / size))
    assert load_source(local(path), options=LoadOptions(max_expansion=90 * MiB / size)).texts == ["a", "b"]


def test_zstd_is_bounded_too(tmp_path):
    import zstandard

    path = tmp_path / "bomb.jsonl.zst"
    with open(path, "wb") as raw, zstandard.ZstdCompressor().stream_writer(raw) as out:
        for _ in range(5):
            out.write(b"\n" * BOMB_BLOCK)
    with pytest.raises(ZipFitError, match="bomb.jsonl.zst decompresses to more than 64 MiB"):
        load_source(local(path))


def test_an_upload_takes_the_tighter_bound(tmp_path):
    path = write_gzip_bomb(tmp_path / "bomb.jsonl.gz", b"", b"\n", 5 * BOMB_BLOCK, b'{"text": "b"}\n')
    with pytest.raises(ZipFitError, match="upload bomb.jsonl.gz decompresses to more than 64 MiB.*`max_expansion`"):
        load_source(DataSource("upload", "bomb.jsonl.gz"), upload=path.read_bytes())


def test_real_bombs_are_refused_at_the_defaults_with_little_memory(tmp_path):
    """Issue #15: a 1 MB .jsonl.gz holding 1 GiB of `a` on one line (2.45 GB peak before) or 1 GiB of newlines
    (396 s of CPU before): both stop early, with the option to raise in the message."""
    one_line = write_gzip_bomb(tmp_path / "line.jsonl.gz", b'{"text": "', b"a", 64 * BOMB_BLOCK, b'"}\n')
    newlines = write_gzip_bomb(tmp_path / "newlines.jsonl.gz", b"", b"\n", 64 * BOMB_BLOCK, b'{"text": "a"}\n')
    assert one_line.stat().st_size < 1.1e6 and newlines.stat().st_size < 1.1e6
    for path, expected in ((one_line, "line.jsonl.gz, line 1: longer than 64 MiB"),
                           (newlines, "newlines.jsonl.gz decompresses to more than 100 MiB from 1.0 MiB")):
        tracemalloc.start()
        try:
            with pytest.raises(ZipFitError, match=expected):
                load_source(local(path))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 256 * MiB, (path.name, peak / MiB)


# ---------------------------------------------------------------------------------------------
# The limits on the command line and in the app: flags / settings, the messages in their words, not recorded.

def test_cli_flags_set_the_limits_and_zero_means_no_bound():
    assert load_options(argparse.Namespace()) == LoadOptions()
    options = load_options(argparse.Namespace(max_line_mb=2.5, max_expansion=7))
    assert (options.max_line_bytes, options.max_expansion) == (int(2.5 * MiB), 7)
    options = load_options(argparse.Namespace(max_line_mb=0, max_expansion=0))
    assert (options.max_line_bytes, options.max_expansion) == (None, None)
    with pytest.raises(ZipFitError, match="--max-line-mb must be 0"):
        load_options(argparse.Namespace(max_line_mb=-1))


def test_cli_reports_a_long_line_with_its_flag(cli, long_line_jsonl, target, tmp_path):
    out = tmp_path / "scores.parquet"
    line = user_error(cli("score", long_line_jsonl, target, "--quiet", "--max-line-mb", "1", "--out", out),
                      "long.jsonl, line 2: longer than 1 MiB", "raise --max-line-mb")
    assert "`" not in line
    assert not out.exists()
    result = cli("score", long_line_jsonl, target, "--quiet", "--max-line-mb", "0", "--max-chars", "0",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    scores, run = read_scores(out)
    assert len(scores) == 3
    recorded = json.dumps(run.source_recipe)
    assert "max_line" not in recorded and "max_expansion" not in recorded  # a limit of this machine, not the texts


def test_cli_reports_a_bomb_with_its_flag(cli, target, tmp_path):
    bomb = write_gzip_bomb(tmp_path / "bomb.jsonl.gz", b'{"text": "a"}\n', b"\n", 5 * BOMB_BLOCK, b"")
    user_error(cli("score", bomb, target, "--quiet", "--out", tmp_path / "s.parquet"),
               "bomb.jsonl.gz decompresses to more than 64 MiB", "raise --max-expansion")
    result = cli("score", bomb, target, "--quiet", "--max-expansion", "0", "--out", tmp_path / "s.parquet")
    assert result.returncode == 0, result.stderr


def test_recorded_data_is_loaded_again_under_the_given_limits(long_line_jsonl):
    """`load_recipe(recipe, options)`: the recipe says which texts, the options how much may be read."""
    recipe = DataRecipe(local(long_line_jsonl), TextSpec(field="text"), max_chars=None)
    assert "max_line" not in json.dumps(recipe.to_dict())
    with pytest.raises(ZipFitError, match="line 2"):
        load_recipe(recipe, LoadOptions(max_line_bytes=MiB))
    assert len(load_recipe(recipe, LoadOptions(max_line_bytes=None)).texts) == 3


# ---------------------------------------------------------------------------------------------
# The line reader: every non-blank line, with its number, whatever the chunking; the first long line stops it.

@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.one_of(st.sampled_from([b"", b" ", b"\r", b"\t "]),
                                st.binary(min_size=1, max_size=40).map(lambda data: b"x" + data.replace(b"\n", b""))),
                      max_size=40),
       blank_run=st.sampled_from([1, 2, 64]), chunk=st.sampled_from([1, 3, 7, 64, 256]),
       limit=st.sampled_from([None, 4, 9, 30, 100]), final_newline=st.booleans())
def test_line_reader_matches_splitting_the_whole_file(lines, blank_run, chunk, limit, final_newline):
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    expected, too_long = [], None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if limit is not None and len(line) > limit:
            too_long = number
            break
        if line.strip():
            expected.append((number, line))
    with mock.patch.object(text_lines, "LINE_CHUNK_BYTES", chunk), \
            mock.patch.object(text_lines, "BLANK_RUN_LINES", blank_run):
        found = []
        reader = text_lines.raw_lines(io.BufferedReader(io.BytesIO(data), buffer_size=8), limit, "f")
        try:
            found.extend((number, line.removesuffix(b"\n")) for number, line in reader)
        except ZipFitError as error:
            assert too_long is not None and f"f, line {too_long}:" in str(error), (str(error), too_long)
        else:
            assert too_long is None
    assert found == expected


@pytest.mark.parametrize("chunk", [8, 40, 64, 4096])
@pytest.mark.parametrize(("data", "good", "too_long"), [
    (b"\n" + b"y" * 20 + b"\n" + b"z" * 50 + b"\n" + b"w" * 20 + b"\n", [2], 3),  # long lines: split at once
    (b"\n" + b"a\n" * 40 + b"z" * 50 + b"\nb\n", list(range(2, 42)), 42),  # short lines: one by one
    (b"\n" + b"y" * 20 + b"\n" + b"z" * 50, [2], 3),  # the long line is the last, without a newline
])
def test_chunked_lines_stop_at_the_first_long_line(chunk, data, good, too_long):
    """After a blank line (BLANK_RUN_LINES = 1) lines are read in chunks: every chunking finds the long line."""
    with mock.patch.object(text_lines, "LINE_CHUNK_BYTES", chunk), \
            mock.patch.object(text_lines, "BLANK_RUN_LINES", 1):
        found = []
        with pytest.raises(ZipFitError, match=f"f, line {too_long}: longer than 30 bytes"):
            for number, _line in text_lines.raw_lines(io.BufferedReader(io.BytesIO(data)), 30, "f"):
                found.append(number)
    assert found == good


# ---------------------------------------------------------------------------------------------
# JSON that Python cannot hold as text: too deep, lone surrogates.

@pytest.mark.parametrize("depth", [900, 1000])
def test_deeply_nested_json_lines_are_skipped_with_their_number(cli, target, tmp_path, depth):
    source = tmp_path / "deep.jsonl"
    source.write_text('{"text": "fine"}\n{"text": %s}\n{"text": "ok"}\n' % nested(depth))
    out = tmp_path / "s.parquet"
    warned(cli("score", source, target, "--quiet", "--source-field", "text", "--out", out),
           "deep.jsonl: skipped 1 malformed line: line 2", "nested more than 200 levels deep")
    assert len(pd.read_parquet(out)) == 2
    user_error(cli("score", source, target, "--on-bad-line", "stop", "--out", tmp_path / "t.parquet"),
               "deep.jsonl, line 2: a value nested more than 200 levels deep")


def test_nesting_is_counted_from_the_record(tmp_path):
    path = tmp_path / "edge.jsonl"
    path.write_text('{"text": "a", "meta": %s}\n{"text": "b", "meta": %s}\n' % (nested(199), nested(200)))
    loaded = load_source(local(path), TextSpec(field="text"))
    assert loaded.texts == ["a"]
    assert "line 2 (line 2: a value nested more than 200 levels deep)" in " ".join(loaded.warnings)


def test_deeply_nested_json_files(cli, target, tmp_path):
    """A .json file is one document: an item too deep to hold is skipped; one too deep to parse stops it."""
    source = tmp_path / "deep.json"
    source.write_text('[{"text": "fine"},\n{"text": %s},\n{"text": "ok"}]\n' % nested(900))
    warned(cli("score", source, target, "--quiet", "--out", tmp_path / "s.parquet"),
           "skipped 1 malformed item: item 1", "nested more than 200 levels deep")
    source.write_text('[{"text": "fine"},\n{"text": %s}]\n' % nested(1000))
    user_error(cli("score", source, target, "--out", tmp_path / "t.parquet"),
               "deep.json holds a value nested more than 200 levels deep", "save the data as JSONL")


def test_a_value_too_deep_to_write_as_text_names_its_row():
    """Deep values from other sources (not JSON lines) reach `texts.py`: a clear error, not a RecursionError."""
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    frame = pd.DataFrame({"text": pd.Series(["fine", deep], dtype=object)})
    with pytest.raises(ZipFitError, match=r"field 'text' holds 1 value nested too deeply to write as text: row 8"):
        field_texts(frame, "text", "origin", LoadReport(), np.array([7, 8]))


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
@pytest.mark.parametrize("record", [
    r'{"text": "bad \ud800 x"}', r'{"text": "fine", "tags": ["a", "\udfff"]}', r'{"\uDC00key": 1, "text": "t"}',
])
def test_a_lone_surrogate_is_a_malformed_line(cli, target, tmp_path, suffix, record):
    content = ('{"text": "fine"}\n' + record + '\n{"text": "ok \\ud83d\\ude00"}\n').encode()
    source = tmp_path / f"surrogate{suffix}"
    source.write_bytes(gzip.compress(content) if suffix.endswith(".gz") else content)
    out = tmp_path / "s.parquet"
    line = warned(cli("score", source, target, "--quiet", "--source-field", "text", "--out", out),
                  "skipped 1 malformed line: line 2", "lone surrogate")
    assert "gzip" not in line
    assert len(pd.read_parquet(out)) == 2  # the surrogate pair (an emoji) on line 3 is text
    stopped = user_error(cli("score", source, target, "--on-bad-line", "stop", "--out", tmp_path / "t.parquet"),
                         f"surrogate{suffix}, line 2:", "lone surrogate")
    assert "gzip" not in stopped


def test_a_lone_surrogate_in_a_json_file(tmp_path):
    path = tmp_path / "items.json"
    path.write_text(r'[{"text": "fine"}, {"text": "bad \ud800"}, {"text": "ok"}]')
    loaded = load_source(local(path))
    assert loaded.texts == ["fine", "ok"]
    assert "item 1 (item 1: a string with a lone surrogate" in " ".join(loaded.warnings)
    path.write_text(r'{"text": ["fine", "bad \ud800"]}')
    with pytest.raises(ZipFitError, match="items.json holds a string with a lone surrogate"):
        load_source(local(path))


def test_errors_while_parsing_are_not_blamed_on_the_compression(tmp_path):
    """Only the decompressor's own errors say "not valid gzip data"."""
    good = gzip.compress(b'{"text": "fine"}\n' * 1000)
    damaged = tmp_path / "damaged.jsonl.gz"
    damaged.write_bytes(good[:10] + bytes(byte ^ 0x5A for byte in good[10:60]) + good[60:])
    with pytest.raises(ZipFitError, match="damaged.jsonl.gz is not valid gzip data"):
        load_source(local(damaged))


# ---------------------------------------------------------------------------------------------
# Misleading messages: an unclosed CSV quote, bytes that are not text.

@pytest.mark.parametrize(("content", "line"), [
    ('text,id\n"fine",1\n"open quote,2\nmore,3\n', 3),
    ('text,id\n"multi\nline",1\nb,2\n"x,3\n', 5),  # pandas counts records (it says row 3); we count lines
    ('text\n"he said ""hi""\nand more\n', 2),
])
def test_an_unclosed_quote_names_its_line_and_the_fix(cli, target, tmp_path, content, line):
    source = tmp_path / "quote.csv"
    source.write_text(content)
    message = user_error(cli("score", source, target, "--out", tmp_path / "s.parquet"),
                         f"quote.csv, line {line}: a quoted field opens there and is never closed",
                         "closing quote")
    assert "on-bad-line" not in message and "skip" not in message


def test_an_unclosed_quote_in_tsv(tmp_path):
    path = tmp_path / "rows.tsv"
    path.write_text('text\tid\nfine\t1\n"open\t2\n')
    with pytest.raises(ZipFitError, match=r"rows\.tsv, line 3: a quoted field opens there"):
        load_source(local(path))


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".csv", ".csv.gz"])
def test_random_bytes_without_nul_are_not_text(cli, target, tmp_path, suffix):
    noise = bytes(byte for byte in np.random.default_rng(15).bytes(20_000) if byte)
    source = tmp_path / f"noise{suffix}"
    source.write_bytes(gzip.compress(noise) if suffix.endswith(".gz") else noise)
    user_error(cli("score", source, target, "--out", tmp_path / "s.parquet"),
               f"noise{suffix} does not look like text", "re-save it as UTF-8")


def test_text_in_other_scripts_and_a_few_bad_bytes_still_load(tmp_path):
    scripts = ["Ελληνικά κείμενα για δοκιμή", "中文文本用于测试", "نص عربي للاختبار", "emoji 😀 and русский текст"]
    path = write_jsonl(tmp_path / "scripts.jsonl", [{"text": text * 40} for text in scripts])
    assert load_source(local(path)).texts == [text * 40 for text in scripts]
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(("café crème, naïve façade; " * 30 + "\n").encode("latin-1"))
    loaded = load_source(local(latin1))
    assert loaded.texts[0].startswith("caf\ufffd cr\ufffdme")
    assert "replaced" in " ".join(loaded.warnings)
    tiny = tmp_path / "tiny.txt"
    tiny.write_bytes(b"\xe9\xe8\n")  # all bad, but too few bytes to call it binary
    assert load_source(local(tiny)).texts == ["\ufffd\ufffd\n"]


def test_control_characters_count_as_not_text(tmp_path):
    path = tmp_path / "controls.jsonl"
    path.write_bytes(bytes(range(1, 9)) * 500)
    with pytest.raises(ZipFitError, match="does not look like text"):
        load_source(local(path))
    ansi = tmp_path / "log.txt"  # escape codes (ESC) are text: coloured logs
    ansi.write_text("\x1b[31mred\x1b[0m line\n" * 100)
    assert load_source(local(ansi)).texts[0].startswith("\x1b[31mred")



def test_jsonl_rows_with_missing_and_new_fields_read_as_records_would(tmp_path):
    """Rows are kept per field (a dict per row costs ~4x the memory); the table is the one records give."""
    import pandas as pd

    from zipfit_core.data.loading import load_source
    from zipfit_core.data.sources import DataSource

    records = [{"text": "a", "n": 1}, {"text": "b"}, {"extra": [1, 2], "text": "c", "n": 3}, {"n": 4, "text": "d"}]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    table = load_source(DataSource("local", str(path))).table
    expected = pd.DataFrame.from_records(records)
    assert list(table.columns) == list(expected.columns) == ["text", "n", "extra"]
    assert table["text"].tolist() == ["a", "b", "c", "d"]
    assert table["n"].tolist()[0] == 1 and pd.isna(table["n"].tolist()[1]) and table["n"].tolist()[2:] == [3, 4]
    assert [value if isinstance(value, list) else None for value in table["extra"]] == [None, None, [1, 2], None]
