"""Long-tail analysis: who gains from a model change, popular items or rare ones?

A trained model is scored per item-popularity bucket (`rfkit.metrics.bucket_metrics`: items sorted
by training degree, the top 20% are ``head``, the next 30% ``mid``, the last 50% ``tail``) at its
best validation epoch, next to an ``all`` row with the overall metrics. Comparing variants is a
paired design: the same seed gives the same initialisation and the same BPR batches, so the
per-seed difference isolates the change, and its spread over seeds says whether the change is
larger than training noise.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd
import torch

from rfkit.data.dataset import Dataset
from rfkit.metrics import DEFAULT_BUCKETS, bucket_metrics, popularity_buckets, topk_metrics
from rfkit.models import MultimodalGCN
from rfkit.train import train

ALL = "all"
BUCKET_ORDER: tuple[str, ...] = tuple(name for name, _ in DEFAULT_BUCKETS)


def bucket_summary(dataset: Dataset,
                   buckets: Sequence[tuple[str, float]] = DEFAULT_BUCKETS) -> pd.DataFrame:
    """What the buckets hold, one row per bucket: items, their training-degree range and mean,
    the bucket's share of all training interactions and its number of test interactions."""
    degree = dataset.item_popularity()
    items = pd.DataFrame({"bucket": popularity_buckets(degree, buckets), "degree": degree,
                          "test": np.bincount(dataset.test["itemID"], minlength=dataset.n_items)})
    summary = items.groupby("bucket").agg(
        n_items=("degree", "size"), min_degree=("degree", "min"), max_degree=("degree", "max"),
        mean_degree=("degree", "mean"), train_share=("degree", "sum"), test_interactions=("test", "sum"))
    summary["train_share"] = summary["train_share"] / degree.sum()
    return summary.loc[[name for name, _ in buckets]]


def score_buckets(model: MultimodalGCN, dataset: Dataset, splits: Sequence[str] = ("valid", "test"),
                  ks: Sequence[int] = (10, 20),
                  buckets: Sequence[tuple[str, float]] = DEFAULT_BUCKETS) -> pd.DataFrame:
    """Metrics of a trained model per popularity bucket and overall (bucket ``all``), per split.

    Columns: split, bucket, n_items, n_users (users with >= 1 relevant item in that bucket and
    split), then the top-K metrics. Training items are masked; buckets use training degrees.
    """
    scores = model.score_all()
    train_m, popularity = dataset.matrix("train"), dataset.item_popularity()
    frames = []
    for split in splits:
        held_out = dataset.matrix(split)
        table = bucket_metrics(scores, train_m, held_out, popularity, ks, buckets)
        overall = {**topk_metrics(scores, train_m, held_out, ks), "n_items": dataset.n_items,
                   "n_users": int((held_out.getnnz(axis=1) > 0).sum())}
        table.loc[ALL] = pd.Series(overall)
        frames.append(table.rename_axis("bucket").reset_index().assign(split=split))
    table = pd.concat(frames, ignore_index=True)
    table[["n_items", "n_users"]] = table[["n_items", "n_users"]].astype(int)
    return table[["split", "bucket", "n_items", "n_users",
                  *[c for c in table.columns if c not in ("split", "bucket", "n_items", "n_users")]]]


