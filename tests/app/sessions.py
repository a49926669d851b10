"""One way to set a session up without driving the Data and Score pages: a real `Session` whose data are loaded
as the app loads them (`actions.data.load_data`) and whose run is resolved from what the score cache holds.

App tests draw pages from it (`app_with_session`); benchmarks/bench_explore.py times the Explore page with it.
No function of the app is replaced: what a page shows is what it would show after the same clicks.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app_harness import app_test
from zipfit_app.actions.data import load_data
from zipfit_app.state.session import SESSION_KEY, Session
from zipfit_app.state.view import DataChoice


def prepared_session(source: DataChoice, target: DataChoice | None = None, **view: object) -> Session:
    """A session with both data sets loaded and `view`'s settings (cut, method, codec, ...) chosen; its run is
    whatever the score cache and the process's job manager hold for them."""
    session = Session(restored=True)  # no link to read
    session.update_view(**view)
    for role, choice in (("source", source), ("target", target)):
        if choice is not None:
            outcome, _ = load_data(session, role, choice)
            assert outcome.ok, outcome.problem
    return session


def app_with_session(session: Session, page: str = "pages/explore.py", timeout: float = 120) -> AppTest:
    """The app in AppTest with `session` as its state, on `page`."""
    at = app_test(timeout=timeout)
    at.session_state[SESSION_KEY] = session
    at.switch_page(page).run()
    return at
