"""Compare: ZIP-FIT beside DSIR, TF-IDF and random on the loaded data; length bias; a quick proxy evaluation.

Every number comes from zipfit_core (`selectors`, `compare`, `proxy_eval`); this page lays out widgets.
ZIP-FIT's scores are the Score page's job (same codec and level); the baselines are computed here on
request and kept in the score cache, so they are computed once per data set and settings.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from zipfit_app import datasets, scoring
from zipfit_app.charts import PALETTE
from zipfit_app.view import get_view
from zipfit_core.compare import (composition, exclusive_rows, kept_sets, length_bias, overlaps, rank_correlations,
                                 score_length_sample)
from zipfit_core.errors import ZipFitError
from zipfit_core.explore import DataChoice, group_columns
from zipfit_core.proxy_eval import BUDGET_UNITS, NO_SELECTION, default_budgets, proxy_evaluation
from zipfit_core.selection import SelectionRule
from zipfit_core.selectors import SELECTORS, compressed_sizes, length_debiased, method_spec, score_sources, stored_scores

try:
    from zipfit_core.demo import DEMO_DATASETS
except ImportError:  # a copy without the bundled demo data
    DEMO_DATASETS = {}

DEBIASED_FORMULA = ("debiased(x) = align(x) - (a + b * ln C(x)), where C(x) is the compressed size of the source "
                    "alone and a, b are the least-squares fit of align on ln C over this pool: the part of the "
                    "ZIP-FIT score that source length does not explain. Not the paper's score.")
BUDGETS = {"top_percent": "Top percent", "top_k": "Top K rows", "token_budget": "Token budget"}
COMPRESSION_SETTINGS = ("codec", "level", "workers")
SHOWN_ROWS = 20

st.title("Compare")
st.caption("ZIP-FIT beside other selectors on your data: what each keeps at the same budget, how their rankings "
           "agree, how strongly each favours short or long rows, and a quick proxy of what training on each "
           "selection buys on held-out targets.")

view = get_view()
try:
    source, target = datasets.current("source"), datasets.current("target")
except ZipFitError as error:
    st.error(str(error), icon=":material/error:")
    st.stop()
if source is None or target is None:
    st.info("Load a source pool and a target set first.", icon=":material/info:")
    st.page_link("pages/1_Data.py", label="Go to Data", icon=":material/database:")
    st.stop()
cache_dir = scoring.manager().cache_dir

# ------------------------------------------------------------------------------------------ methods
labels = {name: info.label for name, info in SELECTORS.items()}
chosen = st.multiselect("Methods", list(SELECTORS), default=["zipfit", "dsir", "tfidf", "random"],
                        format_func=labels.get, key="compare.methods")
settings: dict[str, dict] = {}
with st.expander("Method settings", icon=":material/tune:"):
    st.caption(f"ZIP-FIT uses the Score page's compressor: {view.codec} level {view.level}.")
    for name in chosen:
        info = SELECTORS[name]
        own = [setting for setting in info.settings if setting.name not in COMPRESSION_SETTINGS]
        values = {"codec": view.codec, "level": view.level} if len(own) < len(info.settings) else {}
        if own:
            st.markdown(f"**{info.label}**: {info.description}")
            columns = st.columns(len(own))
            for column, setting in zip(columns, own):
                key = f"compare.{name}.{setting.name}"
                if setting.choices:
                    values[setting.name] = column.selectbox(setting.name, setting.choices, key=key,
                                                            index=setting.choices.index(setting.default),
                                                            help=setting.description)
                else:
                    values[setting.name] = column.number_input(setting.name, value=setting.default, step=1,
                                                               key=key, help=setting.description)
        settings[name] = values
if "zipfit-debiased" in chosen:
    st.info("**ZIP-FIT, length-debiased** is a variant, not the paper's score: " + DEBIASED_FORMULA,
            icon=":material/straighten:")
if len(chosen) < 2:
    st.info("Choose at least two methods.", icon=":material/info:")
    st.stop()

# ------------------------------------------------------------------------------------------ scores
job_id = scoring.current_job(view) or scoring.attach_cached(source, target, view)  # as the Score page does
shown = scoring.shown_scores(job_id) if job_id else None
zipfit_ready = shown is not None and shown.complete


def zipfit_based(name: str) -> np.ndarray | None:
    """ZIP-FIT from the Score page's job; the debiased variant derived from it."""
    if not zipfit_ready:
        return None
    if name == "zipfit":
        return shown.scores
    return _debiased(shown.version, view.codec, view.level, shown.scores, source.texts)


@st.cache_resource(max_entries=4, show_spinner="Measuring compressed lengths...")
def _debiased(version: str, codec: str, level: int, _scores: np.ndarray, _texts: list[str]) -> np.ndarray:
    return length_debiased(_scores, compressed_sizes(_texts, codec, level))


