"""Training many configurations: one tidy row per configuration and seed.

Jobs are independent, so any `concurrent.futures.Executor` runs them: a local process pool, or
a Dask cluster's `client.get_executor()` when a sweep outgrows one machine. Every job trains
single-threaded, which makes its numbers independent of where it ran.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from functools import partial
from typing import Any

import pandas as pd
from sklearn.model_selection import ParameterGrid

from rfkit.data.dataset import Dataset
from rfkit.experiments.runner import records, run_summary, train_many
from rfkit.metrics import split_metrics
from rfkit.models import MultimodalGCN
from rfkit.train import TrainResult


def rescored(ratios: Sequence[float] | None, model: MultimodalGCN, result: TrainResult,
             dataset: Dataset) -> list[dict[str, Any]]:
    """A run's summary, once per inference mix ratio (rescored without retraining), or once at
    the configured ratio when `ratios` is None."""
    summary = run_summary(model, result)
    if ratios is None:
        return [summary]
    common = {k: v for k, v in summary.items() if not k.startswith(("valid_", "test_"))}
    return [{**common, "rf_inference_mix_ratio": ratio, **row}
            for ratio, row in zip(ratios, _rescore(model, dataset, ratios))]


def _rescore(model: MultimodalGCN, dataset: Dataset, ratios: Sequence[float],
             ks: Sequence[int] = (10, 20)) -> list[dict[str, float]]:
    return [split_metrics(model.score_all(inference_mix_ratio=ratio), dataset, ks) for ratio in ratios]


def run_configs(configs: Mapping[str, Mapping[str, Any]], seeds: Sequence[int], dataset: Dataset,
                executor: Executor | None = None, progress: bool = True,
                rescore_ratios: Sequence[float] | None = None, **train_options: Any) -> pd.DataFrame:
    """Train each named config once per seed; a `variant` column holds the name.

    `train_options` go to `rfkit.train.train` (epochs, patience, ...). Rows come back in config
    order then seed order, whatever order the executor finished them in.
    """
    results = train_many(configs, seeds, dataset, train_options, partial(rescored, rescore_ratios),
                         executor, progress)
    return pd.DataFrame([{"variant": row["variant"], **configs[row["variant"]], **row} for row in records(results)])


def grid_name(params: Mapping[str, Any]) -> str:
    """The variant name of one grid combination: "key=value, key=value"."""
    return ", ".join(f"{k}={v}" for k, v in params.items())


def run_grid(base_config: Mapping[str, Any], grid: Mapping[str, Sequence[Any]], seeds: Sequence[int],
             dataset: Dataset, executor: Executor | None = None, progress: bool = True,
             rescore_ratios: Sequence[float] | None = None, **train_options: Any) -> pd.DataFrame:
    """Train base_config updated by every combination of `grid`, once per seed (see run_configs)."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty mapping of parameter name -> list of values")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
    configs = {grid_name(params): {**base_config, **params} for params in ParameterGrid(dict(grid))}
    return run_configs(configs, seeds, dataset, executor, progress, rescore_ratios, **train_options)


def score_at_ratios(model: MultimodalGCN, dataset: Dataset, ratios: Sequence[float],
                    ks: Sequence[int] = (10, 20)) -> pd.DataFrame:
    """Validation and test metrics of one trained RF model at each inference mix ratio (no retraining)."""
    rows = _rescore(model, dataset, ratios, ks)
    return pd.DataFrame([{"inference_mix_ratio": r, **row} for r, row in zip(ratios, rows)])
