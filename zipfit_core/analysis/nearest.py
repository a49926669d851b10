"""One source row against every target: its nearest targets by 1 - NCD, computed on demand (Explore's row dialog);
their mean is the row's ZIP-FIT score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zipfit_core.analysis.explore import text_preview
from zipfit_core.scoring.alignment import require_texts
from zipfit_core.scoring.codecs import CODECS
from zipfit_core.scoring.kernel import AlignmentKernel


@dataclass(frozen=True)
class NearestTargets:
    """One source row against every target: the closest targets and the mean (= its alignment score)."""

    table: pd.DataFrame  # target_row, similarity (1 - NCD), text, best first
    mean_similarity: float
    n_targets: int


def nearest_targets(source_text: str, target_texts: Sequence[str], *, codec: str = "gzip",
                    level: int | None = None, k: int = 5, preview_chars: int = 200) -> NearestTargets:
    """Per-target 1 - NCD of one source text, computed on demand; ties go to the earlier target."""
    require_texts(target_texts, "target")
    level = CODECS[codec].default_level if level is None and codec in CODECS else level
    similarities = AlignmentKernel(codec, level).pair_similarities(source_text, target_texts)
    order = np.lexsort((np.arange(len(similarities)), -similarities))[:k]
    table = pd.DataFrame({
        "target_row": order,
        "similarity": similarities[order],
        "text": [text_preview(target_texts[i], preview_chars) for i in order],
    })
    return NearestTargets(table, float(np.mean(similarities)), len(similarities))
