"""The one job runner: train one configuration on one seed, and map that over many jobs.

`train_one` builds a `MultimodalGCN` from a config, trains it single-threaded (so its numbers do
not depend on where it ran) and hands the trained model to a `measure` function that turns it
into records. `run_jobs` maps any function over jobs on any `concurrent.futures.Executor` (a
local process pool, or a Dask cluster's `client.get_executor()`), in job order, with a progress
bar. Sweeps, histories, long-tail buckets and flow probes are all `train_one` plus a measure.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from rfkit.data.dataset import Dataset
from rfkit.experiments.run_cache import cached_call
from rfkit.generator.factory import GENERATOR_KEY, GENERATORS
from rfkit.models import MultimodalGCN
from rfkit.train import TrainingDiverged, TrainResult, train

Measure = Callable[[MultimodalGCN, TrainResult, Dataset], Any]


@dataclass(frozen=True)
class RunFailure:
    """A run that failed while training (e.g. diverged): kept as a record, never dropped."""

    status: str
    reason: str
    epochs_run: int
    best_epoch: int | None

    def record(self) -> dict[str, Any]:
        """The run's row: status and reason, the epochs it got through, no metrics."""
        return {"status": self.status, "reason": self.reason, "epochs_run": self.epochs_run,
                "best_epoch": self.best_epoch}


def run_summary(model: MultimodalGCN, result: TrainResult, dataset: Dataset | None = None) -> dict[str, Any]:
    """One record of a finished run: best and last epochs, time, the metrics at the best
    validation epoch (``valid_*``, ``test_*``) and, with a generator, `generator_columns`."""
    history = result.history
    return {"best_epoch": result.best_epoch, "epochs_run": len(history),
            "train_seconds": float(history["seconds"].sum()),
            "rf_seconds": float(history["rf_seconds"].sum()),
            **{f"valid_{k}": v for k, v in result.best_valid.items()},
            **{f"test_{k}": v for k, v in result.test_at_best.items()},
            **generator_columns(model)}


HEALTH_PREFIX = "health_"
# The columns a notebook keeps in every run record it saves, so a reader (and a test) can count the
# learned generators: which generator, whether its model mixed it in, and its health.
HEALTH_RECORD = ("generator", "mixed_at_best", "rf_steps_taken", HEALTH_PREFIX + "verdict",
                 HEALTH_PREFIX + "one_step_cosine", HEALTH_PREFIX + "ridge_cosine")


def with_health(columns: Sequence[str], runs_columns: Iterable[str]) -> list[str]:
    """`columns` and the `HEALTH_RECORD` columns among `runs_columns` (a backbone-only table has
    ``generator`` and ``mixed_at_best`` alone)."""
    present = set(runs_columns)
    return [*columns, *(c for c in HEALTH_RECORD if c in present and c not in columns)]


def generator_columns(model: MultimodalGCN) -> dict[str, Any]:
    """The ``generator`` kind, whether the model's scores mix it in (``mixed_at_best``: after
    `train`, the model is at its best validated epoch; one inside the warmup never mixed),
    ``rf_steps_taken`` and the generator's health (`MultimodalGCN.generator_health`, each field
    prefixed ``health_``); for the backbone ``generator`` None and ``mixed_at_best`` False."""
    if not hasattr(model, "rf_generator"):
        return {"generator": None, "mixed_at_best": False}
    return {**health_columns(model.generator_health().record(), model.rf_steps_taken,
                             model.config.get(GENERATOR_KEY, "flow")),
            "mixed_at_best": not model.rf_generator.in_warmup()}


def health_columns(record: Mapping[str, Any], rf_steps_taken: int, generator: str) -> dict[str, Any]:
    """A `GeneratorHealth.record` as run columns: the ``generator`` kind ("flow", "regression" or
    "noise"), ``rf_steps_taken`` and each field prefixed ``health_``."""
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {sorted(GENERATORS)}, got {generator!r}")
    return {"generator": generator, "rf_steps_taken": rf_steps_taken,
            **{HEALTH_PREFIX + k: v for k, v in record.items()}}


