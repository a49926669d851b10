"""The methods of `zipfit_core.scoring.methods.METHODS` as the app offers them: labels, which settings a user
sets, and the settings a run gets (a session's own settings per method, the view's codec and level).

Plain functions of what they are given: a run record can be built without a browser session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zipfit_core.scoring.methods import METHODS, MethodSetting, method_info, method_spec, recorded_settings

COMPRESSION_SETTINGS = ("codec", "level", "workers")  # codec and level are the view's; workers: all cores
ALIGNMENT_TITLE = "alignment score (mean 1 - NCD over targets)"
KIND_NOTES = {"zipfit": " (the paper's score)", "zipfit-debiased": " (variant)"}
DEBIASED_FORMULA = ("debiased(x) = align(x) - (a + b * ln C(x)), where C(x) is the compressed size of the source "
                    "alone and a, b are the least-squares fit of align on ln C over this pool: the part of the "
                    "ZIP-FIT score that source length does not explain.")


def label(method: str) -> str:
    return METHODS[method].label if method in METHODS else method


def menu_label(method: str) -> str:
    """How a menu names the method: ZIP-FIT as the paper's score, the variant, or a baseline."""
    return label(method) + KIND_NOTES.get(method, " (baseline)")


def score_title(method: str) -> str:
    """How charts name the shown scores."""
    return ALIGNMENT_TITLE if method == "zipfit" else f"{label(method)} score"


def compresses(method: str) -> bool:
    """ZIP-FIT and its debiased variant take the Score page's compressor and level."""
    return any(setting.name == "codec" for setting in method_info(method).settings)


def own_settings(method: str) -> list[MethodSetting]:
    """The settings a user sets for this method (the compressor is set apart, workers are not a choice)."""
    return [setting for setting in method_info(method).settings if setting.name not in COMPRESSION_SETTINGS]


def with_defaults(method: str, chosen: Mapping[str, Any] | None) -> dict[str, Any]:
    """The method's own settings as chosen, the rest at their defaults."""
    chosen = chosen or {}
    return {setting.name: chosen.get(setting.name, setting.default) for setting in own_settings(method)}


def non_default(method: str, chosen: Mapping[str, Any] | None) -> dict[str, Any]:
    """The chosen settings that differ from the method's defaults (what a link carries)."""
    return {name: value for name, value in with_defaults(method, chosen).items()
            if value != method_info(method).setting(name).default}


def run_settings(method: str, chosen: Mapping[str, Any] | None, codec: str, level: int) -> dict[str, Any]:
    """Every setting `score_sources(method, ...)` gets: the method's own, and the codec and level if it compresses."""
    settings = with_defaults(method, chosen)
    if compresses(method):
        settings.update(codec=codec, level=level)
    return settings


def recorded(method: str, chosen: Mapping[str, Any] | None, codec: str, level: int) -> dict[str, Any]:
    """The settings that change the method's scores, as a run record holds them (`recorded_settings`)."""
    return recorded_settings(method, run_settings(method, chosen, codec, level))


def spec(method: str, chosen: Mapping[str, Any] | None) -> str:
    """What tells two results of a method apart (codec and level aside): `scoring.methods.method_spec`."""
    return method_spec(method, with_defaults(method, chosen))
