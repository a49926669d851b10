"""The Compare page: ZIP-FIT beside DSIR, TF-IDF and random on the loaded data; length bias; a quick proxy
evaluation. Every number comes from zipfit_core (`analysis.compare`, `analysis.proxy_eval`) through
`services.compare`. Its results belong to the data, targets and scores they were computed for (a proxy
evaluation is never shown for another comparison)."""

from __future__ import annotations

import dataclasses
import json

import streamlit as st

from zipfit_core.analysis.coverage import balanced_ranking_scores, facts_for_pool
from zipfit_core.analysis.proxy_eval import BUDGET_UNITS, NO_SELECTION, default_budgets, proxy_evaluation
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.analysis.selection_measures import COMPRESSION_MEANING, KL_MEANING, describe_sampling
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.methods import METHODS

from ..actions import runs, view
from ..services import loaders, methods, scores, work
from ..services.compare import (
    ZIPFIT_BASED,
    MethodScores,
    at_budget,
    collect_scores,
    comparison_key,
    length_view,
    whole_pool,
    whole_selections,
)
from ..services.explore import NO_GROUP, group_column, group_options
from ..services.loaders import LoadedData
from ..state.records import ProxyResult
from ..state.session import Session, seed, show, widget
from ..state.view import DataChoice, describe_cut
from ..ui import notices
from ..ui.charts import composition_figure, length_profile_figure, proxy_curves_figure
from ..ui.markdown import literal, message
from ..ui.progress import work_progress
from ..ui.tables import composition_columns
from . import compare_balanced

BALANCED_NAME = "zipfit balanced"  # not the paper's rule: the curve's name says so
from .score import settings_widgets

try:
    from zipfit_core.data.demo import DEMO_DATASETS
except ImportError:  # a copy without the bundled demo data
    DEMO_DATASETS = {}

BUDGETS = {"top_percent": "Top percent", "top_k": "Top K rows", "token_budget": "Token budget"}
SHOWN_ROWS = 20


def page(session: Session) -> None:
    st.title("Compare")
    st.caption("ZIP-FIT beside other selectors on your data: what each keeps at the same budget, how their rankings "
               "agree, how strongly each favours short or long rows, and a quick proxy of what training on each "
               "selection buys on held-out targets.")
    try:
        data = runs.current_data(session)
    except ZipFitError as error:
        st.error(message(error), icon=":material/error:")
        return
    if data is None or data.target is None:
        st.info("Load a source pool and a target set first.", icon=":material/info:")
        st.page_link("pages/data.py", label="Go to Data", icon=":material/database:")
        return
    settings = choose_methods(session)
    if len(settings) < 2:
        st.info("Choose at least two methods.", icon=":material/info:")
        return
    found = collect_scores(data, session.view.codec, session.view.level, settings)
    compute_missing(session, data, found.missing, settings)
    if len(found.scores) < 2:
        return
    try:
        comparison(session, data, found)
    except ZipFitError as error:
        st.error(message(error), icon=":material/error:")
        return
    proxy_section(session, data, found)


def choose_methods(session: Session) -> dict[str, dict]:
    """The methods to compare, each with its settings (shared with the Score page's)."""
    seed("compare.methods", ["zipfit", "dsir", "tfidf", "random"])
    chosen = st.multiselect("Methods", list(METHODS), format_func=methods.label, key="compare.methods")
    with st.expander("Method settings", icon=":material/tune:"):
        st.caption(f"ZIP-FIT uses the Score page's compressor: {session.view.codec} level {session.view.level}.")
        for name in chosen:
            if methods.own_settings(name):
                st.markdown(f"**{methods.label(name)}**: {METHODS[name].description}")
                settings_widgets(session, name, "compare")
    if "zipfit-debiased" in chosen:
        st.info("**ZIP-FIT, length-debiased**: " + methods.DEBIASED_FORMULA, icon=":material/straighten:")
    return {name: methods.run_settings(name, view.method_settings_of(session, name), session.view.codec,
                                       session.view.level) for name in chosen}


