"""Data: choose the source pool (texts to select from) and the target set (examples of your task)."""

from zipfit_app.frame import require_frame
from zipfit_app.panels import data

data.page(require_frame())  # a first request naming this page runs it alone: require_frame draws the whole app
