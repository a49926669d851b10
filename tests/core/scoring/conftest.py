"""The parity oracle for the scoring tests: the reference package `zip-fit==1.0.9`."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence

import numpy as np
import pytest


def reference_alignment(sources: Sequence[str], targets: Sequence[str], codec: str, level: int) -> np.ndarray:
    """Scores from the reference package `zip-fit==1.0.9`, put back in source order.

    The reference returns (text, mean) pairs sorted by score, so sources must be distinct texts.
    It runs a multiprocessing Pool over all cores: keep the inputs to a few hundred sources.
    """
    from zip_fit import ZIPFIT

    assert len(set(sources)) == len(sources), "the reference maps scores back by text: sources must be distinct"
    oracle = ZIPFIT("unused-source", "unused-target", k=len(sources), compression_algorithm=codec,
                    compress_level=level)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
        ranked = oracle.rank_sequences_by_alignment(list(sources), list(targets))
    by_text = dict(ranked)
    assert len(by_text) == len(sources)
    return np.array([by_text[text] for text in sources], dtype=np.float64)


@pytest.fixture(scope="session")
def reference_scores() -> Callable[[Sequence[str], Sequence[str], str, int], np.ndarray]:
    return reference_alignment
