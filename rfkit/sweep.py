"""Training many configurations: one tidy row per configuration and seed.

Jobs are independent, so any `concurrent.futures.Executor` runs them: a local process pool, or
a Dask cluster's `client.get_executor()` when a sweep outgrows one machine. Every job trains
single-threaded, which makes its numbers independent of where it ran.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import pandas as pd
import torch
from sklearn.model_selection import ParameterGrid
from tqdm.auto import tqdm

from rfkit.data.dataset import Dataset
from rfkit.metrics import split_metrics
from rfkit.models import MultimodalGCN
from rfkit.train import train


def run_job(config: Mapping[str, Any], seed: int, dataset: Dataset, train_options: Mapping[str, Any],
            rescore_ratios: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """Train one configuration with one seed; its parameters, best epoch and metrics as rows.

    With `rescore_ratios`, the trained model is scored once per inference mix ratio (one row
    each, no retraining); otherwise one row at the configured ratio.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = MultimodalGCN({**config, "seed": seed}, dataset)
        result = train(model, dataset, seed=seed, progress=False, **train_options)
        common = {**config, "seed": seed, "best_epoch": result.best_epoch,
                  "train_seconds": float(result.history["seconds"].sum()),
                  "rf_seconds": float(result.history["rf_seconds"].sum())}
        if rescore_ratios is None:
            return [{**common, **_prefixed(result.best_valid, result.test_at_best)}]
        return [{**common, "rf_inference_mix_ratio": ratio, **row}
                for ratio, row in zip(rescore_ratios, _rescore(model, dataset, rescore_ratios))]
    finally:
        torch.set_num_threads(threads)


def _prefixed(valid: Mapping[str, float], test: Mapping[str, float]) -> dict[str, float]:
    return {**{f"valid_{k}": v for k, v in valid.items()}, **{f"test_{k}": v for k, v in test.items()}}


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
    if not isinstance(configs, Mapping) or not configs:
        raise ValueError("configs must be a non-empty mapping of name -> config")
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one seed")
    jobs = [(name, config, seed) for name, config in configs.items() for seed in seeds]
    bar = tqdm(total=len(jobs), disable=not progress, desc="sweep")
    args = [(config, seed, dataset, train_options, rescore_ratios) for _, config, seed in jobs]
    if executor is None:
        results = []
        for job in args:
            results.append(run_job(*job))
            bar.update()
    else:
        futures = [executor.submit(run_job, *job) for job in args]
        for future in futures:
            future.add_done_callback(lambda _: bar.update())
        results = [future.result() for future in futures]
    bar.close()
    return pd.DataFrame([{"variant": name, **row} for (name, _, _), rows in zip(jobs, results) for row in rows])


def run_grid(base_config: Mapping[str, Any], grid: Mapping[str, Sequence[Any]], seeds: Sequence[int],
             dataset: Dataset, executor: Executor | None = None, progress: bool = True,
             rescore_ratios: Sequence[float] | None = None, **train_options: Any) -> pd.DataFrame:
    """Train base_config updated by every combination of `grid`, once per seed (see run_configs)."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty mapping of parameter name -> list of values")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
    configs = {", ".join(f"{k}={v}" for k, v in params.items()): {**base_config, **params}
               for params in ParameterGrid(dict(grid))}
    return run_configs(configs, seeds, dataset, executor, progress, rescore_ratios, **train_options)


def score_at_ratios(model: MultimodalGCN, dataset: Dataset, ratios: Sequence[float],
                    ks: Sequence[int] = (10, 20)) -> pd.DataFrame:
    """Validation and test metrics of one trained RF model at each inference mix ratio (no retraining)."""
    rows = _rescore(model, dataset, ratios, ks)
    return pd.DataFrame([{"inference_mix_ratio": r, **row} for r, row in zip(ratios, rows)])
