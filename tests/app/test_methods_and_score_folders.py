"""The Score page beyond ZIP-FIT jobs, with streamlit.testing.v1.AppTest: a baseline chosen as the method
(run in the background, reused by Compare, exported with its name and settings) and a score folder
written by sharded scoring, opened as a scored result under the data root (and refused outside it).

Expected numbers come from the core alone: `score_sources`, `engines.load_scored_folder`,
`selection.select` and `export.write_table`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import app_test
from zipfit_core.analysis.export import selected_table, write_table
from zipfit_core.analysis.selection import SelectionRule, TokenCounter, select
from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource, TextSpec
from zipfit_core.engines import load_scored_folder, score_shards
from zipfit_core.engines.local import LocalEngine
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.method_scores import score_sources
from zipfit_core.scoring.methods import recorded_settings
from zipfit_core.store.method_cache import memo

from .app_steps import (
    DEMO_SOURCE,
    DEMO_TARGET,
    TIMEOUT,
    assert_no_exception,
    load_in_form,
    new_app,
    session_of,
    set_cut,
    start_scoring,
    texts_of,
)


def core_bytes(tmp_path: Path, source, scores: np.ndarray, rule: SelectionRule) -> bytes:
    """What the core writes as JSON Lines for this cut of these scores."""
    counter = TokenCounter()
    selection = select(scores, rule, counter.count(source.texts))
    path = tmp_path / "core.jsonl"
    write_table(selected_table(source.table, source.texts, source.text_field, scores, selection, counter), path)
    return path.read_bytes()


def export_page(at: AppTest) -> tuple[bytes, dict]:
    at.switch_page("pages/export.py").run()
    assert_no_exception(at)
    at.radio(key="export.format").set_value("jsonl").run()
    return session_of(at).downloads.file(), json.loads(session_of(at).downloads.manifest())


# ---------------------------------------------------------------------------------------------------
# A baseline as the Score page's method.


def test_tfidf_chosen_on_the_score_page_is_what_explore_and_export_use(isolated, tmp_path):
    memo.clear()
    at = new_app()
    load_in_form(at, "source", "demo", DEMO_SOURCE)
    load_in_form(at, "target", "demo", DEMO_TARGET)
    at.switch_page("pages/score.py").run()
    at.selectbox(key="score.method").set_value("tfidf").run()
    assert_no_exception(at)
    assert any("baseline" in text for text in texts_of(at.info))
    assert not at.get("slider")  # no compressor level for a method that does not compress
    next(button for button in at.button if button.label == "Start scoring").click().run()
    binding = session_of(at).result
    assert binding.run.method == "tfidf"
    assert JobManager.shared().wait(binding.job_id, timeout=TIMEOUT).state == "done"
    at.run()
    assert any("Scored 300 rows with TF-IDF cosine" in text for text in texts_of(at.success))
    assert at.query_params["method"] == "tfidf"

    source = load_source(DataSource("demo", DEMO_SOURCE), TextSpec())
    target = load_source(DataSource("demo", DEMO_TARGET), TextSpec())
    memo.clear()  # the expected scores are computed again, not read from the app's memo
    expected = score_sources("tfidf", source.texts, target.texts)

    at.switch_page("pages/explore.py").run()
    assert_no_exception(at)
    set_cut(at, "top_k", 20)
    top = next(frame.value for frame in at.dataframe if "score" in frame.value.columns)
    np.testing.assert_array_equal(top["score"].to_numpy(), np.sort(expected)[::-1][:len(top)])

    served, manifest = export_page(at)
    assert served == core_bytes(tmp_path, source, expected, SelectionRule("top_k", 20))
    exported = [json.loads(line)["zipfit_score"] for line in served.decode().splitlines()]
    np.testing.assert_array_equal(exported, np.sort(expected)[::-1][:20])  # JSON keeps every digit
    scoring_part = manifest["scoring"]
    assert scoring_part["method"] == "tfidf" and scoring_part["codec"] == "none"
    assert scoring_part["settings"] == recorded_settings("tfidf")
    assert manifest["rows"] == {"kept": 20, "total": 300}

    # The Compare page finds the Score page's result: only Random is left to compute.
    at.switch_page("pages/compare.py").run()
    at.multiselect(key="compare.methods").set_value(["tfidf", "random"]).run()
    assert_no_exception(at)
    assert [button.label for button in at.button if button.label.startswith("Compute")] == [
        "Compute Random (300 rows)"]


def test_method_settings_are_part_of_the_result_and_the_link(isolated):
    at = new_app()
    load_in_form(at, "source", "demo", DEMO_SOURCE)
    load_in_form(at, "target", "demo", DEMO_TARGET)
    at.switch_page("pages/score.py").run()
    at.selectbox(key="score.method").set_value("random").run()
    next(button for button in at.button if button.label == "Start scoring").click().run()
    first = session_of(at).result.job_id
    JobManager.shared().wait(first, timeout=TIMEOUT)
    at.run()
    at.number_input(key="score.random.seed").set_value(7).run()
    assert_no_exception(at)
    assert at.query_params["m.seed"] == "7"
    assert any(button.label == "Start scoring" for button in at.button)  # seed 7 is other work
    next(button for button in at.button if button.label == "Start scoring").click().run()
    second = session_of(at).result.job_id
    assert second != first and JobManager.shared().wait(second, timeout=TIMEOUT).state == "done"
    at.run()
    assert_no_exception(at)
    np.testing.assert_array_equal(JobManager.shared().result(second), np.random.default_rng(7).random(300))

    shared = app_test()  # the link reopens the seed-7 scores
    shared.query_params.update({key: at.query_params[key] for key in at.query_params})
    shared.run()
    shared.switch_page("pages/explore.py").run()
    assert_no_exception(shared)
    assert {metric.label: metric.value for metric in shared.metric}["Rows kept"] == "30"
    assert session_of(shared).result.job_id == second


# ---------------------------------------------------------------------------------------------------
# Score folders.


def write_shards(folder: Path, rows: int = 60) -> None:
    """Two shards (JSON Lines and Parquet) of code and prose rows with a `source` column."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(rows):
        if i % 3:
            records.append({"text": f"def f{i}(x):\n    return x * {i} + {i % 7}\n", "source": "code"})
        else:
            records.append({"text": f"On day {i} the council met to discuss the harbour and {i % 5} boats.",
                            "source": "prose"})
    half = rows // 2
    with open(folder / "part-a.jsonl", "w") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in records[:half])
    pq.write_table(pa.Table.from_pylist(records[half:]), folder / "part-b.parquet")


