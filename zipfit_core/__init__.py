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

from zipfit_core._version import __version__
from zipfit_core.analysis.export import export_selection
from zipfit_core.analysis.selection import Selection, SelectionRule, TokenCounter, select
from zipfit_core.data.loading import LoadedTexts, load_recipe, load_source
from zipfit_core.data.sources import DataRecipe, DataSource, LoadOptions, TextSpec
from zipfit_core.errors import CacheDamaged, ScoringCancelled, ZipFitError
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.method_scores import score_sources
from zipfit_core.jobs.score_job import ScoreRequest, run_foreground
from zipfit_core.scoring.alignment import alignment_scores, rank_by_score
from zipfit_core.scoring.codecs import CODECS, FAST_PRESETS, codec_info
from zipfit_core.scoring.kernel import AlignmentKernel
from zipfit_core.scoring.methods import METHODS, compute_scores, method_info
from zipfit_core.store.run import ScoreRun

__all__ = [
    "AlignmentKernel", "CODECS", "CacheDamaged", "DataRecipe", "DataSource", "FAST_PRESETS", "JobManager",
    "LoadOptions", "LoadedTexts", "METHODS", "ScoreRequest", "ScoreRun", "ScoringCancelled", "Selection",
    "SelectionRule", "TextSpec", "TokenCounter", "ZipFitError", "__version__", "alignment_scores", "codec_info",
    "compute_scores", "export_selection", "load_recipe", "load_source", "method_info", "rank_by_score",
    "run_foreground", "score_sources", "select",
]
