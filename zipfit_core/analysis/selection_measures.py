"""Two numbers about a selection as a whole, for Compare: how much closer it is to the targets than the pool, and
how redundant it is.

- `kl_reduction`: DSIR's measure (Xie et al. 2023, "KL reduction"): KL(target || random) - KL(target || selection),
  over bags of hashed word uni+bigrams (DSIR's own featurizer, 10,000 buckets; `baselines.hashed_ngram_distribution`),
  with DSIR's smoothing (+1e-8 inside the logarithms), where "random" is a seeded random selection of as many pool
  rows. Positive: the selection's n-grams are closer to the targets' than a random selection's. As in the paper,
  the same number of random rows, not the whole pool: a subset misses n-grams the pool has, and with DSIR's
  smoothing that alone makes KL(target || subset) larger (measured: ZIP-FIT's top 30% of pool-mini looked 1.5 nats
  worse than the pool, though 0.5 nats better than random rows).
- `compression_ratio`: gzip level 9 size / raw UTF-8 size of the selection's texts concatenated (streamed through
  one compressor in batches). Lower: more redundant (repeated boilerplate, near-copies); prose is about 0.35.

Both read at most `MAX_MEASURED_ROWS` rows of a selection: a seeded sample when larger, said in
the result, so that a million-row cut costs seconds, not minutes.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zipfit_core.analysis.selection import Selection
from zipfit_core.data.texts import texts_at
from zipfit_core.scoring.baselines import hashed_ngram_distribution

MAX_MEASURED_ROWS = 10_000  # DSIR features take ~0.35 ms per 600-character row
READ_BATCH_ROWS = 2_000
SMOOTHING = 1e-8  # DSIR's, inside the logarithms
KL_MEANING = ("KL reduction (DSIR): KL(targets || random rows) - KL(targets || selection) over hashed word "
              "uni+bigrams, as many random rows as selected; higher = the selection's words are closer to the targets'")
COMPRESSION_MEANING = ("compression ratio: gzip -9 size / raw size of the selection's texts concatenated; "
                       "lower = more redundant")


def measured_rows(rows: np.ndarray, seed: int = 0) -> np.ndarray:
    """`rows` ascending, or a seeded sample of `MAX_MEASURED_ROWS` of them."""
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    if len(rows) > MAX_MEASURED_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_MEASURED_ROWS, replace=False))
    return rows


def texts_of(texts: Sequence[str], rows: np.ndarray) -> Iterator[str]:
    """The texts of `rows` (ascending), read a batch at a time (a stored pool reads them from disk)."""
    for start in range(0, len(rows), READ_BATCH_ROWS):
        batch = rows[start:start + READ_BATCH_ROWS]
        yield from texts_at(texts, batch)


def kl_divergence(target: np.ndarray, other: np.ndarray) -> float:
    return float(np.sum(target * (np.log(target + SMOOTHING) - np.log(other + SMOOTHING))))


def compression_ratio(texts: Sequence[str], rows: np.ndarray) -> float:
    """Compressed size / raw size of the texts of `rows`, concatenated, through one gzip level-9 stream."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    raw = compressed = 0
    for text in texts_of(texts, rows):
        data = text.encode("utf-8", "surrogatepass")
        raw += len(data)
        compressed += len(compressor.compress(data))
    compressed += len(compressor.flush())
    return compressed / raw if raw else float("nan")


@dataclass(frozen=True)
class SelectionMeasures:
    """KL reduction and compression ratio of each selection (one row per method), and how much was read."""

    table: pd.DataFrame  # method, kl_reduction, kl_to_selection, kl_to_random, compression_ratio, rows_measured
    sampled: bool  # whether a selection was larger than MAX_MEASURED_ROWS


def selection_measures(selections: Mapping[str, Selection], texts: Sequence[str],
                       targets: Sequence[str] | None, seed: int = 0) -> SelectionMeasures:
    """Both numbers for every selection (KL reduction NaN without targets); see the module docstring."""
    target = hashed_ngram_distribution(targets) if targets is not None and len(targets) else None
    to_random: dict[int, float] = {}  # KL(target || random rows), per number of rows
    sampled = False
    records = []
    for name, selection in selections.items():
        rows = measured_rows(selection.rows, seed)
        sampled = sampled or len(rows) < selection.n_rows
        kl_to_selection = kl_to_random = float("nan")
        if target is not None and len(rows):
            kl_to_selection = kl_divergence(target, hashed_ngram_distribution(texts_of(texts, rows)))
            if len(rows) not in to_random:
                random_rows = np.sort(np.random.default_rng(seed).choice(len(texts), len(rows), replace=False))
                to_random[len(rows)] = kl_divergence(target, hashed_ngram_distribution(texts_of(texts, random_rows)))
            kl_to_random = to_random[len(rows)]
        records.append({"method": name, "kl_reduction": kl_to_random - kl_to_selection,
                        "kl_to_selection": kl_to_selection, "kl_to_random": kl_to_random,
                        "compression_ratio": compression_ratio(texts, rows), "rows_measured": len(rows)})
    return SelectionMeasures(pd.DataFrame.from_records(records, columns=[
        "method", "kl_reduction", "kl_to_selection", "kl_to_random", "compression_ratio", "rows_measured"]), sampled)


def describe_sampling(measures: SelectionMeasures) -> str:
    return (f"measured on a seeded sample of {MAX_MEASURED_ROWS:,} rows of each larger selection"
            if measures.sampled else "measured on every row")
