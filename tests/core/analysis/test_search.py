"""Explore's search (analysis/search.py): a keyword or an RE2 pattern over the text or a column, column filters, a
length range; over a plain list and over a data store (batch by batch), and the pattern it records for 'never keep
all N matches'. Expected rows are written out by hand or computed with plain Python over the same rows."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from zipfit_core.analysis import search as search_module
from zipfit_core.analysis.search import RowSearch, search_rows
from zipfit_core.analysis.shaping import rows_matching
from zipfit_core.data.sources import DataSource
from zipfit_core.errors import ZipFitError
from zipfit_core.store.data_store import open_data
from zipfit_core.store.stored_rows import StoredTable, StoredTexts

TEXTS = ["see a.b here", "axb", "A.B twice a.b", "MIT License", "mit license, any case", "price (USD) [1] c++",
         "back\\slash and \\E end", "déjà vu", "DÉJÀ VU", "def main():\n    return 0", ""]
TABLE = pd.DataFrame({"text": TEXTS,
                      "kind": ["code", "prose", "code", "docs", "changelog", "prose", "code", "prose", "docs", "code",
                               None],
                      "n": list(range(len(TEXTS)))})
CHARS = np.array([len(text) for text in TEXTS])


def found(search: RowSearch, texts=TEXTS, table=TABLE, chars=CHARS) -> list[int]:
    rows = search_rows(search, texts, table, chars)
    assert rows.dtype == np.int64 and (np.diff(rows) > 0).all()
    return rows.tolist()


def test_a_keyword_is_literal_so_regex_metacharacters_match_only_themselves() -> None:
    assert found(RowSearch("a.b", case_sensitive=True)) == [0, 2]  # not "axb"
    assert found(RowSearch("(USD) [1] c++")) == [5]
    assert found(RowSearch("\\E end")) == [6] and found(RowSearch("back\\")) == [6]


def test_a_keyword_matches_any_case_unless_case_sensitive() -> None:
    assert found(RowSearch("mit license")) == [3, 4]
    assert found(RowSearch("mit license", case_sensitive=True)) == [4]
    assert found(RowSearch("déjà")) == [7, 8] and found(RowSearch("DÉJÀ", case_sensitive=True)) == [8]


def test_a_regular_expression_runs_on_re2_with_the_same_case_rule() -> None:
    assert found(RowSearch("a.b", regex=True)) == [0, 1, 2]
    assert found(RowSearch(r"^def \w+\(", regex=True)) == [9]
    assert found(RowSearch(r"^mit", regex=True)) == [3, 4]
    assert found(RowSearch(r"^mit", regex=True, case_sensitive=True)) == [4]


def test_a_query_on_a_column_matches_its_values_as_strings_and_a_missing_value_never() -> None:
    assert found(RowSearch("D", column="kind")) == [0, 2, 3, 6, 8, 9]  # code, docs
    assert found(RowSearch("^c", regex=True, case_sensitive=True, column="kind")) == [0, 2, 4, 6, 9]  # code, changelog
    assert found(RowSearch("^C", regex=True, case_sensitive=True, column="kind")) == []
    assert found(RowSearch("1", column="n")) == [1, 10]  # the numbers 1 and 10 as text
    assert found(RowSearch("none", column="kind")) == []


def test_filters_on_two_columns_and_together_and_compare_values_as_strings() -> None:
    assert found(RowSearch(filters=(("kind", ("code", "docs")),))) == [0, 2, 3, 6, 8, 9]
    assert found(RowSearch(filters=(("kind", ("code", "docs")), ("n", ("2", "3", "4", "9", "10"))))) == [2, 3, 9]
    assert found(RowSearch(filters={"kind": "prose"})) == [1, 5, 7]  # a mapping, one value
    assert found(RowSearch(filters=(("kind", ()),))) == list(range(len(TEXTS)))  # a filter with no values: none


def test_a_length_range_is_inclusive_at_both_ends() -> None:
    assert found(RowSearch(min_chars=11, max_chars=12)) == [0, 3]
    assert found(RowSearch(min_chars=21)) == [4, 6, 9]
    assert found(RowSearch(max_chars=0)) == [10]


def test_everything_together_and_an_empty_search_finds_every_row() -> None:
    together = RowSearch("A.B", filters=(("kind", ("code", "prose")),), min_chars=10)
    assert found(together) == [0, 2]
    assert RowSearch().empty and not together.empty and found(RowSearch()) == list(range(len(TEXTS)))
    assert not RowSearch(max_chars=3).empty and not RowSearch(filters={"kind": "x"}).empty


def test_describe_says_what_is_asked_in_one_phrase() -> None:
    search = RowSearch("MIT License", filters=(("kind", ("changelog", "docs")),), min_chars=100, max_chars=2000)
    assert search.describe() == "text contains “MIT License” (any case), kind is changelog or docs, 100–2,000 chars"
    assert RowSearch(r"^#", regex=True, case_sensitive=True, column="path", min_chars=5).describe() == \
        "path matches the pattern “^#”, at least 5 chars"
    assert RowSearch(filters={"kind": ("a", "b", "c")}, max_chars=1000).describe() == "kind is a, b or c, at most 1,000 chars"
    assert RowSearch().describe() == "every row"


KEYWORDS = ["a.b", "A.B", "(USD) [1] c++", "\\E end", "back\\", "\\", "\\Q", "\\E", "déjà", "DÉJÀ VU", "$", "^", " ",
            "\n    return", "mit license,"]


@pytest.mark.parametrize("case_sensitive", [False, True])
@pytest.mark.parametrize("keyword", KEYWORDS)
def test_the_pattern_of_a_keyword_finds_exactly_the_rows_the_search_finds(keyword: str, case_sensitive: bool) -> None:
    search = RowSearch(keyword, case_sensitive=case_sensitive)
    expected = [row for row, text in enumerate(TEXTS)
                if (keyword in text if case_sensitive else keyword.lower() in text.lower())]
    assert search.text_query_alone and found(search) == expected
    assert rows_matching(TEXTS, search.pattern()).tolist() == expected


@pytest.mark.parametrize("case_sensitive", [False, True])
def test_the_pattern_of_a_regular_expression_finds_exactly_the_rows_the_search_finds(case_sensitive: bool) -> None:
    search = RowSearch(r"^(mit|a\.b)|VU$", regex=True, case_sensitive=case_sensitive)
    assert rows_matching(TEXTS, search.pattern()).tolist() == found(search) != []
    assert RowSearch().pattern() is None and RowSearch(min_chars=3).pattern() is None
    assert not RowSearch("x", min_chars=3).text_query_alone and not RowSearch("x", column="kind").text_query_alone


def one_sentence(message: str) -> bool:
    return message.endswith(".") and not re.search(r"\.\s+[A-Z]", message)


@pytest.mark.parametrize(("make", "says"), [
    (lambda: RowSearch("(?<=a)b", regex=True), "not a regular expression RE2 can run"),
    (lambda: RowSearch("(unclosed", regex=True), "not a regular expression RE2 can run"),
    (lambda: RowSearch("ab" * 1_000_000), "keyword of 2,000,000 characters is too long to search for"),
    (lambda: RowSearch(min_chars=500, max_chars=100), "500–100 characters holds no text"),
    (lambda: RowSearch(min_chars=-1), "shortest length must be a whole number"),
    (lambda: RowSearch(max_chars=2.5), "longest length must be a whole number"),
    (lambda: found(RowSearch("x", column="size")), "no column 'size' to search: choose one of text, kind, n"),
    (lambda: found(RowSearch(filters={"size": "big"})), "no column 'size' to filter on: choose one of text, kind, n"),
])
def test_a_bad_search_says_what_to_change_in_one_sentence(make, says: str) -> None:
    with pytest.raises(ZipFitError, match=re.escape(says)) as raised:
        make()
    assert one_sentence(str(raised.value)), str(raised.value)


def test_a_keyword_that_looks_like_a_bad_pattern_is_a_keyword() -> None:
    assert found(RowSearch("(USD")) == [5] and RowSearch("(?<=a)b").pattern() == "(?i)\\Q(?<=a)b\\E"


# -- a data store: the same rows as the list ------------------------------------------------------------------------

N_STORED = 20_000  # three batches of the store and more


def stored_text(row: int) -> str:
    licence = ["", " MIT License", " mit LICENSE", " Apache-2.0"][row % 4] if row % 7 else ""
    return f"row {row}:" + " lorem a.b" * (row % 5) + licence + ("\ndef f(x):" if row % 11 == 0 else "")


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search")
    kinds = ["code", "prose", "docs", "changelog"]
    records = [{"text": stored_text(row), "kind": kinds[(row // 3) % 4], "n": row % 13,
                "lang": None if row % 10 == 0 else ["en", "fr"][row % 2], "part": row // 1000} for row in range(N_STORED)]
    (folder / "pool.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    stored = open_data(DataSource("local", str(folder / "pool.jsonl")), cache_dir=folder / "cache")
    assert isinstance(stored.texts, StoredTexts) and isinstance(stored.table, StoredTable)
    assert stored.table.n_batches >= 3
    table = pd.DataFrame(records)
    return stored, table["text"].tolist(), table, np.array([len(text) for text in table["text"]])


STORED_SEARCHES = [
    RowSearch("mit license"),
    RowSearch("MIT License", case_sensitive=True),
    RowSearch(r"^row \d+3:( lorem a\.b){3}$", regex=True),
    RowSearch("a.b", regex=True, filters={"kind": ("docs",)}, min_chars=30, max_chars=45),
    RowSearch("fr", column="lang"),
    RowSearch("1", column="n", filters={"kind": ("code", "prose"), "lang": "en"}),
    RowSearch("def f", filters={"n": "12"}),
    RowSearch(filters={"kind": "changelog"}, max_chars=20),
    RowSearch("row 1999", column="text", case_sensitive=True),  # the store's text column is its texts
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("search", STORED_SEARCHES, ids=lambda search: search.describe())
def test_a_stored_pool_gives_the_rows_the_same_pool_in_a_list_gives(pool, search, threads, monkeypatch) -> None:
    monkeypatch.setattr(search_module, "MATCH_THREADS", threads)
    stored, texts, table, chars = pool
    np.testing.assert_array_equal(stored.char_counts, chars)
    expected = found(search, texts, table, chars)
    assert 0 < len(expected) < N_STORED
    assert found(search, stored.texts, stored.table, stored.char_counts) == expected


def test_a_stored_pool_reads_only_the_batches_that_hold_a_candidate(pool, monkeypatch) -> None:
    stored, texts, table, chars = pool
    read = []
    original = StoredTable.read_batch
    monkeypatch.setattr(StoredTable, "read_batch", lambda self, index, columns=None: (
        read.append(index), original(self, index, columns))[1])
    search = RowSearch("mit", filters={"part": ("3", "19")})  # rows 3000-3999 (batch 0) and 19000-19999 (batch 2)
    expected = [row for row, text in enumerate(texts) if row // 1000 in (3, 19) and "mit" in text.lower()]
    assert found(search, stored.texts, stored.table, stored.char_counts) == found(search, texts, table, chars) == \
        expected != []
    assert sorted(read) == [0, 2] and stored.table.n_batches == 3


def test_a_query_on_the_stored_text_column_reads_the_texts_not_the_whole_column(pool, monkeypatch) -> None:
    stored, texts, _, _ = pool
    original = StoredTable.column
    monkeypatch.setattr(StoredTable, "column", lambda self, name: pytest.fail("read the text column whole")
                        if name == "text" else original(self, name))
    expected = [row for row, text in enumerate(texts) if "row 1999" in text]
    assert found(RowSearch("row 1999", column="text"), stored.texts, stored.table, stored.char_counts) == expected


def test_a_pattern_over_a_store_finds_the_rows_of_the_same_texts_in_a_list(pool) -> None:
    stored, texts, _, _ = pool
    pattern = RowSearch("MIT license").pattern()
    expected = [row for row, text in enumerate(texts) if "mit license" in text.lower()]
    assert rows_matching(stored.texts, pattern).tolist() == rows_matching(texts, pattern).tolist() == expected
