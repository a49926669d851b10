"""Hugging Face datasets: hub ids (`owner/name`), local dataset repository folders and the offline cache.

All reading goes through `datasets` (`load_dataset_builder` to learn the splits, `load_dataset` to read),
never a hand-written reader, and never runs code from a dataset repository (datasets >= 4 has no loading
scripts; older versions get `trust_remote_code=False`). Every network wait is bounded:

- with `HF_HUB_OFFLINE=1` nothing is asked of the Hub; datasets reads its local cache;
- otherwise one quick request (`HfApi.dataset_info`, at most `hub_timeout_s`, in a thread we stop
  waiting for) checks that the Hub answers and that the dataset exists before `datasets` starts its
  own requests, whose retries on an unreachable Hub would take half a minute;
- `HF_HUB_ETAG_TIMEOUT` / `HF_HUB_DOWNLOAD_TIMEOUT` bound each later request (unless set by the user).

Every failure becomes a `ZipFitError` that names `HF_HUB_OFFLINE` and local files as ways out.
"""

from __future__ import annotations

import math
import os
import random
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from zipfit_core.data.data_root import (
    check_files_inside_root,
    check_inside_root,
    check_local_name,
    check_tree_inside_root,
    open_inside_root,
)
from zipfit_core.data.formats import arrow_to_frame
from zipfit_core.data.local import path_exists
from zipfit_core.data.sources import DataSource, LoadOptions, LoadReport, cell_matches, choose_split
from zipfit_core.errors import ZipFitError

Result = TypeVar("Result")


HUB_WAYS_OUT = (
    "If this machine has no internet, set HF_HUB_OFFLINE=1 to use datasets already in the local datasets cache, "
    "or download the data files and load them as local files (a file, folder or save_to_disk folder)."
)


NETWORK_ERROR_NAMES = {"ConnectError", "ConnectTimeout", "ReadTimeout", "TimeoutException", "NetworkError",
                       "TransportError", "ProxyError", "OfflineModeIsEnabled"}


def hub_is_offline() -> bool:
    """True when HF_HUB_OFFLINE (or its older aliases) is set for this process."""
    import datasets.config
    import huggingface_hub.constants

    return bool(datasets.config.HF_HUB_OFFLINE or huggingface_hub.constants.is_offline_mode())


