"""Checks of notebooks/06_long_tail.ipynb's quick run."""
from typing import Any

import pandas as pd

from rfkit.lab.longtail import ALL, FLOOR
from rfkit.stats import paired_differences

from .common import same_differences

BASELINE, TREATMENT, REGRESSION, PLACEBO = "backbone", "backbone + RF", "backbone + regression", "backbone + placebo"
DIFFERENCE = ("delta", "ci_low", "ci_high", "baseline_mean", "treatment_mean")


def check(payload: dict[str, Any]) -> None:
    """Per-bucket tables have head/mid/tail/all, metrics in [0, 1]; what depends on the data only
    (evaluated users per bucket, synthetic interactions) is equal across variants and
    informativeness; every difference, interval and verdict is recomputed from the recorded
    per-seed numbers with rfkit.stats; the conclusions follow from those verdicts."""
    p, r = payload["parameters"], payload["results"]
    metric, n_seeds, values = p["METRIC"], len(p["SEEDS"]), p["INFORMATIVENESS"]
    buckets = {"head", "mid", "tail", "all"}
    assert r["real_users_identical"] and r["sweep_users_identical"]
    assert r["interactions_identical"] and r["features_differ"]
    for key in ("real_users_per_bucket", "sweep_users_per_bucket"):
        users = r[key]
        assert set(users) == buckets
        # Every evaluated user has a test item in at least one bucket, and no bucket has more users.
        assert max(users["head"], users["mid"], users["tail"]) <= users["all"]
        assert users["head"] + users["mid"] + users["tail"] >= users["all"] > 0
    if p["QUICK"]:  # both sections use the tiny synthetic preset: only the features differ
        assert r["real_users_per_bucket"] == r["sweep_users_per_bucket"]

    real, sweep = pd.DataFrame(r["real_runs"]), pd.DataFrame(r["sweep_runs"])
    assert len(real) == 4 * n_seeds * 4 and len(sweep) == 4 * n_seeds * 4 * len(values)  # variants x seeds x buckets
    assert set(real.bucket) == set(sweep.bucket) == buckets and set(sweep.informativeness) == set(values)
    assert real[metric].between(0, 1).all() and sweep[metric].between(0, 1).all()
    same_differences(r["real_deltas"], paired_differences(real, metric, BASELINE, [TREATMENT], by=["bucket"]),
                     ["bucket"], DIFFERENCE)
    same_differences(r["sweep_deltas"], paired_differences(sweep, metric, BASELINE, [TREATMENT],
                                                           by=["informativeness", "bucket"]),
                     ["informativeness", "bucket"], DIFFERENCE)
    same_differences(r["real_regression_deltas"], paired_differences(real, metric, BASELINE, [REGRESSION],
                                                                     by=["bucket"]), ["bucket"], DIFFERENCE)
    same_differences(r["real_flow_vs_regression"], paired_differences(real, metric, REGRESSION, [TREATMENT],
                                                                      by=["bucket"]), ["bucket"], DIFFERENCE)
    same_differences(r["sweep_flow_vs_regression"], paired_differences(sweep, metric, REGRESSION, [TREATMENT],
                                                                       by=["informativeness", "bucket"]),
                     ["informativeness", "bucket"], DIFFERENCE)
    assert r["flow_vs_regression_real"] == {row["bucket"]: row["verdict"] for row in r["real_flow_vs_regression"]}
    assert {float(s): v for s, v in r["flow_vs_regression_sweep"].items()} == {
        float(s): {row["bucket"]: row["verdict"] for row in r["sweep_flow_vs_regression"] if row["informativeness"] == s}
        for s in values}
    wide = sweep.pivot_table(index=["informativeness", "bucket", "seed"], columns="variant", values=metric)
    gains = (wide[TREATMENT] - wide[BASELINE]).rename("gain").reset_index()
    same_differences(r["trend"], paired_differences(gains, "gain", min(values), by=["bucket"],
                                                    variant="informativeness"), ["informativeness", "bucket"],
                     DIFFERENCE)
    assert all(row["n_seeds"] == n_seeds for row in r["real_deltas"] + r["sweep_deltas"] + r["trend"])

    verdicts = {row["bucket"]: row["verdict"] for row in r["real_deltas"]}
    assert r["real_verdicts"] == verdicts
    assert r["rf_better_real"] == {b: v == "better" for b, v in verdicts.items()}
    assert r["rf_worse_real"] == {b: v == "worse" for b, v in verdicts.items()}
    # a cell whose backbone retrieves (almost) nothing gets no verdict (FLOOR); the claim uses the others
    compared = [row for row in r["sweep_deltas"] if row["bucket"] == ALL or row["baseline_mean"] >= FLOOR]
    better_at = {b: sorted(row["informativeness"] for row in compared
                           if row["bucket"] == b and row["verdict"] == "better") for b in buckets}
    assert {b: sorted(v) for b, v in r["sweep_better_at"].items()} == better_at
    tested = {b: sorted(row["informativeness"] for row in compared if row["bucket"] == b) for b in ("mid", "tail")}
    informative = [s for s in values if s != min(values)]
    claim = ("holds" if all(better_at[b] and better_at[b] == [s for s in informative if s in tested[b]]
                            for b in ("mid", "tail"))
             else "holds only in part" if any(s in informative for b in ("mid", "tail") for s in better_at[b])
             else "is not supported")
    assert r["information_claim"] == claim
    assert any(line.startswith(f"'RF helps mid and tail only when the features carry information' {claim}")
               for line in r["conclusions"])
    # RF and regression against the placebo, per bucket, recomputed from the per-seed rows
    same_differences(r["real_vs_placebo"], paired_differences(real, metric, PLACEBO, [TREATMENT, REGRESSION],
                                                              by=["bucket"]), ["variant", "bucket"], DIFFERENCE)
    same_differences(r["sweep_vs_placebo"], paired_differences(sweep, metric, PLACEBO, [TREATMENT, REGRESSION],
                                                               by=["informativeness", "bucket"]),
                     ["informativeness", "variant", "bucket"], DIFFERENCE)
    assert r["conclusions"][0].startswith("Generator health at each run's best epoch")
    n_verdicts = sum(len(r[key]) for key in ("real_deltas", "sweep_deltas", "trend", "real_flow_vs_regression",
                                             "sweep_flow_vs_regression", "real_vs_placebo", "sweep_vs_placebo"))
    assert r["n_verdicts"] == n_verdicts and f"of these {n_verdicts} verdicts" in r["conclusions"][-1]
    assert len(payload["figures"]) >= 4
