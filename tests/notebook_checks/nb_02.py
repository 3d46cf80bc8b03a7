"""Checks of notebooks/02_warmup_effects.ipynb's quick run."""
from typing import Any

import pytest


def check(payload: dict[str, Any]) -> None:
    """Scores equal the backbone's exactly during warmup and differ after; runs differing only in
    warmup coincide until the shorter warmup ends; per-run flags and the verdict follow the numbers."""
    r, p = payload["results"], payload["parameters"]
    ident = r["identity"]
    gaps = {int(e): g for e, g in ident["gaps"].items()}
    assert sorted(gaps) == list(range(p["IDENTITY_EPOCHS"] + 1))
    assert all(g == 0.0 for e, g in gaps.items() if e < p["IDENTITY_WARMUP"])
    assert all(g > 1e-6 for e, g in gaps.items() if e >= p["IDENTITY_WARMUP"])
    assert ident["max_gap_in_warmup"] == 0.0 < ident["min_gap_after_warmup"]
    assert ident["restored_epoch"] == ident["best_epoch"] < p["IDENTITY_EPOCHS"]
    shared = r["shared_prefix"]
    assert shared["seed_epochs"] >= 1 and shared["max_diff"] == 0.0
    assert shared["min_diff_after"] > 0 and all(pair["after"] > 0 for pair in shared["pairs"])
    warmups = p["WARMUPS"]
    assert p["PATIENCE"] > max(warmups)
    assert sorted(int(w) for w in r["per_warmup"]) == sorted(warmups) and len(warmups) >= 2
    runs = r["runs"]
    assert len(runs) == len(warmups) * p["N_SEEDS"]
    for row in runs:
        assert row["variant"] == f"warmup {row['warmup_epochs']}"
        assert row["mixed_at_best"] == (row["best_epoch"] >= row["warmup_epochs"])
        assert row["stopped_before_mixing"] == (row["epochs_run"] <= row["warmup_epochs"])
        assert row["best_epoch"] < row["epochs_run"] <= p["epochs"]
    assert r["early_stopping"]["n_stopped_before_mixing"] == sum(row["stopped_before_mixing"] for row in runs)
    assert r["early_stopping"]["n_best_in_warmup"] == sum(not row["mixed_at_best"] for row in runs)
    baseline = r["per_warmup"][str(min(warmups))]["test_ndcg@20"]
    for w in warmups:
        v, stats = r["verdict"][f"warmup {w}"], r["per_warmup"][str(w)]["test_ndcg@20"]
        assert v["delta_test_ndcg@20"] == pytest.approx(stats["mean"] - baseline["mean"])
        assert v["spread"] == pytest.approx(max(stats["std"], baseline["std"]))
        assert v["exceeds_spread"] == (abs(v["delta_test_ndcg@20"]) > v["spread"])
        values = [row["valid_recall@20"] for row in runs if row["warmup_epochs"] == w]
        assert r["valid_recall20_means"][f"warmup {w}"] == pytest.approx(sum(values) / len(values))
    means = r["valid_recall20_means"]
    assert r["chosen_by_validation"] == max(means, key=means.get)
    assert len(payload["figures"]) >= 3
