"""A notebook's set-up in one call: seeds, training budget, data, a process pool and the record.

Every experiment notebook starts with

    lab = start("01_integration", QUICK, SEED, OUTPUT_DIR, FIGURES_DIR, n_seeds=N_SEEDS, DATASET=DATASET)
    dataset = lab.dataset(DATASET)

and ends with ``lab.finish(findings, key_findings, **numbers)`` (`rfkit.lab.verdicts.Findings`, or
plain sentences), which renders the conclusions as the notebook's last output ("What this notebook
found"). QUICK runs use the tiny synthetic preset
and the quick budget of `rfkit.config.training_options` (seconds); full runs use the chosen dataset
and the full budget. Several trainings run side by side with ``with lab.pool() as pool:``, each
single-threaded, and the pool is shut down even when a cell fails.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import seaborn as sns
import torch
from IPython.display import Markdown, display

from rfkit import config
from rfkit.config import training_options
from rfkit.data import Dataset, load
from rfkit.experiments import tuning
from rfkit.lab.record import RunRecord
from rfkit.lab.verdicts import Findings
from rfkit.machine import resolve_device


def load_dataset(dataset: str, quick: bool, seed: int = 0) -> Dataset:
    """The tiny synthetic preset in quick mode, else `dataset` (a source name or an MMRec folder)."""
    if quick:
        return load("synthetic", preset="tiny", seed=seed)
    if dataset in ("movielens", "synthetic"):
        return load(dataset, seed=seed)
    return load(dataset)


@contextmanager
def process_pool(workers: int | None = None) -> Iterator[Executor]:
    """A spawn-based process pool with one worker per core (torch is not fork-safe), shut down on exit."""
    pool = ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


@dataclass
class Lab:
    """What a notebook needs after its parameters cell."""

    quick: bool
    seeds: list[int]
    training: dict[str, Any]
    record: RunRecord
    device: torch.device = torch.device("cpu")
    started: float = field(default_factory=time.time)
    tunings: dict[str, pd.DataFrame] = field(default_factory=dict)  # dataset name -> `tuned`'s table

    def config(self, name_or_path: str | Path = "recommended", **overrides: Any) -> dict[str, Any]:
        """`rfkit.config.load` with this run's device, so every model of the notebook trains there.
        The first config asked for is recorded as the run's config (provenance)."""
        loaded = config.load(name_or_path, device=str(self.device), **overrides)
        if self.record.config is None:
            self.record.config = loaded
        return loaded

    def tuned(self, config: Mapping[str, Any], dataset: Dataset,
              grid: Mapping[str, Sequence[Any]] | None = None) -> dict[str, Any]:
        """`config` with the host settings that validation chose for `dataset`: every lesson trains
        the same tuned host on the same data (`rfkit.experiments.tuning.tune_host` over the first
        seed at this run's budget; with the run cache on, a report trains each setting once).
        Prints the choice and where it comes from, records it under ``hosts`` (dataset name ->
        settings) and keeps the tuning table in ``tunings``."""
        grid = dict(grid or tuning.host_grid(self.quick))
        with self.pool() as pool:
            settings, table = tuning.tune_host(config, grid, self.seeds[:1], dataset, executor=pool, **self.training)
        self.tunings[dataset.name] = table
        self.record.record(hosts={**self.record.results.get("hosts", {}), dataset.name: settings})
        print(f"host on {dataset.name}: {settings}, chosen on {tuning.CHOICE_METRIC} among {len(table)} settings "
              f"of {sorted(grid)} (rfkit.experiments.tuning, seed {self.seeds[0]})")
        return {**config, **settings}

    def dataset(self, name: str, seed: int | None = None) -> Dataset:
        """`load_dataset` at this run's budget, printing what was loaded."""
        data = load_dataset(name, self.quick, self.seeds[0] if seed is None else seed)
        print(f"{data.name}: {data.n_users} users, {data.n_items} items, {data.matrix('train').nnz} training "
              f"interactions, modalities {sorted(data.features)}")
        return data

    @contextmanager
    def pool(self) -> Iterator[Executor | None]:
        """A process pool in full runs; None (train in this process) in quick runs."""
        if self.quick:
            yield None
            return
        with process_pool() as pool:
            yield pool

    def elapsed(self) -> float:
        return time.time() - self.started

    def finish(self, findings: Findings | Sequence[str], key_findings: Sequence[str] = (), **numbers: Any) -> None:
        """Record the conclusions (a `Findings`' sentences, with its numbers, or plain sentences), the
        `key_findings` among them (the README's "what we found"), the final numbers and the run
        time; write results.json; render the conclusions as Markdown, the notebook's last output."""
        if isinstance(findings, Findings):
            findings = findings + Findings(numbers=numbers)  # a number named twice is an error
            conclusions, numbers = findings.sentences, findings.numbers
        else:
            conclusions = list(findings)
        missing = [finding for finding in key_findings if finding not in conclusions]
        if missing:
            raise ValueError(f"key_findings must be among the conclusions; not found: {missing}")
        self.record.record(conclusions=list(conclusions), key_findings=list(key_findings), **numbers,
                           runtime_s=self.elapsed())
        path = self.record.write()
        print(f"runtime {self.elapsed():.0f} s; wrote {path}")
        display(Markdown(findings_markdown(conclusions)))


FINDINGS_HEADING = "### What this notebook found"


def findings_markdown(conclusions: Sequence[str]) -> str:
    """The conclusions as a Markdown list under `FINDINGS_HEADING`; a conclusion indented with
    spaces (a detail of the one above) becomes a nested item."""
    items = [("    - " if line.startswith(" ") else "- ") + line.strip() for line in conclusions]
    return "\n".join([FINDINGS_HEADING, "", *items])


def start(notebook: str, quick: bool, seed: int, output_dir: str | Path, figures_dir: str | Path,
          n_seeds: int | None = None, **parameters: Any) -> Lab:
    """Set up a notebook run: one thread for torch (small models run faster on one, and pool
    workers do the same, so numbers match), the plot theme, seeds ``seed, seed + 1, ...`` (3 in
    full runs, 2 in quick runs unless `n_seeds`), the training budget, the device (parameter
    ``DEVICE``, "auto" = CUDA when available; asking for CUDA where there is none is an error),
    four digits in pandas tables and the results record."""
    device = resolve_device(parameters.get("DEVICE", "auto"))
    torch.set_num_threads(1)
    sns.set_theme(style="whitegrid", context="notebook")
    pd.set_option("display.precision", 4)  # tables show what the verdicts resolve, not float noise
    n_seeds = n_seeds or (2 if quick else 3)
    seeds = [seed + i for i in range(n_seeds)]
    training = training_options(quick)
    record = RunRecord(notebook, dict(QUICK=quick, SEED=seed, SEEDS=seeds, TRAINING=training, **parameters),
                       output_dir, figures_dir, device=str(device))
    print(f"{notebook}: {'quick' if quick else 'full'} run on {device}, seeds {seeds}, training {training}")
    return Lab(quick, seeds, training, record, device)
