"""Compare, for ZIP-FIT's scores: the paper's cut (by score) beside the cut balanced over the targets at the same
budget: targets covered by each, their overlap (Jaccard), composition by the group column. Numbers:
`analysis.coverage.compare_balanced`, cached by `services.compare.balanced_comparison`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from zipfit_core.analysis.coverage import BALANCED_RULE_NOTE, balance_unavailable, facts_for_pool
from zipfit_core.analysis.selection import SelectionRule

from ..services import loaders, scores
from ..services.compare import balanced_comparison
from ..services.loaders import LoadedData
from ..state.view import describe_cut
from ..ui.tables import composition_columns


def section(data: LoadedData, zipfit: scores.ShownScores | None, rule: SelectionRule, column: str | None) -> None:
    st.subheader("By score or balanced over the targets")
    st.caption(f"ZIP-FIT's cut at this budget beside the same budget {BALANCED_RULE_NOTE}: how many targets each "
               "serves (one of a target's nearest pool rows kept), and how much the two keep in common.")
    facts = facts_for_pool(scores.target_facts_of(zipfit), len(zipfit.scores)) if zipfit is not None else None
    reason = balance_unavailable(rule.kind, facts)
    if reason is not None:
        st.info(f"No balanced cut to compare: {reason}.", icon=":material/info:")
        return
    source = data.source
    result = balanced_comparison(zipfit.version, rule.kind, rule.value, column, zipfit.scores, facts,
                                 loaders.token_counts(source) if rule.kind == "token_budget" else None,
                                 source.table[column].tolist() if column else None)
    table = pd.DataFrame({
        "cut": list(result.selections),
        "rows kept": [chosen.n_rows for chosen in result.selections.values()],
        "targets covered": [result.coverages[name].covered for name in result.selections],
        "targets": [result.coverages[name].targets for name in result.selections],
    })
    st.markdown(f"**{describe_cut(rule.kind, rule.value)}**: the two cuts share {result.overlap.intersection:,} "
                f"rows (Jaccard {result.overlap.jaccard:.3f}).")
    st.dataframe(table, hide_index=True, key="compare.balanced.coverage")
    if result.composition is not None:  # the pool's own column is on the Composition tab
        kept = result.composition.drop(columns=["pool", "pool_share"])
        st.dataframe(kept, key="compare.balanced.composition", column_config=composition_columns(kept))
    st.caption("The proxy evaluation below adds **zipfit balanced**: a model trained on the rows in the order the "
               "balanced rule takes them, beside each method's best rows by score.")
