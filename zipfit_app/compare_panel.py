"""The Compare page's pieces: methods and their scores, the budget, the comparison tables, the proxy evaluation.

Scores come from the same places as the Score page's (`scoring`): ZIP-FIT from its job or an opened
score folder at the view's codec and level, the length-debiased variant derived from those, and the
other methods from the background runs and their on-disk cache, so a method computed on either page
is reused on the other. Every number is `zipfit_core.compare` / `proxy_eval`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import streamlit as st

from zipfit_app.view_state import DataChoice, ViewState
from zipfit_core.analysis.compare import (
    composition,
    exclusive_rows,
    kept_sets,
    length_bias,
    length_profile,
    overlaps,
    rank_correlations,
)
from zipfit_core.analysis.proxy_eval import NO_SELECTION, proxy_evaluation
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.baselines import compressed_sizes, length_debiased
from zipfit_core.scoring.methods import METHODS, method_spec

from . import datasets, methods, results
from .explore_panel import NO_GROUP, group_column
from .markdown import literal, message
from .view_state import describe_cut

try:
    from zipfit_core.data.demo import DEMO_DATASETS
except ImportError:  # a copy without the bundled demo data
    DEMO_DATASETS = {}

ZIPFIT_BASED = ("zipfit", "zipfit-debiased")
BUDGETS = {"top_percent": "Top percent", "top_k": "Top K rows", "token_budget": "Token budget"}
SHOWN_ROWS = 20
POLL_SECONDS = 1.0  # how often the progress of running methods is polled
SUBMIT_ERROR_KEY = "compare.submit_error"
RUNS_KEY = "compare.run_ids"  # the runs the last Compute click submitted


def choose_methods(view: ViewState) -> tuple[list[str], dict[str, dict]]:
    """The methods to compare and each one's settings (shared with the Score page's)."""
    chosen = st.multiselect("Methods", list(METHODS), default=["zipfit", "dsir", "tfidf", "random"],
                            format_func=methods.label, key="compare.methods")
    with st.expander("Method settings", icon=":material/tune:"):
        st.caption(f"ZIP-FIT uses the Score page's compressor: {view.codec} level {view.level}.")
        for name in chosen:
            if methods.own_settings(name):
                st.markdown(f"**{methods.label(name)}**: {METHODS[name].description}")
                methods.settings_widgets(name, "compare")
    if "zipfit-debiased" in chosen:
        st.info("**ZIP-FIT, length-debiased** is a variant, not the paper's score: " + methods.DEBIASED_FORMULA,
                icon=":material/straighten:")
    return chosen, {name: methods.run_settings(name) for name in chosen}


@st.cache_resource(max_entries=4, show_spinner="Measuring compressed lengths...")
def _debiased(version: str, codec: str, level: int, _scores: np.ndarray, _texts: list[str]) -> np.ndarray:
    return length_debiased(_scores, compressed_sizes(_texts, codec, level))


@dataclass
class MethodScores:
    """The chosen methods' scores that exist, labelled for tables, and what is still missing."""

    scores: dict[str, np.ndarray]  # short label -> scores
    specs: dict[str, str]  # short label -> method spec
    version: str  # changes whenever any of the numbers change
    missing: list[str]


def collect_scores(source: LoadedTexts, target: LoadedTexts | None, view: ViewState, chosen: list[str],
                   settings: dict[str, dict]) -> MethodScores:
    """Whatever is already computed, never computing (the baselines start from `compute_missing`)."""
    zipfit = results.zipfit_result(source, target, view)
    found: dict[str, np.ndarray] = {}
    versions: dict[str, str] = {}
    missing: list[str] = []
    for name in chosen:
        spec = method_spec(name, settings[name])
        if name in ZIPFIT_BASED:
            values = None if zipfit is None else zipfit.scores if name == "zipfit" else _debiased(
                zipfit.version, view.codec, view.level, zipfit.scores, source.texts)
            version = f"{name}:{zipfit.version if zipfit else ''}:{view.codec}:{view.level}"
        else:
            values = results.method_result(name, source, target, settings[name]) if target is not None else None
            version = f"{spec}:{source.fingerprint}:{target.fingerprint if target is not None else ''}"
        if values is None:
            missing.append(name)
        else:
            found[spec], versions[spec] = values, version
    labels = {spec: _short(spec, found) for spec in found}
    return MethodScores({labels[spec]: values for spec, values in found.items()},
                        {labels[spec]: spec for spec in found},
                        json.dumps({labels[spec]: version for spec, version in versions.items()}, sort_keys=True),
                        missing)


def _short(spec: str, found: dict[str, np.ndarray]) -> str:
    """The method's label, or the whole spec when the same method appears twice."""
    name = spec.split(":")[0]
    return methods.label(name) if sum(key.split(":")[0] == name for key in found) == 1 else spec


