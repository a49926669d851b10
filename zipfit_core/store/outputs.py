"""Where results are written: an output may replace only what this project wrote, and never an input.

`check_output_path` refuses, before any work, an output that names `.`, `..`, the working folder or one of
its parents, an input, a folder holding one or a place inside an input folder (a glob's folder counts), a file
where a folder is wanted or the reverse, and anything that exists and is not recognised as ours (each writer says
how it recognises its own files: the files an export's manifest records, the metadata of a scores file). It
also removes the temporaries a killed earlier writer of that output left (`files.remove_stale_temporaries`). `replace_folder` writes a folder under a
temporary sibling name and renames it into place, so a failed write leaves the old one untouched.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from zipfit_core.errors import ZipFitError
from zipfit_core.store.files import file_sha256, read_json_file, remove_stale_temporaries, temporary_prefix

GLOB_CHARACTERS = "*?["


def is_json_of_kind(path: str | Path, kind: str) -> bool:
    """A JSON file whose top-level `kind` is `kind`: how a command that writes one JSON file recognises its own."""
    try:
        content = read_json_file(path)
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and content.get("kind") == kind


def check_output_path(output: str | Path, *, what: str, folder: bool, is_ours: Callable[[Path], bool],
                      inputs: Iterable[str | Path] = ()) -> Path:
    """The output path, once it is safe to write there (see the module docstring); ZipFitError otherwise."""
    shown = str(output)
    path = Path(output).expanduser()
    if path.name in ("", ".", ".."):
        raise ZipFitError(f"`out` {shown!r} is an existing folder's name, not a new one: give the {what} its own "
                          f"name, e.g. {'selection' if folder else 'selection.jsonl'}.")
    resolved = path.resolve()
    if resolved == Path.cwd().resolve() or Path.cwd().resolve().is_relative_to(resolved):
        raise ZipFitError(f"`out` {shown!r} is the working folder or one of its parents: give a new name for the "
                          f"{what}.")
    for given in inputs:
        source = _input_location(str(given))
        if source is None:
            continue  # a Hub id or a demo name, not a path
        if resolved == source or source.is_relative_to(resolved):
            raise ZipFitError(f"`out` {shown!r} would replace the input {given}: write the {what} under another "
                              "name.")
        if source.is_dir() and resolved.is_relative_to(source):
            raise ZipFitError(f"`out` {shown!r} is inside the input folder {given}, which would then read it as "
                              f"data: write the {what} outside it.")
    remove_stale_temporaries(path.parent, path.name)
    if not os.path.lexists(path):
        return path
    if folder and not path.is_dir():
        raise ZipFitError(f"`out` {shown!r} is an existing file, and the {what} is a folder: give a new name.")
    if not folder and path.is_dir():
        raise ZipFitError(f"`out` {shown!r} is an existing folder: give a file name for the {what} (inside it, "
                          f"e.g. {Path(shown) / 'selection.jsonl'}, or elsewhere).")
    if path.is_symlink() or not (_is_empty(path) or is_ours(path)):
        raise ZipFitError(f"`out` {shown!r} already exists and was not written by zipfit, so it is kept: give a new "
                          "name, or move it away first.")
    return path


def written_files(path: str | Path) -> list[dict]:
    """What was written at `path` (a file, or every file of a folder), as a manifest records it: each file's path
    relative to `path`'s folder, its size and sha256. Links and other non-files are not ours: never recorded."""
    path = Path(path)
    files = _folder_entries(path) if _is_real_folder(path) else [path]
    return [{"path": item.relative_to(path.parent).as_posix(), "bytes": item.lstat().st_size,
             "sha256": file_sha256(item)} for item in files]


