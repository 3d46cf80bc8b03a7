"""rfkit.lab.longtail's conclusions: per-bucket verdicts, the trend over informativeness, the claim."""
import pandas as pd
import pytest

from rfkit.lab.longtail import ALL, bucket_differences, conclusions, gain_trend, real_conclusions, sweep_conclusions
from rfkit.stats import describe

SEEDS = (0, 1, 2)
CONSISTENT, MIXED = (0.010, 0.012, 0.011), (0.010, -0.010, 0.002)


def runs(gains, informativeness=None):
    """Test rows of backbone and backbone + RF per seed, where RF minus backbone is gains[bucket] per seed."""
    rows = []
    for bucket, per_seed in gains.items():
        for seed, gain in zip(SEEDS, per_seed):
            base = 0.2 + 0.05 * seed  # seed noise far above the effects: only pairing sees them
            for variant, value in (("backbone", base), ("backbone + RF", base + gain)):
                rows.append({"split": "test", "bucket": bucket, "variant": variant, "seed": seed,
                             "recall@20": value, "informativeness": informativeness})
    return pd.DataFrame(rows)


def sweep(gains_by_s):
    return pd.concat([runs(gains, s) for s, gains in gains_by_s.items()], ignore_index=True)


def neg(gains):
    return tuple(-g for g in gains)


def test_real_conclusions_say_better_worse_and_within_noise():
    table = runs({"head": neg(CONSISTENT), "mid": CONSISTENT, "tail": CONSISTENT, ALL: MIXED})
    deltas = bucket_differences(table, "backbone", "backbone + RF", "recall@20", by=["bucket"])
    sentences, flags = real_conclusions(deltas, "movielens", "recall@20")
    assert sentences[0].startswith("movielens, test recall@20, RF minus backbone per bucket")
    assert "3 seeds" in sentences[0]
    assert sentences[1].startswith("  head: -0.0110 [") and "(worse); backbone 0.2500, -4% relative" in sentences[1]
    assert sentences[5].startswith("  => on movielens, RF is better on mid, tail, worse on head, within noise on no "
                                   "bucket; test recall@20 RF minus backbone on tail items +0.0110 [")
    all_row = deltas.set_index("bucket").loc[ALL]
    assert sentences[5].endswith(f"on all items {describe(all_row)}.") and "(within noise;" in sentences[5]
    assert "trades accuracy on popular items" in sentences[6] and flags["trades_head_for_tail"]
    assert flags["rf_better_real"] == {"head": False, "mid": True, "tail": True, ALL: False}
    assert flags["rf_worse_real"]["head"] and flags["real_verdicts"][ALL] == "within noise"


def test_real_conclusions_without_a_trade():
    table = runs({"head": MIXED, "mid": MIXED, "tail": neg(CONSISTENT), ALL: MIXED})
    sentences, flags = real_conclusions(bucket_differences(table, "backbone", "backbone + RF", "recall@20",
                                                           by=["bucket"]), "movielens", "recall@20")
    assert "RF is better on no bucket, worse on tail, within noise on head, mid" in sentences[-1]
    assert not flags["trades_head_for_tail"]


def test_gain_trend_is_the_paired_difference_of_gains():
    table = sweep({0.0: {"tail": MIXED}, 1.0: {"tail": CONSISTENT}})
    trend = gain_trend(table, "backbone", "backbone + RF", "recall@20")
    assert list(trend["informativeness"]) == [1.0] and list(trend["bucket"]) == ["tail"]
    per_seed = [c - m for c, m in zip(CONSISTENT, MIXED)]
    assert trend["delta"].iloc[0] == pytest.approx(sum(per_seed) / 3)
    with pytest.raises(ValueError, match="at least two values"):
        gain_trend(sweep({0.0: {"tail": MIXED}}), "backbone", "backbone + RF", "recall@20")


@pytest.mark.parametrize("mid_tail, claim, better_at", [
    ({0.0: MIXED, 0.5: CONSISTENT, 1.0: CONSISTENT}, "holds", [0.5, 1.0]),
    ({0.0: MIXED, 0.5: CONSISTENT, 1.0: MIXED}, "holds only in part", [0.5]),
    ({0.0: CONSISTENT, 0.5: CONSISTENT, 1.0: CONSISTENT}, "holds only in part", [0.0, 0.5, 1.0]),
    ({0.0: MIXED, 0.5: MIXED, 1.0: neg(CONSISTENT)}, "is not supported", []),
])
def test_sweep_conclusions_test_the_information_claim_at_every_value(mid_tail, claim, better_at):
    table = sweep({s: {"head": MIXED, "mid": gains, "tail": gains, ALL: MIXED} for s, gains in mid_tail.items()})
    deltas = bucket_differences(table, "backbone", "backbone + RF", "recall@20", by=["informativeness", "bucket"])
    trend = gain_trend(table, "backbone", "backbone + RF", "recall@20")
    sentences, flags = sweep_conclusions(deltas, trend, "recall@20")
    assert flags["information_claim"] == claim
    assert flags["sweep_better_at"]["tail"] == better_at and flags["sweep_better_at"]["head"] == []
    assert sentences[-1].startswith(f"'RF helps mid and tail only when the features carry information' {claim}")
    where = ", ".join(f"s={s}" for s in better_at) or "no value tried"  # not "no informativeness" (s = 0)
    assert f"tail at {where}" in sentences[-1]
    tail = next(s for s in sentences if s.startswith("synthetic tail"))
    assert tail.count("(better)") >= len(better_at) and "gain at s minus gain at s=0.0" in tail


