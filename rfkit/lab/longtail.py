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
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from rfkit.data.dataset import Dataset
from rfkit.experiments.runner import RunFailure, generator_columns, run_jobs, train_one
from rfkit.lab.verdicts import Findings, chance_note
from rfkit.metrics import DEFAULT_BUCKETS, bucket_metrics, popularity_buckets, topk_metrics
from rfkit.models import MultimodalGCN
from rfkit.stats import describe, paired_differences
from rfkit.train import TrainResult

ALL = "all"
BUCKET_ORDER: tuple[str, ...] = tuple(name for name, _ in DEFAULT_BUCKETS)
BUCKET_COLORS = {"head": "tab:red", "mid": "tab:orange", "tail": "tab:green", ALL: "black"}
# The variants notebook 06 compares: the backbone, RF, and RF's two controls of the same interface.
BASELINE, TREATMENT, REGRESSION, PLACEBO = "backbone", "backbone + RF", "backbone + regression", "backbone + placebo"
VARIANT_COLORS = {BASELINE: "tab:gray", TREATMENT: "tab:blue", REGRESSION: "tab:green", PLACEBO: "tab:olive"}


def variants(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The four variants of `config`: RF off, RF on, and RF's regression and noise placebo."""
    return {BASELINE: {**config, "use_rf": False}, TREATMENT: {**config, "use_rf": True},
            REGRESSION: {**config, "use_rf": True, "rf_generator": "regression"},
            PLACEBO: {**config, "use_rf": True, "rf_generator": "noise"}}


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


def bucket_measure(ks: Sequence[int], model: MultimodalGCN, result: TrainResult, dataset: Dataset) -> pd.DataFrame:
    """A `rfkit.experiments.runner` measure: the `score_buckets` table at the best validation epoch, with the
    run's best_epoch, train_seconds and, with a generator, its health (`generator_columns`)."""
    return score_buckets(model, dataset, ks=ks).assign(
        best_epoch=result.best_epoch, train_seconds=float(result.history["seconds"].sum()),
        **generator_columns(model))


def compare_buckets(variants: Mapping[str, Mapping[str, Any]], seeds: Sequence[int],
                    datasets: Dataset | Mapping[Any, Dataset], executor: Executor | None = None,
                    ks: Sequence[int] = (10, 20), **train_options: Any) -> pd.DataFrame:
    """Train every variant with every seed on every dataset; one row per run, split and bucket.

    ``datasets`` is one Dataset or a mapping label -> Dataset (e.g. one per informativeness
    value); the label goes to a ``dataset`` column. All jobs go to ``executor`` at once (any
    `concurrent.futures.Executor`, e.g. `rfkit.lab.process_pool()`), or run here in order.
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
    measure = partial(bucket_measure, tuple(ks))
    tables = run_jobs(train_one, [dict(config=variants[name], seed=seed, dataset=datasets[label],
                                       train_options={**train_options, "ks": ks}, measure=measure)
                                  for label, name, seed in jobs], executor, progress=False)
    return pd.concat([(pd.DataFrame([table.record()]) if isinstance(table, RunFailure) else table.assign(status="ok"))
                      .assign(dataset=label, variant=name, seed=seed)
                      for (label, name, seed), table in zip(jobs, tables)], ignore_index=True)


def bucket_differences(table: pd.DataFrame, baseline: str, treatment: str, metric: str,
                       split: str = "test", by: Sequence[str] = ("dataset", "bucket")) -> pd.DataFrame:
    """Treatment minus baseline of `metric` per bucket (and dataset) on one split, paired by seed:
    `rfkit.stats.paired_differences` on the rows of that split."""
    rows = table[table["split"] == split]
    if rows.empty:
        raise ValueError(f"no rows for split {split!r}")
    return paired_differences(rows, metric, baseline, [treatment], by=by)


def versus_placebo(table: pd.DataFrame, placebo: str, treatments: Sequence[str], metric: str,
                   split: str = "test", by: Sequence[str] = ("dataset", "bucket")) -> pd.DataFrame:
    """Each of `treatments` minus the `placebo` variant per bucket (and dataset), paired by seed;
    a ``variant`` column names the treatment."""
    rows = table[table["split"] == split]
    return paired_differences(rows, metric, placebo, list(treatments), by=by)


def delta_table(deltas: pd.DataFrame, index: str, columns: str = "bucket",
                order: Sequence[str] = (*BUCKET_ORDER, ALL)) -> pd.DataFrame:
    """`bucket_differences` output as a readable grid of "delta [ci_low, ci_high] (verdict)" strings."""
    cells = [describe(row) for _, row in deltas.iterrows()]
    grid = deltas.assign(cell=cells).pivot(index=index, columns=columns, values="cell")
    return grid[[c for c in order if c in grid.columns]]


def gain_trend(table: pd.DataFrame, baseline: str, treatment: str, metric: str, column: str = "informativeness",
               split: str = "test") -> pd.DataFrame:
    """How the treatment's gain moves along `column` (e.g. informativeness): per bucket and value
    of `column`, (treatment - baseline at that value) minus (the same at the lowest value), paired
    by seed. One `rfkit.stats.paired_differences` row per (bucket, value above the lowest)."""
    rows = table[table["split"] == split]
    if rows.empty:
        raise ValueError(f"no rows for split {split!r}")
    if rows[column].nunique() < 2:
        raise ValueError(f"column {column!r} needs at least two values to show a trend")
    wide = rows.pivot_table(index=[column, "bucket", "seed"], columns="variant", values=metric, aggfunc="first")
    gains = (wide[treatment] - wide[baseline]).rename("gain").reset_index()
    return paired_differences(gains, "gain", min(gains[column]), by=["bucket"], variant=column)


FLOOR = 0.005  # a bucket's backbone metric below this retrieves (almost) nothing: no verdict there


def _cell(row: pd.Series, bucket: str) -> str:
    """One (value, bucket) cell of the sweep: its difference, or that it sits at the floor."""
    if bucket != ALL and row["baseline_mean"] < FLOOR:
        return f"at the floor (backbone {row['baseline_mean']:.4f}, RF {row['treatment_mean']:.4f})"
    return describe(row)


def _buckets(rows: pd.DataFrame, verdict: str) -> str:
    names = [b for b in BUCKET_ORDER if b in set(rows.loc[rows["verdict"] == verdict, "bucket"])]
    return ", ".join(names) or "no bucket"


def real_conclusions(deltas: pd.DataFrame, data_name: str, metric: str) -> Findings:
    """Sentences on treatment minus baseline per bucket of one dataset (`bucket_differences` rows)."""
    by = deltas.set_index("bucket")
    sentences = [f"{data_name}, test {metric}, RF minus backbone per bucket (95% intervals over "
                 f"{int(deltas['n_seeds'].min())} seeds):"]
    for bucket in [*BUCKET_ORDER, ALL]:
        row = by.loc[bucket]
        relative = f", {row['relative']:+.0%} relative" if row["baseline_mean"] > 0 else ""
        sentences.append(f"  {bucket}: {describe(row)}; backbone {row['baseline_mean']:.4f}{relative}")
    verdicts = by["verdict"].to_dict()
    core = deltas[deltas["bucket"] != ALL]
    trades = verdicts["head"] == "worse" and "better" in (verdicts["mid"], verdicts["tail"])
    sentences.append(f"  => on {data_name}, RF is better on {_buckets(core, 'better')}, worse on "
                     f"{_buckets(core, 'worse')}, within noise on {_buckets(core, 'within noise')}; "
                     f"test {metric} RF minus backbone on tail items {describe(by.loc['tail'])}, "
                     f"on all items {describe(by.loc[ALL])}.")
    if trades:
        sentences.append(f"  => RF trades accuracy on popular items for accuracy on rarer ones here; the net "
                         f"effect on all users is '{verdicts[ALL]}'.")
    return Findings(sentences, {"real_verdicts": verdicts, "trades_head_for_tail": trades,
                                "rf_better_real": {b: v == "better" for b, v in verdicts.items()},
                                "rf_worse_real": {b: v == "worse" for b, v in verdicts.items()}})


def sweep_conclusions(deltas: pd.DataFrame, trend: pd.DataFrame, metric: str,
                      column: str = "informativeness") -> Findings:
    """Sentences on the gain per bucket at each value of `column` (`bucket_differences` rows with
    ``by=[column, "bucket"]``) and on its change from the lowest value (`gain_trend` rows); then
    whether "RF helps mid and tail only when the features carry information" holds."""
    present = [b for b in (*BUCKET_ORDER, ALL) if b in set(deltas["bucket"])]
    if not {"mid", "tail"} <= set(present):
        raise ValueError(f"deltas must hold the buckets 'mid' and 'tail', got {present}")
    values = sorted(set(deltas[column]))
    low, by = values[0], deltas.set_index([column, "bucket"])
    # a cell whose backbone retrieves (almost) nothing compares near-zeros: no verdict there
    floored = deltas[(deltas["baseline_mean"] < FLOOR) & (deltas["bucket"] != ALL)]
    sentences, peaks, better_at = [], {}, {}
    for bucket in present:
        rows = deltas[deltas["bucket"] == bucket]
        peaks[bucket] = float(rows.loc[rows["delta"].idxmax(), column])
        above = rows[rows["baseline_mean"] >= FLOOR] if bucket != ALL else rows
        better_at[bucket] = [float(s) for s in above.loc[above["verdict"] == "better", column]]
        moves = trend[trend["bucket"] == bucket]
        sentences.append(
            f"synthetic {bucket}, test {metric}, RF minus backbone: "
            + "; ".join(f"s={s}: {_cell(by.loc[(s, bucket)], bucket)}" for s in values)
            + f"; largest mean gain at s={peaks[bucket]}; gain at s minus gain at s={low}: "
            + "; ".join(f"s={row[column]}: {describe(row)}" for _, row in moves.iterrows()) + ".")
    for value, rows in floored.groupby(column, sort=True):
        sentences.append(
            f"At s={value} the backbone's test {metric} on " + " and ".join(rows["bucket"])
            + " is at the floor (" + ", ".join(f"{m:.4f}" for m in rows["baseline_mean"])
            + f", below {FLOOR}): RF's verdicts there would compare near-zeros, so they are left out of the claim.")
    informative = values[1:]
    tested = {b: [float(s) for s in deltas.loc[(deltas["bucket"] == b) & (deltas["baseline_mean"] >= FLOOR), column]]
              for b in ("mid", "tail")}
    rare = [sorted(better_at[b]) for b in ("mid", "tail")]
    if all(at == [s for s in informative if s in tested[b]] and at for at, b in zip(rare, ("mid", "tail"))):
        claim = "holds"
    elif any(s in informative for at in rare for s in at):
        claim = "holds only in part"
    else:
        claim = "is not supported"
    sentences.append(
        f"'RF helps mid and tail only when the features carry information' {claim}: RF is better beyond noise on "
        + "; ".join(f"{b} at " + (", ".join(f"s={s}" for s in better_at[b]) or "no value tried")
                    + f" (compared at s = {', '.join(map(str, tested[b])) or 'none'})" for b in ("mid", "tail"))
        + ".")
    grows = {b: [float(s) for s in trend.loc[(trend["bucket"] == b) & (trend["verdict"] == "better"), column]]
             for b in present}
    return Findings(sentences, {"sweep_better_at": better_at, "gain_peaks_at": peaks, "gain_grows_at": grows,
                                "information_claim": claim})


def regression_sentences(real: pd.DataFrame, sweep: pd.DataFrame, data_name: str, metric: str,
                         column: str = "informativeness") -> Findings:
    """Sentences on RF minus the regression baseline per bucket (`bucket_differences` rows with the
    regression variant as baseline): on the real data, then at each value of `column`."""
    sentences = [f"{data_name}, test {metric}, RF minus regression per bucket (what the flow adds over a point "
                 f"estimate of the same size): "
                 + "; ".join(f"{row['bucket']}: {describe(row)}" for _, row in real.iterrows()) + "."]
    verdicts = dict(zip(real["bucket"], real["verdict"]))
    by_value = {}
    for value, rows in sweep.groupby(column, sort=True):
        by_value[float(value)] = dict(zip(rows["bucket"], rows["verdict"]))
        sentences.append(f"synthetic s={value}, RF minus regression: better on {_buckets(rows, 'better')}, worse on "
                         f"{_buckets(rows, 'worse')}; overall ({ALL}): "
                         f"{describe(rows.set_index('bucket').loc[ALL])}.")
    return Findings(sentences, {"flow_vs_regression_real": verdicts, "flow_vs_regression_sweep": by_value})


def placebo_sentences(real: pd.DataFrame, sweep: pd.DataFrame, data_name: str, metric: str,
                      column: str = "informativeness") -> Findings:
    """Sentences on RF and regression minus the noise placebo per bucket: `bucket_differences` rows
    with "placebo" as baseline and a ``variant`` column naming the generator compared."""
    sentences = []
    for variant, rows in real.groupby("variant", sort=False):
        sentences.append(f"{data_name}, test {metric}, {variant} minus placebo per bucket (more than noise of the "
                         f"same size?): " + "; ".join(f"{r['bucket']}: {describe(r)}" for _, r in rows.iterrows()) + ".")
    by_value = {}
    for (value, variant), rows in sweep.groupby([column, "variant"], sort=True):
        by_value.setdefault(float(value), {})[variant] = dict(zip(rows["bucket"], rows["verdict"]))
        sentences.append(f"synthetic s={value}, {variant} minus placebo: better on {_buckets(rows, 'better')}, worse "
                         f"on {_buckets(rows, 'worse')}; overall ({ALL}): {describe(rows.set_index('bucket').loc[ALL])}.")
    real_verdicts = {v: dict(zip(rows["bucket"], rows["verdict"])) for v, rows in real.groupby("variant", sort=False)}
    return Findings(sentences, {"versus_placebo_real": real_verdicts, "versus_placebo_sweep": by_value})


def conclusions(real: pd.DataFrame, sweep: pd.DataFrame, trend: pd.DataFrame, data_name: str,
                metric: str, real_vs_regression: pd.DataFrame,
                sweep_vs_regression: pd.DataFrame, real_vs_placebo: pd.DataFrame | None = None,
                sweep_vs_placebo: pd.DataFrame | None = None) -> Findings:
    """Notebook 06's conclusions: `real_conclusions`, `sweep_conclusions`, `regression_sentences`
    (RF minus regression, ``*_vs_regression``), `placebo_sentences` (RF and regression minus the
    placebo, ``*_vs_placebo``, when given), then how many of all these verdicts would exceed noise
    by chance; and their flags."""
    found = (real_conclusions(real, data_name, metric) + sweep_conclusions(sweep, trend, metric)
             + regression_sentences(real_vs_regression, sweep_vs_regression, data_name, metric))
    tables = [real, sweep, trend, real_vs_regression, sweep_vs_regression]
    if real_vs_placebo is not None and sweep_vs_placebo is not None:
        found += placebo_sentences(real_vs_placebo, sweep_vs_placebo, data_name, metric)
        tables += [real_vs_placebo, sweep_vs_placebo]
    return found + Findings([chance_note(*tables)], {"n_verdicts": sum(len(t) for t in tables)})
