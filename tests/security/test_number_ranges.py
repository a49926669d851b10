"""Every whole number a user types has a range, checked the same way on the command line, in the app and in its
links (zipfit_core/bounds.py): issue #21, items 8 and 9. Out of range is a one-line error (CLI), a refused value
(library) or a note about the link (app), never a traceback or an allocation of gigabytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st

from tests.app_harness import app_test
from zipfit_app.state.view import decode_view
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.cli.main import main
from zipfit_core.data.sources import DataSource
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.methods import METHODS

HUGE = "9" * 4000  # below Python's 4,300-digit limit: int() takes it, and it went on to numpy / Arrow


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    paths = {"pool": tmp_path / "pool.jsonl", "targets": tmp_path / "targets.jsonl"}
    for name, texts in (("pool", [f"def add_{i}(a, b): return a + b + {i}" for i in range(12)]),
                        ("targets", ["def add(a, b): return a + b"])):
        paths[name].write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    return paths


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(arg) for arg in args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("method", "extra", "flag_named"), [
    ("dsir", ["--setting", "num_buckets=0"], "num_buckets"),
    ("dsir", ["--setting", "num_buckets=-7"], "num_buckets"),
    ("dsir", ["--setting", "num_buckets=2000000000"], "num_buckets"),
    ("random", ["--setting", "seed=inf"], "seed"),
    ("random", ["--setting", "seed=-1"], "seed"),
    ("random", ["--setting", f"seed={HUGE}"], "seed"),
    ("random", ["--sample-seed", "-1", "--source-sample", "3"], "seed"),
    ("zipfit", ["--workers", "0"], "--workers"),
    ("zipfit-debiased", ["--setting", "level=42"], "--level"),
])
def test_a_command_line_number_out_of_range_is_a_one_line_error(capsys, tmp_path, data, method, extra, flag_named):
    out = tmp_path / "scores.parquet"
    code, err = run(capsys, "score", data["pool"], data["targets"], "--out", out, "--method", method, "-q",
                    "--no-cache", *extra)
    assert code == 2, err
    assert err.startswith("zipfit: error:") and flag_named in err and "Traceback" not in err
    assert not out.exists()


def test_every_whole_number_setting_of_every_method_has_a_range():
    for info in METHODS.values():
        for setting in info.settings:
            if setting.kind is int:
                assert setting.bounds is not None, (info.name, setting.name)
                with pytest.raises(ZipFitError, match=setting.name):
                    setting.coerce(setting.bounds.maximum + 1)


def test_a_huge_bucket_count_is_refused_before_anything_is_allocated():
    with pytest.raises(ZipFitError, match="num_buckets.*16,777,216"):
        METHODS["dsir"].resolve({"num_buckets": 2_000_000_000})


def test_a_level_the_codec_lacks_is_refused_for_every_compressing_method():
    for method in ("zipfit", "zipfit-debiased"):
        with pytest.raises(ZipFitError, match="level"):
            METHODS[method].resolve({"codec": "gzip", "level": 42})


def test_row_counts_and_seeds_have_one_range_for_every_caller():
    for bad in ({"limit": 10**30}, {"sample": 0}, {"seed": -1}, {"seed": 2**64}):
        with pytest.raises(ZipFitError, match="whole number from"):
            DataSource("demo", "pool", **bad)


@pytest.mark.parametrize("query", [
    {"cut": "top_k", "v": "9007199254740994"},
    {"cut": "token_budget", "v": "1e300"},
    {"method": "random", "m.seed": HUGE},
    {"method": "random", "m.seed": "-1"},
    {"method": "dsir", "m.num_buckets": "2000000000"},
    {"src": "demo", "src.loc": "pool", "src.seed": HUGE},
    {"src": "demo", "src.loc": "pool", "src.limit": "9" * 30},
    {"src": "demo", "src.loc": "pool", "src.sample": "1" * 5000},
    {"row": HUGE},
])
def test_a_link_value_out_of_range_is_a_note_about_the_link(query):
    view, problems = decode_view(query)
    assert len(problems) == 1, problems
    assert "whole number from" in problems[0] or "must be" in problems[0]
    assert view.source is None and view.row is None and view.method_settings == {}


def test_a_cut_beyond_what_a_float_counts_exactly_is_refused():
    with pytest.raises(ZipFitError):
        SelectionRule("top_k", 2.0**53 + 2)


def test_the_app_opens_a_link_with_a_4000_digit_seed_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("ZIPFIT_DATA_ROOT", str(tmp_path))
    st.cache_resource.clear()
    at = app_test()
    at.query_params.update({"method": "random", "m.seed": HUGE, "src": "demo", "src.loc": "pool",
                            "src.seed": HUGE, "cut": "top_k", "v": "9007199254740994"})
    at.run()
    assert not at.exception
    st.cache_resource.clear()
