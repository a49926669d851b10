"""One row in full, in a dialog over the page (a click on a row opens it where the user is looking): its
numbers, what the notes say about it, its text, and its nearest targets, as many as asked for, each readable
in full. Closing the dialog closes the row (the view's `row`, so a link reopens it)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from zipfit_core.analysis.nearest import nearest_targets

from ..actions import view
from ..services import methods
from ..ui.keys import escape_closes_dialogs
from ..ui.markdown import literal
from .context import ExploreContext

NEAREST_AUTO_MAX_CHARS = 50_000  # longer rows compute their nearest targets on request
NEAREST_SHOWN = (5, 10, 25, 50, "all")
NEAREST_KEY = "explore.nearest_k"
NEAREST_TABLE_KEY = "explore.nearest_table"  # + the row: a target picked for one row is not kept for another


def row_detail(context: ExploreContext, notes: Callable[[ExploreContext, int], None] | None = None,
               actions: Callable[[ExploreContext, int], None] | None = None) -> None:
    """The view's open row in a dialog; a row number the pool does not have is a warning on the page."""
    row = context.session.view.row
    if row is None:
        return
    if not 0 <= row < context.index.n_rows:
        st.warning(f"Row {row} does not exist in this pool ({context.index.n_rows:,} rows).", icon=":material/warning:")
        return
    escape_closes_dialogs()
    st.dialog(f"Row {row}", width="large", on_dismiss=lambda: view.close_row(context.session))(_row_body)(
        context, row, notes, actions)


def _row_body(context: ExploreContext, row: int, notes: Callable[[ExploreContext, int], None] | None,
              actions: Callable[[ExploreContext, int], None] | None) -> None:
    """Text, length, rank, keep or leave out (`actions`), what `notes` says about it, and its nearest targets by
    1 - NCD."""
    index, summary = context.index, context.summary
    text = context.source.texts[row]
    rank = int(index.ranks_of([row])[0])
    cells = st.columns(5)
    cells[0].metric("Score", f"{index.scores[row]:.4f}")
    cells[1].metric("Rank", f"{rank + 1:,} of {index.n_rows:,}")
    cells[2].metric("Length", f"{len(text):,} chars")
    cells[3].metric("Tokens (approx.)", f"{int(index.token_counts[row]):,}" if index.token_counts is not None else "-")
    kept = bool(np.any(context.kept_rows == row)) if context.kept_rows is not None else rank < summary.n_kept
    cells[4].metric("Kept by the cut", "yes" if kept else "no")
    if context.groups is not None:
        st.caption(literal(f"{context.groups.column}: {context.groups.label_of_rows(np.array([row]))[0]}"))
    if actions is not None:
        actions(context, row)
    if notes is not None:
        notes(context, row)
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.code(text, language=None, wrap_lines=True, height=420 if len(text) > 1500 else "content")
    with right:
        _nearest(context, row, text)


def _nearest(context: ExploreContext, row: int, text: str) -> None:
    st.markdown("**Nearest targets** (1 - NCD with this row)")
    target = context.target
    if target is None:
        st.info("The targets of this score folder are not loaded: load them on the Data page to see them.",
                icon=":material/info:")
        return
    if len(text) > NEAREST_AUTO_MAX_CHARS and not st.button("Compute nearest targets", key="explore.nearest"):
        st.caption(f"This row is long ({len(text):,} chars); computing takes a moment.")
        return
    shown = st.segmented_control("Show", NEAREST_SHOWN, default=NEAREST_SHOWN[0], key=NEAREST_KEY,
                                 format_func=lambda k: f"all {len(target.texts):,}" if k == "all" else str(k))
    codec, level = _codec_of(context)
    k = len(target.texts) if shown == "all" else int(shown or NEAREST_SHOWN[0])
    nearest = nearest_targets(text, target.texts, codec=codec, level=level, k=k)
    event = st.dataframe(nearest.table, hide_index=True, height=min(400, 38 + 35 * len(nearest.table)),
                         key=f"{NEAREST_TABLE_KEY}.{row}", on_select="rerun", selection_mode="single-row",
                         column_config={
                             "target_row": st.column_config.NumberColumn("target row", format="%d"),
                             "similarity": st.column_config.ProgressColumn("1 - NCD", format="%.4f", min_value=0,
                                                                           max_value=1),
                             "text": st.column_config.TextColumn("beginning of the target", width="large")})
    picked = [position for position in event.selection.rows if position < len(nearest.table)]
    if picked:
        chosen = nearest.table.iloc[picked[0]]
        st.markdown(f"**Target row {int(chosen['target_row'])}** in full (1 - NCD {chosen['similarity']:.4f}):")
        st.code(target.texts[int(chosen["target_row"])], language=None, wrap_lines=True, height="content")
    else:
        st.caption("Click a target to read it in full.")
    folder = context.data.folder
    method = context.shown.method
    if folder is not None and target.fingerprint != folder.run.target_fingerprint:
        st.warning("The loaded targets are not the ones the score folder was scored against: these are the "
                   "nearest of the loaded targets.", icon=":material/warning:")
    elif method == "zipfit":
        st.caption(f"Mean over all {nearest.n_targets:,} targets: {nearest.mean_similarity:.4f} "
                   "(this is the row's score).")
    else:
        st.caption(f"Mean over all {nearest.n_targets:,} targets: {nearest.mean_similarity:.4f} (the row's "
                   f"ZIP-FIT score; its {methods.label(method)} score is {context.index.scores[row]:.4f}).")


def _codec_of(context: ExploreContext) -> tuple[str, int]:
    """The compressor of the shown scores (of the Score page when they do not compress)."""
    run = context.session.result.run if context.session.result is not None else None
    if run is not None and run.codec is not None:
        return run.codec, run.level
    return context.session.view.codec, context.session.view.level
