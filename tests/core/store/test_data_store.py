"""The data store: a data set converted once to Arrow on disk, then opened with its texts left on disk.

Every expectation comes from loading the same data in memory (`load_source`), the reference the store must
match row for row; the store is never checked against itself.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from zipfit_core.analysis.export import selected_table, write_table
from zipfit_core.analysis.selection import SelectionRule, TokenCounter, select
from zipfit_core.data import loading
from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource, LoadOptions, TextSpec
from zipfit_core.data.token_counts import APPROX_TOKEN, approx_token_counts
from zipfit_core.errors import ZipFitError
from zipfit_core.store import data_store
from zipfit_core.store.cache_admin import list_cache, remove_item
from zipfit_core.store.data_store import open_data, store_key
from zipfit_core.store.stored_rows import StoredTable, StoredTexts


def write_shards(folder: Path, shards: int = 3, rows: int = 7000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with open(folder / f"part-{shard}.jsonl", "w", encoding="utf-8") as handle:
            for row in range(rows):
                text = f"shard {shard} row {row}: " + "déjà vu, x = y + 1; " * (row % 13) if row % 97 else ""
                handle.write(json.dumps({"text": text, "kind": ["code", "prose", "math"][row % 3],
                                         "n": row}) + "\n")
    return folder


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("pool") / "pool")


def test_a_stored_data_set_is_row_for_row_the_loaded_one(pool, tmp_path):
    source = DataSource("local", str(pool))
    memory, stored = load_source(source), open_data(source, cache_dir=tmp_path)
    assert isinstance(stored.texts, StoredTexts) and isinstance(stored.table, StoredTable)
    assert len(stored.texts) == len(memory.texts) == 3 * (7000 - 73)  # rows with no text are dropped alike
    assert list(stored.texts) == memory.texts
    assert stored.fingerprint == memory.fingerprint
    np.testing.assert_array_equal(stored.row_ids, memory.row_ids)
    assert stored.warnings == memory.warnings and stored.text_field == memory.text_field
    assert list(stored.table.columns) == list(memory.table.columns)
    np.testing.assert_array_equal(stored.char_counts, [len(text) for text in memory.texts])
    np.testing.assert_array_equal(stored.token_counts, TokenCounter().count(memory.texts))
    # 12 bytes a row in memory, not 24: the numbers are kept as int32, the widest row id and length fit.
    assert {stored.row_ids.dtype, stored.char_counts.dtype, stored.token_counts.dtype} == {np.dtype(np.int32)}
    rows = [20000, 3, 8191, 8192, 0, 20000]  # out of order, across batches, repeated
    pd.testing.assert_frame_equal(stored.table.take(rows), memory.table.iloc[rows].reset_index(drop=True),
                                  check_dtype=False)
    assert [stored.texts[row] for row in rows] == [memory.texts[row] for row in rows]
    assert stored.texts[8185:8200] == memory.texts[8185:8200] and stored.texts[-3:] == memory.texts[-3:]
    assert stored.table["kind"].tolist() == memory.table["kind"].tolist()


def test_a_template_and_a_filter_are_stored_as_loaded(pool, tmp_path):
    source, text = DataSource("local", str(pool), limit=10000), TextSpec(template="[{kind}] {text}",
                                                                          row_filter=("kind", "code"))
    memory, stored = load_source(source, text), open_data(source, text, cache_dir=tmp_path)
    assert list(stored.texts) == memory.texts and stored.fingerprint == memory.fingerprint
    np.testing.assert_array_equal(stored.row_ids, memory.row_ids)
    assert stored.recipe == memory.recipe and stored.text_template == "[{kind}] {text}"


def test_a_converted_data_set_is_opened_not_read_again(pool, tmp_path, monkeypatch):
    source = DataSource("local", str(pool))
    first = open_data(source, cache_dir=tmp_path)
    monkeypatch.setattr(data_store, "load_stream", lambda *args, **kwargs: pytest.fail("converted again"))
    again = open_data(source, cache_dir=tmp_path)
    assert again.fingerprint == first.fingerprint and again.store_folder == first.store_folder


def test_an_edited_file_makes_a_new_store(tmp_path):
    pool = write_shards(tmp_path / "pool", shards=2, rows=50)
    source = DataSource("local", str(pool))
    before = open_data(source, cache_dir=tmp_path / "cache")
    with open(pool / "part-1.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": "one more row"}) + "\n")
    after = open_data(source, cache_dir=tmp_path / "cache")
    assert len(after.texts) == len(before.texts) + 1 and after.texts[-1] == "one more row"
    assert after.store_folder != before.store_folder


@pytest.mark.parametrize("damage", ["truncated rows", "edited manifest", "numbers gone"])
def test_a_damaged_store_is_rebuilt_never_read(tmp_path, damage):
    pool = write_shards(tmp_path / "pool", shards=2, rows=300)
    source = DataSource("local", str(pool))
    expected = load_source(source)
    folder = open_data(source, cache_dir=tmp_path / "cache").store_folder
    if damage == "truncated rows":
        with open(folder / "rows.arrow", "r+b") as handle:
            handle.truncate(os.path.getsize(folder / "rows.arrow") // 2)
    elif damage == "edited manifest":
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["rows"] -= 1
        (folder / "manifest.json").write_text(json.dumps(manifest))
    else:
        (folder / "numbers.npz").unlink()
    assert data_store.open_store(folder) is None
    rebuilt = open_data(source, cache_dir=tmp_path / "cache")
    assert list(rebuilt.texts) == expected.texts and rebuilt.fingerprint == expected.fingerprint


def test_a_half_written_store_is_never_found(tmp_path, monkeypatch):
    pool = write_shards(tmp_path / "pool", shards=3, rows=40)
    source, cache = DataSource("local", str(pool)), tmp_path / "cache"
    real = loading.LoadStream.__iter__

    def dies_after_one_piece(self):
        pieces = real(self)
        yield next(pieces)
        raise KeyboardInterrupt  # the process stopped mid-conversion

    monkeypatch.setattr(loading.LoadStream, "__iter__", dies_after_one_piece)
    with pytest.raises(KeyboardInterrupt):
        open_data(source, cache_dir=cache)
    monkeypatch.undo()
    assert list((cache / "data").iterdir()) == []  # the staging folder went with the failure
    assert len(open_data(source, cache_dir=cache).texts) == len(load_source(source).texts)


def test_bad_input_keeps_its_one_line_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ZipFitError, match="contains no rows"):
        open_data(DataSource("local", str(tmp_path / "empty.jsonl")), cache_dir=tmp_path / "cache")
    with pytest.raises(ZipFitError, match="No rows of .* have kind == 'poetry'"):
        open_data(DataSource("local", str(write_shards(tmp_path / "pool", 2, 20))),
                  TextSpec(row_filter=("kind", "poetry")), cache_dir=tmp_path / "cache")
    assert [path for path in (tmp_path / "cache" / "data").iterdir() if not path.name.startswith(".")] == []


def test_the_data_root_applies_to_conversion(tmp_path):
    root, outside = tmp_path / "root", write_shards(tmp_path / "outside", 1, 5)
    root.mkdir()
    with pytest.raises(ZipFitError, match="outside the data folder"):
        open_data(DataSource("local", str(outside)), options=LoadOptions(data_root=root), cache_dir=tmp_path / "c")


def test_an_export_from_the_store_is_byte_for_byte_the_export_from_memory(pool, tmp_path):
    source = DataSource("local", str(pool))
    memory, stored = load_source(source), open_data(source, cache_dir=tmp_path / "cache")
    scores = np.random.default_rng(0).random(len(memory.texts))
    counter = TokenCounter()
    for rule in (SelectionRule("top_percent", 40), SelectionRule("token_budget", 50_000)):
        selection = select(scores, rule, counter.count(memory.texts))
        for suffix in (".jsonl", ".csv", ".parquet"):
            written = []
            for loaded, name in ((memory, "memory"), (stored, "stored")):
                path = tmp_path / f"{name}-{rule.kind}{suffix}"
                write_table(selected_table(loaded.table, loaded.texts, loaded.text_field, scores, selection, counter),
                            path)
                written.append(pd.read_parquet(path) if suffix == ".parquet" else path.read_bytes())
            if suffix == ".parquet":
                pd.testing.assert_frame_equal(*written)
            else:
                assert written[0] == written[1]


def test_converted_data_is_listed_and_removed_by_the_cache_commands(pool, tmp_path):
    open_data(DataSource("local", str(pool)), cache_dir=tmp_path)
    (item,) = list_cache(tmp_path)
    assert item.kind == "data" and item.n_sources == 3 * (7000 - 73) and item.reusable
    assert str(pool) in item.label and item.size_bytes > 0
    remove_item(item)
    assert list_cache(tmp_path) == []


def test_the_key_names_the_recipe_and_the_files(tmp_path):
    pool = write_shards(tmp_path / "pool", 1, 5)
    source = DataSource("local", str(pool))
    keys = {store_key(source, TextSpec()), store_key(source, TextSpec(field="kind")),
            store_key(DataSource("local", str(pool), limit=3), TextSpec()),
            store_key(source, TextSpec(), LoadOptions(max_chars=10))}
    assert len(keys) == 4 and all(re.fullmatch(r"[0-9a-f]{64}", key) for key in keys)


def test_vectorised_token_counts_equal_the_regex_on_any_text():
    rng = np.random.default_rng(7)
    alphabet = [chr(code) for code in range(128)] + list("éß日—“”\xa0\u2028\u3000٣")
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 80))) for _ in range(3000)]
    texts += ["", " ", "_", "a_b c", "x\x1cy", "end."]
    expected = [len(APPROX_TOKEN.findall(text)) for text in texts]
    assert approx_token_counts(texts).tolist() == expected
    chunked = pa.chunked_array([pa.array(texts[:100]), pa.array(texts[100:])])
    assert approx_token_counts(chunked).tolist() == expected
    assert approx_token_counts(pa.array(texts).slice(5, 50)).tolist() == expected[5:55]
    # All ASCII (every byte 0-127, each class's edges): counted in place, in both offset widths, sliced.
    ascii_only = ["".join(rng.choice(alphabet[:128], size=rng.integers(0, 200))) for _ in range(3000)]
    ascii_only += ["", "@", "0_9Az", "\x1f\x20\x21", "\x08\x09\x0d\x0e", "`a{z|", "/0:9;", "@A[Z\\"]
    expected = [len(APPROX_TOKEN.findall(text)) for text in ascii_only]
    for kind in (pa.string(), pa.large_string()):
        array = pa.array(ascii_only, type=kind)
        assert approx_token_counts(array).tolist() == expected
        assert approx_token_counts(array.slice(7, 900)).tolist() == expected[7:907]
    assert approx_token_counts(pa.array(["a b", None, "c."])).tolist() == [2, 0, 2]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".arrow"])
def test_one_big_file_is_converted_a_piece_at_a_time(tmp_path, monkeypatch, suffix):
    records = pd.DataFrame({"text": [f"row {row} " + "ab " * (row % 5) for row in range(120_001)],
                            "group": [row % 4 for row in range(120_001)],
                            "kind": [["code", "prose"][row % 2] for row in range(120_001)]})
    path = tmp_path / f"big{suffix}"
    if suffix == ".jsonl":
        records.to_json(path, orient="records", lines=True)
    elif suffix == ".parquet":
        records.to_parquet(path, row_group_size=20_000)
    else:  # record batches of 10,000 rows: each piece's columns come in several Arrow chunks
        table = pa.Table.from_pandas(records, preserve_index=False)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=10_000):
                writer.write_batch(batch)
    pieces = []
    real = data_store.arrow_piece
    monkeypatch.setattr(data_store, "arrow_piece", lambda piece, *rest: pieces.append(len(piece.texts)) or
                        real(piece, *rest))
    stored = open_data(DataSource("local", str(path)), cache_dir=tmp_path / "cache")
    assert len(pieces) >= 3 and max(pieces) <= 65_536 and sum(pieces) == 120_001
    assert list(stored.texts) == records["text"].tolist()
    assert stored.table["group"].tolist() == records["group"].tolist()
    assert stored.table["kind"].tolist() == records["kind"].tolist()


def test_the_field_chosen_for_the_user_and_the_same_field_by_name_share_one_store(tmp_path, monkeypatch):
    # `zipfit score POOL` chooses the text field; `zipfit select` then asks for it by the name the scores record.
    pool = write_shards(tmp_path / "pool", 2, 30)
    automatic = open_data(DataSource("local", str(pool)), cache_dir=tmp_path / "cache")
    monkeypatch.setattr(data_store, "load_stream", lambda *args, **kwargs: pytest.fail("converted again"))
    named = open_data(DataSource("local", str(pool)), automatic.recipe.text, cache_dir=tmp_path / "cache")
    assert named.store_folder == automatic.store_folder and automatic.recipe.text.field == "text"


def test_a_globs_store_depends_on_the_files_it_matches(tmp_path):
    pool = write_shards(tmp_path / "pool", shards=2, rows=5)
    (pool / "notes.txt").write_text("not part of the pattern")
    source = DataSource("local", str(pool / "*.jsonl"))
    before = store_key(source, TextSpec())
    (pool / "notes.txt").write_text("edited, still not part of it")
    assert store_key(source, TextSpec()) == before
    with open(pool / "part-0.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": "one more row"}) + "\n")
    assert store_key(source, TextSpec()) != before


def test_a_column_that_first_appears_in_a_later_piece_is_kept(tmp_path, monkeypatch):
    """Pieces of 40 rows: `source` appears at row 90, `extra` is empty until row 130; every column is kept, null
    where a row has no value, and the store's texts and table equal the load in memory."""
    from zipfit_core.data import formats

    monkeypatch.setattr(formats, "PIECE_ROWS", 40)
    records = [{"text": f"row {i}", **({"source": f"s{i % 3}"} if i >= 90 else {}),
                "extra": None if i < 130 else i} for i in range(200)]
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    stored = open_data(DataSource("local", str(path)), cache_dir=tmp_path / "cache")
    expected = load_source(DataSource("local", str(path)))
    assert list(stored.texts) == list(expected.texts) and not stored.warnings
    def values(column):
        return [None if pd.isna(value) else value for value in column.tolist()]

    assert values(stored.table["source"])[88:92] == [None, None, "s0", "s1"]
    assert values(stored.table["extra"])[128:132] == [None, None, 130, 131]
    assert len(StoredTable(stored.store_folder / "rows.arrow")) == 200


