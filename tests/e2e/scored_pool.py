"""A scored pool made on the fly: short rows under the data root and their COMPLETE ZIP-FIT result in the score cache.

`write_scored_pool` writes a Parquet pool of short distinct rows (`text`, `domain`) and a targets file, loads both
as the app loads a local file under its data root (so the fingerprints, and with them the cache key, are the
app's), and saves plausible exact scores for them with `CacheEntry.save`: the app attaches the result at once and
nothing is scored. Used by tests/e2e/test_serving.py (100,000 rows) and benchmarks/bench_serving.py (1,000,000).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource, LoadOptions, TextSpec
from zipfit_core.jobs.schedule import round_ends, schedule_description, target_order
from zipfit_core.jobs.score_job import ScoreRequest
from zipfit_core.scoring.kernel import UNITS_PER_ONE
from zipfit_core.store.run import ScoreRun
from zipfit_core.store.score_cache import CacheEntry, ScoreState

DOMAINS = ("formal-maths", "code", "word-problems", "prose")
WORDS_PER_DOMAIN = 24


def _vocabulary(words: str) -> tuple[str, ...]:
    vocabulary = tuple(words.split())
    assert len(vocabulary) == WORDS_PER_DOMAIN, vocabulary
    return vocabulary


_WORDS = {
    "formal-maths": _vocabulary("theorem lemma proof forall exists nat real group ring field prime divides sum "
                                "integral limit continuous bounded subset finite injective norm := by simp"),
    "code": _vocabulary("def return for in if else while list dict int str len range append sorted lambda import "
                        "self yield None True False print class"),
    "word-problems": _vocabulary("apples cost each how many total left after buys sells gives shares dollars "
                                 "minutes hours train miles per week friends marbles pages boxes tickets"),
    "prose": _vocabulary("the committee agreed meeting river city spring history people morning letter garden "
                         "council report season village road light evening story harbour winter market old"),
}
_DOMAIN_SHIFT = np.array([0.06, 0.03, 0.0, -0.02])  # formal maths first, as with ProofNet targets
TARGETS = [
    "theorem sum_of_squares (n : nat) : 6 * sum (range n) (fun i => i ^ 2) = n * (n + 1) * (2 * n + 1) := by simp",
    "lemma prime_divides_product (p a b : nat) (h : prime p) : p ∣ a * b -> p ∣ a ∨ p ∣ b := by exact h.dvd_mul",
    "theorem continuous_bounded (f : real -> real) (h : continuous f) : bounded (f '' Icc 0 1) := by intro",
    "theorem finite_group_order (G : group) [finite G] (g : G) : order g ∣ card G := by exact order_dvd_card",
    "lemma injective_comp (f g : nat -> nat) (hf : injective f) (hg : injective g) : injective (f ∘ g)",
    "theorem exists_prime_gt (n : nat) : exists p, prime p ∧ n < p := by exact exists_infinite_primes n",
    "theorem norm_triangle (x y : real) : norm (x + y) <= norm x + norm y := by exact norm_add_le x y",
    "lemma ring_sq (R : ring) (a b : R) : (a + b) ^ 2 = a ^ 2 + 2 * a * b + b ^ 2 := by ring",
    "theorem integral_nonneg (f : real -> real) (h : forall x, 0 <= f x) : 0 <= integral f := by intro",
    "lemma subset_trans (A B C : set nat) (h1 : A ⊆ B) (h2 : B ⊆ C) : A ⊆ C := by exact h1.trans h2",
    "theorem limit_const (c : real) : limit (fun n => c) c := by simp",
    "lemma field_inv_mul (K : field) (a : K) (h : a ≠ 0) : a⁻¹ * a = 1 := by exact inv_mul_cancel h",
]


@dataclass(frozen=True)
class ScoredPool:
    """A pool and its targets under the data root, with their complete ZIP-FIT result in the score cache."""

    pool_file: str  # relative to the data root
    targets_file: str
    n_rows: int
    n_targets: int
    key: str  # the cache entry (and the app's job id) of the result

    def link(self, base_url: str, top_k: int, page: str = "explore") -> str:
        """A deep link that loads both files and sets the top-K cut (zipfit_app/view_state.py's parameters)."""
        query = {"src": "local", "src.loc": self.pool_file, "tgt": "local", "tgt.loc": self.targets_file,
                 "cut": "top_k", "v": str(top_k)}
        return f"{base_url}/{page}?{urlencode(query)}"


def pool_texts(n_rows: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Short distinct texts (4-12 words of one domain's vocabulary and the row number) and each row's domain
    (an index into DOMAINS)."""
    rng = np.random.default_rng(seed)
    domains = rng.integers(0, len(DOMAINS), n_rows)
    lengths = rng.integers(4, 13, n_rows)
    words = rng.integers(0, WORDS_PER_DOMAIN, (n_rows, 12))
    vocabularies = [_WORDS[name] for name in DOMAINS]
    texts = [" ".join([vocabularies[d][w] for w in row[:k]]) + f" ({i})"
             for i, (d, k, row) in enumerate(zip(domains.tolist(), lengths.tolist(), words.tolist()))]
    return texts, domains


def plausible_scores(domains: np.ndarray, lengths: np.ndarray, seed: int = 0) -> np.ndarray:
    """ZIP-FIT-like scores: a skewed bulk (beta), a shift by domain, shorter texts a little higher."""
    rng = np.random.default_rng(seed + 1)
    scores = 0.08 + 0.4 * rng.beta(2, 8, len(domains)) + _DOMAIN_SHIFT[domains] - 0.0004 * (lengths - lengths.mean())
    return np.clip(scores, 0.01, 0.99)


def _short_count(n: int) -> str:
    """1000000 -> 1m, 100000 -> 100k, 1234 -> 1234."""
    for size, suffix in ((1_000_000, "m"), (1000, "k")):
        if n % size == 0:
            return f"{n // size}{suffix}"
    return str(n)


def write_scored_pool(data_root: Path, cache_dir: Path, n_rows: int, seed: int = 0) -> ScoredPool:
    """Write the pool and targets under `data_root` and a complete ZIP-FIT result for them into `cache_dir`."""
    pool_file, targets_file = f"pool_{_short_count(n_rows)}.parquet", "targets.jsonl"
    texts, domains = pool_texts(n_rows, seed)
    names = np.array(DOMAINS, dtype=object)[domains]
    pq.write_table(pa.table({"text": texts, "domain": names}), data_root / pool_file)
    del names
    (data_root / targets_file).write_text("".join(json.dumps({"text": text}) + "\n" for text in TARGETS),
                                          encoding="utf-8")
    del texts
    # Load both as the app does for a local file under its data root (DataSource "local", automatic text field),
    # so that the fingerprints, and with them the cache key, are the ones the app computes.
    options = LoadOptions(data_root=data_root)
    source = load_source(DataSource("local", pool_file), TextSpec(), options)
    target = load_source(DataSource("local", targets_file), TextSpec(), options)
    if len(source.texts) != n_rows:
        raise RuntimeError(f"{pool_file} loaded as {len(source.texts)} rows, not {n_rows}")
    run = ScoreRun.for_texts(source, target, source_name=f"file: {pool_file}", target_name=f"file: {targets_file}",
                             method="zipfit", settings={"codec": "gzip", "level": 9})
    request = ScoreRequest.for_run(source.texts, target.texts, run, label=f"file: {pool_file} -> file: {targets_file}")
    key, n_targets = request.key, len(target.texts)
    lengths = np.fromiter((len(text) for text in source.texts), dtype=np.float64, count=n_rows)
    scores = plausible_scores(domains, lengths, seed)
    del source, request
    # Exact sums over the targets in units of 2**-53: a row's score is sum / n_targets / 2**53.
    sums = np.rint(scores * (n_targets * UNITS_PER_ONE)).astype(np.int64).tolist()
    spread = (np.random.default_rng(seed + 2).uniform(0.01, 0.05, n_rows) * UNITS_PER_ONE).astype(np.int64).tolist()
    squares = [total * total // n_targets + n_targets * s * s for total, s in zip(sums, spread)]  # >= sum**2 / n
    ends = round_ends(n_targets)
    state = ScoreState(n_rows, ends, len(ends), sums, squares, 0, [0] * n_rows, [0] * n_rows)
    entry = CacheEntry(cache_dir, key)
    if not entry.try_lock():
        raise RuntimeError(f"the cache entry {key[:12]} is locked by another process")
    try:
        entry.save(state, run, schedule_description(target_order(n_targets), ends), run.label)
    finally:
        entry.unlock()
    return ScoredPool(pool_file, targets_file, n_rows, n_targets, key)
