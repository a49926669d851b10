"""Atomic file writes (a temporary file beside the target, renamed over it), checksums and timestamps.

The score cache's cross-process lock is `filelock`'s, in store/score_cache.py (`CacheEntry.try_lock`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    os.chmod(temporary, shared_file_mode())  # mkstemp makes 0600; results are shared like any file
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once at import, before worker threads exist
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def shared_file_mode() -> int:
    """The mode `open()` gives a new file (0o666 less the umask): what the cache's files and its lock get."""
    return 0o666 & ~_UMASK


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, content: dict) -> None:
    write_text_atomic(path, json.dumps(content, indent=2, ensure_ascii=False) + "\n")


def write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Run `writer(temporary_path)` and move the result into place atomically."""
    with atomic_path(path) as temporary:
        writer(temporary)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
