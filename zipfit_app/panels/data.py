"""The Data page: the demo presets, and the form for one dataset (source pool or target set).

Widget values are seeded from the view (so a shared link fills the form), every load goes through
`actions.data.load_data`, and errors are shown in place: the app keeps going.
Text settings the loader chose (a proposed field, a demo's template) fill the form but are chosen again
for other data; the user's own are kept while the new data has the columns they name.
"""

from __future__ import annotations

import streamlit as st

from zipfit_core.analysis.explore import length_stats
from zipfit_core.data.sources import template_fields
from zipfit_core.data.texts import text_like_fields
from zipfit_core.errors import ZipFitError

from ..actions import data as data_actions
from ..config import app_settings
from ..services import loaders
from ..state.session import Session, forget_widget, seed, show, widget
from ..state.view import DataChoice
from ..ui import notices
from ..ui.markdown import literal, message
from ..ui.progress import ConversionProgress
from ..ui.tables import display_rows

try:
    from zipfit_core.data.demo import DEMO_DATASETS, DEMO_PRESETS
except ImportError:  # a copy without the bundled demo data: the other sources still work
    DEMO_DATASETS, DEMO_PRESETS = {}, {}

KIND_LABELS = {"demo": "Demo data", "hub": "Hugging Face Hub", "local": "Local file", "upload": "Upload"}
AUTOMATIC = "(automatic)"
NO_FILTER = "(no filter)"
NEXT_LABEL = "Next: score the pool against the targets"


def page(session: Session) -> None:
    st.title("Data")
    st.markdown(
        "ZIP-FIT ranks every text of a **source pool** by how well it compresses together with a small "
        "**target set**: examples of the task you care about. Start with a demo, or bring your own data."
    )
    st.subheader("Try a demo", divider="gray")
    st.caption("One click loads a mixed pool of a few thousand texts (formal maths, Python, word problems, prose) "
               "and a target set. With ProofNet as target, formal maths should rise to the top; with HumanEval, code.")
    preset_buttons(session)
    next_step(session, "data.next_top")  # in sight right after a preset, not below both forms
    st.subheader("Or choose each dataset", divider="gray")
    columns = st.columns(2, gap="large")
    for column, role in zip(columns, loaders.ROLES):
        with column.container(border=True):
            st.markdown(f"#### {loaders.ROLE_TITLES[role]}")
            st.caption("The texts to choose from." if role == "source"
                       else "Examples of your task (a few dozen to a few hundred).")
            data_form(session, role)
    next_step(session, "data.next")


def next_step(session: Session, key: str) -> None:
    if session.choice("source") and session.choice("target"):
        if st.button(NEXT_LABEL, type="primary", icon=":material/arrow_forward:", key=key):
            st.switch_page("pages/score.py")


def _key(role: str, name: str) -> str:
    return f"data.{role}.{name}"


def _seed_widgets(session: Session, role: str) -> None:
    """Fill missing widget values from the view's choice (or defaults); never overwrite the user's."""
    choice: DataChoice | None = getattr(session.view, role)
    demo_default = next((name for name, item in DEMO_DATASETS.items()
                         if getattr(item, "role", None) in (role, "pool" if role == "source" else "target")),
                        next(iter(DEMO_DATASETS), None))
    defaults = {
        "kind": choice.kind if choice and choice.kind in KIND_LABELS else ("demo" if DEMO_DATASETS else "upload"),
        "demo": choice.location if choice and choice.kind == "demo" else demo_default,
        "hub_id": choice.location if choice and choice.kind == "hub" else "",
        "hub_config": (choice.config or "") if choice else "",
        "hub_split": (choice.split or "train") if choice else "train",
        "hub_revision": (choice.revision or "") if choice else "",
        "hub_streaming": choice.streaming if choice else False,
        "local_path": choice.location if choice and choice.kind == "local" else "",
        "limit": choice.limit if choice else None,
        "sample": choice.sample if choice else None,
        "seed": choice.seed if choice else 0,
        "field": (choice.field or AUTOMATIC) if choice else AUTOMATIC,
        "template": (choice.template or "") if choice else "",
        "filter_column": (choice.filter_column or NO_FILTER) if choice else NO_FILTER,
        "filter_value": (choice.filter_value or "") if choice else "",
    }
    for name, value in defaults.items():
        seed(_key(role, name), value)


