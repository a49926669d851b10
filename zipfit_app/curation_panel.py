"""Keeping the targets out, in the app: the contamination check and the cut's near-duplicate groups.

Both run as background work of the process's `JobManager`, with ids made from what they depend on (the
pool's and references' fingerprints, the cut's rows), so every session asking the same question shares one
answer. Explore shows the counts, lists the rows and explains a row's match; Export removes them
(`zipfit_core.analysis.curation.curate`, the function `zipfit select` uses).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st

from zipfit_core.analysis.contamination import DEFAULT_NGRAM, ContaminationFlags, ReferenceTexts, find_contamination
from zipfit_core.analysis.curation import CuratedSelection, CurationSettings, curate
from zipfit_core.analysis.export import jsonl_lines
from zipfit_core.analysis.near_duplicates import DEFAULT_THRESHOLD, DuplicateGroups, MinHashes, near_duplicate_groups
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError
from zipfit_core.jobs.manager import JobManager
from zipfit_core.jobs.work import FunctionWork, WorkStatus

from . import datasets
from .explore_panel import ExploreContext, sample_table
from .markdown import literal, message
from .view_state import DataChoice

try:
    from zipfit_core.data.demo import DEMO_DATASETS
except ImportError:  # an install without the bundled demo data
    DEMO_DATASETS = {}

REFERENCES_KEY = "curation.references"  # the evaluation sets chosen, as labels of `reference_choices`
WIDGET_KEY = "curation.references_widget"  # the widget's own state, dropped by Streamlit on pages without it
AUTO_DEDUP_MAX_ROWS = 20_000  # larger cuts look for near-duplicates on request (about 6 s per 40,000 rows)
LISTED_ROWS = 200
FIRST_WAIT_S = 2.0  # a new check is waited for this long before the page shows its progress instead


@dataclass(frozen=True)
class CheckState:
    """Where the contamination check stands for the shown pool and references."""

    status: WorkStatus | None
    flags: ContaminationFlags | None
    references: list[str]  # names, targets first
    problems: list[str]  # references that could not be loaded


def reference_choices() -> dict[str, DataChoice]:
    """Evaluation sets a user can add: the demo data sets and the data files under the data root."""
    choices = {f"demo: {name}": DataChoice("demo", name) for name in DEMO_DATASETS}
    choices.update({f"file: {path}": DataChoice("local", path) for path in datasets.local_files()})
    return choices


def _references(context: ExploreContext) -> tuple[list[tuple[str, LoadedTexts]], list[str]]:
    found, problems = [], []
    if context.target is not None:
        found.append((f"targets ({datasets.describe(datasets.current_choice('target'))})", context.target))
    choices = reference_choices()
    for label in st.session_state.get(REFERENCES_KEY, []):
        if label not in choices:
            continue
        try:
            found.append((label, datasets.load_choice(choices[label])[0]))
        except ZipFitError as error:
            problems.append(f"{label}: {error}")
    return found, problems


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:24]


def _submit(work_id: str, kind: str, function, total: int, running: str) -> WorkStatus | None:
    """The work's status, submitting it first unless this process already has it (running or finished).
    A new work is waited for a moment, so that a small pool's answer is on the page at once."""
    manager = JobManager.shared()
    status = manager.find(work_id)
    if status is None or status.state in ("failed", "cancelled"):
        manager.submit_work(FunctionWork(work_id, kind, function, unit="rows", total=total,
                                         running_message=running, done_message="done"))
        status = manager.wait(work_id, timeout=FIRST_WAIT_S)
    return status


def check_state(context: ExploreContext) -> CheckState:
    """Start (or find) the contamination check of the pool against the targets and the chosen sets."""
    references, problems = _references(context)
    names = [name for name, _ in references]
    if not references:
        return CheckState(None, None, names, problems)
    source = context.source
    work_id = "contamination-" + _digest(source.fingerprint, DEFAULT_NGRAM,
                                         *(f"{name}={loaded.fingerprint}" for name, loaded in references))
    sets = [ReferenceTexts(name, loaded.texts) for name, loaded in references]
    status = _submit(work_id, "contamination",
                     lambda progress, cancelled: find_contamination(source.texts, sets, DEFAULT_NGRAM,
                                                                    progress=progress),
                     len(source.texts), "checking the pool for copies of the references")
    flags = JobManager.shared().result(work_id) if status is not None and status.state == "done" else None
    return CheckState(status, flags, names, problems)


@st.cache_resource(max_entries=4, show_spinner=False)
def minhashes_for(fingerprint: str, _texts) -> MinHashes:
    """One pool's MinHash signatures, made as rows are asked for and kept for every later cut."""
    return MinHashes(_texts)


