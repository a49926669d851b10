"""Rows that stay on disk: a store's Arrow file read as a table and as a sequence of texts.

Reading is by record batch. A few rows (a page of a table, one row's dialog) are taken from the memory-mapped
file, touching only their pages; a pass over every text (scoring, export) reads one batch at a time into
memory that is given back, so a pass over ten gigabytes of text holds one batch. Nothing here ever joins a
column's batches into one array (Arrow's take on a chunked column does that: a gigabyte for five rows).
"""

from __future__ import annotations

import json
import mmap
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from zipfit_core.data.loading import LoadedPiece
from zipfit_core.data.token_counts import string_offsets

BATCH_ROWS = 8192
KEPT_COLUMNS = 4  # whole columns a table keeps once read (the grouping column is asked for on every rerun)


def _as_arrow_column(series: pd.Series) -> pa.Array:
    """A frame column as Arrow; values Arrow cannot type together (numbers and lists mixed) become JSON text."""
    try:
        array = pa.array(series, from_pandas=True)
        # a column pandas keeps in Arrow chunks (a piece read from several Parquet batches) comes back chunked
        return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    except (pa.ArrowException, TypeError, ValueError):
        return pa.array([None if value is None or value is pd.NA else json.dumps(value, default=str, ensure_ascii=False)
                         for value in series.astype(object)], type=pa.large_string())


def arrow_piece(piece: LoadedPiece, text_field: str, schema: pa.Schema | None) -> pa.RecordBatch:
    """A piece's rows as one record batch, the text column holding the texts as scored, in `schema`'s columns and
    types (null where the piece lacks one; a value of another type kept as text where it can be), widened by the
    columns the piece has that `schema` does not (at its end: `write_store` then widens the earlier batches)."""
    texts = pa.array(piece.texts, type=pa.large_string())
    columns = {str(name): texts if name == text_field else _as_arrow_column(piece.table[name])
               for name in piece.table.columns}
    columns.setdefault(text_field, texts)  # the texts take the text field's place (a template's go last)
    if schema is None:
        return pa.RecordBatch.from_pydict(columns)
    for name, array in columns.items():
        index = schema.get_field_index(name)
        if index < 0:
            schema = schema.append(pa.field(name, array.type))
        elif pa.types.is_null(schema.field(index).type) and not pa.types.is_null(array.type):
            schema = schema.set(index, pa.field(name, array.type))  # empty so far: the first values give the type
    return widened(pa.RecordBatch.from_pydict(columns), schema)


