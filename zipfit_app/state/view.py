"""The view: what the app shows (datasets, method, settings, cut, evaluation sets), and its form in the URL.

`encode_view` turns a `ViewState` into flat string pairs for the query string, defaults left out;
`decode_view` reads them back, never raising on a bad link (what it ignores is listed). No Streamlit here:
the tests, the services and the session share it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from urllib.parse import quote, unquote

from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.bounds import ROW_COUNTS, ROW_NUMBERS, SEEDS
from zipfit_core.data.sources import TextSpec
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.codecs import CODECS
from zipfit_core.scoring.methods import DEFAULT_METHOD, METHODS

DATA_KINDS = ("demo", "hub", "local", "upload", "folder")  # folder: a score folder under the data root
EXPLORE_TABS = ("top", "cut", "length", "dropped")  # best and worst rows, around the cut, score vs length, left out


@dataclass(frozen=True)
class DataChoice:
    """Which dataset and which text of each row: everything needed to load it again."""

    kind: str  # one of DATA_KINDS
    location: str  # demo name, hub id, path under the data root (file or score folder), or the uploaded file's name
    config: str | None = None
    split: str | None = None
    revision: str | None = None
    streaming: bool = False
    limit: int | None = None
    sample: int | None = None
    seed: int = 0
    field: str | None = None
    template: str | None = None
    filter_column: str | None = None
    filter_value: str | None = None


@dataclass(frozen=True)
class ViewState:
    """The state that defines what the app shows; it round-trips through the URL query string."""

    source: DataChoice | None = None
    target: DataChoice | None = None
    codec: str = "gzip"
    level: int = 9
    method: str = DEFAULT_METHOD  # a `scoring.methods.METHODS` name; codec and level are ZIP-FIT's settings
    method_settings: dict[str, object] = field(default_factory=dict)  # the method's other non-default settings
    cut_kind: str = "top_percent"
    cut_value: float = 10.0
    balanced: bool = False  # the cut fills its budget balanced over the targets (not the paper's rule)
    group_by: str | None = None
    row: int | None = None
    tab: str | None = None  # one of EXPLORE_TABS; None: the first
    references: tuple[str, ...] = ()  # evaluation sets the source is checked against (labels), the source's own
    extra: dict[str, str] = field(default_factory=dict)  # keys other pages own, passed through untouched


_DATA_KEYS = {"kind": "", "location": "loc", "config": "cfg", "split": "split", "revision": "rev",
              "streaming": "stream", "limit": "limit", "sample": "sample", "seed": "seed", "field": "field",
              "template": "tpl", "filter_column": "fcol", "filter_value": "fval"}


_VIEW_KEYS = ("codec", "level", "method", "cut", "v", "bal", "by", "row", "tab")
REFERENCES_KEY = "src.eval"  # the evaluation sets, belonging to the source: comma-separated, each %-quoted
_METHOD_SETTING_PREFIX = "m"  # m.NAME=VALUE: a setting of the view's method
_ROLES = {"source": "src", "target": "tgt"}


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def encode_view(view: ViewState) -> dict[str, str]:
    """Flat string pairs for the query string; defaults and empty fields are left out."""
    params: dict[str, str] = {}
    for role, prefix in _ROLES.items():
        choice: DataChoice | None = getattr(view, role)
        if choice is None:
            continue
        defaults = DataChoice(choice.kind, choice.location)
        for item in fields(DataChoice):
            value = getattr(choice, item.name)
            if item.name not in ("kind", "location") and value == getattr(defaults, item.name):
                continue
            key = prefix if item.name == "kind" else f"{prefix}.{_DATA_KEYS[item.name]}"
            params[key] = str(value)
    defaults = ViewState()
    if view.codec != defaults.codec or view.level != defaults.level:
        params["codec"], params["level"] = view.codec, str(view.level)
    if view.method != defaults.method:
        params["method"] = view.method
    for name, value in sorted(view.method_settings.items()):
        params[f"{_METHOD_SETTING_PREFIX}.{name}"] = str(value)
    params["cut"], params["v"] = view.cut_kind, _format_number(view.cut_value)
    if view.balanced:
        params["bal"] = "1"
    if view.group_by:
        params["by"] = view.group_by
    if view.row is not None:
        params["row"] = str(view.row)
    if view.tab is not None:
        params["tab"] = view.tab
    if view.references and view.source is not None:
        params[REFERENCES_KEY] = ",".join(quote(label, safe=":/ ._-") for label in view.references)
    for key, value in view.extra.items():
        params.setdefault(key, value)
    return params


def decode_view(params: Mapping[str, str | Sequence[str]]) -> tuple[ViewState, list[str]]:
    """The view a query string describes, and what in it was ignored (never raises on bad input)."""
    flat = {key: (value[-1] if isinstance(value, (list, tuple)) and value else value)
            for key, value in params.items()}
    flat = {key: value for key, value in flat.items() if isinstance(value, str)}
    problems: list[str] = []
    view = ViewState()
    for role, prefix in _ROLES.items():
        if prefix not in flat:
            continue
        choice, problem = _decode_choice(prefix, flat)
        if problem:
            problems.append(problem)
        else:
            view = replace(view, **{role: choice})
    codec = flat.get("codec", view.codec)
    level = _as_int(flat.get("level"), CODECS[codec].default_level if codec in CODECS else None)
    if codec not in CODECS:
        problems.append(f"unknown codec {codec!r} in the link; using gzip")
    elif level is None or level not in CODECS[codec].levels:
        problems.append(f"level {flat.get('level')!r} is not valid for {codec}; using its default")
        view = replace(view, codec=codec, level=CODECS[codec].default_level)
    else:
        view = replace(view, codec=codec, level=level)
    view, method_problems = _decode_method(view, flat)
    problems += method_problems
    if "cut" in flat or "v" in flat:
        kind, value = flat.get("cut", view.cut_kind), _as_float(flat.get("v"))
        try:
            if value is None:
                raise ZipFitError(f"cut value {flat.get('v')!r} is not a number")
            SelectionRule(kind, value)
            view = replace(view, cut_kind=kind, cut_value=value)
        except ZipFitError as error:
            problems.append(f"ignored the cut in the link ({error})")
    if "bal" in flat:
        if flat["bal"] in ("0", "1"):
            view = replace(view, balanced=flat["bal"] == "1")
        else:
            problems.append(f"bal={flat['bal']!r} in the link is not 0 or 1; the cut is by score")
    if flat.get("by"):
        view = replace(view, group_by=flat["by"])
    if "row" in flat:
        try:
            view = replace(view, row=ROW_NUMBERS.check("row", flat["row"]))
        except ZipFitError as error:
            problems.append(f"ignored the row in the link ({error})")
    if "tab" in flat:
        if flat["tab"] in EXPLORE_TABS:
            view = replace(view, tab=flat["tab"])
        else:
            problems.append(f"tab {flat['tab']!r} in the link is not one of {', '.join(EXPLORE_TABS)}")
    if flat.get(REFERENCES_KEY) and view.source is not None:
        labels = tuple(dict.fromkeys(unquote(part) for part in flat[REFERENCES_KEY].split(",") if part))
        view = replace(view, references=labels)
    extra = {key: value for key, value in flat.items() if not is_view_key(key)}
    return replace(view, extra=extra), problems


def describe_cut(kind: str, value: float) -> str:
    """The cut in words, the same on every page, in the sidebar and in the export's heading: a threshold
    with all its digits (the app rounds the ones it sets, `analysis.explore.snap_threshold`)."""
    return {"threshold": f"score > {float(value)!r}", "top_k": f"top {int(value):,} rows",
            "top_percent": f"top {value:g}%", "token_budget": f"best rows up to {int(value):,} tokens"}[kind]


def is_view_key(key: str) -> bool:
    """Whether a query-string key belongs to the view (others belong to other pages)."""
    return key in _VIEW_KEYS or key.split(".")[0] in (*_ROLES.values(), _METHOD_SETTING_PREFIX)


def _decode_method(view: ViewState, flat: Mapping[str, str]) -> tuple[ViewState, list[str]]:
    """The method and its settings in a link; unknown ones are reported and left at their defaults."""
    method = flat.get("method", DEFAULT_METHOD)
    if method not in METHODS:
        return view, [f"unknown method {method!r} in the link; using {DEFAULT_METHOD}"]
    info, settings, problems = METHODS[method], {}, []
    for key, raw in flat.items():
        prefix, _, name = key.partition(".")
        if prefix != _METHOD_SETTING_PREFIX:
            continue
        try:
            if name in ("codec", "level"):
                raise ZipFitError("codec and level are written as codec= and level=")
            settings[name] = info.setting(name).coerce(raw)
        except ZipFitError as error:
            problems.append(f"ignored the setting {key}={raw!r} in the link ({error})")
    return replace(view, method=method, method_settings=settings), problems


def _decode_choice(prefix: str, flat: Mapping[str, str]) -> tuple[DataChoice | None, str | None]:
    kind = flat[prefix]
    location = flat.get(f"{prefix}.loc", "")
    if kind not in DATA_KINDS or not location:
        return None, (f"ignored {prefix}={kind!r} in the link (kind must be one of {', '.join(DATA_KINDS)}, "
                      "with a location)")
    values: dict[str, object] = {}
    for name, key in _DATA_KEYS.items():
        raw = flat.get(f"{prefix}.{key}")
        if name in ("kind", "location") or raw is None:
            continue
        if name == "streaming":
            if raw.lower() not in ("true", "false", "1", "0"):
                return None, f"ignored the {prefix} dataset in the link ({key}={raw!r} is not true or false)"
            values[name] = raw.lower() in ("true", "1")
        elif name in ("limit", "sample", "seed"):
            try:  # the ranges DataSource holds the CLI's flags to
                values[name] = (SEEDS if name == "seed" else ROW_COUNTS).check(f"{prefix}.{key}", raw)
            except ZipFitError as error:
                return None, f"ignored the {prefix} dataset in the link ({error})"
        elif name == "template":
            try:
                TextSpec(template=raw)  # the template's own bounds, before anything is loaded
            except ZipFitError as error:
                return None, f"ignored the {prefix} dataset in the link ({error})"
            values[name] = raw
        else:
            values[name] = raw
    return DataChoice(kind, location, **values), None


def _as_int(raw: str | None, default: int | None) -> int | None:
    if raw is None:
        return default
    if len(raw) > 20:  # no level is that long; int() would refuse 4,300 digits with its own error
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _as_float(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
