"""Data in: turn a data source description into texts, row ids, the rows' other columns and a fingerprint.

Every entry point that reads user data (the CLI, the app, the engines) goes through this module,
so formats, policies and error messages grow in one place.

    load_source(DataSource, TextSpec, LoadOptions, upload=bytes) -> LoadedTexts
    load_recipe(DataRecipe, LoadOptions)                          -> the same texts again (`LoadedTexts.recipe`)
    preview_table(DataSource, LoadOptions, n_rows)               -> the first rows, before a text is chosen

Sources (`DataSource.kind`): "local" (a file, folder, glob pattern or save_to_disk folder; see
`local`, `formats`, `text_formats`), "hub" (a Hugging Face dataset id or a local dataset repository folder, through
`datasets`; see `hub`), "upload" (bytes from the browser, size-limited) and "demo" (a bundled data set
from `demo`).

Rows go through these steps, in order:
1. read at most `limit` rows (hub streaming reads at most `limit` rows of the stream);
2. keep the rows whose `row_filter` column equals the value, compared as text;
3. keep a seeded random `sample` of them (row order is kept);
4. take the text of each row, a field or a template (below); drop rows that have no text;
5. cap every text at `max_chars` characters.
Every row dropped, value converted or text capped is counted in `LoadedTexts.warnings`, with row
numbers (0-based positions in the source as read) or line numbers (1-based, in the file); a text field
chosen for the user (none was given) is explained in `LoadedTexts.notes`.

How a value becomes text (numbers, lists, nulls, empty strings) is `texts.py`'s policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from zipfit_core.data.formats import COMPRESSIONS, TABLE_FORMATS, format_of, read_upload
from zipfit_core.data.local import empty_rows_error, is_glob, local_frames, path_exists
from zipfit_core.data.sources import (
    TEMPLATE_PREFIX,
    DataRecipe,
    DataSource,
    LoadOptions,
    LoadReport,
    TextSpec,
    cell_matches,
    plural,
    too_many_columns,
)
from zipfit_core.data.texts import (
    TEMPLATE_TEXT_COLUMN,
    cap_texts,
    choose_text_field,
    drop_missing,
    field_list,
    field_texts,
    is_arrow_string,
    no_text_error,
    template_texts,
    texts_fingerprint,
)
from zipfit_core.errors import ZipFitError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass
class LoadedTexts:
    """Texts to score, one per kept row, with the rows they came from.

    `texts[i]`, `table.iloc[i]` and `row_ids[i]` describe the same row; `row_ids` are the rows' positions
    in the source as read (before the filter, the sample and dropped rows).
    """

    texts: list[str]
    table: pd.DataFrame  # the kept rows with all their original columns (plus TEMPLATE_TEXT_COLUMN for a template)
    text_field: str  # the column holding the text (TEMPLATE_TEXT_COLUMN for a template)
    origin: str
    warnings: list[str] = field(default_factory=list)
    row_ids: np.ndarray | None = None  # None -> 0..n-1
    text_template: str | None = None
    recipe: DataRecipe | None = None  # how to load these texts again (set by `load_source`)
    notes: list[str] = field(default_factory=list)  # choices made for the user, e.g. which field is the text
    # Set when the rows stay on disk (zipfit_core.store.data_store): computed once, at conversion.
    stored_fingerprint: str | None = None
    char_counts: np.ndarray | None = None
    token_counts: np.ndarray | None = None  # approximate (the regex counter)
    store_folder: Path | None = None

    def __post_init__(self) -> None:
        if self.row_ids is None:
            self.row_ids = np.arange(len(self.texts), dtype=np.int64)
        row_ids = np.asarray(self.row_ids)
        self.row_ids = row_ids if row_ids.dtype.kind == "i" else row_ids.astype(np.int64)  # a store's: int32

    @cached_property
    def fingerprint(self) -> str:
        return self.stored_fingerprint or texts_fingerprint(self.texts)

    @property
    def text_description(self) -> str:
        """The field name, or `template:...`: what a scores file records (`TextSpec.from_description` reads it)."""
        return TEMPLATE_PREFIX + self.text_template if self.text_template is not None else self.text_field


@dataclass
class LoadedPiece:
    """A run of consecutive kept rows of a load: `texts[i]`, `table.iloc[i]` and `row_ids[i]` are one row."""

    texts: list[str]
    table: pd.DataFrame
    row_ids: np.ndarray
    text_field: str  # the column holding the text (TEMPLATE_TEXT_COLUMN for a template)


class LoadStream:
    """A load read a piece at a time (a file of a folder, or the whole of a single file), so a caller that
    writes each piece away (the data store) holds one piece in memory, not the data set.

    Iterate it once for the pieces; `text_field`, `notes` and `report.warnings` are complete after that.
    """

    def __init__(self, source: DataSource, text: TextSpec, options: LoadOptions, upload: bytes | None) -> None:
        self.origin = source.describe()
        self.report = LoadReport()
        self.notes: list[str] = []
        self._source, self._text, self._options = _resolve_demo(source, text, options)
        text = self._text  # a demo's own field, template and filter fill what was not asked
        self.text_field: str | None = TEMPLATE_TEXT_COLUMN if text.template is not None else text.field
        self.text_template = text.template
        # a demo stays `demo:NAME` in the recipe, so the recipe works on any machine
        self.recipe = DataRecipe(source, TextSpec(field=None if text.template is not None else text.field,
                                                  template=text.template, row_filter=text.row_filter),
                                 on_bad_line=options.on_bad_line, max_chars=options.max_chars,
                                 plain_text_unit=options.plain_text_unit)
        self._upload = upload

    def __iter__(self) -> Iterator[LoadedPiece]:
        source, text, options, origin = self._source, self._text, self._options, self.origin
        filtered = _FilterCounts() if text.row_filter is not None else None
        missing_counts = [0, 0]
        rows = 0
        for frame, row_ids in _selected_frames(source, text.row_filter, options, self.report, self._upload,
                                               filtered, origin):
            if self.text_field is None:
                choice = choose_text_field(frame, origin)
                self.text_field = choice.field
                if choice.reason:
                    self.notes.append(choice.reason)
            full_lengths: dict[int, int] = {}  # rows a template rendered only up to the cap: their whole lengths
            if text.template is not None:
                texts = template_texts(frame, text.template, origin, self.report, row_ids, options.max_chars,
                                       full_lengths)
            else:
                texts = field_texts(frame, self.text_field, origin, self.report, row_ids)
            texts, kept = drop_missing(texts, origin, self.report, row_ids, text, missing_counts)
            if kept is not None:
                frame, row_ids = _take(frame, kept), row_ids[kept]
                if full_lengths:
                    full_lengths = {new: full_lengths[old] for new, old in enumerate(kept.tolist()) if old in full_lengths}
            if not texts:
                continue
            if options.max_chars is not None:
                cap_texts(texts, options.max_chars, origin, self.report, row_ids, full_lengths)
            if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
                frame = frame.reset_index(drop=True)
            if text.template is not None:
                frame = frame.copy(deep=False)  # a new column on a shallow copy: no column data is copied
                frame[TEMPLATE_TEXT_COLUMN] = pd.Series(texts, dtype=object, index=frame.index)  # shares the strs
            rows += len(texts)
            yield LoadedPiece(texts, frame, row_ids, self.text_field)
        if filtered is not None and filtered.kept == 0:
            raise filtered.error(text.row_filter, origin)
        if rows == 0:
            raise no_text_error(origin, text, *missing_counts)
        self.recipe = replace(self.recipe, text=replace(self.recipe.text, field=None if text.template is not None
                                                        else self.text_field))


def load_stream(source: DataSource, text: TextSpec = TextSpec(), options: LoadOptions = LoadOptions(), *,
                upload: bytes | None = None) -> LoadStream:
    """`load_source`, a piece at a time (see `LoadStream`)."""
    return LoadStream(source, text, options, upload)


def load_source(source: DataSource, text: TextSpec = TextSpec(), options: LoadOptions = LoadOptions(), *,
                upload: bytes | None = None) -> LoadedTexts:
    """Read the rows of `source` and take the text of each row as `text` says (see the module docstring)."""
    stream = load_stream(source, text, options, upload=upload)
    pieces = list(stream)
    if len(pieces) == 1:
        texts, frame, row_ids = pieces[0].texts, pieces[0].table, pieces[0].row_ids
    else:
        texts = [text for piece in pieces for text in piece.texts]
        frame = pd.concat([piece.table for piece in pieces], ignore_index=True)
        row_ids = np.concatenate([piece.row_ids for piece in pieces])
    return LoadedTexts(texts=texts, table=frame, text_field=stream.text_field, origin=stream.origin,
                       warnings=stream.report.warnings, row_ids=row_ids, text_template=stream.text_template,
                       recipe=stream.recipe, notes=stream.notes)


class _FilterCounts:
    """How many rows a row filter kept, and the values it saw, for the message when it keeps none."""

    def __init__(self) -> None:
        self.kept = 0
        self.values: pd.Series | None = None

    def add(self, series: pd.Series, kept: int) -> None:
        self.kept += kept
        if self.kept == 0:
            counts = series.dropna().astype(str).value_counts().head(1000)
            self.values = counts if self.values is None else self.values.add(counts, fill_value=0)

    def error(self, row_filter: tuple[str, str], origin: str) -> ZipFitError:
        column, value = row_filter
        counts = (self.values if self.values is not None else pd.Series(dtype=int)).sort_values(ascending=False)
        shown = ", ".join(f"{name!r} ({int(count)})" for name, count in counts.head(10).items())
        return ZipFitError(
            f"No rows of {origin} have {column} == {value!r}: the filter leaves nothing. "
            f"Values of {column!r}: {shown or '(all empty)'}{', ...' if len(counts) > 10 else ''}."
        )


def _selected_frames(source: DataSource, row_filter: tuple[str, str] | None, options: LoadOptions,
                     report: LoadReport, upload: bytes | None, filtered: _FilterCounts | None,
                     origin: str) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Steps 1-3 of the module docstring, a piece at a time. A sample needs the count of rows first: a first pass
    keeps only the rows' ids, a second reads the rows again and keeps the chosen (memory never holds every row)."""
    pieces = _frames_with_ids(source, row_filter, options, report, upload, source.limit)
    if source.sample is None:
        yield from _filtered_frames(pieces, source.limit, row_filter, filtered, origin)
        return
    ids = [row_ids for _frame, row_ids in _filtered_frames(pieces, source.limit, row_filter, filtered, origin)]
    every = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    chosen = _sample(every, source, origin, report)
    again = _frames_with_ids(source, row_filter, options, LoadReport(), upload, source.limit)  # said once already
    for frame, row_ids in _filtered_frames(again, source.limit, row_filter, _FilterCounts(), origin):
        keep = np.isin(row_ids, chosen, assume_unique=True)
        if keep.all():
            yield frame, row_ids
        elif keep.any():
            yield _take(frame, np.flatnonzero(keep)), row_ids[keep]


