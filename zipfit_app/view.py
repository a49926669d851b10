"""The session's view (datasets, settings, cut) and its mirror in the URL query string."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from zipfit_app.view_state import ViewState, decode_view, describe_cut, encode_view, is_view_key

VIEW_KEY = "view"
RESTORED_KEY = "view_restored_from_url"
URL_PROBLEMS_KEY = "url_problems"
CUT_NOTICE_KEY = "explore.cut_notice"  # why the cut was reset, for the Explore page to say once
SCORE_FIELDS = ("source", "target", "method", "method_settings", "codec", "level")  # what the scores depend on


def get_view() -> ViewState:
    if VIEW_KEY not in st.session_state:
        st.session_state[VIEW_KEY] = ViewState()
    return st.session_state[VIEW_KEY]


def update_view(**changes) -> ViewState:
    """Change the view; a score threshold does not outlive the scores it was set on (other data, method or
    settings): the cut starts again from the default, and Explore says so (`CUT_NOTICE_KEY`)."""
    old = get_view()
    view = replace(old, **changes)
    if old.cut_kind == "threshold" and view.cut_kind == "threshold" and \
            any(getattr(view, name) != getattr(old, name) for name in SCORE_FIELDS):
        default = ViewState()
        view = replace(view, cut_kind=default.cut_kind, cut_value=default.cut_value)
        st.session_state[CUT_NOTICE_KEY] = (f"The cut was {describe_cut(old.cut_kind, old.cut_value)}, a threshold "
                                            "set on other scores: it starts again from the "
                                            f"{describe_cut(view.cut_kind, view.cut_value)}.")
    st.session_state[VIEW_KEY] = view
    return view


def restore_from_url() -> bool:
    """Once per session: take the view from the query string. True on that first run."""
    if st.session_state.get(RESTORED_KEY):
        return False
    view, problems = decode_view(st.query_params.to_dict())
    st.session_state[VIEW_KEY] = view
    st.session_state[URL_PROBLEMS_KEY] = problems
    st.session_state[RESTORED_KEY] = True
    return True


def write_to_url() -> None:
    """Keep the query string equal to the view, so the address bar can be bookmarked and shared."""
    current = st.query_params.to_dict()
    params = encode_view(replace(get_view(), extra={}))
    params.update({key: value for key, value in current.items() if not is_view_key(key)})  # other pages' keys
    if params != current:
        st.query_params.from_dict(params)
