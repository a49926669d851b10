"""`zipfit app [--port N] [--data-root DIR]`: start the browser app, from a checkout or an installed wheel.

The entry script is `zipfit_studio/app.py`: the wheel ships the checkout's app.py, pages/ and
.streamlit/config.toml as the package `zipfit_studio` (pyproject.toml), and an editable install maps that
package to the checkout itself. Without either (a checkout used through PYTHONPATH), the app.py beside the
zipfit_app package is used. Streamlit reads the config file beside the script, so the settings are the
same wherever the command is started.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from zipfit_core.errors import ZipFitError

DATA_ROOT_ENV = "ZIPFIT_DATA_ROOT"
STARTED_BY_ENV = "ZIPFIT_STARTED_BY"
EXAMPLES = """examples:
  zipfit app                                  # http://localhost:8501, data under ./data
  zipfit app --port 8600 --data-root /srv/corpora
  ZIPFIT_MAX_UPLOAD_MB=500 zipfit app         # the app's settings are environment variables (README)
"""


def add_app_command(commands: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    app = commands.add_parser("app", help="start the browser app (needs the `app` extra: streamlit)",
                              description="Start ZIP-FIT Studio in the browser with Streamlit. Stop it with "
                                          "Ctrl-C.", epilog=EXAMPLES, formatter_class=formatter)
    app.add_argument("--port", type=_port, help="the port to serve on (default: Streamlit's, 8501)")
    app.add_argument("--data-root", help=f"the folder local paths are read from and exports are written to "
                                         f"(sets ${DATA_ROOT_ENV}; default: ${DATA_ROOT_ENV}, else ./data)")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def app_script() -> Path:
    """The app's entry script: the installed (or editable) zipfit_studio/app.py, else the app.py of the checkout
    that zipfit_app or zipfit_core is imported from."""
    try:
        spec = importlib.util.find_spec("zipfit_studio.app")
    except ImportError:  # no zipfit_studio package at all
        spec = None
    if spec is not None and spec.origin and Path(spec.origin).is_file():
        return Path(spec.origin)
    for package in ("zipfit_app", "zipfit_core"):  # located, not imported: the core never imports the app
        found = importlib.util.find_spec(package)
        if found is not None and found.origin:
            root = Path(found.origin).resolve().parent.parent
            if (root / "app.py").is_file() and (root / "zipfit_app" / "__init__.py").is_file():
                return root / "app.py"
    raise ZipFitError("The app's files are not installed: `pip install 'zipfit-studio[app]'`, or run "
                      "`streamlit run app.py` in a checkout.")


def streamlit_command(script: Path, port: int | None) -> list[str]:
    command = [sys.executable, "-m", "streamlit", "run", str(script)]
    return command + (["--server.port", str(port)] if port is not None else [])


def run_app(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("streamlit") is None:
        raise ZipFitError("The app needs Streamlit: `pip install 'zipfit-studio[app]'`.")
    environment = dict(os.environ, **{STARTED_BY_ENV: "zipfit app"})  # the app names this command's options
    if args.data_root is not None:
        root = Path(args.data_root).expanduser().resolve()
        if not root.is_dir():
            raise ZipFitError(f"--data-root {args.data_root} is not a folder: create it, or give an existing one.")
        environment[DATA_ROOT_ENV] = str(root)
    given = environment.get(DATA_ROOT_ENV)
    served = Path(given).expanduser().resolve() if given else None
    if served is not None and served == served.parent:  # the file system's root: nothing is outside it
        print(f"zipfit: warning: the data folder {served} is the root of the file system: every file this user can "
              "read on the machine (keys, passwords, other people's data) can be read through the app. Give the "
              "folder that holds your data instead.", file=sys.stderr, flush=True)
    # A child `python -m streamlit run`, not streamlit.web.bootstrap in this process: the CLI is Streamlit's
    # public interface (bootstrap is internal and changes between releases), and Streamlit's config, signal
    # handlers and event loop stay its own.
    process = subprocess.Popen(streamlit_command(app_script(), args.port), env=environment)
    return wait_for_server(process)


def wait_for_server(process: subprocess.Popen) -> int:
    """Wait for Streamlit to exit; stopping this command (Ctrl-C, SIGTERM) stops it too, never leaving it behind."""
    def stop(signum: int, frame: object) -> None:
        process.terminate()

    previous = signal.signal(signal.SIGTERM, stop) if threading.current_thread() is threading.main_thread() else None
    try:
        return process.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches Streamlit too (same process group); SIGINT alone reaches only us
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
