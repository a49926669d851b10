"""One text per row: a field or a template, the value policy, and the fingerprint of a list of texts.

Values that are not strings (the policy, the same for a field and for each field of a template):
- numbers and booleans become their text (`str(value)`, e.g. 3 -> "3", 2.5 -> "2.5"), with a warning;
- lists and objects become JSON text, with a warning (choose another field or a template if that
  is not what you want); one nested too deeply for Python to write out is an error naming its rows;
  bytes are decoded as UTF-8 (undecodable bytes replaced);
- null (missing) values: the row is skipped, with a warning that counts them and names the rows;
- a row whose text is the empty string is skipped the same way (it has nothing to compress).

A template (`{informal_prefix}{formal_statement}`) renders each row from several fields; a row where any of
them is null has no text. `choose_text_field` picks `text` when that field holds any value (even a mix of types:
the policy above converts or skips the rest), else the string column with the longest texts, and says why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from zipfit_core.data.sources import (
    LoadReport,
    TextSpec,
    is_missing,
    labelled,
    plural,
    template_fields,
    template_parts,
)
from zipfit_core.data.text_lines import decode_replacing
from zipfit_core.data.token_counts import string_offsets
from zipfit_core.errors import ZipFitError

TEMPLATE_TEXT_COLUMN = "zipfit_text"  # with a template, the rendered texts are added to the table under this name


def texts_fingerprint(texts: Iterable[str]) -> str:
    """sha256 over the texts in order (length-prefixed, so boundaries count)."""
    digest = hashlib.sha256()
    fingerprint_update(digest, texts)
    return digest.hexdigest()


def texts_at(texts: Sequence[str], rows: Sequence[int] | np.ndarray) -> list[str]:
    """The texts of some rows, in their order: a stored pool's in one read (its `take`), not one read per row."""
    take = getattr(texts, "take", None)
    return take(rows) if take is not None else [texts[int(row)] for row in rows]


def fingerprint_update(digest, texts: Iterable[str]) -> None:
    """Add `texts` to a running `texts_fingerprint` (a data set converted a piece at a time)."""
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)


def fingerprint_update_arrow(digest, array: pa.Array) -> None:
    """`fingerprint_update` of an Arrow string column's texts (UTF-8 already: the same bytes), read from its buffer
    with no Python string per row (as fast: the hashing is the work). A column with nulls goes through the texts."""
    if array.null_count:
        fingerprint_update(digest, array.to_pylist())
        return
    offsets = string_offsets(array).tolist()
    data = array.buffers()[2]
    view = memoryview(data) if data is not None else memoryview(b"")
    for start, end in zip(offsets, offsets[1:]):
        digest.update((end - start).to_bytes(8, "little"))
        digest.update(view[start:end])


def is_arrow_string(series: pd.Series) -> bool:
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
    too_deep: list[int] = field(default_factory=list)

    def report(self, report: LoadReport, origin: str, name: str, row_ids: np.ndarray) -> None:
        if self.too_deep:  # no text to score: an error, like a missing field
            raise ZipFitError(
                f"{origin}: field {name!r} holds {plural(len(self.too_deep), 'value')} nested too deeply to write "
                f"as text: {labelled('row', row_ids[self.too_deep].tolist())}. Choose another field or a "
                "template, or remove those rows."
            )
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
        try:
            text = json.dumps(_as_plain(value), ensure_ascii=False, default=str)
        except RecursionError:  # nesting near Python's limit (the JSON readers refuse it; other sources may not)
            conversions.too_deep.append(position)
            return None
        conversions.structures.append(position)
        return text
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
    if is_arrow_string(series):
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
            f"{what} {', '.join(map(repr, missing))} not found in {origin}. Fields that exist: {field_list(frame)}."
        )


def field_list(frame: pd.DataFrame, shown: int = 50) -> str:
    """The column names for a message: the first `shown`, then how many more."""
    names = ", ".join(map(str, frame.columns[:shown])) or "(none)"
    return names + (f", ... ({len(frame.columns) - shown:,} more)" if len(frame.columns) > shown else "")


def field_texts(frame: pd.DataFrame, name: str, origin: str, report: LoadReport,
                 row_ids: np.ndarray) -> list[str | None]:
    _check_fields(frame, [name], origin, "Field")
    return _column_texts(frame, name, origin, report, row_ids)


