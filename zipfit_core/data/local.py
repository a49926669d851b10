"""Local data: a file, a folder, a glob pattern or a `save_to_disk` folder, and the data root's rules.

A folder or glob reads every supported file under it (sorted, hidden files skipped) into one table with a
`file` column; a `save_to_disk` folder (a Dataset or a DatasetDict with a split) reads through `datasets`.
With a data root (the app), every path must resolve inside it (the rules are in `data_root.py`); FIFOs, devices
and sockets in a folder are skipped with a message, never opened.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from zipfit_core.data.data_root import (
    check_files_inside_root,
    check_inside_root,
    check_local_name,
    check_mapped_inside_root,
    check_tree_inside_root,
    is_inside,
    open_inside_root,
    resolve_in_root,
    special_file_kind,
)
from zipfit_core.data.formats import FILE_COLUMN, SUPPORTED_NAMES, arrow_to_frame, file_pieces, format_of
from zipfit_core.data.sources import LoadOptions, LoadReport, choose_split, plural
from zipfit_core.errors import ZipFitError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem


def is_glob(location: str) -> bool:
    return any(character in location for character in "*?[")


def split_glob(pattern: str) -> tuple[str, str]:
    """A glob pattern's folder (the components before the first one with a wildcard) and the rest:
    `data/*/x.jsonl` -> (`data`, `*/x.jsonl`)."""
    components = pattern.split("/")
    fixed = next(index for index, part in enumerate(components) if is_glob(part))
    folder = "/".join(components[:fixed])
    return folder or ("/" if pattern.startswith("/") else "."), "/".join(components[fixed:])


def glob_matches(path: Path) -> list[Path]:
    """The local files a glob pattern (already resolved in the data root) names, sorted."""
    import fsspec

    folder, pattern = split_glob(path.as_posix())
    local_disk = fsspec.filesystem("file")
    return [Path(match) for match in glob_files(local_disk, Path(os.path.abspath(folder)).as_posix(), pattern)]


def glob_files(filesystem: AbstractFileSystem, folder: str, pattern: str) -> list[str]:
    """The files under `folder` that match `pattern` by fsspec's glob (`*`, `?`, `[...]` inside a name, `**`
    across folders; links to folders are not followed), sorted, hidden ones (a name below `folder` starting with
    `.`) left out as Python's glob leaves them out. `folder` is written as `filesystem` writes paths (absolute
    for the local disk)."""
    base = folder.rstrip("/")
    found = []
    for path, info in filesystem.glob(f"{base}/{pattern}", detail=True).items():
        relative = path.removeprefix(base)
        # fsspec's local disk types a link "other": a link to a file counts (the data root checks where it leads).
        is_file = info.get("type") == "file" or (info.get("islink") and Path(path).is_file())
        if is_file and not any(part.startswith(".") for part in relative.split("/")):
            found.append(path)
    return sorted(found)


def path_exists(path: Path) -> bool:
    """Like `Path.exists`, but False for a name the file system refuses (too long, bad bytes)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def data_files_under(root: Path, suffixes: tuple[str, ...], limit: int, skip: tuple[str, ...] = ()) -> list[str]:
    """Data files (by suffix) and save_to_disk folders under `root`, relative to it, for a file picker.

    Hidden entries, the top-level folders in `skip`, links that lead outside the root, FIFOs / devices / sockets
    and save_to_disk folders whose metadata names anything outside are left out: the picker offers only what the
    data root's rules let the app read.
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        return []
    found: list[str] = []
    for directory, folders, files in os.walk(root):
        here = Path(directory)
        top = here == root
        folders[:] = sorted(name for name in folders if not name.startswith(".") and not (top and name in skip)
                            and _stays_inside(here / name, root))
        for name in folders:
            if is_saved_dataset(here / name) and _saved_dataset_stays_inside(here / name, root):
                found.append((here / name).relative_to(root).as_posix() + "/")
        for name in sorted(files):
            if (not name.startswith(".") and name.lower().endswith(suffixes) and _stays_inside(here / name, root)
                    and special_file_kind(here / name) is None):
                found.append((here / name).relative_to(root).as_posix())
        if len(found) >= limit:
            break
    return sorted(found)[:limit]


def _stays_inside(path: Path, root: Path) -> bool:
    return is_inside(path.resolve(), root)


def _saved_dataset_stays_inside(folder: Path, root: Path) -> bool:
    try:
        check_files_inside_root(saved_dataset_files(folder, root), root, shown=str(folder))
    except ZipFitError:
        return False
    return True


def is_saved_dataset(folder: Path) -> bool:
    """A folder written by datasets' `save_to_disk` (a Dataset or a DatasetDict)."""
    return (folder / "dataset_dict.json").is_file() or (
        (folder / "state.json").is_file() and (folder / "dataset_info.json").is_file()
    )


