"""Data selectors behind one interface: ZIP-FIT, a length-debiased ZIP-FIT, DSIR, TF-IDF and random.

    score_sources(method, sources, targets, **settings) -> float64 array, one score per source row,
    higher = more like the targets. Ranking and cutting go through `selection.select` for every method.

Methods (the registry `SELECTORS` describes each one and its settings):

- ``zipfit``: the paper's score, mean over targets of 1 - NCD (`alignment.alignment_scores`). Default.
- ``zipfit-debiased``: ZIP-FIT with the length trend removed (see `length_debiased`):
      debiased(x) = align(x) - (a + b * ln C(x))
  where C(x) is the compressed size in bytes of the source alone (same codec and level) and (a, b) is the
  ordinary least-squares fit of align on ln C over the scored source pool. The result is the part of the
  score that source length does not explain; its Pearson correlation with ln C(x) over the pool is zero.
  A row's value depends on the pool it was scored in (the fit), and a genuine link between length and
  relevance is removed along with the bias.
- ``dsir``: DSIR's hashed n-gram importance weight (package `data-selection`, Xie et al. 2023): the log
  likelihood ratio sum_j f_j(x) * (ln p_target_j - ln p_raw_j) of the row's hashed word uni+bigram counts f,
  with the bag-of-ngram distributions fit by `HashedNgramDSIR.fit_importance_estimator` on the targets and
  on the source pool. The package's own featurizer and estimator are called row by row; its file-based
  resampling and its minimum-length filter (for resampling) are not used, so every row gets a score.
- ``tfidf``: cosine similarity of each source's TF-IDF vector to the centroid (mean of the L2-normalised
  target vectors), with `TfidfVectorizer` fit on sources + targets. Cosine to the centroid ranks rows
  exactly as the mean cosine to the individual targets does (the two differ by the constant |centroid|).
- ``random``: seeded uniform numbers in [0, 1): the control every selector should beat.

Results are kept in a small in-process memo keyed by method, the settings that change the result,
and the fingerprints of the source and target texts. With a `cache_dir`, they also persist on disk in the
score cache: ZIP-FIT through the scoring jobs (`jobs.run_foreground`: resumable, shared with the app), the
other methods as `<cache_dir>/methods/<key>/` holding `scores.parquet` and a JSON manifest (format,
version, the key's identity, sha256 of the data file); a damaged entry is reported and recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__
from .alignment import ProgressCallback, alignment_scores, as_cancel_check, encode_texts
from .codecs import CODECS, resolve_level, size_function
from .errors import ScoringCancelled, ZipFitError
from .loading import texts_fingerprint
from .storage import ScoreRun, atomic_path, write_json_atomic

DEFAULT_METHOD = "zipfit"


if TYPE_CHECKING:
    from .loading import LoadedTexts

NON_ZIPFIT_CODEC = "none"  # ScoreRun.codec for methods that do not compress

@dataclass(frozen=True)
class SelectorSetting:
    """One tunable of a selector: its type, default, allowed values and whether it changes the scores."""

    name: str
    kind: type  # int, float or str
    default: Any
    description: str
    choices: tuple[Any, ...] | None = None
    optional: bool = False  # None is allowed (means: the method's own default)
    affects_scores: bool = True  # False for speed knobs such as worker threads

    def coerce(self, value: Any) -> Any:
        """`value` (possibly a string from the command line) as this setting's type, validated."""
        if value is None or (isinstance(value, str) and value.lower() in ("none", "")):
            if self.optional:
                return None
            raise ZipFitError(f"Setting {self.name!r} needs a value.")
        try:
            if self.kind is int and not isinstance(value, bool):
                number = float(value) if isinstance(value, str) else value
                if number != int(number):
                    raise ValueError
                value = int(number)
            elif self.kind is float:
                value = float(value)
            elif self.kind is str:
                value = str(value)
            else:
                raise ValueError
        except (TypeError, ValueError):
            raise ZipFitError(f"Setting {self.name!r} must be {self.kind.__name__}, got {value!r}.") from None
        if self.choices is not None and value not in self.choices:
            raise ZipFitError(
                f"Setting {self.name!r} must be one of {', '.join(map(str, self.choices))}; got {value!r}."
            )
        return value