def duplicate_groups(context: ExploreContext, n_kept: int, start: bool) -> tuple[WorkStatus | None,
                                                                                DuplicateGroups | None]:
    """Near-duplicate groups among the best `n_kept` rows of the pool (background work, started only when
    `start`). The rows follow from the scores' version and `n_kept`: the work's id needs no digest of them."""
    source = context.source
    rows = context.index.ranked[:n_kept]
    work_id = "near-duplicates-" + _digest(source.fingerprint, context.shown.version, DEFAULT_THRESHOLD, n_kept)
    manager = JobManager.shared()
    status = manager.find(work_id)
    if status is None and start:
        minhashes, scores = minhashes_for(source.fingerprint, source.texts), context.index.scores
        status = _submit(work_id, "near-duplicates",
                         lambda progress, cancelled: near_duplicate_groups(minhashes, rows, scores,
                                                                           progress=progress),
                         len(rows), "looking for near-duplicates in the cut")
    groups = manager.result(work_id) if status is not None and status.state == "done" else None
    return status, groups


def _progress(status: WorkStatus | None, what: str) -> None:
    if status is None or status.state == "done":
        return
    if status.state == "failed":
        st.error(f"The {what} failed: {message(status.error)}", icon=":material/error:")
        return

    @st.fragment(run_every=1.0)
    def watch() -> None:
        current = JobManager.shared().find(status.work_id)
        if current is None or current.finished:
            st.rerun()
        st.progress(current.fraction_done if current.state == "running" else 0.0,
                    text=f"{current.message} ({current.seconds:.0f} s)")

    watch()


def explore_section(context: ExploreContext) -> None:
    """Counts of flagged rows and near-duplicate groups in the cut, and a list of them to click through."""
    st.subheader("Keep the targets out", divider="gray")
    options = [label for label in reference_choices()
               if not label.endswith(f": {datasets.current_choice('source').location}")]
    st.session_state[WIDGET_KEY] = [label for label in st.session_state.get(REFERENCES_KEY, []) if label in options]
    st.multiselect("Also check against these evaluation sets", options, key=WIDGET_KEY,
                   on_change=lambda: st.session_state.update({REFERENCES_KEY: st.session_state[WIDGET_KEY]}),
                   help="The pool is always checked against the targets. Add held-out sets that must not leak "
                        "into the training data, e.g. a test split.")
    state = check_state(context)
    for problem in state.problems:
        st.warning(message(problem), icon=":material/warning:")
    kept = context.index.ranked[:context.summary.n_kept]
    a, b = st.columns(2)
    if state.flags is None:
        a.caption("Load targets to check the pool for copies of them." if not state.references else "")
        _progress(state.status, "contamination check")
    else:
        counts = state.flags.counts(kept)
        a.metric("Kept rows that copy a reference", f"{sum(counts.values()):,}",
                 f"{counts['exact']:,} exact, {counts['ngram']:,} sharing {state.flags.ngram} words",
                 delta_color="off", delta_arrow="off",
                 help="Exact: equal after Unicode NFKC, case folding and whitespace collapsing. Sharing: a run of "
                      f"{state.flags.ngram} words in common with a reference row. Checked against: "
                      + ", ".join(state.references) + ".")
    start = context.summary.n_kept <= AUTO_DEDUP_MAX_ROWS or st.session_state.get("curation.dedup_asked") == \
        context.summary.n_kept
    status, groups = duplicate_groups(context, context.summary.n_kept, start)
    if groups is not None:
        b.metric("Near-duplicate groups in the cut", f"{len(groups.groups):,}",
                 f"{int(sum(len(group) for group in groups.groups)):,} rows; keeping one each drops "
                 f"{len(groups.redundant_rows()):,}", delta_color="off", delta_arrow="off",
                 help=f"Rows whose MinHash Jaccard similarity of word {groups.shingle}-grams is at least "
                      f"{groups.threshold}.")
    elif status is None:
        if b.button(f"Find near-duplicates among the {context.summary.n_kept:,} kept rows"):
            st.session_state["curation.dedup_asked"] = context.summary.n_kept
            st.rerun()
    else:
        with b:
            _progress(status, "near-duplicate search")
    _listing(context, state.flags, groups, kept)


def _listing(context: ExploreContext, flags: ContaminationFlags | None, groups: DuplicateGroups | None,
             kept: np.ndarray) -> None:
    shown = st.radio("List", ["nothing", "flagged kept rows", "near-duplicate rows"], horizontal=True,
                     key="curation.list", label_visibility="collapsed")
    if shown == "flagged kept rows" and flags is not None:
        rows = flags.rows[flags.among(kept)]
    elif shown == "near-duplicate rows" and groups is not None:
        rows = np.concatenate(groups.groups) if groups.groups else np.zeros(0, dtype=np.int64)
    else:
        return
    if len(rows) == 0:
        st.caption("None in this cut.")
        return
    st.caption(f"{len(rows):,} rows{f' (the first {LISTED_ROWS})' if len(rows) > LISTED_ROWS else ''}; click one "
               "to read it with what it matches.")
    sample_table(context, rows[:LISTED_ROWS], f"curation.rows.{shown}.{len(rows)}")