def template_texts(frame: pd.DataFrame, template: str, origin: str, report: LoadReport | None = None,
                   row_ids: np.ndarray | None = None, max_chars: int | None = None,
                   full_lengths: dict[int, int] | None = None) -> list[str | None]:
    """Each row's text rendered from `template` under the module's value policy; None where a field is null.

    A field the template uses that `frame` lacks is an error naming `origin` and the fields that exist.
    Conversions (numbers, lists, ...) are reported to `report` when given. With `max_chars`, a row is rendered
    up to that many characters only (never whole, then cut), and `full_lengths` gets the whole length of each
    row that was cut, by position (for `cap_texts` to report).
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
            length = sum(map(len, pieces))
            if max_chars is not None and length > max_chars:
                if full_lengths is not None:
                    full_lengths[position] = length
                texts.append(_joined_up_to(pieces, max_chars))
            else:
                texts.append("".join(pieces))
            continue
        texts.append(None)
    return texts


def _joined_up_to(pieces: list[str], max_chars: int) -> str:
    """The first `max_chars` characters of the pieces joined, without joining the rest."""
    kept, room = [], max_chars
    for piece in pieces:
        if len(piece) >= room:
            kept.append(piece[:room])
            break
        kept.append(piece)
        room -= len(piece)
    return "".join(kept)


def _is_are(count: int) -> str:
    return "is" if count == 1 else "are"


def drop_missing(texts: list[str | None], origin: str, report: LoadReport, row_ids: np.ndarray,
                  spec: TextSpec, missing_counts: list[int] | None = None) -> tuple[list[str], np.ndarray | None]:
    """Drop rows without text (null, or the empty string); None means every row was kept.

    Alone, a frame where no row has text is an error; a piece of a larger load adds its counts of null and
    empty texts to `missing_counts` instead, and the load asks `no_text_error` once it has seen every piece."""
    missing = [position for position, text in enumerate(texts) if text is None]
    empty = [position for position, text in enumerate(texts) if text == ""]
    if missing_counts is not None:
        missing_counts[0] += len(missing)
        missing_counts[1] += len(empty)
    if not missing and not empty:
        return texts, None  # type: ignore[return-value]
    if len(missing) + len(empty) == len(texts) and missing_counts is None:
        raise no_text_error(origin, spec, len(missing), len(empty))
    what = f"template {spec.template!r}" if spec.template is not None else "the text field"
    if missing:
        report.warn(f"{origin}: skipped {plural(len(missing), 'row')} with a null (missing) value for {what}: "
                    f"{labelled('row', row_ids[missing].tolist())}.")
    if empty:
        report.warn(f"{origin}: skipped {plural(len(empty), 'row')} whose text is empty: "
                    f"{labelled('row', row_ids[empty].tolist())}.")
    kept = np.array([position for position, text in enumerate(texts) if text], dtype=np.int64)
    return [texts[position] for position in kept], kept  # type: ignore[misc]


def no_text_error(origin: str, spec: TextSpec, missing: int, empty: int) -> ZipFitError:
    what = f"template {spec.template!r}" if spec.template is not None else "the text field"
    return ZipFitError(
        f"No row of {origin} has text for {what}: {plural(missing, 'row')} {_is_are(missing)} null, "
        f"{plural(empty, 'row')} {_is_are(empty)} empty. Choose another field (or template), or check "
        "the filter."
    )


def cap_texts(texts: list[str], max_chars: int, origin: str, report: LoadReport, row_ids: np.ndarray,
              full_lengths: dict[int, int] | None = None) -> None:
    """Cut texts longer than `max_chars` characters, in place, and say which; `full_lengths` are the whole lengths
    of texts already cut while they were rendered (`template_texts`), by position."""
    full_lengths = full_lengths or {}
    long_rows = [position for position, text in enumerate(texts) if len(text) > max_chars or position in full_lengths]
    if not long_rows:
        return
    longest = max(full_lengths.get(position, len(texts[position])) for position in long_rows)
    for position in long_rows:
        texts[position] = texts[position][:max_chars]
    report.warn(
        f"{origin}: capped {plural(len(long_rows), 'text')} longer than {max_chars:,} characters "
        f"(the longest had {longest:,}): {labelled('row', row_ids[long_rows].tolist())}. "
        "Raise the cap (`max_chars`) to keep whole texts."
    )


def string_columns(table: pd.DataFrame) -> list[str]:
    """Columns whose non-null values are all strings (and that have at least one)."""
    names = []
    for name in table.columns:
        series = table[name]
        if isinstance(series, pd.DataFrame):
            continue
        if is_arrow_string(series):
            if series.notna().any():
                names.append(str(name))
            continue
        if series.dtype != object:
            continue
        values = series.dropna()
        if len(values) and values.map(lambda value: isinstance(value, str)).all():
            names.append(str(name))
    return names


TEXT_FIELD_COLUMNS = 256  # the automatic text-field choice looks at this many columns (the first), not all


def _mean_string_lengths(table: pd.DataFrame, sample_rows: int) -> dict[str, float]:
    """Mean string length of each column whose values (in the first `sample_rows` rows) are mostly strings;
    of the first TEXT_FIELD_COLUMNS columns only, so that a wide table costs what a narrow one does."""
    head = table.iloc[:sample_rows, :TEXT_FIELD_COLUMNS]
    lengths: dict[str, float] = {}
    for name in head.columns:
        series = head[name]
        if isinstance(series, pd.DataFrame):
            continue
        values = series.dropna()
        if not len(values):
            continue
        if is_arrow_string(series):
            lengths[str(name)] = float(values.str.len().mean())
        elif series.dtype == object:
            strings = [value for value in values if isinstance(value, str)]
            if 2 * len(strings) > len(values):
                lengths[str(name)] = sum(map(len, strings)) / len(strings)
    return lengths


def text_like_fields(table: pd.DataFrame, sample_rows: int = 10_000) -> list[str]:
    """Columns whose values are mostly strings, longest mean string length first: candidates for the text.

    Judged on the first `sample_rows` rows, so that a few numbers or nulls in a text column (which
    `load_source` converts or skips, with a warning) do not hide it.
    """
    lengths = _mean_string_lengths(table, sample_rows)
    return sorted(lengths, key=lambda name: -lengths[name])


@dataclass(frozen=True)
class TextFieldChoice:
    """The field `choose_text_field` picked, and why in a sentence (empty when it is a plain `text` column)."""

    field: str
    reason: str


def choose_text_field(table: pd.DataFrame, origin: str = "the data", sample_rows: int = 10_000) -> TextFieldChoice:
    """`text` when that field exists and holds any value (other values than strings are converted or skipped by
    the value policy, with warnings); otherwise the mostly-string field with the longest texts."""
    lengths = _mean_string_lengths(table, sample_rows)
    candidates = sorted(lengths, key=lambda name: -lengths[name])
    column = table["text"] if "text" in table.columns else None
    if isinstance(column, pd.DataFrame):  # several columns named `text`: reading it says so
        return TextFieldChoice("text", "")
    if column is not None and column.notna().any():
        if "text" in lengths:
            return TextFieldChoice("text", "")
        values = column.head(sample_rows).dropna()
        strings = sum(isinstance(value, str) for value in values)
        checked = f" (in the first {sample_rows:,} rows)" if len(table) > sample_rows else ""
        return TextFieldChoice("text", f"{origin}: the field 'text' holds {strings:,} strings among {len(values):,} "
                                       f"non-null values{checked}; it is the text field all the same, its other "
                                       "values converted or skipped as the warnings say. Choose another with "
                                       "`field` or `template`.")
    if not candidates:
        wide = len(table.columns) > TEXT_FIELD_COLUMNS
        looked = f" (the first {TEXT_FIELD_COLUMNS:,} of {len(table.columns):,} looked at)" if wide else ""
        raise ZipFitError(f"No text column found among {field_list(table)}{looked}: choose a text `field` or a "
                          "`template`.")
    best = candidates[0]
    why = "no field named 'text'" if column is None else "the field 'text' is empty in every row"
    if len(table.columns) > TEXT_FIELD_COLUMNS:
        why += f" (of its {len(table.columns):,} fields, the first {TEXT_FIELD_COLUMNS:,} were looked at)"
    others = ", ".join(f"{name!r} ({lengths[name]:,.0f})" for name in candidates[1:4])
    return TextFieldChoice(best, f"{origin}: {why}, so the text is the field {best!r}: the mostly-text field with "
                                 f"the longest values ({lengths[best]:,.0f} characters on average"
                                 f"{'; also ' + others if others else ''}). Choose another with `field` or "
                                 "`template`.")


def propose_text_field(table: pd.DataFrame) -> str:
    """`text` if that field holds any value, else the string column with the longest mean length."""
    return choose_text_field(table).field


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
