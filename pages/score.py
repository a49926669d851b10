"""Score: ZIP-FIT (or a baseline) on every source row in a background job, with a live preview; the runs."""

from zipfit_app.frame import require_frame
from zipfit_app.panels import score

score.page(require_frame())  # a first request naming this page runs it alone: require_frame draws the whole app
