"""Checks of notebooks/04_trajectory_visualization.ipynb's quick run."""
from typing import Any


def check(payload: dict[str, Any]) -> None:
    """Paths: S >= 0 (0 at one step, by definition), finer grids land nearer the fine solve, reflow straightens."""
    r, p = payload["results"], payload["parameters"]
    table = r["steps_table"]
    assert len(table) == len(p["STEP_COUNTS"]) * len(p["SOLVERS"])
    assert all(row["straightness"] >= 0 and -1 <= row["cosine"] <= 1 for row in table)
    assert all(row["straightness"] == 0 for row in table if row["n_steps"] == 1)
    for solver in p["SOLVERS"]:
        errors = [row["ref_mse"] for row in table if row["solver"] == solver]
        assert errors[0] > errors[-1], f"{solver}: more steps did not approach the fine-grid solution"
    assert r["straightness_2rf"] < r["straightness_1rf"] and r["two_rf_is_straighter"]
    flows = r["flow_table"]
    assert len({row["flow"] for row in flows}) == 1 + len(p["REFLOW_SEEDS"])
    one_rf = {row["n_steps"]: row["mse_to_reference"] for row in flows if row["flow"] == "1-RF"}
    assert one_rf[p["REFERENCE_STEPS"]] < one_rf[1]  # 1-RF's own fine Euler solve is near its Heun reference
    assert r["explorer_time"] == 1.0 and len(payload["figures"]) >= 4