def bucket_job(config: Mapping[str, Any], seed: int, dataset: Dataset, train_options: Mapping[str, Any],
               ks: Sequence[int] = (10, 20)) -> pd.DataFrame:
    """Train one config with one seed (single-threaded, like `rfkit.sweep.run_job`); its
    `score_buckets` table at the best validation epoch, with seed, best_epoch and train_seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = MultimodalGCN({**config, "seed": seed}, dataset)
        result = train(model, dataset, seed=seed, progress=False, ks=ks, **train_options)
        table = score_buckets(result.model, dataset, ks=ks)
        return table.assign(seed=seed, best_epoch=result.best_epoch,
                            train_seconds=float(result.history["seconds"].sum()))
    finally:
        torch.set_num_threads(threads)


def compare_buckets(variants: Mapping[str, Mapping[str, Any]], seeds: Sequence[int],
                    datasets: Dataset | Mapping[Any, Dataset], executor: Executor | None = None,
                    ks: Sequence[int] = (10, 20), **train_options: Any) -> pd.DataFrame:
    """Train every variant with every seed on every dataset; one row per run, split and bucket.

    ``datasets`` is one Dataset or a mapping label -> Dataset (e.g. one per informativeness
    value); the label goes to a ``dataset`` column. All jobs go to ``executor`` at once (any
    `concurrent.futures.Executor`, e.g. `rfkit.experiments.process_pool()`), or run here in order.
    ``train_options`` go to `rfkit.train.train` (epochs, batch_size, patience, ...).
    """
    if not isinstance(variants, Mapping) or not variants:
        raise ValueError("variants must be a non-empty mapping of name -> config")
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one seed")
    if isinstance(datasets, Dataset):
        datasets = {datasets.name: datasets}
    if not isinstance(datasets, Mapping) or not datasets:
        raise ValueError("datasets must be a Dataset or a non-empty mapping of label -> Dataset")
    jobs = [(label, name, seed) for label in datasets for name in variants for seed in seeds]
    args = [(variants[name], seed, datasets[label], train_options, ks) for label, name, seed in jobs]
    if executor is None:
        tables = [bucket_job(*job) for job in args]
    else:
        tables = [future.result() for future in [executor.submit(bucket_job, *job) for job in args]]
    return pd.concat([table.assign(dataset=label, variant=name)
                      for (label, name, _), table in zip(jobs, tables)], ignore_index=True)


def paired_deltas(table: pd.DataFrame, baseline: str, treatment: str, metric: str,
                  split: str = "test", by: Sequence[str] = ("dataset", "bucket"),
                  z: float = 2.0) -> pd.DataFrame:
    """Treatment minus baseline of ``metric`` per group, paired by seed, with a verdict.

    Columns: baseline / treatment mean and std over seeds, ``delta`` (mean of the per-seed
    differences), ``delta_std`` (their std), ``n_seeds``, ``relative`` (delta / baseline mean)
    and ``verdict``: "helps" / "hurts" when |delta| exceeds ``z`` standard errors of the paired
    differences (delta_std / sqrt(n_seeds)), else "within noise"; "one seed" when there is no spread.
    Only seeds run with both variants count.
    """
    by = list(by)
    rows = table[(table["split"] == split) & table["variant"].isin([baseline, treatment])]
    if rows.empty:
        raise ValueError(f"no rows for split {split!r} and variants {baseline!r}, {treatment!r}")
    wide = rows.pivot_table(index=[*by, "seed"], columns="variant", values=metric, aggfunc="first",
                            sort=False)
    if baseline not in wide or treatment not in wide:
        raise ValueError(f"the table must hold both variants {baseline!r} and {treatment!r}")
    wide = wide.dropna(subset=[baseline, treatment])
    wide["delta"] = wide[treatment] - wide[baseline]
    summary = wide.groupby(level=by, sort=False).agg(
        baseline_mean=(baseline, "mean"), baseline_std=(baseline, "std"),
        treatment_mean=(treatment, "mean"), treatment_std=(treatment, "std"),
        delta=("delta", "mean"), delta_std=("delta", "std"), n_seeds=("delta", "size"))
    summary["relative"] = summary["delta"] / summary["baseline_mean"].where(summary["baseline_mean"] != 0)
    summary["verdict"] = [verdict(d, s, n, z) for d, s, n in
                          zip(summary["delta"], summary["delta_std"], summary["n_seeds"])]
    return summary.reset_index()


def verdict(delta: float, delta_std: float, n_seeds: int, z: float = 2.0) -> str:
    """"helps" / "hurts" if |delta| > z * delta_std / sqrt(n_seeds), else "within noise"."""
    if n_seeds < 2 or not np.isfinite(delta_std):
        return "one seed"
    margin = z * delta_std / np.sqrt(n_seeds)
    if delta > margin:
        return "helps"
    if delta < -margin:
        return "hurts"
    return "within noise"


def delta_table(deltas: pd.DataFrame, index: str, columns: str = "bucket",
                order: Sequence[str] = (*BUCKET_ORDER, ALL)) -> pd.DataFrame:
    """`paired_deltas` output as a readable grid of "delta ± delta_std (verdict)" strings."""
    cells = [f"{d:+.4f} ± {s:.4f} ({v})" for d, s, v in
             zip(deltas["delta"], deltas["delta_std"].fillna(0.0), deltas["verdict"])]
    grid = deltas.assign(cell=cells).pivot(index=index, columns=columns, values="cell")
    return grid[[c for c in order if c in grid.columns]]
