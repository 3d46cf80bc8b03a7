"""Hyper-parameter grids over the multimodal model: one tidy row per configuration and seed.

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
from rfkit.metrics import topk_metrics
from rfkit.models import MultimodalGCN
from rfkit.train import train


def run_job(config: Mapping[str, Any], seed: int, dataset: Dataset,
            train_options: Mapping[str, Any]) -> dict[str, Any]:
    """Train one configuration with one seed; its parameters, best epoch and metrics as a row."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = MultimodalGCN({**config, "seed": seed}, dataset)
        result = train(model, dataset, seed=seed, progress=False, **train_options)
    finally:
        torch.set_num_threads(threads)
    history = result.history
    return {
        **config, "seed": seed, "best_epoch": result.best_epoch,
        **{f"valid_{k}": v for k, v in result.best_valid.items()},
        **{f"test_{k}": v for k, v in result.test_at_best.items()},
        "train_seconds": float(history["seconds"].sum()),
        "rf_seconds": float(history["rf_seconds"].sum()),
    }


def run_grid(base_config: Mapping[str, Any], grid: Mapping[str, Sequence[Any]], seeds: Sequence[int],
             dataset: Dataset, executor: Executor | None = None, progress: bool = True,
             **train_options: Any) -> pd.DataFrame:
    """Train base_config updated by every combination of `grid`, once per seed.

    `train_options` go to `rfkit.train.train` (epochs, patience, ...). Rows come back in grid
    order then seed order, whatever order the executor finished them in.
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty mapping of parameter name -> list of values")
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one seed")
    jobs = [({**base_config, **params}, seed) for params in ParameterGrid(dict(grid)) for seed in seeds]
    bar = tqdm(total=len(jobs), disable=not progress, desc="sweep")
    if executor is None:
        rows = []
        for config, seed in jobs:
            rows.append(run_job(config, seed, dataset, train_options))
            bar.update()
    else:
        futures = [executor.submit(run_job, config, seed, dataset, train_options) for config, seed in jobs]
        for future in futures:
            future.add_done_callback(lambda _: bar.update())
        rows = [future.result() for future in futures]
    bar.close()
    return pd.DataFrame(rows)


def score_at_ratios(model: MultimodalGCN, dataset: Dataset, ratios: Sequence[float],
                    ks: Sequence[int] = (10, 20)) -> pd.DataFrame:
    """Validation and test metrics of one trained RF model at each inference mix ratio (no retraining)."""
    train_m, valid_m, test_m = (dataset.matrix(s) for s in ("train", "valid", "test"))
    rows = []
    for ratio in ratios:
        scores = model.score_all(inference_mix_ratio=ratio)
        rows.append({"inference_mix_ratio": ratio,
                     **{f"valid_{k}": v for k, v in topk_metrics(scores, train_m, valid_m, ks).items()},
                     **{f"test_{k}": v for k, v in topk_metrics(scores, train_m, test_m, ks).items()}})
    return pd.DataFrame(rows)
