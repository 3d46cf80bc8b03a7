"""rfkit.lab.integration: notebook 01's RF-vs-backbone verdicts and conclusions."""
import pandas as pd
import pytest

from rfkit.config import load
from rfkit.lab.integration import (TEST_METRICS, config_chain_text, integration_conclusions, knob_sentences,
                                   knob_table, paired_by_metric, rf_verdict_sentence, within_model,
                                   within_model_sentence)

BACKBONE = [0.150, 0.160, 0.155]
WARMUP = {"epochs": 2, "prefix_max_diff": 0.0, "after_max_diff": 0.03}
OVERHEAD = {"share": 0.5, "overhead": 1.0, "epoch_time_ratio": 0.9, "mixed_overhead": 1.4}


def runs_with(rf_minus_backbone: list[float]) -> pd.DataFrame:
    """Three seeds of both variants; every test metric of RF is the backbone's plus the given shift."""
    rows = []
    for seed, (base, shift) in enumerate(zip(BACKBONE, rf_minus_backbone)):
        rows.append({"variant": "backbone", "seed": seed, "mixed_at_best": False, **{m: base for m in TEST_METRICS}})
        rows.append({"variant": "RF", "seed": seed, "mixed_at_best": seed != 2,
                     **{m: base + shift for m in TEST_METRICS}})
    return pd.DataFrame(rows)


def conclude(shifts: list[float], **overrides):
    runs = runs_with(shifts)
    return integration_conclusions(paired_by_metric(runs, TEST_METRICS, "backbone"), runs, True,
                                   overrides.get("warmup", WARMUP), overrides.get("overhead", OVERHEAD))


@pytest.mark.parametrize("shifts, verdict", [
    ([0.010, 0.011, 0.009], "better"),
    ([-0.010, -0.011, -0.009], "worse"),
    ([0.010, -0.012, 0.003], "within noise"),
])
def test_headline_verdict_follows_the_paired_interval(shifts, verdict):
    conclusions, record = conclude(shifts)
    head = record["verdict"]
    assert head["metric"] == "test_ndcg@20" and head["verdict"] == verdict and head["n_seeds"] == 3
    assert head["delta"] == pytest.approx(sum(shifts) / 3)
    assert head["ci_low"] <= head["delta"] <= head["ci_high"]
    assert conclusions[2].startswith(f"RF minus backbone, test_ndcg@20: {head['delta']:+.4f} ")
    beyond = verdict != "within noise"
    assert head["n_beyond_noise"] == (4 if beyond else 0) and head["n_comparisons"] == 4
    assert f"{head['n_beyond_noise']} of 4 paired comparisons on test metrics differ beyond noise" in conclusions[3]
    assert head["chance_exceedances"] == pytest.approx(0.05 * 4)
    assert [row["metric"] for row in record["differences"]] == list(TEST_METRICS)


def test_other_conclusions_state_the_checks():
    conclusions, record = conclude([0.01, 0.011, 0.009])
    assert "reached the generator (yes)" in conclusions[0]
    assert "During the 2-epoch warmup the generator models train exactly like the backbone" in conclusions[1]
    assert conclusions[4].startswith("2 of 3 RF runs were selected")
    assert "+100% over the host's own work (+140% in the epochs after warmup" in conclusions[5]
    assert conclusions[5].endswith("NOT met with this light backbone.") and not record["overhead"]["within_spec_claim"]
    cheap = {**OVERHEAD, "overhead": 0.15, "mixed_overhead": None}
    conclusions, record = conclude([0.01, 0.011, 0.009], overhead=cheap,
                                   warmup={"epochs": 0, "prefix_max_diff": None, "after_max_diff": 0.03})
    assert conclusions[5].endswith("is met.") and record["overhead"]["within_spec_claim"]
    assert "after warmup" not in conclusions[5] and "no warmup" in conclusions[1]
    broken = {"epochs": 2, "prefix_max_diff": 0.004, "after_max_diff": 0.03}
    assert "NOT exactly like the backbone" in conclude([0.01, 0.011, 0.009], warmup=broken).sentences[1]


def test_one_seed_gives_no_verdict_and_records_no_interval():
    runs = runs_with([0.01])
    row = paired_by_metric(runs, ["test_ndcg@20"], "backbone").iloc[0]
    assert rf_verdict_sentence(row).endswith("one seed only: no interval, hence no verdict.")
    _, record = integration_conclusions(paired_by_metric(runs, TEST_METRICS, "backbone"), runs, True, WARMUP, OVERHEAD)
    assert record["verdict"]["ci_low"] is None and record["verdict"]["verdict"] == "one seed"


def test_paired_by_metric_names_bad_input():
    runs = runs_with([0.01, 0.0, 0.0])
    with pytest.raises(ValueError, match="missing \\['test_mrr'\\]"):
        paired_by_metric(runs, ["test_mrr"], "backbone")
    with pytest.raises(ValueError, match="baseline 'base'"):
        paired_by_metric(runs, ["test_ndcg@20"], "base")
    with pytest.raises(ValueError, match="no RF row for headline metric 'valid_ndcg@20'"):
        integration_conclusions(paired_by_metric(runs, TEST_METRICS, "backbone"), runs, True, WARMUP, OVERHEAD,
                                headline="valid_ndcg@20")


