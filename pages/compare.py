"""Compare: ZIP-FIT beside DSIR, TF-IDF and random on the loaded data; length bias; a quick proxy evaluation.

Every number comes from zipfit_core (`scoring.methods`, `analysis.compare`, `analysis.proxy_eval`) through
zipfit_app.compare_panel; this page lays out widgets. Scores are shared with the Score page (same jobs, runs and cache).
"""

import json

import streamlit as st

from zipfit_app import compare_panel as panel
from zipfit_app import datasets
from zipfit_app.charts import length_profile_figure, proxy_curves_figure
from zipfit_app.frame import require_frame
from zipfit_app.markdown import literal, message
from zipfit_app.view import get_view
from zipfit_app.view_state import describe_cut
from zipfit_core.analysis.explore import group_columns
from zipfit_core.analysis.proxy_eval import BUDGET_UNITS, default_budgets
from zipfit_core.errors import ZipFitError

require_frame()  # a first request naming this page runs it alone: draw the whole app instead

st.title("Compare")
st.caption("ZIP-FIT beside other selectors on your data: what each keeps at the same budget, how their rankings "
           "agree, how strongly each favours short or long rows, and a quick proxy of what training on each "
           "selection buys on held-out targets.")

view = get_view()
try:
    source, target = datasets.current("source"), datasets.current("target")
except ZipFitError as error:
    st.error(message(error), icon=":material/error:")
    st.stop()
if source is None or target is None:
    st.info("Load a source pool and a target set first.", icon=":material/info:")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/database:")
    st.stop()

chosen, settings = panel.choose_methods(view)
if len(chosen) < 2:
    st.info("Choose at least two methods.", icon=":material/info:")
    st.stop()
scores = panel.collect_scores(source, target, view, chosen, settings)
panel.compute_missing(source, target, view, scores.missing, settings)
if len(scores.scores) < 2:
    st.stop()

lengths = datasets.char_counts(source)
try:
    budget = panel.budget_controls(source, group_columns(source.table, exclude=[source.text_field]), view)
    correlations, bias = panel.whole_pool(scores.version, scores.scores, lengths)
    selections, overlap_table, exclusive, composition_table = panel.at_budget(
        scores.version, budget.rule.kind, budget.rule.value, budget.column, scores.scores,
        datasets.token_counts(source) if budget.rule.kind == "token_budget" else None,
        source.table[budget.column].tolist() if budget.column else None)
except ZipFitError as error:
    st.error(message(error), icon=":material/error:")
    st.stop()

st.markdown(f"**{describe_cut(budget.rule.kind, budget.rule.value)}** of {len(source.texts):,} rows: "
            + ", ".join(f"{name} keeps {selection.n_rows:,}" for name, selection in selections.items()) + ".")
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
        st.dataframe(composition_table, column_config=panel.composition_columns(composition_table))
with only_tab:
    inner = st.tabs([f"{name} ({len(rows):,})" for name, rows in exclusive.items()])
    for tab, (name, rows) in zip(inner, exclusive.items()):
        with tab:
            if not len(rows):
                st.caption("Every row this method keeps is kept by another method too.")
                continue
            first = rows[:panel.SHOWN_ROWS]
            st.dataframe({"row": first, "score": scores.scores[name][first], "chars": lengths[first],
                          "text": [" ".join(source.texts[row][:300].split()) for row in first]}, hide_index=True,
                         column_config={"row": st.column_config.NumberColumn(format="%d"),
                                        "score": st.column_config.NumberColumn(format="%.4f"),  # one format for all
                                        "chars": st.column_config.NumberColumn(format="%d")})
with length_tab:
    st.caption("Spearman's rho between score and length in characters: negative = the method prefers short "
               "rows. ZIP-FIT's score favours short texts (an unrelated text's 1 - NCD is about the gzip "
               "header over its compressed size).")
    st.dataframe(bias, hide_index=True, column_config={
        "spearman_score_length": st.column_config.NumberColumn("Spearman (score, length)", format="%.3f"),
        "pearson_score_log_length": st.column_config.NumberColumn("Pearson (score, ln length)", format="%.3f")})
    st.plotly_chart(length_profile_figure(panel.length_view(scores.version, scores.scores, lengths),
                                          list(scores.scores)), width="stretch", key="compare.length")
    st.caption("Each point is a band of rows of similar length (equal row counts): the line is where the band's "
               "rows rank within the method (median score percentile; 1 = best), the shaded band the middle "
               "half. A falling line favours short rows.")

st.subheader("Proxy evaluation (not fine-tuning)")
st.caption("A character 5-gram language model (interpolated Kneser-Ney) is trained on each method's best rows "
           "for several budgets and scored on **held-out** target rows, in bits per character (lower is better). "
           "It is cheap and honest about what it is: a proxy for the paper's fine-tuning loss curves.")
choices = panel.evaluation_choices(view.target)
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
ks_text = k_column.text_input("Budgets k", ", ".join(map(str, default_budgets(lengths, unit))),
                              key=f"compare.ks.{unit}")
if st.button("Run the proxy evaluation", icon=":material/science:"):
    content = panel.run_proxy(source, target, view, scores, evaluation_name, choices[evaluation_name], ks_text, unit)
    if content is None:
        st.stop()
    st.session_state["compare.proxy"] = content

content = st.session_state.get("compare.proxy")
if content is not None:
    st.success(f"Selection targets ({literal(content['inputs']['selection_target'])}) and evaluation targets "
               f"({literal(content['inputs']['evaluation_target'])}, {content['evaluation_rows']:,} rows) are "
               "disjoint: checked row by row by text fingerprint.", icon=":material/verified:")
    if content["evaluation_rows_in_pool"]:
        st.warning(f"{content['evaluation_rows_in_pool']} held-out rows also occur in the source pool, so a "
                   "selection can train on them.", icon=":material/warning:")
    st.plotly_chart(proxy_curves_figure(content, panel.baseline_text(content)), width="stretch")
    st.caption(f"Untrained model (uniform over {content['alphabet_size']} characters): "
               f"{content['untrained_bits_per_char']:.3f} bits per character. Proxy, not fine-tuning.")
    st.download_button("Download the curves (JSON)", json.dumps(content, indent=2), "proxy_eval.json",
                       mime="application/json", icon=":material/download:")
