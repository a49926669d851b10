"""What the AppTest tests do to the app (open it, load data, score, cut) and the core's numbers they compare with.

Plain functions, no fixtures: the fixtures (`isolated`, `app_with_data`) are in conftest.py.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.app_harness import APP, TIMEOUT, app_test  # noqa: F401  (APP, TIMEOUT: the tests' names for them)
from zipfit_app.state.session import SESSION_KEY, Session
from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource, TextSpec
from zipfit_core.jobs.manager import JobManager
from zipfit_core.scoring.alignment import alignment_scores

DEMO_SOURCE, DEMO_TARGET = "pool-mini", "proofnet-valid"


def new_app(query: dict[str, str] | None = None) -> AppTest:
    at = app_test()
    if query:
        at.query_params.update(query)
    return at.run()


def session_of(at: AppTest) -> Session:
    """The app's one session state object (what every page of this AppTest session shows)."""
    return at.session_state[SESSION_KEY]


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [item.value for item in at.exception]


def texts_of(elements) -> list[str]:
    return [str(item.value) for item in elements]


def dialog_titles(at: AppTest) -> list[str]:
    """The titles of the open dialogs (Streamlit draws them in the tree's event block)."""
    found, pending = [], [at._tree]
    while pending:
        node = pending.pop()
        if getattr(node, "type", None) == "dialog" and node.proto.dialog.is_open:
            found.append(node.proto.dialog.title)
        pending.extend(getattr(node, "children", {}).values())
    return found


def load_in_form(at: AppTest, role: str, kind: str, location: str) -> AppTest:
    at.radio(key=f"data.{role}.kind").set_value(kind).run()
    if kind == "demo":
        at.selectbox(key=f"data.{role}.demo").set_value(location).run()
    else:
        at.text_input(key=f"data.{role}.local_path").set_value(location).run()
    at.button(key=f"data.{role}.load").click().run()
    assert_no_exception(at)
    return at


def start_scoring(at: AppTest) -> str:
    """Open the Score page, press "Start scoring"; the job's id."""
    at.switch_page("pages/score.py").run()
    assert_no_exception(at)
    next(button for button in at.button if button.label == "Start scoring").click().run()
    return session_of(at).result.job_id


def score_and_wait(at: AppTest) -> AppTest:
    status = JobManager.shared().wait(start_scoring(at), timeout=TIMEOUT)
    assert status.state == "done", status
    return at.run()


def set_cut(at: AppTest, kind: str, value) -> AppTest:
    at.radio(key="explore.cut_kind").set_value(kind).run()
    widget = at.slider(key=f"explore.{kind}") if kind in ("threshold", "top_percent") else \
        at.number_input(key=f"explore.{kind}")
    widget.set_value(value).run()
    assert_no_exception(at)
    return at


@functools.cache
def core_scored(source_name: str, target_name: str):
    """The core alone, no jobs or cache: load both demo sets and score with `alignment_scores`."""
    source = load_source(DataSource("demo", source_name), TextSpec())
    target = load_source(DataSource("demo", target_name), TextSpec())
    return source, alignment_scores(source.texts, target.texts)


def write_pool(root: Path, rows: int = 120) -> None:
    """A small pool of code and prose rows (with a `source` column) and code targets."""
    rng = np.random.default_rng(0)
    with open(root / "pool.jsonl", "w") as handle:
        for i in range(rows):
            if i % 2:
                text = "".join(f"def f{i}_{j}(x):\n    return x * {j} + {i}\n" for j in range(int(rng.integers(1, 6))))
                origin = "code"
            else:
                text = " ".join(f"The council met on day {i} to discuss the harbour and the {j} boats."
                                for j in range(int(rng.integers(1, 6))))
                origin = "prose"
            handle.write(json.dumps({"text": text, "source": origin, "id": i}) + "\n")
    with open(root / "targets.jsonl", "w") as handle:
        for i in range(12):
            handle.write(json.dumps({"text": f"def target_{i}(y):\n    return y + {i}\n"}) + "\n")


def scored_local_app(data_root: Path, pool: list[str] | None = None, targets: list[str] | None = None) -> AppTest:
    """pool.jsonl and targets.jsonl under the data root (`write_pool`'s, or these texts), loaded and scored."""
    if pool is None:
        write_pool(data_root)
    else:
        for name, texts in (("pool.jsonl", pool), ("targets.jsonl", targets)):
            (data_root / name).write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))
    at = new_app()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "local", "targets.jsonl")
    return score_and_wait(at)


def metric(at: AppTest, label: str):
    """The metric with this label (its `.value`, `.delta`)."""
    return next(item for item in at.metric if item.label == label)


def click(at: AppTest, prefix: str) -> AppTest:
    next(button for button in at.button if button.label.startswith(prefix)).click().run()
    assert_no_exception(at)
    return at


def compute_and_wait(at: AppTest) -> AppTest:
    """Click Compute (the page returns while the runs go on), wait for the runs, then rerun as the poll would."""
    click(at, "Compute")
    for run_id in session_of(at).compare_runs:
        assert JobManager.shared().wait(run_id, timeout=TIMEOUT).state == "done"
    at.run()
    assert_no_exception(at)
    return at
