"""Data in: turn a data source description into texts, row ids, the rows' other columns and a fingerprint.

Every entry point that reads user data (the CLI, the app, the engines) goes through this module,
so formats, policies and error messages grow in one place.

    load_source(DataSource, TextSpec, LoadOptions, upload=bytes) -> LoadedTexts
    load_recipe(DataRecipe, LoadOptions)                          -> the same texts again (`LoadedTexts.recipe`)
    preview_table(DataSource, LoadOptions, n_rows)               -> the first rows, before a text is chosen

Sources (`DataSource.kind`): "local" (a file, folder, glob pattern or save_to_disk folder; see
`file_readers`), "hub" (a Hugging Face dataset id or a local dataset repository folder, through
`datasets`; see `hub`), "upload" (bytes from the browser, size-limited) and "demo" (a bundled data set
from `zipfit_core.demo`).

Rows go through these steps, in order:
1. read at most `limit` rows (hub streaming reads at most `limit` rows of the stream);
2. keep the rows whose `row_filter` column equals the value, compared as text;
3. keep a seeded random `sample` of them (row order is kept);
4. take the text of each row, a field or a template (below); drop rows that have no text;
5. cap every text at `max_chars` characters.
Every row dropped, value converted or text capped is counted in `LoadedTexts.warnings`, with row
numbers (0-based positions in the source as read) or line numbers (1-based, in the file).

Values that are not strings (the policy, the same for a field and for each field of a template):
- numbers and booleans become their text (`str(value)`, e.g. 3 -> "3", 2.5 -> "2.5"), with a warning;
- lists and objects become JSON text, with a warning (choose another field or a template if that
  is not what you want); bytes are decoded as UTF-8 (undecodable bytes replaced);
- null (missing) values: the row is skipped, with a warning that counts them and names the rows;
- a row whose text is the empty string is skipped the same way (it has nothing to compress).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .data_sources import (
    TEMPLATE_PREFIX,
    DataRecipe,
    DataSource,
    LoadOptions,
    LoadReport,
    TextSpec,
    cell_matches,
    is_missing,
    labelled,
    plural,
    template_fields,
    template_parts,
)
from .errors import ZipFitError
from .file_readers import (
    COMPRESSIONS,
    TABLE_FORMATS,
    decode_replacing,
    empty_rows_error,
    format_of,
    is_glob,
    read_local,
    read_upload,
)

__all__ = [
    "DataRecipe", "DataSource", "LoadOptions", "LoadedTexts", "TextSpec", "TEMPLATE_TEXT_COLUMN", "check_not_empty",
    "default_text_spec", "load_recipe", "load_source", "load_texts", "parse_row_filter", "preview_table",
    "propose_text_field", "read_table", "source_from_argument", "string_columns", "template_texts",
    "text_like_fields", "texts_fingerprint", "texts_from_field",
]

TABLE_SUFFIXES = tuple(TABLE_FORMATS)
TEMPLATE_TEXT_COLUMN = "zipfit_text"  # with a template, the rendered texts are added to the table under this name
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

    def __post_init__(self) -> None:
        if self.row_ids is None:
            self.row_ids = np.arange(len(self.texts), dtype=np.int64)
        else:
            self.row_ids = np.asarray(self.row_ids, dtype=np.int64)

    @cached_property
    def fingerprint(self) -> str:
        return texts_fingerprint(self.texts)

    @property
    def text_description(self) -> str:
        """The field name, or `template:...`: what a scores file records (`TextSpec.from_description` reads it)."""
        return TEMPLATE_PREFIX + self.text_template if self.text_template is not None else self.text_field


def texts_fingerprint(texts: Iterable[str]) -> str:
    """sha256 over the texts in order (length-prefixed, so boundaries count)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------
# Sources.