def compute_missing(session: Session, data: LoadedData, missing: list[str], settings: dict[str, dict]) -> None:
    """Say what is missing; a button submits the missing baselines as background runs, followed with their
    progress and a Cancel button. The runs are found again by what they compute, so leaving the page loses none."""
    if any(name in ZIPFIT_BASED for name in missing):
        st.warning("ZIP-FIT scores are not complete for this data: score it on the Score page "
                   f"({session.view.codec} level {session.view.level}); the other methods can be compared meanwhile.",
                   icon=":material/hourglass_top:")
        st.page_link("pages/score.py", label="Go to Score", icon=":material/speed:")
    baselines = [name for name in missing if name not in ZIPFIT_BASED]
    if not baselines:
        return
    source, target = data.source, data.target
    ids = [work.manager().method_run_id(name, settings[name], source_fingerprint=source.fingerprint,
                                        target_fingerprint=target.fingerprint) for name in baselines]
    statuses = [work.find(run_id) for run_id in ids]
    if any(status is not None and not status.finished for status in statuses):
        work_progress(ids, what="A method", text=lambda status: f"{methods.label(status.kind)}: {status.state}, "
                                                                f"{status.done:,} of {status.total:,} {status.unit} "
                                                                f"({status.seconds:.0f} s)",
                      below=lambda current: _running_below(session, ids))
        return
    for status in statuses:  # an earlier attempt that did not finish
        if status is not None and status.state == "failed":
            st.error(f"{methods.label(status.kind)}: {message(status.error)}", icon=":material/error:")
        elif status is not None and status.state == "cancelled":
            st.warning(f"{methods.label(status.kind)} was cancelled: compute again to start it afresh.",
                       icon=":material/pause:")
    notices.show(session, "compare")
    names = ", ".join(methods.label(name) for name in baselines)
    st.button(f"Compute {names} ({len(source.texts):,} rows)", type="primary", icon=":material/play_arrow:",
              key="compare.compute", on_click=_submit, args=(session, data, baselines, settings))


def _running_below(session: Session, ids: list[str]) -> None:
    st.caption("Running in the background: leaving this page or closing the tab does not stop it.")
    st.button("Cancel", key="compare.cancel", icon=":material/stop:",
              on_click=lambda: [runs.let_go(session, run_id) for run_id in ids])


def _submit(session: Session, data: LoadedData, baselines: list[str], settings: dict[str, dict]) -> None:
    """Start (or join) the runs; the rerun that follows the click finds them running."""
    try:
        session.compare_runs = [
            work.manager().submit_method(name, data.source.texts, data.target.texts, settings[name],
                                         source_fingerprint=data.source.fingerprint,
                                         target_fingerprint=data.target.fingerprint)
            for name in baselines]
    except ZipFitError as error:
        session.notify("compare", str(error), "error")
        return
    for run_id in session.compare_runs:
        session.declined.discard(run_id)
        work.follow(run_id, session.id)


def budget_controls(session: Session, data: LoadedData) -> tuple[SelectionRule, str | None]:
    """The budget the methods are compared at: this page's own, first set to Explore's cut when that is a budget
    (a threshold is not: each method has its own scale); the composition column follows Explore's grouping."""
    current = session.view
    left, right = st.columns([1, 2])
    if current.cut_kind in BUDGETS:
        seed("compare.budget_kind", current.cut_kind)
        seed(f"compare.budget.{current.cut_kind}", float(current.cut_value))
    kind = left.radio("Budget", list(BUDGETS), format_func=BUDGETS.get, key="compare.budget_kind")
    defaults = {"top_percent": 10.0, "top_k": float(min(100, len(data.source.texts))), "token_budget": 100_000.0}
    seed(f"compare.budget.{kind}", defaults[kind])
    value = right.number_input(BUDGETS[kind], min_value=0.0, max_value=100.0 if kind == "top_percent" else None,
                               step=1.0, key=f"compare.budget.{kind}")
    options = group_options(data.source)
    if widget("compare.group_by") not in (NO_GROUP, *options):  # first visit, or another pool
        show("compare.group_by", group_column(current.group_by, data.source) or NO_GROUP)
    column = right.selectbox("Composition by", [NO_GROUP, *options], key="compare.group_by")
    left.caption(f"This page's budget, apart from the cut on Explore "
                 f"({literal(describe_cut(current.cut_kind, current.cut_value))}), which Export uses.")
    return SelectionRule(kind, value if kind == "top_percent" else int(value)), None if column == NO_GROUP else column


