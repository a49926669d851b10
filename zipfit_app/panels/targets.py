"""Which targets the cut serves (Explore): coverage, the targets from worst served, a target's nearest pool rows and
how far they stand above its typical similarity, and the gaps to download. Numbers: `analysis.coverage`."""

from __future__ import annotations

import streamlit as st

from zipfit_core.analysis.coverage import (
    coverage_of_prefix,
    coverage_of_rows,
    gaps_table,
    nearest_rows_of_target,
    served_targets,
)

from .context import ExploreContext, sample_table

WORST_SHOWN = 10


def coverage_section(context: ExploreContext) -> None:
    """Coverage of the cut over the targets; nothing when the scores have no per-target facts (said why)."""
    st.subheader("Targets served by the cut")
    facts = context.facts
    if facts is None or context.target is None:
        st.caption("Coverage needs the exact ZIP-FIT scores of this pool and target set (the per-target facts are "
                   "kept with them in the score cache): score them to see which targets the cut serves.")
        return
    coverage = (coverage_of_prefix(facts, context.index.rank_of_row, context.summary.n_kept)
                if context.kept_rows is None else coverage_of_rows(facts, context.kept_rows, context.index.n_rows))
    st.metric("Targets covered", f"{coverage.covered:,} of {coverage.targets:,}",
              help=f"A target is covered when one of its {facts.k} most similar pool rows is kept.")
    table = served_targets(facts, coverage, context.target.texts)
    st.markdown("**Worst served targets first.** *Nearest kept*: the place of its nearest kept row among its "
                f"{facts.k} nearest (0: none kept). *Above typical*: how many spreads its nearest row stands above "
                "the target's typical similarity over the pool: a match, or only the best there is?")
    st.dataframe(table.head(WORST_SHOWN), hide_index=True, key="explore.targets.worst")
    targets = table["target"].tolist()
    picked = st.selectbox("Nearest pool rows of target", targets, key="explore.targets.pick",
                          format_func=lambda target: f"target {target}")
    nearest = nearest_rows_of_target(facts, int(picked))
    sample_table(context, nearest["row"].to_numpy(), f"explore.targets.nearest.{picked}",
                 extra={"similarity": nearest["similarity"].to_numpy(),
                        "above typical": nearest["above typical"].round(2).to_numpy()})
    if coverage.uncovered:
        gaps = gaps_table(facts, coverage, context.target.texts)
        st.warning(f"{len(gaps):,} target{'s' if len(gaps) != 1 else ''} uncovered: none of their nearest pool rows "
                   "is kept. If even their nearest rows are barely above typical, nothing in the pool is close to "
                   "them: find more data like them.", icon=":material/search:")
        st.download_button("Download the uncovered targets (CSV)", gaps.to_csv(index=False), "uncovered-targets.csv",
                           mime="text/csv", key="explore.targets.gaps", icon=":material/download:")
