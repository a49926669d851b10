"""Opening a score folder where only a data root may be read (the app): its scores, the source rows they
belong to, and where its targets can be loaded again.

A score folder (`zipfit score SOURCE TARGET --out FOLDER`, see `engines/`) records SOURCE and TARGET as
they were written on the command line, often relative to wherever the command ran. Here they are
looked for under the data root only: as written (relative paths from the data root), from the app's
working folder, and from the score folder's parent. Every candidate, every shard and every file of the
folder must resolve inside the root (`data.local.check_inside_root`: no `..`, no links out), and
remote URIs are refused. The rows are then read and checked shard by shard against the fingerprints
recorded when they were scored (`engines.load_scored_folder`), so a wrong candidate is an error,
never wrong numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zipfit_core.data.data_root import check_inside_root, check_tree_inside_root, resolve_in_root
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.data.local import is_glob
from zipfit_core.data.sources import DataSource, TextSpec
from zipfit_core.engines.folder import FOLDER_FORMAT, MANIFEST_NAME, is_score_folder, read_marker, read_score_folder
from zipfit_core.engines.sharded import load_scored_folder
from zipfit_core.engines.shards import URI_SCHEME, discover_shards
from zipfit_core.errors import ZipFitError
from zipfit_core.store.run import ScoreRun

EXPORTS_FOLDER = "exports"  # the app writes exports there; never a place to look for inputs


@dataclass(frozen=True)
class OpenedScoreFolder:
    """A complete score folder opened under a data root: scores in global row order and their source rows."""

    location: str  # as given, relative to the data root
    path: Path
    scores: np.ndarray
    run: ScoreRun  # how the folder's scores were computed, its sources' fingerprint and count filled in
    source: LoadedTexts  # the shards' rows, in the order of the scores
    source_location: str  # where the shards were found, relative to the data root


def _relative(path: Path, root: Path) -> str:
    resolved_parent = path.parent.resolve()  # keep a glob's pattern, resolve the folder part
    full = resolved_parent / path.name
    return full.relative_to(root).as_posix() if full.is_relative_to(root) else str(path)


def _check_folder_files(path: Path, root: Path) -> None:
    """Every file and folder inside the score folder, and every part file its markers name, stays inside root."""
    check_tree_inside_root(path, root)
    for marker in sorted((path / "completions").glob("*.json")):
        content = read_marker(marker)  # None for a damaged one: read_score_folder reports it as an unscored shard
        if content is not None:
            check_inside_root(path / content["scores"], root, shown=f"{marker.name}: {content['scores']}")


def _candidates(written: str, root: Path, folder: Path) -> list[Path]:
    path = Path(written).expanduser()
    if path.is_absolute():
        return [path]
    found: list[Path] = []
    for base in (root, Path.cwd(), folder.parent):
        candidate = base / path
        if candidate not in found:
            found.append(candidate)
    return found


def locate_recorded(written: str, root: Path, folder: Path, exists: Callable[[Path], bool], what: str) -> Path:
    """The first candidate for a recorded path that lies inside `root` and `exists`; ZipFitError otherwise."""
    if URI_SCHEME.match(written) and not written.startswith("file://"):
        raise ZipFitError(f"The {what} of this score folder is remote ({written}): the app reads only files under "
                          f"the data folder {root}. Use `zipfit select SOURCE --scores FOLDER` on the command line.")
    written = written.removeprefix("file://")
    outside: ZipFitError | None = None
    for candidate in _candidates(written, root, folder):
        try:
            check_inside_root(candidate, root, shown=written)
        except ZipFitError as error:
            outside = outside or error
            continue
        if exists(candidate):
            return candidate
    if outside is not None and Path(written).is_absolute():
        raise outside
    raise ZipFitError(f"The {what} this score folder records ({written}) is not under the data folder {root}: "
                      "put it there (relative paths are looked for from the data folder, the app's folder and "
                      "the score folder's parent).")


def _has_shards(candidate: Path) -> bool:
    if not is_glob(str(candidate)) and not candidate.exists():
        return False
    try:
        discover_shards(str(candidate))
    except ZipFitError:
        return False
    return True


def open_score_folder(location: str, data_root: Path, cache_dir: Path | None = None) -> OpenedScoreFolder:
    """Read a complete score folder under `data_root` and the source rows it scored (checked shard by shard).

    Raises ZipFitError with what to do: outside the root, not a score folder, incomplete, source not found
    under the root, or source changed since it was scored.
    """
    root = Path(data_root).expanduser().resolve()
    path = resolve_in_root(location, root)  # the same rule as every local path the app reads
    if not is_score_folder(path):
        raise ZipFitError(f"{location} is not a score folder (it has no {MANIFEST_NAME}): give the output folder of "
                          "`zipfit score SOURCE TARGET --out FOLDER`, relative to the data folder.")
    _check_folder_files(path, root)
    recorded = read_score_folder(path).run  # raises for an incomplete folder, naming the missing shards
    source_path = locate_recorded(recorded.source, root, path, _has_shards, "source")
    for shard in discover_shards(str(source_path)).shards:
        check_inside_root(Path(shard.path), root)
    scores, run, source = load_scored_folder(path, str(source_path), cache_dir=cache_dir)
    scores.setflags(write=False)
    return OpenedScoreFolder(location=location, path=path, scores=scores, run=run, source=source,
                        source_location=_relative(source_path, root))


def recorded_target(run: ScoreRun, data_root: Path, folder: Path) -> tuple[DataSource, TextSpec]:
    """Where the folder's targets can be loaded again (a bundled demo set, or a local path under the root)
    and how their text was taken. Raises ZipFitError when they cannot be found there (e.g. a hub dataset:
    load it on the Data page). Whoever loads them should compare `run.target_fingerprint`."""
    text = TextSpec.from_description(run.target_field)
    written = run.target
    if written.startswith("demo:"):
        return DataSource("demo", written.removeprefix("demo:")), text
    if written.startswith("hub:"):
        raise ZipFitError(f"The targets of this score folder come from the Hugging Face Hub ({written}): load them "
                          "on the Data page.")
    root = Path(data_root).expanduser().resolve()
    found = locate_recorded(written.removeprefix("local:"), root, folder,
                            lambda candidate: candidate.exists() or is_glob(str(candidate)), "target set")
    return DataSource("local", _relative(found, root)), text


def find_score_folders(data_root: Path, limit: int = 100) -> list[str]:
    """Score folders under the data root, relative to it (hidden folders and the exports folder skipped)."""
    root = Path(data_root).expanduser().resolve()
    if not root.is_dir():
        return []
    found: list[str] = []
    for directory, folders, _files in os.walk(root):
        here = Path(directory)
        relative = here.relative_to(root)
        if relative.parts[:1] == (EXPORTS_FOLDER,):
            folders[:] = []
            continue
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        if here != root and _is_score_folder_manifest(here / MANIFEST_NAME):
            found.append(relative.as_posix())
            folders[:] = []  # its parts are not other folders
            if len(found) >= limit:
                break
    return found


def _is_score_folder_manifest(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            head = handle.read(512)  # the format is the manifest's first key: no need to parse every shard
    except OSError:
        return False
    return f'"format": "{FOLDER_FORMAT}"' in head
