"""Compare: ZIP-FIT beside DSIR, TF-IDF and random on the loaded data; length bias; a quick proxy evaluation."""

from zipfit_app.frame import require_frame
from zipfit_app.panels import compare

compare.page(require_frame())  # a first request naming this page runs it alone: require_frame draws the whole app
