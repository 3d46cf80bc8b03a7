"""Checks of notebooks/03_mix_ratio_sweep.ipynb's quick run."""
from typing import Any

import pandas as pd
import pytest

from rfkit.stats import paired_differences

TRAIN, INFERENCE = "train ratio", "inference ratio"


def recomputed(rows: pd.DataFrame, metric: str, treatment: tuple, baseline: tuple) -> dict[str, Any]:
    """A cell minus another cell, paired by seed, from the recorded per-seed rows."""
    cell = lambda t, i: rows[(rows[TRAIN] == t) & (rows[INFERENCE] == i)]  # noqa: E731
    table = pd.concat([cell(*baseline).assign(variant="b"), cell(*treatment).assign(variant="t")])
    return paired_differences(table, metric, "b", ["t"]).iloc[0].to_dict()


def same_difference(recorded: dict[str, Any], again: dict[str, Any]) -> None:
    assert recorded["verdict"] == again["verdict"] and recorded["n_seeds"] == again["n_seeds"]
    for key in ("delta", "ci_low", "ci_high"):
        assert recorded[key] == pytest.approx(again[key], abs=1e-12)


def check(payload: dict[str, Any]) -> None:
    """The grid is chosen on validation; every verdict is a paired difference that the recorded
    per-seed rows reproduce; ratio 0 is the backbone; the retrained model reproduces the sweep."""
    r, params = payload["results"], payload["parameters"]
    floats = lambda d: {float(k): v for k, v in d.items()}  # noqa: E731 (JSON keys are strings)
    grid = {t: floats(row) for t, row in floats(r["valid_ndcg20_grid"]).items()}
    test_grid = {t: floats(row) for t, row in floats(r["test_ndcg20_grid"]).items()}
    assert sorted(grid) == sorted(params["TRAIN_RATIOS"])
    assert all(sorted(row) == sorted(params["INFERENCE_RATIOS"]) for row in grid.values())
    for table in (grid, test_grid, {t: floats(row) for t, row in floats(r["valid_recall20_grid"]).items()}):
        assert all(0 <= v <= 1 for row in table.values() for v in row.values())
    # The per-seed rows are the grid's source: one per (train ratio, inference ratio, seed), 2 seeds in quick mode.
    rows = pd.DataFrame(r["sweep_rows"])
    seeds = params["SEEDS"]
    assert len(seeds) == 2 and sorted(rows["seed"].unique()) == seeds
    assert len(rows) == len(params["TRAIN_RATIOS"]) * len(params["INFERENCE_RATIOS"]) * len(seeds)
    means = rows.groupby([TRAIN, INFERENCE])["valid_ndcg@20"].mean()
    assert all(grid[t][i] == pytest.approx(v, abs=1e-12) for (t, i), v in means.items())
    # The best cell is the validation argmax; its numbers are that cell's.
    best = r["best_cell"]
    cell = max(((t, i) for t in grid for i in grid[t]), key=lambda ti: grid[ti[0]][ti[1]])
    assert (best["train_ratio"], best["inference_ratio"]) == cell
    assert best["valid_ndcg@20"] == grid[cell[0]][cell[1]] and best["test_ndcg@20"] == test_grid[cell[0]][cell[1]]
    assert r["backbone_of_best"]["valid_ndcg@20"] == grid[cell[0]][0.0]
    # Best cell vs its backbone: a paired difference on test, recomputed from the per-seed rows.
    if cell[1] > 0:
        again = recomputed(rows, "test_ndcg@20", cell, (cell[0], 0.0))
        same_difference(r["best_vs_backbone"], again)
        gap = best["test_ndcg@20"] - r["backbone_of_best"]["test_ndcg@20"]
        assert r["best_vs_backbone"]["delta"] == pytest.approx(gap)
    else:
        assert r["best_vs_backbone"] is None
    # Every cell > 0 against its row's ratio 0, on validation and test.
    for metric, recorded in r["versus_backbone"].items():
        again = paired_differences(rows, metric, 0.0, by=[TRAIN], variant=INFERENCE)
        assert len(recorded) == len(again) == len(params["TRAIN_RATIOS"]) * (len(params["INFERENCE_RATIOS"]) - 1)
        for rec, (_, row) in zip(recorded, again.iterrows()):
            assert (rec[TRAIN], rec[INFERENCE]) == (row[TRAIN], row[INFERENCE])
            same_difference(rec, row.to_dict())
    # Per train ratio: its validation choice (the row's argmax) against ratio 0 and against its own ratio.
    choices = floats(r["best_inference_by_train_ratio"])
    for t, i in choices.items():
        assert grid[t][i] == max(grid[t].values())
    for entry in r["per_train_ratio"]:
        t, i = entry[TRAIN], entry[INFERENCE]
        assert choices[t] == i
        if i > 0:
            same_difference(entry["versus_backbone"], recomputed(rows, "test_ndcg@20", (t, i), (t, 0.0)))
        if t in params["INFERENCE_RATIOS"] and i != t:
            same_difference(entry["versus_train_ratio"], recomputed(rows, "test_ndcg@20", (t, i), (t, t)))
    for entry in r["versus_best_train_ratio"]:
        t = entry[TRAIN]
        same_difference(entry, recomputed(rows, "test_ndcg@20", (t, choices[t]), cell))
    assert len(r["versus_best_train_ratio"]) == len(params["TRAIN_RATIOS"]) - 1
    # The conclusions say how many cell verdicts chance alone would produce.
    n_cells = len(r["versus_backbone"]["valid_ndcg@20"])
    assert any(f"Of the {n_cells} cells" in s and f"about {0.05 * n_cells:.1f} of {n_cells} would" in s
               for s in r["conclusions"])
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
    seed_rows = rows[(rows[TRAIN] == cell[0]) & (rows["seed"] == params["SEED"])]
    assert dict(zip(seed_rows[INFERENCE], seed_rows["valid_ndcg@20"])) == pytest.approx(same_seed, abs=1e-12)
    assert len(payload["figures"]) >= 3
    # The controls: trained at the train ratio of the best cell that mixes RF in (inference ratio > 0,
    # chosen on validation), on the same seeds, and paired with RF at that cell.
    mixed = max(((t, i) for t in grid for i in grid[t] if i > 0), key=lambda ti: grid[ti[0]][ti[1]])
    assert (r["mixed_cell"]["train_ratio"], r["mixed_cell"]["inference_ratio"]) == mixed
    controls = pd.DataFrame(r["control_rows"])
    assert set(controls["rf_generator"]) == {"regression", "noise"} and (controls[TRAIN] == mixed[0]).all()
    at_cell = lambda table: table[(table[TRAIN] == mixed[0]) & (table[INFERENCE] == mixed[1])]  # noqa: E731
    long = pd.concat([at_cell(rows).assign(variant="RF"),
                      at_cell(controls).assign(variant=at_cell(controls)["rf_generator"].map(
                          {"regression": "regression", "noise": "placebo"}))])
    recorded = {row["comparison"]: row for row in r["versus_controls"]}
    assert set(recorded) == {"RF - placebo", "regression - placebo", "RF - regression"}
    for comparison, row in recorded.items():
        treatment, baseline = comparison.split(" - ")
        same_difference(row, paired_differences(long, "test_ndcg@20", baseline, [treatment]).iloc[0].to_dict())
    assert any(s.startswith("Generator health at each run's best epoch") for s in r["conclusions"])
