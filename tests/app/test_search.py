"""Explore's search (issue 23): a keyword, a regular expression, a column filter and a length range find the rows
`analysis.search.search_rows` finds, counted by where they stand against the cut; "never keep all N matches"
records the search's pattern (a text query alone) or the rows (with a filter), and the cut leaves them out; a
pattern RE2 cannot run is one sentence and the page keeps working. The pool: app_steps.write_pool."""

from __future__ import annotations

import json

import numpy as np

from zipfit_core.jobs.manager import JobManager
from zipfit_core.store.shaping_log import read_log

from .app_steps import assert_no_exception, metric, scored_local_app, session_of, set_cut

TOP_K = 30


def pool_rows(isolated) -> list[dict]:
    return [json.loads(line) for line in (isolated / "pool.jsonl").read_text().splitlines()]


def search(at, query: str = "", **widgets):
    at.text_input(key="search.query").set_value(query)
    for key, value in widgets.items():
        kind = {"regex": "toggle", "case": "toggle", "column": "selectbox", "filter_column": "selectbox",
                "min_chars": "number_input", "max_chars": "number_input"}.get(key, "multiselect")
        getattr(at, kind)(key=f"search.{key}").set_value(value)
        if key == "filter_column":
            at.run()
    at.button(key="search.run").click().run()
    assert_no_exception(at)
    return at


def found_line(at) -> str:
    return next(item.value for item in at.markdown if "kept by the cut" in item.value)


def test_a_keyword_a_regex_and_a_filter_find_the_rows_and_say_where_they_stand(isolated):
    at = scored_local_app(isolated)
    at.switch_page("pages/explore.py").run()
    set_cut(at, "top_k", TOP_K)
    rows = pool_rows(isolated)
    search(at, "HARBOUR")  # any case by default
    expected = [i for i, row in enumerate(rows) if "harbour" in row["text"].lower()]
    assert found_line(at).startswith(f"**{len(expected)} rows**")
    search(at, "HARBOUR", case=True)
    assert found_line(at).startswith("**0 rows**")
    search(at, r"return x \* 3 \+", regex=True, case=False)
    expected = [i for i, row in enumerate(rows) if "return x * 3 +" in row["text"]]
    assert found_line(at).startswith(f"**{len(expected)} rows**")
    table = next(frame.value for frame in at.dataframe if "stands" in frame.value.columns)
    assert sorted(table["row"].tolist()) == expected
    search(at, "", regex=False, filter_column="source", **{"filter_values.source": ["code"]}, min_chars=100)
    expected = [i for i, row in enumerate(rows) if row["source"] == "code" and len(row["text"]) >= 100]
    scores = JobManager.shared().result(session_of(at).result.job_id)
    kept = set(np.argsort(-scores, kind="stable")[:TOP_K].tolist())
    n_kept = len(set(expected) & kept)
    assert found_line(at).startswith(f"**{len(expected)} rows**")
    assert f"{n_kept:,} kept by the cut, {len(expected) - n_kept:,} dropped" in found_line(at)


def test_never_keep_all_matches_records_the_pattern_and_the_cut_refills(isolated):
    at = scored_local_app(isolated)
    at.switch_page("pages/explore.py").run()
    set_cut(at, "top_k", TOP_K)
    search(at, "return x * 1 +")
    at.button(key="search.never_all").click().run()
    assert_no_exception(at)
    log = read_log(JobManager.shared().cache_dir, session_of(at).result.run)
    assert log.current["patterns"] == [r"(?i)\Qreturn x * 1 +\E"]
    assert metric(at, "Rows kept").value == f"{TOP_K:,}"
    assert "0 kept by the cut" in found_line(at)  # every match left out, the cut refilled from the next best

    search(at, "", filter_column="source", **{"filter_values.source": ["prose"]}, max_chars=150)
    rows = [i for i, row in enumerate(pool_rows(isolated)) if row["source"] == "prose" and len(row["text"]) <= 150]
    at.button(key="search.never_all").click().run()
    log = read_log(JobManager.shared().cache_dir, session_of(at).result.run)
    assert log.current["exclude_rows"] == rows  # a filtered search is recorded as its rows


def test_a_pattern_re2_cannot_run_is_said_and_the_page_keeps_working(isolated):
    at = scored_local_app(isolated)
    at.switch_page("pages/explore.py").run()
    search(at, r"(?<=def )f1", regex=True)
    assert any("RE2 has no look-behind" in error.value.replace("\\", "") for error in at.error)
    assert metric(at, "Rows kept").value  # the page is still drawn
