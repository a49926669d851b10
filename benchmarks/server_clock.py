"""The server's own clock on its script runs, for benchmarks/bench_serving.py.

    python benchmarks/server_clock.py LOG -- run app.py --server.port 8501 ...   # instead of python -m streamlit

starts Streamlit with two of its methods wrapped: `AppSession.handle_backmsg` writes to LOG when a session asks
for a rerun (with the widgets' numbers it carries, so a top-K value finds its rerun) and
`AppSession._enqueue_forward_msg` when a session's run queues its `script_finished` message. From one to the
other is the server's time for that rerun: waiting for a thread, a core and the GIL (scoring jobs run in the
same process), the script, and its messages queued; not the network or the browser, which on a 2-core machine
shares the cores (the page's clock shows what a user waits). Both wrapped methods are Streamlit internals
(checked with 1.56-1.67): a change there breaks this benchmark, not the app.
"""

from __future__ import annotations

import json
import runpy
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


def install(log_path: str) -> None:
    from streamlit.runtime.app_session import AppSession

    lock, log = threading.Lock(), open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115  the server's life
    handle_backmsg, enqueue = AppSession.handle_backmsg, AppSession._enqueue_forward_msg

    def write(record: dict) -> None:
        with lock:
            log.write(json.dumps(record) + "\n")

    def timed_handle_backmsg(self, msg) -> None:
        if msg.WhichOneof("type") == "rerun_script":
            numbers = {getattr(widget, kind) for widget in msg.rerun_script.widget_states.widgets
                       if (kind := widget.WhichOneof("value")) in ("int_value", "double_value")}
            write({"session": self.id, "at": time.monotonic(), "asked": sorted(numbers),
                   "fragment": bool(msg.rerun_script.fragment_id)})
        return handle_backmsg(self, msg)

    def timed_enqueue(self, msg) -> None:
        if msg.WhichOneof("type") == "script_finished":
            write({"session": self.id, "at": time.monotonic(), "finished": msg.script_finished})
        return enqueue(self, msg)

    AppSession.handle_backmsg, AppSession._enqueue_forward_msg = timed_handle_backmsg, timed_enqueue


@dataclass(frozen=True)
class ServerClock:
    """The log read back: each session's rerun requests and finished runs, by time.monotonic() (the same clock
    in every process of the machine)."""

    asks: dict[str, list[tuple[float, frozenset]]]  # session -> (time, the numbers its widgets held)
    finished: dict[str, list[float]]

    @classmethod
    def read(cls, log_path: Path) -> ServerClock:
        asks: dict[str, list] = {}
        finished: dict[str, list] = {}
        for line in log_path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "asked" in record and not record["fragment"]:
                asks.setdefault(record["session"], []).append((record["at"], frozenset(record["asked"])))
            elif "finished" in record:
                finished.setdefault(record["session"], []).append(record["at"])
        return cls(asks, finished)

    def rerun_seconds(self, value: int, after: float) -> float | None:
        """The server's time for the first rerun asked for at `after` or later carrying `value`: to the last run
        its session finished before it asked for another."""
        found = [(at, session) for session, asks in self.asks.items() for at, numbers in asks
                 if at >= after and value in numbers]
        if not found:
            return None
        asked, session = min(found)
        later = [at for at, _numbers in self.asks[session] if at > asked]
        until = min(later, default=float("inf"))
        done = [at for at in self.finished.get(session, []) if asked <= at < until]
        return max(done) - asked if done else None


def main() -> None:
    log_path, separator, *streamlit_args = sys.argv[1:]
    if separator != "--":
        raise SystemExit("usage: server_clock.py LOG -- STREAMLIT ARGUMENTS")
    install(log_path)
    sys.argv = ["streamlit", *streamlit_args]
    runpy.run_module("streamlit", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
