"""Messages left for a place on a page (`Session.notify`), shown once, and an action's outcome."""

from __future__ import annotations

import streamlit as st

from ..state.records import Notice
from ..state.session import Session
from .markdown import message

_SHOW = {"info": (st.info, ":material/info:"), "success": (st.success, ":material/check_circle:"),
         "warning": (st.warning, ":material/warning:"), "error": (st.error, ":material/error:")}


def show_notice(notice: Notice) -> None:
    draw, icon = _SHOW[notice.kind]
    draw(message(notice.text), icon=notice.icon or icon)


def show(session: Session, place: str) -> bool:
    """Show (once) what was left for `place`; whether there was anything."""
    notices = session.take_notices(place)
    for notice in notices:
        show_notice(notice)
    return bool(notices)


def leave(session: Session, place: str, problem: str | None, notes: list[str] | None = None,
          note_kind: str = "warning") -> None:
    """Leave an action's outcome for `place`: its problem as an error, its notes."""
    if problem:
        session.notify(place, problem, "error")
    for note in notes or []:
        session.notify(place, note, note_kind)