def folder_files(folder: Path) -> list[Path]:
    """Every file below `folder` in sorted order, hidden files and folders left out."""
    found = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        found.extend(Path(directory) / name for name in files if not name.startswith("."))
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def read_files(paths: list[Path], base: Path, display: str, options: LoadOptions, report: LoadReport,
               max_rows: int | None, data_root: Path | None) -> pd.DataFrame:
    """Read several files into one frame with a `file` column (path relative to `base`)."""
    frames = list(file_frames(paths, base, display, options, report, max_rows, data_root))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def file_frames(paths: list[Path], base: Path, display: str, options: LoadOptions, report: LoadReport,
                max_rows: int | None, data_root: Path | None) -> Iterator[pd.DataFrame]:
    """Each file's rows in turn, with a `file` column (path relative to `base`); empty files are skipped."""
    unsupported, empty, special = [], [], []
    remaining = max_rows
    for path in paths:
        if data_root is not None:
            check_inside_root(path, data_root)
        relative = path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)
        kind = special_file_kind(path)
        if kind is not None:  # a FIFO could hang the read forever: skipped before anything opens it
            special.append(f"{relative} ({kind})")
            continue
        kind = special_file_kind(path)
        if kind is not None:  # a FIFO could hang the read forever: skipped before anything opens it
            special.append(f"{relative} ({kind})")
            continue
        if format_of(path.name)[0] is None:
            unsupported.append(relative)
            continue
        rows = 0
        for frame in file_pieces(path, options, report, remaining, display=f"{display}: {relative}"):
            if len(frame) == 0:
                continue
            column = next((name for name in (FILE_COLUMN, "source_file") if name not in frame.columns), None)
            if column is not None:
                frame.insert(0, column, relative)
            rows += len(frame)
            yield frame
        if rows == 0:
            empty.append(relative)
            continue
        if remaining is not None:
            remaining -= rows
            if remaining <= 0:
                break
    if unsupported:
        report.warn(f"{display}: ignored {plural(len(unsupported), 'file')} of unsupported type: "
                    f"{', '.join(unsupported[:10])}{', ...' if len(unsupported) > 10 else ''}.")
    if empty:
        report.warn(f"{display}: {plural(len(empty), 'file')} had no rows: {', '.join(empty[:10])}.")
    if special:
        report.warn(f"{display}: skipped {plural(len(special), 'entry', 'entries')} that cannot be read as a file "
                    f"(never opened: reading one could wait forever): {', '.join(special[:10])}.")


def saved_dataset_files(folder: Path, root: Path | None = None) -> list[Path]:
    """The folders and files `load_from_disk` opens as the metadata names them (splits, Arrow files), read as
    datasets reads them (`for split in splits`: a list's items, a dict's keys); with a root, the metadata files
    are opened by `open_inside_root` and a URL among the names is refused."""
    splits = _json_field(folder / "dataset_dict.json", "splits", root)
    names = [str(split) for split in (splits if isinstance(splits, (list, dict)) else [])]
    named = [folder / name for name in names]
    for directory in [folder, *named]:
        files = _json_field(directory / "state.json", "_data_files", root)
        names_here = [str(item.get("filename", "")) for item in (files if isinstance(files, list) else [])
                      if isinstance(item, dict)]
        names.extend(names_here)
        named.extend(directory / name for name in names_here)
    if root is not None:
        for name in names:  # before joining: a path join would fold `http://` into `http:/`
            check_local_name(name, root, shown=str(folder))
    return named


