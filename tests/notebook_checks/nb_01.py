"""Checks of notebooks/01_integration.ipynb's quick run."""
import math
from typing import Any

import pandas as pd
import pytest

from rfkit.stats import chance_exceedances, paired_differences

TEST_METRICS = ("test_recall@10", "test_recall@20", "test_ndcg@10", "test_ndcg@20")


def check_differences(runs: list[dict[str, Any]], recorded: list[dict[str, Any]], verdict: dict[str, Any]) -> None:
    """The recorded RF-minus-backbone rows are the paired differences of the recorded runs."""
    table = pd.DataFrame(runs)
    assert [row["metric"] for row in recorded] == list(TEST_METRICS)
    for row in recorded:
        expected = paired_differences(table, row["metric"], "backbone", ["RF"]).iloc[0]
        by_seed = table.pivot(index="seed", columns="variant", values=row["metric"])
        assert row["delta"] == pytest.approx((by_seed["RF"] - by_seed["backbone"]).mean(), abs=1e-12)
        for key in ("delta", "ci_low", "ci_high", "baseline_mean", "treatment_mean"):
            assert row[key] == pytest.approx(expected[key], abs=1e-12)
        assert row["n_seeds"] == expected["n_seeds"] == len(by_seed) and row["verdict"] == expected["verdict"]
        assert row["ci_low"] <= row["delta"] <= row["ci_high"]
        assert (row["verdict"] in ("better", "worse")) == (row["ci_low"] > 0 or row["ci_high"] < 0)
    headline = next(row for row in recorded if row["metric"] == "test_ndcg@20")
    assert {k: verdict[k] for k in headline} == headline
    assert verdict["n_beyond_noise"] == sum(row["verdict"] in ("better", "worse") for row in recorded)
    assert verdict["n_comparisons"] == len(recorded)
    assert verdict["chance_exceedances"] == pytest.approx(chance_exceedances(len(recorded)))


def check(payload: dict[str, Any]) -> None:
    """Per-variant means/stds are those of the recorded runs; the paired verdicts and the overhead
    follow from them; the backbone spends no time in RF; during warmup RF trains exactly like the
    backbone."""
    r, p = payload["results"], payload["parameters"]
    runs, seeds = r["runs"], p["SEEDS"]
    assert r["config_matches_generator"]
    by_variant = {v: [row for row in runs if row["variant"] == v] for v in ("backbone", "RF")}
    assert set(r["per_variant"]) == set(by_variant)
    for variant, rows in by_variant.items():
        assert sorted(row["seed"] for row in rows) == seeds and len(seeds) >= 2
        stats = r["per_variant"][variant]
        for metric in ("valid_recall@20", "test_ndcg@20", "test_recall@10"):
            values = [row[metric] for row in rows]
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
            assert stats[metric] == pytest.approx({"mean": mean, "std": std}, abs=1e-12)
        for split in ("valid", "test"):  # recall@K counts hits in the top K: monotone in K
            assert all(row[f"{split}_recall@20"] >= row[f"{split}_recall@10"] for row in rows)
            assert set(stats) >= {f"{split}_{m}@{k}" for m in ("recall", "ndcg") for k in (10, 20)}
        assert all(row["best_epoch"] < row["epochs_run"] <= p["TRAINING"]["epochs"] for row in rows)
        assert all(row["mixed_at_best"] == (variant == "RF" and row["best_epoch"] >= r["warmup_epochs"])
                   for row in rows)
    assert all(row["rf_seconds"] == 0.0 for row in by_variant["backbone"])
    assert all(0.0 < row["rf_seconds"] < row["train_seconds"] for row in by_variant["RF"])
    check_differences(runs, r["differences"], r["verdict"])
    assert r["verdict"]["rf_runs_mixed_at_best"] == sum(row["mixed_at_best"] for row in by_variant["RF"])
    o = r["overhead"]
    rf_seconds = sum(row["rf_seconds"] for row in by_variant["RF"])
    assert o["share"] == pytest.approx(rf_seconds / sum(row["train_seconds"] for row in by_variant["RF"]))
    assert o["overhead"] == pytest.approx(o["share"] / (1 - o["share"]))
    assert o["within_spec_claim"] == (o["overhead"] <= 0.2)
    # The warmup identity: bit-identical losses and metrics before the warmup ends, not after.
    assert r["warmup_epochs"] >= 1 and r["warmup_prefix_seed_epochs"] == len(seeds) * r["warmup_epochs"]
    assert r["warmup_prefix_max_diff"] == 0.0 < r["after_warmup_max_diff"]
    assert len(payload["figures"]) >= 4
