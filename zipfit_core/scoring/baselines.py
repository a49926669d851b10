"""The baselines ZIP-FIT is compared with, and the length correction of its debiased variant.

Each scorer has the signature of `methods.Scorer`: (sources, targets, settings, progress, cancel) -> one
float64 score per source, higher = more like the targets. The registry in `methods.py` says which settings
each takes and what it is.

- DSIR's hashed n-gram importance weight (package `data-selection`, Xie et al. 2023): the log likelihood ratio
  sum_j f_j(x) * (ln p_target_j - ln p_raw_j) of the row's hashed word uni+bigram counts f, with the
  bag-of-ngram distributions fit by `HashedNgramDSIR.fit_importance_estimator` on the targets and on the source
  pool. The package's own featurizer and estimator are called row by row; its file-based resampling and its
  minimum-length filter (for resampling) are not used, so every row gets a score.
- TF-IDF: cosine similarity of each source's TF-IDF vector to the centroid (mean of the L2-normalised target
  vectors), with `TfidfVectorizer` fit on sources + targets. Cosine to the centroid ranks rows exactly as the
  mean cosine to the individual targets does (the two differ by the constant |centroid|).
- random: seeded uniform numbers in [0, 1): the control every selector should beat.
- `length_debiased`: ZIP-FIT's score minus its least-squares trend on ln C(x), the compressed size of the
  source alone (same codec and level): debiased(x) = align(x) - (a + b * ln C(x)). The result is the part of
  the score that source length does not explain; its Pearson correlation with ln C(x) over the pool is zero.
  A row's value depends on the pool it was scored in (the fit), and a genuine link between length and
  relevance is removed along with the bias.
"""

from __future__ import annotations

import functools
import itertools
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.scoring.alignment import CancelSignal, ProgressCallback, as_cancel_check
from zipfit_core.scoring.codecs import resolve_level, size_function
from zipfit_core.scoring.kernel import encode_texts


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


def dsir_scores(sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
                progress: ProgressCallback | None, cancel: CancelSignal) -> np.ndarray:
    try:
        from data_selection import HashedNgramDSIR, hashed_ngram_dsir
        from tqdm import tqdm
    except ImportError:
        raise ZipFitError("The DSIR baseline needs `pip install data-selection==1.0.3`.") from None
    # Its fit draws tqdm bars on stderr; ours (the `progress` callback) already tell the user.
    hashed_ngram_dsir.tqdm = functools.partial(tqdm, disable=True)
    is_cancelled = as_cancel_check(cancel)
    texts_by_name = {"sources": sources, "targets": list(targets)}  # the pool is only iterated (a store in batches)
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


def hashed_ngram_distribution(texts: Iterable[str], ngrams: int = 2, num_buckets: int = 10000) -> np.ndarray:
    """DSIR's bag of hashed n-grams over many texts, as a probability vector: the counts of the package's
    `get_ngram_counts` (wordpunct tokens of the lower-cased text, uni- to `ngrams`-grams joined by a space, sha256
    bucket), summed over the texts. Each distinct n-gram is hashed once (the package hashes every occurrence)."""
    try:
        from data_selection.hashed_ngram_dsir import hash_buckets, wpt
    except ImportError:
        raise ZipFitError("DSIR's n-gram features need `pip install data-selection==1.0.3`.") from None
    bucket_of: dict[str, int] = {}
    counts = np.zeros(num_buckets, dtype=np.int64)
    for text in texts:
        words = wpt.tokenize(text.lower())
        grams = list(words)
        for n in range(2, ngrams + 1):
            grams += [" ".join(words[start:start + n]) for start in range(len(words) - n + 1)]
        buckets = []
        for gram in grams:
            bucket = bucket_of.get(gram)
            if bucket is None:
                bucket = bucket_of[gram] = hash_buckets(gram, num_buckets=num_buckets)
            buckets.append(bucket)
        counts += np.bincount(np.asarray(buckets, dtype=np.int64), minlength=num_buckets)
        if len(bucket_of) > 2_000_000:  # bounded memory on a huge sample
            bucket_of.clear()
    total = counts.sum()
    return counts / total if total else np.full(num_buckets, 1.0 / num_buckets)


TFIDF_DEFAULT_NGRAMS = {"word": (1, 2), "char_wb": (3, 5), "char": (3, 5)}


def tfidf_scores(sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
                 progress: ProgressCallback | None, cancel: CancelSignal) -> np.ndarray:
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
        matrix = vectorizer.fit_transform(itertools.chain(sources, targets))  # iterated once: no list of the texts
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


def random_scores(sources: Sequence[str], targets: Sequence[str], settings: dict[str, Any],
                  progress: ProgressCallback | None, cancel: CancelSignal) -> np.ndarray:
    return np.random.default_rng(settings["seed"]).random(len(sources))
