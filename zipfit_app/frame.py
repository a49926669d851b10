"""The frame around every page: navigation, the session restored from the link, the sidebar, the URL.

`app.py` runs it; so does a page file that Streamlit runs on its own. That happens once per server: the
first request after the server starts, if it names a page (`/score?...`), is served by Streamlit's older
file-based rule for a `pages/` folder, which runs the file named like the URL path without the entry
script. `require_frame` turns that run into the whole app, so the link works with no "Page not found".
"""

from __future__ import annotations

import threading

import streamlit as st

from .session import restore_session, show_link_problems, sidebar
from .view import write_to_url

PAGES = (  # file (relative to app.py, named as its URL path), title, icon
    ("pages/data.py", "Data", ":material/database:"),
    ("pages/score.py", "Score", ":material/speed:"),
    ("pages/explore.py", "Explore", ":material/insights:"),
    ("pages/compare.py", "Compare", ":material/compare_arrows:"),
    ("pages/export.py", "Export", ":material/download:"),
)
_running = threading.local()  # how deep this thread is inside `run_app` (each session's script has its thread)


def url_path(page_file: str) -> str:
    """pages/score.py is served at /score; the first page, Data, at / (Streamlit keeps /data for it but
    does not serve it there)."""
    return page_file.removeprefix("pages/").removesuffix(".py")


def run_app() -> None:
    """Draw the frame and run the page the URL names."""
    st.set_page_config(page_title="ZIP-FIT Studio", page_icon=":material/compress:", layout="wide")
    pages = [st.Page(path, title=title, icon=icon, url_path=url_path(path), default=number == 0)
             for number, (path, title, icon) in enumerate(PAGES)]
    page = st.navigation(pages)
    restore_session()
    sidebar()
    show_link_problems()
    _running.depth = getattr(_running, "depth", 0) + 1
    try:
        page.run()
    finally:
        _running.depth -= 1
    write_to_url()


def require_frame() -> None:
    """At the top of every page: outside the frame (see the module docstring), run the whole app, then stop."""
    if getattr(_running, "depth", 0):
        return
    run_app()
    st.stop()