def train_one(config: Mapping[str, Any], seed: int, dataset: Dataset, train_options: Mapping[str, Any],
              measure: Measure = run_summary) -> Any:
    """Train `config` with `seed` on one thread; return ``measure(model, result, dataset)``, or a
    `RunFailure` when training diverged (the other jobs of a sweep go on).

    `train_options` go to `rfkit.train.train` (epochs, patience, batch_size, ...). An identical
    training that ran before is read from the run cache when one is on (`rfkit.experiments.run_cache`).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = cached_call(fit, dataset, config.get("device", "cpu"), dict(config), seed, dict(train_options))
        return result if isinstance(result, RunFailure) else measure(result.model, result, dataset)
    finally:
        torch.set_num_threads(threads)


def fit(dataset: Dataset, config: Mapping[str, Any], seed: int,
        train_options: Mapping[str, Any]) -> TrainResult | RunFailure:
    """A `MultimodalGCN` of `config` trained with `seed` (the result holds the model), or the
    `RunFailure` of a training that diverged."""
    model = MultimodalGCN({**config, "seed": seed}, dataset)
    try:
        return train(model, dataset, seed=seed, progress=False, **train_options)
    except TrainingDiverged as failure:
        return RunFailure("diverged", str(failure), failure.result.epochs_run, failure.result.best_epoch)


def run_jobs(function: Callable[..., Any], jobs: Sequence[Mapping[str, Any]], executor: Executor | None = None,
             progress: bool = True, desc: str = "jobs") -> list[Any]:
    """``function(**job)`` for every job, on `executor` if given (else here, in order).

    Results come back in job order whatever order the executor finished them in. With an
    executor, `function` and the jobs must be picklable (module-level functions, plain data).
    """
    bar = tqdm(total=len(jobs), disable=not progress, desc=desc)
    try:
        if executor is None:
            results = []
            for job in jobs:
                results.append(function(**job))
                bar.update()
            return results
        futures = [executor.submit(function, **job) for job in jobs]
        for future in futures:
            future.add_done_callback(lambda _: bar.update())
        return [future.result() for future in futures]
    finally:
        bar.close()


def config_seed_jobs(configs: Mapping[str, Mapping[str, Any]], seeds: Sequence[int]) -> list[tuple[str, Mapping, int]]:
    """(name, config, seed) for every named config and seed, in config then seed order."""
    if not isinstance(configs, Mapping) or not configs:
        raise ValueError("configs must be a non-empty mapping of name -> config")
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one seed")
    names = list(configs)
    for i, name in enumerate(names):
        twin = next((other for other in names[:i] if dict(configs[other]) == dict(configs[name])), None)
        if twin is not None:  # a comparison between them would measure nothing but noise
            raise ValueError(f"configs {twin!r} and {name!r} are identical; a variant must differ from the "
                             f"others (e.g. set the compared key explicitly in both)")
    return [(name, config, seed) for name, config in configs.items() for seed in seeds]


def train_many(configs: Mapping[str, Mapping[str, Any]], seeds: Sequence[int], dataset: Dataset,
               train_options: Mapping[str, Any], measure: Measure = run_summary,
               executor: Executor | None = None, progress: bool = True) -> list[tuple[str, int, Any]]:
    """`train_one` for every named config and seed; (name, seed, measured) in config then seed order."""
    jobs = config_seed_jobs(configs, seeds)
    results = run_jobs(train_one, [dict(config=config, seed=seed, dataset=dataset, train_options=train_options,
                                        measure=measure) for _, config, seed in jobs],
                       executor, progress, desc="train")
    return [(name, seed, measured) for (name, _, seed), measured in zip(jobs, results)]


def records(results: Iterable[tuple[str, int, Any]], name_column: str = "variant") -> list[dict[str, Any]]:
    """Flatten `train_many` output whose measure returned a record or a list of records; each row
    gets a ``status`` ("ok", or the failure's status with its ``reason`` and no metrics)."""
    rows = []
    for name, seed, measured in results:
        if isinstance(measured, RunFailure):
            rows.append({name_column: name, "seed": seed, **measured.record()})
            continue
        for row in measured if isinstance(measured, list) else [measured]:
            rows.append({name_column: name, "seed": seed, "status": "ok", **row})
    return rows


def succeeded(results: Iterable[tuple[str, int, Any]]) -> list[tuple[str, int, Any]]:
    """The `train_many` results whose run did not fail."""
    return [item for item in results if not isinstance(item[2], RunFailure)]