def test_config_chain_text_shows_what_load_merges():
    text = config_chain_text("multimodal")
    assert text.index("# ---- rfkit/configs/rf_default.yaml") < text.index("# ---- rfkit/configs/multimodal.yaml")
    merged = load("multimodal")
    assert all(f"{key}:" in text for key in merged)
    with pytest.raises(ValueError, match="packaged config"):
        config_chain_text("no_such_config")


def with_regression(rf_minus_regression: list[float]) -> pd.DataFrame:
    """Backbone, RF (backbone + 0.01) and regression (RF minus the given shifts), three seeds."""
    runs = runs_with([0.010, 0.011, 0.009])
    regression = runs[runs["variant"] == "RF"].assign(variant="regression", mixed_at_best=True)
    for metric in TEST_METRICS:
        regression[metric] = regression[metric].to_numpy() - rf_minus_regression
    return pd.concat([runs, regression], ignore_index=True)


@pytest.mark.parametrize("shifts, words", [
    ([0.005, 0.006, 0.004], "the flow beats the point estimate beyond noise."),
    ([-0.005, -0.006, -0.004], "the point estimate beats the flow beyond noise."),
    ([0.005, -0.006, 0.001], "the flow adds nothing measurable over a point estimate here."),
])
def test_regression_rows_add_a_sentence_and_count_as_comparisons(shifts, words):
    runs = with_regression(shifts)
    differences = paired_by_metric(runs, TEST_METRICS, "backbone")
    versus = paired_by_metric(runs[runs["variant"] != "backbone"], TEST_METRICS, "regression")
    conclusions, record = integration_conclusions(differences, runs, True, WARMUP, OVERHEAD, versus)
    assert conclusions[2].startswith("RF minus backbone") and record["verdict"]["delta"] == pytest.approx(0.01)
    assert conclusions[3].startswith("Regression (a deterministic MLP") and conclusions[3].endswith(words)
    assert f"RF minus regression: {sum(shifts) / 3:+.4f}" in conclusions[3]
    assert record["verdict"]["n_comparisons"] == 12 and "of 12 paired comparisons" in conclusions[4]
    assert conclusions[5].startswith("2 of 3 RF runs")  # regression runs are not RF runs
    assert [row["variant"] for row in record["flow_vs_regression"]] == ["RF"] * 4
    with pytest.raises(ValueError, match="pass flow_vs_regression"):
        integration_conclusions(differences, runs, True, WARMUP, OVERHEAD)


def test_knob_table_pairs_each_variant_with_the_literal_one():
    literal = [0.170, 0.168, 0.172]
    shifts = {"backbone": [0.02, 0.021, 0.019], "cheap": [0.002, -0.001, 0.001], "cheapest": [-0.02, -0.021, -0.019],
              "spec-literal": [0.0, 0.0, 0.0]}
    runs = pd.DataFrame([{"variant": name, "seed": seed, "test_ndcg@20": base + shift[seed]}
                         for name, shift in shifts.items() for seed, base in enumerate(literal)])
    timings = pd.DataFrame({"s/epoch": [1.0, 1.3, 1.1, 3.0], "overhead": [0.0, 0.3, 0.1, 2.0]},
                           index=["backbone", "cheap", "cheapest", "spec-literal"])
    table = knob_table(runs, timings)
    assert list(table.index) == ["backbone", "cheapest", "cheap", "spec-literal"]  # by s/epoch
    assert table.loc["cheap", "delta"] == pytest.approx(0.002 / 3) and (table["n_seeds"] == 3).all()
    assert table.loc["spec-literal", ["delta", "ci_low", "ci_high"]].tolist() == [0.0, 0.0, 0.0]
    assert table["keeps_accuracy"].to_dict() == {"backbone": True, "cheapest": False, "cheap": True,
                                                 "spec-literal": True}
    sentences = knob_sentences(table)
    assert "  cheapest: +10% over the backbone" in sentences[2]
    assert "not shown to keep accuracy with 3 seeds" in sentences[2]
    assert sentences[-1].endswith("keeps the literal accuracy: cheap (1.30 s/epoch, +30%).")
    with pytest.raises(ValueError, match="literal 'spec-literal' must be both trained"):
        knob_table(runs[runs["variant"] != "spec-literal"], timings)


def test_within_model_pairs_each_generator_with_itself_at_ratio_0():
    rows = []
    for seed, base in enumerate(BACKBONE):
        rows.append({"variant": "backbone", "seed": seed, "generator": None, **{m: base for m in TEST_METRICS}})
        rows.append({"variant": "RF", "seed": seed, "generator": "flow", **{m: base - 0.01 for m in TEST_METRICS},
                     **{f"unmixed_{m}": base - 0.014 - 0.0005 * seed for m in TEST_METRICS}})
    within = within_model(pd.DataFrame(rows), TEST_METRICS).set_index("metric")
    assert set(within["variant"]) == {"RF"} and len(within) == len(TEST_METRICS)
    assert within.loc["test_ndcg@20", "delta"] == pytest.approx(0.0045)  # mean of 0.004, 0.0045, 0.005
    assert within.loc["test_ndcg@20", "verdict"] == "better"
    assert "RF +0.0045" in within_model_sentence(within.reset_index())
    with pytest.raises(ValueError, match="unmixed"):
        within_model(pd.DataFrame(rows).drop(columns="unmixed_test_ndcg@20"), TEST_METRICS)
