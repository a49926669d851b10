"""The run record: how a set of scores was computed, written wherever scores are.

One `ScoreRun` describes a computation everywhere it is written: a scores file's metadata, a score folder's
manifest, both caches' manifests and an export manifest's `scoring` section. It holds enough to reproduce
the scores (method, settings, codec, level, data recipes) and to check they belong to the data (fingerprints
and counts). Nothing is ever parsed back out of a label.

    run = ScoreRun.for_texts(source, target, source_name="demo:pool", target_name="demo:proofnet-valid",
                             method="tfidf", settings={"analyzer": "char_wb"})
    run.to_dict()                      # JSON-safe, flat; ScoreRun.from_dict reads it back (and older records)
    run.method_settings()              # ("tfidf", {...}): what `score_sources` needs to compute them again

Record versions: 1 (no `record_version` key) lacked the recipes and `settings` in some files; 2 adds
`record_version`. `from_dict` reads both and ignores keys it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from zipfit_core._version import __version__
from zipfit_core.data.sources import TextSpec
from zipfit_core.data.texts import texts_fingerprint
from zipfit_core.scoring.methods import NON_ZIPFIT_CODEC, method_info, parse_method_spec, recorded_settings

if TYPE_CHECKING:
    from zipfit_core.data.loading import LoadedTexts

RECORD_VERSION = 2
PLAIN_TEXT_FIELD = "text"  # what a run of bare texts (not loaded from a source) records as their field


@dataclass(frozen=True)
class ScoreRun:
    """How a set of scores was computed: enough to reproduce it and to check it belongs to the data."""

    codec: str  # the compressor (`none` for methods that do not compress)
    level: int
    method: str  # a `scoring.methods.METHODS` name
    package_version: str
    source: str  # the source and target as the user named them (a path, `demo:NAME`, `hub:ID`)
    target: str
    source_field: str  # the text field, or `template:...` (`TextSpec.describe`)
    target_field: str
    source_fingerprint: str | None  # None while a score folder is still being written (known per shard)
    target_fingerprint: str
    n_sources: int | None  # ... likewise
    n_targets: int
    # Optional: records written before these existed lack them (read as None).
    source_recipe: dict | None = None  # data.sources.DataRecipe.to_dict() of the source texts
    target_recipe: dict | None = None  # ... and of the target texts
    settings: dict | None = None  # the method's settings that change its scores (older files: in `method`)
    record_version: int = RECORD_VERSION

    # -- reading and writing -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-safe and flat, as every file that carries a run writes it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, content: Mapping) -> ScoreRun | None:
        """The run in a scores file's metadata or a manifest's section; None when a required key is missing.
        Keys this version does not know are ignored; a record without `record_version` is version 1."""
        known = {name: content[name] for name in cls.__dataclass_fields__ if name in content}
        required = [item.name for item in fields(cls) if item.default is MISSING]
        if any(name not in known for name in required):
            return None
        known.setdefault("record_version", 1)
        return cls(**known)

    # -- making one ----------------------------------------------------------------------------------
    @classmethod
    def for_method(cls, method: str, settings: dict[str, Any] | None, *, source: str, target: str,
                   source_field: str, target_field: str, source_fingerprint: str | None, target_fingerprint: str,
                   n_sources: int | None, n_targets: int, source_recipe: dict | None = None,
                   target_recipe: dict | None = None) -> ScoreRun:
        """The run of `method` with `settings`: a compressing method with its codec and level, the others with
        codec `none` and level 0; `settings` as `recorded_settings` resolves them."""
        recorded = recorded_settings(method, settings)  # resolves a compressor's level (and warns at gzip 0)
        return cls(
            codec=recorded.get("codec", NON_ZIPFIT_CODEC), level=recorded.get("level", 0),
            method=method, package_version=__version__, source=source, target=target,
            source_field=source_field, target_field=target_field, source_fingerprint=source_fingerprint,
            target_fingerprint=target_fingerprint, n_sources=n_sources, n_targets=n_targets,
            source_recipe=source_recipe, target_recipe=target_recipe, settings=recorded)

    @classmethod
    def for_texts(cls, source: LoadedTexts, target: LoadedTexts, *, source_name: str, target_name: str,
                  method: str = "zipfit", settings: dict[str, Any] | None = None) -> ScoreRun:
        """The run that scores loaded `source` against `target`, with the recipes that load them again."""
        return cls.for_method(
            method, settings, source=source_name, target=target_name,
            source_field=source.text_description, target_field=target.text_description,
            source_fingerprint=source.fingerprint, target_fingerprint=target.fingerprint,
            n_sources=len(source.texts), n_targets=len(target.texts),
            source_recipe=source.recipe.to_dict() if source.recipe is not None else None,
            target_recipe=target.recipe.to_dict() if target.recipe is not None else None)

    @classmethod
    def for_plain_texts(cls, sources: Sequence[str], targets: Sequence[str], *, method: str = "zipfit",
                        settings: dict[str, Any] | None = None, source_name: str = "sources",
                        target_name: str = "targets", source_fingerprint: str | None = None,
                        target_fingerprint: str | None = None) -> ScoreRun:
        """The run for texts handed over directly (the library, tests): fingerprints computed unless given."""
        return cls.for_method(
            method, settings, source=source_name, target=target_name,
            source_field=PLAIN_TEXT_FIELD, target_field=PLAIN_TEXT_FIELD,
            source_fingerprint=source_fingerprint or texts_fingerprint(sources),
            target_fingerprint=target_fingerprint or texts_fingerprint(targets),
            n_sources=len(sources), n_targets=len(targets))

    def with_sources(self, fingerprint: str, n_sources: int) -> ScoreRun:
        """This run once its sources are known (a score folder's, when every shard is scored)."""
        return replace(self, source_fingerprint=fingerprint, n_sources=n_sources)

    # -- what it says ---------------------------------------------------------------------------------
    @property
    def source_template(self) -> str | None:
        """The template each source row's text was rendered from (None: a field)."""
        return TextSpec.from_description(self.source_field).template

    @property
    def label(self) -> str:
        """`SOURCE vs TARGET`, for listings (never parsed)."""
        return f"{self.source} vs {self.target}"

    def method_settings(self) -> tuple[str, dict[str, Any]]:
        """(method, settings) that reproduce these scores, every setting that changes them resolved: the recorded
        `settings`, else those older files packed into `method` (`name:a=1,b=2`); a compressing method takes the
        run's codec and level."""
        method, settings = parse_method_spec(self.method)
        info = method_info(method)
        if self.settings is not None:
            settings = {name: info.setting(name).coerce(value) for name, value in self.settings.items()}
        if info.compresses:
            settings.update(codec=self.codec, level=self.level)
        return method, recorded_settings(method, settings)
