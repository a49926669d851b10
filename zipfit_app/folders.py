"""Opening a score folder (`zipfit score SOURCE TARGET --out FOLDER`, local or Ray engine) as the session's result.

The folder's source rows become the session's source pool (a `folder` data choice, so a link reopens
it), its scores the shown ZIP-FIT scores at its codec and level, and its targets are loaded again when
they can be found under the data root with the fingerprint the folder recorded. Every path goes
through `zipfit_core.engines.open_folder`, which applies the data root's rules.
"""

from __future__ import annotations

import streamlit as st

from zipfit_app.view_state import DataChoice
from zipfit_core.engines.open_folder import find_score_folders, recorded_target
from zipfit_core.errors import ZipFitError

from . import datasets, results
from .config import app_settings
from .forms import load_role
from .view import get_view, update_view

FOUND_LIMIT = 200


def found_folders() -> list[str]:
    """Score folders under the data root, for the picker."""
    return find_score_folders(app_settings().data_root, limit=FOUND_LIMIT)


def open_folder(location: str) -> tuple[str | None, list[str]]:
    """Make the score folder at `location` (under the data root) the session's scored result.

    Returns (the problem that stopped it, or None; notes worth showing, e.g. why the targets are not loaded).
    """
    location = location.strip()
    if not location:
        return "Give the score folder's path under the data root (e.g. `scores_out`).", []
    if not load_role("source", DataChoice("folder", location)):
        return st.session_state.pop("data.source.error", None) or "Could not open this score folder.", []
    folder = datasets.current_folder()
    run = folder.run
    update_view(codec=run.codec, level=run.level, method="zipfit", method_settings={})
    st.session_state["score.codec"], st.session_state["score.level"] = run.codec, run.level
    notes = []
    problem = _load_targets(folder)
    if problem is not None:
        if datasets.current_choice("target") is not None:
            datasets.forget("target")
            update_view(target=None)
        notes.append(f"The targets were not loaded: {problem} Explore and Export work without them; load the same "
                     "targets on the Data page to see each row's nearest targets or to score with another method.")
    if results.attach_cached(folder.source, datasets.current("target"), get_view()) is None:
        return "The folder's scores could not be attached: open it again.", notes
    return None, notes


def _load_targets(folder) -> str | None:
    """Load the targets the folder records, if found under the data root with the recorded texts."""
    run = folder.run
    try:
        source, text = recorded_target(run, app_settings().data_root, folder.path)
    except ZipFitError as error:
        return str(error)
    choice = DataChoice(source.kind, source.location, field=text.field, template=text.template)
    if not load_role("target", choice):
        return st.session_state.pop("data.target.error", None) or "they could not be read."
    if datasets.current("target").fingerprint != run.target_fingerprint:
        return (f"{datasets.describe(choice)} is not the target set this folder was scored against (its texts "
                "differ, e.g. a filter or template was used when scoring).")
    return None
