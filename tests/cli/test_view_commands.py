"""`view_commands`: the commands the app shows read back, through the real parser, as exactly the run and cut plan
they were written from (quoting, values that start with `-`, templates with backslashes, shares, thresholds)."""

from __future__ import annotations

import shlex

from zipfit_core.analysis.shaping import CutPlan, GroupCap, Shaping
from zipfit_core.cli.commands import view_commands
from zipfit_core.cli.data_options import data_recipe
from zipfit_core.cli.main import build_parser
from zipfit_core.cli.score import method_settings
from zipfit_core.cli.shaping import shaping_from_args
from zipfit_core.cli.select import selection_rule
from zipfit_core.data.sources import DataRecipe, DataSource, TextSpec
from zipfit_core.store.run import ScoreRun

SOURCE = DataRecipe(DataSource("local", "pools/my pool.jsonl", sample=50, seed=3),
                    TextSpec(template="{a}\\n{b}\n", row_filter=("split", "train=yes")), max_chars=None)
TARGET = DataRecipe(DataSource("demo", "proofnet-valid"), TextSpec(field="-odd field"), max_chars=None)


def test_the_commands_parse_back_to_the_run_and_the_plan(tmp_path) -> None:
    run = ScoreRun.for_method("zipfit", {"codec": "zstd", "level": 3}, source="s", target="t", source_field="x",
                              target_field="y", source_fingerprint="f", target_fingerprint="g", n_sources=1,
                              n_targets=1, source_recipe=SOURCE.to_dict(), target_recipe=TARGET.to_dict())
    hand = Shaping(include_rows=(4, 2), exclude_rows=(7,), patterns=("-leading dash", "it's \\d+ $HOME"),
                   caps=(GroupCap("kind", "a:b", 0.013), GroupCap("lang", None, None)))
    plan = CutPlan({"kind": "threshold", "value": 0.1 + 0.2}, True, hand, {"decontaminate": True, "dedup": True})
    made = view_commands(run, plan, "out file.jsonl", data_root=tmp_path, include_score=False,
                         evaluation_sets=[DataRecipe(DataSource("local", "held out.jsonl"), TextSpec())])
    score_line, select_line = made.commands
    score = build_parser().parse_args(shlex.split(score_line)[1:])
    assert score.source == str(tmp_path / "pools" / "my pool.jsonl") and score.target == "demo:proofnet-valid"
    assert data_recipe(score, "source") == DataRecipe.from_dict({**SOURCE.to_dict(), "source": {
        **SOURCE.to_dict()["source"], "location": score.source}})
    assert data_recipe(score, "target").text == TARGET.text
    assert (method_settings(score)["codec"], method_settings(score)["level"]) == ("zstd", 3)
    for name, content in made.row_files.items():
        (tmp_path / name).write_text(content)
    words = shlex.split(select_line)[1:]
    select = build_parser().parse_args([str(tmp_path / word) if word.endswith("-keep.txt") else word
                                        for word in words])
    assert selection_rule(select).value == 0.1 + 0.2 and select.balance == "targets"
    assert shaping_from_args(select) == hand
    assert select.decontaminate == [str(tmp_path / "held out.jsonl")] and select.dedup and select.no_score
    assert select.out == "out file.jsonl" and select.scores == "scores.parquet"


def test_an_upload_is_named_with_a_note_to_save_it(tmp_path) -> None:
    upload = DataRecipe(DataSource("upload", "mine.jsonl"), TextSpec())
    run = ScoreRun.for_method("random", {"seed": 7}, source="upload: mine.jsonl", target="t", source_field="text",
                              target_field="text", source_fingerprint="f", target_fingerprint="g", n_sources=1,
                              n_targets=1, source_recipe=upload.to_dict(),
                              target_recipe=DataRecipe(DataSource("demo", "proofnet-valid"), TextSpec()).to_dict())
    made = view_commands(run, CutPlan({"kind": "top_k", "value": 5}), "o.jsonl", data_root=tmp_path)
    assert made.notes == ["The source was uploaded to the app: save it as mine.jsonl here first."]
    assert made.commands[0].startswith("zipfit score mine.jsonl demo:proofnet-valid --out scores.parquet "
                                       "--method random --setting seed=7")
    assert made.script.startswith("# The source was uploaded") and not made.row_files