def compute_missing(source: LoadedTexts, target: LoadedTexts | None, view: ViewState, missing: list[str],
                    settings: dict[str, dict]) -> None:
    """Say what is missing; a button submits the missing baselines as background runs and returns at once.

    While any of them runs, a polled fragment shows their progress and a Cancel button; the page reruns when
    the last one ends. The runs are found again by what they compute, so leaving the page does not lose them.
    """
    if any(name in ZIPFIT_BASED for name in missing):
        st.warning("ZIP-FIT scores are not complete for this data: score it on the Score page "
                   f"({view.codec} level {view.level}); the other methods can be compared meanwhile.",
                   icon=":material/hourglass_top:")
        st.page_link("pages/score.py", label="Go to Score", icon=":material/speed:")
    baselines = [name for name in missing if name not in ZIPFIT_BASED]
    if not baselines or target is None:
        return
    ids = [results.manager().method_run_id(name, settings[name], source_fingerprint=source.fingerprint,
                                           target_fingerprint=target.fingerprint)
           for name in baselines]
    statuses = [results.manager().find(run_id) for run_id in ids]
    if any(status is not None and not status.finished for status in statuses):
        st.fragment(run_every=POLL_SECONDS)(_follow_runs)(ids)
        return
    for status in statuses:  # an earlier attempt that did not finish
        if status is not None and status.state == "failed":
            st.error(f"{methods.label(status.kind)}: {message(status.error)}", icon=":material/error:")
        elif status is not None and status.state == "cancelled":
            st.warning(f"{methods.label(status.kind)} was cancelled: compute again to start it afresh.",
                       icon=":material/pause:")
    if SUBMIT_ERROR_KEY in st.session_state:
        st.error(message(st.session_state.pop(SUBMIT_ERROR_KEY)), icon=":material/error:")
    names = ", ".join(methods.label(name) for name in baselines)
    st.button(f"Compute {names} ({len(source.texts):,} rows)", type="primary", icon=":material/play_arrow:",
              on_click=_submit, args=(source, target, baselines, settings))


def _submit(source: LoadedTexts, target: LoadedTexts, baselines: list[str], settings: dict[str, dict]) -> None:
    """Start (or join) the runs; the rerun that follows the click finds them running."""
    try:
        st.session_state[RUNS_KEY] = [
            results.manager().submit_method(name, source.texts, target.texts, settings[name],
                                            source_fingerprint=source.fingerprint,
                                            target_fingerprint=target.fingerprint)
            for name in baselines]
        for run_id in st.session_state[RUNS_KEY]:
            results.follow(run_id)
    except ZipFitError as error:
        st.session_state[SUBMIT_ERROR_KEY] = str(error)


def _follow_runs(ids: list[str]) -> None:
    """Per-method progress, errors and Cancel; reruns the whole page once every run has ended."""
    statuses = [status for status in map(results.manager().find, ids) if status is not None]
    if all(status.finished for status in statuses):
        st.rerun(scope="app")  # the comparison (or what failed) replaces the progress
    for status in statuses:
        name = methods.label(status.kind)
        if status.state == "failed":
            st.error(f"{name}: {message(status.error)}", icon=":material/error:")
            continue
        st.progress(status.fraction_done, text=f"{name}: {status.state}, {status.done:,} of {status.total:,} "
                                               f"{status.unit} ({status.seconds:.0f} s)")
    st.caption("Running in the background: leaving this page or closing the tab does not stop it.")
    st.button("Cancel", key="compare.cancel", icon=":material/stop:", on_click=_cancel, args=(ids,))


def _cancel(ids: list[str]) -> None:
    """This session no longer wants the runs: each stops unless another session waits for it."""
    for run_id in ids:
        results.let_go(run_id)


@st.cache_resource(max_entries=4, show_spinner="Comparing the rankings...")
def whole_pool(version: str, _scores: dict[str, np.ndarray], _lengths: np.ndarray):
    """What does not depend on the budget: rank correlations and length bias (seconds at a million rows)."""
    return rank_correlations(_scores), length_bias(_scores, _lengths)


@st.cache_resource(max_entries=16, show_spinner=False)
def at_budget(version: str, kind: str, value: float, column: str | None, _scores: dict[str, np.ndarray],
              _tokens: np.ndarray | None, _values: list | None):
    selections = kept_sets(_scores, SelectionRule(kind, value), _tokens)
    return (selections, overlaps(selections), exclusive_rows(selections),
            composition(selections, _values) if _values is not None else None)


@st.cache_resource(max_entries=4, show_spinner=False)
def length_view(version: str, _scores: dict[str, np.ndarray], _lengths: np.ndarray):
    """Each method's score percentiles over bands of length (`analysis.compare.length_profile`)."""
    return length_profile(_scores, _lengths)


