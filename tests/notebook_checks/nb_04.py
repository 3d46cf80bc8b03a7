"""Checks of notebooks/04_trajectory_visualization.ipynb's quick run."""
from typing import Any

import pandas as pd
import pytest

from rfkit.stats import paired_differences


def check(payload: dict[str, Any]) -> None:
    """Paths: S >= 0 (0 at one step, by definition), finer grids land nearer the fine solve, reflow
    straightens; every 2-RF vs 1-RF verdict is reproduced from the recorded per-seed table; the
    cloud sizes are measured, not assumed."""
    r, p = payload["results"], payload["parameters"]
    table = r["steps_table"]
    assert len(table) == len(p["STEP_COUNTS"]) * len(p["SOLVERS"])
    assert all(row["straightness"] >= 0 and -1 <= row["cosine"] <= 1 for row in table)
    assert all(row["straightness"] == 0 for row in table if row["n_steps"] == 1)
    for solver in p["SOLVERS"]:
        errors = [row["ref_mse"] for row in table if row["solver"] == solver]
        assert errors[0] > errors[-1], f"{solver}: more steps did not approach the fine-grid solution"
    assert r["straightness_2rf"] < r["straightness_1rf"] and r["two_rf_is_straighter"]
    # One 1-RF and one 2-RF per reflow seed (2 in quick mode); the 1-RF rows are the same flow each time.
    flows = pd.DataFrame(r["flow_table"])
    seeds = p["SEEDS"]
    assert len(seeds) == 2 and sorted(flows["seed"].unique()) == seeds
    assert len(flows.drop_duplicates(["model", "seed"])) == 2 * len(seeds)
    one_rf = flows[flows["model"] == "1-RF"]
    assert (one_rf.groupby("n_steps")[["mse", "mse_to_reference", "straightness"]].nunique() == 1).all().all()
    one_rf = one_rf.drop_duplicates("n_steps").set_index("n_steps")["mse_to_reference"]
    assert one_rf[p["REFERENCE_STEPS"]] < one_rf[1]  # 1-RF's own fine Euler solve is near its Heun reference
    # The straightness and few-step verdicts, recomputed from the per-seed rows (lower is better).
    per_flow = flows.drop_duplicates(["model", "seed"])
    bend = paired_differences(per_flow, "straightness", "1-RF", ["2-RF"], variant="model", higher_is_better=False)
    assert r["straightness_difference"]["verdict"] == bend["verdict"].iloc[0]
    assert r["straightness_difference"]["delta"] == pytest.approx(r["straightness_2rf"] - r["straightness_1rf"])
    few = flows[flows["n_steps"].isin([1, 2])]
    recorded = r["few_step_differences"]
    assert sorted((d["error"], d["n_steps"]) for d in recorded) == sorted(
        (e, n) for e in ("mse_to_reference", "mse") for n in (1, 2))
    for d in recorded:
        again = paired_differences(few[few["n_steps"] == d["n_steps"]], d["error"], "1-RF", ["2-RF"],
                                   variant="model", higher_is_better=False).iloc[0]
        assert d["verdict"] == again["verdict"] and d["n_seeds"] == len(seeds)
        assert [d["delta"], d["ci_low"], d["ci_high"]] == pytest.approx(
            [again["delta"], again["ci_low"], again["ci_high"]], abs=1e-15)
    # The few-step sentence says "no better" exactly when no interval shows 2-RF ahead.
    to_reference = [d for d in recorded if d["error"] == "mse_to_reference"]
    sentence = next(s for s in r["conclusions"] if s.startswith("Endpoint MSE to the fine 1-RF solution"))
    no_better = all(d["verdict"] != "better" for d in to_reference)
    assert ("no better than 1-RF at 1 or 2 Euler steps" in sentence) == no_better
    # Cloud sizes: the ratio of spreads is computed and stated, in the plane and over all dimensions.
    sizes = r["cloud_sizes"]
    assert r["plane_spread_ratio"] == pytest.approx(sizes["t1"]["plane_spread"] / sizes["t0"]["plane_spread"])
    assert r["spread_ratio"] == pytest.approx(sizes["t1"]["spread"] / sizes["t0"]["spread"])
    assert all(0 < s["plane_share"] <= 1 + 1e-9 and s["plane_spread"] > 0 for s in sizes.values())
    assert f"{r['plane_spread_ratio']:.2f}x" in r["conclusions"][1]
    # The health leads the conclusions; the mean-and-variance check is arithmetic on its own numbers.
    assert r["conclusions"][0].startswith(f"generator health: {r['generator_health']['verdict']}")
    theory = r["mean_and_variance"]
    assert theory["predicted_sample_mse"] == pytest.approx(theory["regression_mse"] + theory["variance"])
    assert theory["sample_over_regression"] == pytest.approx(theory["sample_mse"] / theory["regression_mse"])
    assert theory["regression_mse"] == r["regression_mse"] and theory["variance"] > 0
    # one sample = its mean plus the spread: the sample MSE exceeds the sample mean's (exactly, by the variance)
    assert theory["sample_mse"] > theory["sample_mean_mse"]
    assert any("lands on the flow's conditional mean" in s for s in r["conclusions"])
    # The references: all zeros predicts nothing; the regression baseline, fitted in-sample, beats it.
    references = {row["reference"]: row for row in r["references"]}
    assert set(references) == {"regression", "all zeros"} and references["all zeros"]["cosine"] == 0.0
    assert references["all zeros"]["mse"] == r["all_zeros_mse"] > references["regression"]["mse"] == r["regression_mse"]
    last = next(row for row in table if row["solver"] == "euler" and row["n_steps"] == max(p["STEP_COUNTS"]))
    assert r["worse_than_regression"] == (last["mse"] > r["regression_mse"])
    assert r["worse_than_all_zeros"] == (last["mse"] > r["all_zeros_mse"])
    assert any(s.startswith(f"Against the references, at {last['n_steps']} Euler steps") for s in r["conclusions"])
    assert r["explorer_time"] == 1.0 and len(payload["figures"]) >= 4