def _choice_from_widgets(role: str) -> tuple[DataChoice, bytes | None]:
    get = lambda name: widget(_key(role, name))  # noqa: E731
    kind = get("kind")
    upload = None
    if kind == "demo":
        location = get("demo")
    elif kind == "hub":
        location = (get("hub_id") or "").strip()
    elif kind == "local":
        location = (get("local_path") or "").strip()
    else:
        uploaded = get("upload")
        if uploaded is None:
            raise ZipFitError("Choose a file to upload first.")
        location, upload = uploaded.name, uploaded.getvalue()
    if not location:
        raise ZipFitError(f"Give a {KIND_LABELS[kind].lower()} location first.")
    field = get("field")
    filter_column = get("filter_column")
    choice = DataChoice(
        kind=kind, location=location,
        config=(get("hub_config") or None) if kind == "hub" else None,
        split=(get("hub_split") or None) if kind == "hub" else None,
        revision=(get("hub_revision") or None) if kind == "hub" else None,
        streaming=bool(get("hub_streaming")) if kind == "hub" else False,
        limit=int(get("limit")) if get("limit") else None,
        sample=int(get("sample")) if get("sample") else None,
        seed=int(get("seed") or 0),
        field=None if field in (None, AUTOMATIC) else field,
        template=(get("template") or None),
        filter_column=None if filter_column in (None, NO_FILTER) else filter_column,
        filter_value=(get("filter_value") or "") if filter_column not in (None, NO_FILTER) else None,
    )
    return choice, upload


def _copy_pick(role: str) -> None:
    if picked := widget(_key(role, "local_pick")):
        show(_key(role, "local_path"), picked)


def load_role(session: Session, role: str, choice: DataChoice, upload: bytes | None = None) -> bool:
    """Load one dataset into the session; a failure is shown in the role's form. True on success."""
    converting = ConversionProgress(choice.location)
    outcome, loaded = data_actions.load_data(session, role, choice, upload, converting)
    converting.done()
    if outcome.problem:
        session.notify(f"data.{role}", outcome.problem + _still_loaded(session, role), "error")
        return False
    _show_resolved_text(session, role, choice, loaded)
    return True


def _show_resolved_text(session: Session, role: str, choice: DataChoice, loaded) -> None:
    """The text settings the loader resolved become the form's values; those the user did not give are
    remembered as the loader's, so that other data chooses them afresh (`_fit_text_settings`)."""
    chosen_by_loader: dict[str, str] = {}
    if loaded.text_template is not None:
        show(_key(role, "template"), loaded.text_template)
        if choice.template is None:
            chosen_by_loader["template"] = loaded.text_template
    elif loaded.text_field:
        show(_key(role, "field"), loaded.text_field)
        if choice.field is None:
            chosen_by_loader["field"] = loaded.text_field
    session.form(role).chosen_by_loader = chosen_by_loader


def _same_data(choice: DataChoice, other: DataChoice | None) -> bool:
    """Whether two choices read the same rows (their text settings aside)."""
    return other is not None and all(getattr(choice, name) == getattr(other, name)
                                     for name in ("kind", "location", "config", "split", "revision"))


def _fit_text_settings(session: Session, role: str, choice: DataChoice, upload: bytes | None) -> None:
    """Before loading other data: drop the text settings the loader chose for the old data, and the user's
    field, template or row filter when the new data lacks a column they name."""
    form = session.form(role)
    chosen_by_loader, form.chosen_by_loader = form.chosen_by_loader, {}
    for name, unset in (("field", AUTOMATIC), ("template", "")):
        if name in chosen_by_loader and widget(_key(role, name)) == chosen_by_loader[name]:
            show(_key(role, name), unset)
    field, template = widget(_key(role, "field")), widget(_key(role, "template"))
    filter_column = widget(_key(role, "filter_column"))
    if field in (None, AUTOMATIC) and not template and filter_column in (None, NO_FILTER):
        return  # nothing of the user's to check: no need to read the new data twice
    try:
        columns = set(map(str, loaders.preview(choice, upload).columns))
        template_names = set(template_fields(template)) if template else set()
    except Exception:  # unreadable data or a broken template: the load that follows says what is wrong
        return
    if field not in (None, AUTOMATIC) and field not in columns:
        show(_key(role, "field"), AUTOMATIC)
    if not template_names <= columns:
        show(_key(role, "template"), "")
    if filter_column not in (None, NO_FILTER) and filter_column not in columns:
        show(_key(role, "filter_column"), NO_FILTER)
        show(_key(role, "filter_value"), "")


