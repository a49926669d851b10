"""The app's state: the one `Session` of a browser session, the view and its form in the URL.

Only this package touches `st.session_state` and `st.query_params` (tests/app check it).
"""