def matches_written(path: str | Path, recorded: object) -> bool:
    """Whether what is at `path` now is exactly what `written_files` recorded: the same names, sizes and hashes,
    nothing more, no links. How an earlier output is recognised as ours (a manifest alone can be forged)."""
    path = Path(path)
    if not isinstance(recorded, list) or not all(isinstance(item, dict) for item in recorded):
        return False
    if _is_real_folder(path):
        present = _folder_entries(path)
    else:
        present = [path] if os.path.lexists(path) else []
    expected = {item.get("path"): item for item in recorded}
    if sorted(expected) != sorted(item.relative_to(path.parent).as_posix() for item in present):
        return False
    for item in present:
        info = item.lstat()
        wanted = expected[item.relative_to(path.parent).as_posix()]
        if not stat.S_ISREG(info.st_mode) or info.st_size != wanted.get("bytes"):
            return False
    return all(file_sha256(item) == expected[item.relative_to(path.parent).as_posix()].get("sha256")
               for item in present)


def _folder_entries(folder: Path) -> list[Path]:
    """Every file, link (to a folder too) or other non-folder under `folder`, without following links."""
    found = []
    for directory, folders, files in os.walk(folder):
        here = Path(directory)
        found += [here / name for name in files]
        found += [here / name for name in folders if (here / name).is_symlink()]
    return sorted(found)


def _is_real_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _input_location(given: str) -> Path | None:
    """Where an input lives on disk: the path itself, or for a glob (`pool/*.jsonl`) the folder before its first
    pattern; None for what is not a local path (a Hub id, a demo name)."""
    path = Path(given.removeprefix("file://")).expanduser()
    if any(character in given for character in GLOB_CHARACTERS):
        fixed = [part for part in path.parts[:next(index for index, part in enumerate(path.parts)
                                                   if any(character in part for character in GLOB_CHARACTERS))]]
        path = Path(*fixed) if fixed else Path(".")
    return path.resolve() if os.path.lexists(path) else None


def _is_empty(path: Path) -> bool:
    """An empty folder or an empty regular file (e.g. a name `reserve_name` took): replacing it loses nothing."""
    info = path.lstat()
    if stat.S_ISDIR(info.st_mode):
        return not any(path.iterdir())
    return stat.S_ISREG(info.st_mode) and info.st_size == 0


def reserve_name(folder: str | Path, stem: str, suffix: str, *, as_folder: bool,
                 companions: Callable[[Path], Iterable[Path]] = lambda path: ()) -> Path:
    """A new name in `folder`, taken in one atomic step (an empty file made with O_CREAT|O_EXCL, or mkdir) so that
    writers choosing at the same moment never get the same one: `stem`, else `stem-TIME`, else `stem-TIME-N`. A
    name whose `companions` (e.g. its manifest) exist is skipped. The placeholder is what `check_output_path` lets
    a writer replace; `release_name` removes it if nothing was written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    moment = time.strftime("%Y%m%d-%H%M%S")
    names = itertools.chain([stem, f"{stem}-{moment}"], (f"{stem}-{moment}-{n}" for n in range(2, 10000)))
    for name in names:
        path = folder / f"{name}{suffix}"
        try:
            if as_folder:
                os.mkdir(path)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        if any(os.path.lexists(companion) for companion in companions(path)):
            release_name(path)
            continue
        return path
    raise ZipFitError(f"Could not find a free name for {stem}{suffix} in {folder}: move some of its files away.")


def release_name(path: str | Path) -> None:
    """Remove a placeholder `reserve_name` made, if it is still empty (nothing was written over it)."""
    path = Path(path)
    try:
        if _is_empty(path):
            path.rmdir() if _is_real_folder(path) else path.unlink()
    except OSError:
        pass  # gone already, or written meanwhile


def replace_folder(path: str | Path, write: Callable[[Path], None]) -> None:
    """Run `write(staging)` on a new sibling folder, then move it to `path`, replacing what was there.

    What was at `path` is renamed aside first and deleted only once the new folder is in place, so a
    failure at any step leaves either the old folder or the new one, never a mix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=temporary_prefix(path), suffix=".partial", dir=path.parent))
    try:
        write(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if os.path.lexists(path):
        old = Path(tempfile.mkdtemp(prefix=temporary_prefix(path), suffix=".old", dir=path.parent))
        os.rename(path, old / "previous")
    try:
        os.rename(staging, path)
    except BaseException:
        if old is not None:
            os.rename(old / "previous", path)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def remove_written(path: str | Path) -> None:
    """Remove a file or folder this process has just written (e.g. when its manifest could not follow)."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
