"""A quick proxy for "does training on this selection help on the task?" — not fine-tuning.

For each method and each k, a character n-gram language model is trained on the method's top-k source
rows, and its cross-entropy on held-out target rows is measured in bits per character. Lower is better.
One curve per method against k, plus two reference levels: the model trained on the whole pool
(no selection) and the untrained model (uniform over the alphabet: log2 |alphabet| bits per character).

The model is interpolated Kneser-Ney (Chen & Goodman 1998) over characters with one absolute discount D:

    P_m(w | h) = (max(c_m(h w) - D, 0) + D * N1+(h .) * P_{m-1}(w | h[1:])) / c_m(h .)     if c_m(h .) > 0
               = P_{m-1}(w | h[1:])                                                        otherwise
    P_0(w)     = 1 / |alphabet|

where h holds the m-1 previous characters, c_order are raw counts of order-grams, c_m for m < order are
continuation counts (the number of distinct characters seen before the m-gram), c_m(h .) = sum over w of
c_m(h w) and N1+(h .) the number of distinct w with c_m(h w) > 0. Each document is predicted from its first
character with order-1 beginning-of-text symbols as context; no end symbol is predicted. The alphabet is
every character of the source pool and the evaluation targets, the same for every model, so that every
curve is measured against the same events.

Selection targets and evaluation targets must be disjoint: `check_disjoint` compares a fingerprint of
each row's text (sha256 of the text with runs of whitespace collapsed) and raises ZipFitError on overlap.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from zipfit_core._version import __version__
from zipfit_core.data.sources import plural
from zipfit_core.data.texts import texts_fingerprint
from zipfit_core.errors import ScoringCancelled, ZipFitError
from zipfit_core.scoring.alignment import ProgressCallback, as_cancel_check, rank_by_score, require_texts
from zipfit_core.store.outputs import is_json_of_kind

DEFAULT_ORDER = 5
DEFAULT_DISCOUNT = 0.75
DEFAULT_PERCENTS = (1, 2, 5, 10, 25, 50)


# Training costs a few microseconds per character in pure Python: 20M characters is about a minute per model.
DEFAULT_MAX_TRAIN_CHARS = 20_000_000
NO_SELECTION = "no selection (all rows)"
PROXY_RESULT_KIND = "zipfit-proxy-eval"  # what `--out` files say they are


class CharNgramModel:
    """Interpolated Kneser-Ney character n-gram model over a fixed alphabet; counts grow incrementally."""

    def __init__(self, alphabet: set[str] | frozenset[str], order: int = DEFAULT_ORDER,
                 discount: float = DEFAULT_DISCOUNT) -> None:
        if order < 1:
            raise ZipFitError(f"The n-gram order must be at least 1, got {order}.")
        if not 0 < discount <= 1:
            raise ZipFitError(f"The discount must be in (0, 1], got {discount}.")
        if not alphabet:
            raise ZipFitError("The alphabet is empty: there is no text to model.")
        self.alphabet = frozenset(alphabet)
        self.order = order
        self.discount = discount
        self.boundary = next(symbol for symbol in ("\x00", "\uffff", "\U0010ffff", "\x01")
                             if symbol not in self.alphabet)
        # Index m = 1..order: counts of m-grams, and per (m-1)-char context its total and distinct followers.
        self.counts: list[dict[str, int]] = [{} for _ in range(order + 1)]
        self.context_total: list[dict[str, int]] = [{} for _ in range(order + 1)]
        self.context_types: list[dict[str, int]] = [{} for _ in range(order + 1)]
        self.trained_chars = 0
        self.trained_texts = 0

    def _add_gram(self, m: int, gram: str) -> None:
        while True:
            counts = self.counts[m]
            before = counts.get(gram, 0)
            counts[gram] = before + 1
            context = gram[:-1]
            self.context_total[m][context] = self.context_total[m].get(context, 0) + 1
            if before:
                return
            self.context_types[m][context] = self.context_types[m].get(context, 0) + 1
            if m == 1:
                return
            # A new m-gram type is one more distinct left context for its (m-1)-suffix.
            m, gram = m - 1, gram[1:]

    def _remove_gram(self, m: int, gram: str) -> None:
        """Exactly undo one `_add_gram(m, gram)`."""
        while True:
            counts = self.counts[m]
            after = counts[gram] - 1
            context = gram[:-1]
            totals, types = self.context_total[m], self.context_types[m]
            totals[context] -= 1
            if not totals[context]:
                del totals[context]
            if after:
                counts[gram] = after
                return
            del counts[gram]
            types[context] -= 1
            if not types[context]:
                del types[context]
            if m == 1:
                return
            m, gram = m - 1, gram[1:]

    def _grams(self, text: str) -> Iterator[str]:
        order = self.order
        padded = self.boundary * (order - 1) + text
        return (padded[end - order:end] for end in range(order, len(padded) + 1))

    def add(self, texts: Sequence[str]) -> None:
        for text in texts:
            for gram in self._grams(text):
                self._add_gram(self.order, gram)
            self.trained_chars += len(text)
            self.trained_texts += 1

    def remove(self, texts: Sequence[str]) -> None:
        """Forget texts added before (the counts return exactly to what they were without them)."""
        for text in texts:
            for gram in self._grams(text):
                self._remove_gram(self.order, gram)
            self.trained_chars -= len(text)
            self.trained_texts -= 1

    def probability(self, context: str, char: str) -> float:
        """P(char | the last order-1 characters of context), context padded with the boundary symbol."""
        if char not in self.alphabet:
            raise ZipFitError(f"Character {char!r} is outside the model's alphabet.")
        padded = self.boundary * (self.order - 1) + context
        history = padded[len(padded) - (self.order - 1):] if self.order > 1 else ""
        return self._probability(history, char)

    def _probability(self, history: str, char: str) -> float:
        discount = self.discount
        probability = 1.0 / len(self.alphabet)
        for m in range(1, self.order + 1):
            context = history[len(history) - (m - 1):] if m > 1 else ""
            total = self.context_total[m].get(context)
            if total:
                count = self.counts[m].get(context + char, 0)
                probability = (max(count - discount, 0.0)
                               + discount * self.context_types[m][context] * probability) / total
        return probability

    def cross_entropy_bits(self, texts: Sequence[str]) -> tuple[float, int]:
        """(total bits, total characters) of `texts` under the model."""
        order = self.order
        bits = 0.0
        chars = 0
        log2 = math.log2
        for text in texts:
            missing = set(text) - self.alphabet
            if missing:
                raise ZipFitError(f"Evaluation text has characters outside the alphabet: {sorted(missing)[:5]}.")
            padded = self.boundary * (order - 1) + text
            for end in range(order - 1, len(padded)):
                bits -= log2(self._probability(padded[end - order + 1:end], padded[end]))
            chars += len(text)
        return bits, chars

    def bits_per_char(self, texts: Sequence[str]) -> float:
        bits, chars = self.cross_entropy_bits(texts)
        if chars == 0:
            raise ZipFitError("The evaluation targets contain no characters.")
        return bits / chars


def row_fingerprint(text: str) -> str:
    """sha256 of a row's text with runs of whitespace collapsed (so trailing spaces do not hide a copy)."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8", "surrogatepass")).hexdigest()


