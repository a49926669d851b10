"""Export: write the rows the cut keeps, with a manifest that reproduces them."""

from zipfit_app.frame import require_frame
from zipfit_app.panels import export

export.page(require_frame())  # a first request naming this page runs it alone: require_frame draws the whole app
