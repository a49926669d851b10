"""Shaping a cut by hand: rows always or never kept, patterns whose matches are never kept, caps on a group's share.

`Shaping` is what a person asked for (row numbers, regular expressions, `GroupCap`s); `shape_rows` resolves it
against one pool (`ShapedRows`: which rows are included, excluded and why, and each cap's members); the fill
(`selection.cut_in_order`) keeps the included rows first (they count toward the budget and are never removed),
never keeps an excluded row, and skips a row whose group is at its cap, so top-K still keeps K rows. `CutPlan` is
everything that makes a cut (rule, order, shaping, curation): recorded in an export's manifest and replayed.

Patterns are matched by `search.rows_matching` (RE2: linear time; what RE2 does not support is refused with its
reason).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from zipfit_core.analysis.search import check_pattern, column_codes, rows_matching
from zipfit_core.bounds import ROW_NUMBERS
from zipfit_core.data.sources import plural
from zipfit_core.errors import ZipFitError

HAND_EXCLUDED, PATTERN_EXCLUDED, OVER_CAP = "excluded by hand", "excluded by a pattern", "over its group's cap"
EVERY_GROUP, POOL_SHARE = "*", "pool"  # `--cap kind=*:5%` caps every group; `--cap kind=*:pool` at its pool share


@dataclass(frozen=True)
class GroupCap:
    """At most `share` (0..1] of the cut from the rows whose `column` is `value`; value None: each group of the
    column; share None: each group at most its share of the pool."""

    column: str
    value: str | None
    share: float | None

    def __post_init__(self) -> None:
        if not self.column:
            raise ZipFitError("A cap needs a column: write it as COLUMN=VALUE:SHARE, e.g. kind=changelog:1%.")
        if self.share is not None and not (math.isfinite(self.share) and 0 < self.share <= 1):
            raise ZipFitError(f"The cap on {self.column}={self.value or EVERY_GROUP} must be a share above 0 and at "
                              f"most 1 (100%), got {self.share:g}: write e.g. 1% or 0.01.")

    @classmethod
    def parse(cls, text: str) -> GroupCap:
        """`COLUMN=VALUE:SHARE`, SHARE as `1%` or `0.01`; VALUE `*` for every group, SHARE `pool` for its share of
        the pool (the last `:` splits, so a value may hold one)."""
        column, equals, rest = str(text).partition("=")
        value, colon, share_text = rest.rpartition(":")
        if not equals or not colon or not column.strip() or not value:
            raise ZipFitError(f"Cannot read the cap {text!r}: write it as COLUMN=VALUE:SHARE, e.g. kind=changelog:1% "
                              f"(VALUE {EVERY_GROUP} for every group, SHARE {POOL_SHARE} for its share of the pool).")
        share_text = share_text.strip()
        share: float | None = None
        if share_text != POOL_SHARE:
            try:
                share = float(share_text[:-1]) / 100 if share_text.endswith("%") else float(share_text)
            except ValueError:
                raise ZipFitError(f"Cannot read the share {share_text!r} of the cap {text!r}: write it as 1% or "
                                  f"0.01, or {POOL_SHARE}.") from None
        return cls(column.strip(), None if value == EVERY_GROUP else value, share)

    def describe(self) -> str:
        share = "its share of the pool" if self.share is None else f"{self.share * 100:g}%"
        return f"{self.column}={self.value if self.value is not None else EVERY_GROUP} at most {share}"

    def to_dict(self) -> dict:
        return {"column": self.column, "value": self.value, "share": self.share}

    @classmethod
    def from_dict(cls, content: dict) -> GroupCap:
        return cls(str(content["column"]), content.get("value"), content.get("share"))


@dataclass(frozen=True)
class Shaping:
    """What was asked by hand: 0-based pool rows always kept (`include_rows`) or never (`exclude_rows`), RE2
    patterns whose matching rows are never kept, and caps."""

    include_rows: tuple[int, ...] = ()
    exclude_rows: tuple[int, ...] = ()
    patterns: tuple[str, ...] = ()
    caps: tuple[GroupCap, ...] = ()

    def __post_init__(self) -> None:
        for name in ("include_rows", "exclude_rows"):
            rows = tuple(sorted({int(ROW_NUMBERS.check("A row number", row)) for row in getattr(self, name)}))
            object.__setattr__(self, name, rows)
        both = sorted(set(self.include_rows) & set(self.exclude_rows))
        if both:
            raise ZipFitError(f"Row {both[0]} is both always kept and never kept ({plural(len(both), 'row')} in "
                              "both lists): take it out of one of them.")
        object.__setattr__(self, "patterns", tuple(self.patterns))
        object.__setattr__(self, "caps", tuple(self.caps))
        for pattern in self.patterns:
            check_pattern(pattern)
        groups = [(cap.column, cap.value) for cap in self.caps]
        twice = next((group for group in groups if groups.count(group) > 1), None)
        if twice is not None:
            raise ZipFitError(f"The group {twice[0]}={twice[1] or EVERY_GROUP} has more than one cap: keep one.")
        every = {cap.column for cap in self.caps if cap.value is None}
        if any(cap.column in every and cap.value is not None for cap in self.caps):
            raise ZipFitError("A column capped for every group (VALUE *) cannot also be capped for one of its values: "
                              "keep one of the two caps.")

    @property
    def empty(self) -> bool:
        return not (self.include_rows or self.exclude_rows or self.patterns or self.caps)

    def to_dict(self) -> dict:
        return {"include_rows": list(self.include_rows), "exclude_rows": list(self.exclude_rows),
                "patterns": list(self.patterns), "caps": [cap.to_dict() for cap in self.caps]}

    @classmethod
    def from_dict(cls, content: dict | None) -> Shaping:
        content = content or {}
        return cls(tuple(content.get("include_rows", ())), tuple(content.get("exclude_rows", ())),
                   tuple(content.get("patterns", ())), tuple(GroupCap.from_dict(cap) for cap in content.get("caps", ())))


@dataclass(frozen=True)
class CapGroup:
    """One group a cap applies to: its members (a boolean over the pool) and its share of the cut."""

    column: str
    label: str  # e.g. "kind=changelog"
    members: np.ndarray
    share: float
    round_up: bool = False  # a share of the pool: rounded up to a whole row, so the groups together fill the cut

    def limit(self, budget: int) -> int:
        """The rows (or tokens) of a `budget` this group may hold: at most its share (rounded down), or for a pool
        share rounded up."""
        exact = self.share * budget
        return math.ceil(exact - 1e-9) if self.round_up else math.floor(exact + 1e-9)


@dataclass(frozen=True)
class ShapedRows:
    """A `Shaping` resolved against a pool of `n_rows` rows."""

    include: np.ndarray  # rows always kept, ascending
    excluded: dict[int, tuple[str, str]] = field(default_factory=dict)  # row -> (reason, what: "" or the pattern)
    caps: tuple[CapGroup, ...] = ()

    @property
    def excluded_rows(self) -> np.ndarray:
        """The rows never kept (by hand or by a pattern), as an array."""
        return np.fromiter(self.excluded, dtype=np.int64, count=len(self.excluded))


def cap_groups(caps: Sequence[GroupCap], table, n_rows: int) -> tuple[CapGroup, ...]:
    """Each cap as the groups it limits (a `*` cap: one per value of its column)."""
    groups = []
    for cap in caps:
        codes, labels = column_codes(table, cap.column, n_rows, "to cap")
        if cap.value is not None and cap.value not in labels:
            shown = ", ".join(labels[:8]) + (", ..." if len(labels) > 8 else "")
            raise ZipFitError(f"The column {cap.column!r} has no value {cap.value!r} to cap: choose one of {shown}.")
        for code, label in enumerate(labels):
            if cap.value is not None and label != cap.value:
                continue
            members = codes == code
            share = cap.share if cap.share is not None else float(members.sum()) / max(n_rows, 1)
            groups.append(CapGroup(cap.column, f"{cap.column}={label}", members, share, cap.share is None))
    return tuple(groups)


def shape_rows(shaping: Shaping, texts: Sequence[str], table, n_rows: int) -> ShapedRows:
    """`shaping` against the pool (`texts`, `table`: its rows): row numbers checked, patterns matched, caps'
    groups found. Raises a ZipFitError saying what to change for a row outside the pool or an unknown cap group."""
    for name, rows in (("always keep", shaping.include_rows), ("never keep", shaping.exclude_rows)):
        if rows and rows[-1] >= n_rows:
            raise ZipFitError(f"Row {rows[-1]} to {name} is outside the pool of {plural(n_rows, 'row')}: row numbers "
                              f"start at 0 (as in the scores file), so use 0..{n_rows - 1}.")
    excluded: dict[int, tuple[str, str]] = {row: (HAND_EXCLUDED, "") for row in shaping.exclude_rows}
    for pattern in shaping.patterns:
        for row in rows_matching(texts, pattern).tolist():
            excluded.setdefault(row, (PATTERN_EXCLUDED, pattern))
    include = np.asarray(shaping.include_rows, dtype=np.int64)
    for row in shaping.include_rows:  # always kept wins over a pattern
        excluded.pop(row, None)
    return ShapedRows(include, excluded, cap_groups(shaping.caps, table, n_rows))


@dataclass(frozen=True)
class CutPlan:
    """Everything that makes a cut from scores: the rule, the order (by score, or balanced over the targets), the
    shaping by hand and the curation settings (None: not curated). What an export records and `--from-manifest`
    replays."""

    rule: dict  # SelectionRule as {"kind", "value"}
    balanced: bool = False
    shaping: Shaping = Shaping()
    curation: dict | None = None  # CurationSettings as a dict

    def to_dict(self) -> dict:
        return {"rule": dict(self.rule), "order": "balanced" if self.balanced else "by score",
                "shaping": self.shaping.to_dict(), "curation": self.curation}

    @classmethod
    def from_dict(cls, content: dict) -> CutPlan:
        try:
            return cls({"kind": content["rule"]["kind"], "value": content["rule"]["value"]},
                       content.get("order") == "balanced", Shaping.from_dict(content.get("shaping")),
                       content.get("curation"))
        except (KeyError, TypeError, ValueError) as error:
            raise ZipFitError(f"The manifest's cut plan is malformed ({error!r}): export again.") from None

    @classmethod
    def of(cls, rule, balanced: bool, shaping: Shaping, curation) -> CutPlan:
        """From a SelectionRule and CurationSettings (or None)."""
        return cls({"kind": rule.kind, "value": rule.value}, balanced, shaping,
                   asdict(curation) if curation is not None else None)

