"""Keeping the targets out of a selection (issue 14): contamination flags, near-duplicate groups, curated cuts.

The pool is built with planted rows: exact copies of the HumanEval targets, copies with changed case and
spacing, copies with one line changed, and unrelated rows (ProofNet statements, and code that shares only
short common phrases with the targets). Recall on the planted rows and no flag on the unrelated ones.
"""

from __future__ import annotations

import json
import random
import threading

import numpy as np
import pytest

from tests import boilerplate_data
from tests.boilerplate_data import LICENCE_ONLY, boilerplate_pool, evaluation_rows
from zipfit_core.analysis import contamination as contamination_module
from zipfit_core.analysis.contamination import ReferenceTexts, find_contamination
from zipfit_core.analysis.curation import CurationSettings, curate
from zipfit_core.analysis.export import export_selection, manifest_path, removed_path
from zipfit_core.analysis.near_duplicates import MinHashes, near_duplicate_groups
from zipfit_core.analysis.selection import SelectionRule, TokenCounter
from zipfit_core.analysis.word_ngrams import normalise, words_of
from zipfit_core.errors import ScoringCancelled, ZipFitError


def respaced(text: str, seed: int) -> str:
    """Changed case and spacing: upper case, doubled spaces, tabs, a trailing blank line."""
    generator = random.Random(seed)
    words = text.split(" ")
    return ("  ".join(word.upper() if generator.random() < 0.5 else word for word in words)
            .replace("\n", " \n\t") + "\n\n")


def one_line_changed(text: str) -> str:
    lines = text.split("\n")
    middle = len(lines) // 2
    lines[middle] = "    value = compute_something_else(value)  # an edited line"
    return "\n".join(lines)


COMMON_PHRASES = [
    "def main():\n    return None\n",
    "for i in range(len(numbers)):\n    print(i)\n",
    "Return the result. >>> f(1)\n1\n",
    "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n    return a + b\n",
    "import math\nfrom typing import List\n\ndef mean(values: List[float]) -> float:\n"
    "    return sum(values) / len(values)\n",
]


@pytest.fixture(scope="module")
def planted(humaneval_texts, proofnet_texts):
    """(pool, kinds) where kinds[i] says what row i is: exact, normalised, edited or unrelated."""
    targets = humaneval_texts
    pool, kinds = [], []
    for index, text in enumerate(targets):
        pool += [text, respaced(text, index), one_line_changed(text)]
        kinds += ["exact", "normalised", "edited"]
    pool += proofnet_texts[:300] + COMMON_PHRASES * 4
    kinds += ["unrelated"] * (300 + len(COMMON_PHRASES) * 4)
    order = np.random.default_rng(0).permutation(len(pool))
    return [pool[i] for i in order], [kinds[i] for i in order], targets


def test_planted_copies_are_found_and_unrelated_rows_are_not(planted):
    pool, kinds, targets = planted
    flags = find_contamination(pool, [ReferenceTexts("targets", targets)])
    flagged = set(flags.rows.tolist())
    by_kind = {kind: [row for row, what in enumerate(kinds) if what == kind] for kind in set(kinds)}
    recall = {kind: np.mean([row in flagged for row in rows]) for kind, rows in by_kind.items()}
    assert recall["exact"] == 1.0 and recall["normalised"] == 1.0
    assert recall["edited"] >= 0.95, recall
    assert recall["unrelated"] == 0.0, [pool[row][:80] for row in by_kind["unrelated"] if row in flagged]
    kind_of = dict(zip(flags.rows.tolist(), flags.kinds))
    assert all(kind_of[row] == "exact" for row in by_kind["exact"] + by_kind["normalised"])
    assert all(kind_of[row] == "ngram" for row in by_kind["edited"] if row in kind_of)


