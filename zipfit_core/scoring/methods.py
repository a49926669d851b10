"""The scoring methods behind one registry: ZIP-FIT, a length-debiased ZIP-FIT, DSIR, TF-IDF and random.

    compute_scores(method, sources, targets, **settings) -> float64 array, one score per source row,
    higher = more like the targets. Ranking and cutting go through `analysis.selection.select` for every method.

`METHODS` describes each method, its settings (`MethodSetting`: type, default, choices, whether it changes the
scores) and how it scores:

- ``zipfit``: the paper's score, mean over targets of 1 - NCD (`alignment.alignment_scores`). Default.
- ``zipfit-debiased``: ZIP-FIT minus its least-squares trend on ln C(x) (`baselines.length_debiased`); derived
  from ZIP-FIT's scores, so a cached ZIP-FIT result serves it.
- ``dsir``, ``tfidf``, ``random``: the baselines (`baselines.py`).

A new method is one entry here (and its scorer in `baselines.py`): the CLI's `--method`, the app's method
picker, the caches and the export manifest take it from the registry. `method_spec` names a method with the
settings that change its scores; `recorded_settings` is what a scores file records to reproduce them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zipfit_core.bounds import SEEDS, WORKERS, WholeNumbers
from zipfit_core.errors import ZipFitError
from zipfit_core.scoring.alignment import CancelSignal, ProgressCallback, alignment_scores, require_texts
from zipfit_core.scoring.baselines import compressed_sizes, dsir_scores, length_debiased, random_scores, tfidf_scores
from zipfit_core.scoring.codecs import CODECS, resolve_level

DEFAULT_METHOD = "zipfit"
NON_ZIPFIT_CODEC = "none"  # ScoreRun.codec for methods that do not compress


@dataclass(frozen=True)
class MethodSetting:
    """One tunable of a method: its type, default, allowed values and whether it changes the scores."""

    name: str
    kind: type  # int, float or str
    default: Any
    description: str
    choices: tuple[Any, ...] | None = None
    optional: bool = False  # None is allowed (means: the method's own default)
    affects_scores: bool = True  # False for speed knobs such as worker threads
    bounds: WholeNumbers | None = None  # the range of an int setting (every int setting has one)

    def __post_init__(self) -> None:
        if self.kind is int and self.bounds is None:
            raise TypeError(f"int setting {self.name!r} needs bounds")  # a registry bug, not a user's

    def coerce(self, value: Any) -> Any:
        """`value` (possibly a string from the command line) as this setting's type, validated."""
        if value is None or (isinstance(value, str) and value.lower() in ("none", "")):
            if self.optional:
                return None
            raise ZipFitError(f"Setting {self.name!r} needs a value.")
        if self.kind is int:  # the one range check of whole numbers (bounds.py), as for flags and links
            value = self.bounds.check(f"Setting {self.name!r}", value)  # type: ignore[union-attr]
        try:
            if self.kind is float:
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError
            elif self.kind is str:
                value = str(value)
            elif self.kind is not int:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise ZipFitError(f"Setting {self.name!r} must be {self.kind.__name__}, got {value!r}.") from None
        if self.choices is not None and value not in self.choices:
            raise ZipFitError(
                f"Setting {self.name!r} must be one of {', '.join(map(str, self.choices))}; got {value!r}."
            )
        return value


@dataclass(frozen=True)
class MethodInfo:
    """What a method is (for the CLI help, the app's method picker and the export manifest) and how it scores.

    A method either computes its scores from the texts (`scorer`) or derives them from another method's
    scores (`base`, then `adjust`), so that a cache of the base's scores serves it too.
    """

    name: str
    label: str
    description: str
    settings: tuple[MethodSetting, ...] = field(default_factory=tuple)
    scorer: Scorer | None = None
    base: str | None = None  # the method whose scores `adjust` turns into this one's
    adjust: Adjustment | None = None

    @property
    def compresses(self) -> bool:
        """Whether the method measures with a compressor (and so takes a codec and level)."""
        return any(setting.name == "codec" for setting in self.settings)

    def setting(self, name: str) -> MethodSetting:
        for candidate in self.settings:
            if candidate.name == name:
                return candidate
        known = ", ".join(setting.name for setting in self.settings) or "none"
        raise ZipFitError(f"Method {self.name!r} has no setting {name!r} (settings: {known}).")

    def resolve(self, settings: dict[str, Any]) -> dict[str, Any]:
        """All settings of this method: the given ones validated, the rest at their defaults."""
        for name in settings:
            self.setting(name)  # raises on an unknown name
        resolved = {setting.name: setting.coerce(settings[setting.name]) if setting.name in settings
                    else setting.default for setting in self.settings}
        if resolved.get("level") is not None:  # a level is valid for its codec only
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # gzip 0's warning is said where the run starts
                resolve_level(resolved["codec"], resolved["level"])
        return resolved


