"""The app's wiring, page by page, with streamlit.testing.v1.AppTest (no browser).

The main path: demo data -> score -> cut -> the export bytes equal what the core writes for the
same cut, with scores computed independently by `alignment_scores`. Bad inputs show an error in
place and never raise. Every test gets its own score cache and data root.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.app_harness import app_test
from zipfit_app.services.exports import export_status
from zipfit_core.analysis.export import selected_table, write_table
from zipfit_core.analysis.selection import SelectionRule, TokenCounter, select
from zipfit_core.data.loading import load_recipe, load_source
from zipfit_core.data.sources import DataRecipe, DataSource, LoadOptions, TextSpec
from zipfit_core.jobs.manager import JobManager
from zipfit_core.scoring.alignment import alignment_scores

from .app_steps import (
    DEMO_SOURCE,
    DEMO_TARGET,
    TIMEOUT,
    assert_no_exception,
    core_scored,
    dialog_titles,
    load_in_form,
    new_app,
    score_and_wait,
    scored_local_app,
    session_of,
    set_cut,
    start_scoring,
    texts_of,
    write_pool,
)


def core_export_bytes(tmp_path: Path, source_name: str, target_name: str, rule: SelectionRule, suffix: str,
                      include_score: bool = True) -> bytes:
    """What the core alone writes for this cut: its own load, its own scores, `select`, `write_table`."""
    source, scores = core_scored(source_name, target_name)
    counter = TokenCounter()
    selection = select(scores, rule, counter.count(source.texts))
    table = selected_table(source.table, source.texts, source.text_field, scores, selection, counter,
                           include_score=include_score)
    path = tmp_path / f"core{suffix}"
    write_table(table, path)
    return path.read_bytes()


def test_demo_to_export_bytes_equal_the_core_selection(isolated, tmp_path):
    at = new_app()
    assert_no_exception(at)
    load_in_form(at, "source", "demo", DEMO_SOURCE)
    load_in_form(at, "target", "demo", DEMO_TARGET)
    assert any("300 rows" in text for text in texts_of(at.success))
    assert any("185 rows" in text for text in texts_of(at.success))

    score_and_wait(at)
    assert any("scores are exact" in text for text in texts_of(at.success))

    at.switch_page("pages/explore.py").run()
    assert_no_exception(at)
    set_cut(at, "top_k", 37)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Rows kept"] == "37"
    assert at.query_params["cut"] == "top_k" and at.query_params["v"] == "37"

    at.switch_page("pages/export.py").run()
    assert_no_exception(at)
    assert any("keeps **37 of 300 rows**" in text for text in texts_of(at.markdown))
    for kind, suffix in (("jsonl", ".jsonl"), ("csv", ".csv"), ("parquet", ".parquet")):
        at.radio(key="export.format").set_value(kind).run()
        assert_no_exception(at)
        served = session_of(at).downloads.file()
        expected = core_export_bytes(tmp_path, DEMO_SOURCE, DEMO_TARGET, SelectionRule("top_k", 37), suffix)
        assert served == expected, kind
    at.radio(key="export.format").set_value("jsonl").run()
    exported = pd.read_json(io.BytesIO(session_of(at).downloads.file()), lines=True)
    assert len(exported) == 37 and exported["zipfit_score"].is_monotonic_decreasing


def test_every_cut_kind_counts_what_select_keeps(isolated):
    at = scored_local_app(isolated)
    at.switch_page("pages/explore.py").run()
    source = load_source(DataSource("local", str(isolated / "pool.jsonl")), TextSpec())
    target = load_source(DataSource("local", str(isolated / "targets.jsonl")), TextSpec())
    scores = alignment_scores(source.texts, target.texts)
    tokens = TokenCounter().count(source.texts)
    middle = float(np.median(scores))
    for kind, value in (("top_percent", 25.0), ("token_budget", 2000), ("threshold", middle), ("top_k", 13)):
        set_cut(at, kind, value)
        shown = {metric.label: metric.value for metric in at.metric}
        expected = select(scores, SelectionRule(kind, session_of(at).view.cut_value), tokens)
        assert shown["Rows kept"] == f"{expected.n_rows:,}", kind
        assert shown["Tokens kept (approx.)"] == f"{expected.tokens_kept:,}", kind


def test_switching_cut_kind_keeps_the_cut(isolated):
    at = scored_local_app(isolated)
    at.switch_page("pages/explore.py").run()
    set_cut(at, "top_k", 30)
    at.radio(key="explore.cut_kind").set_value("token_budget").run()
    assert {metric.label: metric.value for metric in at.metric}["Rows kept"] == "30"
    at.radio(key="explore.cut_kind").set_value("top_percent").run()
    assert {metric.label: metric.value for metric in at.metric}["Rows kept"] == "30"
    assert session_of(at).view.cut_kind == "top_percent"


def test_a_link_restores_data_scores_cut_and_row(isolated):
    scored_local_app(isolated)  # scores the files the link names
    link = {"src": "local", "src.loc": "pool.jsonl", "tgt": "local", "tgt.loc": "targets.jsonl",
            "cut": "top_k", "v": "7", "row": "3", "by": "source"}
    shared = app_test()
    shared.query_params.update(link)
    shared.run()
    shared.switch_page("pages/explore.py").run()
    assert_no_exception(shared)
    metrics = {metric.label: metric.value for metric in shared.metric}
    assert metrics["Rows kept"] == "7"
    assert dialog_titles(shared) == ["Row 3"]  # the link's row opens over the page
    assert "Mean over all 12 targets" in " ".join(texts_of(shared.caption))


@pytest.mark.parametrize("location, message", [
    ("../outside.jsonl", "outside the data folder"),
    ("missing.jsonl", "not found"),
    ("broken.jsonl", "malformed"),
    ("empty.jsonl", "no rows"),
    ("junk.parquet", "not a readable parquet"),
])
def test_bad_local_files_show_an_error_and_the_app_keeps_going(isolated, location, message):
    (isolated.parent / "outside.jsonl").write_text('{"text": "secret"}\n')
    (isolated / "broken.jsonl").write_text('{"text": "fine"}\n{not json\n')
    (isolated / "empty.jsonl").write_text("")
    (isolated / "junk.parquet").write_bytes(bytes(range(256)) * 8)
    at = new_app()
    at.session_state["data.source.kind"] = "local"
    at.session_state["data.source.local_path"] = location
    at.run()
    at.button(key="data.source.load").click().run()
    assert_no_exception(at)
    if location == "broken.jsonl":  # skipped by default, with the line number: a warning, not an error
        assert any("line 2" in text for text in texts_of(at.warning))
        return
    errors = " ".join(texts_of(at.error)).lower()
    assert errors and message in errors
    assert session_of(at).view.source is None
    at.switch_page("pages/score.py").run()  # other pages still work
    assert_no_exception(at)
    assert any("Load a source pool" in text for text in texts_of(at.info))


def test_bad_links_are_reported_not_fatal(isolated):
    at = new_app({"src": "demo", "src.loc": "no-such-demo", "cut": "median", "v": "x", "codec": "rar"})
    assert_no_exception(at)
    warnings = " ".join(texts_of(at.warning))
    assert "unknown codec" in warnings and "ignored the cut" in warnings
    assert "Unknown demo data set" in " ".join(texts_of(at.error))


def test_pages_explain_what_is_missing(isolated):
    at = new_app()
    for page in ("pages/score.py", "pages/explore.py", "pages/export.py"):
        at.switch_page(page).run()
        assert_no_exception(at)
        assert at.info, page


def test_level_zero_warns_that_scores_become_length(isolated):
    write_pool(isolated)
    at = new_app()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "local", "targets.jsonl")
    at.switch_page("pages/score.py").run()
    at.slider(key="score.level").set_value(0).run()
    assert_no_exception(at)
    assert any("length only" in text for text in texts_of(at.warning))
    assert session_of(at).view.level == 0


def test_leaving_the_page_does_not_stop_the_job(isolated):
    write_pool(isolated, rows=400)
    at = new_app()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "local", "targets.jsonl")
    job_id = start_scoring(at)
    at.switch_page("pages/data.py").run()
    del at  # the session is gone, as when a tab closes
    assert JobManager.shared().wait(job_id, timeout=TIMEOUT).state == "done"


def test_a_demo_preset_loads_pool_and_targets_in_one_click(isolated):
    at = new_app()
    preset = next(button for button in at.button if button.label.startswith("ProofNet"))
    preset.click().run()
    assert_no_exception(at)
    view = session_of(at).view
    assert (view.source.location, view.target.location) == ("pool", "proofnet-valid")
    successes = " ".join(texts_of(at.success))
    pool_rows = len(load_source(DataSource("demo", "pool"), TextSpec()).texts)
    assert f"{pool_rows:,} rows" in successes and "185 rows" in successes
    assert at.query_params["src.loc"] == "pool" and at.query_params["tgt.loc"] == "proofnet-valid"


def test_a_large_export_is_written_to_the_export_folder_in_the_background(isolated, monkeypatch):
    monkeypatch.setenv("ZIPFIT_SMALL_EXPORT_ROWS", "10")
    at = scored_local_app(isolated)
    at.switch_page("pages/explore.py").run()
    set_cut(at, "top_k", 40)
    at.switch_page("pages/export.py").run()
    at.radio(key="export.format").set_value("parquet").run()
    assert not at.get("download_button")  # too big for a download
    next(button for button in at.button if button.label == "Write to the export folder").click().run()
    assert_no_exception(at)

    job = session_of(at).folder_export
    status = JobManager.shared().wait(job.work_id, timeout=TIMEOUT)  # the app's one background-work manager
    assert (status.kind, status.state, status.error) == ("export", "done", None)
    assert export_status(job).done == 40 and job.output.parent == isolated / "exports"
    written = pd.read_parquet(job.output)
    assert len(written) == 40 and written["zipfit_score"].is_monotonic_decreasing
    manifest = json.loads((job.output.parent / (job.output.name + ".manifest.json")).read_text())
    assert manifest["rows"] == {"kept": 40, "total": 120}
    assert manifest["scoring"]["n_targets"] == 12 and manifest["rule"]["kind"] == "top_k"
    # The manifest records how the app loaded the pool: the same texts load again under the data root.
    recipe = DataRecipe.from_dict(manifest["scoring"]["source_recipe"])
    assert (recipe.source.kind, recipe.source.location, recipe.text.field) == ("local", "pool.jsonl", "text")
    assert (load_recipe(recipe, LoadOptions(data_root=isolated)).fingerprint
            == manifest["scoring"]["source_fingerprint"])
    assert manifest["scoring"]["target_recipe"]["source"]["location"] == "targets.jsonl"
    at.run()
    assert any("Wrote 40 rows" in text for text in texts_of(at.success))


def test_a_datasets_folder_downloads_as_a_zip_that_loads(isolated, tmp_path):
    import zipfile

    from datasets import load_from_disk

    at = scored_local_app(isolated)
    at.switch_page("pages/export.py").run()
    at.radio(key="export.format").set_value("datasets").run()
    at.toggle(key="export.include_score").set_value(False).run()
    payload = session_of(at).downloads.file()
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        archive.extractall(tmp_path / "unzipped")
    dataset = load_from_disk(str(tmp_path / "unzipped" / "selection"))
    assert len(dataset) == 12 and "zipfit_score" not in dataset.column_names  # top 10% of 120 rows
    assert set(dataset.column_names) == {"text", "source", "id"}


def test_an_unknown_hub_dataset_is_an_error_in_place(isolated):
    at = new_app()
    at.radio(key="data.source.kind").set_value("hub").run()
    at.text_input(key="data.source.hub_id").set_value("no-such-user/no-such-dataset").run()
    at.button(key="data.source.load").click().run()
    assert_no_exception(at)
    assert "HF_HUB_OFFLINE" in " ".join(texts_of(at.error)) or "offline" in " ".join(texts_of(at.error)).lower()


def test_names_from_data_are_shown_literally_not_as_markdown(isolated):
    from zipfit_app.ui.markdown import literal

    assert literal("a_b *c* $x$ [l](u) :red[z]") == r"a\_b \*c\* \$x\$ \[l\]\(u\) \:red\[z\]"
    (isolated / "odd_$name$.jsonl").write_text('{"text": "def f(x):\\n    return x\\n"}\n')
    at = new_app()
    load_in_form(at, "source", "local", "odd_$name$.jsonl")
    assert any(r"odd\_\$name\$.jsonl" in text or r"odd\_\$name\$\.jsonl" in text for text in texts_of(at.success))


def test_preview_shows_the_first_rows_and_offers_their_fields(isolated):
    with open(isolated / "qa.jsonl", "w") as handle:
        for i in range(50):
            handle.write(json.dumps({"question": f"What is {i} + {i}?", "answer": f"It is {2 * i}, because "
                                     f"adding {i} to itself doubles it.", "n": i}) + "\n")
    at = new_app()
    at.radio(key="data.source.kind").set_value("local").run()
    at.text_input(key="data.source.local_path").set_value("qa.jsonl").run()
    at.button(key="data.source.preview_button").click().run()
    assert_no_exception(at)
    assert any("Likely text fields: answer, question" in text for text in texts_of(at.caption))
    assert at.selectbox(key="data.source.field").options[:3] == ["(automatic)", "answer", "question"]
    at.selectbox(key="data.source.field").set_value("question").run()
    at.button(key="data.source.load").click().run()
    assert any("50 rows" in text and "field question" in text for text in texts_of(at.success))
    assert session_of(at).view.source.field == "question"


def test_cancel_stops_the_job_and_resume_is_offered(isolated):
    at = new_app()
    next(button for button in at.button if button.label.startswith("HumanEval")).click().run()
    job_id = start_scoring(at)
    assert any(button.key == "score.cancel" for button in at.button)  # long enough to still be running
    at.button(key="score.cancel").click().run()
    status = JobManager.shared().wait(job_id, timeout=10)
    assert status.state == "cancelled"
    at.run()
    assert_no_exception(at)
    assert any("cancelled" in text for text in texts_of(at.warning))
    assert any(button.label == "Resume scoring" for button in at.button)