def test_per_row_numbers_are_narrowed_only_when_every_one_fits():
    assert data_store.narrowed(np.array([0, 2**31 - 1, -2**31])).dtype == np.int32
    assert data_store.narrowed(np.array([0, 2**31])).dtype == np.int64  # a row id past int32 stays whole
    assert data_store.narrowed(np.array([-2**31 - 1])).dtype == np.int64
    assert data_store.narrowed(np.zeros(0, dtype=np.int64)).dtype == np.int32
    assert data_store.narrowed(np.array([1.5])).dtype == np.float64


def test_a_store_written_with_int64_numbers_opens_with_int32_ones(pool, tmp_path):
    source = DataSource("local", str(pool))
    stored = open_data(source, cache_dir=tmp_path)
    numbers = stored.store_folder / data_store.NUMBERS_NAME
    with np.load(numbers) as arrays:
        wide = {name: arrays[name].astype(np.int64) for name in arrays.files}
    np.savez(numbers, **wide)  # as a store written before the numbers were narrowed
    manifest = json.loads((stored.store_folder / data_store.MANIFEST_NAME).read_text())
    manifest["files"][data_store.NUMBERS_NAME] = numbers.stat().st_size
    (stored.store_folder / data_store.MANIFEST_NAME).write_text(json.dumps(manifest))
    reopened = data_store.open_store(stored.store_folder)
    assert reopened.token_counts.dtype == np.int32
    np.testing.assert_array_equal(reopened.token_counts, stored.token_counts)
    np.testing.assert_array_equal(reopened.row_ids, stored.row_ids)


def test_row_numbers_are_streamed_into_the_npz_and_narrowed_per_kind(tmp_path):
    numbers = data_store._RowNumbers(tmp_path)
    rng = np.random.default_rng(3)
    pieces = [rng.integers(0, 2**31 - 1, size) for size in (5, 0, 2**20 + 3)]  # across the copy's chunks
    for piece in pieces:
        numbers.add(row_ids=piece, chars=piece // 7, tokens=piece % 11)
    numbers.add(row_ids=[2**33], chars=[1], tokens=[1])  # one row id past int32: that kind stays int64
    numbers.close()
    numbers.write(tmp_path / "numbers.npz")
    with np.load(tmp_path / "numbers.npz", allow_pickle=False) as stored:
        whole = np.concatenate([*pieces, [2**33]])
        assert stored["row_ids"].dtype == np.int64 and stored["row_ids"].tolist() == whole.tolist()
        assert stored["chars"].dtype == np.int32 and stored["chars"].tolist() == (whole // 7)[:-1].tolist() + [1]
        assert stored["tokens"].dtype == np.int32 and stored["tokens"].tolist() == (whole % 11)[:-1].tolist() + [1]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["numbers.npz"]  # the staging files are gone
