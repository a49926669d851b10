"""Reading local data files into a table, and choosing the text of each row.

Every entry point that reads user data (the CLI, the app, the engines) goes through this module,
so formats and error messages grow in one place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import ZipFitError

TABLE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet")


@dataclass
class LoadedTexts:
    """Texts to score, one per kept row, with the table they came from."""

    texts: list[str]
    table: pd.DataFrame  # the kept rows with all their original columns
    text_field: str
    origin: str
    warnings: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return texts_fingerprint(self.texts)


def texts_fingerprint(texts: Iterable[str]) -> str:
    """sha256 over the texts in order (length-prefixed, so boundaries count)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a local JSONL / JSON / CSV / TSV / Parquet file into a DataFrame, with clear errors."""
    path = Path(path)
    if not path.exists():
        raise ZipFitError(f"File not found: {path}. Check the path and try again.")
    if path.is_dir():
        raise ZipFitError(f"{path} is a folder: give a data file ({', '.join(TABLE_SUFFIXES)}).")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        table = _read_jsonl(path)
    elif suffix == ".json":
        table = _read_json(path)
    elif suffix in (".csv", ".tsv"):
        try:
            table = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str,
                                keep_default_na=False, encoding_errors="replace")
        except pd.errors.EmptyDataError:
            table = pd.DataFrame()
        except pd.errors.ParserError as error:
            raise ZipFitError(f"{path} is not valid CSV ({error}). Fix the file or export it again.") from None
    elif suffix == ".parquet":
        try:
            table = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for damaged files
            raise ZipFitError(f"{path} is not a readable Parquet file ({error}).") from None
    else:
        raise ZipFitError(
            f"Unsupported file type {suffix or '(none)'} for {path}: use one of {', '.join(TABLE_SUFFIXES)}."
        )
    if len(table) == 0:
        raise ZipFitError(f"{path} contains no rows: give a file with at least one example.")
    return table


def _read_jsonl(path: Path) -> pd.DataFrame:
    records = []
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ZipFitError(
                    f"{path}, line {line_number}: malformed JSON ({error.msg}). Fix or remove that line."
                ) from None
            if not isinstance(record, dict):
                raise ZipFitError(
                    f"{path}, line {line_number}: expected a JSON object per line, got {type(record).__name__}."
                )
            records.append(record)
    return pd.DataFrame.from_records(records)


def _read_json(path: Path) -> pd.DataFrame:
    try:
        content = json.loads(path.read_bytes().decode("utf-8", errors="replace"))
    except json.JSONDecodeError as error:
        raise ZipFitError(
            f"{path}, line {error.lineno}: malformed JSON ({error.msg}). Fix the file, or save it as JSONL."
        ) from None
    if isinstance(content, dict):
        # {"data": [...]} and column-oriented {"col": [...]} are both common.
        lists = [value for value in content.values() if isinstance(value, list)]
        if len(lists) == 1 and all(isinstance(item, dict) for item in lists[0]):
            content = lists[0]
        else:
            try:
                return pd.DataFrame(content)
            except ValueError:
                raise ZipFitError(f"{path}: a JSON object must hold a list of records or equal-length columns.") from None
    if not isinstance(content, list) or not all(isinstance(item, dict) for item in content):
        raise ZipFitError(f"{path}: expected a JSON list of objects (records).")
    return pd.DataFrame.from_records(content)


def string_columns(table: pd.DataFrame) -> list[str]:
    """Columns whose non-null values are all strings."""
    names = []
    for name in table.columns:
        values = table[name].dropna()
        if len(values) and values.map(lambda value: isinstance(value, str)).all():
            names.append(str(name))
    return names


def propose_text_field(table: pd.DataFrame) -> str:
    """`text` if present, else the string column with the longest mean length."""
    candidates = string_columns(table)
    if "text" in candidates:
        return "text"
    if not candidates:
        raise ZipFitError(
            f"No text column found among {', '.join(map(str, table.columns))}: "
            "choose a field with --source-field / --target-field."
        )
    return max(candidates, key=lambda name: table[name].dropna().str.len().mean())


def texts_from_field(table: pd.DataFrame, text_field: str, *, origin: str = "data") -> list[str]:
    """The values of one column as texts; non-text values are an error that names the row."""
    if text_field not in table.columns:
        raise ZipFitError(
            f"Field {text_field!r} not found in {origin}. Fields that exist: "
            f"{', '.join(map(str, table.columns))}."
        )
    texts = table[text_field].tolist()
    for row, value in enumerate(texts):
        if not isinstance(value, str):
            shown = "empty (null)" if value is None or value != value else f"a {type(value).__name__}"
            raise ZipFitError(
                f"{origin}, row {row}: field {text_field!r} is {shown}, not text. "
                "Choose a text field, or clean that row."
            )
    return texts


def load_texts(path: str | Path, text_field: str | None = None) -> LoadedTexts:
    """Read a local file and take the text of each row from `text_field` (proposed if None)."""
    table = read_table(path)
    chosen = text_field or propose_text_field(table)
    texts = texts_from_field(table, chosen, origin=str(path))
    return LoadedTexts(texts=texts, table=table, text_field=chosen, origin=str(path))


def check_not_empty(texts: Sequence[str], what: str) -> None:
    if len(texts) == 0:
        raise ZipFitError(f"The {what} set is empty: give at least one example.")
