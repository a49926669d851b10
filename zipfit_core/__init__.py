"""ZIP-FIT Studio core: compression-based data selection (arXiv 2410.18194), no UI."""

__version__ = "0.1.0"  # defined first: submodules read it while this package is importing

from .alignment import AlignmentKernel, alignment_scores, rank_by_score  # noqa: E402
from .codecs import CODECS, FAST_PRESETS, codec_info  # noqa: E402
from .data_sources import DataSource, LoadOptions, TextSpec  # noqa: E402
from .errors import ScoringCancelled, ZipFitError  # noqa: E402
from .loading import LoadedTexts, load_source  # noqa: E402
from .selection import Selection, SelectionRule, TokenCounter, select  # noqa: E402

__all__ = [
    "AlignmentKernel",
    "CODECS",
    "DataSource",
    "FAST_PRESETS",
    "LoadOptions",
    "LoadedTexts",
    "ScoringCancelled",
    "Selection",
    "SelectionRule",
    "TextSpec",
    "TokenCounter",
    "ZipFitError",
    "__version__",
    "alignment_scores",
    "codec_info",
    "load_source",
    "rank_by_score",
    "select",
]