def _on_preview(session: Session, role: str) -> None:
    try:
        choice, upload = _choice_from_widgets(role)
        session.form(role).preview = (choice.location, loaders.preview(choice, upload))
    except ZipFitError as error:
        session.notify(f"data.{role}", str(error), "error")
    except Exception as error:  # a bug or an unexpected file: report it and keep the app running
        session.notify(f"data.{role}", f"Could not read this data ({type(error).__name__}: {error}).", "error")


def _preview_table(session: Session, role: str):
    """The rows last previewed for this role, if the form still points at the same data."""
    previewed = session.form(role).preview
    if previewed is None:
        return None
    kind = widget(_key(role, "kind"))
    name = {"demo": "demo", "hub": "hub_id", "local": "local_path", "upload": "upload"}.get(kind)
    value = widget(_key(role, name)) if name else None
    location = getattr(value, "name", value)  # an uploaded file: its name (reading its bytes is not needed)
    return previewed[1] if previewed[0] == location else None


def _on_load(session: Session, role: str, new_file: bool = False) -> None:
    try:
        choice, upload = _choice_from_widgets(role)
        if new_file or not _same_data(choice, session.choice(role)):
            _fit_text_settings(session, role, choice, upload)
            choice, upload = _choice_from_widgets(role)
    except ZipFitError as error:
        session.notify(f"data.{role}", str(error), "error")
        return
    load_role(session, role, choice, upload)


def _on_upload(session: Session, role: str) -> None:
    if widget(_key(role, "upload")) is not None:  # a new file: load it at once
        _on_load(session, role, new_file=True)


def _apply_preset(session: Session, name: str) -> None:
    """Load a demo preset's pool and targets (a callback: runs before the widgets are drawn)."""
    source_name, target_name = DEMO_PRESETS[name]
    for role, demo_name in (("source", source_name), ("target", target_name)):
        for suffix in ("kind", "demo", "field", "template", "filter_column", "filter_value", "limit", "sample"):
            forget_widget(_key(role, suffix))
        load_role(session, role, DataChoice("demo", demo_name))
        _seed_widgets(session, role)


def preset_buttons(session: Session) -> None:
    if not DEMO_PRESETS:
        st.caption("The bundled demo data is not installed in this copy.")
        return
    columns = st.columns(len(DEMO_PRESETS) + 1)
    for column, name in zip(columns, DEMO_PRESETS):
        column.button(name, key=f"preset.{name}", on_click=_apply_preset, args=(session, name), type="primary",
                      icon=":material/bolt:", width="stretch")


