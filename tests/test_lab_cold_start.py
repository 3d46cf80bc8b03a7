"""rfkit.lab.cold_start: the grid's jobs, paired comparisons and the sentences they support."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rfkit.lab.cold_start import (METHODS, METRICS, REFERENCE, RF_METHODS, Setting, cold_grid_figure, cold_job,  # noqa: E402
                                  against, cold_jobs, comparisons, conclusions, informativeness_differences,
                                  method_summary, sizing, synthetic_settings, warm_identical, with_reference)
from rfkit.stats import detectable_effect, paired_differences  # noqa: E402

SEEDS = [0, 1, 2, 3]
JITTER = np.array([0.001, -0.001, 0.002, -0.002])


def records(rf_shift, setting="real", informativeness=None, hosts=("multimodal", "lightgcn"),
            regression=0.30, oracle_shift=0.2):
    """A hand-made grid: RF variants at regression + ``rf_shift`` (per seed), other methods fixed."""
    rows = []
    for host in hosts:
        for i, seed in enumerate(SEEDS):
            own = {"zero": 0.25} if host == "multimodal" else {"untrained": 0.10}  # the host's cold row
            base = {**own, "regression": regression + JITTER[i], "random": 0.05}
            base.update({m: regression + JITTER[i] + np.asarray(rf_shift)[i] for m in RF_METHODS})
            if informativeness is not None:
                base["host_ceiling"] = regression + oracle_shift + JITTER[i]
                base["data_ceiling"] = 0.9
            for method, cold in base.items():
                rows.append({"dataset": setting.split(" ")[0], "informativeness": informativeness,
                             "setting": setting, "host": host, "method": method, "seed": seed,
                             "cold_id_rms": 0.008, "warm_id_rms": 0.24,
                             "untrained_minus_zero": 0.001 * (seed % 2) if host == "multimodal" else None,
                             "cold_recall@20": cold, "cold_ndcg@20": cold / 2,
                             "warm_recall@20": 0.2 + seed / 100 if method not in ("random", "data_ceiling") else 0.01,
                             "warm_ndcg@20": 0.1, "all_recall@20": 0.15, "all_ndcg@20": 0.12,
                             "valid_cold_recall@20": cold + 0.01 * (method == "rf_mean")})
    return rows


@pytest.mark.parametrize("shift, head", [
    (0.05 + JITTER, "RF beats regression on cold items (rf_1step, rf, rf_mean beyond noise)"),
    (-0.05 + JITTER, "regression beats every RF variant on cold items"),
    ([0.02, -0.02, 0.01, -0.01], "RF does not beat regression on cold items"),
])
def test_rf_versus_regression_sentence(shift, head):
    sentences = conclusions(records(shift)).sentences
    for host in ("multimodal", "lightgcn"):
        found = [s for s in sentences if s.startswith(f"real, {host} host: ") and "RF variant" in s
                 or s.startswith(f"real, {host} host: RF ")]
        assert len(found) == 1 and found[0].startswith(f"real, {host} host: {head}: rf_1step ")
    verdict = {"RF beats": "better in 2", "regression beats": "worse in 2", "RF does not": "within noise in 2"}
    expected = next(v for k, v in verdict.items() if head.startswith(k))
    summary = next(s for s in sentences if s.startswith("Over the 2 setting x host cells"))
    assert summary.count(expected) == 3  # each RF variant, in both cells
    assert ("could have detected" in summary) == head.startswith("RF does not")  # sized where within noise


def test_sizing_is_the_detectable_difference_of_rf_mean_minus_regression():
    shift = np.array([0.02, -0.02, 0.01, -0.01])  # rf_mean - regression per seed (the jitter cancels)
    sized = sizing(comparisons(records(shift)))
    assert list(sized["host"]) == ["multimodal", "lightgcn"] and (sized["n_seeds"] == 4).all()
    expected = detectable_effect(float(np.std(shift, ddof=1)), 4)
    assert np.allclose(sized["detectable"], expected)
    wider = sizing(comparisons(records(3 * shift)))
    assert np.allclose(wider["detectable"], 3 * expected)  # proportional to the paired spread
    sentences = [s for s in conclusions(records(shift)).sentences if "can detect a difference" in s]
    assert len(sentences) == 2 and all(f"{expected:.4f} or more" in s for s in sentences)


def test_comparisons_pair_each_couple_once_and_match_stats():
    table = pd.DataFrame(records(0.05 + JITTER))
    diffs = comparisons(table)
    # multimodal: zero vs 5 others, regression vs 4; lightgcn: untrained vs 5, regression vs 4; 4 metrics each
    assert len(diffs) == (5 + 4 + 5 + 4) * 4
    for host, rows in diffs.groupby("host"):
        couples = rows[rows["metric"] == "cold_recall@20"][["baseline", "method"]]
        assert not couples.duplicated().any()
        assert not ((couples["baseline"] == "regression") & couples["method"].isin(["untrained", "zero"])).any()
        own = "zero" if host == "multimodal" else "untrained"
        assert ((couples["baseline"] == own) & (couples["method"] == "regression")).sum() == 1
        assert ("zero" in set(couples["baseline"])) == (host == "multimodal") != ("untrained" in set(couples["baseline"]))
    row = diffs[(diffs["host"] == "lightgcn") & (diffs["baseline"] == "regression") & (diffs["method"] == "rf")
                & (diffs["metric"] == "cold_recall@20")].iloc[0]
    assert row["delta"] == pytest.approx(0.05 + JITTER.mean())
    expected = paired_differences(table[table["host"] == "lightgcn"], "cold_recall@20", "regression", ["rf"],
                                  variant="method").iloc[0]
    assert row["ci_low"] == pytest.approx(expected["ci_low"]) and row["verdict"] == "better"
    assert set(diffs["metric"]) == {"cold_recall@20", "cold_ndcg@20", "all_recall@20", "all_ndcg@20"}


def test_zero_ceilings_and_validation_sentences():
    sentences = conclusions(records(-0.05 + JITTER, setting="syn s=1", informativeness=1.0)).sentences
    zero = next(s for s in sentences if "content branch alone (zero" in s)
    # validation prefers regression (RF is 0.05 below); it beats zero (0.25) by ~0.05
    assert zero.startswith("syn s=1, multimodal host: the mapper the cold validation half prefers (regression) adds to")
    assert ": +0.0500 [+0.0" in zero and zero.endswith("(better).")  # regression - zero
    ceilings = [s for s in sentences if "the ceilings: the data's ceiling" in s]
    assert len(ceilings) == 2 and all("(cold items ranked by the planted user x item factors) 0.9000" in s
                                      and "host's ceiling minus regression: +0.2000 [" in s and s.endswith("(better).")
                                      for s in ceilings)
    why = next(s for s in sentences if "never received a gradient" in s)
    assert "RMS per coordinate is 0.0080 against the warm rows' 0.2400" in why and "difference in cold Recall@20 0.0010" in why
    picks = [s for s in sentences if "validation half picks" in s]
    # the ceilings score highest on validation here, but no user can deploy planted factors
    assert len(picks) == 2 and all("deployable methods the cold validation half picks regression" in s for s in picks)
    assert not any("content branch" in s or "ceilings: the data" not in s and "data_ceiling" in s
                   for s in sentences if "lightgcn" in s and "mean cold Recall" not in s)
    # the mapper is chosen on validation: rf_mean's valid score (+0.01) wins a test tie with regression
    tie = conclusions(records(0.0 * JITTER)).sentences
    assert any("prefers (rf_mean) adds to" in s for s in tie)


def test_informativeness_trend_and_chance_count():
    table = records(0.0 * JITTER, setting="syn s=0", informativeness=0.0, regression=0.2) \
        + records(0.0 * JITTER + 0.03, setting="syn s=1", informativeness=1.0, regression=0.4)
    trend = informativeness_differences(table)
    assert set(trend["method"]) == set(METHODS) - {REFERENCE} and set(trend["high"]) == {1.0} and set(trend["low"]) == {0.0}
    reg = trend[(trend["method"] == "regression") & (trend["host"] == "lightgcn")].iloc[0]
    assert reg["delta"] == pytest.approx(0.2) and reg["verdict"] == "better"
    untrained = trend[(trend["method"] == "untrained")].iloc[0]
    assert untrained["delta"] == pytest.approx(0.0) and untrained["verdict"] == "within noise"
    sentences, numbers = conclusions(table)
    assert "syn, lightgcn host: regression's cold Recall@20 goes from 0.2000 at s=0 to 0.4000 at s=1" in \
        " ".join(sentences)
    assert numbers["n_verdicts"] == len(comparisons(table)) + len(trend) == len(numbers["differences"]) + len(trend)
    assert informativeness_differences(records(JITTER)).empty  # real data only: no trend


def test_warm_identity_and_summary():
    table = records(JITTER)
    assert warm_identical(table)
    table[1]["warm_recall@20"] += 1e-9  # a cold method that leaked into a warm score
    assert not warm_identical(table)
    summary = method_summary(records(JITTER))
    row = summary[(summary["host"] == "lightgcn") & (summary["method"] == "regression")].iloc[0]
    assert row["mean"] == pytest.approx(0.30) and row["ci_low"] < 0.30 < row["ci_high"]
    assert row["n_seeds"] == 4
    with pytest.raises(ValueError, match="lacks column"):
        conclusions([{"setting": "x"}])


def test_figure_has_a_panel_per_host_and_group():
    table = records(JITTER, setting="real") + records(JITTER, setting="syn s=0", informativeness=0.0) \
        + records(JITTER, setting="syn s=1", informativeness=1.0)
    fig = cold_grid_figure(method_summary(table), [["real"], ["syn s=0", "syn s=1"]],
                           ["multimodal", "lightgcn"], "cold Recall@20")
    assert len(fig.axes) == 4
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["syn s=0", "syn s=1"]
    assert [ax.get_legend() is not None for ax in fig.axes] == [False, True, False, True]
    plt.close(fig)
    only_real = method_summary(records(JITTER, setting="real", hosts=("multimodal",)))
    fig = cold_grid_figure(only_real, [["real"], ["syn s=0"]], ["multimodal"], "cold Recall@20")
    assert fig.axes[1].get_title() == "multimodal host: not run here" and not fig.axes[1].axison
    assert fig.axes[0].get_legend() is not None
    plt.close(fig)


def test_cold_job_on_tiny_synthetic_data():
    settings = synthetic_settings("tiny", [1.0], seed=0)
    assert settings[0].label == "synthetic_tiny s=1" and settings[0].item_factors is not None
    jobs = cold_jobs(settings, ["lightgcn"], [0], cold_fraction=0.4,
                     config={"embedding_dim": 16, "learning_rate": 1e-2, "rf_hidden_dim": 32,
                             "rf_sampling_steps": 3},
                     train_options={"epochs": 2, "batch_size": 512}, generator_steps=20, samples=2)
    rows = cold_job(**jobs[0])
    assert [r["method"] for r in rows] == ["untrained", *RF_METHODS, "regression", "host_ceiling", "data_ceiling",
                                           "random"]
    assert all(r["informativeness"] == 1.0 and r["setting"] == "synthetic_tiny s=1" for r in rows)
    assert all(0.0 <= r[m] <= 1.0 for r in rows for m in METRICS)
    assert warm_identical(rows)
    with pytest.raises(ValueError, match="hosts"):
        cold_jobs(settings, ["mf"], [0])
    assert Setting(settings[0].dataset).label == "synthetic_tiny"


def test_against_mirrors_pairs_stored_the_other_way():
    table = pd.DataFrame(records(-0.05 + JITTER))
    diffs = comparisons(table)
    versus = against(diffs, "regression")
    multimodal = versus[versus["host"] == "multimodal"].set_index("method")
    assert sorted(multimodal.index) == sorted(["zero", *RF_METHODS, "random"])
    lightgcn = versus[versus["host"] == "lightgcn"].set_index("method")
    assert set(versus["baseline"]) == {"regression"} and set(versus["metric"]) == {"cold_recall@20"}
    # untrained - regression: stored as regression - untrained, so mirrored
    direct = paired_differences(table[table["host"] == "lightgcn"], "cold_recall@20", "regression",
                                ["untrained"], variant="method").iloc[0]
    row = lightgcn.loc["untrained"]
    assert (row["delta"], row["ci_low"], row["ci_high"]) == pytest.approx(
        (direct["delta"], direct["ci_low"], direct["ci_high"]))
    assert row["verdict"] == direct["verdict"] == "worse"
    assert row["baseline_mean"] == pytest.approx(0.30) and row["treatment_mean"] == pytest.approx(0.10)
    assert multimodal.loc["rf", "verdict"] == "worse" and multimodal.loc["rf", "delta"] == pytest.approx(-0.05)


def test_the_reference_pairs_with_every_host_and_stays_out_of_the_hosts_choices():
    """Cornac's VBPR (one model per setting and seed) is copied into each host's rows; its warm
    metrics differ (no host of ours) without breaking the warm identity; the conclusions compare
    it with regression, and the validation half's pick among a host's methods never names it."""
    table = pd.DataFrame(records(0.0 * JITTER))
    reference = pd.DataFrame([{"dataset": "real", "informativeness": None, "setting": "real", "method": REFERENCE,
                               "seed": seed, "cold_recall@20": 0.5 + JITTER[i], "cold_ndcg@20": 0.25,
                               "warm_recall@20": 0.9, "warm_ndcg@20": 0.5, "all_recall@20": 0.3,
                               "all_ndcg@20": 0.2, "valid_cold_recall@20": 0.99}
                              for i, seed in enumerate(SEEDS)])
    combined = with_reference(table, reference)
    copies = combined[combined["method"] == REFERENCE]
    assert len(copies) == 2 * len(SEEDS) and set(copies["host"]) == {"multimodal", "lightgcn"}
    assert warm_identical(combined)
    sentences = conclusions(combined).sentences
    versus = [s for s in sentences if "Cornac's VBPR" in s]
    assert len(versus) == 2 and all("minus regression: +0.2000 [" in s and "(better)" in s for s in versus)
    picks = [s for s in sentences if "the cold validation half picks" in s]
    assert len(picks) == 2 and not any(REFERENCE in s for s in picks)
