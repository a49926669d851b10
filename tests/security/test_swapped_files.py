"""A file swapped for a link between the check and the read is refused, never read (issue 21, item 2).

The race is made deterministic: the swap happens at the very moment the file is opened (our readers) or memory-
mapped (`datasets` reading a save_to_disk folder), after every check has passed, and is undone afterwards.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from tests.security.planted import SECRET, refused
from zipfit_core.data.sources import DataSource


def swap_for_link(place: Path, target: Path) -> None:
    if place.is_dir() and not place.is_symlink():
        shutil.rmtree(place)
    else:
        place.unlink()
    place.symlink_to(target, target_is_directory=target.is_dir())


@pytest.fixture
def swapped_when_opened(monkeypatch):
    """`arrange(path, place, target)`: when `path` is first opened (Python's open or os.open), `place` (the file or a
    folder above it) becomes a link to `target` just before the open happens."""
    pending: dict[str, tuple[Path, Path]] = {}

    def swapping(real_open):
        def opened(path, *args, **kwargs):
            key = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
            if key in pending:
                swap_for_link(*pending.pop(key))
            return real_open(path, *args, **kwargs)
        return opened

    monkeypatch.setattr(builtins, "open", swapping(builtins.open))
    monkeypatch.setattr(os, "open", swapping(os.open))

    def arrange(path: Path, place: Path, target: Path) -> None:
        pending[str(path)] = (place, target)
        pending[str(path.resolve())] = (place, target)
    return arrange


@pytest.mark.parametrize("name", ["data.jsonl", "data.jsonl.gz", "data.csv"])
def test_a_file_swapped_for_a_link_out_as_it_is_opened_is_refused(root, swapped_when_opened, name):
    import gzip

    outside = root.parent / "outside" / name
    body = "text\n" + SECRET.replace(":", " ") + "\n" if name.endswith(".csv") else json.dumps({"text": SECRET}) + "\n"
    inside = "text\nfine\n" if name.endswith(".csv") else json.dumps({"text": "fine"}) + "\n"
    write = (lambda path, text: path.write_bytes(gzip.compress(text.encode()))) if name.endswith(".gz") else (
        lambda path, text: path.write_text(text))
    write(outside, body)
    write(root / name, inside)
    swapped_when_opened(root / name, root / name, outside)
    refused(DataSource("local", name), root)


def test_a_folder_above_the_file_swapped_for_a_link_out_is_refused(root, swapped_when_opened):
    """The last component is a regular file then: what was opened is checked on its descriptor."""
    elsewhere = root.parent / "outside" / "sub"
    elsewhere.mkdir()
    (elsewhere / "data.jsonl").write_text(json.dumps({"text": SECRET}) + "\n")
    (root / "sub").mkdir()
    (root / "sub" / "data.jsonl").write_text(json.dumps({"text": "fine"}) + "\n")
    swapped_when_opened(root / "sub" / "data.jsonl", root / "sub", elsewhere)
    refused(DataSource("local", "sub/data.jsonl"), root)


def test_a_file_of_a_folder_swapped_as_it_is_opened_is_refused(root, swapped_when_opened):
    folder = root / "pool"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps({"text": "fine"}) + "\n")
    swapped_when_opened(folder / "a.jsonl", folder / "a.jsonl", root.parent / "outside" / "secret.jsonl")
    refused(DataSource("local", "pool"), root)


def test_a_parquet_file_swapped_as_it_is_opened_is_refused(root, monkeypatch, swapped_when_opened):
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [SECRET]}), root.parent / "outside" / "secret.parquet")
    pq.write_table(pa.table({"text": ["fine"]}), root / "data.parquet")
    swapped_when_opened(root / "data.parquet", root / "data.parquet", root.parent / "outside" / "secret.parquet")
    real_parquet = pq.ParquetFile

    def parquet_by_path(source, *args, **kwargs):  # pyarrow opens a path itself: swap there too
        if isinstance(source, str) and Path(source) == root / "data.parquet":
            swap_for_link(root / "data.parquet", root.parent / "outside" / "secret.parquet")
        return real_parquet(source, *args, **kwargs)
    monkeypatch.setattr(pq, "ParquetFile", parquet_by_path)
    refused(DataSource("local", "data.parquet"), root)


def test_a_save_to_disk_arrow_file_swapped_while_datasets_maps_it_is_refused(root, monkeypatch):
    """datasets opens the Arrow files itself: the link is there only while it maps the file, gone afterwards."""
    from datasets import Dataset

    Dataset.from_dict({"text": [SECRET]}).save_to_disk(str(root.parent / "outside" / "copy"))
    Dataset.from_dict({"text": ["fine"]}).save_to_disk(str(root / "saved"))
    arrow = json.loads((root / "saved" / "state.json").read_text())["_data_files"][0]["filename"]
    own, secret = root / "saved" / arrow, root.parent / "outside" / "copy" / arrow
    kept = own.with_name("kept.bak")
    real_map = pa.memory_map

    def swapped_while_mapped(path, *args, **kwargs):
        if Path(path) == own:
            own.rename(kept)
            own.symlink_to(secret)
            try:
                return real_map(path, *args, **kwargs)
            finally:
                own.unlink()
                kept.rename(own)
        return real_map(path, *args, **kwargs)

    monkeypatch.setattr(pa, "memory_map", swapped_while_mapped)
    refused(DataSource("local", "saved"), root)
    assert not own.is_symlink()  # the folder looks untouched afterwards: only what was mapped tells


def test_a_link_replaced_while_it_is_followed_is_a_message_not_a_crash(root, monkeypatch):
    """realpath fails with EINVAL when a link becomes a file between its lstat and its readlink."""
    import errno
    import posixpath

    (root / "data.jsonl").write_text(json.dumps({"text": "fine"}) + "\n")
    real_realpath = posixpath.realpath

    def racing(path, *args, **kwargs):
        if os.fspath(path).endswith("data.jsonl"):
            raise OSError(errno.EINVAL, "Invalid argument", os.fspath(path))
        return real_realpath(path, *args, **kwargs)

    monkeypatch.setattr(os.path, "realpath", racing)
    refused(DataSource("local", "data.jsonl"), root, said="may have changed while it was read")
