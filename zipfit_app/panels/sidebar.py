"""The sidebar: where the session stands (data, the scores shown, the cut), drawn after the run is resolved."""

from __future__ import annotations

import streamlit as st

from zipfit_core.errors import ZipFitError

from ..actions.runs import chosen_run
from ..services import loaders, scores
from ..state.session import Session
from ..state.view import describe_cut
from ..ui.markdown import literal, message


def shown_run_text(session: Session) -> str:
    """e.g. `ZIP-FIT (gzip level 9)`: the method and settings of the scores shown."""
    result = session.result
    if result is None:
        return chosen_run(session).describe()
    method, settings = result.run.method_settings()
    return scores.RunChoice(method, settings).describe()


def sidebar(session: Session) -> None:
    """Where the session stands: data, scores, cut."""
    with st.sidebar:
        st.markdown("**Your session**")
        for role in loaders.ROLES:
            choice = session.choice(role)
            icon = ":material/check_circle:" if choice else ":material/radio_button_unchecked:"
            st.caption(f"{icon} {loaders.ROLE_TITLES[role]}: {literal(loaders.describe(choice))}")
        result = session.result
        if result is None:
            st.caption(f":material/radio_button_unchecked: Scores: not computed ({literal(shown_run_text(session))})")
        else:
            try:
                state = scores.state_of(result.job_id)  # the Score page shows live progress; this is drawn once per run
            except ZipFitError as error:
                state = message(error)
            state = {"done": "exact", "cancelled": "partial"}.get(state, state)
            st.caption(f":material/speed: Scores: {state} ({literal(shown_run_text(session))})")
        cut = describe_cut(session.view.cut_kind, session.view.cut_value)
        st.caption(f":material/content_cut: Cut: {literal(cut)}")
        st.divider()
        st.caption("ZIP-FIT scores each source text by the mean of 1 - NCD (gzip normalized compression "
                   "distance) to the target texts. [Paper](https://arxiv.org/abs/2410.18194)")
