"""The host's own settings chosen on validation before RF is judged on it: a comparison with an
untuned host says little (many neural recommenders lose to simple, tuned baselines)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import pandas as pd
from sklearn.model_selection import ParameterGrid

from rfkit.experiments.sweep import grid_name, run_grid

# Embedding size, propagation depth and L2 strength of MultimodalGCN, around the packaged values.
HOST_GRID = {"embedding_dim": [64, 128], "n_layers": [2, 3], "reg_weight": [1e-4, 1e-3]}
QUICK_HOST_GRID = {"n_layers": [1, 2]}
CHOICE_METRIC = "valid_recall@20"  # the trainer's early-stopping metric


def host_grid(quick: bool) -> dict[str, list[Any]]:
    """The grid a lesson tunes its host on: the small one in quick runs, else `HOST_GRID`."""
    return dict(QUICK_HOST_GRID if quick else HOST_GRID)


def tune_host(config: Mapping[str, Any], grid: Mapping[str, Sequence[Any]], seeds: Sequence[int],
              dataset: Any, executor: Executor | None = None,
              **train_options: Any) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the backbone (RF off) at every combination of ``grid`` over ``seeds`` and choose the
    one with the best mean `CHOICE_METRIC` (ties: the first in grid order).

    Returns the chosen settings (the grid's keys only) and one row per combination: its settings,
    the mean validation and test metrics, mean best epoch and whether it was chosen. Test metrics
    are shown, never used.
    """
    # The backbone ignores the rf_* keys: without them every lesson's tuning is one set of trainings
    # (and, with the run cache on, trains once per report).
    backbone = {**{k: v for k, v in config.items() if not str(k).startswith("rf_")}, "use_rf": False}
    runs = run_grid(backbone, grid, seeds, dataset, executor, progress=False, **train_options)
    metrics = [c for c in runs.columns if c.startswith(("valid_", "test_"))]
    table = runs.groupby("variant", sort=False).agg({**{k: "first" for k in grid}, **dict.fromkeys(
        [*metrics, "best_epoch", "train_seconds"], "mean")})
    best = table[CHOICE_METRIC].idxmax()
    table["chosen"] = table.index == best
    settings = {grid_name(params): params for params in ParameterGrid(dict(grid))}
    return settings[best], table.reset_index()
