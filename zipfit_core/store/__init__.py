"""Store: what is written to disk, and how it is read back and trusted.

    files.py          atomic writes (temporary file + rename), checksums, timestamps
    run.py            `ScoreRun`: the one record of how scores were computed, written everywhere they are
    scores_file.py    the scores file: Parquet with the run record in its metadata
    score_cache.py    the resumable ZIP-FIT cache: exact partial sums, a manifest, a cross-process lock
    method_cache.py   the other methods' results on disk, and the in-process memo
    cache_admin.py    listing, removing and pruning cache entries

Above `scoring` and `data`; below everything that runs work. No pickle anywhere: Parquet and JSON with a
format version and a checksum.
"""
