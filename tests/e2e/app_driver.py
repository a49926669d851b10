"""What every driver of the app in a real browser needs: Debian's Chromium, a `streamlit run app.py` server, and
the page's signs that a script run has ended.

No pytest here: the browser tests (conftest.py) and benchmarks/bench_serving.py both use it (the benchmark puts
the checkout on sys.path and imports `tests.e2e.app_driver`).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ZIPFIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
SERVER_START_SECONDS = 90

# The page's state: Streamlit writes it on its root element (as its own e2e tests read it).
CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
SCRIPT_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
NO_SKELETONS = "document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0"


def key_selector(key: str) -> str:
    """The element Streamlit gives the CSS class `st-key-<key>` (other characters become `-`)."""
    return ".st-key-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode() == "ok"
    except OSError:
        return False


class ServerDidNotStart(RuntimeError):
    """The server exited or did not answer its health check in time; the message holds its log."""


@dataclass(frozen=True)
class AppServer:
    url: str
    process: subprocess.Popen
    log_path: Path  # the server's stdout and stderr

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def app_server(data_root: Path, cache_dir: Path, log_path: Path, environment: dict[str, str] | None = None,
               start_seconds: float = SERVER_START_SECONDS, launcher: list[str] | None = None) -> Iterator[AppServer]:
    """`streamlit run app.py` on a free port of 127.0.0.1 with its own data root and score cache; stopped on exit.

    `environment` adds to (or overrides) the server's environment, e.g. ZIPFIT_MAX_JOBS; `launcher` is what
    Python runs in place of `-m streamlit` (benchmarks/server_clock.py).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, ZIPFIT_CACHE_DIR=str(cache_dir), ZIPFIT_DATA_ROOT=str(data_root), HF_HUB_OFFLINE="1",
               PYTHONUNBUFFERED="1", **(environment or {}))
    command = [sys.executable, *(launcher or ["-m", "streamlit"]), "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--global.developmentMode", "false"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + start_seconds
        while not server_is_healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ServerDidNotStart(f"streamlit did not start:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield AppServer(url, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