scores: dict[str, np.ndarray] = {}
versions: dict[str, str] = {}  # what each method's numbers are, for the caches below
missing: list[str] = []
for name in chosen:
    if name in ("zipfit", "zipfit-debiased"):
        values = zipfit_based(name)
        version = f"{name}:{shown.version if shown else ''}:{view.codec}:{view.level}"
    else:
        values = stored_scores(name, source.texts, target.texts, cache_dir=cache_dir, **settings[name])
        version = f"{method_spec(name, settings[name])}:{source.fingerprint}:{target.fingerprint}"
    if values is None:
        missing.append(name)
    else:
        scores[method_spec(name, settings[name])] = values
        versions[method_spec(name, settings[name])] = version

if any(name in ("zipfit", "zipfit-debiased") for name in missing):
    st.warning("ZIP-FIT scores are not complete for this data: score it on the Score page "
               f"({view.codec} level {view.level}); the other methods can be compared meanwhile.",
               icon=":material/hourglass_top:")
    st.page_link("pages/2_Score.py", label="Go to Score", icon=":material/speed:")
baselines_missing = [name for name in missing if name not in ("zipfit", "zipfit-debiased")]
if baselines_missing:
    names = ", ".join(labels[name] for name in baselines_missing)
    if st.button(f"Compute {names} ({len(source.texts):,} rows)", type="primary", icon=":material/play_arrow:"):
        bar = st.progress(0.0)
        try:
            for number, name in enumerate(baselines_missing):
                def progress(done: int, total: int, number=number, name=name) -> None:
                    bar.progress((number + (done / total if total else 1)) / len(baselines_missing),
                                 text=f"{labels[name]}: {done:,} of {total:,}")
                score_sources(name, source.texts, target.texts, progress=progress, cache_dir=cache_dir,
                              **settings[name])
        except ZipFitError as error:
            st.error(str(error), icon=":material/error:")
        else:
            st.rerun()
if len(scores) < 2:
    st.stop()


def short(spec: str) -> str:
    name = spec.split(":")[0]
    return labels.get(name, spec) if sum(key.split(":")[0] == name for key in scores) == 1 else spec


shown_names = {spec: short(spec) for spec in scores}
named_scores = {shown_names[spec]: values for spec, values in scores.items()}
scores_version = json.dumps({shown_names[spec]: version for spec, version in versions.items()}, sort_keys=True)


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

# ------------------------------------------------------------------------------------------ budget
left, right = st.columns([1, 2])
kind = left.radio("Budget", list(BUDGETS), format_func=BUDGETS.get, key="compare.budget_kind", horizontal=False)
defaults = {"top_percent": 10.0, "top_k": float(min(100, len(source.texts))), "token_budget": 100_000.0}
value = right.number_input(BUDGETS[kind], min_value=0.0, value=defaults[kind],
                           max_value=100.0 if kind == "top_percent" else None,
                           step=1.0, key=f"compare.budget.{kind}")
group_options = group_columns(source.table, exclude=[source.text_field])
column = right.selectbox("Composition by", ["(none)", *group_options], key="compare.group_by",
                         index=next((i + 1 for i, name in enumerate(group_options) if name in ("domain", "source")), 0))
try:
    rule = SelectionRule(kind, value if kind == "top_percent" else int(value))
    correlations, bias = whole_pool(scores_version, named_scores, datasets.char_counts(source))
    selections, overlap_table, exclusive, composition_table = at_budget(
        scores_version, rule.kind, rule.value, None if column == "(none)" else column, named_scores,
        datasets.token_counts(source) if kind == "token_budget" else None,
        source.table[column].tolist() if column != "(none)" else None)
except ZipFitError as error:
    st.error(str(error), icon=":material/error:")
    st.stop()

kept = {name: selection.n_rows for name, selection in selections.items()}
st.markdown(f"**{rule.describe()}** of {len(source.texts):,} rows: "
            + ", ".join(f"{name} keeps {count:,}" for name, count in kept.items()) + ".")
overlap_tab, rank_tab, composition_tab, only_tab, length_tab = st.tabs(
    ["Overlap", "Rank correlation", "Composition", "Rows only one method keeps", "Length bias"])
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
        st.dataframe(composition_table, column_config={
            name: st.column_config.NumberColumn(format="percent") for name in composition_table.columns
            if name.endswith("_share")})
with only_tab:
    inner = st.tabs([f"{name} ({len(rows):,})" for name, rows in exclusive.items()])
    for tab, (name, rows) in zip(inner, exclusive.items()):
        with tab:
            if not len(rows):
                st.caption("Every row this method keeps is kept by another method too.")
                continue
            first = rows[:SHOWN_ROWS]
            st.dataframe({"row": first, "score": named_scores[name][first],
                          "chars": datasets.char_counts(source)[first],
                          "text": [" ".join(source.texts[row][:300].split()) for row in first]},
                         hide_index=True)