@dataclass(frozen=True)
class SelectorInfo:
    """What a selector is, for the CLI help, the app's method picker and the export manifest."""

    name: str
    label: str
    description: str
    settings: tuple[SelectorSetting, ...] = field(default_factory=tuple)

    def setting(self, name: str) -> SelectorSetting:
        for candidate in self.settings:
            if candidate.name == name:
                return candidate
        known = ", ".join(setting.name for setting in self.settings) or "none"
        raise ZipFitError(f"Method {self.name!r} has no setting {name!r} (settings: {known}).")

    def resolve(self, settings: dict[str, Any]) -> dict[str, Any]:
        """All settings of this method: the given ones validated, the rest at their defaults."""
        for name in settings:
            self.setting(name)  # raises on an unknown name
        return {setting.name: setting.coerce(settings[setting.name]) if setting.name in settings
                else setting.default for setting in self.settings}


_CODEC_SETTINGS = (
    SelectorSetting("codec", str, "gzip", "compressor", choices=tuple(CODECS)),
    SelectorSetting("level", int, None, "compression level (default: the codec's; gzip 9)", optional=True),
    SelectorSetting("workers", int, None, "threads (default: all cores)", optional=True, affects_scores=False),
)

SELECTORS: dict[str, SelectorInfo] = {
    "zipfit": SelectorInfo(
        "zipfit", "ZIP-FIT",
        "The paper's score: mean over targets of 1 - NCD(source, target) with gzip.",
        _CODEC_SETTINGS),
    "zipfit-debiased": SelectorInfo(
        "zipfit-debiased", "ZIP-FIT, length-debiased",
        "ZIP-FIT minus its least-squares trend on ln(compressed source size) over the pool: "
        "align(x) - (a + b ln C(x)). Not the paper's score.",
        _CODEC_SETTINGS),
    "dsir": SelectorInfo(
        "dsir", "DSIR (hashed n-grams)",
        "DSIR log importance weight from the data-selection package: hashed word n-gram counts "
        "weighted by ln p_target - ln p_source.",
        (SelectorSetting("ngrams", int, 2, "n in n-grams (2 = unigrams and bigrams)"),
         SelectorSetting("num_buckets", int, 10000, "hash buckets"),
         SelectorSetting("tokenizer", str, "wordpunct", "word tokenizer", choices=("wordpunct", "word_tokenize")))),
    "tfidf": SelectorInfo(
        "tfidf", "TF-IDF cosine",
        "Cosine of each source's TF-IDF vector to the target centroid (vectorizer fit on sources + targets).",
        (SelectorSetting("analyzer", str, "word", "word n-grams, or character n-grams within word boundaries",
                         choices=("word", "char_wb", "char")),
         SelectorSetting("ngram_min", int, None, "shortest n-gram (default: word 1, char 3)", optional=True),
         SelectorSetting("ngram_max", int, None, "longest n-gram (default: word 2, char 5)", optional=True),
         SelectorSetting("sublinear_tf", int, 1, "1 = use 1 + ln(tf), 0 = raw term frequency", choices=(0, 1)))),
    "random": SelectorInfo(
        "random", "Random",
        "Seeded uniform random scores: the baseline a selector must beat.",
        (SelectorSetting("seed", int, 0, "random seed"),)),
}


def selector_info(method: str) -> SelectorInfo:
    try:
        return SELECTORS[method]
    except KeyError:
        raise ZipFitError(f"Unknown method {method!r}: choose one of {', '.join(SELECTORS)}.") from None


def method_spec(method: str, settings: dict[str, Any] | None = None) -> str:
    """A one-line, parseable name of a method with the settings that change its scores.

    ZIP-FIT's codec and level live in their own ScoreRun fields, so they are left out here:
    `zipfit`, `zipfit-debiased`, `tfidf:analyzer=char_wb,ngram_max=5,ngram_min=3,sublinear_tf=1`.
    """
    info = selector_info(method)
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
    info = selector_info(method)
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
    info = selector_info(method)
    resolved = info.resolve(settings or {})
    if "codec" in resolved:
        resolved["level"] = resolve_level(resolved["codec"], resolved["level"])
    return {setting.name: resolved[setting.name] for setting in info.settings if setting.affects_scores}


def run_method(run: ScoreRun) -> tuple[str, dict[str, Any]]:
    """(method, settings) that made a scores file: its `settings` when recorded, else the settings older files
    packed into `method` (`name:a=1,b=2`); a compressing method takes the run's codec and level."""
    method, settings = parse_method_spec(run.method)
    info = selector_info(method)
    if run.settings is not None:
        settings = {name: info.setting(name).coerce(value) for name, value in run.settings.items()}
    if any(setting.name == "codec" for setting in info.settings):
        settings.update(codec=run.codec, level=run.level)
    return method, settings


def parse_method_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """The inverse of `method_spec`: (method, settings)."""
    method, _, rest = spec.partition(":")
    info = selector_info(method)
    settings: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        name, equals, value = part.partition("=")
        if not equals:
            raise ZipFitError(f"Malformed method spec {spec!r}: settings are name=value, separated by commas.")
        settings[name] = info.setting(name).coerce(value)
    return method, settings


