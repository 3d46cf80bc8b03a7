"""Shared set-up of the notebooks' experiments, so every notebook runs the same protocol.

QUICK runs use the tiny synthetic preset and a few epochs (seconds); full runs use the chosen
dataset and the budget below, which keeps the whole report under 30 minutes on 2 cores.
Several trainings run side by side on a process pool, each single-threaded.
"""
from __future__ import annotations

import multiprocessing
import os
from contextlib import nullcontext
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from rfkit.data import Dataset, load
from rfkit.sweep import run_configs

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
QUICK_TRAINING = {"epochs": 4, "patience": 4, "batch_size": 1024}
FULL_TRAINING = {"epochs": 15, "patience": 5, "batch_size": 4096}


def load_config(name: str = "multimodal") -> dict[str, Any]:
    """A YAML config from configs/ (e.g. "multimodal" or "rf_default")."""
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no config {name!r}: {path} does not exist")
    return yaml.safe_load(path.read_text()) or {}


def load_dataset(dataset: str, quick: bool, seed: int = 0) -> Dataset:
    """The tiny synthetic preset in quick mode, else `dataset` (a source name or an MMRec folder)."""
    if quick:
        return load("synthetic", preset="tiny", seed=seed)
    if dataset in ("movielens", "synthetic"):
        return load(dataset, seed=seed)
    return load(dataset)


def training_options(quick: bool, **overrides: Any) -> dict[str, Any]:
    """Epochs, patience and batch size for `rfkit.train.train` at this budget."""
    return {**(QUICK_TRAINING if quick else FULL_TRAINING), **overrides}


def process_pool(workers: int | None = None) -> Executor:
    """A spawn-based process pool with one worker per core (torch is not fork-safe)."""
    return ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"))


def compare(variants: Mapping[str, Mapping[str, Any]], seeds: Sequence[int], dataset: Dataset,
            quick: bool, parallel: bool = True, rescore_ratios: Sequence[float] | None = None,
            **train_overrides: Any) -> pd.DataFrame:
    """Train each named config once per seed (on a process pool if `parallel`); one row per run.

    A thin wrapper of `rfkit.sweep.run_configs` with this budget's training options.
    """
    with process_pool() if parallel else nullcontext() as executor:
        return run_configs(variants, seeds, dataset, executor=executor, progress=False,
                           rescore_ratios=rescore_ratios, **training_options(quick, **train_overrides))


def mean_and_spread(table: pd.DataFrame, by: str | Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each metric, one row per group."""
    summary = table.groupby(by, sort=False)[list(metrics)].agg(["mean", "std"])
    summary.columns = [f"{metric} {stat}" for metric, stat in summary.columns]
    return summary
