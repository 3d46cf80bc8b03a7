"""Checks of notebooks/05_guidance_and_sampling.ipynb's quick run."""
from typing import Any

import pandas as pd
import pytest

from rfkit.lab.guidance import REFERENCE
from rfkit.stats import paired_differences

from .common import same_differences

def check(payload: dict[str, Any]) -> None:
    """The prior at inference is a no-op at user scale 0 and moves endpoints otherwise; time grows
    with steps; every verdict is the paired difference recomputed from the recorded per-seed
    numbers; the conclusions name the synthetic data of the grid and the timed numbers."""
    r, p = payload["results"], payload["parameters"]
    n_seeds, n_settings = len(p["SEEDS"]), len(p["STEP_COUNTS"]) * len(p["SOLVERS"])
    n_configs = len(p["USER_SCALES"]) * len(p["COSINE_SCALES"])
    grid = pd.DataFrame(r["guidance_grid"])
    assert len(grid) == 2 * n_configs * n_seeds and n_seeds >= 2

    as_trained = grid[~grid.inference_prior]
    for metric in ("valid_ndcg@20", "test_ndcg@20"):
        same_differences([row for row in r["guidance_differences"] if row["metric"] == metric],
                         paired_differences(as_trained, metric, REFERENCE), ["variant"])
    assert {row["variant"] for row in r["guidance_differences"]} == set(grid.variant) - {REFERENCE}
    sampler = grid.assign(sampler=grid.inference_prior.map({False: "as trained", True: "with prior"}))
    for metric in ("cosine", "test_ndcg@20"):
        rows = [row for row in r["prior_differences"] if row["metric"] == metric]
        same_differences(rows, paired_differences(sampler, metric, "as trained", by=["variant"], variant="sampler"),
                         ["variant"])
        for row in rows:  # user scale 0: the prior term is zero, adding it changes nothing
            if row["variant"].startswith("user 0.0,"):
                assert row["delta"] == row["ci_low"] == row["ci_high"] == 0.0
            elif metric == "cosine":
                assert row["delta"] != 0.0

    quality = pd.DataFrame(r["quality"]).assign(setting=lambda q: q.solver + " " + q.n_steps.astype(str))
    # part 2 scores one trained model per seed, each from its own start noise: pairs are trained models,
    # and only those that mix RF in (a model restored to a warmup epoch scores as its backbone)
    mixing = sorted(run["seed"] for run in r["sampling_runs"] if run["mixed_at_best"])
    assert [run["seed"] for run in r["sampling_runs"]] == p["SEEDS"]
    assert all(run["mixed_at_best"] == (run["best_epoch"] >= 1) for run in r["sampling_runs"])  # QUICK: warmup 1
    assert len(quality) == n_settings * len(mixing) and sorted(quality["noise_seed"].unique()) == mixing
    assert quality["valid_ndcg@20"].between(0, 1).all()
    reference = f"euler {min(p['STEP_COUNTS'])}"
    for metric in ("valid_ndcg@20", "test_ndcg@20"):
        same_differences([row for row in r["sampling_differences"] if row["metric"] == metric],
                         paired_differences(quality, metric, reference, variant="setting", seed="noise_seed"),
                         ["setting"])
    assert len(r["sampling_differences"]) == 2 * (n_settings - 1)

    assert all(r["time_grows_with_steps"].values())
    timing = {(row["solver"], row["n_steps"]): row["seconds"] for row in r["timing"]}
    first, last = p["STEP_COUNTS"][0], p["STEP_COUNTS"][-1]
    assert all(timing[(s, last)] > timing[(s, first)] for s in p["SOLVERS"])
    euler_ms = r["generate_ms"]["euler"]
    assert [euler_ms[str(first)], euler_ms[str(last)]] == pytest.approx(
        [1e3 * timing[("euler", first)], 1e3 * timing[("euler", last)]])
    endpoints = [row for row in r["endpoints"] if not row["inference_prior"]]
    assert all(row["straightness"] == 0 for row in endpoints if row["n_steps"] == 1)
    references = {row["reference"]: row for row in r["references"]}
    assert references["all zeros"]["cosine"] == 0.0 and references["regression"]["cosine"] > 0.0
    assert references["regression"]["mse"] < references["all zeros"]["mse"]  # the in-sample fit beats nothing
    last_euler = next(row for row in endpoints if row["solver"] == "euler" and row["n_steps"] == p["STEP_COUNTS"][-1])
    assert r["endpoint_cosine_below_regression"] == (last_euler["cosine"] < references["regression"]["cosine"])

    text = "\n".join(r["conclusions"])
    assert f"on synthetic data ({r['guidance_dataset']})" in text
    assert f"euler {euler_ms[str(first)]:.1f} -> {euler_ms[str(last)]:.1f} ms" in text
    n_verdicts = len(r["guidance_differences"]) + len(r["sampling_differences"]) + sum(
        not row["variant"].startswith("user 0.0,") for row in r["prior_differences"])
    assert r["n_verdicts"] == n_verdicts and f"of these {n_verdicts} verdicts" in r["conclusions"][-3]
    assert r["best_guidance_variant"] in set(grid.variant)
    assert len(r["conclusions"]) == 16  # 12 of the spec's advice, 2 health lines, 2 mean-and-variance lines
    assert r["conclusions"][0].startswith("Generator health at each run's best epoch")
    assert r["conclusions"][1].startswith(f"generator health: {r['generator_health']['verdict']}")
    theory = r["mean_and_variance"]
    assert theory["predicted_sample_mse"] == pytest.approx(theory["regression_mse"] + theory["variance"])
    assert theory["sample_mse"] > theory["sample_mean_mse"] and theory["n_samples"] == p["N_SAMPLES"]