# ----- the selectors ---------------------------------------------------------------------------------

def length_debiased(scores: np.ndarray, compressed_sizes: np.ndarray) -> np.ndarray:
    """Residual of `scores` after the least-squares line on ln(compressed_sizes) over these rows.

    debiased = score - (a + b ln C); with every C equal (no length variation) it is score - mean(score).
    """
    scores = np.asarray(scores, dtype=np.float64)
    log_size = np.log(np.maximum(np.asarray(compressed_sizes, dtype=np.float64), 1.0))
    if len(scores) == 0:
        return scores.copy()
    centred = log_size - log_size.mean()
    spread = float(centred @ centred)
    slope = float(centred @ (scores - scores.mean())) / spread if spread > 0 else 0.0
    return scores - scores.mean() - slope * centred


def compressed_sizes(texts: Sequence[str], codec: str = "gzip", level: int | None = None) -> np.ndarray:
    """C(x) for each text alone, as ZIP-FIT measures it."""
    level = resolve_level(codec, level)
    return np.array(encode_texts(texts, size_function(codec, level)).sizes, dtype=np.int64)


def _zipfit(sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
            progress: ProgressCallback | None, cancel: Any, cache_dir: Path | None = None) -> np.ndarray:
    if cache_dir is None:
        return alignment_scores(sources, targets, codec=settings["codec"], level=settings["level"],
                                workers=settings["workers"], progress=progress, cancel=cancel)
    from .jobs import ScoreRequest, run_foreground  # late: jobs imports much of the package

    def follow(status: Any) -> None:
        if progress:
            progress(status.done_pairs, status.total_pairs)

    request = ScoreRequest(sources, targets, codec=settings["codec"], level=settings["level"],
                           label=f"{len(sources)} sources vs {len(targets)} targets")
    return run_foreground(request, cache_dir, progress=follow, cancel=cancel, workers=settings["workers"])


def _zipfit_debiased(sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
                     progress: ProgressCallback | None, cancel: Any, cache_dir: Path | None = None) -> np.ndarray:
    scores = score_sources("zipfit", sources, targets, progress=progress, cancel=cancel, cache_dir=cache_dir,
                           **settings)
    return length_debiased(scores, compressed_sizes(sources, settings["codec"], settings["level"]))


def _dsir(sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
          progress: ProgressCallback | None, cancel: Any) -> np.ndarray:
    try:
        from data_selection import HashedNgramDSIR, hashed_ngram_dsir
        from tqdm import tqdm
    except ImportError:
        raise ZipFitError("The DSIR baseline needs `pip install data-selection==1.0.3`.") from None
    # Its fit draws tqdm bars on stderr; ours (the `progress` callback) already tell the user.
    hashed_ngram_dsir.tqdm = functools.partial(tqdm, disable=True)
    is_cancelled = as_cancel_check(cancel)
    texts_by_name = {"sources": list(sources), "targets": list(targets)}
    # The package wants a cache directory even though nothing we call writes to it.
    with tempfile.TemporaryDirectory(prefix="zipfit-dsir-") as cache_dir:
        dsir = HashedNgramDSIR(
            raw_datasets=["sources"], target_datasets=["targets"], cache_dir=cache_dir,
            raw_load_dataset_fn=texts_by_name.__getitem__, raw_parse_example_fn=None,
            target_load_dataset_fn=texts_by_name.__getitem__, target_parse_example_fn=None,
            num_proc=1, ngrams=settings["ngrams"], num_buckets=settings["num_buckets"],
            tokenizer=settings["tokenizer"])
        try:
            dsir.fit_importance_estimator(num_tokens_to_fit="auto")
        except LookupError:  # nltk's word_tokenize needs its `punkt_tab` data, which pip does not install
            raise ZipFitError("DSIR's tokenizer=word_tokenize needs NLTK data: run "
                              "`python -m nltk.downloader punkt_tab`, or use tokenizer=wordpunct "
                              "(the default, no data needed).") from None
    total = len(sources)
    scores = np.empty(total, dtype=np.float64)
    if progress:
        progress(0, total)
    for row, text in enumerate(sources):
        if row % 256 == 0:
            if is_cancelled():
                raise ScoringCancelled("Scoring was cancelled; no scores were returned.")
            if progress and row:
                progress(row, total)
        # What DSIR.compute_importance_weights does per example, minus the .npy shard files.
        scores[row] = dsir.importance_estimator(dsir.featurizer(text))
    if progress:
        progress(total, total)
    return scores