def comparison(session: Session, data: LoadedData, found: MethodScores) -> None:
    """Overlap, rank correlation, composition, rows only one method keeps, length bias: tables and charts."""
    source = data.source
    lengths = loaders.char_counts(source)
    rule, column = budget_controls(session, data)
    correlations, bias = whole_pool(found.version, found.scores, lengths)
    selections, overlap_table, exclusive, composition_table = at_budget(
        found.version, rule.kind, rule.value, column, found.scores,
        loaders.token_counts(source) if rule.kind == "token_budget" else None,
        source.table[column].tolist() if column else None)
    st.markdown(f"**{describe_cut(rule.kind, rule.value)}** of {len(source.texts):,} rows: "
                + ", ".join(f"{name} keeps {selection.n_rows:,}" for name, selection in selections.items()) + ".")
    overlap_tab, rank_tab, composition_tab, only_tab, length_tab, whole_tab, balanced_tab = st.tabs(
        ["Overlap", "Rank correlation", "Composition", "Rows only one method keeps", "Length bias",
         "The selection as a whole", "By score or balanced"])
    with overlap_tab:
        st.caption("Kept rows in common for each pair: intersection and Jaccard = |A and B| / |A or B|.")
        st.dataframe(overlap_table, hide_index=True, column_config={
            "jaccard": st.column_config.ProgressColumn("Jaccard", min_value=0.0, max_value=1.0, format="%.3f")})
    with rank_tab:
        st.caption("Agreement of the full rankings (all rows), not only of the kept rows.")
        st.dataframe(correlations, hide_index=True, column_config={
            "spearman": st.column_config.NumberColumn("Spearman rho", format="%.3f"),
            "kendall": st.column_config.NumberColumn("Kendall tau-b", format="%.3f")})
    with composition_tab:
        if composition_table is None:
            st.info("Choose a column above (e.g. `source` or `domain`) to see what each method keeps.")
        else:
            st.plotly_chart(composition_figure(composition_table, column), key="compare.composition")
            with st.expander("The numbers"):
                st.dataframe(composition_table, column_config=composition_columns(composition_table))
    with only_tab:
        _exclusive(found, data, exclusive, lengths)
    with length_tab:
        st.caption("Spearman's rho between score and length in characters: negative = the method prefers short "
                   "rows. ZIP-FIT's score favours short texts (an unrelated text's 1 - NCD is about the gzip "
                   "header over its compressed size).")
        st.dataframe(bias, hide_index=True, column_config={
            "spearman_score_length": st.column_config.NumberColumn("Spearman (score, length)", format="%.3f"),
            "pearson_score_log_length": st.column_config.NumberColumn("Pearson (score, ln length)", format="%.3f")})
        st.plotly_chart(length_profile_figure(length_view(found.version, found.scores, lengths), list(found.scores)),
                        width="stretch", key="compare.length")
        st.caption("Each point is a band of rows of similar length (equal row counts): the line is where the band's "
                   "rows rank within the method (median score percentile; 1 = best), the shaded band the middle "
                   "half. A falling line favours short rows.")
    with whole_tab:
        _whole_selections(found, data, rule, selections)
    with balanced_tab:
        compare_balanced.section(data, scores.zipfit_result(data, session.view.codec, session.view.level), rule,
                                 column)


def _whole_selections(found: MethodScores, data: LoadedData, rule, selections: dict) -> None:
    """KL reduction toward the targets and compression ratio of each selection, each with what it means."""
    target = data.target
    measured = whole_selections(found.version, rule.kind, rule.value, target.fingerprint if target else "",
                                selections, data.source.texts, target.texts if target else None)
    st.caption(f"{KL_MEANING}.  \n{COMPRESSION_MEANING}.  \nBoth {describe_sampling(measured)}."
               + ("" if target else " Load targets to see the KL reduction."))
    st.dataframe(measured.table[["method", "kl_reduction", "compression_ratio", "rows_measured"]], hide_index=True,
                 key="compare.whole", column_config={
                     "kl_reduction": st.column_config.NumberColumn("KL reduction (nats)", format="%.3f"),
                     "compression_ratio": st.column_config.NumberColumn("Compression ratio", format="%.3f"),
                     "rows_measured": st.column_config.NumberColumn("Rows measured", format="%d")})


def _exclusive(found: MethodScores, data: LoadedData, exclusive: dict, lengths) -> None:
    inner = st.tabs([f"{name} ({len(rows):,})" for name, rows in exclusive.items()])
    for tab, (name, rows) in zip(inner, exclusive.items()):
        with tab:
            if not len(rows):
                st.caption("Every row this method keeps is kept by another method too.")
                continue
            first = rows[:SHOWN_ROWS]
            st.dataframe({"row": first, "score": found.scores[name][first], "chars": lengths[first],
                          "text": [" ".join(data.source.texts[row][:300].split()) for row in first]},
                         hide_index=True,
                         column_config={"row": st.column_config.NumberColumn(format="%d"),
                                        "score": st.column_config.NumberColumn(format="%.4f"),  # one format for all
                                        "chars": st.column_config.NumberColumn(format="%d")})


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
                offered[f"{loaders.describe(current)} with {current.filter_column} = {other}"] = (
                    dataclasses.replace(current, filter_value=other))
    return dict(sorted(offered.items(), key=lambda item: "test" not in item[0]))


