"""The app's state: the one `Session` of a browser session, the view and its form in the URL.

Only this package touches Streamlit's session state and query parameters (tests/packaging/test_architecture.py).
"""
