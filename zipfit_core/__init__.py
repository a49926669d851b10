"""ZIP-FIT Studio core: compression-based data selection (arXiv 2410.18194), no UI."""

from .alignment import AlignmentKernel, alignment_scores, rank_by_score
from .codecs import CODECS, FAST_PRESETS, codec_info
from .errors import ScoringCancelled, ZipFitError

__version__ = "0.1.0"

__all__ = [
    "AlignmentKernel",
    "CODECS",
    "FAST_PRESETS",
    "ScoringCancelled",
    "ZipFitError",
    "__version__",
    "alignment_scores",
    "codec_info",
    "rank_by_score",
]