def load_source(source: DataSource, text: TextSpec = TextSpec(), options: LoadOptions = LoadOptions(), *,
                upload: bytes | None = None) -> LoadedTexts:
    """Read the rows of `source` and take the text of each row as `text` says (see the module docstring)."""
    report = LoadReport()
    origin = source.describe()
    asked_source = source  # a demo stays `demo:NAME` in the recipe, so the recipe works on any machine
    source, text, options = _resolve_demo(source, text, options)
    frame, row_ids = _read_rows(source, text.row_filter, options, report, upload=upload, max_rows=source.limit)
    if source.limit is not None and len(frame) > source.limit:
        frame, row_ids = frame.iloc[: source.limit], row_ids[: source.limit]
    if text.row_filter is not None:
        keep = _filter_mask(frame, text.row_filter, origin)
        if not keep.all():
            frame, row_ids = _take(frame, np.flatnonzero(keep)), row_ids[keep]
    if source.sample is not None:
        frame, row_ids = _sample(frame, row_ids, source, origin, report)
    if text.template is not None:
        text_field = TEMPLATE_TEXT_COLUMN
        texts = template_texts(frame, text.template, origin, report, row_ids)
    else:
        text_field = text.field or propose_text_field(frame)
        texts = _field_texts(frame, text_field, origin, report, row_ids)
    texts, kept = _drop_missing(texts, origin, report, row_ids, text)
    if kept is not None:
        frame, row_ids = _take(frame, kept), row_ids[kept]
    if options.max_chars is not None:
        _cap(texts, options.max_chars, origin, report, row_ids)
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame = frame.reset_index(drop=True)
    if text.template is not None:
        frame = frame.copy(deep=False)  # a new column on a shallow copy: no column data is copied
        frame[TEMPLATE_TEXT_COLUMN] = pd.Series(texts, dtype=object, index=frame.index)  # shares the str objects
    used_text = TextSpec(field=None if text.template is not None else text_field, template=text.template,
                         row_filter=text.row_filter)
    recipe = DataRecipe(asked_source, used_text, on_bad_line=options.on_bad_line, max_chars=options.max_chars,
                        plain_text_unit=options.plain_text_unit)
    return LoadedTexts(texts=texts, table=frame, text_field=text_field, origin=origin, warnings=report.warnings,
                       row_ids=row_ids, text_template=text.template, recipe=recipe)


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
    row_ids = None
    if source.kind == "local":
        frame = read_local(source.location, source.split, options, report, max_rows)
    elif source.kind == "upload":
        if upload is None:
            raise ZipFitError(f"No bytes were uploaded for {source.location}: upload the file again.")
        frame = read_upload(source.location, upload, options, report, max_rows)
    elif source.kind == "hub":
        from .hub import read_hub

        frame, row_ids = read_hub(source, row_filter, options, report, max_rows, streaming=streaming)
        if len(frame) == 0 and row_filter is not None:
            column, value = row_filter
            raise ZipFitError(f"No rows of {source.describe()} have {column} == {value!r}"
                              f"{' in the first ' + plural(max_rows, 'row') if max_rows else ''}: check the filter.")
    else:  # demo sources are resolved to local files before this point
        raise ZipFitError(f"Cannot read a {source.kind} source directly.")
    if len(frame) == 0:
        raise empty_rows_error(source.describe(), report)
    if row_ids is None:
        row_ids = np.arange(len(frame), dtype=np.int64)
    return frame, row_ids


def _demo_entry(name: str):
    try:
        from . import demo
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
            f"Row filter column {column!r} not found in {origin}. Fields that exist: {_field_list(frame)}."
        )
    series = frame[column]
    if _is_arrow_string(series):
        keep = series.eq(value).fillna(False).to_numpy(dtype=bool)
    else:
        keep = np.fromiter((cell_matches(cell, value) for cell in series), dtype=bool, count=len(series))
    if not keep.any():
        counts = series.dropna().astype(str).value_counts()
        shown = ", ".join(f"{name!r} ({count})" for name, count in counts.head(10).items())
        raise ZipFitError(
            f"No rows of {origin} have {column} == {value!r}: the filter leaves nothing. "
            f"Values of {column!r}: {shown or '(all empty)'}{', ...' if len(counts) > 10 else ''}."
        )
    return keep