def shared_rows(first: Sequence[str], second: Sequence[str]) -> list[tuple[int, int]]:
    """(row in first, row in second) for each row of `second` whose fingerprint occurs in `first`."""
    positions = {}
    for row, text in enumerate(first):
        positions.setdefault(row_fingerprint(text), row)
    return [(positions[fp], row) for row, fp in enumerate(map(row_fingerprint, second)) if fp in positions]


def check_disjoint(selection_targets: Sequence[str], evaluation_targets: Sequence[str]) -> None:
    """Raise ZipFitError if any evaluation target row also occurs among the selection targets."""
    overlap = shared_rows(selection_targets, evaluation_targets)
    if overlap:
        selection_row, evaluation_row = overlap[0]
        raise ZipFitError(
            f"{len(overlap):,} of the {plural(len(evaluation_targets), 'evaluation target')} also "
            f"{'occurs' if len(overlap) == 1 else 'occur'} among the "
            f"selection targets (e.g. evaluation row {evaluation_row} = selection row {selection_row}). "
            "Evaluate on rows the selection never saw, e.g. ProofNet test when selecting with ProofNet valid."
        )


def default_ks(pool_size: int, percents: Sequence[float] = DEFAULT_PERCENTS, max_k: int | None = None) -> list[int]:
    """Budgets: the given percentages of the pool (rows or characters), at least 1, without repeats.

    With `max_k`, larger budgets are left out (at least one budget remains).
    """
    ks = sorted({max(1, round(pool_size * percent / 100)) for percent in percents if pool_size})
    if max_k is not None:
        ks = [k for k in ks if k <= max_k] or ks[:1]
    return ks


def default_budgets(lengths: Sequence[int], budget_unit: str = "rows",
                    max_train_chars: int = DEFAULT_MAX_TRAIN_CHARS) -> list[int]:
    """Default budgets for a pool with these row lengths, kept within the training limit (rows: by mean length)."""
    total = int(sum(lengths))
    if budget_unit == "chars":
        return default_ks(total, max_k=max_train_chars)
    mean_length = total / len(lengths) if len(lengths) else 1
    return default_ks(len(lengths), max_k=int(max_train_chars / max(mean_length, 1)))


