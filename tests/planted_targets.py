"""A planted pool for the coverage of a cut (issue 24): two target styles, ProofNet statements and changelog entries,
the changelogs rare in the pool; and the definition of coverage computed pair by pair (`direct_covered`).

Data: ProofNet statements bundled in zipfit_core/data/demo_data (see tests/proofnet_jobs.py); changelogs are made up.
"""

from __future__ import annotations

import random

import numpy as np

from tests.proofnet_jobs import TARGETS, make_sources
from zipfit_core.scoring.kernel import AlignmentKernel

WORDS = ["parser", "cache", "timeout", "config", "upload", "retry", "logging", "export", "index", "locale"]


def changelog_entry(rng: random.Random, sections: int = 2) -> str:
    version = f"{rng.randint(0, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    lines = [f"## [{version}] - 2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"]
    for heading in rng.choices(["Added", "Fixed", "Changed", "Removed"], k=sections):
        lines.append(f"### {heading}")
        lines += [f"- {heading} {rng.choice(WORDS)} handling for the {rng.choice(WORDS)} (#{rng.randint(10, 999)})"
                  for _ in range(rng.randint(1, 3))]
    return "\n".join(lines)


RNG = random.Random(11)
# Pool changelogs are long, so their mean over all targets (mostly ProofNet) ranks them low.
POOL = make_sources(240, seed=9) + [changelog_entry(RNG, 8) for _ in range(12)]  # changelogs: rows 240-251
TARGET_SET = TARGETS[:40] + [changelog_entry(RNG) for _ in range(8)]         # changelogs: targets 40-47
RARE_TARGETS = list(range(40, 48))


def direct_covered(kept_rows: np.ndarray, k: int = 10) -> list[bool]:
    """The definition, pair by pair, with no per-target facts."""
    kernel = AlignmentKernel("gzip", 9)
    kept = set(kept_rows.tolist())
    covered = []
    for target in TARGET_SET:
        values = [kernel.pair_similarities(source, [target])[0] for source in POOL]
        nearest = sorted(range(len(POOL)), key=lambda row: (-values[row], row))[:k]
        covered.append(any(row in kept for row in nearest))
    return covered


