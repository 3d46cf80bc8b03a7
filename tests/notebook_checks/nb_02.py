"""Checks of notebooks/02_warmup_effects.ipynb's quick run."""
from typing import Any

import pandas as pd
import pytest

from rfkit.stats import chance_exceedances, interval, paired_differences

VERDICT_METRICS = ("test_recall@20", "test_ndcg@20")


def check_differences(r: dict[str, Any], warmups: list[int]) -> None:
    """Each longer warmup minus the shortest, per metric: the paired differences of the recorded runs."""
    table, baseline = pd.DataFrame(r["runs"]), f"warmup {min(warmups)}"
    assert r["baseline"] == baseline
    rows = r["differences"]
    assert {(row["variant"], row["metric"]) for row in rows} == \
        {(f"warmup {w}", m) for w in warmups if w != min(warmups) for m in VERDICT_METRICS}
    for row in rows:
        expected = paired_differences(table, row["metric"], baseline, [row["variant"]]).iloc[0]
        by_seed = table.pivot(index="seed", columns="variant", values=row["metric"])
        assert row["delta"] == pytest.approx((by_seed[row["variant"]] - by_seed[baseline]).mean(), abs=1e-12)
        for key in ("delta", "ci_low", "ci_high", "baseline_mean", "treatment_mean"):
            assert row[key] == pytest.approx(expected[key], abs=1e-12)
        assert row["n_seeds"] == expected["n_seeds"] == len(by_seed) and row["verdict"] == expected["verdict"]
        assert (row["verdict"] in ("better", "worse")) == (row["ci_low"] > 0 or row["ci_high"] < 0)
    assert r["n_beyond_noise"] == sum(row["verdict"] in ("better", "worse") for row in rows)
    assert r["n_comparisons"] == len(rows)
    assert r["chance_exceedances"] == pytest.approx(chance_exceedances(len(rows)))


def check_warmup_rf_time(r: dict[str, Any], warmups: list[int]) -> None:
    """Every warmup epoch of a longer warmup is paired with the same seed and epoch of the shortest
    warmup, which mixes there; warmup skips generation, so on average those epochs are cheaper."""
    recorded = r["warmup_rf_seconds"]
    pairs, summary = recorded["pairs"], recorded["summary"]
    shortest = min(warmups)
    mixing = {row["seed"]: row["epochs_run"] for row in r["runs"] if row["warmup_epochs"] == shortest}
    expected = {(row["variant"], row["seed"], epoch) for row in r["runs"]
                for epoch in range(shortest, min(row["warmup_epochs"], row["epochs_run"], mixing[row["seed"]]))}
    assert {(row["variant"], row["seed"], row["epoch"]) for row in pairs} == expected and expected
    units = pd.DataFrame(pairs).groupby(["seed", "epoch"])[["warmup_s", "mixed_s"]].mean()
    paired = interval(units["warmup_s"] - units["mixed_s"])
    assert summary["pairs"] == len(units) and summary["delta"] == pytest.approx(paired["delta"])
    assert (summary["ci_low"], summary["ci_high"]) == pytest.approx((paired["ci_low"], paired["ci_high"]))
    assert summary["verdict"] == ("warmup cheaper" if paired["ci_high"] < 0 else
                                  "warmup costlier" if paired["ci_low"] > 0 else "within noise")
    # (that a warmup pass generates nothing is a count, not a timing: tests/test_models.py checks it)


def check(payload: dict[str, Any]) -> None:
    """Scores equal the backbone's exactly during warmup and differ after; runs differing only in
    warmup coincide until the shorter warmup ends; warmup epochs spend less time in RF calls; per-run
    flags and the paired verdicts follow the numbers."""
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
    assert len(runs) == len(warmups) * len(p["SEEDS"])
    for row in runs:
        assert row["variant"] == f"warmup {row['warmup_epochs']}"
        assert row["mixed_at_best"] == (row["best_epoch"] >= row["warmup_epochs"])
        assert row["stopped_before_mixing"] == (row["epochs_run"] <= row["warmup_epochs"])
        assert row["best_epoch"] < row["epochs_run"] <= p["TRAINING"]["epochs"]
    assert r["early_stopping"]["n_stopped_before_mixing"] == sum(row["stopped_before_mixing"] for row in runs)
    assert r["early_stopping"]["n_best_in_warmup"] == sum(not row["mixed_at_best"] for row in runs)
    check_differences(r, warmups)
    check_warmup_rf_time(r, warmups)
    for w in warmups:
        values = [row["valid_recall@20"] for row in runs if row["warmup_epochs"] == w]
        assert r["valid_recall20_means"][f"warmup {w}"] == pytest.approx(sum(values) / len(values))
    means = r["valid_recall20_means"]
    assert r["chosen_by_validation"] == max(means, key=means.get)
    assert len(payload["figures"]) >= 3