def test_a_cancelled_check_stops_between_chunks_and_drops_the_chunks_not_started(planted, monkeypatch):
    pool, _, targets = planted
    monkeypatch.setattr(contamination_module, "POOL_CHUNK_ROWS", 20)  # ~40 chunks
    hashed, stop, seen = [], threading.Event(), []
    real_word_hashes = contamination_module.word_hashes
    monkeypatch.setattr(contamination_module, "word_hashes", lambda texts: (hashed.append(len(texts)),
                                                                            real_word_hashes(texts))[1])

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done >= 60:
            stop.set()

    with pytest.raises(ScoringCancelled, match="cancelled"):
        find_contamination(pool, [ReferenceTexts("targets", targets)], progress=progress, cancel=stop, workers=1)
    n_chunks = -(-len(pool) // 20)
    assert seen[-1] == 60 and len(hashed) < n_chunks  # stopped after the third chunk, the rest never hashed
    assert len(find_contamination(pool, [ReferenceTexts("targets", targets)]).rows)  # and a new check runs whole


def test_each_flag_names_its_reference_row_and_the_shared_words(planted):
    pool, kinds, targets = planted
    flags = find_contamination(pool, [ReferenceTexts("targets", targets)])
    frame = flags.to_frame()
    for record in frame.itertuples():
        target = targets[record.reference_row]
        assert record.reference == "targets"
        if record.kind == "exact":
            assert normalise(pool[record.row]) == normalise(target)
            assert record.match == ""
        else:
            shared = record.match.encode().split()
            assert len(shared) == 13
            assert " ".join(w.decode() for w in shared) in " ".join(w.decode() for w in words_of(target))
            assert " ".join(w.decode() for w in shared) in " ".join(w.decode() for w in words_of(pool[record.row]))


def test_extra_evaluation_sets_are_named_in_the_flags(proofnet_texts, humaneval_texts):
    valid, test = proofnet_texts[:100], proofnet_texts[100:200]
    pool = [humaneval_texts[0], test[7], valid[3], "an unrelated sentence about nothing in particular"]
    flags = find_contamination(pool, [ReferenceTexts("targets", valid), ReferenceTexts("proofnet-test", test)])
    named = dict(zip(flags.rows.tolist(), zip(flags.references, flags.reference_rows.tolist())))
    assert named == {1: ("proofnet-test", 7), 2: ("targets", 3)}
    assert flags.describe()["references"] == {"targets": 100, "proofnet-test": 100}


def test_a_hash_collision_never_flags_a_row(planted, monkeypatch):
    """Candidates come from hashes; a flag needs the words. Every hash "matching" must not flag anything."""
    pool, kinds, targets = planted
    unrelated = [text for text, kind in zip(pool, kinds) if kind == "unrelated"]
    monkeypatch.setattr(contamination_module.HashSet, "contains", lambda self, queries: np.ones(len(queries), bool))
    flags = find_contamination(unrelated, [ReferenceTexts("targets", targets)])
    assert len(flags.rows) == 0


def test_short_texts_are_caught_only_as_exact_copies():
    targets = ["Prove that 1 + 1 = 2.", "!!!"]
    pool = ["PROVE that 1+1 = 2.", "prove that 1 + 1 = 2.", "!!!", "Prove that 1 + 1 = 3."]
    flags = find_contamination(pool, [ReferenceTexts("targets", targets)])
    assert flags.rows.tolist() == [1, 2]  # "1+1" is another word sequence: normalising keeps punctuation


def test_a_shared_run_of_one_repeated_word_is_not_a_copy():
    table = "matrix = [" + ", ".join(["0"] * 30) + "]"
    targets = [f"def identity(n):\n    {table}\n    return matrix"]
    pool = [f"weights = [{', '.join(['0'] * 20)}]  # an unrelated file", targets[0].replace("identity", "eye")]
    flags = find_contamination(pool, [ReferenceTexts("targets", targets)])
    assert flags.rows.tolist() == [1]  # the edited copy shares varied words; the zeros alone flag nothing


def test_bad_settings_say_what_to_do():
    with pytest.raises(ZipFitError, match="at least 1 word"):
        find_contamination(["a"], [ReferenceTexts("targets", ["a"])], ngram=0)
    with pytest.raises(ZipFitError, match="reference set"):
        find_contamination(["a"], [])


# ---------------------------------------------------------------------------------------------------
# Near-duplicates

def near_copy(text: str, generator: random.Random) -> str:
    words = text.split(" ")
    words[generator.randrange(len(words))] = "changed"
    return " ".join(words)


@pytest.fixture(scope="module")
def with_near_copies(humaneval_texts):
    """40 HumanEval problems of 150+ words, and copies of the first 20 with one word changed (Jaccard ~0.94)."""
    generator = random.Random(1)
    originals = [text for text in humaneval_texts if len(words_of(text)) >= 150][:40]
    texts = list(originals) + [near_copy(text, generator) for text in originals[:20]]
    return texts, originals


def test_near_copies_form_groups_best_score_first(with_near_copies):
    texts, originals = with_near_copies
    scores = np.linspace(0, 1, len(texts))  # the copies (later rows) score higher
    groups = near_duplicate_groups(MinHashes(texts), np.arange(len(texts)), scores)
    pairs = {tuple(sorted(group.tolist())) for group in groups.groups}
    assert len(pairs) >= 19 and all(len(pair) == 2 for pair in pairs)
    assert pairs <= {(i, len(originals) + i) for i in range(20)}
    assert all(group[0] >= len(originals) for group in groups.groups)  # the better-scored copy is kept
    assert set(groups.redundant_rows().tolist()) <= set(range(20))


def test_curate_removes_flagged_rows_and_refills_top_k(planted):
    pool, kinds, targets = planted
    flags = find_contamination(pool, [ReferenceTexts("targets", targets)])
    scores = np.array([0.9 if kind != "unrelated" else 0.1 for kind in kinds]) + np.arange(len(pool)) * 1e-6
    rule = SelectionRule("top_k", 200)
    curated = curate(scores, rule, None, CurationSettings(), flags=flags)
    assert curated.selection.n_rows == 200
    assert not set(curated.selection.rows.tolist()) & set(flags.rows.tolist())
    removed = curated.removed
    assert len(removed) == len(flags.rows) and set(removed["row"]) == set(flags.rows.tolist())
    assert curated.counts()["exact"] == 2 * len(targets)
    kept_off = curate(scores, rule, None, CurationSettings(decontaminate=False), flags=flags)
    assert len(kept_off.removed) == 0 and set(kept_off.selection.rows.tolist()) & set(flags.rows.tolist())


def test_curate_keeps_one_row_per_near_duplicate_group(with_near_copies):
    texts, originals = with_near_copies
    n = len(originals)
    # each copy scores just below its original: the plain top 20 holds ten pairs
    scores = np.array([1 - i / 100 for i in range(n)] + [1 - i / 100 - 0.001 for i in range(20)])
    curated = curate(scores, SelectionRule("top_k", 20), None, CurationSettings(dedup=True),
                     minhashes=MinHashes(texts))
    kept = set(curated.selection.rows.tolist())
    assert curated.selection.n_rows == 20 and curated.dedup_rounds >= 2  # refilled rows were checked again
    for i in range(20):
        assert not {i, len(originals) + i} <= kept  # never both of a pair
    removed = curated.removed[curated.removed["reason"] == "near-duplicate"]
    assert len(removed) >= 19
    assert all(row == kept_row + len(originals) for row, kept_row in zip(removed["row"], removed["reference_row"]))


def test_a_curated_export_writes_the_removed_rows_and_the_settings(planted, tmp_path):
    import pandas as pd

    pool, kinds, targets = planted
    flags = find_contamination(pool, [ReferenceTexts("targets", targets)])
    scores = np.array([0.9 if kind != "unrelated" else 0.1 for kind in kinds])
    curated = curate(scores, SelectionRule("top_percent", 10), None, CurationSettings(), flags=flags)
    table = pd.DataFrame({"text": pool})
    out = tmp_path / "picked.jsonl"
    manifest = export_selection(table, pool, "text", scores, curated.selection, TokenCounter(), None, out,
                                curated=curated)
    written = json.loads(manifest_path(out).read_text())
    assert written["curation"] == manifest["curation"]
    assert written["curation"]["settings"]["ngram"] == 13 and written["curation"]["settings"]["decontaminate"]
    assert written["curation"]["removed"]["exact"] == int((curated.removed["reason"] == "exact").sum())
    removed = [json.loads(line) for line in removed_path(out).read_text().splitlines()]
    assert [record["row"] for record in removed] == curated.removed["row"].tolist()
    exported = [json.loads(line)["text"] for line in out.read_text().splitlines()]
    assert len(exported) == int(len(pool) * 0.1) and not set(exported) & set(targets)


def test_a_curated_export_that_removes_nothing_writes_and_names_no_removed_rows_file(planted, tmp_path):
    """Curation on, nothing in the cut to remove: no empty OUTPUT.removed.jsonl, and the manifest names none; an
    export replacing one that removed rows takes its list of removed rows away with it."""
    import pandas as pd

    pool, kinds, targets = planted
    flags = find_contamination(pool, [ReferenceTexts("targets", targets)])
    table, out = pd.DataFrame({"text": pool}), tmp_path / "picked.jsonl"
    copies_first = np.array([0.9 if kind != "unrelated" else 0.1 for kind in kinds])
    removing = curate(copies_first, SelectionRule("top_k", 5), None, CurationSettings(), flags=flags)
    manifest = export_selection(table, pool, "text", copies_first, removing.selection, TokenCounter(), None, out,
                                curated=removing)
    assert len(removing.removed) and manifest["curation"]["removed_rows_file"] == removed_path(out).name
    assert len(removed_path(out).read_text().splitlines()) == len(removing.removed)

    unrelated_first = 1.0 - copies_first
    clean = curate(unrelated_first, SelectionRule("top_k", 5), None, CurationSettings(), flags=flags)
    assert clean.removed.empty
    manifest = export_selection(table, pool, "text", unrelated_first, clean.selection, TokenCounter(), None, out,
                                curated=clean)
    assert not removed_path(out).exists()
    written = json.loads(manifest_path(out).read_text())
    assert written["curation"] == manifest["curation"] and written["curation"]["removed_rows_file"] is None
    assert sum(written["curation"]["removed"].values()) == 0 and written["curation"]["settings"]["decontaminate"]
    assert len(out.read_text().splitlines()) == 5


# ---------------------------------------------------------------------------------------------------
# Boilerplate (issue 24): n-grams in more than `max_matches` pool rows are no evidence of copying

def test_rows_sharing_only_a_licence_header_are_spared_and_copies_are_still_flagged(humaneval_texts,
                                                                                    proofnet_texts):
    pool = boilerplate_pool(humaneval_texts, proofnet_texts)
    texts, kinds = [record["text"] for record in pool], [record["kind"] for record in pool]
    flags = find_contamination(texts, [ReferenceTexts("evaluation", evaluation_rows(proofnet_texts))])
    kind_of = dict(zip(flags.rows.tolist(), flags.kinds))
    assert kind_of == {kinds.index("re-spaced copy"): "exact", kinds.index("edited copy"): "ngram"}
    licence_rows = [row for row, kind in enumerate(kinds) if kind == "licence only"]
    assert flags.spared.rows.tolist() == licence_rows
    assert all("copyright 2006 2016 microsoft" in match or "cecill b" in match for match in flags.spared.matches)
    assert set(flags.spared.matched_rows.tolist()) == {LICENCE_ONLY + 1}  # the licence rows and the edited copy
    assert flags.describe()["max_matches"] == 10 and flags.describe()["spared_as_boilerplate"] == LICENCE_ONLY
    assert flags.ignored_ngrams >= 1
    everything = find_contamination(texts, [ReferenceTexts("evaluation", evaluation_rows(proofnet_texts))],
                                    max_matches=None)
    assert len(everything.rows) == len(pool) and len(everything.spared.rows) == 0


@pytest.mark.parametrize(("licence_only", "flagged"), [(9, True), (10, False)])
def test_an_ngram_counts_up_to_max_matches_rows(humaneval_texts, proofnet_texts, licence_only, flagged):
    """With the edited copy, `licence_only` + 1 rows hold the header: 10 still count, 11 do not."""
    pool = [record["text"] for record in boilerplate_pool(humaneval_texts, proofnet_texts, licence_only)]
    flags = find_contamination(pool, [ReferenceTexts("evaluation", evaluation_rows(proofnet_texts))], max_matches=10)
    assert (len(flags.rows) == len(pool)) is flagged
    assert len(flags.spared.rows) == (0 if flagged else licence_only)


def test_exact_copies_do_not_make_an_ngram_boilerplate(proofnet_texts):
    """Twelve verbatim copies of a test item and one edited copy: the edited copy is still a copy."""
    evaluation = evaluation_rows(proofnet_texts)
    pool = [boilerplate_data.respaced(evaluation[1])] * 12 + [boilerplate_data.one_line_changed(evaluation[1])]
    flags = find_contamination(pool, [ReferenceTexts("evaluation", evaluation)])
    assert flags.rows.tolist() == list(range(13)) and flags.kinds[-1] == "ngram"


def test_max_matches_out_of_range_says_what_to_do():
    with pytest.raises(ZipFitError, match="max_matches"):
        find_contamination(["a"], [ReferenceTexts("targets", ["a"])], max_matches=0)
    with pytest.raises(ZipFitError, match="max_matches"):
        CurationSettings(max_matches=0)


def test_a_curated_cut_keeps_the_licence_rows_and_the_manifest_counts_them(humaneval_texts, proofnet_texts,
                                                                           tmp_path):
    import pandas as pd

    pool = boilerplate_pool(humaneval_texts, proofnet_texts)
    texts = [record["text"] for record in pool]
    flags = find_contamination(texts, [ReferenceTexts("evaluation", evaluation_rows(proofnet_texts))])
    scores = np.linspace(1, 0, len(pool))
    curated = curate(scores, SelectionRule("top_k", len(pool)), None, CurationSettings(), flags=flags)
    assert curated.selection.n_rows == LICENCE_ONLY and curated.spared_in_cut() == LICENCE_ONLY
    out = tmp_path / "picked.jsonl"
    export_selection(pd.DataFrame(pool), texts, "text", scores, curated.selection, TokenCounter(), None, out,
                     curated=curated)
    curation = json.loads(manifest_path(out).read_text())["curation"]
    assert curation["settings"]["max_matches"] == 10 and curation["spared_as_boilerplate"] == LICENCE_ONLY
    assert curation["contamination"]["max_matches"] == 10


def test_minhashes_import_datasketch_only_when_they_make_signatures(monkeypatch):
    """The app makes the pool's MinHashes on a page; datasketch (and scipy) are imported in the background work."""
    import sys

    monkeypatch.setitem(sys.modules, "datasketch", None)  # importing it now would raise
    minhashes = MinHashes(["one two three four five six", "seven eight nine ten eleven twelve"])
    monkeypatch.undo()
    assert len(minhashes.of(np.array([0, 1]))) == 2
