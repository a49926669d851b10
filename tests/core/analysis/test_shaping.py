"""Shaping a cut by hand (analysis/shaping.py, selection.cut_in_order, curation.curate): rows always or never kept,
patterns (RE2, over a data store in batches), group caps enforced while filling, and the plan's record."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from zipfit_core.analysis.curation import CurationSettings, curate
from zipfit_core.analysis.selection import SelectionRule, select
from zipfit_core.analysis.shaping import (
    HAND_EXCLUDED,
    OVER_CAP,
    PATTERN_EXCLUDED,
    CutPlan,
    GroupCap,
    Shaping,
    rows_matching,
    shape_rows,
)
from zipfit_core.data.sources import DataSource
from zipfit_core.errors import ZipFitError
from zipfit_core.store.data_store import open_data

N = 40
SCORES = np.linspace(1.0, 0.0, N)  # row 0 best
TABLE = pd.DataFrame({"text": [f"row {i} " + ("Licensed under MIT" if i % 5 == 0 else "code") for i in range(N)],
                      "kind": ["changelog" if i < 20 else "code" for i in range(N)]})


def shaped(shaping: Shaping):
    return shape_rows(shaping, TABLE["text"].tolist(), TABLE, N)


def test_rows_kept_by_hand_come_first_and_count_toward_k_and_excluded_rows_never_come() -> None:
    rows = shaped(Shaping(include_rows=(39, 30), exclude_rows=(0, 1)))
    cut = select(SCORES, SelectionRule("top_k", 5), excluded=np.isin(np.arange(N), list(rows.excluded)),
                 include=rows.include)
    assert cut.rows.tolist() == [30, 39, 2, 3, 4]  # still 5 rows: two by hand, then the best not excluded


def test_a_threshold_keeps_the_rows_kept_by_hand_below_it() -> None:
    cut = select(SCORES, SelectionRule("threshold", 0.9), include=np.array([35]))
    assert cut.rows.tolist() == [35, 0, 1, 2, 3]


def test_more_rows_kept_by_hand_than_the_cut_holds_says_what_to_change() -> None:
    with pytest.raises(ZipFitError, match="raise the cut or keep fewer rows by hand"):
        select(SCORES, SelectionRule("top_k", 1), include=np.array([3, 4]))


def test_a_cap_holds_while_filling_and_the_cut_still_keeps_k_rows() -> None:
    rows = shaped(Shaping(caps=(GroupCap.parse("kind=changelog:20%"),)))
    cut = select(SCORES, SelectionRule("top_k", 10), caps=rows.caps)
    assert cut.n_rows == 10 and (TABLE["kind"].to_numpy()[cut.rows] == "changelog").sum() == 2
    assert cut.rows.tolist() == [0, 1, *range(20, 28)]
    assert sorted(cut.capped) == list(range(2, 20)) and set(cut.capped.values()) == {"kind=changelog"}


def test_every_group_at_its_pool_share_and_a_token_budget_cap() -> None:
    rows = shaped(Shaping(caps=(GroupCap.parse("kind=*:pool"),)))
    cut = select(SCORES, SelectionRule("top_percent", 25), caps=rows.caps)
    assert (TABLE["kind"].to_numpy()[cut.rows] == "changelog").sum() == 5 and cut.n_rows == 10
    tokens = np.full(N, 10)
    capped = shape_rows(Shaping(caps=(GroupCap("kind", "changelog", 0.3),)), TABLE["text"].tolist(), TABLE, N)
    cut = select(SCORES, SelectionRule("token_budget", 100), tokens, caps=capped.caps)
    assert cut.tokens_kept == 100 and (TABLE["kind"].to_numpy()[cut.rows] == "changelog").sum() == 3


def test_caps_that_cannot_all_hold_say_what_to_change() -> None:
    rows = shaped(Shaping(caps=(GroupCap.parse("kind=changelog:10%"), GroupCap.parse("kind=code:0.1"))))
    with pytest.raises(ZipFitError, match="raise a cap or cap fewer groups"):
        select(SCORES, SelectionRule("top_k", 10), caps=rows.caps)
    with pytest.raises(ZipFitError, match="not a threshold"):
        select(SCORES, SelectionRule("threshold", 0.5), caps=rows.caps)


@pytest.mark.parametrize("text, message", [
    ("kind", "COLUMN=VALUE:SHARE"), ("kind=changelog:lots", "1% or 0.01"), ("kind=changelog:150%", "at most 1"),
])
def test_a_cap_that_cannot_be_read_says_how_to_write_it(text, message) -> None:
    with pytest.raises(ZipFitError, match=message):
        GroupCap.parse(text)


def test_rows_outside_the_pool_unknown_groups_and_bad_patterns_are_refused() -> None:
    with pytest.raises(ZipFitError, match="outside the pool of 40 rows.*0..39"):
        shaped(Shaping(exclude_rows=(40,)))
    with pytest.raises(ZipFitError, match="no column 'size'.*text, kind"):
        shaped(Shaping(caps=(GroupCap("size", "big", 0.1),)))
    with pytest.raises(ZipFitError, match="no value 'docs'.*changelog, code"):
        shaped(Shaping(caps=(GroupCap("kind", "docs", 0.1),)))
    with pytest.raises(ZipFitError, match="look-behind"):
        Shaping(patterns=("(?<=a)b",))
    with pytest.raises(ZipFitError, match="both always kept and never kept"):
        Shaping(include_rows=(1,), exclude_rows=(1,))


def test_curate_lists_why_each_row_is_out_and_a_row_kept_by_hand_beats_a_pattern() -> None:
    rows = shaped(Shaping(include_rows=(5,), exclude_rows=(1,), patterns=("Licensed under",),
                          caps=(GroupCap("kind", "changelog", 0.5),)))
    curated = curate(SCORES, SelectionRule("top_k", 10), None, CurationSettings(decontaminate=False), shaped=rows)
    kept = curated.selection.rows.tolist()
    assert kept[0] == 5 and curated.selection.n_rows == 10 and 0 not in kept and 1 not in kept
    why = dict(zip(curated.removed["row"], curated.removed["reason"]))
    assert why[1] == HAND_EXCLUDED and why[0] == why[10] == PATTERN_EXCLUDED and why[11] == OVER_CAP
    assert curated.counts()[OVER_CAP] == sum(reason == OVER_CAP for reason in why.values())
    assert curated.removed.loc[curated.removed["row"] == 0, "reference"].item() == "Licensed under"


def test_a_pattern_runs_over_a_data_store_batch_by_batch(tmp_path) -> None:
    path = tmp_path / "pool.jsonl"
    texts = [f"line {i}" + (" SPDX-License-Identifier: MIT" if i % 997 == 0 else "") for i in range(5000)]
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    stored = open_data(DataSource("local", str(path)), cache_dir=tmp_path / "cache")
    found = rows_matching(stored.texts, r"SPDX-License-Identifier:\s+\w+")
    assert found.tolist() == [i for i in range(5000) if i % 997 == 0] == rows_matching(texts, "SPDX").tolist()


def test_a_cut_plan_goes_through_its_record_unchanged() -> None:
    plan = CutPlan.of(SelectionRule("top_k", 7), True, Shaping((3,), (1, 2), ("^#",), (GroupCap.parse("kind=*:pool"),)),
                      CurationSettings(dedup=True))
    assert CutPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_why_a_row_is_out_in_words() -> None:
    from zipfit_core.analysis.curation import BELOW_THE_CUT, why_out

    rows = shaped(Shaping(exclude_rows=(1, 39), patterns=("Licensed under",), caps=(GroupCap("kind", "changelog", 0.5),)))
    curated = curate(SCORES, SelectionRule("top_k", 10), None, CurationSettings(decontaminate=False), shaped=rows)
    assert why_out(curated, 2) is None
    assert [why_out(curated, row) for row in (0, 1, 39, 11, 38)] == [
        PATTERN_EXCLUDED, HAND_EXCLUDED, HAND_EXCLUDED, OVER_CAP, BELOW_THE_CUT]


def test_the_reasons_of_every_row_agree_with_why_out() -> None:
    from zipfit_core.analysis.curation import reasons_out, why_out

    rows = shaped(Shaping(exclude_rows=(1, 39), patterns=("Licensed under",), caps=(GroupCap("kind", "changelog", 0.5),)))
    curated = curate(SCORES, SelectionRule("top_k", 10), None, CurationSettings(decontaminate=False), shaped=rows)
    codes, labels = reasons_out(curated)
    assert len(codes) == len(SCORES) and (codes == -1).sum() == 10
    assert [None if code < 0 else labels[code] for code in codes] == [why_out(curated, row)
                                                                      for row in range(len(SCORES))]