def widened(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`batch` in `schema`'s columns and types: a column it lacks is null, a value of another type cast (or kept
    as text)."""
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        array = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, type=field.type)
        if not array.type.equals(field.type):
            array = _cast_or_text(array, field.type)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _cast_or_text(array: pa.Array, target: pa.DataType) -> pa.Array:
    try:
        return array.cast(target)
    except (pa.ArrowException, TypeError, ValueError):
        if pa.types.is_string(target) or pa.types.is_large_string(target):
            return pa.array([None if value is None else json.dumps(value, default=str, ensure_ascii=False)
                             for value in array.to_pylist()], type=target)
        return pa.nulls(len(array), type=target)


class StoredTable:
    """A store's rows: `len`, `columns`, a column, some rows, batches. Small reads come from the memory map."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self._mapped = pa.py_buffer(self._map)  # batches are slices of it: a buffer's address gives its file offset
        self._reader = pa.ipc.open_file(pa.BufferReader(self._mapped))
        self._fd = os.open(self.path, os.O_RDONLY)
        self.schema = self._reader.schema
        sizes = [self._reader.get_batch(index).num_rows for index in range(self._reader.num_record_batches)]
        self.batch_starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self.columns = pd.Index(self.schema.names)
        self._columns: dict[str, pd.Series] = {}
        self._lock = threading.Lock()

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def __len__(self) -> int:
        return int(self.batch_starts[-1])

    @property
    def dtypes(self) -> pd.Series:
        return self.schema.empty_table().to_pandas().dtypes

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), len(self.columns)

    @property
    def empty(self) -> bool:
        return len(self) == 0

    @property
    def n_batches(self) -> int:
        return len(self.batch_starts) - 1

    def batch(self, index: int, columns: Sequence[str] | None = None) -> pa.RecordBatch:
        """One record batch, from the memory map (its pages are read as they are touched)."""
        batch = self._reader.get_batch(index)
        return batch.select(list(columns)) if columns is not None else batch

    def read_batch(self, index: int, columns: Sequence[str] | None = None) -> pa.RecordBatch:
        """One record batch read from the file into memory of its own (not the memory map): for passes over many
        batches, whose pages would otherwise stay in the process."""
        with pa.OSFile(str(self.path), "rb") as handle:
            batch = pa.ipc.open_file(handle).get_batch(index)
        return batch.select(list(columns)) if columns is not None else batch

    def column(self, name: str) -> pd.Series:
        """One whole column (for the small ones: groups, numbers; kept for the next ask); strings come as a
        categorical, one string per distinct value. The text column is read with `StoredTexts`."""
        with self._lock:  # sessions share the table
            if name not in self._columns:
                chunks = [self.batch(index, [name]).column(0) for index in range(self.n_batches)]
                array = pa.chunked_array(chunks, type=self.schema.field(name).type)
                if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
                    array = pc.dictionary_encode(array)
                self._columns[name] = pd.Series(array.to_pandas(), name=name)
                del chunks, array
                # The column's pages stay mapped in the process (~9 bytes a row for short strings, beside its 1-byte
                # codes): give them back; they are clean file pages, read again from the page cache when touched.
                self._map.madvise(mmap.MADV_DONTNEED)
                while len(self._columns) > KEPT_COLUMNS:
                    self._columns.pop(next(iter(self._columns)))
            return self._columns[name]

    def __getitem__(self, name: str) -> pd.Series:
        return self.column(name)

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def take(self, rows: Sequence[int] | np.ndarray, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows at these positions, in this order, as a DataFrame (index 0..n-1). Text is read with `pread`,
        row by row: through the memory map, each scattered row would bring in its neighbours (the kernel maps
        64 KB around every fault), and a 20,000-row take would hold a gigabyte of the file in the process."""
        rows = np.asarray(rows, dtype=np.int64)
        names = list(columns) if columns is not None else list(self.columns)
        if len(rows) == 0:
            return self.schema.empty_table().select(names).to_pandas()
        if rows.min() < 0 or rows.max() >= len(self):
            raise IndexError(f"row {int(rows.max() if rows.max() >= len(self) else rows.min())} is outside "
                             f"0..{len(self) - 1}")
        batch_of = np.searchsorted(self.batch_starts, rows, side="right") - 1
        order = np.argsort(batch_of, kind="stable")
        parts, placed = [], []
        for index in np.unique(batch_of):
            members = order[batch_of[order] == index]
            local = rows[members] - self.batch_starts[index]
            batch = self._reader.get_batch(int(index)).select(names)
            parts.append(pa.RecordBatch.from_arrays([self._take_column(column, local) for column in batch.columns],
                                                    schema=batch.schema))
            placed.append(members)
        table = pa.Table.from_batches(parts).combine_chunks()
        return table.take(pa.array(np.argsort(np.concatenate(placed)))).to_pandas()

    def _take_column(self, array: pa.Array, local: np.ndarray) -> pa.Array:
        if not (pa.types.is_large_string(array.type) or pa.types.is_string(array.type)):
            return array.take(pa.array(local))  # fixed-width values: a few pages of their own
        offsets = string_offsets(array)
        data = array.buffers()[2]
        valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else None
        start_of_data = (data.address - self._mapped.address) if data is not None else 0
        values = []
        for row in local.tolist():
            if valid is not None and not valid[row]:
                values.append(None)
                continue
            start, end = int(offsets[row]), int(offsets[row + 1])
            values.append(os.pread(self._fd, end - start, start_of_data + start).decode("utf-8") if end > start else "")
        return pa.array(values, type=array.type)

    @property
    def iloc(self) -> _Positions:
        return _Positions(self)

    def head(self, n: int = 5, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return self.take(np.arange(min(n, len(self))), columns)

    def to_pandas(self) -> pd.DataFrame:
        """Every row in memory: only for small stores (targets, tests)."""
        return self.take(np.arange(len(self)))

    def batches(self, columns: Sequence[str] | None = None, rows: np.ndarray | None = None) -> Iterator[pa.RecordBatch]:
        """The rows batch by batch (only `rows`, ascending positions, when given), read from the file into memory
        that is given back after each batch, so a pass over the store does not keep its pages."""
        with pa.OSFile(str(self.path), "rb") as handle:
            reader = pa.ipc.open_file(handle)
            for index in range(self.n_batches):
                start, end = self.batch_starts[index], self.batch_starts[index + 1]
                if rows is not None:
                    lo, hi = np.searchsorted(rows, [start, end])
                    if lo == hi:
                        continue
                batch = reader.get_batch(index)
                if columns is not None:
                    batch = batch.select(list(columns))
                yield batch if rows is None else batch.take(pa.array(rows[lo:hi] - start))


class _Positions:
    def __init__(self, table: StoredTable) -> None:
        self._table = table

    def __getitem__(self, key) -> pd.DataFrame | pd.Series:
        if isinstance(key, tuple):  # rows and columns (positions or names), as DataFrame.iloc takes them
            rows, columns = key
            many = not isinstance(columns, (str, int, np.integer))
            picked = list(self._table.columns[columns]) if isinstance(columns, slice) else \
                (list(columns) if many else [columns])
            names = [self._table.columns[column] if isinstance(column, (int, np.integer)) else column
                     for column in picked]
            selected = self._table.take(self._positions(rows), names)
            return selected if many else selected[names[0]]
        if isinstance(key, (int, np.integer)):
            return self._table.take([int(key)]).iloc[0]
        return self._table.take(self._positions(key))

    def _positions(self, key) -> np.ndarray:
        if isinstance(key, slice):
            return np.arange(len(self._table))[key]
        if isinstance(key, (int, np.integer)):
            return np.array([int(key)])
        key = np.asarray(key)
        return np.flatnonzero(key) if key.dtype == bool else key


class StoredTexts(Sequence[str]):
    """The texts of a store as a sequence: iterated batch by batch; an item or a slice read from the memory map."""

    def __init__(self, table: StoredTable, text_field: str) -> None:
        self.table = table
        self.text_field = text_field
        self._cached: tuple[int, list[str]] | None = None  # the batch read last, for reads in row order
        self._last = -2

    def __len__(self) -> int:
        return len(self.table)

    def _batch_texts(self, index: int) -> list[str]:
        cached = self._cached  # one read of the attribute: another thread may replace it meanwhile
        if cached is None or cached[0] != index:
            cached = (index, self.table.read_batch(index, [self.text_field]).column(0).to_pylist())
            self._cached = cached
        return cached[1]

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.take(np.arange(len(self))[key]) if key.step not in (None, 1) else \
                [text for texts in self._range(*key.indices(len(self))[:2]) for text in texts]
        position = int(key)
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError("text index out of range")
        index = int(np.searchsorted(self.table.batch_starts, position, side="right") - 1)
        offset = position - int(self.table.batch_starts[index])
        sequential = position == self._last + 1
        self._last = position
        if sequential or (self._cached is not None and self._cached[0] == index):
            return self._batch_texts(index)[offset]  # reading in row order (scoring): a batch converted once
        return self.table.take([position], [self.text_field])[self.text_field].iloc[0]  # one row (a dialog)

    def _range(self, start: int, stop: int) -> Iterator[list[str]]:
        if stop <= start:
            return
        first = int(np.searchsorted(self.table.batch_starts, start, side="right") - 1)
        for index in range(first, self.table.n_batches):
            begin = int(self.table.batch_starts[index])
            if begin >= stop:
                return
            texts = self._batch_texts(index)
            yield texts[max(0, start - begin): stop - begin]

    def __iter__(self) -> Iterator[str]:
        for batch in self.batches():
            yield from batch

    def batches(self, rows: np.ndarray | None = None) -> Iterator[list[str]]:
        """The texts a batch at a time (only `rows`, ascending, when given)."""
        for batch in self.table.batches([self.text_field], rows):
            yield batch.column(0).to_pylist()

    def take(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        return self.table.take(rows, [self.text_field])[self.text_field].tolist()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