def _filtered_frames(pieces: Iterator[tuple[pd.DataFrame, np.ndarray]], limit: int | None,
                     row_filter: tuple[str, str] | None, filtered: _FilterCounts | None,
                     origin: str) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    read = 0
    for frame, row_ids in pieces:
        if limit is not None and read + len(frame) > limit:
            frame, row_ids = frame.iloc[: limit - read], row_ids[: limit - read]
        read += len(frame)
        if row_filter is not None:
            keep = _filter_mask(frame, row_filter, origin)
            filtered.add(frame[row_filter[0]], int(keep.sum()))
            if not keep.all():
                frame, row_ids = _take(frame, np.flatnonzero(keep)), row_ids[keep]
        if len(frame):
            yield frame, row_ids
        if limit is not None and read >= limit:
            return


def load_recipe(recipe: DataRecipe, options: LoadOptions = LoadOptions(), *,
                upload: bytes | None = None) -> LoadedTexts:
    """Load the texts `recipe` describes again; `options` give the rest (data root, size and time limits)."""
    return load_source(recipe.source, recipe.text, recipe.options(options), upload=upload)


def preview_table(source: DataSource, options: LoadOptions = LoadOptions(), n_rows: int = 20, *,
                  upload: bytes | None = None) -> pd.DataFrame:
    """The first `n_rows` rows with all their columns, before a text is chosen (hub datasets are streamed).

    `attrs["warnings"]` holds what was skipped while reading them; `text_like_fields(frame)` proposes fields.
    """
    report = LoadReport()
    source, _text, options = _resolve_demo(source, TextSpec(), options)
    limit = n_rows if source.limit is None else min(n_rows, source.limit)
    frame, _row_ids = _read_rows(source, None, options, report, upload=upload, max_rows=limit, streaming=True)
    frame = frame.head(n_rows).reset_index(drop=True)
    frame.attrs["warnings"] = list(report.warnings)
    return frame


