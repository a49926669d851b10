"""What to load and how: `DataSource` (where rows come from), `TextSpec` (the text of a row),
`LoadOptions` (limits and policies), `LoadReport` (what was skipped, replaced or capped), and
`DataRecipe` (all of the above that decides the texts, as JSON-safe data a scores file can carry).

These records are shared by the file readers, the Hugging Face hub reader and `loading.load_source`;
they live here so that those modules can import them without importing each other.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from zipfit_core.bounds import ROW_COUNTS, SEEDS, WholeNumbers
from zipfit_core.errors import ZipFitError

SOURCE_KINDS = ("local", "hub", "upload", "demo")
BAD_LINE_POLICIES = ("skip", "stop")
PLAIN_TEXT_UNITS = ("file", "line")
TEMPLATE_PREFIX = "template:"  # how a template is written where a field name is expected (e.g. a scores file)


COLUMN_COUNTS = WholeNumbers(1, 10**7)  # the range of `max_columns`


def too_many_columns(display: str, count: int | str, options: LoadOptions) -> ZipFitError:
    """The refusal of a table wider than `max_columns`; `count` may be a lower bound ("over 10,000")."""
    shown = f"{count:,}" if isinstance(count, int) else count
    return ZipFitError(
        f"{display} has {shown} columns, more than the limit of {options.max_columns:,} (`max_columns`), so reading "
        "stopped. Keep the columns you need, or, if the table is genuine, raise `max_columns`."
    )


@dataclass(frozen=True)
class TextSpec:
    """How to get the text of a row: one column, or a template joining columns; optionally a row filter."""

    field: str | None = None  # a column; None -> propose one (`text`, else the longest string column)
    template: str | None = None  # e.g. "{informal_prefix}{formal_statement}"; wins over `field`
    row_filter: tuple[str, str] | None = None  # keep rows whose column == value (compared as text)

    def __post_init__(self) -> None:
        if self.template is not None:
            template_fields(self.template)  # fail early on a template that cannot be rendered
        if self.row_filter is not None and (len(self.row_filter) != 2 or not str(self.row_filter[0])):
            raise ZipFitError("A row filter is a (column, value) pair, e.g. ('split', 'valid').")

    def describe(self) -> str | None:
        """`field`, or `template:...` for a template; None when the field is still to be proposed."""
        if self.template is not None:
            return TEMPLATE_PREFIX + self.template
        return self.field

    @classmethod
    def from_description(cls, description: str | None, row_filter: tuple[str, str] | None = None) -> TextSpec:
        """The inverse of `describe`: a field name or `template:...`."""
        if description and description.startswith(TEMPLATE_PREFIX):
            return cls(template=description[len(TEMPLATE_PREFIX):], row_filter=row_filter)
        return cls(field=description or None, row_filter=row_filter)


@dataclass(frozen=True)
class DataSource:
    """Where the rows come from."""

    kind: str  # "local" | "hub" | "upload" | "demo"
    location: str  # path / glob / folder, hub id (or a local dataset repository folder), upload file name, demo name
    config: str | None = None  # hub configuration (datasets' `name`)
    split: str | None = None  # hub split, or the split of a save_to_disk DatasetDict folder
    revision: str | None = None  # hub branch, tag or commit
    streaming: bool = False  # hub: read rows as they arrive instead of downloading the whole dataset
    limit: int | None = None  # read at most this many rows (before the row filter)
    sample: int | None = None  # then keep a seeded random sample of this many rows (after the row filter)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ZipFitError(f"Unknown data source kind {self.kind!r}: use one of {', '.join(SOURCE_KINDS)}.")
        if not str(self.location).strip():
            raise ZipFitError(f"Give a {self.kind} data location (it is empty).")
        for name in ("limit", "sample"):  # the ranges the CLI's flags and the app's links are checked against
            if getattr(self, name) is not None:
                ROW_COUNTS.require(f"The row {name}", getattr(self, name))
        SEEDS.require("The sample seed", self.seed)

    def describe(self) -> str:
        """A short human-readable origin, e.g. `hub:owner/name (config x, split train)`."""
        if self.kind == "local":
            base = str(self.location)
        else:
            base = f"{self.kind}:{self.location}"
        details = [f"{name} {value}" for name, value in
                   (("config", self.config), ("split", self.split), ("revision", self.revision)) if value]
        if self.streaming:
            details.append("streaming")
        return f"{base} ({', '.join(details)})" if details else base


@dataclass(frozen=True)
class LoadOptions:
    """Policies and limits for reading data; the defaults suit the CLI, the app sets `data_root`."""

    on_bad_line: str = "skip"  # malformed lines / rows: "skip" (and report them) or "stop" (error)
    max_chars: int | None = 1_000_000  # cap a single text at this many characters, with a warning
    data_root: Path | None = None  # when set, local paths must resolve inside it (no .. / symlink escape)
    max_upload_bytes: int = 200 * 2**20
    hub_timeout_s: float = 20.0  # longest wait for any single answer from the Hugging Face Hub
    plain_text_unit: str = "file"  # .txt files: one document per "file" or per non-empty "line"
    max_line_bytes: int | None = 64 * 2**20  # JSONL / .txt lines: the longest line read (whole) before parsing
    max_expansion: float | None = 100.0  # a compressed file may expand this many times (and always to 64 MiB)
    max_columns: int = 10_000  # a table with more columns is refused before it is parsed (CSV) or built

    def __post_init__(self) -> None:
        if self.on_bad_line not in BAD_LINE_POLICIES:
            raise ZipFitError(f"on_bad_line must be one of {', '.join(BAD_LINE_POLICIES)} (got {self.on_bad_line!r}).")
        if self.plain_text_unit not in PLAIN_TEXT_UNITS:
            raise ZipFitError(
                f"plain_text_unit must be one of {', '.join(PLAIN_TEXT_UNITS)} (got {self.plain_text_unit!r})."
            )
        if self.max_chars is not None and self.max_chars < 1:
            raise ZipFitError(f"max_chars must be at least 1, or None for no cap (got {self.max_chars}).")
        if self.hub_timeout_s <= 0:
            raise ZipFitError(f"hub_timeout_s must be positive (got {self.hub_timeout_s}).")
        if self.max_line_bytes is not None and self.max_line_bytes < 1:
            raise ZipFitError(f"max_line_bytes must be at least 1, or None for no bound "
                              f"(got {self.max_line_bytes}).")
        COLUMN_COUNTS.require("`max_columns`", self.max_columns)
        if self.max_expansion is not None and not self.max_expansion > 0:
            raise ZipFitError(f"max_expansion must be positive, or None for no bound (got {self.max_expansion}).")


@dataclass(frozen=True)
class DataRecipe:
    """Exactly how a set of texts was loaded: enough to load the same texts again (`loading.load_recipe`).

    `text` is the text spec actually used (a proposed field filled in); the three options are the
    `LoadOptions` that change the texts. Where the data lives relative to (`data_root`), upload size
    and hub time limits stay with whoever loads it again.
    """

    source: DataSource
    text: TextSpec
    on_bad_line: str = LoadOptions.on_bad_line
    max_chars: int | None = LoadOptions.max_chars
    plain_text_unit: str = LoadOptions.plain_text_unit

    def __post_init__(self) -> None:
        self.options()  # validate the three options the way LoadOptions does

    def options(self, base: LoadOptions = LoadOptions()) -> LoadOptions:
        """`base` (the caller's data root, limits, ...) with this recipe's text-changing options."""
        return replace(base, on_bad_line=self.on_bad_line, max_chars=self.max_chars,
                       plain_text_unit=self.plain_text_unit)

    def to_dict(self) -> dict:
        """JSON-safe: plain values, the row filter as a [column, value] list."""
        text = {"field": self.text.field, "template": self.text.template,
                "row_filter": list(self.text.row_filter) if self.text.row_filter is not None else None}
        return {"source": {item.name: getattr(self.source, item.name) for item in fields(DataSource)},
                "text": text, "on_bad_line": self.on_bad_line, "max_chars": self.max_chars,
                "plain_text_unit": self.plain_text_unit}

    @classmethod
    def from_dict(cls, content: dict) -> DataRecipe:
        """The inverse of `to_dict`; keys it does not know are ignored, missing options take the defaults."""
        try:
            source_part, text_part = dict(content["source"]), dict(content.get("text") or {})
            known = {item.name for item in fields(DataSource)}
            source = DataSource(**{name: value for name, value in source_part.items() if name in known})
            row_filter = text_part.get("row_filter")
            text = TextSpec(field=text_part.get("field"), template=text_part.get("template"),
                            row_filter=tuple(map(str, row_filter)) if row_filter is not None else None)
            options = {name: content[name] for name in ("on_bad_line", "max_chars", "plain_text_unit")
                       if name in content}
            return cls(source=source, text=text, **options)
        except (KeyError, TypeError, ValueError) as error:
            raise ZipFitError(f"A recorded data recipe is malformed ({error!r}): score the data again.") from None

    def describe(self) -> str:
        """One line: the source, the text, and every setting that differs from the defaults."""
        parts = [self.source.describe()]
        if self.text.template is not None:
            parts.append(f"template {self.text.template!r}")
        elif self.text.field is not None:
            parts.append(f"field {self.text.field!r}")
        if self.text.row_filter is not None:
            parts.append(f"rows where {self.text.row_filter[0]} == {self.text.row_filter[1]!r}")
        if self.source.limit is not None:
            parts.append(f"first {self.source.limit:,} rows")
        if self.source.sample is not None:
            parts.append(f"sample of {self.source.sample:,} (seed {self.source.seed})")
        if self.on_bad_line != LoadOptions.on_bad_line:
            parts.append(f"bad lines: {self.on_bad_line}")
        if self.max_chars != LoadOptions.max_chars:
            parts.append("no text cap" if self.max_chars is None else f"texts capped at {self.max_chars:,} chars")
        if self.plain_text_unit != LoadOptions.plain_text_unit:
            parts.append(f".txt: one text per {self.plain_text_unit}")
        return "; ".join(parts)


@dataclass
class LoadReport:
    """Collects the warnings of one load: what was skipped, replaced, converted or capped."""

    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def numbered(numbers: Sequence[int], shown: int = 10) -> str:
    """`3, 7, 12` or `3, 7, 12, ... (40 more)`: a readable list of line or row numbers."""
    head = ", ".join(str(number) for number in numbers[:shown])
    rest = len(numbers) - shown
    return f"{head}, ... ({rest} more)" if rest > 0 else head


def labelled(word: str, numbers: Sequence[int]) -> str:
    """`line 4` or `lines 4, 9, 12`."""
    return f"{word}{'' if len(numbers) == 1 else 's'} {numbered(numbers)}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 row`, `1,200 rows`; `many` for a plural that is not `word` + s (`plural(n, "entry", "entries")`)."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


MAX_TEMPLATE_CHARS = 4_096  # a template is a few field names and some words between them
MAX_TEMPLATE_PLACEHOLDERS = 32  # each use of a field copies it into every row's text


def template_fields(template: str) -> list[str]:
    """The field names in a template, in order of first use; only plain `{name}` placeholders, at most
    MAX_TEMPLATE_PLACEHOLDERS of them in a template of at most MAX_TEMPLATE_CHARS characters."""
    if len(template) > MAX_TEMPLATE_CHARS:
        raise ZipFitError(f"The template is {len(template):,} characters long, more than the {MAX_TEMPLATE_CHARS:,} "
                          "a template may have: name the fields the text needs, with short words between them.")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ZipFitError(
            f"Template {template!r} is not valid ({error}): write fields as {{name}} and literal braces as {{{{ }}}}."
        ) from None
    uses = sum(name is not None for _literal, name, _spec, _conversion in parts)
    if uses > MAX_TEMPLATE_PLACEHOLDERS:
        raise ZipFitError(f"Template {template[:60]!r}... uses fields {uses:,} times, more than the "
                          f"{MAX_TEMPLATE_PLACEHOLDERS} a template may: use each field the text needs once.")
    names: list[str] = []
    for _literal, name, format_spec, conversion in parts:
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise ZipFitError(f"Template {template!r} has an empty or numbered placeholder: name a field, "
                              "e.g. {text}.")
        if format_spec or conversion:
            raise ZipFitError(
                f"Template {template!r}: placeholders are plain field names, without ':' formats or '!' conversions."
            )
        if name not in names:
            names.append(name)
    if not names:
        raise ZipFitError(f"Template {template!r} uses no field: write fields as {{name}}.")
    return names


def template_parts(template: str) -> list[tuple[str, str | None]]:
    """(literal text, field name or None) pairs; rendering is their concatenation."""
    template_fields(template)
    return [(literal, name) for literal, name, _spec, _conversion in string.Formatter().parse(template)]


def choose_split(available: Sequence[str], requested: str | None, display: str, report: LoadReport) -> str:
    """The requested split; without one, the only split, else `train` (with a warning), else an error."""
    names = list(available)
    if requested is not None:
        if requested not in names:
            raise ZipFitError(
                f"{display} has no split {requested!r}. Splits that exist: {', '.join(names) or '(none)'}."
            )
        return requested
    if len(names) == 1:
        return names[0]
    if "train" in names:
        report.warn(f"{display} has splits {', '.join(names)}: using `train` (choose another with a split).")
        return "train"
    raise ZipFitError(f"{display} has several splits: choose one of {', '.join(names)} (`split`).")


def is_missing(value: object) -> bool:
    """None, NaN, pd.NA, NaT: a cell with no value."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT are the only values unequal to themselves
    except (TypeError, ValueError):  # pd.NA, arrays
        return value.__class__.__name__ == "NAType"


def cell_matches(cell: object, value: str) -> bool:
    """The row filter's test: the cell, written as text, equals `value` (a missing cell never matches)."""
    return not is_missing(cell) and str(cell) == value
