"""rfkit.stats: the one rule for "beyond noise" (paired differences, 95% t-interval)."""
import math

import numpy as np
import pandas as pd
import pytest

from rfkit.stats import chance_exceedances, describe, interval, mean_and_spread, paired_differences, verdict

RUNS = pd.DataFrame({"variant": ["base"] * 3 + ["rf"] * 3 + ["other"] * 3, "seed": [0, 1, 2] * 3,
                     "ndcg": [0.10, 0.12, 0.14, 0.20, 0.21, 0.22, 0.13, 0.10, 0.15]})


def test_interval_matches_a_hand_computation():
    # differences 0.10, 0.09, 0.08: mean 0.09, sd 0.01, t(0.975, 2) = 4.302653 (tables)
    result = interval([0.10, 0.09, 0.08])
    half = 4.302652729911275 * 0.01 / math.sqrt(3)
    assert result["delta"] == pytest.approx(0.09) and result["delta_std"] == pytest.approx(0.01)
    assert result["ci_low"] == pytest.approx(0.09 - half) and result["ci_high"] == pytest.approx(0.09 + half)
    assert result["n_seeds"] == 3
    one = interval([0.5])
    assert one["delta"] == 0.5 and math.isnan(one["ci_low"]) and math.isnan(one["ci_high"])


@pytest.mark.parametrize("bad", [[], [0.1, float("nan")], [[0.1, 0.2]]])
def test_interval_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="differences"):
        interval(bad)


@pytest.mark.parametrize("low, high, expected", [
    (0.01, 0.02, "better"), (-0.02, -0.01, "worse"), (-0.01, 0.02, "within noise"), (float("nan"), float("nan"), "one seed"),
])
def test_verdict(low, high, expected):
    assert verdict(low, high) == expected


def test_verdict_for_lower_is_better():
    assert verdict(0.01, 0.02, higher_is_better=False) == "worse"


def test_paired_differences_pairs_by_seed():
    table = paired_differences(RUNS, "ndcg", "base").set_index("variant")
    assert list(table.index) == ["rf", "other"]
    rf, other = table.loc["rf"], table.loc["other"]
    assert rf["delta"] == pytest.approx(0.09) and rf["verdict"] == "better" and rf["beyond_noise"]
    assert rf["baseline_mean"] == pytest.approx(0.12) and rf["treatment_mean"] == pytest.approx(0.21)
    assert rf["relative"] == pytest.approx(0.09 / 0.12)
    # other - base per seed: +0.03, -0.02, +0.01: the interval straddles 0
    assert other["delta"] == pytest.approx(0.02 / 3) and other["verdict"] == "within noise"
    assert not other["beyond_noise"]


def test_paired_differences_by_group_and_missing_values():
    table = pd.concat([RUNS.assign(bucket="head"), RUNS.assign(bucket="tail", ndcg=RUNS["ndcg"] * 2)])
    table.loc[(table["bucket"] == "tail") & (table["variant"] == "rf") & (table["seed"] == 2), "ndcg"] = np.nan
    out = paired_differences(table, "ndcg", "base", ["rf"], by=["bucket"]).set_index("bucket")
    assert out.loc["head", "n_seeds"] == 3 and out.loc["tail", "n_seeds"] == 2  # the failed run is left out
    assert out.loc["tail", "delta"] == pytest.approx(0.19)


def test_paired_differences_rejects_bad_input():
    with pytest.raises(ValueError, match="baseline 'nope'"):
        paired_differences(RUNS, "ndcg", "nope")
    with pytest.raises(ValueError, match="lacks column"):
        paired_differences(RUNS, "recall", "base")
    with pytest.raises(ValueError, match="treatments"):
        paired_differences(RUNS, "ndcg", "base", ["missing"])


def test_chance_exceedances_and_describe():
    assert chance_exceedances(20) == pytest.approx(1.0)
    row = paired_differences(RUNS, "ndcg", "base", ["rf"]).iloc[0]
    assert describe(row).startswith("+0.0900 [") and describe(row).endswith("(better)")
    with pytest.raises(ValueError):
        chance_exceedances(-1)


def test_mean_and_spread():
    summary = mean_and_spread(RUNS, "variant", ["ndcg"])
    assert summary.loc["base", "ndcg mean"] == pytest.approx(0.12) and summary.loc["rf", "ndcg std"] == pytest.approx(0.01)
