"""The command line's conventions: examples in every `--help`, `-q/--quiet` wherever there is a progress bar,
`--json` summaries on stdout for `score` and `select`, progress while `compare --from-manifest` re-scores, and
`zipfit app`'s arguments."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from zipfit_core.analysis.export import manifest_path
from zipfit_core.cli import app as app_command
from zipfit_core.cli.main import build_parser, main
from zipfit_core.engines.folder import read_score_folder
from zipfit_core.errors import ZipFitError
from zipfit_core.store.scores_file import read_scores


def commands() -> dict[str, argparse.ArgumentParser]:
    action = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    return dict(action.choices)


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    pool = [f"def add_{i}(a, b):\n    return a + b + {i}  # sum of two numbers" if i % 2 else
            f"Theorem {i}: every finite group of prime order {i} is cyclic." for i in range(40)]
    targets = ["def add(a, b):\n    return a + b", "def total(values):\n    return sum(values)"]
    paths = {"pool": tmp_path / "pool.jsonl", "targets": tmp_path / "targets.jsonl", "cache": tmp_path / "cache"}
    for name, texts in (("pool", pool), ("targets", targets)):
        paths[name].write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    return paths


def test_every_command_shows_examples_of_itself_in_its_help(capsys) -> None:
    for name, parser in commands().items():
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(["--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        examples = text[text.rindex("\nexamples:\n") + 1:]  # the epilog comes last, its lines kept as written
        assert examples.count(f"zipfit {name}") >= 2, (name, examples)
        assert all(line.startswith("  ") for line in examples.splitlines()[1:] if line), (name, examples)


def test_every_command_with_a_progress_bar_takes_q_and_quiet() -> None:
    with_bars = {name for name, parser in commands().items()
                 if any("--quiet" in action.option_strings for action in parser._actions)}
    assert {"score", "compare", "proxy-eval"} <= with_bars
    for name in with_bars:
        action = next(action for action in commands()[name]._actions if "--quiet" in action.option_strings)
        assert "-q" in action.option_strings, name


def test_score_and_select_print_a_json_summary_on_stdout_and_the_bar_stays_off_with_q(data, tmp_path,
                                                                                     capsys) -> None:
    scores = tmp_path / "scores.parquet"
    code, out, err = run(capsys, "score", data["pool"], data["targets"], "--out", scores, "-q", "--json",
                         "--cache-dir", data["cache"])
    assert code == 0, err
    summary = json.loads(out)  # stdout is the JSON object and nothing else
    values, recorded = read_scores(scores)
    assert summary["command"] == "score" and summary["format"] == "scores-file" and summary["out"] == str(scores)
    assert summary["rows"] == len(values) == 40 and summary["targets"] == 2 and summary["method"] == "zipfit"
    assert summary["run"] == recorded.to_dict()
    assert summary["cache"] == {"dir": str(data["cache"]), "pairs": 80, "computed": 80, "resumed": 0,
                                "note": "computed"}
    assert "scoring" not in err and "%|" not in err  # -q: no bar; the one-line summary stays on stderr
    again = json.loads(run(capsys, "score", data["pool"], data["targets"], "--out", scores, "--json",
                           "--cache-dir", data["cache"])[1])
    assert again["cache"]["note"] == "loaded from the cache" and again["cache"]["computed"] == 0

    best = tmp_path / "best.jsonl"
    code, out, err = run(capsys, "select", data["pool"], "--scores", scores, "--top-k", 5, "--out", best, "--json")
    assert code == 0, err
    summary = json.loads(out)
    manifest = json.loads(manifest_path(best).read_text(encoding="utf-8"))
    assert summary["command"] == "select" and summary["out"] == str(best) and summary["format"] == "jsonl"
    assert summary["manifest"] == str(manifest_path(best))
    assert summary["rows"] == manifest["rows"] == {"kept": 5, "total": 40}
    assert summary["tokens"] == manifest["tokens"] and summary["rule"] == manifest["rule"]
    assert summary["run"] == manifest["scoring"] == recorded.to_dict()
    assert len(best.read_text(encoding="utf-8").splitlines()) == 5


def test_score_json_for_a_score_folder(data, tmp_path, capsys) -> None:
    shards = tmp_path / "shards"
    shards.mkdir()
    lines = data["pool"].read_text(encoding="utf-8").splitlines(keepends=True)
    (shards / "a.jsonl").write_text("".join(lines[:25]), encoding="utf-8")
    (shards / "b.jsonl").write_text("".join(lines[25:]), encoding="utf-8")
    code, out, err = run(capsys, "score", shards, data["targets"], "--out", tmp_path / "scored", "-q", "--json")
    assert code == 0, err
    summary = json.loads(out)
    folder = read_score_folder(tmp_path / "scored")
    assert summary["format"] == "score-folder" and summary["rows"] == 40 and summary["shards"] == 2
    assert summary["run"] == folder.run.to_dict() and summary["targets"] == 2


def test_compare_from_manifest_shows_re_scoring_progress_unless_quiet(data, tmp_path, capsys) -> None:
    scores, random_scores = tmp_path / "zipfit.parquet", tmp_path / "random.parquet"
    assert run(capsys, "score", data["pool"], data["targets"], "--out", scores, "-q", "--no-cache")[0] == 0
    assert run(capsys, "score", data["pool"], data["targets"], "--out", random_scores, "--method", "random",
               "-q", "--no-cache")[0] == 0
    best = tmp_path / "best.jsonl"
    assert run(capsys, "select", data["pool"], "--scores", scores, "--top-k", 5, "--out", best)[0] == 0
    arguments = ["compare", data["pool"], "--from-manifest", manifest_path(best), "--scores", random_scores,
                 "--top-k", 5]
    code, out, err = run(capsys, *arguments, "--cache-dir", tmp_path / "fresh-cache")  # nothing cached: re-scores
    assert code == 0, err
    assert f"re-scoring {manifest_path(best).name}" in err and "100%" in err
    assert "overlap of kept rows" in out
    code, out, err = run(capsys, *arguments, "--cache-dir", tmp_path / "other-cache", "-q")
    assert code == 0 and "re-scoring" not in err and "overlap of kept rows" in out


def test_app_command_refuses_a_missing_data_root_and_a_bad_port(tmp_path, capsys) -> None:
    code, _, err = run(capsys, "app", "--data-root", tmp_path / "missing")
    assert code == 2 and "--data-root" in err and "is not a folder" in err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["app", "--port", "70000"])
    assert "not a port number" in capsys.readouterr().err


def test_app_command_runs_streamlit_on_the_entry_script_with_the_data_root(tmp_path, monkeypatch) -> None:
    started = {}

    class Process:
        def __init__(self, command, env):
            started.update(command=command, env=env)

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(app_command.subprocess, "Popen", Process)
    assert main(["app", "--port", "8765", "--data-root", str(tmp_path)]) == 0
    script = Path(started["command"][4])
    assert started["command"][1:4] == ["-m", "streamlit", "run"] and started["command"][5:] == ["--server.port", "8765"]
    assert script.name == "app.py" and (script.parent / "pages").is_dir()
    assert (script.parent / ".streamlit" / "config.toml").is_file()  # the settings Streamlit reads beside it
    assert started["env"]["ZIPFIT_DATA_ROOT"] == str(tmp_path.resolve())


def test_app_command_without_streamlit_says_how_to_install_it(monkeypatch) -> None:
    real = app_command.importlib.util.find_spec
    monkeypatch.setattr(app_command.importlib.util, "find_spec",
                        lambda name, *rest: None if name == "streamlit" else real(name, *rest))
    with pytest.raises(ZipFitError, match=r"zipfit-studio\[app\]"):
        app_command.run_app(argparse.Namespace(data_root=None, port=None))
