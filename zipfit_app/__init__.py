"""Streamlit glue for ZIP-FIT Studio: session state, caches, the URL, shared widgets and charts.

The pages in `pages/` stay thin: they lay out widgets and call into this package, which in turn
calls `zipfit_core` for every number. Nothing here is needed by the library or the CLI.
"""