Scorer = Callable[[Sequence[str], Sequence[str], dict[str, Any], "ProgressCallback | None", CancelSignal], np.ndarray]
Adjustment = Callable[[np.ndarray, Sequence[str], dict[str, Any]], np.ndarray]


def _zipfit_scores(sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
                   progress: ProgressCallback | None, cancel: CancelSignal) -> np.ndarray:
    return alignment_scores(sources, targets, codec=settings["codec"], level=settings["level"],
                            workers=settings["workers"], progress=progress, cancel=cancel)


def _length_debiased(zipfit_scores: np.ndarray, sources: Sequence[str], settings: dict[str, Any]) -> np.ndarray:
    return length_debiased(zipfit_scores, compressed_sizes(sources, settings["codec"], settings["level"]))


_CODEC_SETTINGS = (
    MethodSetting("codec", str, "gzip", "compressor", choices=tuple(CODECS)),
    MethodSetting("level", int, None, "compression level (default: the codec's; gzip 9)", optional=True,
                  bounds=WholeNumbers(min(codec.levels.start for codec in CODECS.values()),
                                      max(codec.levels.stop - 1 for codec in CODECS.values()))),
    MethodSetting("workers", int, None, "threads (default: all cores)", optional=True, affects_scores=False,
                  bounds=WORKERS),
)


METHODS: dict[str, MethodInfo] = {
    "zipfit": MethodInfo(
        "zipfit", "ZIP-FIT",
        "The paper's score: mean over targets of 1 - NCD(source, target) with gzip.",
        _CODEC_SETTINGS, scorer=_zipfit_scores),
    "zipfit-debiased": MethodInfo(
        "zipfit-debiased", "ZIP-FIT, length-debiased",
        "ZIP-FIT minus its least-squares trend on ln(compressed source size) over the pool: "
        "align(x) - (a + b ln C(x)). Not the paper's score.",
        _CODEC_SETTINGS, base="zipfit", adjust=_length_debiased),
    "dsir": MethodInfo(
        "dsir", "DSIR (hashed n-grams)",
        "DSIR log importance weight from the data-selection package: hashed word n-gram counts "
        "weighted by ln p_target - ln p_source.",
        (MethodSetting("ngrams", int, 2, "n in n-grams (2 = unigrams and bigrams)", bounds=WholeNumbers(1, 8)),
         # Memory grows with the buckets (8 bytes each, several arrays): 2**24 of them is about half a GiB.
         MethodSetting("num_buckets", int, 10000, "hash buckets", bounds=WholeNumbers(1, 2**24)),
         MethodSetting("tokenizer", str, "wordpunct", "word tokenizer", choices=("wordpunct", "word_tokenize"))),
        scorer=dsir_scores),
    "tfidf": MethodInfo(
        "tfidf", "TF-IDF cosine",
        "Cosine of each source's TF-IDF vector to the target centroid (vectorizer fit on sources + targets).",
        (MethodSetting("analyzer", str, "word", "word n-grams, or character n-grams within word boundaries",
                         choices=("word", "char_wb", "char")),
         MethodSetting("ngram_min", int, None, "shortest n-gram (default: word 1, char 3)", optional=True,
                       bounds=WholeNumbers(1, 16)),
         MethodSetting("ngram_max", int, None, "longest n-gram (default: word 2, char 5)", optional=True,
                       bounds=WholeNumbers(1, 16)),
         MethodSetting("sublinear_tf", int, 1, "1 = use 1 + ln(tf), 0 = raw term frequency", choices=(0, 1),
                       bounds=WholeNumbers(0, 1))),
        scorer=tfidf_scores),
    "random": MethodInfo(
        "random", "Random",
        "Seeded uniform random scores: the baseline a selector must beat.",
        (MethodSetting("seed", int, 0, "random seed", bounds=SEEDS),), scorer=random_scores),
}


