"""The view's mirror in the URL query string: read once per session, written after every run."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from .session import Session
from .view import decode_view, encode_view, is_view_key


def restore_from_url(session: Session) -> list[str] | None:
    """Once per session: take the view from the query string. The link's problems on that first run, else None."""
    if session.restored:
        return None
    session.view, problems = decode_view(st.query_params.to_dict())
    session.restored = True
    return problems


def write_to_url(session: Session) -> None:
    """Keep the query string equal to the view, so the address bar can be bookmarked and shared."""
    current = st.query_params.to_dict()
    params = encode_view(replace(session.view, extra={}))
    params.update({key: value for key, value in current.items() if not is_view_key(key)})  # other pages' keys
    if params != current:
        st.query_params.from_dict(params)
