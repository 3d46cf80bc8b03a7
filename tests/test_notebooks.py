"""Every notebook in notebooks/ runs in quick mode and leaves a sound results.json.

The common checks apply to all notebooks: parameters recorded (all but the output locations),
numbers finite, figures real PNGs under FIGURES_DIR, quick run under QUICK_LIMIT_S. Each notebook
must also have an entry in EXPECTATIONS: a function taking the parsed results.json and asserting
what that notebook should have found. A notebook without an entry fails.
"""
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from PIL import Image

from rfkit.longtail import verdict
from rfkit.report import execute

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
QUICK_LIMIT_S = 60.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LOCATIONS = {"OUTPUT_DIR", "FIGURES_DIR"}  # where outputs go, checked by where they are found



def check_primer(payload: dict[str, Any]) -> None:
    """Reflow straightens the flow: 2-RF is straighter and better at one step than 1-RF."""
    r = payload["results"]
    assert r["straightness_2rf"] < 0.5 * r["straightness_1rf"]
    assert r["two_rf_is_straighter"] and r["one_step_improved"]
    assert r["distances_2rf"]["1"] < r["distances_1rf"]["1"]
    assert r["distances_1rf"]["1"] > r["distances_1rf"][str(payload["parameters"]["ODE_STEPS"])]
    cost = r["transport_cost"]
    assert cost["2-RF"] <= cost["1-RF"] * 1.05 < cost["independent"]
    assert len(payload["figures"]) >= 3


def check_long_tail(payload: dict[str, Any]) -> None:
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


def check_mix_ratio_sweep(payload: dict[str, Any]) -> None:
    """The grid is chosen on validation; ratio 0 is the backbone; the retrained model reproduces the sweep."""
    r, params = payload["results"], payload["parameters"]
    floats = lambda d: {float(k): v for k, v in d.items()}  # noqa: E731 (JSON keys are strings)
    grid = {t: floats(row) for t, row in floats(r["valid_ndcg20_grid"]).items()}
    test_grid = {t: floats(row) for t, row in floats(r["test_ndcg20_grid"]).items()}
    assert sorted(grid) == sorted(params["TRAIN_RATIOS"])
    assert all(sorted(row) == sorted(params["INFERENCE_RATIOS"]) for row in grid.values())
    for table in (grid, test_grid, {t: floats(row) for t, row in floats(r["valid_recall20_grid"]).items()}):
        assert all(0 <= v <= 1 for row in table.values() for v in row.values())
    # The best cell is the validation argmax; its numbers are that cell's.
    best = r["best_cell"]
    cell = max(((t, i) for t in grid for i in grid[t]), key=lambda ti: grid[ti[0]][ti[1]])
    assert (best["train_ratio"], best["inference_ratio"]) == cell
    assert best["valid_ndcg@20"] == grid[cell[0]][cell[1]] and best["test_ndcg@20"] == test_grid[cell[0]][cell[1]]
    assert r["backbone_of_best"]["valid_ndcg@20"] == grid[cell[0]][0.0]
    assert r["delta_test_ndcg20_vs_backbone"] == pytest.approx(best["test_ndcg@20"] - r["backbone_of_best"]["test_ndcg@20"])
    assert not r["rf_helps_on_test"] or r["delta_test_ndcg20_vs_backbone"] > 0
    for t, i in floats(r["best_inference_by_train_ratio"]).items():
        assert grid[t][i] == max(grid[t].values())
    # Ratio 0 through the slider equals the backbone computed without the generator.
    slider, backbone = floats(r["slider_metrics"]), r["backbone_metrics"]
    assert slider[0.0] == {m: backbone[m] for m in slider[0.0]}
    curve = floats(r["retrained_curve"])
    assert curve[0.0]["valid_ndcg@20"] == backbone["valid_ndcg@20"]
    assert slider[best["inference_ratio"]]["valid_ndcg@20"] == curve[best["inference_ratio"]]["valid_ndcg@20"]
    assert slider[1.0] != slider[0.0]  # the slider really re-scores
    # The model retrained in the notebook reproduces the sweep's rows for its seed.
    same_seed = floats(r["sweep_rows_same_seed"])
    assert r["reproduction_gap"] < 1e-9
    assert all(abs(curve[i]["valid_ndcg@20"] - v) < 1e-9 for i, v in same_seed.items())
    if params["N_SEEDS"] == 1:
        assert same_seed == pytest.approx(grid[cell[0]], abs=1e-12)
    assert len(payload["figures"]) >= 2


def check_integration(payload: dict[str, Any]) -> None:
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


def check_warmup_effects(payload: dict[str, Any]) -> None:
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


def check_trajectories(payload: dict[str, Any]) -> None:
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


def check_guidance_and_sampling(payload: dict[str, Any]) -> None:
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


# notebook stem -> check(payload), payload = the parsed results.json
EXPECTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "00_rectified_flow_primer": check_primer,
    "01_integration": check_integration,
    "02_warmup_effects": check_warmup_effects,
    "03_mix_ratio_sweep": check_mix_ratio_sweep,
    "04_trajectory_visualization": check_trajectories,
    "05_guidance_and_sampling": check_guidance_and_sampling,
    "06_long_tail": check_long_tail,
}


def non_finite(value: Any, where: str = "results") -> list[str]:
    """Paths of the NaN/Inf numbers anywhere inside ``value``."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in non_finite(v, f"{where}[{i}]")]
    if isinstance(value, float) and not math.isfinite(value):
        return [where]
    return []


def assert_png(path: Path) -> None:
    assert path.is_file(), f"figure {path} does not exist"
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"figure {path} is not a PNG"
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.stem)
def test_quick_run(path: Path, tmp_path: Path) -> None:
    check = EXPECTATIONS.get(path.stem)
    if check is None:
        pytest.fail(f"notebook {path.name} has no test: add its check to EXPECTATIONS "
                    f"in {Path(__file__).name}")
    output_dir, figures_dir = tmp_path / "output", tmp_path / "figures"
    run = execute(path, tmp_path, {"QUICK": True, "OUTPUT_DIR": str(output_dir),
                                   "FIGURES_DIR": str(figures_dir)})
    assert run.status == "ok", f"{path.name} failed at {run.error}"

    duration = nbformat.read(run.notebook, as_version=4).metadata.papermill.duration
    assert duration < QUICK_LIMIT_S, f"quick run took {duration:.1f} s"

    results_file = output_dir / "results.json"
    assert results_file.is_file(), "the notebook wrote no OUTPUT_DIR/results.json"
    payload = json.loads(results_file.read_text())
    assert payload["notebook"] in (path.stem, path.name)

    recorded = payload["parameters"]
    missing = sorted(set(papermill.inspect_notebook(str(path))) - set(recorded) - LOCATIONS)
    assert not missing, f"parameters {missing} are not recorded in results.json"
    assert recorded["QUICK"] is True
    assert {"git_commit", "torch", "cpu", "cpu_native_bf16"} <= set(payload["provenance"])

    assert payload["results"], "results.json records no results"
    assert not non_finite(payload["results"]), f"non-finite: {non_finite(payload['results'])}"
    for name, figure in payload["figures"].items():
        figure_path = (NOTEBOOKS_DIR / figure).resolve()  # relative paths: cwd is notebooks/
        assert figure_path.is_relative_to(figures_dir.resolve()), \
            f"figure {name!r} ({figure}) is not in FIGURES_DIR"
        assert_png(figure_path)

    check(payload)
