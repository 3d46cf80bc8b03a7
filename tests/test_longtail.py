"""rfkit.longtail: per-bucket scoring of trained models, paired deltas and their verdicts."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rfkit.data import load  # noqa: E402
from rfkit.lab.longtail import (ALL, BUCKET_ORDER, bucket_differences, bucket_summary, compare_buckets,  # noqa: E402
                                delta_table, score_buckets)
from rfkit.metrics import popularity_buckets, topk_metrics  # noqa: E402
from rfkit.models import MultimodalGCN  # noqa: E402
from rfkit.lab.plots import plot_bucket_bars, plot_delta_lines, plot_popularity_curve  # noqa: E402
from rfkit.train import train  # noqa: E402

SMALL = {"embedding_dim": 16, "rf_hidden_dim": 32, "rf_warmup_epochs": 1}
VARIANTS = {"backbone": {**SMALL, "use_rf": False}, "rf": {**SMALL, "use_rf": True}}
OPTIONS = {"epochs": 2, "patience": 2, "batch_size": 1024}


@pytest.fixture(scope="module")
def table(tiny):
    noisy = load("synthetic", preset="tiny", seed=0, informativeness={"image": 0.0, "text": 0.0})
    return compare_buckets(VARIANTS, [0, 1], {"clean": tiny, "noise": noisy}, **OPTIONS)


def test_bucket_summary_partitions_items_and_interactions(tiny):
    summary = bucket_summary(tiny)
    assert list(summary.index) == list(BUCKET_ORDER)
    assert summary["n_items"].sum() == tiny.n_items
    assert summary["train_share"].sum() == pytest.approx(1.0)
    assert summary["test_interactions"].sum() == len(tiny.test)
    # Head items are at least as popular as mid items, mid at least as popular as tail.
    assert (summary["min_degree"].to_numpy()[:-1] >= summary["max_degree"].to_numpy()[1:]).all()


def test_score_buckets_rows_and_identities(tiny):
    model = MultimodalGCN(VARIANTS["backbone"], tiny)
    table = score_buckets(model, tiny)
    assert list(table["split"]) == ["valid"] * 4 + ["test"] * 4
    assert list(table["bucket"]) == [*BUCKET_ORDER, ALL] * 2
    for split, rows in table.groupby("split"):
        rows = rows.set_index("bucket")
        buckets = rows.loc[list(BUCKET_ORDER)]
        assert buckets["n_items"].sum() == rows.loc[ALL, "n_items"] == tiny.n_items
        # Every hit falls in exactly one bucket.
        for k in (10, 20):
            assert (buckets[f"precision@{k}"] * buckets["n_users"]).sum() == pytest.approx(
                rows.loc[ALL, f"precision@{k}"] * rows.loc[ALL, "n_users"])
        overall = topk_metrics(model.score_all(), tiny.matrix("train"), tiny.matrix(split))
        assert rows.loc[ALL, "recall@20"] == pytest.approx(overall["recall@20"])
    metrics = table.drop(columns=["split", "bucket", "n_items", "n_users"])
    assert np.isfinite(metrics.to_numpy()).all() and metrics.ge(0).all().all() and metrics.le(1).all().all()


def test_table_shape_and_data_only_columns(table, tiny):
    assert len(table) == 2 * 2 * 2 * 2 * 4  # datasets x variants x seeds x splits x buckets
    assert list(table["dataset"].unique()) == ["clean", "noise"]
    assert list(table["variant"].unique()) == ["backbone", "rf"]
    # Bucket sizes and evaluated users depend on the data only: equal across variants, seeds and
    # (the synthetic interactions do not depend on informativeness) across datasets.
    assert table.groupby(["split", "bucket"])[["n_items", "n_users"]].nunique().eq(1).all().all()


def test_all_row_reproduces_the_trainers_test_at_best(table, tiny):
    result = train(MultimodalGCN({**VARIANTS["rf"], "seed": 1}, tiny), tiny, seed=1, progress=False, **OPTIONS)
    row = table.query("dataset == 'clean' and variant == 'rf' and seed == 1 and split == 'test' and bucket == @ALL")
    assert row["recall@20"].item() == pytest.approx(result.test_at_best["recall@20"])
    assert row["best_epoch"].item() == result.best_epoch


def test_rf_changes_the_scores_after_warmup(table):
    test = table[table["split"] == "test"].pivot_table(index=["dataset", "seed", "bucket"], columns="variant",
                                                       values="ndcg@20")
    assert not np.allclose(test["backbone"], test["rf"])


def test_bucket_differences_on_real_runs(table):
    deltas = bucket_differences(table, "backbone", "rf", "recall@20")
    assert len(deltas) == 2 * 4
    assert (deltas["n_seeds"] == 2).all()
    assert np.allclose(deltas["delta"], deltas["treatment_mean"] - deltas["baseline_mean"])
    assert set(deltas["verdict"]) <= {"better", "worse", "within noise"}
    assert (deltas["ci_low"] <= deltas["delta"]).all() and (deltas["delta"] <= deltas["ci_high"]).all()
    grid = delta_table(deltas, index="dataset")
    assert list(grid.columns) == [*BUCKET_ORDER, ALL] and list(grid.index) == ["clean", "noise"]
    first = deltas.iloc[0]
    assert f"({first['verdict']}" in grid.loc[first["dataset"], first["bucket"]]


def synthetic_table(baseline: list[float], treatment: list[float]) -> pd.DataFrame:
    rows = [{"split": "test", "dataset": "d", "bucket": "tail", "variant": variant, "seed": seed, "m": value}
            for variant, values in (("b", baseline), ("t", treatment)) for seed, value in enumerate(values)]
    return pd.DataFrame(rows)


def test_pairing_by_seed_sees_a_small_consistent_gain():
    # The seeds differ a lot, but the treatment adds 0.01 (+- 0.001) to every seed.
    table = synthetic_table([0.1, 0.3, 0.5], [0.111, 0.309, 0.510])
    row = bucket_differences(table, "b", "t", "m").iloc[0]
    assert row["delta"] == pytest.approx(0.01)
    assert row["delta_std"] == pytest.approx(0.001)
    assert row["relative"] == pytest.approx(0.01 / 0.3)
    assert row["verdict"] == "better"
    # Unpaired, the same numbers are far within noise: the seeds' spread (0.2) dwarfs the gain.
    assert table.groupby("variant")["m"].std()["b"] == pytest.approx(0.2)


def test_bucket_differences_unpaired_seeds_are_dropped_and_bad_input_raises():
    table = synthetic_table([0.2, 0.2, 0.2], [0.1, 0.3])
    row = bucket_differences(table, "b", "t", "m").iloc[0]
    assert row["n_seeds"] == 2 and row["delta"] == pytest.approx(0.0) and row["verdict"] == "within noise"
    with pytest.raises(ValueError, match="treatments"):
        bucket_differences(table[table["variant"] == "b"], "b", "x", "m")
    with pytest.raises(ValueError, match="no rows"):
        bucket_differences(table, "b", "t", "m", split="valid")


def test_compare_buckets_rejects_bad_input(tiny):
    with pytest.raises(ValueError, match="variants"):
        compare_buckets({}, [0], tiny)
    with pytest.raises(ValueError, match="seeds"):
        compare_buckets(VARIANTS, [], tiny)
    with pytest.raises(ValueError, match="datasets"):
        compare_buckets(VARIANTS, [0], {})


def test_plots_draw_bars_lines_and_the_popularity_curve(table, tiny):
    fig, (left, right) = plt.subplots(1, 2)
    plot_bucket_bars(table[table["split"] == "test"], left, "recall@20", title="bars")
    assert len(left.patches) >= 2 * 3 and left.get_title() == "bars"
    assert [t.get_text() for t in left.get_xticklabels()] == list(BUCKET_ORDER)
    fig3, single = plt.subplots()
    plot_bucket_bars(table[table["split"] == "test"], single, "recall@20", order=["tail"], legend=False)
    assert [len(bars) for bars in single.containers] == [1, 1] and single.get_legend() is None
    plt.close(fig3)
    deltas = bucket_differences(table, "backbone", "rf", "recall@20").assign(x=lambda d: d["dataset"].map({"clean": 1.0, "noise": 0.0}))
    plot_delta_lines(deltas[deltas["bucket"] != ALL], right, x="x")
    assert len(right.get_legend().get_texts()) == 3
    fig2, ax = plt.subplots()
    degree = tiny.item_popularity()
    plot_popularity_curve(degree, popularity_buckets(degree), ax, title="curve")
    assert len(ax.collections) == 3 and ax.get_yscale() == "log"
    plt.close(fig2)
    with pytest.raises(ValueError):
        plot_bucket_bars(table[table["bucket"] == ALL], left, "recall@20")
    plt.close(fig)