@dataclass(frozen=True)
class Budget:
    rule: SelectionRule
    column: str | None


def budget_controls(source: LoadedTexts, group_options: list[str], view: ViewState) -> Budget:
    """The budget the methods are compared at: this page's own, first set to Explore's cut when that is a budget
    (a threshold is not: each method has its own scale); the composition column follows Explore's grouping."""
    left, right = st.columns([1, 2])
    if view.cut_kind in BUDGETS:
        st.session_state.setdefault("compare.budget_kind", view.cut_kind)
        st.session_state.setdefault(f"compare.budget.{view.cut_kind}", float(view.cut_value))
    kind = left.radio("Budget", list(BUDGETS), format_func=BUDGETS.get, key="compare.budget_kind")
    defaults = {"top_percent": 10.0, "top_k": float(min(100, len(source.texts))), "token_budget": 100_000.0}
    st.session_state.setdefault(f"compare.budget.{kind}", defaults[kind])
    value = right.number_input(BUDGETS[kind], min_value=0.0, max_value=100.0 if kind == "top_percent" else None,
                               step=1.0, key=f"compare.budget.{kind}")
    if st.session_state.get("compare.group_by") not in (NO_GROUP, *group_options):  # first visit, or another pool
        st.session_state["compare.group_by"] = group_column(view.group_by, group_options) or NO_GROUP
    column = right.selectbox("Composition by", [NO_GROUP, *group_options], key="compare.group_by")
    explore_cut = literal(describe_cut(view.cut_kind, view.cut_value))
    left.caption(f"This page's budget, apart from the cut on Explore ({explore_cut}), which Export uses.")
    return Budget(SelectionRule(kind, value if kind == "top_percent" else int(value)),
                  None if column == NO_GROUP else column)


def evaluation_choices(current: DataChoice | None) -> dict[str, DataChoice]:
    """Held-out sets to offer: other bundled target sets (ProofNet test beside ProofNet valid), or the
    loaded target's file with another value of its row filter."""
    offered: dict[str, DataChoice] = {}
    for name, item in DEMO_DATASETS.items():
        if getattr(item, "role", None) == "target" and not (current and current.kind == "demo"
                                                             and current.location == name):
            offered[f"demo: {name}"] = DataChoice("demo", name)
    if current is not None and current.filter_column:
        for other in ("test", "validation", "valid", "train"):
            if other != current.filter_value:
                offered[f"{datasets.describe(current)} with {current.filter_column} = {other}"] = (
                    dataclasses.replace(current, filter_value=other))
    return dict(sorted(offered.items(), key=lambda item: "test" not in item[0]))


def run_proxy(source: LoadedTexts, target: LoadedTexts, view: ViewState, scores: MethodScores,
              evaluation_name: str, evaluation_choice: DataChoice, ks_text: str, unit: str) -> dict | None:
    """Train and evaluate the proxy models; errors are shown in place (None)."""
    try:
        ks = [int(part) for part in ks_text.replace(",", " ").split()]
    except ValueError:
        st.error("Budgets are whole numbers separated by commas.", icon=":material/error:")
        return None
    try:
        evaluation, _ = datasets.load_choice(evaluation_choice)
        bar = st.progress(0.0, text="training and evaluating models...")
        try:
            proxy = proxy_evaluation(source.texts, scores.scores, evaluation.texts, target.texts, ks=ks,
                                     budget_unit=unit, progress=lambda done, total: bar.progress(done / total))
        finally:
            bar.empty()  # the run is over, whichever way: no full bar left behind
    except ZipFitError as error:
        st.error(message(error), icon=":material/error:")
        return None
    content = proxy.to_dict()
    content["inputs"] = {"source": datasets.describe(view.source), "selection_target": datasets.describe(view.target),
                         "evaluation_target": evaluation_name, "methods": list(scores.specs.values())}
    return content


def baseline_text(content: dict) -> str:
    if content["no_selection_rows"] == content["n_sources"]:
        return NO_SELECTION
    return f"no selection (a random {content['no_selection_rows']:,} of {content['n_sources']:,} rows)"


def composition_columns(table) -> dict:
    """Column labels for the composition table: `NAME_share` reads as `NAME, share of kept`."""
    config = {"pool": st.column_config.NumberColumn("pool, rows", format="%d"),
              "pool_share": st.column_config.NumberColumn("pool, share", format="percent")}
    for name in table.columns:
        if name in config:
            continue
        if name.endswith("_share"):
            config[name] = st.column_config.NumberColumn(f"{name.removesuffix('_share')}, share of kept",
                                                         format="percent")
        else:
            config[name] = st.column_config.NumberColumn(f"{name}, rows kept", format="%d")
    return config