def row_note(context: ExploreContext, row: int) -> None:
    """Under a row's numbers: the reference row it copies, and the near-duplicates it has in the cut."""
    state = check_state(context)
    if state.flags is not None:
        frame = state.flags.to_frame()
        match = frame[frame["row"] == row]
        if len(match):
            record = match.iloc[0]
            what = ("is a copy (after normalising) of" if record["kind"] == "exact"
                    else f"shares {state.flags.ngram} words with")
            text = f"This row {what} row {record['reference_row']} of {record['reference']}"
            text += f": “{record['match']}”." if record["match"] else "."
            st.warning(literal(text), icon=":material/content_copy:")
            reference = _reference_text(context, record["reference"], int(record["reference_row"]))
            if reference is not None:
                with st.expander("The reference row"):
                    st.code(reference, language=None, wrap_lines=True)
    _status, groups = duplicate_groups(context, context.summary.n_kept, start=False)
    if groups is not None:
        for group in groups.groups:
            if row in group:
                others = ", ".join(str(int(other)) for other in group if other != row)
                best = "the best-scored of its group" if group[0] == row else f"a near-duplicate of row {group[0]}"
                st.info(f"This row is {best} (near-duplicates in the cut: rows {others}).",
                        icon=":material/control_point_duplicate:")


def _reference_text(context: ExploreContext, name: str, row: int) -> str | None:
    references, _problems = _references(context)
    for reference_name, loaded in references:
        if reference_name == name and 0 <= row < len(loaded.texts):
            return loaded.texts[row]
    return None


@st.cache_resource(max_entries=8, show_spinner="Removing copies and near-duplicates...")
def _curated(key: str, _scores, _rule, _tokens, _settings: CurationSettings, _flags, _minhashes) -> CuratedSelection:
    return curate(_scores, _rule, _tokens, _settings, flags=_flags, minhashes=_minhashes)


def export_options(context: ExploreContext) -> tuple[CurationSettings, bool]:
    """The two export options; returns the settings and whether the check they need is ready."""
    st.session_state.setdefault("export.decontaminate", True)
    st.session_state.setdefault("export.dedup", False)
    decontaminate = st.toggle("Remove rows that copy a target or an evaluation set", key="export.decontaminate",
                              help="Checked on the Explore page (exact copies after normalising, or 13 shared "
                                   "words). Removed rows are replaced by the next best ones.")
    dedup = st.toggle("Keep one row per near-duplicate group (the best-scored)", key="export.dedup")
    settings = CurationSettings(decontaminate=decontaminate, dedup=dedup)
    state = check_state(context)
    if decontaminate and state.flags is None and state.references:
        st.info("The contamination check is still running: the export waits for it.", icon=":material/hourglass_top:")
        _progress(state.status, "contamination check")
        return settings, False
    return settings, True


def curated_selection(context: ExploreContext, settings: CurationSettings, tokens: np.ndarray) -> CuratedSelection:
    """The export's cut with copies and near-duplicates removed as `settings` say (cached per question)."""
    flags = check_state(context).flags
    source = context.source
    minhashes = minhashes_for(source.fingerprint, source.texts) if settings.dedup else None
    key = _digest(context.shown.version, context.rule, settings, flags.describe() if flags else None,
                  len(flags.rows) if flags else 0, source.fingerprint)
    return _curated(key, context.index.scores, context.rule, tokens, settings, flags, minhashes)


def removed_summary(curated: CuratedSelection) -> None:
    """What the export leaves out, and why (a table of the rows)."""
    if not len(curated.removed):
        return
    counts = curated.counts()
    st.markdown(f"Left out of the cut and replaced by the next best rows: **{counts['exact']:,}** exact copies, "
                f"**{counts['ngram']:,}** rows sharing {curated.settings.ngram} words with a reference, "
                f"**{counts['near-duplicate']:,}** near-duplicates. Their row numbers are written beside the export.")
    with st.expander(f"The {len(curated.removed):,} rows left out"):
        st.dataframe(curated.removed.rename(columns={"reason": "why", "reference_row": "its row"}), hide_index=True)


def removed_bytes(curated: CuratedSelection) -> bytes:
    """The removed rows as JSON Lines: what a folder export writes beside the file."""
    return "".join(jsonl_lines(curated.removed)).encode("utf-8")
