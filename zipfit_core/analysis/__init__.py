"""Analysis: what to do with scores once they exist.

    selection.py    cut rules (threshold, top-K, top percent, token budget) and token counting
    explore.py      the numbers behind the Explore page: ranking index, cut summary, histogram, groups, rows
    compare.py      several methods on the same rows: overlaps, rank correlations, composition, length bias
    proxy_eval.py   a character n-gram proxy for "does training on this selection help"
    export.py       writing a selection with a manifest that reproduces it
    search.py       finding rows: a keyword or RE2 pattern over the text or a column, filters, a length range

Above `store`; beside `jobs` and `engines`, which it does not import. A new view of the scores goes here.
"""