def data_form(session: Session, role: str) -> None:
    """Where the data comes from and which text to score; a Load button; the result or the error."""
    _seed_widgets(session, role)
    settings = app_settings()
    st.radio(f"{loaders.ROLE_TITLES[role]} from", list(KIND_LABELS), format_func=KIND_LABELS.get,
             key=_key(role, "kind"), horizontal=True)
    kind = widget(_key(role, "kind"))
    if kind == "demo":
        st.selectbox("Demo dataset", list(DEMO_DATASETS), key=_key(role, "demo"),
                     format_func=lambda name: f"{name}: {DEMO_DATASETS[name].description}")
    elif kind == "hub":
        st.text_input("Dataset id", key=_key(role, "hub_id"), placeholder="owner/name")
        a, b, c = st.columns(3)
        a.text_input("Config", key=_key(role, "hub_config"), placeholder="default")
        b.text_input("Split", key=_key(role, "hub_split"))
        c.text_input("Revision", key=_key(role, "hub_revision"), placeholder="main")
        st.checkbox("Stream the rows (for large datasets: with a row limit, only those rows are read)",
                    key=_key(role, "hub_streaming"))
        st.caption("Remote code is never run. Without network, set HF_HUB_OFFLINE=1 to use the local cache.")
    elif kind == "local":
        found = loaders.local_files()
        a, b = st.columns(2)
        a.text_input("File, folder or glob under the data root", key=_key(role, "local_path"),
                     placeholder="e.g. my_pool.jsonl or shards/*.parquet")
        b.selectbox("Files found there", found, index=None, key=_key(role, "local_pick"),
                    placeholder="pick one" if found else "no data files yet", disabled=not found,
                    on_change=_copy_pick, args=(role,))
        missing = "" if settings.data_root.is_dir() else " It does not exist yet: create it and put your files there."
        st.caption(f"Data root: {literal(settings.data_root)} (to change it, {settings.data_root_hint}). "
                   f"Nothing outside it can be read.{missing}")
    else:
        st.file_uploader(f"File (JSONL, JSON, CSV, TSV, Parquet, text; .gz/.zst; up to {settings.max_upload_mb} MB)",
                         key=_key(role, "upload"), max_upload_size=settings.max_upload_mb,
                         on_change=_on_upload, args=(session, role))
    previewed = _preview_table(session, role)
    loaded = _safe_current(session, role)
    with st.expander("Text field, template, row filter and size", expanded=previewed is not None):
        source_table = previewed if previewed is not None else (loaded.table if loaded is not None else None)
        columns = [] if source_table is None else \
            list(dict.fromkeys([*text_like_fields(source_table), *map(str, source_table.columns)]))
        field_options = [AUTOMATIC, *columns]
        if widget(_key(role, "field")) not in field_options:
            field_options.append(widget(_key(role, "field")))
        st.selectbox("Text field", field_options, key=_key(role, "field"),
                     help="(automatic): `text` if present, else the longest string column.")
        st.text_input("Or a template joining fields", key=_key(role, "template"),
                      placeholder="{informal_prefix}{formal_statement}", help="Wins over the text field.")
        a, b = st.columns(2)
        filter_options = [NO_FILTER, *columns]
        if widget(_key(role, "filter_column")) not in filter_options:
            filter_options.append(widget(_key(role, "filter_column")))
        a.selectbox("Keep rows where column", filter_options, key=_key(role, "filter_column"))
        b.text_input("equals", key=_key(role, "filter_value"))
        a, b, c = st.columns(3)
        a.number_input("Row limit", min_value=1, step=1000, key=_key(role, "limit"), placeholder="all rows")
        b.number_input("Random sample", min_value=1, step=100, key=_key(role, "sample"), placeholder="no sample")
        c.number_input("Seed", min_value=0, step=1, key=_key(role, "seed"))
    a, b = st.columns([1, 3])
    a.button("Load", key=_key(role, "load"), on_click=_on_load, args=(session, role), icon=":material/upload:")
    b.button("Preview the first rows", key=_key(role, "preview_button"), on_click=_on_preview, args=(session, role),
             icon=":material/visibility:", type="tertiary")
    notices.show(session, f"data.{role}")
    if previewed is not None:
        st.caption(f"The first {len(previewed)} rows, before loading. Likely text fields: "
                   + literal(", ".join(text_like_fields(previewed)) or "none found") + ".")
        st.dataframe(display_rows(previewed), hide_index=True, height=220)
    dataset_summary(session, role, loaded)


def _still_loaded(session: Session, role: str) -> str:
    """After a failed load: which dataset the role still uses (the one below the error), if any."""
    choice = session.choice(role)
    if choice is None:
        return ""
    return (f" The {loaders.ROLE_TITLES[role].lower()} loaded before, {loaders.describe(choice)}, is "
            "still the one in use.")


def _safe_current(session: Session, role: str):
    ref = session.loaded.get(role)
    if ref is None:
        return None
    try:
        return loaders.load_ref(ref)
    except ZipFitError as error:
        st.error(message(error), icon=":material/error:")
        return None


def dataset_summary(session: Session, role: str, loaded) -> None:
    """Counts, length statistics, the loader's warnings and the first rows of a loaded dataset."""
    if loaded is None:
        st.info(f"No {loaders.ROLE_TITLES[role].lower()} loaded yet.", icon=":material/info:")
        return
    stats = length_stats(loaders.char_counts(loaded))
    text = f"template {loaded.text_template}" if loaded.text_template else f"field {loaded.text_field}"
    st.success(f"**{stats.rows:,} rows** from {literal(loaders.describe(session.choice(role)))}; "
               f"text: {literal(text)}",
               icon=":material/check_circle:")
    for note in loaded.notes:
        st.info(message(note), icon=":material/text_fields:")
    st.markdown(f"Length in characters: mean **{stats.mean_chars:,.0f}**, median **{stats.median_chars:,.0f}**, "
                f"shortest **{stats.min_chars:,}**, longest **{stats.max_chars:,}**.")
    for warning in loaded.warnings[:8]:
        st.warning(message(warning), icon=":material/warning:")
    if len(loaded.warnings) > 8:
        st.caption(f"... and {len(loaded.warnings) - 8} more warnings.")
    st.dataframe(display_rows(loaded.table, first=loaded.text_field), hide_index=True, height=260)
