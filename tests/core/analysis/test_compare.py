"""Compare: overlaps, rank correlations, composition, exclusive rows and length bias on known cases."""

from __future__ import annotations

import numpy as np
import pytest

from zipfit_core.analysis.compare import (
    compare_methods,
    composition,
    exclusive_rows,
    kept_sets,
    length_bias,
    length_profile,
    overlaps,
    rank_correlations,
    score_length_sample,
)
from zipfit_core.analysis.selection import SelectionRule
from zipfit_core.errors import ZipFitError

TOP_3 = SelectionRule("top_k", 3)

# Rows 0..5. Top 3: a keeps {0, 1, 2}; b keeps {1, 2, 4}; c keeps {3, 4, 5}.
SCORES = {
    "a": np.array([6.0, 5, 4, 3, 2, 1]),
    "b": np.array([1.0, 6, 5, 2, 4, 3]),
    "c": np.array([1.0, 2, 3, 6, 5, 4]),
}


def test_overlap_counts_and_jaccard_on_known_sets():
    table = overlaps(kept_sets(SCORES, TOP_3)).set_index(["method_a", "method_b"])
    assert table.loc[("a", "b")].to_dict() == {"kept_a": 3, "kept_b": 3, "intersection": 2, "union": 4,
                                               "jaccard": 0.5}
    assert table.loc[("a", "c"), "intersection"] == 0 and table.loc[("a", "c"), "jaccard"] == 0
    assert table.loc[("b", "c"), "intersection"] == 1 and table.loc[("b", "c"), "jaccard"] == pytest.approx(1 / 5)
    assert len(table) == 3


def test_kept_sets_follow_selection_rules_including_ties_and_token_budgets():
    tied = {"x": np.array([1.0, 1, 1, 0]), "y": np.array([0.0, 1, 1, 1])}
    kept = kept_sets(tied, SelectionRule("top_k", 2))
    assert kept["x"].rows.tolist() == [0, 1] and kept["y"].rows.tolist() == [1, 2]  # ties: lower row first
    tokens = np.array([10, 10, 10, 10])
    by_tokens = kept_sets(tied, SelectionRule("token_budget", 25), tokens)
    assert by_tokens["x"].rows.tolist() == [0, 1, 2] and by_tokens["x"].tokens_kept == 25
    by_percent = kept_sets(tied, SelectionRule("top_percent", 50))
    assert by_percent["y"].rows.tolist() == [1, 2]
    with pytest.raises(ZipFitError, match="budget"):
        kept_sets(tied, SelectionRule("threshold", 0.5))
    with pytest.raises(ZipFitError, match="different source sets"):
        kept_sets({"x": np.zeros(3), "y": np.zeros(4)}, TOP_3)


def test_rank_correlations_on_known_permutations():
    scores = {"a": np.array([1.0, 2, 3, 4]), "same": np.array([10.0, 20, 30, 40]),
              "reversed": np.array([4.0, 3, 2, 1]), "swap": np.array([1.0, 3, 2, 4])}
    table = rank_correlations(scores).set_index(["method_a", "method_b"])
    assert table.loc[("a", "same")].tolist() == pytest.approx([1.0, 1.0])
    assert table.loc[("a", "reversed")].tolist() == pytest.approx([-1.0, -1.0])
    # One adjacent swap in 4: Spearman 1 - 6*2/(4*15) = 0.8; Kendall (5 - 1)/6 = 2/3.
    assert table.loc[("a", "swap")].tolist() == pytest.approx([0.8, 2 / 3])
    constant = rank_correlations({"a": np.arange(4.0), "flat": np.ones(4)})
    assert np.isnan(constant.loc[0, "spearman"]) and np.isnan(constant.loc[0, "kendall"])


def test_composition_counts_kept_rows_per_value_beside_the_pool():
    origin = ["math", "math", "code", "prose", "code", None]
    table = composition(kept_sets(SCORES, TOP_3), origin)
    assert table["pool"].to_dict() == {"math": 2, "code": 2, "prose": 1, "(missing)": 1}
    assert table["a"].to_dict() == {"math": 2, "code": 1, "prose": 0, "(missing)": 0}
    assert table["c"].to_dict() == {"math": 0, "code": 1, "prose": 1, "(missing)": 1}
    assert table["b_share"]["math"] == pytest.approx(1 / 3)
    assert table["pool_share"].sum() == pytest.approx(1.0)
    lumped = composition(kept_sets(SCORES, TOP_3), origin, max_categories=2)
    assert lumped["pool"].to_dict() == {"math": 2, "code": 2, "(other)": 2}


