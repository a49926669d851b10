"""The one owner of a browser session's state: one `Session` under one key of `st.session_state`.

Everything a session remembers lives in the `Session` object (the view, the loaded data, the shown result,
method settings, notices, what the pages computed for it). Widgets keep their values under their own keys,
as Streamlit requires; `widget`, `show` and `seed` are the only way other modules read or set them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import streamlit as st

from zipfit_core.analysis.curation import CurationSettings
from zipfit_core.analysis.search import RowSearch

from .records import Downloads, FolderExport, LoadedRef, Notice, ProxyResult, ResultRef
from .view import DataChoice, ViewState

SESSION_KEY = "zipfit.session"


@dataclass
class FormMemory:
    """What the Data form remembers for one role between reruns."""

    preview: tuple[str, Any] | None = None  # (location, first rows) of the last preview
    chosen_by_loader: dict[str, str] = field(default_factory=dict)  # text settings the loader chose, not the user


@dataclass
class Session:
    """A browser session's state: what it shows and what it remembers."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # the job manager counts followers by it
    view: ViewState = field(default_factory=ViewState)
    loaded: dict[str, LoadedRef] = field(default_factory=dict)  # role -> the loaded data set
    result: ResultRef | None = None  # the result every page shows
    method_settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # method -> its own settings
    declined: set[str] = field(default_factory=set)  # work this session let go of: not followed again unasked
    notices: dict[str, list[Notice]] = field(default_factory=dict)  # place -> messages to show once
    restored: bool = False  # the view was read from the link
    forms: dict[str, FormMemory] = field(default_factory=dict)
    references_of: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # a source's evaluation sets
    proxy_result: ProxyResult | None = None
    compare_runs: list[str] = field(default_factory=list)  # the runs Compare's last click submitted
    folder_export: FolderExport | None = None
    downloads: Downloads | None = None  # what the Export page's buttons serve now
    threshold_for: str | None = None  # the result a threshold cut was set on (another result's scale differs)
    dedup_asked: tuple[str, str] | None = None  # (scores version, cut key) whose near-duplicates were asked for
    curation: CurationSettings = field(default_factory=CurationSettings)  # what Export removes; Explore's Dropped
    search: RowSearch | None = None  # Explore's search, as last run
    tables_version: int = 0  # in every table's key: a closed row leaves no stale tick

    def update_view(self, **changes: Any) -> ViewState:
        self.view = replace(self.view, **changes)
        return self.view

    def notify(self, place: str, text: str, kind: str = "info", icon: str | None = None) -> None:
        """Leave a message for `place` (a page's section), shown once by `ui.notices.show`."""
        self.notices.setdefault(place, []).append(Notice(text, kind, icon))

    def take_notices(self, place: str) -> list[Notice]:
        return self.notices.pop(place, [])

    def form(self, role: str) -> FormMemory:
        return self.forms.setdefault(role, FormMemory())

    def choice(self, role: str) -> DataChoice | None:
        loaded = self.loaded.get(role)
        return loaded.choice if loaded else None

    def key(self, role: str) -> str | None:
        loaded = self.loaded.get(role)
        return loaded.key if loaded else None


def session() -> Session:
    """This browser session's state (made on its first run)."""
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = Session()
    return st.session_state[SESSION_KEY]


# -- widget values: Streamlit keeps them under the widgets' keys -------------------------------------------
def widget(key: str, default: Any = None) -> Any:
    """A widget's current value (or `default` before it is drawn)."""
    return st.session_state.get(key, default)


def show(key: str, value: Any) -> None:
    """Make a widget show `value` on its next draw (only when it differs: Streamlit warns otherwise)."""
    if key not in st.session_state or st.session_state[key] != value:
        st.session_state[key] = value


def seed(key: str, value: Any) -> None:
    """Give a widget its first value; never overwrite the user's."""
    st.session_state.setdefault(key, value)


def forget_widget(key: str) -> None:
    st.session_state.pop(key, None)
