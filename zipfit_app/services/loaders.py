"""Loading the source pool and the target set, through `zipfit_core.data.loading`.

Loaded datasets live in a process-wide cache (shared by sessions, keyed by what was asked for and,
for uploads, the bytes' digest); a session keeps only a `LoadedRef`. Token counts are cached per content
fingerprint, so every page and the export count tokens the same way, once.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import streamlit as st

from zipfit_core.analysis.selection import TokenCounter
from zipfit_core.data.formats import COMPRESSIONS, TABLE_FORMATS
from zipfit_core.data.loading import LoadedTexts, preview_table
from zipfit_core.data.local import data_files_under
from zipfit_core.data.sources import DataSource, LoadOptions, TextSpec
from zipfit_core.engines.open_folder import OpenedScoreFolder, open_score_folder
from zipfit_core.errors import ZipFitError
from zipfit_core.store.data_store import Progress, open_data

from ..config import app_settings
from ..state.records import LoadedRef
from ..state.view import DataChoice
from . import work

ROLES = ("source", "target")
ROLE_TITLES = {"source": "Source pool", "target": "Target set"}
LOCAL_SUFFIXES = (*TABLE_FORMATS, *COMPRESSIONS)  # what the file loader reads, for the picker


def load_options() -> LoadOptions:
    settings = app_settings()
    return LoadOptions(data_root=settings.data_root, max_upload_bytes=settings.max_upload_mb * 2**20,
                       hub_timeout_s=settings.hub_timeout_s, max_line_bytes=settings.max_line_bytes,
                       max_expansion=settings.max_expansion, max_columns=settings.max_columns)


def data_source(choice: DataChoice) -> DataSource:
    return DataSource(kind=choice.kind, location=choice.location, config=choice.config, split=choice.split,
                      revision=choice.revision, streaming=choice.streaming, limit=choice.limit,
                      sample=choice.sample, seed=choice.seed)


def text_spec(choice: DataChoice) -> TextSpec:
    row_filter = (choice.filter_column, choice.filter_value or "") if choice.filter_column else None
    return TextSpec(field=choice.field, template=choice.template, row_filter=row_filter)


def choice_key(choice: DataChoice, upload_digest: str | None) -> str:
    """What a load depends on: the choice, the uploaded bytes, and for local files the root and their state."""
    key = {**asdict(choice), "upload": upload_digest}
    if choice.kind in ("local", "folder"):
        root = app_settings().data_root
        key["data_root"] = str(root)
        try:  # an edited file is read again (a glob or folder is re-read when the folder changes)
            stat = (root / choice.location).stat()
            key["modified"] = [stat.st_mtime_ns, stat.st_size]
        except (OSError, ValueError):
            pass
    return json.dumps(key, sort_keys=True)


@st.cache_resource(max_entries=4, show_spinner=False)
def _open_folder(key: str, _choice: DataChoice) -> OpenedScoreFolder:
    return open_score_folder(_choice.location, app_settings().data_root, work.manager().cache_dir)


def loaded_bytes(loaded: LoadedTexts) -> int:
    """About how much memory a loaded data set holds: its texts (as Python strings) and its table (the Python
    strings of its other object columns estimated from their first thousand rows); for a data set whose rows
    stay on disk, its per-row numbers."""
    if loaded.store_folder is not None:
        return sum(numbers.nbytes for numbers in (loaded.row_ids, loaded.char_counts, loaded.token_counts))
    table = loaded.table
    size = sum(map(sys.getsizeof, loaded.texts)) + int(table.memory_usage(index=False, deep=False).sum())
    objects = [position for position, (name, dtype) in enumerate(zip(table.columns, table.dtypes))
               if dtype == object and name != loaded.text_field]  # the text column shares the texts' strings
    if objects and len(table):
        sample = table.iloc[:1000, objects]
        deep = sample.memory_usage(index=False, deep=True).sum() - sample.memory_usage(index=False, deep=False).sum()
        size += int(deep) * len(table) // len(sample)
    return size


class LoadedCache:
    """The loaded data sets of all sessions, by key, within a budget of bytes (`loaded_bytes`): the least recently
    used go first. A data set larger than the whole budget is refused. Each key is loaded once at a time."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._entries: OrderedDict[str, tuple[LoadedTexts, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(size for _loaded, size in self._entries.values())

    def _cached(self, key: str) -> LoadedTexts | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry[0] if entry is not None else None

    def get(self, key: str, load: Callable[[], LoadedTexts]) -> LoadedTexts:
        if (loaded := self._cached(key)) is not None:
            return loaded
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            if (loaded := self._cached(key)) is not None:
                return loaded
            try:
                return self._load(key, load)
            finally:
                with self._lock:
                    self._loading.pop(key, None)

    def _load(self, key: str, load: Callable[[], LoadedTexts]) -> LoadedTexts:
        loaded = load()
        size = loaded_bytes(loaded)
        if size > self.budget:
            raise ZipFitError(
                f"{loaded.origin} takes about {size / 2**20:,.0f} MiB once loaded, more than this server keeps for "
                f"all loaded data ({self.budget / 2**20:,.0f} MiB, the ZIPFIT_LOADER_CACHE_MB setting): load fewer "
                "rows (a limit or a sample), shorter texts (the text cap), or raise the setting."
            )
        with self._lock:
            self._entries[key] = (loaded, size)
            total = sum(entry_size for _loaded, entry_size in self._entries.values())
            while total > self.budget and len(self._entries) > 1:
                _key, (_dropped, dropped_size) = self._entries.popitem(last=False)
                total -= dropped_size
        return loaded


