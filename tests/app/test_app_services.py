"""The app's services without a browser session: a run record from loaded data, the load options from the
deployment's settings, and library messages in the app's words."""

from __future__ import annotations

import json
from pathlib import Path

from zipfit_app.config import app_settings
from zipfit_app.services.loaders import LoadedData, load_options
from zipfit_app.services.methods import run_settings
from zipfit_app.services.scores import RunChoice, score_run
from zipfit_app.state.records import LoadedRef
from zipfit_app.state.view import DataChoice
from zipfit_app.ui.markdown import message
from zipfit_core.cli.words import cli_text
from zipfit_core.data.loading import load_recipe, load_source
from zipfit_core.data.sources import DataRecipe, DataSource, LoadOptions, TextSpec

MiB = 2**20


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_a_run_record_is_built_from_loaded_data_without_a_session(tmp_path):
    pool = write_jsonl(tmp_path / "pool.jsonl", [{"body": f"def f{i}(x):\n    return x + {i}\n"} for i in range(6)])
    targets = write_jsonl(tmp_path / "targets.jsonl", [{"prompt": "def g(y):", "solution": " return y"}] * 2)
    source = load_source(DataSource("local", str(pool)), TextSpec(field="body"))
    target = load_source(DataSource("local", str(targets)), TextSpec(template="{prompt}{solution}"))
    data = LoadedData(source, target, LoadedRef(DataChoice("local", str(pool), field="body"), "source-key"),
                      LoadedRef(DataChoice("local", str(targets), template="{prompt}{solution}"), "target-key"),
                      folder=None)
    recorded = score_run(data, RunChoice("zipfit", run_settings("zipfit", None, "zstd", 3)))
    assert recorded.source_recipe == source.recipe.to_dict() and recorded.target_recipe == target.recipe.to_dict()
    assert recorded.target_field == "template:{prompt}{solution}"
    assert recorded.settings == {"codec": "zstd", "level": 3}
    assert load_recipe(DataRecipe.from_dict(recorded.target_recipe)).fingerprint == target.fingerprint
    tfidf = score_run(data, RunChoice("tfidf", run_settings("tfidf", {"sublinear_tf": 0}, "gzip", 9)))
    method, settings = tfidf.method_settings()
    assert (method, settings["sublinear_tf"]) == ("tfidf", 0) and "codec" not in settings  # a baseline: no codec


def test_app_settings_feed_the_limits(monkeypatch):
    monkeypatch.setenv("ZIPFIT_MAX_LINE_MB", "2")
    monkeypatch.setenv("ZIPFIT_MAX_EXPANSION", "0")
    options = load_options()
    assert (options.max_line_bytes, options.max_expansion) == (2 * MiB, None)
    monkeypatch.setenv("ZIPFIT_MAX_LINE_MB", "0")
    monkeypatch.setenv("ZIPFIT_MAX_EXPANSION", "lots")
    assert (app_settings().max_line_bytes, app_settings().max_expansion) == (None, LoadOptions.max_expansion)
    monkeypatch.delenv("ZIPFIT_MAX_LINE_MB")
    assert app_settings().max_line_bytes == LoadOptions.max_line_bytes
    shown = message("x, line 2: longer than 1 MiB. Split it, or, if it is genuine, raise `max_line_bytes`.")
    assert "ZIPFIT\\_MAX\\_LINE\\_MB" in shown and "max_line_bytes" not in shown
    assert "ZIPFIT\\_MAX\\_EXPANSION" in message("If the file is genuine, raise `max_expansion`.")
    assert cli_text("raise `max_expansion`.") == "raise --max-expansion."


def test_a_small_check_queued_behind_other_work_is_not_waited_for(tmp_path, monkeypatch):
    """With one slot taken (e.g. by the pool's copy check), a near-duplicate search of a few rows cannot answer within
    the page's wait: the page goes on at once instead of holding the first view for FIRST_WAIT_S."""
    import threading

    from zipfit_app.services import work
    from zipfit_core.jobs.manager import JobManager

    monkeypatch.setattr(JobManager, "_shared", JobManager(cache_dir=tmp_path / "cache", max_concurrent_jobs=1))
    release = threading.Event()
    work.run_function("busy", "contamination", lambda progress, cancelled: release.wait(60), total=10**7, unit="rows",
                      running="checking")
    waits = []
    monkeypatch.setattr(work.manager(), "wait", lambda work_id, timeout=None: waits.append(work_id) or
                        work.manager().find(work_id))
    try:
        status = work.run_function("small", "near-duplicates", lambda progress, cancelled: 1, total=100, unit="rows",
                                   running="looking")
        assert status.state == "queued" and waits == []
    finally:
        release.set()