def default_text_spec(source: DataSource) -> TextSpec:
    """The text a source suggests: a demo's own field/template and filter; otherwise none (propose one)."""
    if source.kind != "demo":
        return TextSpec()
    return _demo_text_spec(_demo_entry(source.location))


def _read_rows(source: DataSource, row_filter: tuple[str, str] | None, options: LoadOptions, report: LoadReport, *,
               upload: bytes | None, max_rows: int | None,
               streaming: bool | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    pieces = list(_frames_with_ids(source, row_filter, options, report, upload, max_rows, streaming))
    if len(pieces) == 1:
        return pieces[0]
    return pd.concat([frame for frame, _ids in pieces], ignore_index=True), np.concatenate([ids for _f, ids in pieces])


def _frames_with_ids(source: DataSource, row_filter: tuple[str, str] | None, options: LoadOptions,
                     report: LoadReport, upload: bytes | None, max_rows: int | None,
                     streaming: bool | None = None) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """The source's rows a piece at a time, with their positions in the source as read."""
    if source.kind == "local":
        start = 0
        for frame in local_frames(source.location, source.split, options, report, max_rows):
            yield _checked_width(frame, source, options), np.arange(start, start + len(frame), dtype=np.int64)
            start += len(frame)
        return
    row_ids = None
    if source.kind == "upload":
        if upload is None:
            raise ZipFitError(f"No bytes were uploaded for {source.location}: upload the file again.")
        frame = read_upload(source.location, upload, options, report, max_rows)
    elif source.kind == "hub":
        from zipfit_core.data.hub import read_hub

        frame, row_ids = read_hub(source, row_filter, options, report, max_rows, streaming=streaming)
        if len(frame) == 0 and row_filter is not None:
            column, value = row_filter
            raise ZipFitError(f"No rows of {source.describe()} have {column} == {value!r}"
                              f"{' in the first ' + plural(max_rows, 'row') if max_rows else ''}: check the filter.")
    else:  # demo sources are resolved to local files before this point
        raise ZipFitError(f"Cannot read a {source.kind} source directly.")
    if len(frame) == 0:
        raise empty_rows_error(source.describe(), report)
    yield _checked_width(frame, source, options), (np.arange(len(frame), dtype=np.int64) if row_ids is None
                                                   else row_ids)


def _checked_width(frame: pd.DataFrame, source: DataSource, options: LoadOptions) -> pd.DataFrame:
    if len(frame.columns) > options.max_columns:  # every format: some readers could not tell before
        raise too_many_columns(source.describe(), len(frame.columns), options)
    return frame


def _demo_entry(name: str):
    try:
        from zipfit_core.data import demo
    except ImportError:
        raise ZipFitError("The bundled demo data sets are not installed with this copy of zipfit.") from None
    entries = demo.DEMO_DATASETS
    if name not in entries:
        raise ZipFitError(f"Unknown demo data set {name!r}: choose one of {', '.join(sorted(entries))}.")
    return entries[name]


def _demo_text_spec(entry) -> TextSpec:
    spec = entry.text
    return TextSpec(field=getattr(spec, "field", None), template=getattr(spec, "template", None),
                    row_filter=getattr(spec, "row_filter", None))


def _resolve_demo(source: DataSource, text: TextSpec, options: LoadOptions) -> tuple[DataSource, TextSpec, LoadOptions]:
    """A demo source becomes its bundled file (trusted: outside any data root); its text spec fills gaps."""
    if source.kind != "demo":
        return source, text, options
    entry = _demo_entry(source.location)
    suggested = _demo_text_spec(entry)
    if text.field is None and text.template is None:
        text = replace(text, field=suggested.field, template=suggested.template)
    if text.row_filter is None:
        text = replace(text, row_filter=suggested.row_filter)
    local = DataSource("local", str(Path(entry.path)), limit=source.limit, sample=source.sample, seed=source.seed)
    return local, text, replace(options, data_root=None)


def _take(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    return frame.iloc[positions].reset_index(drop=True)


def _filter_mask(frame: pd.DataFrame, row_filter: tuple[str, str], origin: str) -> np.ndarray:
    column, value = row_filter
    if column not in frame.columns:
        raise ZipFitError(
            f"Row filter column {column!r} not found in {origin}. Fields that exist: {field_list(frame)}."
        )
    series = frame[column]
    if is_arrow_string(series):
        keep = series.eq(value).fillna(False).to_numpy(dtype=bool)
    else:
        keep = np.fromiter((cell_matches(cell, value) for cell in series), dtype=bool, count=len(series))
    return keep


def _sample(row_ids: np.ndarray, source: DataSource, origin: str, report: LoadReport) -> np.ndarray:
    """The ids of a seeded random sample of `row_ids` (all of them when there are not more), in row order."""
    count = len(row_ids)
    if source.sample >= count:
        if source.sample > count:
            report.warn(f"{origin}: asked for a sample of {plural(source.sample, 'row')} but only "
                        f"{plural(count, 'row')} {'is' if count == 1 else 'are'} there: keeping "
                        f"{'it' if count == 1 else 'all of them'}.")
        return row_ids
    return row_ids[np.sort(np.random.default_rng(source.seed).choice(count, size=source.sample, replace=False))]


def source_from_argument(argument: str, **settings) -> DataSource:
    """A command-line SOURCE/TARGET: `hub:owner/name`, `demo:NAME`, a local path / folder / glob, or a
    bare name that is not a local path (taken as a hub id). `settings` are DataSource fields."""
    argument = str(argument)
    for prefix, kind in (("hub:", "hub"), ("demo:", "demo"), ("local:", "local")):
        if argument.startswith(prefix):
            return DataSource(kind, argument[len(prefix):], **settings)
    if path_exists(Path(argument).expanduser()) or is_glob(argument) or _looks_like_path(argument):
        return DataSource("local", argument, **settings)
    if HUB_ID.match(argument):
        return DataSource("hub", argument, **settings)
    return DataSource("local", argument, **settings)


def _looks_like_path(argument: str) -> bool:
    if argument.startswith(("/", "./", "../", "~", ".\\")):
        return True
    suffixes = [suffix.lower() for suffix in Path(argument).suffixes]
    return bool(suffixes) and (suffixes[-1] in TABLE_FORMATS or suffixes[-1] in COMPRESSIONS
                               or format_of(argument)[0] is not None)
