"""Widgets bound to the session: each shows the value it is given (from the session) and hands a change to
a callback (an action). The store/load pattern of Streamlit's docs, in one place: a widget's own key holds
what it shows; the session holds what it means."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ..state.session import show, widget


def _callback(key: str, on_change: Callable[[Any], None]) -> dict:
    return {"on_change": lambda: on_change(widget(key)), "key": key}


def selectbox(label: str, options: list, value: Any, on_change: Callable[[Any], None], *, key: str,
              container=st, **kwargs) -> Any:
    show(key, value if value in options else options[0])
    return container.selectbox(label, options, **_callback(key, on_change), **kwargs)


def radio(label: str, options: list, value: Any, on_change: Callable[[Any], None], *, key: str, container=st,
          **kwargs) -> Any:
    show(key, value if value in options else options[0])
    return container.radio(label, options, **_callback(key, on_change), **kwargs)


def multiselect(label: str, options: list, value: list, on_change: Callable[[list], None], *, key: str,
                container=st, **kwargs) -> list:
    show(key, [item for item in value if item in options])
    return container.multiselect(label, options, **_callback(key, on_change), **kwargs)


def slider(label: str, low: Any, high: Any, value: Any, on_change: Callable[[Any], None], *, key: str,
           container=st, **kwargs) -> Any:
    show(key, value)
    return container.slider(label, low, high, **_callback(key, on_change), **kwargs)


def number_input(label: str, low: Any, high: Any, value: Any, on_change: Callable[[Any], None], *, key: str,
                 container=st, **kwargs) -> Any:
    show(key, value)
    return container.number_input(label, low, high, **_callback(key, on_change), **kwargs)


def tabs(labels: list[str], value: str, on_change: Callable[[str], None], *, key: str) -> list:
    show(key, value)
    return st.tabs(labels, **_callback(key, on_change))


def toggle(label: str, value: bool, on_change: Callable[[bool], None], *, key: str, container=st, **kwargs) -> bool:
    show(key, bool(value))
    return container.toggle(label, **_callback(key, on_change), **kwargs)
