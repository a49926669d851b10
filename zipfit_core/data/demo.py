"""The bundled demo data sets: names, files and how to take the text of a row.

This module is a registry only. `zipfit_core.loading` resolves `demo:NAME` through `DEMO_DATASETS`
(the CLI and the app go through it); the files live in `demo_data/` next to this module, were built
by `scripts/build_demo.py` from pinned package versions, and are described (origin, licence,
sha256) in `demo_data/ATTRIBUTION.md`.

Source pool rows carry `source` (where the row came from, e.g. `coq-stdlib`, `mbpp`, `sotu`) and
`domain` (`formal-maths`, `code`, `word-problems` or `prose`): group the scores by them to see which
kind of data ZIP-FIT puts first for a target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEMO_DATA_DIR = Path(__file__).resolve().parent / "demo_data"


@dataclass(frozen=True)
class DemoText:
    """How to take the text of a row: one field, or a template of fields; optionally keep only some rows."""

    field: str | None = None
    template: str | None = None
    row_filter: tuple[str, str] | None = None  # (column, value): keep the rows whose column equals value


@dataclass(frozen=True)
class DemoDataset:
    """One bundled data set."""

    name: str
    path: Path
    text: DemoText
    description: str
    licence: str
    role: str  # "source" | "target"
    rows: int | None = None  # rows it gives after the row filter (the files are fixed, so this is known)


PROOFNET_TEMPLATE = "{informal_prefix}{formal_statement}"  # the ZIP-FIT paper's ProofNet text
HUMANEVAL_TEMPLATE = "Problem description: {prompt} \nCanonical solution: {canonical_solution}"  # the paper's
POOL_LICENCE = ("mixed, per row in the `licence` column: MIT / Expat, CC-BY-4.0, CC-BY-SA-3.0, LGPL-2.1, "
                "CeCILL-B, PSF-2.0, public domain, verbatim licence texts (see demo_data/ATTRIBUTION.md)")


def _dataset(name: str, file: str, text: DemoText, description: str, licence: str, role: str,
             rows: int) -> DemoDataset:
    return DemoDataset(name, DEMO_DATA_DIR / file, text, description, licence, role, rows)


DEMO_DATASETS: dict[str, DemoDataset] = {
    item.name: item for item in (
        _dataset("pool", "pool.jsonl.gz", DemoText(field="text"),
                 "3,870 mixed source rows: formal maths (Lean 4 miniF2F, Agda, Coq), Python code, "
                 "word problems and prose; origin in `source` and `domain`",
                 POOL_LICENCE, "source", 3870),
        _dataset("pool-mini", "pool_mini.jsonl.gz", DemoText(field="text"),
                 "300 rows of the pool, every source in proportion: for quick tries and tests",
                 POOL_LICENCE, "source", 300),
        _dataset("proofnet-valid", "proofnet_lean4.jsonl.gz",
                 DemoText(template=PROOFNET_TEMPLATE, row_filter=("split", "valid")),
                 "ProofNet valid split: 185 Lean 4 statements with their informal statement (selection target)",
                 "MIT", "target", 185),
        _dataset("proofnet-test", "proofnet_lean4.jsonl.gz",
                 DemoText(template=PROOFNET_TEMPLATE, row_filter=("split", "test")),
                 "ProofNet test split: 186 Lean 4 statements (held out for evaluation)",
                 "MIT", "target", 186),
        _dataset("humaneval", "humaneval.jsonl.gz", DemoText(template=HUMANEVAL_TEMPLATE),
                 "HumanEval: 164 Python problems with their canonical solutions",
                 "MIT", "target", 164),
    )
}


# One-click examples: preset label -> (source pool, target set), both names in DEMO_DATASETS.
DEMO_PRESETS: dict[str, tuple[str, str]] = {
    "ProofNet -> formal maths": ("pool", "proofnet-valid"),
    "HumanEval -> code": ("pool", "humaneval"),
}
