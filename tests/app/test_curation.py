"""Keeping the targets out in the app (issue 14): Explore counts and lists the copies, a row says what it copies,
and Export removes them by default, refilling the cut, with the removed rows and settings in its manifest."""

from __future__ import annotations

import io
import json

import pandas as pd

from tests import boilerplate_data
from tests.boilerplate_data import LICENCE_ONLY, boilerplate_pool, evaluation_rows

from .app_steps import (
    assert_no_exception,
    load_in_form,
    metric,
    new_app,
    score_and_wait,
    session_of,
    set_cut,
    texts_of,
)


def write_planted_pool(root, humaneval_texts, proofnet_texts) -> None:
    """HumanEval targets 0-9; the pool: copies of targets 0-5 (two re-cased), copies of an evaluation set, other
    HumanEval problems and ProofNet statements."""
    rows = ([{"text": text, "kind": "target copy"} for text in humaneval_texts[:4]]
            + [{"text": text.upper(), "kind": "target copy"} for text in humaneval_texts[4:6]]
            + [{"text": text, "kind": "evaluation copy"} for text in humaneval_texts[30:33]]
            + [{"text": text, "kind": "code"} for text in humaneval_texts[40:70]]
            + [{"text": text, "kind": "maths"} for text in proofnet_texts[:30]])
    (root / "pool.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (root / "targets.jsonl").write_text("".join(json.dumps({"text": text}) + "\n" for text in humaneval_texts[:10]))
    (root / "heldout.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in humaneval_texts[30:40]))


def test_explore_flags_copies_and_export_removes_them(isolated, humaneval_texts, proofnet_texts):
    write_planted_pool(isolated, humaneval_texts, proofnet_texts)
    at = new_app()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "local", "targets.jsonl")
    score_and_wait(at)
    at.switch_page("pages/explore.py").run()
    assert_no_exception(at)
    set_cut(at, "top_k", 20)
    flagged = metric(at, "Kept rows that copy a reference")
    copies_kept = int(flagged.value)
    assert 1 <= copies_kept <= 6 and "exact" in str(flagged.delta)

    at.multiselect(key="curation.references_widget").set_value(["file: heldout.jsonl"]).run()
    assert_no_exception(at)
    with_heldout = int(metric(at, "Kept rows that copy a reference").value)
    assert with_heldout >= copies_kept

    at.radio(key="curation.list").set_value("flagged kept rows").run()
    assert_no_exception(at)
    listing = next(frame for frame in at.dataframe if str(frame.key).startswith("curation.rows."))
    flagged_rows = listing.value["row"].tolist()
    assert len(flagged_rows) == with_heldout
    session_of(at).view = session_of(at).view.__class__(**{**session_of(at).view.__dict__,
                                                                     "row": int(flagged_rows[0])})
    at.run()
    notes = " ".join(texts_of(at.warning)).replace("\\", "")
    assert "copy (after normalising) of row" in notes or "shares 13 words with row" in notes

    at.switch_page("pages/export.py").run()
    assert_no_exception(at)
    at.radio(key="export.format").set_value("jsonl").run()
    exported = pd.read_json(io.BytesIO(session_of(at).downloads.file()), lines=True)
    assert len(exported) == 20
    assert not set(exported["kind"]) & {"target copy", "evaluation copy"}
    manifest = json.loads(session_of(at).downloads.manifest())
    removed = manifest["curation"]["removed"]
    assert removed["exact"] + removed["ngram"] == with_heldout and manifest["curation"]["settings"]["decontaminate"]
    assert set(manifest["curation"]["contamination"]["references"]) == {"targets (file: targets.jsonl)",
                                                                         "file: heldout.jsonl"}
    assert any("Left out of the cut" in text for text in texts_of(at.markdown))

    at.toggle(key="export.decontaminate").set_value(False).run()
    assert_no_exception(at)
    plain = pd.read_json(io.BytesIO(session_of(at).downloads.file()), lines=True)
    assert len(plain) == 20 and (plain["kind"].isin(["target copy", "evaluation copy"])).sum() == with_heldout


def test_explore_spares_licence_only_rows_and_flags_targets_that_copy_an_evaluation_set(isolated, humaneval_texts,
                                                                                       proofnet_texts):
    pool = boilerplate_pool(humaneval_texts, proofnet_texts)
    evaluation = evaluation_rows(proofnet_texts)
    (isolated / "pool.jsonl").write_text("".join(json.dumps(row) + "\n" for row in pool))
    (isolated / "heldout.jsonl").write_text("".join(json.dumps({"text": text}) + "\n" for text in evaluation))
    targets = humaneval_texts[100:110] + [boilerplate_data.one_line_changed(evaluation[0])]
    (isolated / "targets.jsonl").write_text("".join(json.dumps({"text": text}) + "\n" for text in targets))
    at = new_app()
    load_in_form(at, "source", "local", "pool.jsonl")
    load_in_form(at, "target", "local", "targets.jsonl")
    score_and_wait(at)
    at.switch_page("pages/explore.py").run()
    set_cut(at, "top_k", len(pool))
    at.multiselect(key="curation.references_widget").set_value(["file: heldout.jsonl"]).run()
    assert_no_exception(at)
    assert int(metric(at, "Kept rows that copy a reference").value) == 2  # the re-spaced and the edited copy
    spared = next(text for text in texts_of(at.caption) if "spared as boilerplate" in text).replace("\\", "")
    assert spared.startswith(f"{LICENCE_ONLY} kept rows spared as boilerplate") and "copyright" in spared
    warning = next(text for text in texts_of(at.warning) if "evaluation set" in text).replace("\\", "")
    assert warning.startswith("1 target row copies an evaluation set") and "heldout.jsonl" in warning

    at.radio(key="curation.list").set_value("kept rows spared as boilerplate").run()
    assert_no_exception(at)
    listing = next(frame for frame in at.dataframe if str(frame.key).startswith("curation.rows."))
    assert sorted(listing.value["row"].tolist()) == list(range(LICENCE_ONLY))

    at.switch_page("pages/export.py").run()
    assert_no_exception(at)
    manifest = json.loads(session_of(at).downloads.manifest())
    assert manifest["curation"]["settings"]["max_matches"] == 10
    assert manifest["curation"]["spared_as_boilerplate"] == LICENCE_ONLY