def write_targets(path: Path) -> None:
    with open(path, "w") as handle:
        handle.writelines(json.dumps({"text": f"def target_{i}(y):\n    return y + {i}\n"}) + "\n" for i in range(8))


def score_folder(root: Path, source: Path, out: str = "scores_out", target_label: str = "targets.jsonl",
                 **settings) -> Path:
    """Sharded scoring with the local engine (what `zipfit score POOL targets.jsonl --out OUT` runs)."""
    target = load_source(DataSource("local", str(root / "targets.jsonl")), TextSpec())
    report = score_shards(str(source), target, root / out, engine=LocalEngine(workers=1), target_label=target_label,
                          **settings)
    assert report.complete and not report.failed
    return root / out


def open_in_app(at: AppTest, location: str) -> AppTest:
    at.switch_page("pages/score.py").run()
    at.text_input(key="score.folder_path").set_value(location).run()
    at.button(key="score.open_folder").click().run()
    assert_no_exception(at)
    return at


def test_a_score_folder_opens_as_a_scored_result(isolated, tmp_path):
    write_shards(isolated / "pool")
    write_targets(isolated / "targets.jsonl")
    out = score_folder(isolated, isolated / "pool")
    expected, run, source = load_scored_folder(out, str(isolated / "pool"))

    at = new_app()
    at.switch_page("pages/score.py").run()
    assert at.selectbox(key="score.folder_pick").options == ["scores_out"]  # found under the data root
    open_in_app(at, "scores_out")
    assert any("Opened the score folder scores\\_out: 60 rows" in text for text in texts_of(at.success))
    view = session_of(at).view
    assert (view.source.kind, view.source.location) == ("folder", "scores_out")
    assert view.target.location == "targets.jsonl"  # the recorded targets, found and checked
    assert at.query_params["src"] == "folder"

    at.switch_page("pages/explore.py").run()
    assert_no_exception(at)
    set_cut(at, "top_k", 9)
    assert {metric.label: metric.value for metric in at.metric}["Rows kept"] == "9"
    top = next(frame.value for frame in at.dataframe if "score" in frame.value.columns)
    order = np.lexsort((np.arange(len(expected)), -expected))
    assert top["row"].tolist() == order[:len(top)].tolist()
    np.testing.assert_array_equal(top["score"].to_numpy(), expected[order[:len(top)]])

    served, manifest = export_page(at)
    assert served == core_bytes(tmp_path, source, expected, SelectionRule("top_k", 9))
    assert manifest["scoring"]["source_fingerprint"] == run.source_fingerprint
    assert manifest["scoring"]["n_sources"] == 60 and manifest["scoring"]["method"] == "zipfit"

    link = {key: at.query_params[key] for key in at.query_params}
    shared = app_test()
    shared.query_params.update(link)
    shared.run()
    shared.switch_page("pages/explore.py").run()
    assert_no_exception(shared)
    assert {metric.label: metric.value for metric in shared.metric}["Rows kept"] == "9"


def test_a_link_naming_only_a_score_folder_opens_its_scores_at_its_own_codec_and_level(isolated):
    write_shards(isolated / "pool")
    write_targets(isolated / "targets.jsonl")
    out = score_folder(isolated, isolated / "pool", codec="gzip", level=3)  # not the app's gzip-9
    expected, _, _ = load_scored_folder(out, str(isolated / "pool"))
    at = app_test()
    at.query_params.update({"src": "folder", "src.loc": "scores_out", "cut": "top_k", "v": "7"})
    at.run()
    at.switch_page("pages/explore.py").run()
    assert_no_exception(at)
    assert {metric.label: metric.value for metric in at.metric}["Rows kept"] == "7"
    top = next(frame.value for frame in at.dataframe if "score" in frame.value.columns)
    order = np.lexsort((np.arange(len(expected)), -expected))
    np.testing.assert_array_equal(top["score"].to_numpy(), expected[order[:len(top)]])
    view = session_of(at).view
    assert (view.codec, view.level) == ("gzip", 3)  # the menus say what the scores are


