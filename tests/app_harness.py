"""The app in Streamlit's AppTest as a server runs it. A server finds the installed components once, when it
starts; AppTest scans every installed package's metadata again for each app it makes (~0.5 s each, most of a
small page's first run). Here the scan is made once per process and shared, so a first run's time is the page's.
"""

from __future__ import annotations

import functools
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"
TIMEOUT = 120


@functools.cache
def installed_components():
    from streamlit.components.v2.component_manager import BidiComponentManager

    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    return components


def app_test(script: Path = APP, timeout: float = TIMEOUT) -> AppTest:
    """`AppTest.from_file(script)` with the process's components (a Streamlit without the attribute scans as
    before)."""
    at = AppTest.from_file(str(script), default_timeout=timeout)
    if getattr(at, "_bidi_component_manager", False) is None:  # AppTest's own slot, filled on its first run
        at._bidi_component_manager = installed_components()
    return at