def proxy_section(session: Session, data: LoadedData, found: MethodScores) -> None:
    st.subheader("Proxy evaluation (not fine-tuning)")
    st.caption("A character 5-gram language model (interpolated Kneser-Ney) is trained on each method's best rows "
               "for several budgets and scored on **held-out** target rows, in bits per character (lower is "
               "better). It is cheap and honest about what it is: a proxy for the paper's fine-tuning loss curves.")
    choices = evaluation_choices(session.choice("target"))
    if not choices:
        st.info("No held-out target set to offer: load a target with a row filter (e.g. split = valid) or use the "
                "demo targets. The command `zipfit proxy-eval` takes any file.", icon=":material/info:")
        return
    evaluation_name = st.selectbox("Held-out evaluation targets", list(choices), key="compare.eval")
    unit_column, k_column = st.columns([1, 2])
    unit = unit_column.radio("Budget unit", BUDGET_UNITS, key="compare.proxy_unit", horizontal=True,
                             format_func={"rows": "rows (top-k)", "chars": "characters"}.get,
                             help="characters: every method trains on the same amount of text (the last row is "
                                  "cut), so a preference for short rows does not mean less training text")
    lengths = loaders.char_counts(data.source)
    ks_text = k_column.text_input("Budgets k", ", ".join(map(str, default_budgets(lengths, unit))),
                                  key=f"compare.ks.{unit}")
    key = comparison_key(data, found)
    if st.button("Run the proxy evaluation", icon=":material/science:", key="compare.proxy_run"):
        content = run_proxy(session, data, found, evaluation_name, choices[evaluation_name], ks_text, unit)
        if content is not None:
            session.proxy_result = ProxyResult(key, content)
    result = session.proxy_result
    if result is None or result.comparison != key:
        return  # nothing computed for this data, these targets and these scores
    content = result.content
    st.success(f"Selection targets ({literal(content['inputs']['selection_target'])}) and evaluation targets "
               f"({literal(content['inputs']['evaluation_target'])}, {content['evaluation_rows']:,} rows) are "
               "disjoint: checked row by row by text fingerprint.", icon=":material/verified:")
    if content["evaluation_rows_in_pool"]:
        st.warning(f"{content['evaluation_rows_in_pool']:,} held-out rows also occur in the source pool, so a "
                   "selection can train on them.", icon=":material/warning:")
    st.plotly_chart(proxy_curves_figure(content, baseline_text(content)), width="stretch")
    st.caption(f"Untrained model (uniform over {content['alphabet_size']} characters): "
               f"{content['untrained_bits_per_char']:.3f} bits per character. Proxy, not fine-tuning.")
    st.download_button("Download the curves (JSON)", json.dumps(content, indent=2), "proxy_eval.json",
                       mime="application/json", icon=":material/download:")


def run_proxy(session: Session, data: LoadedData, found: MethodScores, evaluation_name: str,
              evaluation_choice: DataChoice, ks_text: str, unit: str) -> dict | None:
    """Train and evaluate the proxy models; errors are shown in place (None)."""
    try:
        ks = [int(part) for part in ks_text.replace(",", " ").split()]
    except ValueError:
        st.error("Budgets are whole numbers separated by commas.", icon=":material/error:")
        return None
    try:
        evaluation, _ = loaders.load_choice(evaluation_choice)
        bar = st.progress(0.0, text="training and evaluating models...")
        try:
            proxy = proxy_evaluation(data.source.texts, proxy_scores(session, data, found), evaluation.texts,
                                     data.target.texts, ks=ks,
                                     budget_unit=unit, progress=lambda done, total: bar.progress(done / total))
        finally:
            bar.empty()  # the run is over, whichever way: no full bar left behind
    except ZipFitError as error:
        st.error(message(error), icon=":material/error:")
        return None
    content = proxy.to_dict()
    content["inputs"] = {"source": loaders.describe(session.choice("source")),
                         "selection_target": loaders.describe(session.choice("target")),
                         "evaluation_target": evaluation_name, "methods": list(found.specs.values())}
    return content


def proxy_scores(session: Session, data: LoadedData, found: MethodScores) -> dict:
    """Each method's scores, and ZIP-FIT balanced over the targets when its per-target facts are known (trained
    on in the order the balanced rule takes rows)."""
    shown = dict(found.scores)
    zipfit = scores.zipfit_result(data, session.view.codec, session.view.level)
    facts = facts_for_pool(scores.target_facts_of(zipfit), len(zipfit.scores)) if zipfit is not None else None
    if facts is not None:
        shown[BALANCED_NAME] = balanced_ranking_scores(zipfit.scores, facts)
    return shown


def baseline_text(content: dict) -> str:
    if content["no_selection_rows"] == content["n_sources"]:
        return NO_SELECTION
    return f"no selection (a random {content['no_selection_rows']:,} of {content['n_sources']:,} rows)"
