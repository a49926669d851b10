"""The session's view (datasets, settings, cut) and its mirror in the URL query string."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from zipfit_app.view_state import ViewState, decode_view, encode_view, is_view_key

VIEW_KEY = "view"
RESTORED_KEY = "view_restored_from_url"
URL_PROBLEMS_KEY = "url_problems"


def get_view() -> ViewState:
    if VIEW_KEY not in st.session_state:
        st.session_state[VIEW_KEY] = ViewState()
    return st.session_state[VIEW_KEY]


def update_view(**changes) -> ViewState:
    view = replace(get_view(), **changes)
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
