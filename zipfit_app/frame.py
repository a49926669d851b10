"""The frame around every page: navigation, the session restored from the link, the current run, the sidebar,
the URL.

`app.py` runs it; so does a page file that Streamlit runs on its own. That happens once per server: the
first request after the server starts, if it names a page (`/score?...`), is served by Streamlit's older
file-based rule for a `pages/` folder, which runs the file named like the URL path without the entry
script. `require_frame` turns that run into the whole app, so the link works with no "Page not found".
"""

from __future__ import annotations

import threading

import streamlit as st

from .actions.data import restore_linked_data
from .actions.runs import resolve
from .panels.sidebar import sidebar
from .state.session import Session, session
from .state.url import restore_from_url, write_to_url
from .ui import notices

PAGES = (  # file (relative to app.py, named as its URL path), title, icon
    ("pages/data.py", "Data", ":material/database:"),
    ("pages/score.py", "Score", ":material/speed:"),
    ("pages/explore.py", "Explore", ":material/insights:"),
    ("pages/compare.py", "Compare", ":material/compare_arrows:"),
    ("pages/export.py", "Export", ":material/download:"),
)
PAGE_ICON = "🗜️"  # an emoji is drawn by the browser; a Material icon would be fetched from the internet
_running = threading.local()  # how deep this thread is inside `run_app` (each session's script has its thread)


def url_path(page_file: str) -> str:
    """pages/score.py is served at /score; the first page, Data, at / (Streamlit keeps /data for it but
    does not serve it there)."""
    return page_file.removeprefix("pages/").removesuffix(".py")


def start_session(current: Session) -> None:
    """On a session's first run: the view from the link, its data loaded; what could not be used, said."""
    problems = restore_from_url(current)
    if problems is None:
        return
    if current.view.method_settings:  # a link's settings for its method are the session's
        current.method_settings[current.view.method] = dict(current.view.method_settings)
    with st.spinner("Loading the data named in the link..."):
        problems += restore_linked_data(current)
    if problems:
        current.notify("link", "Parts of the link were not used: " + "; ".join(problems) + ".", "warning",
                       ":material/link_off:")


def run_app() -> None:
    """Draw the frame and run the page the URL names."""
    st.set_page_config(page_title="ZIP-FIT Studio", page_icon=PAGE_ICON, layout="wide")
    pages = [st.Page(path, title=title, icon=icon, url_path=url_path(path), default=number == 0)
             for number, (path, title, icon) in enumerate(PAGES)]
    page = st.navigation(pages)
    current = session()
    start_session(current)
    resolve(current)  # every page shows the current run's scores, found once per run of the script
    sidebar(current)
    notices.show(current, "link")
    _running.depth = getattr(_running, "depth", 0) + 1
    try:
        page.run()
    finally:
        _running.depth -= 1
    write_to_url(current)


def require_frame() -> Session:
    """At the top of every page: outside the frame (see the module docstring), run the whole app, then stop.
    Returns the session the page draws."""
    if getattr(_running, "depth", 0):
        return session()
    run_app()
    st.stop()
