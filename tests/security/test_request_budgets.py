"""What one request may cost: a template, a wide table, a wide-character file, a long number, a cell that looks
like Markdown (issue #21, items 4-7 and 16). Peak memory and time are measured in
benchmarks/bench_hostile_inputs.py; these tests check the bounds that keep them down."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zipfit_app.services import loaders
from zipfit_app.state.view import decode_view
from zipfit_app.ui.markdown import literal
from zipfit_core.cli.main import main
from zipfit_core.data import sources, texts
from zipfit_core.data.loading import LoadedTexts, load_source
from zipfit_core.data.sources import DataSource, LoadOptions, LoadReport, TextSpec
from zipfit_core.data.text_lines import decoded_lines
from zipfit_core.data.texts import choose_text_field, template_texts
from zipfit_core.errors import ZipFitError

HOSTILE_TEMPLATE = "{text}" * 1000  # the 6 KB link that took the server from 148 MB to 2.8 GB


# Item 4: templates and the loader cache.

def test_a_template_repeating_a_field_a_thousand_times_is_refused_everywhere():
    with pytest.raises(ZipFitError, match="6,000 characters long"):
        TextSpec(template=HOSTILE_TEMPLATE)
    with pytest.raises(ZipFitError, match="uses fields 100 times"):
        TextSpec(template="{text}" * 100)  # 600 characters
    view, problems = decode_view({"src": "demo", "src.loc": "pool", "src.tpl": HOSTILE_TEMPLATE})
    assert view.source is None and "6,000 characters" in problems[0]


def test_a_template_longer_than_its_bound_is_refused():
    with pytest.raises(ZipFitError, match="characters long"):
        TextSpec(template="{text}" + "x" * 5000)
    assert TextSpec(template="{text}" * sources.MAX_TEMPLATE_PLACEHOLDERS).template  # at the bound: fine


def test_a_template_row_is_rendered_only_up_to_the_text_cap_and_reported_whole(tmp_path):
    frame = pd.DataFrame({"a": ["x" * 1000, "short"], "b": ["y" * 1000, "!"]})
    full_lengths: dict[int, int] = {}
    rendered = template_texts(frame, "{a}{b}{a}", "data", max_chars=50, full_lengths=full_lengths)
    assert rendered == ["x" * 50, "short!short"] and full_lengths == {0: 3000}
    path = tmp_path / "rows.jsonl"  # through load_source: a dropped row before it, the whole length reported
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in ["a" * 400, None, "b" * 10]), "utf-8")
    loaded = load_source(DataSource("local", str(path)), TextSpec(template="{text}{text}"),
                         LoadOptions(max_chars=100))
    assert loaded.texts == ["a" * 100, "b" * 20]
    capped = [warning for warning in loaded.warnings if "capped 1 text" in warning]
    assert len(capped) == 1 and "the longest had 800" in capped[0] and "row 0" in capped[0]


def _loaded(n_chars: int, origin: str) -> LoadedTexts:
    texts = ["z" * n_chars]
    return LoadedTexts(texts=texts, table=pd.DataFrame({"text": texts}), text_field="text", origin=origin)


def test_the_loader_cache_keeps_loaded_data_within_its_byte_budget():
    unit = loaders.loaded_bytes(_loaded(2**20, "one"))
    cache = loaders.LoadedCache(budget=unit * 5 // 2)  # room for two
    loads = []

    def loader(key: str):
        def load() -> LoadedTexts:
            loads.append(key)
            return _loaded(2**20, key)
        return load

    for key in ("one", "two", "three", "one"):
        cache.get(key, loader(key))
    assert cache.total_bytes <= unit * 5 // 2
    assert loads == ["one", "two", "three", "one"]  # "one" was dropped (least recently used), so loaded again
    cache.get("three", loader("three"))
    assert loads[-1] == "one"  # "three" was still kept


def test_a_data_set_larger_than_the_whole_budget_is_refused_with_the_setting_to_raise():
    cache = loaders.LoadedCache(budget=2**20)
    with pytest.raises(ZipFitError, match="ZIPFIT_LOADER_CACHE_MB"):
        cache.get("big", lambda: _loaded(4 * 2**20, "big"))
    assert cache.total_bytes == 0


def test_loaded_bytes_counts_the_texts():
    assert loaders.loaded_bytes(_loaded(2**20, "x")) >= 2**20


# Item 5: wide tables.

def _wide_csv(path: Path, columns: int) -> Path:
    path.write_text(",".join(f"c{i}" for i in range(columns)) + "\n" + ",".join("v" for _ in range(columns)) + "\n")
    return path


def test_a_csv_wider_than_max_columns_is_refused_before_pandas_parses_it(tmp_path, monkeypatch):
    path = _wide_csv(tmp_path / "wide.csv", 20_001)

    def no_parse(*args, **kwargs):
        raise AssertionError("pd.read_csv was called on a table wider than max_columns")

    monkeypatch.setattr(pd, "read_csv", no_parse)
    with pytest.raises(ZipFitError, match=r"20,001 columns.*10,000 \(`max_columns`\)"):
        load_source(DataSource("local", str(path)))


def test_the_command_line_names_its_flag_for_the_column_limit(tmp_path, capsys):
    path = _wide_csv(tmp_path / "wide.csv", 50)
    code = main(["score", str(path), "demo:humaneval", "--out", str(tmp_path / "s.parquet"), "--max-columns", "20"])
    err = capsys.readouterr().err
    assert code == 2 and "50 columns" in err and "--max-columns" in err and "Traceback" not in err


def test_jsonl_rows_with_more_fields_than_max_columns_are_refused(tmp_path):
    path = tmp_path / "wide.jsonl"
    path.write_text("".join(json.dumps({f"k{row}_{i}": "v" for i in range(10)}) + "\n" for row in range(5)))
    with pytest.raises(ZipFitError, match="max_columns"):
        load_source(DataSource("local", str(path)), options=LoadOptions(max_columns=30))


def test_the_automatic_text_field_looks_at_a_bounded_sample_of_columns():
    columns = {f"n{i}": np.zeros(3) for i in range(texts.TEXT_FIELD_COLUMNS + 100)}
    columns["short"] = ["ab", "cd", "ef"]
    frame = pd.DataFrame({"short": columns.pop("short"), **columns, "far": ["a long text " * 50] * 3})
    choice = choose_text_field(frame)
    assert choice.field == "short"  # "far" has the longest texts but lies beyond the columns looked at
    assert f"the first {texts.TEXT_FIELD_COLUMNS}" in choice.reason


# Item 6: UTF-16 files under the line limit.

class CountingReader(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self.inner, self.read_bytes = io.BytesIO(data), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.inner.readinto(buffer)
        self.read_bytes += count
        return count


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_a_wide_character_file_is_read_line_by_line_under_the_line_limit(tmp_path, encoding):
    data = ("x" * 300_000 + "\n").encode(encoding) + ('{"text": "a"}\n' * 1_000_000).encode(encoding)[4:]
    raw = CountingReader(data)
    lines = decoded_lines(io.BufferedReader(raw, 65536), encoding, "wide.jsonl", LoadReport(), 100_000)
    with pytest.raises(ZipFitError, match="line 1: longer than"):
        next(lines)
    assert raw.read_bytes < 2 * 2**20 < len(data)  # the rest was never read, let alone decoded
    path = tmp_path / "rows.jsonl"  # the lines a whole decode gave: any newline, undecodable bytes counted
    text = '{"text": "a"}\r\n\n{"text": "b\u00e9"}\r{"text": "c"}\n'
    bad = b"\x00\xd8" if encoding == "utf-16" else b"\x00\x00\x11\x00"
    path.write_bytes(text.encode(encoding) + bad + '{"text": "d"}\n'.encode(encoding)[4 if encoding == "utf-32" else 2:])
    loaded = load_source(DataSource("local", str(path)))
    assert loaded.texts == ["a", "b\u00e9", "c"]
    assert any("replaced 1 undecodable" in warning for warning in loaded.warnings)


# Item 7: a JSON integer longer than Python reads.

def test_a_jsonl_line_with_a_5000_digit_integer_is_one_malformed_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "a"}\n{"text": "b", "n": ' + "7" * 5000 + '}\n{"text": "c"}\n')
    loaded = load_source(DataSource("local", str(path)))
    assert loaded.texts == ["a", "c"]
    assert any("line 2" in warning and "4,300 digits" in warning for warning in loaded.warnings)
    with pytest.raises(ZipFitError, match="line 2"):
        load_source(DataSource("local", str(path)), options=LoadOptions(on_bad_line="stop"))


def test_a_json_document_with_a_5000_digit_integer_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "rows.json"
    path.write_text('[{"text": "a"}, {"text": "b", "n": ' + "7" * 5000 + "}]")
    with pytest.raises(ZipFitError, match="4,300 digits.*JSONL"):
        load_source(DataSource("local", str(path)))
    code = main(["score", str(path), "demo:humaneval", "--out", str(tmp_path / "s.parquet")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("zipfit: error:") and "Traceback" not in err


# Item 16: a cell that looks like a heading.

SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$", re.MULTILINE)


def test_setext_underlines_are_escaped():
    for value in ("Title\n===", "Title\n---", "Title\n   =", "a\n==  "):
        assert not SETEXT_UNDERLINE.search(literal(value)), value
