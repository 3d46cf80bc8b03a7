"""Checks of notebooks/03_mix_ratio_sweep.ipynb's quick run."""
from typing import Any

import pytest


def check(payload: dict[str, Any]) -> None:
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