with length_tab:
    st.caption("Spearman's rho between score and length in characters: negative = the method prefers short "
               "rows. ZIP-FIT's score favours short texts (an unrelated text's 1 - NCD is about the gzip "
               "header over its compressed size).")
    st.dataframe(bias, hide_index=True, column_config={
        "spearman_score_length": st.column_config.NumberColumn("Spearman (score, length)", format="%.3f"),
        "pearson_score_log_length": st.column_config.NumberColumn("Pearson (score, ln length)", format="%.3f")})
    sample = score_length_sample(named_scores, datasets.char_counts(source), max_points=2000)
    figure = go.Figure()
    for number, name in enumerate(named_scores):
        part = sample[sample["method"] == name]
        # Each method's scores on their own scale: ranks within the sample make them comparable.
        figure.add_trace(go.Scattergl(x=part["length"], y=part["score"].rank(pct=True), mode="markers",
                                      name=name, marker=dict(size=4, opacity=0.5, color=PALETTE[number])))
    figure.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), xaxis_type="log",
                         xaxis_title="length (characters)", yaxis_title="score percentile within the method",
                         legend=dict(orientation="h", y=1.05))
    st.plotly_chart(figure, width="stretch")

# ------------------------------------------------------------------------------------------ proxy evaluation
st.subheader("Proxy evaluation (not fine-tuning)")
st.caption("A character 5-gram language model (interpolated Kneser-Ney) is trained on each method's best rows "
           "for several budgets and scored on **held-out** target rows, in bits per character (lower is better). "
           "It is cheap and honest about what it is: a proxy for the paper's fine-tuning loss curves.")


def evaluation_choices() -> dict[str, DataChoice]:
    """Held-out sets to offer: other bundled target sets (ProofNet test beside ProofNet valid), or the
    loaded target's file with another value of its row filter."""
    offered: dict[str, DataChoice] = {}
    current = view.target
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


choices = evaluation_choices()
if not choices:
    st.info("No held-out target set to offer: load a target with a row filter (e.g. split = valid) or use the "
            "demo targets. The command `zipfit proxy-eval` takes any file.", icon=":material/info:")
    st.stop()
evaluation_name = st.selectbox("Held-out evaluation targets", list(choices), key="compare.eval")
unit_column, k_column = st.columns([1, 2])
unit = unit_column.radio("Budget unit", BUDGET_UNITS, key="compare.proxy_unit", horizontal=True,
                         format_func={"rows": "rows (top-k)", "chars": "characters"}.get,
                         help="characters: every method trains on the same amount of text (the last row is "
                              "cut), so a preference for short rows does not mean less training text")
ks_text = k_column.text_input("Budgets k", ", ".join(map(str, default_budgets(datasets.char_counts(source), unit))),
                              key=f"compare.ks.{unit}")
if st.button("Run the proxy evaluation", icon=":material/science:"):
    try:
        ks = [int(part) for part in ks_text.replace(",", " ").split()]
    except ValueError:
        st.error("Budgets are whole numbers separated by commas.", icon=":material/error:")
        st.stop()
    try:
        evaluation, _ = datasets.load_choice(choices[evaluation_name])
        bar = st.progress(0.0, text="training and evaluating models...")
        proxy = proxy_evaluation(source.texts, named_scores, evaluation.texts, target.texts, ks=ks,
                                 budget_unit=unit, progress=lambda done, total: bar.progress(done / total))
    except ZipFitError as error:
        st.error(str(error), icon=":material/error:")
        st.stop()
    content = proxy.to_dict()
    content["inputs"] = {"source": datasets.describe(view.source), "selection_target": datasets.describe(view.target),
                         "evaluation_target": evaluation_name, "methods": list(scores)}
    st.session_state["compare.proxy"] = content

content = st.session_state.get("compare.proxy")
if content is not None:
    st.success(f"Selection targets ({content['inputs']['selection_target']}) and evaluation targets "
               f"({content['inputs']['evaluation_target']}, {content['evaluation_rows']:,} rows) are disjoint: "
               "checked row by row by text fingerprint.", icon=":material/verified:")
    if content["evaluation_rows_in_pool"]:
        st.warning(f"{content['evaluation_rows_in_pool']} held-out rows also occur in the source pool, so a "
                   "selection can train on them.", icon=":material/warning:")
    unit_name = content["settings"]["budget_unit"]
    figure = go.Figure()
    for number, curve in enumerate(content["curves"]):
        figure.add_trace(go.Scatter(x=curve["ks"], y=curve["bits_per_char"], mode="lines+markers",
                                    name=shown_names.get(curve["method"], curve["method"]),
                                    line=dict(color=PALETTE[number % len(PALETTE)])))
    baseline = NO_SELECTION if content["no_selection_rows"] == content["n_sources"] else (
        f"no selection (a random {content['no_selection_rows']:,} of {content['n_sources']:,} rows)")
    figure.add_hline(y=content["no_selection_bits_per_char"], line_dash="dash", line_color="#555555",
                     annotation_text=f"{baseline}: {content['no_selection_bits_per_char']:.3f}",
                     annotation_position="top right")
    figure.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), xaxis_type="log",
                         xaxis_title=f"k ({unit_name} of each method's best rows)",
                         yaxis_title="held-out bits per character", legend=dict(orientation="h", y=1.08))
    st.plotly_chart(figure, width="stretch")
    st.caption(f"Untrained model (uniform over {content['alphabet_size']} characters): "
               f"{content['untrained_bits_per_char']:.3f} bits per character. Proxy, not fine-tuning.")
    st.download_button("Download the curves (JSON)", json.dumps(content, indent=2), "proxy_eval.json",
                       mime="application/json", icon=":material/download:")
