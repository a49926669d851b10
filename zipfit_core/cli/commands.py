"""The shell commands that make a cut again: `zipfit score` with the run's data options, method and settings, then
`zipfit select` with the cut plan's rule, order, rows by hand, patterns, caps and curation (`view_commands`).

The app shows them on its Export page ("The same cut from the command line"); each argument is shell-quoted, local
paths are absolute, and only what differs from the commands' defaults is written.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zipfit_core.analysis.curation import CurationSettings
from zipfit_core.analysis.shaping import EVERY_GROUP, POOL_SHARE, CutPlan, GroupCap
from zipfit_core.cli.cut_export import absolute_locations
from zipfit_core.data.sources import DataRecipe, LoadOptions
from zipfit_core.scoring.codecs import resolve_level
from zipfit_core.scoring.methods import DEFAULT_METHOD, method_info
from zipfit_core.store.run import ScoreRun

SCORES_FILE = "scores.parquet"
ALWAYS_KEEP_FILE, NEVER_KEEP_FILE = "always-keep.txt", "never-keep.txt"
SHARED_DATA_OPTIONS = ("--sample-seed", "--on-bad-line", "--max-chars", "--txt-unit")  # one value for every role
SPEED_SETTINGS = ("codec", "level", "workers")  # flags of their own (codec, level) or no effect on scores (workers)


@dataclass(frozen=True)
class ViewCommands:
    """The commands (one line each, shell-quoted), the row files they read (name -> contents) and notes."""

    commands: list[str]
    row_files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def script(self) -> str:
        """The notes as comments, then the commands: what a person copies into a shell."""
        return "".join(f"# {note}\n" for note in self.notes) + "".join(command + "\n" for command in self.commands)


def data_argument(recipe: DataRecipe, data_root: Path | None = None) -> str:
    """How SOURCE or TARGET names the data on the command line: a local path made absolute, `demo:`, `hub:`."""
    source = DataRecipe.from_dict(absolute_locations(recipe.to_dict(), data_root)).source
    if source.kind in ("demo", "hub"):
        return f"{source.kind}:{source.location}"
    return source.location  # local (absolute), or an upload's file name (to be saved there)


def _escaped_template(template: str) -> str:
    """A template as `--ROLE-template` reads it back (`unescape_template`: a backslash is written twice)."""
    return template.replace("\\", "\\\\")


def role_options(recipe: DataRecipe, role: str) -> list[str]:
    """The data options of one role (`--source-...`) that differ from the defaults."""
    source, text, options = recipe.source, recipe.text, []
    for name in ("config", "split", "revision", "limit", "sample"):
        value = getattr(source, name)
        if value is not None:
            options += [f"--{role}-{name}", str(value)]
    if source.streaming:
        options.append(f"--{role}-streaming")
    if text.template is not None:
        options.append(f"--{role}-template={_escaped_template(text.template)}")  # `=`: a value may start with -
    elif text.field is not None:
        options.append(f"--{role}-field={text.field}")
    if text.row_filter is not None:
        options.append(f"--{role}-filter={text.row_filter[0]}={text.row_filter[1]}")
    return options


def shared_options(recipe: DataRecipe) -> dict[str, str]:
    """The options every role shares (`SHARED_DATA_OPTIONS`) that differ from the defaults, flag -> value."""
    shared = {}
    if recipe.source.seed != 0 and recipe.source.sample is not None:
        shared["--sample-seed"] = str(recipe.source.seed)
    if recipe.on_bad_line != LoadOptions.on_bad_line:
        shared["--on-bad-line"] = recipe.on_bad_line
    if recipe.max_chars != LoadOptions.max_chars:
        shared["--max-chars"] = str(recipe.max_chars or 0)
    if recipe.plain_text_unit != LoadOptions.plain_text_unit:
        shared["--txt-unit"] = recipe.plain_text_unit
    return shared


def method_options(run: ScoreRun) -> list[str]:
    """--method, --setting NAME=VALUE, --codec and --level, where the run's differ from `zipfit score`'s defaults."""
    method, settings = run.method_settings()
    info = method_info(method)
    options = ["--method", method] if method != DEFAULT_METHOD else []
    defaults = info.resolve({})
    for name, value in sorted(settings.items()):
        if name not in SPEED_SETTINGS and value != defaults.get(name):
            options += ["--setting", f"{name}={value}"]
    if info.compresses:
        if settings["codec"] != "gzip":
            options += ["--codec", settings["codec"]]
        if settings["level"] != resolve_level(settings["codec"], None):
            options += ["--level", str(settings["level"])]
    return options


def rule_options(plan: CutPlan) -> list[str]:
    kind, value = plan.rule["kind"], plan.rule["value"]
    shown = str(int(value)) if kind in ("top_k", "token_budget") else repr(float(value))
    return ["--" + kind.replace("_", "-"), shown]


def cap_text(cap: GroupCap) -> str:
    share = POOL_SHARE if cap.share is None else repr(float(cap.share))
    return f"{cap.column}={cap.value if cap.value is not None else EVERY_GROUP}:{share}"


def curation_options(plan: CutPlan, evaluation_sets: Sequence[str]) -> list[str]:
    if plan.curation is None:
        return []
    settings, defaults = CurationSettings(**plan.curation), CurationSettings()
    options: list[str] = []
    if settings.decontaminate:
        options += [item for ref in evaluation_sets for item in ("--decontaminate", ref)] or ["--decontaminate"]
    if settings.ngram != defaults.ngram:
        options += ["--ngram", str(settings.ngram)]
    if settings.max_matches != defaults.max_matches and settings.max_matches is not None:
        options += ["--max-matches", str(settings.max_matches)]
    if settings.dedup:
        options.append("--dedup")
        if settings.dedup_threshold != defaults.dedup_threshold:
            options += ["--dedup-threshold", repr(settings.dedup_threshold)]
    return options


def _line(words: Sequence[str]) -> str:
    return " ".join(shlex.quote(str(word)) for word in words)


def view_commands(run: ScoreRun, plan: CutPlan, out: str, *, data_root: Path | None = None,
                  evaluation_sets: Sequence[DataRecipe] = (), include_score: bool = True,
                  scores_folder: tuple[str, str] | None = None) -> ViewCommands:
    """The commands that make `plan`'s cut of `run`'s scores and write it to `out`: `zipfit score` (unless the scores
    are a score folder, `scores_folder` = (its path, its source's path)), then `zipfit select`; with the row files
    for rows kept or excluded by hand. Relative local paths in the recipes start at `data_root` (the app's)."""
    notes: list[str] = []
    commands: list[str] = []
    if scores_folder is not None:
        scores, source_argument = scores_folder
    else:
        if not run.source_recipe or not run.target_recipe:
            raise ValueError("a run without recipes cannot be written as commands")  # the app's runs have both
        source, target = DataRecipe.from_dict(run.source_recipe), DataRecipe.from_dict(run.target_recipe)
        source_argument, scores = data_argument(source, data_root), SCORES_FILE
        for recipe, role in ((source, "source"), (target, "target")):
            if recipe.source.kind == "upload":
                notes.append(f"The {role} was uploaded to the app: save it as {recipe.source.location} here first.")
        shared = shared_options(source)
        if shared_options(target) != shared:
            notes.append("The source and the target were loaded with different shared options (sample seed, text "
                         "cap, bad lines, .txt unit): the commands use the source's.")
        words = ["zipfit", "score", source_argument, data_argument(target, data_root), "--out", SCORES_FILE,
                 *method_options(run), *role_options(source, "source"), *role_options(target, "target")]
        commands.append(_line(words + [item for flag, value in shared.items() for item in (flag, value)]))
    words = ["zipfit", "select", source_argument, "--scores", scores, *rule_options(plan)]
    if plan.balanced:
        words += ["--balance", "targets"]
    files: dict[str, str] = {}
    for rows, flag, name in ((plan.shaping.include_rows, "--include-rows", ALWAYS_KEEP_FILE),
                             (plan.shaping.exclude_rows, "--exclude-rows", NEVER_KEEP_FILE)):
        if rows:
            files[name] = "".join(f"{row}\n" for row in rows)
            words += [flag, name]
    words += [f"--exclude-matching={pattern}" for pattern in plan.shaping.patterns]  # `=`: a pattern may start with -
    words += [f"--cap={cap_text(cap)}" for cap in plan.shaping.caps]
    words += curation_options(plan, [data_argument(recipe, data_root) for recipe in evaluation_sets])
    if not include_score:
        words.append("--no-score")
    commands.append(_line(words + ["--out", out]))
    return ViewCommands(commands, files, notes)
