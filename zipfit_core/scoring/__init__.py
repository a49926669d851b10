"""Scoring: how one text is measured against another, and the methods that turn that into scores.

    codecs.py      the compressors ZIP-FIT can measure with (gzip, zstd, lz4, brotli, lzma, isal)
    kernel.py      the exact pair arithmetic: 1 - NCD as integer units of 2**-53, `AlignmentKernel`
    alignment.py   ZIP-FIT over a pool on threads: `alignment_scores`, progress, cancel, `rank_by_score`
    baselines.py   DSIR, TF-IDF, random, and the length correction of the debiased variant
    methods.py     the registry of methods (`METHODS`) and `compute_scores`

The bottom layer with `data`: it imports nothing else of zipfit_core. A new scoring method goes here.
"""