def _sample(frame: pd.DataFrame, row_ids: np.ndarray, source: DataSource, origin: str,
            report: LoadReport) -> tuple[pd.DataFrame, np.ndarray]:
    count = len(frame)
    if source.sample >= count:
        if source.sample > count:
            report.warn(f"{origin}: asked for a sample of {plural(source.sample, 'row')} but only "
                        f"{plural(count, 'row')} are there: keeping all of them.")
        return frame, row_ids
    chosen = np.sort(np.random.default_rng(source.seed).choice(count, size=source.sample, replace=False))
    return _take(frame, chosen), row_ids[chosen]


# ---------------------------------------------------------------------------------------------------
# Texts.


def _is_arrow_string(series: pd.Series) -> bool:
    dtype = series.dtype
    return isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and str(dtype.pyarrow_dtype) in ("string", "large_string", "string_view")
    )


@dataclass
class _Conversions:
    """Rows (0-based positions in the frame) whose value had to be turned into text, by kind."""

    numbers: list[int] = field(default_factory=list)
    structures: list[int] = field(default_factory=list)
    other: list[int] = field(default_factory=list)
    undecodable: list[int] = field(default_factory=list)

    def report(self, report: LoadReport, origin: str, name: str, row_ids: np.ndarray) -> None:
        for positions, what in ((self.numbers, "numbers and booleans to text"),
                                (self.structures, "lists / objects to JSON text "
                                                  "(choose another field or a template if that is not wanted)"),
                                (self.other, "other values (dates, ...) to text"),
                                (self.undecodable, "bytes values with undecodable bytes (replaced with U+FFFD)")):
            if positions:
                report.warn(f"{origin}: field {name!r}: converted {plural(len(positions), 'value')} of "
                            f"{what}: {labelled('row', row_ids[positions].tolist())}.")


