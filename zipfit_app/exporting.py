"""Export from the app: the exact bytes `zipfit select` would write, by download or to a folder.

The rows come from `zipfit_core.selection.select` and the file from `zipfit_core.export`
(`selected_table`, `write_table`, `build_manifest`, `export_selection`), so an export from the
browser equals one from the command line for the same cut. Big exports are written under the data
root by a background thread, so the page stays responsive.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zipfit_core.analysis.export import build_manifest, export_selection, manifest_path, selected_table, write_table
from zipfit_core.analysis.selection import Selection, SelectionRule, TokenCounter
from zipfit_core.data.loading import LoadedTexts
from zipfit_core.errors import ZipFitError
from zipfit_core.store.run import ScoreRun


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


def export_stem(origin: str, rule: SelectionRule) -> str:
    """e.g. `zipfit-demo-pool-top10pct`: where the rows came from and how they were cut."""
    cut = {"threshold": f"score-above-{rule.value:.4f}", "top_k": f"top{int(rule.value)}",
           "top_percent": f"top{rule.value:g}pct", "token_budget": f"{int(rule.value)}tokens"}[rule.kind]
    name = re.sub(r"[^A-Za-z0-9.]+", "-", Path(origin.split(" (")[0]).name.split(".")[0] or "selection")
    return f"zipfit-{name.strip('-').lower()[:40]}-{cut}"


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


def manifest_bytes(run: ScoreRun | None, selection: Selection, counter: TokenCounter, name: str, kind: str,
                   include_score: bool) -> bytes:
    manifest = build_manifest(run, selection, counter, name, kind, include_score)
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass
class FolderExport:
    """A background export to a folder under the data root."""

    output: Path
    n_rows: int
    started: float = field(default_factory=time.monotonic)
    stage: str = "starting"
    fraction: float = 0.0
    error: str | None = None
    finished: float | None = None

    @property
    def done(self) -> bool:
        return self.finished is not None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started


_exports: dict[str, FolderExport] = {}
_exports_lock = threading.Lock()


def start_folder_export(export_root: Path, stem: str, source: LoadedTexts, scores: np.ndarray,
                        selection: Selection, counter: TokenCounter, run: ScoreRun | None, kind: str,
                        include_score: bool) -> str:
    """Write the selection and its manifest under `export_root` on a thread; returns the export's id."""
    export_root.mkdir(parents=True, exist_ok=True)
    output = export_root / file_name(stem, kind).removesuffix(".zip")
    if output.exists():
        output = output.with_name(f"{output.stem}-{time.strftime('%Y%m%d-%H%M%S')}{output.suffix}")
    job = FolderExport(output=output, n_rows=selection.n_rows)
    export_id = f"{output.name}:{id(job)}"
    with _exports_lock:
        _exports[export_id] = job

    def work() -> None:
        try:
            job.stage, job.fraction = f"writing {selection.n_rows:,} rows", 0.1
            export_selection(source.table, source.texts, source.text_field, scores, selection, counter, run,
                             output, include_score=include_score)
            job.stage, job.fraction = "done", 1.0
        except ZipFitError as error:
            job.error = str(error)
        except Exception as error:  # disk full, permissions: report, keep the app running
            job.error = f"{type(error).__name__}: {error}"
            shutil.rmtree(output, ignore_errors=True) if output.is_dir() else output.unlink(missing_ok=True)
        finally:
            job.finished = time.monotonic()

    threading.Thread(target=work, name=f"zipfit-export-{output.name}", daemon=True).start()
    return export_id


def folder_export(export_id: str) -> FolderExport | None:
    with _exports_lock:
        return _exports.get(export_id)


def manifest_file(export: FolderExport) -> Path:
    return manifest_path(export.output)