def test_exclusive_rows_are_kept_by_one_method_only_in_its_rank_order():
    exclusive = exclusive_rows(kept_sets(SCORES, TOP_3))
    assert exclusive["a"].tolist() == [0]
    assert exclusive["b"].tolist() == []  # 1, 2 also in a; 4 also in c
    assert exclusive["c"].tolist() == [3, 5]
    pair = exclusive_rows(kept_sets({"a": SCORES["a"], "c": SCORES["c"]}, TOP_3))
    assert pair["c"].tolist() == [3, 4, 5]


def test_length_bias_signs_and_values():
    lengths = np.array([10, 100, 1000, 10000, 20, 200])
    scores = {"short": -np.log(lengths), "long": lengths / 1000.0, "flat": np.ones(6)}
    table = length_bias(scores, lengths).set_index("method")
    assert table.loc["short", "spearman_score_length"] == pytest.approx(-1.0)
    assert table.loc["short", "pearson_score_log_length"] == pytest.approx(-1.0)
    assert table.loc["long", "spearman_score_length"] == pytest.approx(1.0)
    assert np.isnan(table.loc["flat", "spearman_score_length"])
    with pytest.raises(ZipFitError, match="different rows"):
        length_bias({"short": np.ones(5)}, lengths)


def test_score_length_sample_uses_the_same_rows_for_every_method():
    lengths = np.arange(100)
    sample = score_length_sample({"a": np.arange(100.0), "b": -np.arange(100.0)}, lengths, max_points=10)
    rows_a = sample[sample.method == "a"].row.tolist()
    assert len(rows_a) == 10 and rows_a == sample[sample.method == "b"].row.tolist()
    assert (sample[sample.method == "b"].score == -sample[sample.method == "b"].row).all()


def test_length_profile_summarises_each_method_over_bands_of_length():
    lengths = np.arange(1, 101)
    profile = length_profile({"short": -lengths.astype(float), "long": lengths.astype(float)}, lengths, n_bins=4)
    assert len(profile) == 8 and profile["rows"].tolist() == [25] * 8
    short = profile[profile.method == "short"]
    assert short["length_low"].tolist() == [1, 26, 51, 76] and short["length_high"].tolist() == [25, 50, 75, 100]
    # Percentiles within the method: the shortest band holds short's best rows (0.76..1), long's worst.
    assert short["percentile_median"].tolist() == [0.88, 0.63, 0.38, 0.13]
    assert profile[profile.method == "long"]["percentile_median"].tolist() == [0.13, 0.38, 0.63, 0.88]
    assert (short["percentile_q25"] < short["percentile_median"]).all()
    assert (short["percentile_median"] < short["percentile_q75"]).all()
    with pytest.raises(ZipFitError, match="different rows"):
        length_profile({"a": np.ones(5)}, lengths)


def test_compare_methods_bundles_everything():
    result = compare_methods(SCORES, TOP_3, lengths=np.arange(1, 7), column_values=list("xxyyzz"))
    assert set(result.selections) == {"a", "b", "c"}
    assert len(result.overlaps) == 3 and len(result.correlations) == 3
    assert result.composition is not None and result.composition["a"].to_dict() == {"x": 2, "y": 1, "z": 0}
    assert result.length_bias is not None and len(result.length_bias) == 3
    with pytest.raises(ZipFitError, match="at least two"):
        compare_methods({"a": SCORES["a"]}, TOP_3)


# ----- the command line: zipfit score --method, zipfit compare ---------------------------------------

def write_jsonl(path, records):
    import json

    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scored_files(tmp_path_factory):
    """A labelled pool and ProofNet valid as files, scored by every method through `zipfit score`."""
    from tests.selector_data import labelled_pool
    from zipfit_core.cli.main import main

    folder = tmp_path_factory.mktemp("compare_cli")
    pool = labelled_pool(12, 6, 6)
    source = write_jsonl(folder / "pool.jsonl", [{"text": text, "origin": origin}
                                                 for text, origin in zip(pool.sources, pool.origin)])
    target = write_jsonl(folder / "valid.jsonl", [{"text": text} for text in pool.targets])
    files = {}
    for method, extra in [("zipfit", []), ("dsir", []), ("tfidf", ["--setting", "analyzer=char_wb"]),
                          ("random", ["--setting", "seed=1"]), ("zipfit-debiased", [])]:
        files[method] = folder / f"{method}.parquet"
        assert main(["score", str(source), str(target), "--method", method, *extra, "--out", str(files[method]),
                     "--quiet", "--cache-dir", str(folder / "cache")]) == 0
    return folder, source, target, files, pool