TFIDF_DEFAULT_NGRAMS = {"word": (1, 2), "char_wb": (3, 5), "char": (3, 5)}


def _tfidf(sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
           progress: ProgressCallback | None, cancel: Any) -> np.ndarray:
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
    except ImportError:
        raise ZipFitError("The TF-IDF baseline needs `pip install scikit-learn`.") from None
    low, high = TFIDF_DEFAULT_NGRAMS[settings["analyzer"]]
    low = settings["ngram_min"] or low
    high = settings["ngram_max"] or max(high, low)
    if not 1 <= low <= high:
        raise ZipFitError(f"TF-IDF n-gram range must satisfy 1 <= ngram_min <= ngram_max; got {low}..{high}.")
    if progress:
        progress(0, len(sources))
    vectorizer = TfidfVectorizer(analyzer=settings["analyzer"], ngram_range=(low, high),
                                 sublinear_tf=bool(settings["sublinear_tf"]), dtype=np.float64)
    try:
        matrix = vectorizer.fit_transform(list(sources) + list(targets))
    except ValueError as error:  # e.g. no word in any text
        raise ZipFitError(f"TF-IDF could not build a vocabulary ({error}); try analyzer=char_wb.") from None
    if as_cancel_check(cancel)():
        raise ScoringCancelled("Scoring was cancelled; no scores were returned.")
    source_vectors, target_vectors = matrix[: len(sources)], matrix[len(sources):]
    centroid = np.asarray(target_vectors.mean(axis=0)).ravel()
    norm = float(np.linalg.norm(centroid))
    scores = np.asarray(source_vectors @ centroid).ravel() / norm if norm > 0 else np.zeros(len(sources))
    if progress:
        progress(len(sources), len(sources))
    return scores.astype(np.float64)


def _random(sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
            progress: ProgressCallback | None, cancel: Any) -> np.ndarray:
    return np.random.default_rng(settings["seed"]).random(len(sources))


_SCORERS: dict[str, Callable[..., np.ndarray]] = {
    "zipfit": _zipfit, "zipfit-debiased": _zipfit_debiased, "dsir": _dsir, "tfidf": _tfidf, "random": _random,
}


# ----- one entry point, with a memo --------------------------------------------------------------------

MEMO_ENTRIES = 16
_memo: OrderedDict[str, np.ndarray] = OrderedDict()


def result_key(method: str, settings: dict[str, Any], source_fingerprint: str, target_fingerprint: str) -> str:
    """The identity of a result: method, the settings that change scores, the data, the package version."""
    kept = recorded_settings(method, settings)
    return json.dumps({"method": method, "settings": kept, "source": source_fingerprint,
                       "target": target_fingerprint, "version": __version__}, sort_keys=True)


def clear_memo() -> None:
    _memo.clear()


