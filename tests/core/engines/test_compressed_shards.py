"""Compression and globs shared by the file loader and the shard reader (fsspec's codecs and glob): a shard in
every compression the loader reads loads, bad compressed data is named, and both match a pattern alike."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path

import lz4.frame
import pytest
import zstandard

from zipfit_core.cli.main import main
from zipfit_core.data.formats import COMPRESSIONS, format_of
from zipfit_core.data.loading import load_source, source_from_argument
from zipfit_core.engines.folder import read_score_folder
from zipfit_core.engines.shards import discover_shards, read_shard_texts
from zipfit_core.errors import ZipFitError
from zipfit_core.store.scores_file import read_scores

COMPRESS = {
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "lz4": lz4.frame.compress,
    # Two frames, as `zstd` writes a file appended to another: both must be read.
    "zstd": lambda data: (zstandard.ZstdCompressor().compress(data[: len(data) // 2])
                          + zstandard.ZstdCompressor().compress(data[len(data) // 2:])),
}


def jsonl(texts: list[str]) -> bytes:
    return "".join(json.dumps({"text": text}) + "\n" for text in texts).encode("utf-8")


def suffix_of(name: str) -> str:
    return "plain" if name == "plain.jsonl" else "." + name.rsplit(".", 1)[1]


def texts_for(suffix: str) -> list[str]:
    return [f"row {index} of the {suffix} shard: " + "words " * (index % 7) for index in range(60)]


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    """One JSON Lines shard per suffix the loader knows (.gz .gzip .zst .zstd .bz2 .xz .lz4), and a plain one."""
    folder = tmp_path / "shards"
    folder.mkdir()
    assert set(COMPRESSIONS.values()) == set(COMPRESS)  # a new loader compression needs a shard here too
    for suffix, codec in COMPRESSIONS.items():
        name = f"part{suffix.replace('.', '-')}.jsonl{suffix}"
        (folder / name).write_bytes(COMPRESS[codec](jsonl(texts_for(suffix))))
    (folder / "plain.jsonl").write_bytes(jsonl(texts_for("plain")))
    return folder


def test_every_compression_the_loader_reads_is_a_shard_that_loads(shards: Path) -> None:
    source = discover_shards(str(shards))
    assert source.ignored == () and len(source.shards) == len(COMPRESSIONS) + 1
    for shard in source.shards:
        suffix = suffix_of(shard.name)
        assert read_shard_texts(source, shard, "text") == texts_for(suffix), shard.name
        loaded = load_source(source_from_argument(str(shards / shard.name)))  # the file loader agrees
        assert loaded.texts == texts_for(suffix), shard.name


def test_a_folder_of_compressed_shards_scores_like_the_same_rows_in_one_file(shards: Path, tmp_path: Path) -> None:
    targets = tmp_path / "targets.jsonl"
    targets.write_bytes(jsonl(["row 3 of the shard: words words words", "an unrelated target about groups"]))
    assert main(["score", str(shards), str(targets), "--out", str(tmp_path / "scored"), "-q"]) == 0
    folder = read_score_folder(tmp_path / "scored")
    in_shard_order = sorted(path.name for path in shards.iterdir())  # shards go by name
    every_row = tmp_path / "all.jsonl"
    every_row.write_bytes(b"".join(jsonl(texts_for(suffix_of(name))) for name in in_shard_order))
    assert main(["score", str(every_row), str(targets), "--out", str(tmp_path / "all.parquet"), "-q",
                 "--no-cache"]) == 0
    assert folder.scores.tolist() == read_scores(tmp_path / "all.parquet")[0].tolist()


@pytest.mark.parametrize("suffix", sorted(COMPRESSIONS))
def test_a_damaged_compressed_shard_is_named_with_its_compression(suffix: str, tmp_path: Path) -> None:
    codec = COMPRESSIONS[suffix]
    path = tmp_path / f"bad.jsonl{suffix}"
    if codec == "zstd":  # zstandard reads a truncated frame as no data: garbage after the magic number instead
        path.write_bytes(b"\x28\xb5\x2f\xfd" + b"not a frame" * 10)
    else:
        path.write_bytes(COMPRESS[codec](jsonl(texts_for(suffix) * 50))[:-40])  # truncated
    source = discover_shards(str(path))
    with pytest.raises(ZipFitError, match=rf"bad\.jsonl{suffix}.* is not valid {codec} data"):
        read_shard_texts(source, source.shards[0], "text")
    with pytest.raises(ZipFitError, match=rf"is not valid {codec} data"):
        load_source(source_from_argument(str(path)))


def test_the_loader_and_the_shard_reader_match_a_glob_alike(tmp_path: Path) -> None:
    """fsspec's glob for both: `*` stays inside a name, `**/` spans zero or more folders, hidden entries are
    left out, a link to a file is followed."""
    root = tmp_path / "data"
    for name in ("a.jsonl", "b.jsonl.gz", "sub/c.jsonl.xz", "sub/deep/d.jsonl", ".hidden/e.jsonl", "sub/.f.jsonl",
                 "notes.txt"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        codec = format_of(name)[1]
        data = jsonl([name])
        path.write_bytes(COMPRESS[codec](data) if codec else data)
    (root / "link.jsonl").symlink_to(root / "a.jsonl")
    cases = {  # pattern: the shards' names (relative to the pattern's folder), the files' texts
        "*.jsonl*": (["a.jsonl", "b.jsonl.gz", "link.jsonl"], ["a.jsonl", "a.jsonl", "b.jsonl.gz"]),
        "**/*.jsonl": (["a.jsonl", "link.jsonl", "sub/deep/d.jsonl"], ["a.jsonl", "a.jsonl", "sub/deep/d.jsonl"]),
        "sub/**/*.jsonl*": (["c.jsonl.xz", "deep/d.jsonl"], ["sub/c.jsonl.xz", "sub/deep/d.jsonl"]),
        "s?b/*": (["sub/c.jsonl.xz"], ["sub/c.jsonl.xz"]),
    }
    for pattern, (names, texts) in cases.items():
        spec = f"{root.as_posix()}/{pattern}"
        assert [shard.name for shard in discover_shards(spec).shards] == names, pattern
        assert sorted(load_source(source_from_argument(spec)).texts) == texts, pattern
    with pytest.raises(ZipFitError, match="No file matches"):
        load_source(source_from_argument(f"{root.as_posix()}/*.parquet"))
