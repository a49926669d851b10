"""Data selectors behind one interface: ZIP-FIT, a length-debiased ZIP-FIT, DSIR, TF-IDF and random.

    score_sources(method, sources, targets, **settings) -> float64 array, one score per source row,
    higher = more like the targets. Ranking and cutting go through `selection.select` for every method.

Methods (the registry `METHODS` describes each one and its settings):

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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zipfit_core._version import __version__
from zipfit_core.scoring.codecs import resolve_level

if TYPE_CHECKING:
    from zipfit_core.data.loading import LoadedTexts
from collections.abc import Mapping
from dataclasses import MISSING
from typing import TYPE_CHECKING

from zipfit_core.scoring.methods import NON_ZIPFIT_CODEC, method_info, parse_method_spec, recorded_settings


def method_score_run(source: LoadedTexts, target: LoadedTexts, *, source_name: str, target_name: str, method: str,
                     settings: dict[str, Any]) -> ScoreRun:
    """How `method` scored `source` against `target`, as `zipfit score --method` records it: a compressing
    method with its codec and level, the others with codec `none` and level 0; the settings that change scores."""
    resolved = method_info(method).resolve(settings)
    compressing = "codec" in resolved
    return ScoreRun.for_texts(
        source, target, source_name=source_name, target_name=target_name,
        codec=resolved["codec"] if compressing else NON_ZIPFIT_CODEC,
        level=resolve_level(resolved["codec"], resolved["level"]) if compressing else 0,
        method=method, settings=recorded_settings(method, resolved))


@dataclass(frozen=True)
class ScoreRun:
    """How a set of scores was computed: enough to reproduce it and to check it belongs to the data."""

    codec: str
    level: int
    method: str
    package_version: str
    source: str
    target: str
    source_field: str
    target_field: str
    source_fingerprint: str
    target_fingerprint: str
    n_sources: int
    n_targets: int
    # Optional: files written before these were recorded lack them (read as None).
    source_recipe: dict | None = None  # data_sources.DataRecipe.to_dict() of the source texts
    target_recipe: dict | None = None  # ... and of the target texts
    settings: dict | None = None  # the method's settings that change its scores (older files: in `method`)

    @classmethod
    def from_dict(cls, content: Mapping) -> ScoreRun | None:
        """The run in a scores file's metadata or a manifest's `scoring` section; None when a required key is
        missing. Keys this version does not know are ignored."""
        known = {name: content[name] for name in cls.__dataclass_fields__ if name in content}
        required = [name for name, item in cls.__dataclass_fields__.items() if item.default is MISSING]
        if any(name not in known for name in required):
            return None
        return cls(**known)

    @classmethod
    def for_texts(cls, source: LoadedTexts, target: LoadedTexts, *, source_name: str, target_name: str,
                  codec: str, level: int, method: str, settings: dict | None) -> ScoreRun:
        """The run that scored `source` against `target`, with the recipes that load them again."""
        return cls(
            codec=codec, level=level, method=method, package_version=__version__,
            source=source_name, target=target_name,
            source_field=source.text_description, target_field=target.text_description,
            source_fingerprint=source.fingerprint, target_fingerprint=target.fingerprint,
            n_sources=len(source.texts), n_targets=len(target.texts),
            source_recipe=source.recipe.to_dict() if source.recipe is not None else None,
            target_recipe=target.recipe.to_dict() if target.recipe is not None else None,
            settings=settings,
        )


def run_method(run: ScoreRun) -> tuple[str, dict[str, Any]]:
    """(method, settings) that made a scores file: its `settings` when recorded, else the settings older files
    packed into `method` (`name:a=1,b=2`); a compressing method takes the run's codec and level."""
    method, settings = parse_method_spec(run.method)
    info = method_info(method)
    if run.settings is not None:
        settings = {name: info.setting(name).coerce(value) for name, value in run.settings.items()}
    if any(setting.name == "codec" for setting in info.settings):
        settings.update(codec=run.codec, level=run.level)
    return method, settings
