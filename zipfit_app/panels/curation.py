"""Keeping the targets out, on Explore and Export: the evaluation sets chosen for the source, the counts of
flagged rows and near-duplicate groups in the cut, their lists, a row's match, and the export's options.

The work itself (shared by every session asking the same question) is `services.checks`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from zipfit_core.analysis.contamination import ContaminationFlags
from zipfit_core.analysis.curation import CuratedSelection, CurationSettings
from zipfit_core.analysis.export import jsonl_lines
from zipfit_core.analysis.near_duplicates import DuplicateGroups
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.data.sources import plural

from ..actions import view
from ..services import checks, loaders
from ..state.session import seed
from ..ui import widgets as bound
from ..ui.markdown import literal, message
from ..ui.progress import work_progress
from .context import ExploreContext, sample_table

AUTO_DEDUP_MAX_ROWS = 20_000  # larger cuts look for near-duplicates on request (about 6 s per 40,000 rows)
LISTED_ROWS = 200
LISTS = ("nothing", "flagged kept rows", "near-duplicate rows", "kept rows spared as boilerplate")


def _references(context: ExploreContext) -> tuple[list[tuple[str, LoadedTexts]], list[str]]:
    session = context.session
    target = None
    if context.target is not None:
        target = (f"targets ({loaders.describe(session.choice('target'))})", context.target)
    choices = checks.reference_choices(session.choice("source"))
    return checks.load_references(target, session.view.references, choices)


def check_state(context: ExploreContext) -> checks.CheckState:
    references, problems = _references(context)
    return checks.check_state(context.source, references, problems)


def _targets_check(context: ExploreContext) -> checks.CheckState | None:
    """The targets checked against the chosen evaluation sets (None without targets or evaluation sets)."""
    if context.target is None or not context.session.view.references:
        return None
    references, problems = _references(context)
    return checks.check_state(context.target, references[1:], problems, what="the targets")


def _targets_note(context: ExploreContext) -> None:
    """Targets that copy an evaluation set pull the whole selection towards it: say so where the sets are chosen."""
    state = _targets_check(context)
    if state is None or state.flags is None:
        if state is not None:
            _progress(state.status, "The check of the targets")
        return
    flags = state.flags
    if len(flags.rows) == 0:
        st.caption("No target row copies the chosen evaluation sets.")
        return
    counts = flags.counts()
    st.warning(literal(f"{plural(len(flags.rows), 'target row')} {'copies' if len(flags.rows) == 1 else 'copy'} an "
                       f"evaluation set ({counts['exact']:,} exact after normalising, {counts['ngram']:,} sharing "
                       f"{flags.ngram} words), e.g. target row {int(flags.rows[0])} and row "
                       f"{int(flags.reference_rows[0])} of {flags.references[0]}"
                       + (f": “{flags.matches[0]}”" if flags.matches[0] else "")
                       + ". Scores pull the selection towards those evaluation items: consider removing them from "
                         "the targets."), icon=":material/warning:")


def _spared_note(flags: ContaminationFlags, kept: np.ndarray) -> None:
    """How many kept rows share only boilerplate with a reference, with one example."""
    spared = flags.spared
    among = np.flatnonzero(spared.among(kept, flags.n_pool_rows))
    if len(among) == 0:
        return
    first = int(among[0])
    st.caption(literal(f"{plural(len(among), 'kept row')} spared as boilerplate: every run of {flags.ngram} words "
                       f"{'it shares' if len(among) == 1 else 'they share'} with a reference is in more than "
                       f"{flags.max_matches} pool rows, which is no sign of copying. E.g. row "
                       f"{int(spared.rows[first])} shares “{spared.matches[first]}” with row "
                       f"{int(spared.reference_rows[first])} of {spared.references[first]} "
                       f"({int(spared.matched_rows[first]):,} pool rows hold it)."))


def _duplicates(context: ExploreContext, start: bool):
    return checks.duplicate_groups(context.source, context.index, context.shown.version, context.kept(),
                                   context.cut_key, start)


def explore_section(context: ExploreContext) -> None:
    """Counts of flagged rows and near-duplicate groups in the cut, and a list of them to click through."""
    session = context.session
    st.subheader("Keep the targets out", divider="gray")
    options = list(checks.reference_choices(session.choice("source")))
    bound.multiselect("Also check against these evaluation sets", options, list(session.view.references),
                      lambda labels: view.set_references(session, labels), key="curation.references_widget",
                      help="The pool is always checked against the targets. Add held-out sets that must not leak "
                           "into the training data, e.g. a test split; the targets are checked against them too. "
                           "They belong to this source pool and travel in the link.")
    state = check_state(context)
    for problem in state.problems:
        st.warning(message(problem), icon=":material/warning:")
    _targets_note(context)
    kept = context.kept()
    a, b = st.columns(2)
    if state.flags is None:
        a.caption("Load targets to check the pool for copies of them." if not state.references else "")
        with a:
            _progress(state.status, "The contamination check")
    else:
        counts = state.flags.counts(kept)
        a.metric("Kept rows that copy a reference", f"{sum(counts.values()):,}",
                 f"{plural(counts['exact'], 'exact copy', 'exact copies')}, {counts['ngram']:,} sharing "
                 f"{state.flags.ngram} words", delta_color="off", delta_arrow="off",
                 help="Exact: equal after Unicode NFKC, case folding and whitespace collapsing. Sharing: a run of "
                      f"{state.flags.ngram} words in common with a reference row, found in at most "
                      f"{state.flags.max_matches} pool rows (more is boilerplate). Checked against: "
                      + ", ".join(state.references) + ".")
        with a:
            _spared_note(state.flags, kept)
    asked = session.dedup_asked == (context.shown.version, context.cut_key)
    status, groups = _duplicates(context, context.summary.n_kept <= AUTO_DEDUP_MAX_ROWS or asked)
    if groups is not None:
        b.metric("Near-duplicate groups in the cut", f"{len(groups.groups):,}",
                 f"{plural(int(sum(len(group) for group in groups.groups)), 'row')}; keeping one each drops "
                 f"{len(groups.redundant_rows()):,}", delta_color="off", delta_arrow="off",
                 help=f"Rows whose MinHash Jaccard similarity of word {groups.shingle}-grams is at least "
                      f"{groups.threshold}.")
    elif status is None:
        b.button(f"Find near-duplicates among the {context.summary.n_kept:,} kept rows", key="curation.find_dups",
                 on_click=view.ask_near_duplicates, args=(session, context.shown.version, context.cut_key))
    else:
        with b:
            _progress(status, "The near-duplicate search")
    _listing(context, state.flags, groups, kept)


def _progress(status, what: str) -> None:
    if status is not None and status.state != "done":
        work_progress([status.work_id], what=what, text=lambda current: f"{current.message} ({current.seconds:.0f} s)")


def _listing(context: ExploreContext, flags: ContaminationFlags | None, groups: DuplicateGroups | None,
             kept: np.ndarray) -> None:
    seed("curation.list", LISTS[0])
    shown = st.radio("List in a table", LISTS, horizontal=True, key="curation.list")
    extra: dict = {}
    if shown == LISTS[1] and flags is not None:
        frame = flags.to_frame()[flags.among(kept)]
        rows = frame["row"].to_numpy()
        extra = {"why": ["exact copy" if kind == "exact" else f"shares {flags.ngram} words" for kind in frame["kind"]],
                 "reference": frame["reference"].tolist(), "its row": frame["reference_row"].tolist()}
    elif shown == LISTS[3] and flags is not None:
        frame = flags.spared.to_frame()[flags.spared.among(kept, flags.n_pool_rows)]
        rows = frame["row"].to_numpy()
        extra = {"shared words": frame["match"].tolist(),
                 "pool rows holding them": frame["pool_rows_with_match"].tolist(),
                 "reference": frame["reference"].tolist(), "its row": frame["reference_row"].tolist()}
    elif shown == LISTS[2] and groups is not None:
        rows = np.concatenate(groups.groups) if groups.groups else np.zeros(0, dtype=np.int64)
        group_of = {int(row): number + 1 for number, group in enumerate(groups.groups) for row in group}
        best_of = {int(row): int(group[0]) for group in groups.groups for row in group}
        extra = {"group": [group_of[int(row)] for row in rows],
                 "kept for the group": ["yes" if best_of[int(row)] == int(row) else f"no (row {best_of[int(row)]})"
                                        for row in rows]}
    else:
        return
    if len(rows) == 0:
        st.caption("None in this cut.")
        return
    st.caption(f"{plural(len(rows), 'row')}{f' (the first {LISTED_ROWS})' if len(rows) > LISTED_ROWS else ''}; "
               "click one to read it with what it matches.")
    sample_table(context, rows[:LISTED_ROWS], f"curation.rows.{shown}.{len(rows)}",
                 extra={name: values[:LISTED_ROWS] for name, values in extra.items()})


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
        spared = state.flags.spared.to_frame()
        spared = spared[spared["row"] == row]
        if len(spared):
            record = spared.iloc[0]
            st.info(literal(f"This row is kept: it shares “{record['match']}” with row {record['reference_row']} of "
                            f"{record['reference']}, but {record['pool_rows_with_match']:,} pool rows hold those "
                            "words (boilerplate, no sign of copying)."), icon=":material/check_circle:")
    _status, groups = _duplicates(context, start=False)
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


def curation_toggles(context: ExploreContext, place: str) -> CurationSettings:
    """The two curation switches (Export's, shown on Explore's Dropped rows too: one setting of the session)."""
    session = context.session
    bound.toggle("Remove rows that copy a target or an evaluation set", session.curation.decontaminate,
                 lambda on: view.set_curation(session, decontaminate=bool(on)), key=f"{place}.decontaminate",
                 help="Checked on the Explore page (exact copies after normalising, or 13 shared words found in at "
                      "most 10 pool rows: more is boilerplate, such as a licence header). Removed rows are replaced "
                      "by the next best ones.")
    bound.toggle("Keep one row per near-duplicate group (the best-scored)", session.curation.dedup,
                 lambda on: view.set_curation(session, dedup=bool(on)), key=f"{place}.dedup")
    return session.curation


def export_options(context: ExploreContext) -> tuple[CurationSettings, checks.CheckState | None]:
    """The two export options; returns the settings and the contamination check, None while the export must wait
    for it."""
    settings = curation_toggles(context, "export")
    state = check_state(context)
    if context.session.view.references:
        st.caption("Also checked against: " + literal(", ".join(context.session.view.references)) + " (chosen on "
                   "Explore).")
    if settings.decontaminate and state.flags is None and state.references:
        st.info("The contamination check is still running: the export waits for it.", icon=":material/hourglass_top:")
        _progress(state.status, "The contamination check")
        return settings, None
    return settings, state


def curated_selection(context: ExploreContext, settings: CurationSettings,
                      flags: ContaminationFlags | None) -> CuratedSelection:
    """The export's cut (balanced and shaped as Explore's) with copies and near-duplicates removed as `settings` say
    (cached per question); `flags`: the contamination check's, None while it runs or when not asked."""
    facts = context.facts if context.balanced else None  # with facts: the balanced cut
    return checks.curated_selection(context.source, context.index, context.shown.version, context.rule, settings,
                                    flags, loaders.token_counts(context.source), facts, context.shaped,
                                    context.shaping_key)


def removed_summary(curated: CuratedSelection) -> None:
    """What the export leaves out, and why (a table of the rows)."""
    if not curated.removed_any:
        return
    counts = curated.counts()
    st.markdown(f"Left out of the cut and replaced by the next best rows: "
                f"**{plural(counts['exact'], 'exact copy', 'exact copies')}**, "
                f"**{plural(counts['ngram'], 'row')}** sharing {curated.settings.ngram} words with a reference, "
                f"**{plural(counts['near-duplicate'], 'near-duplicate')}**. Their row numbers are written beside "
                "the export.")
    with st.expander(f"The {len(curated.removed):,} rows left out"):
        st.dataframe(curated.removed.rename(columns={"reason": "why", "reference_row": "its row"}), hide_index=True)


def removed_bytes(curated: CuratedSelection) -> bytes:
    """The removed rows as JSON Lines: what a folder export writes beside the file."""
    return "".join(jsonl_lines(curated.removed)).encode("utf-8")
