"""The view in the link (zipfit_app.state.view): it round-trips, defaults stay out, bad links are reported."""

from __future__ import annotations

import pytest

from zipfit_app.state.view import DataChoice, ViewState, decode_view, encode_view


def test_view_round_trips_through_the_query_string():
    view = ViewState(
        source=DataChoice("hub", "org/pool", config="en", split="train", streaming=True, limit=5000, seed=3,
                          field="text"),
        target=DataChoice("demo", "proofnet-valid", template="{informal_prefix}{formal_statement}",
                          filter_column="split", filter_value="valid"),
        codec="zstd", level=19, cut_kind="token_budget", cut_value=1_000_000, group_by="source", row=42,
        references=("demo: proofnet-test", "file: held out, v2/test.jsonl"), extra={"cmp": "dsir"},
    )
    params = encode_view(view)
    assert all(isinstance(key, str) and isinstance(value, str) for key, value in params.items())
    assert params["v"] == "1000000" and "src.sample" not in params
    decoded, problems = decode_view(params)
    assert problems == [] and decoded == view


def test_default_view_is_small_and_decodes_to_itself():
    params = encode_view(ViewState())
    assert params == {"cut": "top_percent", "v": "10"}
    assert decode_view(params) == (ViewState(), [])


@pytest.mark.parametrize("params, fragment", [
    ({"src": "ftp", "src.loc": "x"}, "kind must be one of"),
    ({"src": "demo"}, "with a location"),
    ({"tgt": "hub", "tgt.loc": "a/b", "tgt.limit": "many"}, "must be a whole number"),
    ({"tgt": "hub", "tgt.loc": "a/b", "tgt.stream": "maybe"}, "not true or false"),
    ({"codec": "rar"}, "unknown codec"),
    ({"codec": "gzip", "level": "99"}, "not valid for gzip"),
    ({"cut": "top_k", "v": "1.5"}, "whole number"),
    ({"cut": "median", "v": "1"}, "Unknown selection rule"),
    ({"cut": "threshold", "v": "nan"}, "not a number"),
    ({"row": "-3"}, "must be a whole number"),
])
def test_bad_links_are_reported_and_ignored(params, fragment):
    view, problems = decode_view(params)
    assert len(problems) == 1 and fragment in problems[0]
    default = ViewState()
    assert (view.source, view.target, view.cut_kind, view.cut_value, view.row) == \
        (default.source, default.target, default.cut_kind, default.cut_value, default.row)


def test_decode_accepts_repeated_keys_as_lists():
    view, problems = decode_view({"cut": ["top_k", "top_k"], "v": ["5", "7"]})
    assert problems == [] and (view.cut_kind, view.cut_value) == ("top_k", 7.0)


def test_evaluation_sets_travel_with_the_source_only():
    view = ViewState(source=DataChoice("demo", "pool"), references=("demo: proofnet-test",))
    assert encode_view(view)["src.eval"] == "demo: proofnet-test"
    assert "src.eval" not in encode_view(ViewState(references=("demo: proofnet-test",)))  # no source, no sets
    decoded, problems = decode_view({"src.eval": "demo:%20proofnet-test"})
    assert problems == [] and decoded.references == ()
