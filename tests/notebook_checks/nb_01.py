"""Checks of notebooks/01_integration.ipynb's quick run."""
import math
from typing import Any

import pytest


def check(payload: dict[str, Any]) -> None:
    """Per-variant means/stds are those of the recorded runs; the verdict and the overhead follow
    from them; the backbone spends no time in RF; during warmup RF trains exactly like the backbone."""
    r, p = payload["results"], payload["parameters"]
    runs = r["runs"]
    assert r["config_matches_generator"]
    by_variant = {v: [row for row in runs if row["variant"] == v] for v in ("backbone", "RF")}
    assert set(r["per_variant"]) == set(by_variant)
    for variant, rows in by_variant.items():
        assert sorted(row["seed"] for row in rows) == p["SEEDS"] and len(rows) == p["N_SEEDS"] >= 2
        stats = r["per_variant"][variant]
        for metric in ("valid_recall@20", "test_ndcg@20", "test_recall@10"):
            values = [row[metric] for row in rows]
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
            assert stats[metric] == pytest.approx({"mean": mean, "std": std}, abs=1e-12)
        for split in ("valid", "test"):  # recall@K counts hits in the top K: monotone in K
            assert all(row[f"{split}_recall@20"] >= row[f"{split}_recall@10"] for row in rows)
            assert set(stats) >= {f"{split}_{m}@{k}" for m in ("recall", "ndcg") for k in (10, 20)}
        assert all(row["best_epoch"] < row["epochs_run"] <= p["epochs"] for row in rows)
        assert all(row["mixed_at_best"] == (variant == "RF" and row["best_epoch"] >= r["warmup_epochs"])
                   for row in rows)
    assert all(row["rf_seconds"] == 0.0 for row in by_variant["backbone"])
    assert all(0.0 < row["rf_seconds"] < row["train_seconds"] for row in by_variant["RF"])
    v, means = r["verdict"], {k: r["per_variant"][k]["test_ndcg@20"] for k in by_variant}
    assert v["delta_test_ndcg@20"] == pytest.approx(means["RF"]["mean"] - means["backbone"]["mean"])
    assert v["spread"] == pytest.approx(max(means["RF"]["std"], means["backbone"]["std"]))
    assert v["exceeds_spread"] == (abs(v["delta_test_ndcg@20"]) > v["spread"])
    assert v["rf_better"] == (v["delta_test_ndcg@20"] > 0) and v["n_seeds"] == p["N_SEEDS"]
    paired = {row["seed"]: row["test_ndcg@20"] for row in by_variant["backbone"]}
    assert v["wins"] == sum(row["test_ndcg@20"] > paired[row["seed"]] for row in by_variant["RF"])
    assert v["rf_runs_mixed_at_best"] == sum(row["mixed_at_best"] for row in by_variant["RF"])
    o = r["overhead"]
    rf_seconds = sum(row["rf_seconds"] for row in by_variant["RF"])
    assert o["share"] == pytest.approx(rf_seconds / sum(row["train_seconds"] for row in by_variant["RF"]))
    assert o["overhead"] == pytest.approx(o["share"] / (1 - o["share"]))
    assert o["within_spec_claim"] == (o["overhead"] <= 0.2)
    # The warmup identity: bit-identical losses and metrics before the warmup ends, not after.
    assert r["warmup_epochs"] >= 1 and r["warmup_prefix_seed_epochs"] == p["N_SEEDS"] * r["warmup_epochs"]
    assert r["warmup_prefix_max_diff"] == 0.0 < r["after_warmup_max_diff"]
    assert len(payload["figures"]) >= 4