def _as_plain(value: object) -> object:
    """JSON-ready: numpy arrays and scalars inside lists / dicts become Python values."""
    if isinstance(value, np.ndarray):
        return [_as_plain(item) for item in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_as_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _as_plain(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _cell_text(value: object, position: int, conversions: _Conversions) -> str | None:
    """The text of one cell under the module's policy; None for a missing value."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        conversions.structures.append(position)
        return json.dumps(_as_plain(value), ensure_ascii=False, default=str)
    if is_missing(value):
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        text, bad = decode_replacing(bytes(value))
        if bad:
            conversions.undecodable.append(position)
        return text
    if isinstance(value, (bool, int, float, np.bool_, np.number)):
        conversions.numbers.append(position)
        return str(value.item() if isinstance(value, np.generic) else value)
    conversions.other.append(position)
    return str(value)


def _column_texts(frame: pd.DataFrame, name: str, origin: str, report: LoadReport,
                  row_ids: np.ndarray) -> list[str | None]:
    """One column as texts (None for missing values); Arrow strings become Python strings exactly once."""
    series = frame[name]
    if isinstance(series, pd.DataFrame):
        raise ZipFitError(f"{origin} has several columns named {name!r}: rename them so that each is unique.")
    if _is_arrow_string(series):
        values = series.tolist()
        if series.hasnans:
            for position in np.flatnonzero(series.isna().to_numpy()):
                values[position] = None
        return values
    conversions = _Conversions()
    values = [_cell_text(value, position, conversions) for position, value in enumerate(series.tolist())]
    conversions.report(report, origin, name, row_ids)
    return values


def _check_fields(frame: pd.DataFrame, names: Sequence[str], origin: str, what: str) -> None:
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ZipFitError(
            f"{what} {', '.join(map(repr, missing))} not found in {origin}. Fields that exist: {_field_list(frame)}."
        )


def _field_list(frame: pd.DataFrame) -> str:
    return ", ".join(map(str, frame.columns)) or "(none)"


def _field_texts(frame: pd.DataFrame, name: str, origin: str, report: LoadReport,
                 row_ids: np.ndarray) -> list[str | None]:
    _check_fields(frame, [name], origin, "Field")
    return _column_texts(frame, name, origin, report, row_ids)


def template_texts(frame: pd.DataFrame, template: str, origin: str, report: LoadReport | None = None,
                   row_ids: np.ndarray | None = None) -> list[str | None]:
    """Each row's text rendered from `template` under the module's value policy; None where a field is null.

    A field the template uses that `frame` lacks is an error naming `origin` and the fields that exist.
    Conversions (numbers, lists, ...) are reported to `report` when given.
    """
    report = report if report is not None else LoadReport()
    row_ids = row_ids if row_ids is not None else np.arange(len(frame), dtype=np.int64)
    names = template_fields(template)
    _check_fields(frame, names, origin, f"Template {template!r} uses field(s)")
    columns = {name: _column_texts(frame, name, origin, report, row_ids) for name in names}
    parts = template_parts(template)
    texts: list[str | None] = []
    for position in range(len(frame)):
        pieces = []
        for literal, name in parts:
            pieces.append(literal)
            if name is not None:
                value = columns[name][position]
                if value is None:
                    break
                pieces.append(value)
        else:
            texts.append("".join(pieces))
            continue
        texts.append(None)
    return texts


def _drop_missing(texts: list[str | None], origin: str, report: LoadReport, row_ids: np.ndarray,
                  spec: TextSpec) -> tuple[list[str], np.ndarray | None]:
    """Drop rows without text (null, or the empty string); None means every row was kept."""
    missing = [position for position, text in enumerate(texts) if text is None]
    empty = [position for position, text in enumerate(texts) if text == ""]
    if not missing and not empty:
        return texts, None  # type: ignore[return-value]
    what = f"template {spec.template!r}" if spec.template is not None else "the text field"
    if len(missing) + len(empty) == len(texts):
        raise ZipFitError(
            f"No row of {origin} has text for {what}: {plural(len(missing), 'row')} are null, "
            f"{plural(len(empty), 'row')} are empty. Choose another field (or template), or check the filter."
        )
    if missing:
        report.warn(f"{origin}: skipped {plural(len(missing), 'row')} with a null (missing) value for {what}: "
                    f"{labelled('row', row_ids[missing].tolist())}.")
    if empty:
        report.warn(f"{origin}: skipped {plural(len(empty), 'row')} whose text is empty: "
                    f"{labelled('row', row_ids[empty].tolist())}.")
    kept = np.array([position for position, text in enumerate(texts) if text], dtype=np.int64)
    return [texts[position] for position in kept], kept  # type: ignore[misc]


def _cap(texts: list[str], max_chars: int, origin: str, report: LoadReport, row_ids: np.ndarray) -> None:
    """Cut texts longer than `max_chars` characters, in place, and say which."""
    long_rows = [position for position, text in enumerate(texts) if len(text) > max_chars]
    if not long_rows:
        return
    longest = max(len(texts[position]) for position in long_rows)
    for position in long_rows:
        texts[position] = texts[position][:max_chars]
    report.warn(
        f"{origin}: capped {plural(len(long_rows), 'text')} longer than {max_chars:,} characters "
        f"(the longest had {longest:,}): {labelled('row', row_ids[long_rows].tolist())}. "
        "Raise the cap (--max-chars) to keep whole texts."
    )


def string_columns(table: pd.DataFrame) -> list[str]:
    """Columns whose non-null values are all strings (and that have at least one)."""
    names = []
    for name in table.columns:
        series = table[name]
        if isinstance(series, pd.DataFrame):
            continue
        if _is_arrow_string(series):
            if series.notna().any():
                names.append(str(name))
            continue
        if series.dtype != object:
            continue
        values = series.dropna()
        if len(values) and values.map(lambda value: isinstance(value, str)).all():
            names.append(str(name))
    return names


def text_like_fields(table: pd.DataFrame, sample_rows: int = 10_000) -> list[str]:
    """Columns whose values are mostly strings, longest mean string length first: candidates for the text.

    Judged on the first `sample_rows` rows, so that a few numbers or nulls in a text column (which
    `load_source` converts or skips, with a warning) do not hide it.
    """
    head = table.head(sample_rows)
    lengths: dict[str, float] = {}
    for name in head.columns:
        series = head[name]
        if isinstance(series, pd.DataFrame):
            continue
        values = series.dropna()
        if not len(values):
            continue
        if _is_arrow_string(series):
            lengths[str(name)] = float(values.str.len().mean())
        elif series.dtype == object:
            strings = [value for value in values if isinstance(value, str)]
            if 2 * len(strings) > len(values):
                lengths[str(name)] = sum(map(len, strings)) / len(strings)
    return sorted(lengths, key=lambda name: -lengths[name])


def propose_text_field(table: pd.DataFrame) -> str:
    """`text` if it is a string column, else the string column with the longest mean length."""
    candidates = text_like_fields(table)
    if "text" in candidates:
        return "text"
    if not candidates:
        raise ZipFitError(
            f"No text column found among {_field_list(table)}: "
            "choose a field (--source-field / --target-field) or a template (--source-template)."
        )
    return candidates[0]


def texts_from_field(table: pd.DataFrame, text_field: str, *, origin: str = "data") -> list[str]:
    """The values of one column as texts, strictly: a non-text value is an error that names the row."""
    _check_fields(table, [text_field], origin, "Field")
    texts = table[text_field].tolist()
    for row, value in enumerate(texts):
        if not isinstance(value, str):
            shown = "empty (null)" if is_missing(value) else f"a {type(value).__name__}"
            raise ZipFitError(
                f"{origin}, row {row}: field {text_field!r} is {shown}, not text. "
                "Choose a text field, or clean that row."
            )
    return texts


# ---------------------------------------------------------------------------------------------------
# The earlier file-only API, kept for callers that have a path.


def read_table(path: str | Path, options: LoadOptions = LoadOptions()) -> pd.DataFrame:
    """Read a local file, folder, glob or save_to_disk folder into a DataFrame (warnings are issued)."""
    report = LoadReport()
    table = read_local(str(path), None, options, report, None)
    for message in report.warnings:
        warnings.warn(message, stacklevel=2)
    return table


def load_texts(path: str | Path, text_field: str | None = None) -> LoadedTexts:
    """Read data and take the text of each row from `text_field` (proposed if None).

    `path` is a local path (a `Path` is always local) or a command-line argument (`hub:...`, `demo:...`);
    `text_field` may be `template:...`, as scores files record it (`LoadedTexts.text_description`).
    """
    source = DataSource("local", str(path)) if isinstance(path, Path) else source_from_argument(path)
    return load_source(source, TextSpec.from_description(text_field))


def check_not_empty(texts: Sequence[str], what: str) -> None:
    if len(texts) == 0:
        raise ZipFitError(f"The {what} set is empty: give at least one example.")


# ---------------------------------------------------------------------------------------------------
# Command-line helpers.


def parse_row_filter(text: str | None) -> tuple[str, str] | None:
    """`COLUMN=VALUE` -> (column, value); the value may contain '='."""
    if text is None:
        return None
    column, separator, value = text.partition("=")
    if not separator or not column.strip():
        raise ZipFitError(f"A row filter is written COLUMN=VALUE, e.g. split=valid (got {text!r}).")
    return column.strip(), value


def source_from_argument(argument: str, **settings) -> DataSource:
    """A command-line SOURCE/TARGET: `hub:owner/name`, `demo:NAME`, a local path / folder / glob, or a
    bare name that is not a local path (taken as a hub id). `settings` are DataSource fields."""
    argument = str(argument)
    for prefix, kind in (("hub:", "hub"), ("demo:", "demo"), ("local:", "local")):
        if argument.startswith(prefix):
            return DataSource(kind, argument[len(prefix):], **settings)
    if Path(argument).expanduser().exists() or is_glob(argument) or _looks_like_path(argument):
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