BUDGET_UNITS = ("rows", "chars")


@dataclass(frozen=True)
class ProxySettings:
    ks: tuple[int, ...]  # budgets, in `budget_unit`
    order: int = DEFAULT_ORDER
    discount: float = DEFAULT_DISCOUNT
    budget_unit: str = "rows"  # "rows": top-k rows; "chars": top rows until k characters (last one cut)


@dataclass
class ProxyCurve:
    """Held-out cross-entropy of the model trained on a method's top-k rows, for each k."""

    method: str
    ks: list[int]
    bits_per_char: list[float]
    train_chars: list[int]


@dataclass
class ProxyResult:
    """Curves per method, the two reference levels, and what is needed to reproduce them."""

    settings: ProxySettings
    curves: list[ProxyCurve]
    no_selection_bits_per_char: float  # trained on every source row (or a seeded sample: no_selection_rows)
    untrained_bits_per_char: float  # uniform over the alphabet
    alphabet_size: int
    n_sources: int
    evaluation_chars: int
    evaluation_rows: int
    evaluation_rows_in_pool: int  # held-out targets that also occur in the source pool (leakage into training)
    no_selection_rows: int = 0  # rows the no-selection model saw: all, unless the pool is over the training limit
    fingerprints: dict[str, str] = field(default_factory=dict)
    score_fingerprints: dict[str, str] = field(default_factory=dict)
    package_version: str = __version__

    def to_frame(self) -> pd.DataFrame:
        """Long form: method, k, bits_per_char, train_chars (the no-selection row has k = n_sources)."""
        records = [{"method": curve.method, "k": k, "bits_per_char": bpc, "train_chars": chars}
                   for curve in self.curves for k, bpc, chars in zip(curve.ks, curve.bits_per_char, curve.train_chars)]
        return pd.DataFrame.from_records(records, columns=["method", "k", "bits_per_char", "train_chars"])

    def to_dict(self) -> dict:
        content = asdict(self)
        content["settings"]["ks"] = list(self.settings.ks)
        content["kind"] = PROXY_RESULT_KIND
        content["model"] = (f"interpolated Kneser-Ney character {self.settings.order}-gram, "
                            f"discount {self.settings.discount}")
        content["note"] = ("Proxy: a character n-gram model trained on each selection, evaluated on held-out "
                           "targets disjoint from the selection targets. Not fine-tuning.")
        return content


def is_proxy_result(path: str | Path) -> bool:
    """A JSON file written by `zipfit proxy-eval --out` (so it may be replaced by a new one)."""
    return is_json_of_kind(path, PROXY_RESULT_KIND)


def scores_fingerprint(scores: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(scores, dtype="<f8").tobytes()).hexdigest()