METHOD_CACHE_FORMAT = "zipfit-method-scores"
METHOD_CACHE_FORMAT_VERSION = 1
METHOD_CACHE_FOLDER = "methods"
METHOD_SCORES_FILE = "scores.parquet"
MANIFEST_NAME = "manifest.json"


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def method_cache_folder(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / METHOD_CACHE_FOLDER / hashlib.sha256(key.encode()).hexdigest()


def read_method_cache(cache_dir: str | Path, key: str, n_sources: int) -> np.ndarray | None:
    """Stored scores for `key`, or None if there are none; a damaged entry is reported and ignored."""
    folder = method_cache_folder(cache_dir, key)
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != METHOD_CACHE_FORMAT or manifest.get("format_version") != METHOD_CACHE_FORMAT_VERSION:
            raise ValueError("unknown format or version")
        if manifest.get("identity") != json.loads(key):
            raise ValueError("it belongs to other work")
        data_path = folder / METHOD_SCORES_FILE
        if _file_sha256(data_path) != manifest["data"]["sha256"]:
            raise ValueError("its data file does not match the manifest's checksum")
        scores = pq.read_table(data_path).column("score").to_numpy().astype(np.float64)
        if len(scores) != n_sources or not np.all(np.isfinite(scores)):
            raise ValueError("its scores do not cover the sources")
        return scores
    except Exception as error:  # any damage: JSON, Parquet, missing keys or files
        if not manifest_path.exists():
            return None  # removed while we read it (cache_admin): gone, not damaged
        warnings.warn(f"Ignoring a damaged cached result in {folder} ({error}); computing it again.")
        return None


def write_method_cache(cache_dir: str | Path, key: str, scores: np.ndarray, label: str = "") -> Path:
    """Store scores under `key`: the Parquet file first, then the manifest that vouches for it (both atomic)."""
    folder = method_cache_folder(cache_dir, key)
    folder.mkdir(parents=True, exist_ok=True)
    data_path = folder / METHOD_SCORES_FILE
    with atomic_path(data_path) as temporary:
        pq.write_table(pa.table({"row": np.arange(len(scores), dtype=np.int64),
                                 "score": np.asarray(scores, dtype=np.float64)}), temporary)
    write_json_atomic(folder / MANIFEST_NAME, {
        "format": METHOD_CACHE_FORMAT, "format_version": METHOD_CACHE_FORMAT_VERSION,
        "identity": json.loads(key), "label": label,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": {"file": METHOD_SCORES_FILE, "sha256": _file_sha256(data_path), "rows": len(scores)},
    })
    return folder


def stored_scores(method: str, sources: Sequence[str], targets: Sequence[str], *,
                  cache_dir: str | Path | None = None, **settings: Any) -> np.ndarray | None:
    """The scores `score_sources` would return if they are already in memory or in the cache; else None.

    Never computes. ZIP-FIT itself is looked up in memory only (its disk entries belong to the jobs).
    """
    resolved = selector_info(method).resolve(settings)
    if len(targets) == 0 or len(sources) == 0:
        return None
    key = result_key(method, resolved, texts_fingerprint(sources), texts_fingerprint(targets))
    if key in _memo:
        return _memo[key].copy()
    if cache_dir is None or method in ("zipfit", "zipfit-debiased"):
        return None
    scores = read_method_cache(cache_dir, key, len(sources))
    if scores is not None:
        _memo[key] = scores
        while len(_memo) > MEMO_ENTRIES:
            _memo.popitem(last=False)
        return scores.copy()
    return None


def score_sources(method: str, sources: Sequence[str], targets: Sequence[str], *,
                  progress: ProgressCallback | None = None, cancel: Any = None,
                  cache_dir: str | Path | None = None, **settings: Any) -> np.ndarray:
    """Score every source row against the target set with `method`; higher = more target-like.

    `settings` are the method's (see `SELECTORS[method].settings`); unknown names are an error.
    `progress(done, total)` and `cancel` (an Event or a callable) work as in `alignment_scores`.
    `cache_dir` (e.g. `cache.default_cache_dir()`) reads and writes the on-disk score cache; None: memory only.
    Returns a new float64 array, one score per source, in source order.
    """
    info = selector_info(method)
    resolved = info.resolve(settings)
    if len(targets) == 0:
        raise ZipFitError("The target set is empty: give at least one target example.")
    if len(sources) == 0:
        return np.zeros(0, dtype=np.float64)
    key = result_key(method, resolved, texts_fingerprint(sources), texts_fingerprint(targets))
    if key in _memo:
        _memo.move_to_end(key)
        return _memo[key].copy()
    cache_dir = Path(cache_dir) if cache_dir is not None else None
    on_disk = method not in ("zipfit", "zipfit-debiased") and cache_dir is not None
    scores = read_method_cache(cache_dir, key, len(sources)) if on_disk else None
    if scores is None:
        scorer = _SCORERS[method]
        if method in ("zipfit", "zipfit-debiased"):
            scores = scorer(sources, targets, resolved, progress, cancel, cache_dir)
        else:
            scores = scorer(sources, targets, resolved, progress, cancel)
        scores = np.asarray(scores, dtype=np.float64)
        if not np.all(np.isfinite(scores)):
            raise ZipFitError(f"{info.label} produced non-finite scores; please report this with your data.")
        if on_disk:
            write_method_cache(cache_dir, key, scores, label=f"{method_spec(method, resolved)}: "
                                                             f"{len(sources)} sources vs {len(targets)} targets")
    _memo[key] = scores
    while len(_memo) > MEMO_ENTRIES:
        _memo.popitem(last=False)
    return scores.copy()


def method_score_run(source: LoadedTexts, target: LoadedTexts, *, source_name: str, target_name: str, method: str,
                     settings: dict[str, Any]) -> ScoreRun:
    """How `method` scored `source` against `target`, as `zipfit score --method` records it: a compressing
    method with its codec and level, the others with codec `none` and level 0; the settings that change scores."""
    resolved = selector_info(method).resolve(settings)
    compressing = "codec" in resolved
    return ScoreRun.for_texts(
        source, target, source_name=source_name, target_name=target_name,
        codec=resolved["codec"] if compressing else NON_ZIPFIT_CODEC,
        level=resolve_level(resolved["codec"], resolved["level"]) if compressing else 0,
        method=method, settings=recorded_settings(method, resolved))
