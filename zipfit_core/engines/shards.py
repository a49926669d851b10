"""Sharded sources: finding the shard files of a SOURCE, reading one shard, and naming its rows.

A SOURCE is a folder, a glob pattern or one file, on the local disk or on any filesystem pyarrow
reads (`s3://`, `gs://`, `hdfs://`, `file://`). Its shards are the Parquet and JSON Lines files it
holds (JSON Lines compressed or not, in every compression the file loader reads: data/formats.py's
`COMPRESSIONS`, opened by the same fsspec codecs), hidden files left out, sorted by their path relative
to the folder (or to the pattern's fixed prefix): shard `i` is the i-th in that order. A pattern is
matched by fsspec's glob, as the file loader matches one (data/local.py `glob_files`).

Row ids: row `r` of shard `s` is (s, r); its global row number is r plus the rows of the shards
before s, which is its position when the shards are read one after another in shard order.

Every parser here is pyarrow, like Ray Data's readers, so both engines and `zipfit select` see the
same texts. Each row also gets a content digest (blake2b-128 of its UTF-8 text): the Ray engine
uses the digests to put scores back in row order whatever order Ray returns them in, and a shard's
fingerprint (sha256 over its row digests) lets `zipfit select` check it reads the rows that were scored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.fs as pafs

from zipfit_core.data.formats import arrow_to_frame, decompressed, format_of
from zipfit_core.data.local import glob_files, is_glob, split_glob
from zipfit_core.data.sources import template_fields
from zipfit_core.data.texts import propose_text_field, template_texts, texts_from_field
from zipfit_core.errors import ZipFitError

SHARD_FORMATS = ("parquet", "jsonl", "json")  # .json shards are read as JSON Lines, as Ray Data reads them
DIGEST_BYTES = 16
JSON_BLOCK_BYTES = 1 << 24  # grown when one line is longer: pyarrow's JSON reader needs a line inside a block
SAMPLE_ROWS = 1000
URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Shard:
    """One file of a sharded source."""

    index: int
    path: str  # as the source's filesystem names it (an absolute local path, or bucket/key)
    name: str  # relative to the source's folder, for messages and the manifest
    format: str  # "parquet" or "jsonl"


@dataclass(frozen=True)
class ShardSource:
    """A SOURCE argument resolved to its filesystem and its shards, in shard order."""

    spec: str
    filesystem: pafs.FileSystem
    base: str
    shards: tuple[Shard, ...]
    ignored: tuple[str, ...] = ()  # files of other types that were found and left out

    def display(self, shard: Shard) -> str:
        """The shard as a user wrote it: a local path, or the URI with its scheme."""
        scheme = URI_SCHEME.match(self.spec)
        if scheme and not self.spec.startswith("file://"):
            return scheme.group(0) + shard.path
        return shard.path


def _filesystem_and_path(location: str) -> tuple[pafs.FileSystem, str]:
    if URI_SCHEME.match(location):
        try:
            return pafs.FileSystem.from_uri(location)
        except Exception as error:  # pyarrow raises several types for unknown schemes and bad URIs
            raise ZipFitError(f"Cannot open {location} ({error}): give a local path or a URI pyarrow reads "
                              "(s3://, gs://, hdfs://, file://).") from None
    return pafs.LocalFileSystem(), Path(location).expanduser().resolve().as_posix()


def _is_hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in PurePosixPath(relative).parts)


def discover_shards(spec: str) -> ShardSource:
    """The Parquet / JSONL shards of a folder, glob pattern or file (local or a pyarrow URI), in shard order."""
    spec = str(spec)
    if is_glob(spec):
        prefix, pattern = split_glob(spec)
        filesystem, base = _filesystem_and_path(prefix)
        candidates = _glob(filesystem, base, pattern, spec)
    else:
        filesystem, base = _filesystem_and_path(spec)
        kind = _file_type(filesystem, base, spec)
        if kind == pafs.FileType.File:
            candidates, base = [base], str(PurePosixPath(base).parent)
        else:
            candidates = _list_files(filesystem, base, spec)
    named = sorted(((path[len(base):].lstrip("/"), path) for path in candidates), key=lambda item: item[0])
    shards, ignored = [], []
    for name, path in named:
        if _is_hidden(name):
            continue
        fmt, compression = format_of(name)
        if fmt not in SHARD_FORMATS or (fmt == "parquet" and compression is not None):
            ignored.append(name)
            continue
        shards.append(Shard(len(shards), path, name, "parquet" if fmt == "parquet" else "jsonl"))
    if not shards:
        found = f" (found only: {', '.join(ignored[:10])})" if ignored else ""
        raise ZipFitError(f"{spec} holds no Parquet or JSONL shards{found}: give a folder, glob or file of .parquet "
                          "/ .jsonl files (CSV or text data: convert it, or score it into a scores file, `out` "
                          "ending in .parquet).")
    return ShardSource(spec, filesystem, base, tuple(shards), tuple(ignored))


def _file_type(filesystem: pafs.FileSystem, path: str, spec: str) -> pafs.FileType:
    try:
        kind = filesystem.get_file_info(path).type
    except Exception as error:
        raise ZipFitError(f"Cannot look at {spec} ({error}): check the path and your access to it.") from None
    if kind == pafs.FileType.NotFound:
        raise ZipFitError(f"Not found: {spec}. Check the path (a folder, a glob pattern or a file of shards).")
    return kind


def _glob(filesystem: pafs.FileSystem, base: str, pattern: str, spec: str) -> list[str]:
    from fsspec.implementations.arrow import ArrowFSWrapper

    try:  # fsspec's glob over the pyarrow filesystem, so s3:// and the local disk match alike
        return glob_files(ArrowFSWrapper(filesystem), base, pattern)
    except Exception as error:  # pyarrow and fsspec raise several types for unreachable or unlistable places
        raise ZipFitError(f"Cannot list {spec} ({error}): check the folder and your access to it.") from None


def _list_files(filesystem: pafs.FileSystem, base: str, spec: str) -> list[str]:
    try:
        infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=False))
    except Exception as error:
        raise ZipFitError(f"Cannot list {spec} ({error}): check the folder and your access to it.") from None
    return [info.path for info in infos if info.type == pafs.FileType.File]


# ---------------------------------------------------------------------------------------------------
# Reading one shard.


def read_shard_table(source: ShardSource, shard: Shard, *, max_rows: int | None = None,
                     columns: list[str] | None = None) -> pa.Table:
    """One shard (at most `max_rows` rows), read with pyarrow; errors name the shard.

    With `columns`, a Parquet shard that has them all is read for them alone (else whole, so that an
    error can list the fields that exist).
    """
    shown = source.display(shard)
    try:
        if shard.format == "parquet":
            import pyarrow.parquet as pq

            with source.filesystem.open_input_file(shard.path) as handle:
                parquet = pq.ParquetFile(handle)
                if max_rows is None:
                    names = parquet.schema_arrow.names
                    only = columns if columns and all(name in names for name in columns) else None
                    return parquet.read(columns=only)
                first = next(parquet.iter_batches(batch_size=max_rows), None)
                return pa.Table.from_batches([first]) if first is not None else parquet.schema_arrow.empty_table()
        return _read_json_lines(source, shard)
    except ZipFitError:
        raise
    except Exception as error:  # pyarrow raises several types for damaged or unreadable files
        raise ZipFitError(f"{shown} could not be read as {'Parquet' if shard.format == 'parquet' else 'JSON Lines'} "
                          f"({type(error).__name__}: {error}). Fix or replace that file.") from None


def _read_json_lines(source: ShardSource, shard: Shard) -> pa.Table:
    import pyarrow.json as pajson

    compression = format_of(shard.name)[1]
    block = JSON_BLOCK_BYTES
    while True:
        # pyarrow only opens the bytes: its own codecs know neither .xz nor the .zstd name.
        with source.filesystem.open_input_stream(shard.path, compression=None) as raw, \
                decompressed(raw, compression, source.display(shard)) as stream:
            try:
                return pajson.read_json(stream, read_options=pajson.ReadOptions(block_size=block))
            except pa.ArrowInvalid as error:
                if "Empty JSON file" in str(error):
                    return pa.table({})  # an empty shard is a shard with no rows
                if "straddling" not in str(error) or block >= 1 << 31:
                    raise
        block *= 4


def propose_shard_field(source: ShardSource) -> str:
    """The text field of a sharded source: `text`, else the longest string column of the first shard."""
    sample = read_shard_table(source, source.shards[0], max_rows=SAMPLE_ROWS)
    return propose_text_field(arrow_to_frame(sample))


def text_columns(text_field: str, template: str | None = None) -> list[str]:
    """The columns a shard's text is made of: the template's fields, or the text field."""
    return template_fields(template) if template is not None else [text_field]


def shard_texts(table: pa.Table, text_field: str, origin: str, template: str | None = None) -> list[str]:
    """The texts of one shard (its `text_field`, or `template` rendered as `loading.template_texts` renders
    it), strictly: a missing field, a non-text row (field) or a null field (template) is an error naming
    the shard, since every row of a shard must keep its row id."""
    if table.num_rows == 0:
        return []
    if template is None:
        if text_field not in table.column_names:
            # Raises, listing the fields that exist.
            texts_from_field(arrow_to_frame(table.schema.empty_table()), text_field, origin=origin)
        return texts_from_field(arrow_to_frame(table.select([text_field])), text_field, origin=origin)
    names = template_fields(template)
    if not all(name in table.column_names for name in names):
        template_texts(arrow_to_frame(table.schema.empty_table()), template, origin)  # raises, listing the fields
    texts = template_texts(arrow_to_frame(table.select(names)), template, origin)
    for row, text in enumerate(texts):
        if text is None:
            raise ZipFitError(f"{origin}, row {row}: a field of template {template!r} ({', '.join(names)}) is empty "
                              "(null), so the row has no text. Clean that row, or prepare the shards first.")
    return texts  # type: ignore[return-value]


def read_shard_texts(source: ShardSource, shard: Shard, text_field: str, template: str | None = None) -> list[str]:
    table = read_shard_table(source, shard, columns=text_columns(text_field, template))
    return shard_texts(table, text_field, source.display(shard), template)


# ---------------------------------------------------------------------------------------------------
# Row digests and shard fingerprints.


def row_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_BYTES).digest()


def row_digests(texts: list[str], origin: str = "source") -> bytes:
    """The rows' digests, concatenated; a text that is not valid Unicode is an error naming its row."""
    digests = bytearray()
    for row, text in enumerate(texts):
        try:
            digests += row_digest(text)
        except UnicodeEncodeError as error:
            raise ZipFitError(f"{origin}, row {row}: the text contains characters that are not valid Unicode "
                              f"({error.reason}): clean that row.") from None
    return bytes(digests)


def digests_fingerprint(digests: bytes) -> str:
    return hashlib.sha256(digests).hexdigest()


@dataclass(frozen=True)
class ShardIndex:
    """What must come back for a shard to be complete: its row count and each row's digest, in order."""

    rows: int
    digests: bytes

    @property
    def fingerprint(self) -> str:
        return digests_fingerprint(self.digests)

    @classmethod
    def of_texts(cls, texts: list[str], origin: str = "source") -> ShardIndex:
        return cls(len(texts), row_digests(texts, origin))


def index_shard(source: ShardSource, shard: Shard, text_field: str, template: str | None = None) -> ShardIndex:
    return ShardIndex.of_texts(read_shard_texts(source, shard, text_field, template), source.display(shard))
