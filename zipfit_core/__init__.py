"""ZIP-FIT Studio core: compression-based data selection (arXiv 2410.18194), no UI.

The public API, for library users (the layers below it are importable, but these names are the ones kept
stable):

    scores = alignment_scores(pool.texts, targets.texts)            # ZIP-FIT, exact, all cores
    scores = score_sources("tfidf", pool.texts, targets.texts)      # any method of METHODS (memo + cache)
    pool = load_source(DataSource("demo", "pool"))                  # any file, folder, hub id or demo set
    best = select(scores, SelectionRule("top_percent", 10))         # rows best first, ties by row
    export_selection(pool.table, pool.texts, pool.text_field, scores, best, TokenCounter(), run, "best.jsonl")
    manager = JobManager(cache_dir)                                 # background work with progress and cancel

See ARCHITECTURE.md for the layers: scoring and data at the bottom, then store, then jobs / analysis /
engines, then cli.
"""

from zipfit_core._lazy import lazy_exports
from zipfit_core._version import __version__

# Imported on first use, not here: an __init__ that imports its modules makes concurrent imports fail (_lazy.py).
__getattr__, __dir__ = lazy_exports(__name__, {
    "analysis.export": ("export_selection",),
    "analysis.selection": ("Selection", "SelectionRule", "TokenCounter", "select"),
    "data.loading": ("LoadedTexts", "load_recipe", "load_source"),
    "data.sources": ("DataRecipe", "DataSource", "LoadOptions", "TextSpec"),
    "errors": ("CacheDamaged", "ScoringCancelled", "ZipFitError"),
    "jobs.manager": ("JobManager",),
    "jobs.method_scores": ("score_sources",),
    "jobs.score_job": ("ScoreRequest", "run_foreground"),
    "scoring.alignment": ("alignment_scores", "rank_by_score"),
    "scoring.codecs": ("CODECS", "FAST_PRESETS", "codec_info"),
    "scoring.kernel": ("AlignmentKernel",),
    "scoring.methods": ("METHODS", "compute_scores", "method_info"),
    "store.run": ("ScoreRun",),
})

__all__ = [
    "AlignmentKernel", "CODECS", "CacheDamaged", "DataRecipe", "DataSource", "FAST_PRESETS", "JobManager",
    "LoadOptions", "LoadedTexts", "METHODS", "ScoreRequest", "ScoreRun", "ScoringCancelled", "Selection",
    "SelectionRule", "TextSpec", "TokenCounter", "ZipFitError", "__version__", "alignment_scores", "codec_info",
    "compute_scores", "export_selection", "load_recipe", "load_source", "method_info", "rank_by_score",
    "run_foreground", "score_sources", "select",
]
