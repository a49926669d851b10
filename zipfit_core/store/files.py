"""Atomic file writes (a temporary file beside the target, renamed over it), checksums, timestamps, and the one
bounded reader of every JSON manifest we read.

Temporaries are named `.NAME.PID-RANDOM.tmp` (folders `.NAME.PID-RANDOM.partial` / `.old`): the writer's process
id in the name lets a later run remove those whose writer is dead (`remove_stale_temporaries`).
The score cache's cross-process lock is `filelock`'s, in store/score_cache.py (`CacheEntry.try_lock`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
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
    handle, temporary = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(handle)
    os.chmod(temporary, shared_file_mode())  # mkstemp makes 0600; results are shared like any file
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


TEMPORARY_SUFFIXES = (".tmp", ".partial", ".old")
MAX_MANIFEST_BYTES = 64 << 20  # a score folder of ~300,000 shards; a manifest larger than this is not ours


def temporary_prefix(path: Path) -> str:
    """How a temporary for `path` is named (before mkstemp/mkdtemp's random part and its suffix)."""
    return f".{path.name}.{os.getpid()}-"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or not a pid we can ask about): keep its files
    return True


def remove_stale_temporaries(folder: str | Path, name: str | None = None) -> None:
    """Remove the temporaries in `folder` (of the file or folder `name`, else of any) whose writing process has died
    (see the module docstring)."""
    folder = Path(folder)
    named = re.escape(name) if name is not None else ".+"
    pattern = re.compile(rf"\.({named})\.(\d+)-[a-z0-9_]+(" +
                         "|".join(re.escape(suffix) for suffix in TEMPORARY_SUFFIXES) + ")")
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or int(match.group(2)) == os.getpid() or _process_alive(int(match.group(2))):
            continue
        if match.group(3) == ".old" and not os.path.lexists(folder / match.group(1)):
            continue  # killed between its two renames: the previous output is only in there
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass  # removed by another run meanwhile, or not ours to remove


class UnreadableFile(ValueError):
    """A file we refuse to read as a manifest: a link, not a regular file, or too large."""


def read_json_file(path: str | Path, max_bytes: int = MAX_MANIFEST_BYTES) -> object:
    """The JSON in `path`, read through one bounded door: never through a link (O_NOFOLLOW), only a regular file
    (a FIFO or a device is refused without blocking), at most `max_bytes`. FileNotFoundError when it is missing;
    other OSError, UnreadableFile or another ValueError (not UTF-8, not JSON) when it cannot be trusted as one."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        handle = os.open(path, flags)
    except OSError as error:
        if os.path.islink(path):
            raise UnreadableFile(f"{path} is a link, not a file zipfit wrote") from None
        raise error
    with os.fdopen(handle, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(f"{path} is not a regular file")
        if info.st_size > max_bytes:
            raise UnreadableFile(f"{path} is larger than {max_bytes >> 20} MiB")
        content = stream.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise UnreadableFile(f"{path} is larger than {max_bytes >> 20} MiB")
    return json.loads(content.decode("utf-8"))


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
