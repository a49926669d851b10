"""Explore: the score distribution, the cut, the rows on either side of it, and any row in full."""

from zipfit_app.frame import require_frame
from zipfit_app.panels import explore

explore.page(require_frame())  # a first request naming this page runs it alone: require_frame draws the whole app
