"""Export from the app: the exact bytes `zipfit select` would write, by download or to a folder.

The rows come from `zipfit_core.analysis.selection.select` and the file from `zipfit_core.analysis.export`
(`selected_table`, `write_table`, `build_manifest`, `export_selection`), so an export from the
browser equals one from the command line for the same cut. Big exports are written under the data
root as background work of the process's `JobManager`, so the page stays responsive.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from zipfit_core.analysis.coverage import Coverage
from zipfit_core.analysis.curation import CuratedSelection
from zipfit_core.analysis.export import (
    build_manifest,
    check_export_folder,
    export_selection,
    manifest_path,
    removed_path,
    selected_table,
    write_table,
)
from zipfit_core.analysis.selection import Selection, SelectionRule, TokenCounter
from zipfit_core.analysis.shaping import CutPlan
from zipfit_core.cli.cut_export import CutInputs
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.jobs.work import FunctionWork, WorkStatus
from zipfit_core.store.outputs import release_name, reserve_name
from zipfit_core.store.run import ScoreRun

from ..state.records import FolderExport
from .loaders import LoadedData
from .work import manager


@dataclass(frozen=True)
class ExportFormat:
    label: str
    suffix: str  # "" for a `datasets` folder
    mime: str


FORMATS = {
    "jsonl": ExportFormat("JSON Lines", ".jsonl", "application/jsonl"),
    "parquet": ExportFormat("Parquet", ".parquet", "application/vnd.apache.parquet"),
    "csv": ExportFormat("CSV", ".csv", "text/csv"),
    "datasets": ExportFormat("`datasets` folder (save_to_disk)", "", "application/zip"),
}


def file_name(stem: str, kind: str) -> str:
    """The name a download or folder export gets; a `datasets` folder downloads as a zip."""
    return stem + (FORMATS[kind].suffix or ".zip")


def _name_part(location: str | None, fallback: str) -> str:
    """A data set's name as a file name part: the last path component without suffixes, lower case."""
    name = Path((location or "").split(" (")[0]).name.split(".")[0]
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:40] or fallback


def export_stem(source: str, target: str | None, method: str, rule: SelectionRule) -> str:
    """e.g. `pool-for-proofnet-valid-zipfit-top10pct`: the data, the targets, the method and the cut."""
    cut = {"threshold": f"score-above-{float(rule.value)!r}", "top_k": f"top{int(rule.value)}",
           "top_percent": f"top{rule.value:g}pct", "token_budget": f"{int(rule.value)}tokens"}[rule.kind]
    targets = f"-for-{_name_part(target, 'targets')}" if target else ""
    return f"{_name_part(source, 'selection')}{targets}-{method}-{cut}"


def export_bytes(source: LoadedTexts, scores: np.ndarray, selection: Selection, counter: TokenCounter,
                 kind: str, include_score: bool) -> bytes:
    """The file `zipfit select` writes for this selection (a `datasets` folder comes zipped)."""
    chosen = selected_table(source.table, source.texts, source.text_field, scores, selection, counter,
                            include_score=include_score)
    with tempfile.TemporaryDirectory(prefix="zipfit-export-") as folder:
        path = Path(folder) / ("selection" + FORMATS[kind].suffix)
        write_table(chosen, path)
        if kind != "datasets":
            return path.read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for item in sorted(path.rglob("*")):
                if item.is_file():
                    archive.write(item, Path("selection") / item.relative_to(path))
        return buffer.getvalue()


def first_rows(source: LoadedTexts, scores: np.ndarray, selection: Selection, counter: TokenCounter,
               include_score: bool, n_rows: int = 5) -> pd.DataFrame:
    """The first rows of the export as the file holds them: its columns in its order (`selected_table`)."""
    truncated = selection.last_row_tokens if selection.n_rows <= n_rows else None  # only the last row is cut
    head = replace(selection, rows=selection.rows[:n_rows], last_row_tokens=truncated)
    return selected_table(source.table, source.texts, source.text_field, scores, head, counter,
                          include_score=include_score)


def manifest_bytes(run: ScoreRun | None, selection: Selection, counter: TokenCounter, name: str, kind: str,
                   include_score: bool, curated: CuratedSelection | None = None, coverage: Coverage | None = None,
                   balanced: bool = False, plan: CutPlan | None = None, replay: dict | None = None) -> bytes:
    """The manifest `zipfit select` writes beside this selection (its coverage of the targets, if known; with
    `balanced`, its order is the balanced rule's; with `plan` and `replay`, what `--from-manifest` makes again)."""
    manifest = build_manifest(run, selection, counter, name, kind, include_score, curated, coverage, balanced, plan,
                              replay)
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def replay_section(data: LoadedData, run: ScoreRun, scores: np.ndarray, from_folder: bool,
                   evaluation_sets: list[tuple[str, LoadedTexts]], include_score: bool, data_root: Path) -> dict:
    """The manifest's `replay`, as `zipfit select` writes it (`CutInputs.replay`): the scores named by their run
    record (they are in the score or method cache, not in a file) or, opened from a score folder, by its path; the
    data by their recipes, local paths made absolute from the data root; the evaluation sets by their labels."""
    folder = data.folder if from_folder else None
    source_argument = str(Path(data_root) / folder.source_location) if folder is not None else run.source
    inputs = CutInputs(scores, run, data.source, str(folder.path) if folder is not None else None, source_argument,
                       evaluation_sets, None, include_score, data_root=Path(data_root))
    return inputs.replay()


def start_folder_export(export_root: Path, data_root: Path, stem: str, source: LoadedTexts, scores: np.ndarray,
                        curated: CuratedSelection, counter: TokenCounter, run: ScoreRun | None, kind: str,
                        include_score: bool, coverage: Coverage | None = None, balanced: bool = False,
                        plan: CutPlan | None = None, replay: dict | None = None) -> FolderExport:
    """Write the curated selection, its manifest and the rows it left out under `export_root` (a real folder
    inside `data_root`, or ZipFitError), as background work of the process's manager."""
    selection = curated.selection
    check_export_folder(export_root, data_root)
    # Taken now, in one atomic step: sessions exporting at the same moment never write to the same name.
    output = reserve_name(export_root, stem, FORMATS[kind].suffix, as_folder=kind == "datasets",
                          companions=lambda path: (manifest_path(path), removed_path(path)))

    def write(progress, cancelled) -> Path:
        # export_selection writes atomically: a failure (disk full, permissions) leaves no half-written export
        try:
            export_selection(source.table, source.texts, source.text_field, scores, selection, counter, run,
                             output, include_score=include_score, curated=curated, data_root=data_root,
                             coverage=coverage, balanced=balanced, plan=plan, replay=replay)
        except BaseException:
            release_name(output)
            raise
        return output

    work = FunctionWork(f"export-{uuid.uuid4().hex[:16]}", "export", write, unit="rows", total=selection.n_rows,
                        running_message=f"writing {selection.n_rows:,} rows", done_message="done")
    manager().submit_work(work)
    return FolderExport(output=output, n_rows=selection.n_rows, work_id=work.work_id)


def export_status(export: FolderExport) -> WorkStatus | None:
    return manager().find(export.work_id)


def manifest_file(export: FolderExport) -> Path:
    return manifest_path(export.output)