def method_info(method: str) -> MethodInfo:
    try:
        return METHODS[method]
    except KeyError:
        raise ZipFitError(f"Unknown method {method!r}: choose one of {', '.join(METHODS)}.") from None


def method_spec(method: str, settings: dict[str, Any] | None = None) -> str:
    """A one-line, parseable name of a method with the settings that change its scores.

    ZIP-FIT's codec and level live in their own ScoreRun fields, so they are left out here:
    `zipfit`, `zipfit-debiased`, `tfidf:analyzer=char_wb,ngram_max=5,ngram_min=3,sublinear_tf=1`.
    """
    info = method_info(method)
    resolved = info.resolve(settings or {})
    parts = [f"{setting.name}={resolved[setting.name]}" for setting in info.settings
             if setting.affects_scores and setting.name not in ("codec", "level")]
    return method if not parts else f"{method}:{','.join(sorted(parts))}"


def short_label(spec: str, settings: dict[str, Any] | None = None) -> str:
    """A method shortened for tables: the name plus only the settings that differ from the defaults.

    `spec` is a method name or a `method_spec`; `settings` (e.g. `ScoreRun.settings`) win over the spec's.
    Codec and level are left out (ZIP-FIT labels show them apart).
    """
    method, parsed = parse_method_spec(spec)
    info = method_info(method)
    if settings is not None:
        parsed = {name: info.setting(name).coerce(value) for name, value in settings.items()}
    defaults = info.resolve({})
    changed = [f"{name}={value}" for name, value in sorted(parsed.items())
               if name not in ("codec", "level") and info.setting(name).affects_scores
               and value != defaults.get(name)]
    return method if not changed else f"{method}({','.join(changed)})"


def recorded_settings(method: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a scores file records as `ScoreRun.settings`: every setting that changes the scores, resolved
    (a compressor's level filled in), JSON-safe; `score_sources(method, ..., **recorded)` reproduces them."""
    info = method_info(method)
    resolved = info.resolve(settings or {})
    if "codec" in resolved:
        resolved["level"] = resolve_level(resolved["codec"], resolved["level"])
    return {setting.name: resolved[setting.name] for setting in info.settings if setting.affects_scores}


def parse_method_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """The inverse of `method_spec`: (method, settings)."""
    method, _, rest = spec.partition(":")
    info = method_info(method)
    settings: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        name, equals, value = part.partition("=")
        if not equals:
            raise ZipFitError(f"Malformed method spec {spec!r}: settings are name=value, separated by commas.")
        settings[name] = info.setting(name).coerce(value)
    return method, settings


def base_settings(info: MethodInfo, resolved: dict[str, Any]) -> dict[str, Any]:
    """The settings a derived method hands to its base method (those the base has)."""
    names = {setting.name for setting in method_info(info.base).settings}
    return {name: value for name, value in resolved.items() if name in names}


def compute_scores(method: str, sources: Sequence[str], targets: Sequence[str], *,
                   progress: ProgressCallback | None = None, cancel: CancelSignal = None,
                   **settings: Any) -> np.ndarray:
    """Score every source against the target set with `method`: one float64 per source, higher = more
    target-like. Computes every time (no memo, no cache: `jobs.method_scores.score_sources` adds both).

    `settings` are the method's (see `METHODS[method].settings`); unknown names are an error.
    `progress(done, total)` and `cancel` (an Event or a callable) work as in `alignment_scores`.
    """
    info = method_info(method)
    resolved = info.resolve(settings)
    require_texts(targets, "target")
    if len(sources) == 0:
        return np.zeros(0, dtype=np.float64)
    if info.base is not None:
        base = compute_scores(info.base, sources, targets, progress=progress, cancel=cancel,
                              **base_settings(info, resolved))
        return checked_scores(info, info.adjust(base, sources, resolved))
    return checked_scores(info, info.scorer(sources, targets, resolved, progress, cancel))


def checked_scores(info: MethodInfo, scores: np.ndarray) -> np.ndarray:
    """`scores` as float64, refused when a method produced NaN or infinity (a bug to report)."""
    scores = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        raise ZipFitError(f"{info.label} produced non-finite scores; please report this with your data.")
    return scores
