"""The data root's rules: with a data root (the app), nothing outside it is read.

A path given by the user or named by a file (a dataset's README, `save_to_disk` metadata) must resolve inside the
root: no `..`, no absolute path elsewhere, no link out (`resolve_in_root`, `check_inside_root`), and no URL
(`check_local_name`). Checking a path and then opening it leaves a moment in which the file can be swapped for a
link, so every file our own readers open goes through `open_inside_root`: it opens first (no link on the last
component, never blocking), then verifies what was opened (a regular file whose real path, read from the open
descriptor, is inside the root). What `datasets` opens by itself is verified after loading: the files a loaded
table is memory-mapped from (`check_mapped_inside_root`). FIFOs, devices and sockets are never opened.
"""

from __future__ import annotations

import bisect
import errno
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from zipfit_core.errors import ZipFitError

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|::")  # a scheme (http://, hf://, zip://) or fsspec's chaining
PROC_FD = Path("/proc/self/fd")
PROC_MAPS = Path("/proc/self/maps")
SPECIAL_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                 (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def root_path(data_root: str | Path | None) -> Path | None:
    """The data root as the rules compare paths with it (absolute, links resolved), or None."""
    return Path(data_root).expanduser().resolve() if data_root is not None else None


def outside_error(shown: str, root: Path) -> ZipFitError:
    return ZipFitError(
        f"{shown} is outside the data folder {root}: only files inside it can be read "
        "(paths with .. or links that lead outside are refused). Copy the data into that folder."
    )


def is_inside(resolved: Path, root: Path) -> bool:
    return resolved == root or resolved.is_relative_to(root)


def resolve_in_root(location: str | Path, data_root: Path | None) -> Path:
    """The path to read; with a data root, relative paths start there and nothing may resolve outside it."""
    path = Path(location).expanduser()
    if data_root is None:
        return path
    root = Path(data_root).expanduser().resolve()
    if not path.is_absolute():
        path = root / path
    check_inside_root(path, root, shown=str(location))
    return path


def check_inside_root(path: Path, root: Path, shown: str | None = None) -> None:
    try:
        resolved = Path(path).resolve()  # follows symlinks and removes `..`
    except OSError as error:  # e.g. a link replaced by a file while it was being followed
        raise ZipFitError(f"Could not check where {shown or path} leads ({error.strerror or error}): it may have "
                          "changed while it was read; try again.") from None
    if not is_inside(resolved, root):
        raise outside_error(shown or str(path), root)


def check_local_name(name: str, root: Path, shown: str) -> None:
    """A name a dataset's metadata gives for a file in a local folder: never a URL, whatever folder the process
    runs in (a URL would otherwise resolve as a relative path under the working folder)."""
    if URL.search(name):
        raise ZipFitError(f"{shown} names a URL ({name}): a local dataset may name only files inside the data "
                          f"folder {root}, never download anything. Remove the URL from its metadata.")


def check_files_inside_root(paths: Iterable[str | Path], root: Path, shown: str) -> None:
    """Files a reader was told to open (e.g. by a dataset's YAML or state.json) are local and resolve inside root."""
    for path in paths:
        check_local_name(str(path), root, shown=shown)
        check_inside_root(Path(str(path).removeprefix("file://")), root, shown=f"{shown}: {path}")


def special_kind(mode: int) -> str | None:
    """What a file that is neither a regular file nor a folder is (a FIFO, a device, a socket), else None."""
    return next((name for test, name in SPECIAL_KINDS if test(mode)), None)


def special_file_kind(path: Path) -> str | None:
    """`special_kind` of the file `path` leads to (links followed); None when it cannot be looked at."""
    try:
        return special_kind(os.stat(path).st_mode)
    except (OSError, ValueError):
        return None


def special_file_error(shown: str, kind: str) -> ZipFitError:
    return ZipFitError(f"{shown} is {kind}, not a file: it was not opened (reading it could wait forever). "
                       "Remove it from the data folder, or copy its data into a regular file.")


def check_tree_inside_root(folder: Path, root: Path, shown: str | None = None) -> None:
    """Every file and folder below `folder`, links followed (each real folder once), resolves inside root, and
    none is a FIFO, device or socket.

    A reader that globs the folder (datasets, a dataset's YAML) may follow or open any of them, so one link out or
    one special file is enough to refuse the whole folder.
    """
    seen: set[Path] = set()
    pending = [Path(folder)]
    while pending:
        directory = pending.pop()
        real = directory.resolve()
        if real in seen:  # a link back up the tree: already checked
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            raise ZipFitError(f"Could not list {shown or folder} ({error.strerror or error}): check its "
                              "permissions.") from None
        for entry in entries:
            path = Path(entry.path)
            named = f"{shown}/{path.relative_to(folder).as_posix()}" if shown else str(path)
            check_inside_root(path, root, shown=named)
            kind = special_file_kind(path)
            if kind is not None:
                raise special_file_error(named, kind)
            if entry.is_dir(follow_symlinks=True):
                pending.append(path)


def open_inside_root(path: Path, root: Path | None, shown: str) -> BinaryIO:
    """`path` opened for reading (unbuffered), verified on the open descriptor when there is a data root.

    With a root: the path's real location is checked, then opened without following a link there and without
    blocking; the opened file must be a regular file and its real path (from the descriptor) inside the root, so a
    file swapped for a link or a FIFO between the check and the open is refused, never read. Without a root (the
    command line) the user's links and pipes are theirs to read.
    """
    try:
        if root is None:
            return open(path, "rb", buffering=0)
        real = Path(path).resolve()
        if not is_inside(real, root):
            raise outside_error(shown, root)
        kind = special_file_kind(real)
        if kind is not None:  # known before opening: never opened
            raise special_file_error(shown, kind)
        descriptor = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except ZipFitError:
        raise
    except OSError as error:
        if root is not None and error.errno == errno.ELOOP:
            raise outside_error(shown, root) from None  # a link appeared where the checked real file was
        raise ZipFitError(f"Could not open {shown} ({error.strerror or error}): check its permissions.") from None
    try:
        _verify_opened(descriptor, real, root, shown)
        os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb", buffering=0)


def _verify_opened(descriptor: int, real: Path, root: Path, shown: str) -> None:
    """The opened file is a regular file inside the root (by its descriptor, whatever the path says now)."""
    opened = os.fstat(descriptor)
    kind = special_kind(opened.st_mode)
    if kind is not None or not stat.S_ISREG(opened.st_mode):
        raise special_file_error(shown, kind or "not a regular file")
    try:
        where = Path(os.readlink(PROC_FD / str(descriptor)))  # what the kernel opened, links resolved
    except OSError:  # no /proc: the file at the checked real path must be the one opened
        now = os.stat(real, follow_symlinks=False)
        if (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino):
            raise outside_error(shown, root) from None
        return
    if not is_inside(where, root):
        raise outside_error(shown, root)


def mapped_files(addresses: Iterable[int]) -> set[str]:
    """The files (as the kernel names them: links resolved) whose memory maps hold any of `addresses`; Linux only
    (an empty set where /proc/self/maps does not exist). Addresses in anonymous memory name nothing."""
    try:
        lines = PROC_MAPS.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return set()
    starts, ends, names = [], [], []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/"):
            start, end = fields[0].split("-")
            starts.append(int(start, 16))
            ends.append(int(end, 16))
            names.append(fields[5].removesuffix(" (deleted)"))
    order = sorted(range(len(starts)), key=starts.__getitem__)
    starts, ends, names = [starts[i] for i in order], [ends[i] for i in order], [names[i] for i in order]
    found = set()
    for address in addresses:
        index = bisect.bisect_right(starts, address) - 1
        if index >= 0 and address < ends[index]:
            found.add(names[index])
    return found


def table_addresses(table) -> list[int]:
    """The address of every buffer of a pyarrow Table (where its data lives)."""
    return [buffer.address for column in table.columns for chunk in column.chunks
            for buffer in chunk.buffers() if buffer is not None and buffer.size]


def check_mapped_inside_root(table, root: Path, shown: str) -> None:
    """Every file a loaded table is memory-mapped from is inside the root: for what `datasets` opened by itself,
    checked on what was mapped (a file swapped for a link and back during the load is caught)."""
    for name in sorted(mapped_files(table_addresses(table))):
        if not is_inside(Path(name), root):
            raise outside_error(shown, root)
