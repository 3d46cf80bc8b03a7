"""Checks of notebooks/06_long_tail.ipynb's quick run."""
from typing import Any

import pytest

from rfkit.lab.longtail import verdict


def check(payload: dict[str, Any]) -> None:
    """Per-bucket tables have head/mid/tail/all, metrics in [0, 1]; what depends on the data only
    (evaluated users per bucket, synthetic interactions) is equal across variants and
    informativeness; deltas and verdicts follow from the recorded numbers."""
    p, r = payload["parameters"], payload["results"]
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
    for rows, n_groups in ((r["real_table"], 2 * 4), (r["sweep_table"], 2 * 4 * len(p["INFORMATIVENESS"]))):
        assert len(rows) == n_groups and {row["bucket"] for row in rows} == buckets
        assert all(0.0 <= row["mean"] <= 1.0 for row in rows)
    for rows, n_groups in ((r["real_deltas"], 4), (r["sweep_deltas"], 4 * len(p["INFORMATIVENESS"]))):
        assert len(rows) == n_groups
        for row in rows:
            assert row["n_seeds"] == p["N_SEEDS"]
            assert row["delta"] == pytest.approx(row["treatment_mean"] - row["baseline_mean"], abs=1e-12)
            assert row["verdict"] == verdict(row["delta"], row["delta_std"], row["n_seeds"])
    assert {row["informativeness"] for row in r["sweep_deltas"]} == set(p["INFORMATIVENESS"])
    verdicts = {row["bucket"]: row["verdict"] for row in r["real_deltas"]}
    assert r["real_verdicts"] == verdicts
    assert r["rf_helps_real"] == {b: v == "helps" for b, v in verdicts.items()}
    assert len(payload["figures"]) >= 4
