"""A planted pool for the boilerplate rule of the contamination check (issue 24): MathComp's licence header on
rows that copy nothing, and real copies of the evaluation rows that carry it too.

Evaluation rows: the header, then a ProofNet statement (0 and 10). Pool: `LICENCE_ONLY` rows with the header and a HumanEval
problem (they share only the header with an evaluation row), a re-spaced copy of evaluation row 0 and a copy of
evaluation row 1 with one line changed.
"""

from __future__ import annotations

LICENCE_HEADER = ("(* (c) Copyright 2006-2016 Microsoft Corporation and Inria.                  *)\n"
                  "(* Distributed under the terms of CeCILL-B.                                  *)\n")
LICENCE_ONLY = 15


def evaluation_rows(proofnet_texts: list[str]) -> list[str]:
    return [LICENCE_HEADER + proofnet_texts[0], LICENCE_HEADER + proofnet_texts[10]]


def respaced(text: str) -> str:
    return "  ".join(word.upper() for word in text.split(" ")).replace("\n", " \n\t") + "\n"


def one_line_changed(text: str) -> str:
    lines = text.split("\n")
    lines[2] = "Lemma edited_line : True."
    return "\n".join(lines)


def boilerplate_pool(humaneval_texts: list[str], proofnet_texts: list[str],
                     licence_only: int = LICENCE_ONLY) -> list[dict]:
    """Records with `text` and `kind`: "licence only", "re-spaced copy", "edited copy"."""
    evaluation = evaluation_rows(proofnet_texts)
    return ([{"text": LICENCE_HEADER + text, "kind": "licence only"} for text in humaneval_texts[:licence_only]]
            + [{"text": respaced(evaluation[0]), "kind": "re-spaced copy"},
               {"text": one_line_changed(evaluation[1]), "kind": "edited copy"}])
