"""The score cache's cross-process lock is filelock's: another process holding it (through filelock, as on any
platform) keeps this one out, two entry objects in one process exclude each other, and a lock taken on one
thread is released from another."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from zipfit_core.store.files import shared_file_mode
from zipfit_core.store.score_cache import LOCK_NAME, CacheEntry

HOLDER = """
import sys
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("locked", flush=True)
sys.stdin.read()
lock.release()
"""


def test_a_lock_held_by_another_process_through_filelock_keeps_this_one_out(tmp_path: Path) -> None:
    entry = CacheEntry(tmp_path, "key")
    entry.folder.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(entry.folder / LOCK_NAME)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert not entry.try_lock() and not entry.locked
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert entry.try_lock() and entry.locked  # free once the other process let go
    entry.unlock()


def test_two_entries_in_one_process_exclude_each_other_and_any_thread_may_release(tmp_path: Path) -> None:
    first, second = CacheEntry(tmp_path, "key"), CacheEntry(tmp_path, "key")
    assert first.try_lock() and first.try_lock()  # taking it again is a no-op for its holder
    assert not second.try_lock()
    releaser = threading.Thread(target=first.unlock)  # a job's lock may be let go from another thread
    releaser.start()
    releaser.join()
    assert not first.locked and second.try_lock()
    second.unlock()
    assert (tmp_path / "key" / LOCK_NAME).stat().st_mode & 0o777 == shared_file_mode()  # shared like the results
