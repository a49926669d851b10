"""Server time per cut change on the Explore page, at 1,000,000 scored rows (goal: under 0.3 s).

One "slider move" is everything the page computes when the cut changes: the cut's counts, the
composition of the kept rows by group, and the rows just above and below the cut as a display table.
The one-time work per scored dataset (ranking, groups, histogram bins, the score-vs-length sample)
is timed separately: the app caches it.

    python3 benchmarks/bench_explore.py                 # 1,000,000 rows
    python3 benchmarks/bench_explore.py --rows 20000    # smoke run
    python3 benchmarks/bench_explore.py --app           # also the whole Explore page rerun (AppTest)

With --app, the Explore page itself runs in streamlit.testing.v1.AppTest on a pool of as many rows written under
a temporary data root, its complete result put in a temporary score cache (tests/e2e/scored_pool.py), and a
session prepared as the app prepares one (tests/app/sessions.py; nothing of the app is replaced): each move is
the full server-side rerun of the page script after the top-K input changes, everything but the browser.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from zipfit_core.analysis.compare import length_bias, score_length_sample
from zipfit_core.analysis.explore import (
    build_group_index,
    build_score_index,
    composition,
    equivalent_rule,
    rows_around_cut,
    rows_table,
    score_histogram,
    summarize_cut,
)
from zipfit_core.analysis.selection import SelectionRule

SOURCES = ["formal-math", "python", "word-problems", "wikipedia", "news", "licences", "speeches"]


def synthetic_scored_rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Scores with ties, token counts, lengths, short texts and a `source` column, like a scored pool."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.beta(2, 8, n) * 0.5 + 0.05, 6)
    n_chars = rng.integers(20, 2000, n)
    tokens = n_chars // 4 + 1
    texts = [f"row {i}: " + "lorem ipsum dolor sit amet " * 3 for i in range(n)]
    source = np.array(SOURCES, dtype=object)[rng.integers(0, len(SOURCES), n)]
    return scores, tokens, n_chars, texts, source


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def one_cut_change(index, groups, texts, rule: SelectionRule) -> int:
    """Everything the page recomputes when the cut moves."""
    summary = summarize_cut(index, rule)
    composition(groups, summary.n_kept)
    above, below = rows_around_cut(index, summary.n_kept, k=5)
    rows_table(index, np.concatenate([above, below]), texts, groups=groups)
    for kind in ("threshold", "top_k", "top_percent", "token_budget"):
        equivalent_rule(index, summary, kind)  # the values shown in the other cut inputs
    return summary.n_kept


def time_app_reruns(n_rows: int, moves: int) -> list[float]:
    """Seconds per full rerun of the Explore page after a top-K change, in AppTest, on `n_rows` scored rows."""
    import os
    import sys
    import tempfile
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(repo))  # zipfit_app and the tests' helpers live beside app.py, not in the package
    with tempfile.TemporaryDirectory(prefix="bench-explore-") as folder:
        data_root, cache_dir = Path(folder) / "data", Path(folder) / "cache"
        data_root.mkdir()
        os.environ["ZIPFIT_DATA_ROOT"], os.environ["ZIPFIT_CACHE_DIR"] = str(data_root), str(cache_dir)
        from tests.app.sessions import app_with_session, prepared_session
        from tests.e2e.scored_pool import write_scored_pool
        from zipfit_app.state.view import DataChoice

        pool = write_scored_pool(data_root, cache_dir, n_rows)
        session = prepared_session(DataChoice("local", pool.pool_file), DataChoice("local", pool.targets_file),
                                   cut_kind="top_k", cut_value=100.0)
        assert session.result is not None and session.result.job_id == pool.key, "the cached result was not found"
        app = app_with_session(session, timeout=600)  # the first run builds the cached index, groups, histogram
        assert not app.exception, [item.value for item in app.exception]
        rng = np.random.default_rng(2)
        times = []
        for _ in range(moves):
            app.number_input(key="explore.top_k").set_value(int(rng.integers(1, n_rows)))
            start = time.perf_counter()
            app.run()
            times.append(time.perf_counter() - start)
        assert not app.exception, [item.value for item in app.exception]
        from zipfit_app.services import work

        work.manager().stop_all("the benchmark is over")  # the pool's copy check reads the folder removed next
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--moves", type=int, default=40, help="cut changes to time")
    parser.add_argument("--app", action="store_true", help="also time full Explore page reruns in AppTest")
    args = parser.parse_args()

    scores, tokens, n_chars, texts, source = synthetic_scored_rows(args.rows)
    print(f"rows: {args.rows:,}")
    setup = {}
    setup["rank + token totals"], index = timed(build_score_index, scores, token_counts=tokens, n_chars=n_chars)
    setup["group index (source)"], groups = timed(build_group_index, source, index, "source")
    setup["histogram bins by group"], _ = timed(score_histogram, index, groups)
    setup["score-vs-length sample"], _ = timed(score_length_sample, {"zipfit": scores}, n_chars, 3000)
    setup["length correlation"], _ = timed(length_bias, {"zipfit": scores}, n_chars)
    for name, seconds in setup.items():
        print(f"  once per scored set  {name:<28} {seconds * 1000:8.1f} ms")

    rng = np.random.default_rng(1)
    low, high = index.score_range()
    kinds = ["threshold", "top_k", "top_percent", "token_budget"]
    times = []
    for move in range(args.moves):
        kind = kinds[move % len(kinds)]
        value = {"threshold": float(rng.uniform(low, high)), "top_k": int(rng.integers(0, args.rows)),
                 "top_percent": float(rng.uniform(0, 100)),
                 "token_budget": int(rng.integers(0, index.total_tokens))}[kind]
        seconds, _ = timed(one_cut_change, index, groups, texts, SelectionRule(kind, value))
        times.append(seconds)
    times_ms = sorted(t * 1000 for t in times)
    print(f"  per cut change ({args.moves} moves, all four rule kinds): "
          f"median {statistics.median(times_ms):.1f} ms, p90 {times_ms[int(0.9 * (len(times_ms) - 1))]:.1f} ms, "
          f"max {times_ms[-1]:.1f} ms  (goal < 300 ms)")
    if args.app:
        app_ms = sorted(t * 1000 for t in time_app_reruns(args.rows, min(args.moves, 10)))
        print(f"  whole Explore page rerun after a top-K change ({len(app_ms)} moves, AppTest): "
              f"median {statistics.median(app_ms):.0f} ms, max {app_ms[-1]:.0f} ms")


if __name__ == "__main__":
    main()