@st.cache_resource(show_spinner=False)
def loaded_cache() -> LoadedCache:
    """The process's one LoadedCache (Streamlit's cache_resource holds it, so clearing that clears it too)."""
    return LoadedCache(app_settings().loader_cache_bytes)


def _load_cached(key: str, choice: DataChoice, upload: bytes | None,
                 progress: Progress | None = None) -> LoadedTexts:
    def load() -> LoadedTexts:
        if choice.kind == "folder":  # a score folder's source rows, checked against the shards it scored
            return _open_folder(key, choice).source
        if choice.kind == "upload" and upload is None:
            raise ZipFitError(f"The uploaded file {choice.location!r} is no longer in memory: upload it again "
                              "on the Data page.")
        # Rows stay on disk in the data store, shared with every session and the command line.
        return open_data(data_source(choice), text_spec(choice), load_options(), cache_dir=work.manager().cache_dir,
                         upload=upload, progress=progress)

    return loaded_cache().get(key, load)


def load_choice(choice: DataChoice, upload: bytes | None = None,
                progress: Progress | None = None) -> tuple[LoadedTexts, LoadedRef]:
    """Load (or fetch from the cache) a dataset; returns it with its reference. Raises ZipFitError. A data set
    loaded for the first time is converted to the data store; `progress(rows, text bytes)` hears how far."""
    digest = hashlib.sha256(upload).hexdigest() if upload is not None else None
    key = choice_key(choice, digest)
    return _load_cached(key, choice, upload, progress), LoadedRef(choice, key)


def preview(choice: DataChoice, upload: bytes | None = None, n_rows: int = 20):
    """The first rows with all their columns, before a text is chosen (hub datasets are streamed)."""
    return preview_table(data_source(choice), load_options(), n_rows, upload=upload)


def load_ref(ref: LoadedRef) -> LoadedTexts:
    """A loaded data set from the process's cache, loaded again from its choice if the cache dropped it."""
    return _load_cached(ref.key, ref.choice, None)


def folder_of(ref: LoadedRef | None) -> OpenedScoreFolder | None:
    """The score folder whose rows are this source, if they are."""
    if ref is None or ref.choice.kind != "folder":
        return None
    return _open_folder(ref.key, ref.choice)


@dataclass(frozen=True)
class LoadedData:
    """The loaded source and target with what identifies them: what a run is computed on."""

    source: LoadedTexts
    target: LoadedTexts | None
    source_ref: LoadedRef
    target_ref: LoadedRef | None
    folder: OpenedScoreFolder | None  # the source is a score folder's rows

    @property
    def source_key(self) -> str:
        return self.source_ref.key

    @property
    def target_key(self) -> str | None:
        return self.target_ref.key if self.target_ref else None


def loaded_data(source_ref: LoadedRef | None, target_ref: LoadedRef | None) -> LoadedData | None:
    """Both loaded data sets (None without a source); raises ZipFitError when one cannot be read again."""
    if source_ref is None:
        return None
    target = load_ref(target_ref) if target_ref is not None else None
    return LoadedData(load_ref(source_ref), target, source_ref, target_ref, folder_of(source_ref))


@st.cache_resource(max_entries=8, show_spinner=False)
def _token_counts(fingerprint: str, _loaded: LoadedTexts) -> np.ndarray:
    counts = TokenCounter().count_loaded(_loaded)  # a data store's counts, made when it was converted
    counts.setflags(write=False)
    return counts


def token_counts(loaded: LoadedTexts) -> np.ndarray:
    """Approximate token counts of each text (the counter `zipfit select` uses by default)."""
    return _token_counts(loaded.fingerprint, loaded)


@st.cache_resource(max_entries=8, show_spinner=False)
def _char_counts(fingerprint: str, _texts: list[str]) -> np.ndarray:
    counts = np.fromiter((len(text) for text in _texts), dtype=np.int64, count=len(_texts))
    counts.setflags(write=False)
    return counts


def char_counts(loaded: LoadedTexts) -> np.ndarray:
    if loaded.char_counts is not None:
        return loaded.char_counts
    return _char_counts(loaded.fingerprint, loaded.texts)


def local_files(limit: int = 300) -> list[str]:
    """Data files under the data root, relative to it, for the local-file picker (no links out, no exports)."""
    return data_files_under(app_settings().data_root, LOCAL_SUFFIXES, limit, skip=("exports",))


def describe(choice: DataChoice | None) -> str:
    """A short name for a dataset choice, e.g. `demo: pool` or `file: mine.jsonl (template)`."""
    if choice is None:
        return "not loaded"
    where = {"demo": "demo", "hub": "hub", "local": "file", "upload": "upload", "folder": "score folder"}[choice.kind]
    text = "template" if choice.template else choice.field
    return f"{where}: {choice.location}" + (f" ({text})" if text else "")
