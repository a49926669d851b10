"""The hand shaping of a run kept on disk (`store/shaping_log.py`): found again by the same run only, each change
undoable, a damaged file set aside (never read as shaping), the history bounded."""

from __future__ import annotations

import json

from zipfit_core.store import shaping_log
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.shaping_log import read_log, record_state, shaping_path, undo_state

RUN = ScoreRun.for_plain_texts(["a pool row", "another"], ["a target"])
OTHER_METHOD = ScoreRun.for_plain_texts(["a pool row", "another"], ["a target"], method="tfidf")
OTHER_POOL = ScoreRun.for_plain_texts(["a pool row", "changed"], ["a target"])


def test_a_recorded_state_is_found_by_the_same_run_only(tmp_path):
    assert read_log(tmp_path, RUN).states == ()
    record_state(tmp_path, RUN, {"exclude_rows": [1]})
    assert read_log(tmp_path, RUN).current == {"exclude_rows": [1]}
    assert read_log(tmp_path, ScoreRun.from_dict(RUN.to_dict())).current == {"exclude_rows": [1]}
    assert read_log(tmp_path, OTHER_METHOD).states == ()
    assert read_log(tmp_path, OTHER_POOL).states == ()


def test_each_change_is_undone_in_turn_back_to_unshaped(tmp_path):
    record_state(tmp_path, RUN, {"exclude_rows": [1]})
    record_state(tmp_path, RUN, {"exclude_rows": [1], "patterns": ["MIT"]})
    record_state(tmp_path, RUN, {"exclude_rows": [1], "patterns": ["MIT"]})  # the same state twice: one step
    assert undo_state(tmp_path, RUN).current == {"exclude_rows": [1]}
    assert read_log(tmp_path, RUN).current == {"exclude_rows": [1]}
    assert undo_state(tmp_path, RUN).states == ()
    assert not shaping_path(tmp_path, RUN).exists()
    assert undo_state(tmp_path, RUN).states == ()


def test_a_damaged_file_is_set_aside_and_said(tmp_path):
    path = shaping_path(tmp_path, RUN)
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    log = read_log(tmp_path, RUN)
    assert log.states == () and "could not be read" in log.problem
    assert path.with_name(path.name + ".damaged").exists() and not path.exists()
    path.write_text(json.dumps({"format": 1, "key": "someone else's", "states": [{"exclude_rows": [0]}]}))
    assert read_log(tmp_path, RUN).states == ()  # another run's file under this name is not this run's shaping


def test_the_history_is_bounded_and_keeps_the_current_state(tmp_path, monkeypatch):
    monkeypatch.setattr(shaping_log, "MAX_STATES", 3)
    for row in range(5):
        record_state(tmp_path, RUN, {"exclude_rows": [row]})
    assert [state["exclude_rows"] for state in read_log(tmp_path, RUN).states] == [[2], [3], [4]]
    big = {"exclude_rows": list(range(200))}
    monkeypatch.setattr(shaping_log, "MAX_LOG_BYTES", 4096 + len(json.dumps([big])) + 5)  # room for it alone
    record_state(tmp_path, RUN, big)
    assert read_log(tmp_path, RUN).states == (big,)