def proxy_evaluation(
    sources: Sequence[str],
    scores: Mapping[str, np.ndarray],
    evaluation_targets: Sequence[str],
    selection_targets: Sequence[str] | Mapping[str, Sequence[str]],
    *,
    ks: Sequence[int] | None = None,
    order: int = DEFAULT_ORDER,
    discount: float = DEFAULT_DISCOUNT,
    budget_unit: str = "rows",
    max_train_chars: int | None = DEFAULT_MAX_TRAIN_CHARS,
    progress: ProgressCallback | None = None,
    cancel: object = None,
) -> ProxyResult:
    """Held-out bits per character of a char n-gram model trained on each method's top-k rows.

    `scores` maps a method name to its scores over `sources`. `selection_targets` are the targets the
    scores were computed against (one list for all methods, or one per method); each must be disjoint
    from `evaluation_targets` (checked by row fingerprint; ZipFitError otherwise).
    `budget_unit="chars"` makes k a number of training characters: the best rows in rank order, the
    last one cut to fit (as the paper fills a token budget), so methods that prefer short rows get the
    same amount of training text as the others. Default budgets: 1, 2, 5, 10, 25, 50% of the pool,
    within `max_train_chars` (a budget that trains on more is an error; None: no limit). The no-selection
    model trains on the whole pool, or on a seeded random sample of whole rows up to the limit.
    """
    is_cancelled = as_cancel_check(cancel)
    require_texts(evaluation_targets, "evaluation target")
    if len(sources) == 0:
        raise ZipFitError("The source pool is empty.")
    per_method_targets = (selection_targets if isinstance(selection_targets, Mapping)
                          else {name: selection_targets for name in scores})
    for name in scores:
        if name not in per_method_targets:
            raise ZipFitError(f"No selection targets given for method {name!r}.")
        check_disjoint(per_method_targets[name], evaluation_targets)
    for name, values in scores.items():
        if len(values) != len(sources):
            raise ZipFitError(f"{name}: {plural(len(values), 'score')} for {plural(len(sources), 'source row')}: "
                              "score this source pool with that method again.")
    if budget_unit not in BUDGET_UNITS:
        raise ZipFitError(f"Unknown budget unit {budget_unit!r}: use one of {', '.join(BUDGET_UNITS)}.")
    pool_size = len(sources) if budget_unit == "rows" else sum(len(text) for text in sources)
    lengths = [len(text) for text in sources]
    limit = max_train_chars if max_train_chars is not None else sum(lengths)
    ks = sorted(set(int(k) for k in (ks if ks is not None else default_budgets(lengths, budget_unit, limit))))
    if not ks or ks[0] < 1:
        raise ZipFitError(f"Give budgets k of at least 1 ({budget_unit}).")
    ks = [k for k in ks if k <= pool_size] or [pool_size]
    if max_train_chars is not None:
        for name, values in scores.items():
            biggest = ks[-1] if budget_unit == "chars" else sum(
                lengths[row] for row in rank_by_score(np.asarray(values, dtype=np.float64))[: ks[-1]])
            if biggest > max_train_chars:
                raise ZipFitError(
                    f"{name}: k = {ks[-1]:,} {budget_unit} trains on {biggest:,} characters, above the limit of "
                    f"{max_train_chars:,} (about a minute of training per model): choose smaller budgets, or "
                    "raise the limit.")

    alphabet = set()
    for text in sources:
        alphabet.update(text)
    for text in evaluation_targets:
        alphabet.update(text)
    settings = ProxySettings(tuple(ks), order, discount, budget_unit)
    total_steps = len(scores) * len(ks) + 1
    done = 0

    def step() -> None:
        nonlocal done
        if is_cancelled():
            raise ScoringCancelled("The proxy evaluation was cancelled.")
        done += 1
        if progress:
            progress(done, total_steps)

    if progress:
        progress(0, total_steps)
    curves = []
    for name, values in scores.items():
        ranked = rank_by_score(np.asarray(values, dtype=np.float64))
        model = CharNgramModel(alphabet, order, discount)
        curve = ProxyCurve(name, [], [], [])
        position = 0  # rows of `ranked` the model holds whole
        for k in ks:
            # Budgets are nested, so the model for k is the model for the previous k plus the next rows.
            partial = ""
            if budget_unit == "rows":
                model.add([sources[row] for row in ranked[position:k]])
                position = k
            else:
                while position < len(ranked) and model.trained_chars + len(sources[ranked[position]]) <= k:
                    model.add([sources[ranked[position]]])
                    position += 1
                if position < len(ranked) and model.trained_chars < k:
                    partial = sources[ranked[position]][: k - model.trained_chars]
                    model.add([partial])
            curve.ks.append(k)
            curve.bits_per_char.append(model.bits_per_char(evaluation_targets))
            curve.train_chars.append(model.trained_chars)
            if partial:
                model.remove([partial])  # the next budget may take this row whole
            step()
        curves.append(curve)
    everything = CharNgramModel(alphabet, order, discount)
    everything_rows = list(range(len(sources)))
    if sum(lengths) > limit:  # a seeded sample of whole rows stands in for the whole pool
        everything_rows, used = [], 0
        for row in np.random.default_rng(0).permutation(len(sources)):
            if used + lengths[row] > limit:
                break
            everything_rows.append(int(row))
            used += lengths[row]
    everything.add([sources[row] for row in everything_rows])
    no_selection = everything.bits_per_char(evaluation_targets)
    step()
    pool_rows = {row_fingerprint(text) for text in sources}
    return ProxyResult(
        settings=settings,
        curves=curves,
        no_selection_bits_per_char=no_selection,
        untrained_bits_per_char=math.log2(len(alphabet)),
        alphabet_size=len(alphabet),
        n_sources=len(sources),
        evaluation_chars=sum(len(text) for text in evaluation_targets),
        evaluation_rows=len(evaluation_targets),
        evaluation_rows_in_pool=sum(row_fingerprint(text) in pool_rows for text in evaluation_targets),
        no_selection_rows=len(everything_rows),
        fingerprints={"sources": texts_fingerprint(sources),
                      "evaluation_targets": texts_fingerprint(evaluation_targets),
                      **{f"selection_targets[{name}]": texts_fingerprint(per_method_targets[name])
                         for name in scores}},
        score_fingerprints={name: scores_fingerprint(values) for name, values in scores.items()},
    )