def test_a_score_folder_without_its_targets_still_explores_and_exports(isolated, tmp_path):
    write_shards(isolated / "pool")
    write_targets(isolated / "targets.jsonl")
    out = score_folder(isolated, isolated / "pool", target_label="hub:someone/targets")
    expected, _, source = load_scored_folder(out, str(isolated / "pool"))
    at = open_in_app(new_app(), "scores_out")
    assert any("targets were not loaded" in text for text in texts_of(at.warning))
    assert session_of(at).view.target is None
    at.switch_page("pages/explore.py").run()
    set_cut(at, "top_k", 5)
    served, _ = export_page(at)
    assert served == core_bytes(tmp_path, source, expected, SelectionRule("top_k", 5))


@pytest.mark.parametrize("case, message", [
    ("folder outside", "outside the data folder"),
    ("source outside", "outside the data folder"),
    ("shard linked outside", "outside the data folder"),
    ("source changed", "has changed since it was scored"),
    ("not a folder", "not a score folder"),
])
def test_score_folders_are_read_only_under_the_data_root(isolated, tmp_path, case, message):
    outside = tmp_path / "elsewhere"
    write_targets(isolated / "targets.jsonl")
    if case == "folder outside":
        write_shards(outside / "pool")
        write_targets(outside / "targets.jsonl")
        score_folder(outside, outside / "pool", out="out")
        location = "../elsewhere/out"
    elif case == "source outside":
        write_shards(outside / "pool")
        score_folder(isolated, outside / "pool")  # recorded as an absolute path outside the root
        location = "scores_out"
    elif case == "shard linked outside":
        write_shards(outside / "pool")
        (isolated / "pool").mkdir()
        for name in ("part-a.jsonl", "part-b.parquet"):
            os.symlink(outside / "pool" / name, isolated / "pool" / name)
        score_folder(isolated, isolated / "pool")
        location = "scores_out"
    elif case == "source changed":
        write_shards(isolated / "pool")
        score_folder(isolated, isolated / "pool")
        write_shards(isolated / "pool", rows=62)
        location = "scores_out"
    else:
        write_shards(isolated / "pool")
        location = "pool"
    at = open_in_app(new_app(), location)
    assert message in " ".join(texts_of(at.error))
    assert session_of(at).view.source is None
    assert any("open a score folder" in text for text in texts_of(at.info))  # the page keeps going


# ---------------------------------------------------------------------------------------------------
# A cached result reopened from the Score page: its run record says how its datasets were loaded.



def literal_free(markdown: str) -> str:
    """Text shown through `ui.markdown.literal`, without its escapes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_a_cached_result_opens_in_a_new_session_from_the_recipes_it_records(isolated):
    scorer = new_app()
    load_in_form(scorer, "source", "demo", DEMO_SOURCE)
    load_in_form(scorer, "target", "demo", DEMO_TARGET)
    job_id = start_scoring(scorer)
    assert JobManager.shared().wait(job_id, timeout=TIMEOUT).state == "done"

    fresh = new_app()  # another browser: nothing loaded, no link
    fresh.switch_page("pages/score.py").run()
    (runs,) = [item for item in fresh.expander if item.label.startswith("Runs (1, ")]
    assert any(f"demo: {DEMO_SOURCE} -> demo: {DEMO_TARGET}" in literal_free(item.value) and "exact" in item.value
               for item in runs.markdown)
    fresh.button(key=f"score.open.{job_id}").click().run()  # one click makes the run current on every page
    assert_no_exception(fresh)
    assert [session_of(fresh).choice(role).location for role in ("source", "target")] == [DEMO_SOURCE, DEMO_TARGET]
    assert session_of(fresh).result.job_id == job_id
    assert any("The scores are exact" in text for text in texts_of(fresh.success))
    fresh.switch_page("pages/explore.py").run()
    assert {metric.label: metric.value for metric in fresh.metric}["Rows kept"] == "30"


def test_a_cached_result_without_recipes_says_how_to_reopen_it(isolated):
    from zipfit_core.jobs.score_job import ScoreRequest

    plain = ScoreRequest(["a source text", "another one"], ["a target"], label="scored by a script")
    JobManager.shared().wait(JobManager.shared().submit(plain), timeout=TIMEOUT)
    fresh = new_app()
    fresh.switch_page("pages/score.py").run()
    (button,) = [button for button in fresh.button if button.key.startswith("score.open.")]
    assert button.disabled and "Scored outside the app" in button.help  # says how, instead of failing on click
    assert_no_exception(fresh)
