"""What every page shares: restoring a session from a link, and the sidebar's summary of the steps."""

from __future__ import annotations

import streamlit as st

from zipfit_core.errors import ZipFitError

from . import datasets, methods, results
from .forms import load_role
from .markdown import literal, message
from .view import URL_PROBLEMS_KEY, get_view, restore_from_url
from .view_state import describe_cut


def restore_session() -> None:
    """On a session's first run, load the datasets the link names and reattach to their scores."""
    if not restore_from_url():
        return
    view = get_view()
    for role in datasets.ROLES:
        choice = getattr(view, role)
        if choice is None:
            continue
        if choice.kind == "upload":
            st.session_state[URL_PROBLEMS_KEY].append(
                f"the {datasets.ROLE_TITLES[role].lower()} was an upload ({choice.location}): upload it again")
            continue
        with st.spinner(f"Loading the {datasets.ROLE_TITLES[role].lower()} named in the link..."):
            load_role(role, choice)
    reattach_scores()


def reattach_scores() -> str | None:
    """Follow a running job or a cached result for the loaded datasets and the view's settings."""
    view = get_view()
    try:
        source, target = datasets.current("source"), datasets.current("target")
    except ZipFitError:
        return None
    if source is None:
        return None
    return results.current_job(view) or results.attach_cached(source, target, view)


def show_link_problems() -> None:
    problems = st.session_state.get(URL_PROBLEMS_KEY) or []
    if problems:
        st.warning("Parts of the link were not used: " + literal("; ".join(problems)) + ".", icon=":material/link_off:")
        st.session_state[URL_PROBLEMS_KEY] = []


def sidebar() -> None:
    """Where the session stands: data, scores, cut."""
    view = get_view()
    with st.sidebar:
        st.markdown("**Your session**")
        for role in datasets.ROLES:
            choice = datasets.current_choice(role)
            icon = ":material/check_circle:" if choice else ":material/radio_button_unchecked:"
            st.caption(f"{icon} {datasets.ROLE_TITLES[role]}: {literal(datasets.describe(choice))}")
        job_id = results.current_job(view)
        if job_id is None:
            st.caption(f":material/radio_button_unchecked: Scores: not computed ({methods.label(view.method)})")
        else:
            try:
                text = results.state_of(job_id)  # the Score page shows live progress; this is drawn once per run
            except ZipFitError as error:
                text = message(error)
            settings = f", {view.codec} level {view.level}" if methods.compresses(view.method) else ""
            st.caption(f":material/speed: Scores: {text} ({methods.label(view.method)}{settings})")
        st.caption(f":material/content_cut: Cut: {literal(describe_cut(view.cut_kind, view.cut_value))}")
        st.divider()
        st.caption("ZIP-FIT scores each source text by the mean of 1 - NCD (gzip normalized compression "
                   "distance) to the target texts. [Paper](https://arxiv.org/abs/2410.18194)")

