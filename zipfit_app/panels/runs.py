"""The Runs list (every cached run: its data, targets, method, level, state and age; one click makes it current
on every page) and opening a score folder, on the Score page."""

from __future__ import annotations

import time

import streamlit as st

from zipfit_core.data.sources import plural
from zipfit_core.store.cache_admin import CacheItem, format_size, total_size

from ..actions import opening, runs
from ..config import app_settings
from ..services import methods, scores
from ..services.work import manager
from ..state.session import Session, show, widget
from ..ui import notices
from ..ui.markdown import literal, message

ROWS_SCROLL = 8  # more runs than this scroll inside the expander
FOLDER_PATH_KEY = "score.folder_path"


def age(seconds: float) -> str:
    """How long ago, in the largest whole unit."""
    seconds = max(0, int(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{plural(count, unit)} ago"
    return "just now"


def state_text(item: CacheItem) -> str:
    """exact, partial n%, running, or why the entry cannot be used."""
    if scores.computing_here(item):
        found = manager().find(scores.work_id_of(item))
        return f"running {found.fraction_done:.0%}" if found is not None else "running"
    if item.state == "complete":
        return "exact"
    if item.state == "partial" and item.n_targets:
        return f"partial {100 * (item.targets_done or 0) / item.n_targets:.0f}%"
    return item.state


def run_title(item: CacheItem) -> str:
    """The entry's description (`data -> targets` for the app's runs), else what its run record names."""
    if item.label:
        return item.label
    return item.run.label.replace(" vs ", " -> ") if item.run is not None else f"{item.state} entry {item.key[:12]}"


def run_line(item: CacheItem) -> str:
    method = methods.label(item.run.method_settings()[0]) if item.run is not None else item.kind
    parts = [method, item.codec_text, item.shape_text, state_text(item), format_size(item.size_bytes),
             age(time.time() - item.modified)]
    line = f"**{literal(run_title(item))}**  \n" + literal(" · ".join(part for part in parts if part != "-"))
    if item.problem and item.state != "empty":
        line += f" · :orange[{message(item.problem)}]"
    return line


def openable(item: CacheItem) -> bool:
    return item.reusable and item.state in ("complete", "partial") and None not in scores.data_of_cached(item)


def runs_panel(session: Session) -> None:
    """Every cached run, newest first: open one (data, targets, method and settings become current), remove one."""
    items = scores.cache_items()
    total = format_size(total_size(items))
    with st.expander(f"Runs ({len(items)}, {total})", icon=":material/history:",
                     expanded=bool(session.notices.get("runs"))):
        notices.show(session, "runs")
        if not items:
            st.caption("Nothing scored yet. Results are kept on disk and reused for the same data and settings.")
            return
        st.caption(f"{len(items)} runs, {total} in {literal(manager().cache_dir)}. **Open** makes a run current on "
                   "every page; removing one frees its disk (the same work is computed again when asked for). To "
                   "prune many at once: `zipfit cache prune --older-than 30` (or `--other-versions`, "
                   "`--max-size 2GB`).")
        current = session.result.job_id if session.result is not None else None
        with st.container(height=420 if len(items) > ROWS_SCROLL else "content", border=False):
            for item in items:
                text, open_cell, remove_cell = st.columns([5, 1, 1], vertical_alignment="center")
                mark = ":material/visibility: " if current == scores.work_id_of(item) else ""
                text.markdown(mark + run_line(item))
                open_cell.button("Open", key=f"score.open.{item.key}", on_click=_open, args=(session, item.key),
                                 icon=":material/folder_open:", disabled=not openable(item),
                                 help="Load its data and settings: every page shows this run" if openable(item) else
                                 "Scored outside the app or by another version: load the same data and score it")
                remove_cell.button("Remove", key=f"score.remove.{item.key}", on_click=_remove,
                                   args=(session, item.key), icon=":material/delete:",
                                   help="Delete this run from the score cache")


def _open(session: Session, key: str) -> None:
    outcome = opening.open_cached(session, key)
    notices.leave(session, "runs", outcome.problem, outcome.notes)


def _remove(session: Session, key: str) -> None:
    outcome = runs.remove_cached(session, key)
    if outcome.problem:
        session.notify("runs", outcome.problem, "warning")
    for note in outcome.notes:
        session.notify("runs", note, "success")


def _copy_folder_pick() -> None:
    if picked := widget("score.folder_pick"):
        show(FOLDER_PATH_KEY, picked)


def _open_folder(session: Session) -> None:
    outcome = opening.open_score_folder(session, widget(FOLDER_PATH_KEY) or "")
    notices.leave(session, "score.folder", outcome.problem, outcome.notes)


def score_folder_panel(session: Session) -> None:
    """Open a folder written by `zipfit score ... --out FOLDER` (local or Ray engine) under the data root."""
    root = app_settings().data_root
    with st.expander("Open a score folder", icon=":material/folder_zip:",
                     expanded=bool(session.notices.get("score.folder"))):
        st.caption(f"A folder written by `zipfit score SOURCE TARGET --out FOLDER` (`--engine local` or `ray`), "
                   f"under the data root {literal(root)}. Its source shards must be there too: their rows are read "
                   "and checked against the fingerprints recorded when they were scored.")
        found = opening.found_folders()
        a, b = st.columns(2)
        a.text_input("Score folder under the data root", key=FOLDER_PATH_KEY, placeholder="e.g. scores_out")
        b.selectbox("Score folders found there", found, index=None, key="score.folder_pick",
                    placeholder="pick one" if found else "none found", disabled=not found, on_change=_copy_folder_pick)
        st.button("Open this score folder", key="score.open_folder", on_click=_open_folder, args=(session,),
                  icon=":material/folder_open:")
        notices.show(session, "score.folder")