def _json_field(path: Path, name: str, root: Path | None) -> object:
    """A field of a JSON object file; None when absent or unreadable (load_from_disk reports damage)."""
    if not path.is_file():
        return None
    try:
        with open_inside_root(path, root, str(path)) as handle:
            content = json.loads(handle.read().decode("utf-8"))
    except ZipFitError:
        if root is not None and not is_inside(path.resolve(), root):
            raise
        return None  # a FIFO or an unreadable file: never read, and load_from_disk is never reached
    except (OSError, ValueError):
        return None
    return content.get(name) if isinstance(content, dict) else None


def read_saved_dataset(folder: Path, split: str | None, display: str, report: LoadReport,
                       max_rows: int | None, root: Path | None = None) -> pd.DataFrame:
    """A `save_to_disk` folder, memory-mapped; a DatasetDict needs a split (or has only one).
    With a data root, every file the folder holds or its metadata names must resolve inside it."""
    from datasets import DatasetDict, load_from_disk

    if root is not None:
        check_tree_inside_root(folder, root, shown=display)
        check_files_inside_root(saved_dataset_files(folder, root), root, shown=display)
    try:
        dataset = load_from_disk(str(folder), keep_in_memory=False)  # mapped: what was read can be verified
    except Exception as error:
        raise ZipFitError(f"{display} looks like a save_to_disk folder but could not be read ({error}).") from None
    if root is not None:  # what datasets opened by itself, checked on what it mapped
        for part in (dataset.values() if isinstance(dataset, DatasetDict) else [dataset]):
            check_mapped_inside_root(part.data.table, root, shown=display)
    if isinstance(dataset, DatasetDict):
        chosen = choose_split(list(dataset), split, display, report)
        dataset = dataset[chosen]
    elif split is not None:
        report.warn(f"{display} holds a single dataset (no splits): the split {split!r} was ignored.")
    if getattr(dataset, "_indices", None) is not None:
        dataset = dataset.flatten_indices()
    table = dataset.data.table
    return arrow_to_frame(table.slice(0, max_rows) if max_rows is not None else table)


def read_local(location: str, split: str | None, options: LoadOptions, report: LoadReport,
               max_rows: int | None) -> pd.DataFrame:
    """A local file, folder, glob pattern or save_to_disk folder; raises if it holds no rows."""
    frames = list(local_frames(location, split, options, report, max_rows))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def local_frames(location: str, split: str | None, options: LoadOptions, report: LoadReport,
                 max_rows: int | None) -> Iterator[pd.DataFrame]:
    """The rows of a local file, folder, glob pattern or save_to_disk folder, a file at a time (so a
    folder of shards is read in bounded memory); raises if it holds no rows."""
    root = Path(options.data_root).expanduser().resolve() if options.data_root is not None else None
    path = resolve_in_root(location, options.data_root)
    display = str(location)
    if path.is_file() or special_file_kind(path) is not None:  # read_file refuses a FIFO without opening it
        frames = file_pieces(path, options, report, max_rows, display=display)
    elif path.is_dir():
        if is_saved_dataset(path):
            frames = iter([read_saved_dataset(path, split, display, report, max_rows, root)])
        else:
            files = folder_files(path)
            if not files:
                raise ZipFitError(f"The folder {display} is empty: put data files ({SUPPORTED_NAMES}) in it.")
            frames = file_frames(files, path, display, options, report, max_rows, root)
            if not any(format_of(file.name)[0] for file in files):
                list(frames)  # says which files were ignored
                raise ZipFitError(f"The folder {display} holds no data files: use {SUPPORTED_NAMES}.")
    elif is_glob(str(location)):
        matches = glob_matches(path)
        if not matches:
            raise ZipFitError(f"No file matches the pattern {display}: check the folder and the pattern.")
        base = Path(os.path.commonpath([str(match.parent) for match in matches]))
        frames = file_frames(matches, base, display, options, report, max_rows, root)
    else:
        raise ZipFitError(
            f"File not found: {display}. Check the path"
            + (f" (relative paths start in the data folder {root})" if root else "")
            + "; for a Hugging Face dataset write hub:NAME."
        )
    read_any = False
    for frame in frames:
        if len(frame):
            read_any = True
            yield frame
    if not read_any:
        raise empty_rows_error(display, report)


def empty_rows_error(display: str, report: LoadReport) -> ZipFitError:
    also = f" ({' '.join(report.warnings)})" if report.warnings else ""
    return ZipFitError(f"{display} contains no rows{also}: give data with at least one example.")