def test_the_gain_peak_is_where_the_mean_gain_is_largest():
    big = (0.03, 0.031, 0.032)
    table = sweep({0.0: {"mid": MIXED, "tail": MIXED}, 0.5: {"mid": MIXED, "tail": big},
                   1.0: {"mid": MIXED, "tail": CONSISTENT}})
    deltas = bucket_differences(table, "backbone", "backbone + RF", "recall@20", by=["informativeness", "bucket"])
    trend = gain_trend(table, "backbone", "backbone + RF", "recall@20")
    flags = sweep_conclusions(deltas, trend, "recall@20").numbers
    # At s=1 RF beats the backbone beyond noise, but its gain over s=0 (0, +0.022, +0.009) is within noise.
    assert flags["sweep_better_at"]["tail"] == [0.5, 1.0]
    assert flags["gain_peaks_at"]["tail"] == 0.5 and flags["gain_grows_at"] == {"mid": [], "tail": [0.5]}
    with pytest.raises(ValueError, match="'mid' and 'tail'"):
        sweep_conclusions(deltas[deltas.bucket == "tail"], trend, "recall@20")


def versus_regression(gains, informativeness=None):
    """RF minus regression rows: `runs` with the regression baseline in the backbone's place."""
    return runs(gains, informativeness).replace({"variant": {"backbone": "backbone + regression"}})


def test_conclusions_compare_rf_with_regression_and_end_with_the_chance_count():
    real = runs({"head": neg(CONSISTENT), "mid": CONSISTENT, "tail": MIXED, ALL: MIXED})
    table = sweep({s: {"head": MIXED, "mid": MIXED, "tail": MIXED, ALL: MIXED} for s in (0.0, 1.0)})
    real_vs = versus_regression({"head": CONSISTENT, "mid": MIXED, "tail": neg(CONSISTENT), ALL: MIXED})
    sweep_vs = pd.concat([versus_regression({"head": MIXED, "mid": MIXED, "tail": MIXED, ALL: CONSISTENT}, s)
                          for s in (0.0, 1.0)], ignore_index=True)
    sentences, flags = conclusions(bucket_differences(real, "backbone", "backbone + RF", "recall@20", by=["bucket"]),
                                   bucket_differences(table, "backbone", "backbone + RF", "recall@20",
                                                      by=["informativeness", "bucket"]),
                                   gain_trend(table, "backbone", "backbone + RF", "recall@20"), "movielens",
                                   "recall@20",
                                   bucket_differences(real_vs, "backbone + regression", "backbone + RF", "recall@20",
                                                      by=["bucket"]),
                                   bucket_differences(sweep_vs, "backbone + regression", "backbone + RF", "recall@20",
                                                      by=["informativeness", "bucket"]))
    assert flags["flow_vs_regression_real"] == {"head": "better", "mid": "within noise", "tail": "worse",
                                                ALL: "within noise"}
    assert flags["flow_vs_regression_sweep"] == {s: {"head": "within noise", "mid": "within noise",
                                                     "tail": "within noise", ALL: "better"} for s in (0.0, 1.0)}
    regression = [line for line in sentences if "RF minus regression" in line]
    assert regression[0].startswith("movielens, test recall@20, RF minus regression per bucket")
    assert "head: +0.0110 [" in regression[0] and "(better)" in regression[0] and "(worse)" in regression[0]
    assert regression[1].startswith("synthetic s=0.0, RF minus regression: better on no bucket, worse on no bucket")
    assert flags["n_verdicts"] == 4 + 8 + 4 + 4 + 8
    assert sentences[-1].startswith("6 of these 28 verdicts exceed noise")


def test_cells_at_the_floor_get_no_verdict():
    """Where the backbone retrieves (almost) nothing in a bucket, RF's difference compares near-zeros:
    the sentence says so, and the claim is judged on the other cells only."""
    table = sweep({0.0: {"head": MIXED, "mid": CONSISTENT, "tail": CONSISTENT, ALL: MIXED},
                   1.0: {"head": MIXED, "mid": CONSISTENT, "tail": CONSISTENT, ALL: MIXED}})
    at_floor = (table["informativeness"] == 0.0) & table["bucket"].isin(["mid", "tail"])
    table.loc[at_floor, "recall@20"] -= 0.2 + 0.05 * table.loc[at_floor, "seed"] - 0.001  # backbone ~0.001
    deltas = bucket_differences(table, "backbone", "backbone + RF", "recall@20", by=["informativeness", "bucket"])
    sentences, flags = sweep_conclusions(deltas, gain_trend(table, "backbone", "backbone + RF", "recall@20"),
                                         "recall@20")
    floor = next(s for s in sentences if s.startswith("At s=0.0"))
    assert floor.startswith("At s=0.0 the backbone's test recall@20 on mid and tail is at the floor (0.0010, 0.0010")
    assert "s=0.0: at the floor (backbone 0.0010, RF 0.0120)" in next(s for s in sentences if s.startswith("synthetic mid"))
    # RF is better at s=1 (the only value compared) and nowhere else: the claim holds
    assert flags["sweep_better_at"]["mid"] == [1.0] and flags["information_claim"] == "holds"
    assert sentences[-1].endswith("tail at s=1.0 (compared at s = 1.0).")