def read_hub(source: DataSource, row_filter: tuple[str, str] | None, options: LoadOptions, report: LoadReport,
             max_rows: int | None, *, streaming: bool | None = None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Rows of one split of a hub dataset (or local dataset repository folder) and their row numbers.

    Non-streaming: the split is downloaded (or read from the cache) and memory-mapped; the first
    `max_rows` rows are kept. Streaming: rows are read as they arrive, at most `max_rows` of them;
    the row filter and the seeded sample are applied on the way (reservoir sampling), so only the
    kept rows are held. Row numbers are positions in the split.
    """
    streaming = source.streaming if streaming is None else streaming
    path, display, local = _dataset_path(source, options)
    _bound_request_timeouts(options.hub_timeout_s)
    offline = hub_is_offline()
    if not local and not offline:
        _check_hub_answers(source.location, source.revision, display, options.hub_timeout_s)
    arguments = _load_arguments(source)
    split = source.split
    builder = None
    root = Path(options.data_root).expanduser().resolve() if local and options.data_root is not None else None
    if root is not None:  # a README's data_files may point anywhere: check them all
        _check_no_urls(Path(path), root, display)  # before datasets resolves them (a URL is fetched then)
        builder = _builder(path, arguments, display, offline, local)
        check_files_inside_root(_named_data_files(builder), root, shown=display)
    if split is None:
        split = _split_of(builder or _builder(path, arguments, display, offline, local), display, report)
    dataset = _calling_datasets(
        lambda: _load_dataset(path, split=split, streaming=streaming, **arguments), display, offline, local)
    if streaming:
        rows = _stream_rows(dataset, display, row_filter, source, max_rows, offline, local)
    else:
        if getattr(dataset, "_indices", None) is not None:
            dataset = dataset.flatten_indices()
        table = dataset.data.table
        rows = arrow_to_frame(table.slice(0, max_rows) if max_rows is not None else table), None
    if root is not None:  # datasets opened the files itself: a link or FIFO that appeared meanwhile is refused now
        check_tree_inside_root(Path(path), root, shown=source.location)
    return rows


def _dataset_path(source: DataSource, options: LoadOptions) -> tuple[str, str, bool]:
    """(path for datasets, display name, is a local folder); local folders obey the data root.

    With a data root, a local folder's every file (links followed) must resolve inside it, and a hub id
    must not name a folder elsewhere on this machine (datasets would read it as a local folder).
    """
    location = source.location.strip()
    display = source.describe()
    candidate = Path(location).expanduser()
    root = Path(options.data_root).expanduser().resolve() if options.data_root is not None else None
    if root is not None and not candidate.is_absolute():
        candidate = root / candidate  # with a data root, relative folders start there
    looks_local = location.startswith(("/", "./", "../", "~")) or path_exists(candidate)
    if not looks_local:
        _check_hub_id(location, display)
        if root is not None and path_exists(Path(location)):
            raise ZipFitError(
                f"{display}: {location!r} is a folder on this machine outside the data folder {root}, and only "
                "files inside it can be read. Copy the data into that folder, or give the Hub id as owner/name."
            )
        return location, display, False
    if root is not None:
        check_inside_root(candidate, root, shown=location)
    if not candidate.is_dir():
        raise ZipFitError(
            f"{display}: no dataset folder at {location}. A hub source is a dataset id such as owner/name, "
            "or a local dataset repository folder; for a single file, load it as a local file."
        )
    if root is not None:
        check_tree_inside_root(candidate, root, shown=location)
    return str(candidate), display, True


def _check_hub_id(location: str, display: str) -> None:
    """The Hub's own rule for dataset ids, checked before anything is asked of the Hub or the disk."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(location)
    except HFValidationError:
        shown = location if len(location) <= 80 else location[:77] + "..."
        raise ZipFitError(
            f"{shown!r} is not a Hugging Face dataset id: write owner/name (letters, digits, '-', '_' and '.', at "
            "most 96 characters each), or give a local dataset folder."
        ) from None


def _bound_request_timeouts(seconds: float) -> None:
    """Each request to the Hub waits at most `seconds`, unless the user chose their own timeouts."""
    import huggingface_hub.constants as constants

    bound = max(1, math.ceil(seconds))
    if not os.environ.get("HF_HUB_ETAG_TIMEOUT"):
        constants.HF_HUB_ETAG_TIMEOUT = bound
    if not os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT"):
        constants.HF_HUB_DOWNLOAD_TIMEOUT = bound


def call_with_deadline(function: Callable[[], Result], seconds: float, on_timeout: Callable[[], Exception]) -> Result:
    """Run `function` in a daemon thread and stop waiting after `seconds` (the thread is abandoned)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function()
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    worker = threading.Thread(target=run, name="zipfit-hub-request", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise on_timeout()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _check_hub_answers(repo_id: str, revision: str | None, display: str, seconds: float) -> None:
    """One bounded request: is the Hub reachable, and does the dataset (and revision) exist?"""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    def unreachable(reason: str) -> ZipFitError:
        return ZipFitError(f"Could not reach the Hugging Face Hub for {display} ({reason}). {HUB_WAYS_OUT}")

    try:
        call_with_deadline(lambda: HfApi().dataset_info(repo_id, revision=revision, timeout=seconds),
                           seconds + 1.0, lambda: unreachable(f"no answer within {seconds:g} s"))
    except ZipFitError:
        raise
    except GatedRepoError:
        raise ZipFitError(
            f"{display} is a gated dataset: accept its conditions on huggingface.co and set HF_TOKEN, "
            f"or load a local copy of its files. {HUB_WAYS_OUT}"
        ) from None
    except RevisionNotFoundError:
        raise ZipFitError(f"{display}: the revision {revision!r} does not exist. Check the branch, tag or "
                          "commit.") from None
    except RepositoryNotFoundError:
        raise _not_found(display, repo_id) from None
    except Exception as error:
        if _is_network_error(error):
            raise unreachable(f"{type(error).__name__}: {error}") from None
        raise ZipFitError(f"The Hugging Face Hub did not answer properly for {display} ({error}). "
                          f"{HUB_WAYS_OUT}") from None


def _not_found(display: str, location: str) -> ZipFitError:
    local_hint = "" if os.path.exists(location) else f" Nothing named {location!r} exists locally either."
    return ZipFitError(
        f"Dataset {display} was not found on the Hugging Face Hub: check the id (owner/name; private datasets "
        f"need HF_TOKEN).{local_hint} {HUB_WAYS_OUT}"
    )


def _is_network_error(error: BaseException) -> bool:
    for cause in (error, error.__cause__, error.__context__):
        if cause is None:
            continue
        if isinstance(cause, (ConnectionError, TimeoutError)):
            return True
        if any(kind.__name__ in NETWORK_ERROR_NAMES for kind in type(cause).__mro__):
            return True
    return False


def _load_arguments(source: DataSource) -> dict[str, Any]:
    import datasets

    arguments: dict[str, Any] = {"name": source.config, "revision": source.revision}
    if int(datasets.__version__.split(".")[0]) < 4:
        arguments["trust_remote_code"] = False  # datasets 3 could run a repository's loading script
    return arguments


def _load_dataset(path: str, **arguments: Any):
    import datasets

    return datasets.load_dataset(path, **arguments)


def _builder(path: str, arguments: dict[str, Any], display: str, offline: bool, local: bool):
    import datasets

    return _calling_datasets(lambda: datasets.load_dataset_builder(path, **arguments), display, offline, local)


METADATA_FILES = ("README.md", ".huggingface.yaml")  # where datasets reads a local folder's `configs`


def _check_no_urls(folder: Path, root: Path, display: str) -> None:
    """No `data_files` or `data_dir` in a local folder's metadata (README front matter, .huggingface.yaml) is a
    URL: datasets would download it, and a URL also reads as a relative path under the working folder."""
    from huggingface_hub import DatasetCard

    for name in METADATA_FILES:
        if not (folder / name).is_file():
            continue
        with open_inside_root(folder / name, root, f"{display}: {name}") as handle:
            text = handle.read().decode("utf-8", errors="replace")
        if name != "README.md":  # plain YAML: read as a card's front matter, as datasets merges it into one
            text = f"---\n{text}\n---\n"
        try:
            metadata = DatasetCard(text, ignore_metadata_errors=True).data.to_dict()
        except Exception:  # noqa: BLE001 - a damaged card is datasets' to report
            continue
        configs = metadata.get("configs") if isinstance(metadata, dict) else None
        configs = configs if isinstance(configs, list) else [configs]
        pending: list[object] = [[config.get("data_files"), config.get("data_dir")] for config in configs
                                 if isinstance(config, dict)]
        while pending:
            value = pending.pop()
            if isinstance(value, str):
                check_local_name(value, root, shown=f"{display}: {name}")
            elif isinstance(value, dict):
                pending.extend(value.values())
            elif isinstance(value, list):
                pending.extend(value)


def _named_data_files(builder) -> list[str]:
    """Every data file the builder's configuration resolved (patterns already expanded by datasets)."""
    data_files = getattr(builder.config, "data_files", None) or {}
    return [str(file) for files in data_files.values() for file in files]


def _split_of(builder, display: str, report: LoadReport) -> str:
    names = list(builder.info.splits or {}) or list(getattr(builder.config, "data_files", None) or {})
    if not names:
        return "train"
    return choose_split(names, None, display, report)


def _calling_datasets(function: Callable[[], Result], display: str, offline: bool, local: bool) -> Result:
    """Call into `datasets`, turning its exceptions into messages that say what to do."""
    from datasets.exceptions import DataFilesNotFoundError, DatasetNotFoundError

    try:
        return function()
    except ZipFitError:
        raise
    except (DatasetNotFoundError, DataFilesNotFoundError, FileNotFoundError) as error:
        if offline and not local:
            raise _not_cached(display, error) from None
        if local:
            raise ZipFitError(f"{display}: no data files found in that folder ({error}).") from None
        raise _not_found(display, display) from None
    except ValueError as error:
        message = str(error)
        if "Config name is missing" in message:
            raise ZipFitError(
                f"{display} has several configurations: choose one (`config`). "
                f"{_configs_line(message)}"
            ) from None
        if "BuilderConfig" in message:
            raise ZipFitError(f"{display}: {message.strip().rstrip('.')}. Choose one of those "
                              "configurations.") from None
        if "Couldn't find cache" in message:
            raise _not_cached(display, error) from None
        if "split" in message.lower():
            raise ZipFitError(f"{display}: {message.strip().rstrip('.')}. Choose one of those splits.") from None
        raise ZipFitError(f"{display} could not be loaded ({message}).") from None
    except Exception as error:
        if offline and not local:
            raise _not_cached(display, error) from None
        if _is_network_error(error):
            raise ZipFitError(f"Could not reach the Hugging Face Hub for {display} ({error}). {HUB_WAYS_OUT}") from None
        raise ZipFitError(f"{display} could not be loaded ({type(error).__name__}: {error}).") from None


def _configs_line(message: str) -> str:
    for line in message.splitlines():
        if "available configs" in line:
            return line.strip()
    return message


def _not_cached(display: str, error: BaseException) -> ZipFitError:
    import datasets.config

    return ZipFitError(
        f"{display} is not in the local datasets cache ({datasets.config.HF_DATASETS_CACHE}) and HF_HUB_OFFLINE "
        f"is set, so the Hub was not asked ({type(error).__name__}). Unset HF_HUB_OFFLINE on a machine with "
        "internet to download it once, check the id / config / split, or load the data from local files."
    )


def _stream_rows(dataset: Iterable[dict], display: str, row_filter: tuple[str, str] | None, source: DataSource,
                 max_rows: int | None, offline: bool, local: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Read rows as they arrive: at most `max_rows`, filtered, then reservoir-sampled with the seed."""
    kept: list[dict] = []
    positions: list[int] = []
    generator = random.Random(source.seed)
    seen = 0  # rows that passed the filter

    def read() -> None:
        nonlocal seen
        for position, row in enumerate(dataset):
            if max_rows is not None and position >= max_rows:
                break
            if row_filter is not None and not _matches(row, row_filter):
                continue
            seen += 1
            if source.sample is None or len(kept) < source.sample:
                kept.append(row)
                positions.append(position)
            else:  # reservoir sampling: every filtered row ends up kept with equal probability
                slot = generator.randrange(seen)
                if slot < source.sample:
                    kept[slot], positions[slot] = row, position

    _calling_datasets(read, display, offline, local)
    if source.sample is not None:  # reservoir order is random: restore the stream order
        order = np.argsort(positions, kind="stable")
        kept = [kept[index] for index in order]
        positions = [positions[index] for index in order]
    frame = pd.DataFrame.from_records(kept) if kept else pd.DataFrame()
    return frame, np.asarray(positions, dtype=np.int64)


def _matches(row: dict, row_filter: tuple[str, str]) -> bool:
    column, value = row_filter
    if column not in row:
        raise ZipFitError(f"Row filter column {column!r} not found. Fields that exist: {', '.join(map(str, row))}.")
    return cell_matches(row[column], value)
