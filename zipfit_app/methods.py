"""Choosing a method and its settings from the registry `zipfit_core.scoring.methods.METHODS`.

The Score page picks the one method whose scores Explore and Export use; the Compare page sets several.
Both read and write one store of settings per method in the session, so a method computed on one page
is found (same settings, same cache) on the other. The view (and so the URL) carries the Score page's
method and its non-default settings; codec and level stay the view's own fields.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from zipfit_app.view_state import ViewState
from zipfit_core.scoring.methods import (
    DEFAULT_METHOD,
    METHODS,
    MethodSetting,
    method_info,
    method_spec,
    recorded_settings,
)

from .charts import ALIGNMENT_TITLE
from .view import get_view, update_view

COMPRESSION_SETTINGS = ("codec", "level", "workers")  # codec and level are the view's; workers: all cores
SETTINGS_KEY = "methods.settings"
METHOD_WIDGET = "score.method"
KIND_NOTES = {"zipfit": " (the paper's score)", "zipfit-debiased": " (variant, not the paper's score)"}
DEBIASED_FORMULA = ("debiased(x) = align(x) - (a + b * ln C(x)), where C(x) is the compressed size of the source "
                    "alone and a, b are the least-squares fit of align on ln C over this pool: the part of the "
                    "ZIP-FIT score that source length does not explain. Not the paper's score.")


def label(method: str) -> str:
    return METHODS[method].label if method in METHODS else method


def score_title(method: str) -> str:
    """How charts name the shown scores."""
    return ALIGNMENT_TITLE if method == "zipfit" else f"{label(method)} score"


def compresses(method: str) -> bool:
    """ZIP-FIT and its debiased variant take the Score page's compressor and level."""
    return any(setting.name == "codec" for setting in method_info(method).settings)


def own_settings(method: str) -> list[MethodSetting]:
    """The settings a user sets for this method (the compressor is set apart, workers are not a choice)."""
    return [setting for setting in method_info(method).settings if setting.name not in COMPRESSION_SETTINGS]


def _store() -> dict[str, dict[str, Any]]:
    if SETTINGS_KEY not in st.session_state:
        view = get_view()  # a link's settings for its method seed the store
        st.session_state[SETTINGS_KEY] = {view.method: dict(view.method_settings)} if view.method_settings else {}
    return st.session_state[SETTINGS_KEY]


def stored_settings(method: str) -> dict[str, Any]:
    """The method's own settings as the user left them, the rest at their defaults."""
    chosen = _store().get(method, {})
    return {setting.name: chosen.get(setting.name, setting.default) for setting in own_settings(method)}


def run_settings(method: str, view: ViewState | None = None) -> dict[str, Any]:
    """Every setting `score_sources(method, ...)` gets: the method's own, and the view's codec and level
    (the session's view unless one is given)."""
    settings = stored_settings(method)
    if compresses(method):
        view = view or get_view()
        settings.update(codec=view.codec, level=view.level)
    return settings


def recorded(method: str, view: ViewState | None = None) -> dict[str, Any]:
    """The settings that change the method's scores, as a run record holds them (`recorded_settings`)."""
    return recorded_settings(method, run_settings(method, view))


def settings_spec(method: str) -> str:
    """What tells two results of a method apart (codec and level aside): `scoring.methods.method_spec`."""
    return method_spec(method, stored_settings(method))


def _non_default(method: str) -> dict[str, Any]:
    return {name: value for name, value in stored_settings(method).items()
            if value != method_info(method).setting(name).default}


def _on_setting_change(method: str, name: str, key: str) -> None:
    _store().setdefault(method, {})[name] = st.session_state[key]
    if get_view().method == method:
        update_view(method_settings=_non_default(method))


def settings_widgets(method: str, prefix: str, columns: int | None = None) -> dict[str, Any]:
    """One widget per own setting of `method` (keys `{prefix}.{method}.{name}`); returns the values."""
    settings = own_settings(method)
    if not settings:
        return {}
    values = stored_settings(method)
    cells = st.columns(columns or len(settings))
    for number, setting in enumerate(settings):
        key = f"{prefix}.{method}.{setting.name}"
        if key not in st.session_state:
            st.session_state[key] = values[setting.name]
        cell = cells[number % len(cells)]
        callback = dict(on_change=_on_setting_change, args=(method, setting.name, key))
        if setting.choices:
            cell.selectbox(setting.name, setting.choices, key=key, help=setting.description, **callback)
        else:
            cell.number_input(setting.name, min_value=0 if setting.kind is int else None, step=1,
                              key=key, help=setting.description, placeholder="default", **callback)
    return stored_settings(method)


def _on_method_change() -> None:
    method = st.session_state[METHOD_WIDGET]
    update_view(method=method, method_settings=_non_default(method))


def method_picker() -> str:
    """The Score page's method (ZIP-FIT by default), kept in the view; returns it."""
    view = get_view()
    if st.session_state.get(METHOD_WIDGET) != view.method:
        st.session_state[METHOD_WIDGET] = view.method if view.method in METHODS else DEFAULT_METHOD
    st.selectbox("Method", list(METHODS), key=METHOD_WIDGET, on_change=_on_method_change,
                 format_func=lambda name: METHODS[name].label + KIND_NOTES.get(name, " (baseline)"),
                 help="ZIP-FIT is the paper's method. The others are baselines to compare against; Explore and "
                      "Export use the scores of the method chosen here.")
    method = st.session_state[METHOD_WIDGET]
    st.caption(METHODS[method].description)
    if method == "zipfit-debiased":
        st.info("**ZIP-FIT, length-debiased** is a variant, not the paper's score: " + DEBIASED_FORMULA,
                icon=":material/straighten:")
    elif method != "zipfit":
        st.info(f"**{METHODS[method].label}** is a baseline, not ZIP-FIT: its scores are on their own scale "
                "(compare rankings and kept rows, not score values).", icon=":material/compare_arrows:")
    return method
