"""Per-epoch training histories of several configurations and seeds, and what they say about RF.

`rfkit.experiments.sweep` keeps one row per run (its best epoch). Questions about *when* things happen
(warmup, early stopping, the cost of each epoch) need the trainer's whole history, so
`run_histories` keeps both: every epoch of every run, and one summary row per run.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rfkit.data.dataset import Dataset
from rfkit.experiments.runner import RunFailure, records, run_summary, succeeded, train_many
from rfkit.metrics import split_metrics
from rfkit.models import MultimodalGCN
from rfkit.stats import mean_and_spread
from rfkit.train import TrainResult


@dataclass
class Histories:
    """`epochs`: one row per (variant, seed, epoch), the trainer's history columns.
    `runs`: one row per (variant, seed): best epoch, epochs run, whether the best epoch's scores
    were RF-mixed, and valid_* / test_* metrics at the best validation epoch."""

    epochs: pd.DataFrame
    runs: pd.DataFrame


def history_measure(model: MultimodalGCN, result: TrainResult, dataset: Dataset) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A `rfkit.experiments.runner` measure: the whole history, and the run's summary with its warmup
    and, with a generator, the same model's ``unmixed_valid_*`` / ``unmixed_test_*`` metrics scored at
    inference ratio 0."""
    rf = getattr(model, "rf_generator", None)
    summary = {"warmup_epochs": None if rf is None else rf.warmup_epochs, **run_summary(model, result)}
    if rf is not None:  # the same trained model scored without its generator: a difference free of the stop
        unmixed = split_metrics(model.score_all(inference_mix_ratio=0.0), dataset)
        summary.update({f"unmixed_{k}": v for k, v in unmixed.items()})
    return result.history, summary


def run_histories(configs: Mapping[str, Mapping[str, Any]], seeds: Sequence[int], dataset: Dataset,
                  executor: Executor | None = None, **train_options: Any) -> Histories:
    """Train each named config once per seed (on `executor` if given, else here, in order).

    `train_options` go to `rfkit.train.train`. Both tables get a `variant` column holding the
    config's name; rows come in config order, then seed order.
    """
    results = train_many(configs, seeds, dataset, train_options, history_measure, executor, progress=False)
    epochs = pd.concat([history.assign(variant=name, seed=seed) for name, seed, (history, _) in succeeded(results)],
                       ignore_index=True)
    front = ["variant", "seed", "epoch"]
    epochs = epochs[front + [c for c in epochs.columns if c not in front]]
    runs = pd.DataFrame(records((name, seed, measured if isinstance(measured, RunFailure) else measured[1])
                                for name, seed, measured in results))
    return Histories(epochs, runs)


def rf_time_share(history: pd.DataFrame) -> dict[str, float]:
    """Training time inside RF calls, from history columns `seconds` and `rf_seconds`.

    `share` = rf / total training time; `overhead` = rf / (total - rf): how much longer the
    epochs took than the same epochs without the RF calls (the spec's "10-20% more time").
    """
    total, rf = float(history["seconds"].sum()), float(history["rf_seconds"].sum())
    if not total > 0:
        raise ValueError("history has no training time (column 'seconds' sums to 0)")
    if not 0 <= rf < total:
        raise ValueError(f"rf_seconds ({rf}) must be in [0, seconds) ({total})")
    return {"seconds": total, "rf_seconds": rf, "share": rf / total, "overhead": rf / (total - rf)}


def warmup_score_gap(model: MultimodalGCN, epochs: Iterable[int]) -> pd.Series:
    """max |score_all() - score_all(inference_mix_ratio=0)| with the generator at each epoch.

    Ratio 0 switches mixing off, i.e. gives the backbone's scores. While an epoch is inside the
    warmup the gap must be exactly 0; after it, the mixed scores differ. The generator's epoch is
    restored afterwards.
    """
    rf = getattr(model, "rf_generator", None)
    if rf is None:
        raise ValueError("warmup_score_gap needs a model built with use_rf=True")
    saved = rf.current_epoch
    gaps = {}
    try:
        backbone = model.score_all(inference_mix_ratio=0.0)
        for epoch in epochs:
            rf.set_epoch(epoch)
            gaps[epoch] = float((model.score_all() - backbone).abs().max())
    finally:
        rf.set_epoch(saved)
    return pd.Series(gaps, name="max_abs_score_gap").rename_axis("epoch")


def mean_std_strings(runs: pd.DataFrame, by: str, metrics: Sequence[str], digits: int = 4) -> pd.DataFrame:
    """"mean ± std" over seeds of each metric, one row per `by` value (a table to read)."""
    summary = mean_and_spread(runs, by, metrics)
    return pd.DataFrame({metric: [f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in
                                  zip(summary[f"{metric} mean"], summary[f"{metric} std"].fillna(0.0))]
                         for metric in metrics}, index=summary.index)


def seed_summary(runs: pd.DataFrame, by: str, metrics: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """{group: {metric: {"mean", "std"}}} over seeds, for results.json (std 0 for a single seed)."""
    summary = mean_and_spread(runs, by, metrics)
    return {str(group): {metric: {"mean": float(row[f"{metric} mean"]),
                                  "std": float(0.0 if pd.isna(row[f"{metric} std"]) else row[f"{metric} std"])}
                         for metric in metrics}
            for group, row in summary.iterrows()}


def warmup_divergence(epochs: pd.DataFrame, warmups: Mapping[str, float], columns: Sequence[str],
                      by: str = "variant") -> pd.DataFrame:
    """How far apart the histories of two variants are, before and after the first of them mixes.

    `warmups` maps each variant to its warmup length (`math.inf` for a model that never mixes,
    e.g. the backbone). For every pair (a, b) with warmup(a) <= warmup(b), runs with the same seed
    are compared on `columns` at the epochs both ran: ``before`` is the largest absolute
    difference at epochs < warmup(a) (NaN if there are none: `shared_epochs` counts these
    seed-epochs), ``after`` the largest at the other epochs (NaN if none). Two variants that
    differ only in their warmup train identically until the shorter warmup ends, so ``before``
    should be exactly 0.
    """
    missing = {by, "seed", "epoch", *columns} - set(epochs.columns)
    if missing:
        raise ValueError(f"epochs lacks column(s) {sorted(missing)}")
    wide = epochs.pivot_table(index=["seed", "epoch"], columns=by, values=list(columns), dropna=False)
    rows = []
    for a, b in itertools.combinations(sorted(warmups, key=lambda name: warmups[name]), 2):
        first = wide.xs(a, axis=1, level=by).dropna(how="all")
        second = wide.xs(b, axis=1, level=by).dropna(how="all")
        index = first.index.intersection(second.index)
        gap = (first.loc[index] - second.loc[index]).abs().max(axis=1)
        before = index.get_level_values("epoch") < warmups[a]
        rows.append({"a": a, "b": b, "warmup_a": warmups[a], "warmup_b": warmups[b],
                     "shared_epochs": int(before.sum()),
                     "before": float(gap[before].max()) if before.any() else None,
                     "after": float(gap[~before].max()) if (~before).any() else None})
    return pd.DataFrame(rows)
