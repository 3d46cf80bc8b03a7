"""Checks of notebooks/05_guidance_and_sampling.ipynb's quick run."""
from typing import Any


def check(payload: dict[str, Any]) -> None:
    """The prior at inference is a no-op at user scale 0 and moves endpoints otherwise; time grows with steps."""
    r, p = payload["results"], payload["parameters"]
    grid = r["guidance_grid"]
    assert len(grid) == 2 * len(p["USER_SCALES"]) * len(p["COSINE_SCALES"]) * p["N_SEEDS"]
    for variant, gain in r["prior_cosine_gain"].items():
        if variant.startswith("user 0.0,"):
            assert gain == 0.0 and r["prior_ndcg_gain"][variant] == 0.0
        else:
            assert gain != 0.0
    assert all(r["time_grows_with_steps"].values())
    timing = {(row["solver"], row["n_steps"]): row["seconds"] for row in r["timing"]}
    first, last = p["STEP_COUNTS"][0], p["STEP_COUNTS"][-1]
    assert all(timing[(s, last)] > timing[(s, first)] for s in p["SOLVERS"])
    assert len(r["quality"]) == len(p["STEP_COUNTS"]) * len(p["SOLVERS"]) * p["N_NOISE"]
    assert all(0 <= row["valid_ndcg@20"] <= 1 for row in r["quality"])
    endpoints = [row for row in r["endpoints"] if not row["inference_prior"]]
    assert all(row["straightness"] == 0 for row in endpoints if row["n_steps"] == 1)
    assert r["best_guidance_variant"] in {row["variant"] for row in grid}
    assert len(r["verdicts"]) == 5