def test_score_method_writes_scores_and_the_method_spec(scored_files):
    from zipfit_core.jobs.method_scores import score_sources
    from zipfit_core.store.scores_file import read_scores

    _, _, _, files, pool = scored_files
    scores, run = read_scores(files["tfidf"])
    assert run.method == "tfidf"  # the plain name; the settings that change the scores are a dict
    assert run.settings == {"analyzer": "char_wb", "ngram_min": None, "ngram_max": None, "sublinear_tf": 1}
    assert run.codec == "none" and run.n_sources == len(pool.sources)
    np.testing.assert_array_equal(scores, score_sources("tfidf", pool.sources, pool.targets, analyzer="char_wb"))
    zipfit_scores, zipfit_run = read_scores(files["zipfit"])
    assert zipfit_run.method == "zipfit" and (zipfit_run.codec, zipfit_run.level) == ("gzip", 9)
    assert zipfit_run.settings == {"codec": "gzip", "level": 9}
    _, debiased_run = read_scores(files["zipfit-debiased"])
    assert debiased_run.method == "zipfit-debiased" and debiased_run.codec == "gzip"
    random_run = read_scores(files["random"])[1]
    assert (random_run.method, random_run.settings) == ("random", {"seed": 1})


def test_score_method_rejects_bad_settings(scored_files, capsys):
    from zipfit_core.cli.main import main

    folder, source, target, _, _ = scored_files
    out = str(folder / "bad.parquet")
    assert main(["score", str(source), str(target), "--method", "random", "--setting", "seeds=1", "--out", out]) == 2
    assert "has no setting 'seeds'" in capsys.readouterr().err
    assert main(["score", str(source), str(target), "--method", "tfidf", "--setting", "analyzer", "--out", out]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert main(["score", str(source), str(target), "--method", "dsir", "--level", "3", "--out", out]) == 2
    assert "apply to ZIP-FIT only" in capsys.readouterr().err


def test_compare_command_prints_and_writes_the_comparison(scored_files, capsys):
    import json

    from zipfit_core.cli.main import main

    folder, source, _, files, pool = scored_files
    report = folder / "compare.json"
    assert main(["compare", str(source), "--scores", *map(str, files.values()), "--top-k", "8",
                 "--column", "origin", "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    for fragment in ("overlap of kept rows", "rank correlation", "length bias", "composition by origin",
                     "tfidf(analyzer=char_wb)", "random(seed=1)"):
        assert fragment in printed
    content = json.loads(report.read_text())
    assert len(content["overlaps"]) == 10 and len(content["length_bias"]) == 5
    zipfit_rows = content["kept_rows"]["zipfit"]
    assert len(zipfit_rows) == 8 and all(pool.in_domain[row] for row in zipfit_rows)
    by_value = {record["value"]: record for record in content["composition"]}
    assert by_value["proofnet"]["zipfit"] == 8 and by_value["proofnet"]["pool"] == 12


def test_compare_json_on_stdout_and_never_over_an_input(scored_files, capsys):
    import json

    from zipfit_core.cli.main import main

    folder, source, _, files, _ = scored_files
    methods = ["--scores", str(files["zipfit"]), str(files["dsir"]), "--top-k", "8"]
    assert main(["compare", str(source), *methods, "--json"]) == 0
    printed = capsys.readouterr()
    content = json.loads(printed.out)  # stdout is the JSON alone; the tables went to stderr
    assert content["kind"] == "zipfit-compare" and len(content["kept_rows"]["zipfit"]) == 8
    assert "overlap of kept rows" in printed.err
    before = source.read_bytes()
    for existing in (source, files["dsir"]):  # an input, or a file zipfit did not write as a comparison
        assert main(["compare", str(source), *methods, "--json", str(existing)]) == 2
        assert "--json" in capsys.readouterr().err
    assert source.read_bytes() == before
    notes = folder / "notes.json"
    notes.write_text('{"mine": true}', encoding="utf-8")
    assert main(["compare", str(source), *methods, "--json", str(notes)]) == 2
    assert "was not written by zipfit" in capsys.readouterr().err and notes.read_text() == '{"mine": true}'
    report = folder / "again.json"
    for _ in range(2):  # an earlier comparison is replaced
        assert main(["compare", str(source), *methods, "--json", str(report)]) == 0
    assert json.loads(report.read_text())["kind"] == "zipfit-compare"


def test_compare_command_user_errors(scored_files, capsys):
    from zipfit_core.cli.main import main

    folder, source, target, files, _ = scored_files
    assert main(["compare", str(source), "--scores", str(files["zipfit"]), "--top-k", "3"]) == 2
    assert "at least two methods" in capsys.readouterr().err
    assert main(["compare", str(source), "--scores", str(files["zipfit"]), str(files["dsir"]), "--top-k", "3",
                 "--column", "nope"]) == 2
    assert "Column 'nope' not found" in capsys.readouterr().err
    assert main(["compare", str(target), "--scores", str(files["zipfit"]), str(files["dsir"]), "--top-k", "3"]) == 2
    assert "holds 24 scores" in capsys.readouterr().err
