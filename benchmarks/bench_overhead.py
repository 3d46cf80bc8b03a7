"""RF's training-time cost: where an epoch's time goes, what each cost knob saves, and whether the
recommended config keeps the spec-literal integration's accuracy.

Timing mode (default) trains, one variant after another in this one process on one thread, fp32:
the backbone (no RF), the spec-literal integration (the packaged ``rf_default`` config on the
multimodal host: an RF step and a full generation every batch), the generator's documented
defaults, each cost knob alone on top of the spec-literal config, and the packaged
``recommended`` config. Every variant trains ``--epochs`` timed epochs after one untimed epoch,
each epoch one ``rfkit.train.train`` call, with RF warmup off: an epoch after warmup does exactly
this work, and warmup epochs (no generation) would flatter RF. It prints seconds per epoch, the
overhead over the backbone and the profile of the epoch (host encoders; RF step, generation and
mixing; the rest: BPR loss, backward, Adam step, batching), from the model's ``timings``.

Accuracy mode (``--accuracy``) trains backbone, spec-literal and recommended to early stopping on
``--seeds`` seeds (``--workers`` processes) and reports the paired difference recommended minus
spec-literal of test NDCG@20 with its 95% interval (`rfkit.stats.paired_differences`); the target
is a lower end above -0.005. Never time while a pool shares the cores: the modes run separately.

Both modes update one JSON file (``--output``, default benchmarks/results/overhead.json) under
the key "timing" or "accuracy", each with a machine line (CPU, native bf16, torch, threads).

Run: ``python benchmarks/bench_overhead.py`` (MovieLens), ``--dataset synthetic --epochs 1`` (smoke),
``--accuracy --seeds 3 --workers 2``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from rfkit import config
from rfkit.data import Dataset, load
from rfkit.experiments.cost import ACCURACY_TOLERANCE, documented_defaults, knob_variants, time_epochs, timing_table
from rfkit.experiments.runner import records, train_many
from rfkit.machine import cpu_model, native_bf16
from rfkit.stats import describe, paired_differences

OUTPUT = Path(__file__).parent / "results" / "overhead.json"
BATCH_SIZE = 2048  # rfkit.train.train's default, the batch of `python -m rfkit train`
METRIC = "test_ndcg@20"
TARGET_LOW = -ACCURACY_TOLERANCE  # the lower end of recommended - literal must stay above this


def machine() -> dict[str, Any]:
    """The machine line of a result: CPU, whether it has native bf16, torch, threads."""
    return {"cpu": cpu_model(), "native_bf16": native_bf16(), "logical_cpus": os.cpu_count(),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version()}


def timing_variants() -> dict[str, dict[str, Any]]:
    """Name -> MultimodalGCN config of every timed variant (bf16 only where it is native)."""
    literal = config.load("multimodal")  # the host's keys + the spec's example (rf_default)
    defaults = documented_defaults(literal)
    knobs = knob_variants(literal)
    variants = {"backbone": {**defaults, "use_rf": False}, "spec-literal (rf_default)": knobs.pop("spec-literal"),
                "documented defaults": defaults, **knobs}
    if native_bf16():
        variants["knob: bf16 autocast"] = {**literal, "rf_bf16": True}
    variants["recommended"] = config.load("recommended")
    return variants


def run_timing(dataset: Dataset, epochs: int, seeds: int, batch_size: int) -> dict[str, Any]:
    """Time every variant on every seed in this process, one thread; print and return the table."""
    rows = [{"variant": name, "seed": seed, **time_epochs(settings, dataset, epochs, seed, batch_size)}
            for seed in range(seeds) for name, settings in timing_variants().items()]
    table = timing_table(rows)
    print(f"{dataset.name}: {epochs} timed epoch(s) per variant after 1 untimed, batch {batch_size}, "
          f"{seeds} seed(s), fp32 unless named, 1 thread; seconds per epoch")
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(table.round(3).to_string())
    over = table["overhead"]
    notes = [f"{name}: RF adds {over[name]:+.0%} to the backbone's seconds per epoch" for name in
             ("spec-literal (rf_default)", "documented defaults", "recommended") if name in over.index]
    return {"title": f"RF overhead benchmark, timing: {epochs} epoch(s) after warmup, batch {batch_size}, one process",
            "epochs": epochs, "seeds": seeds, "batch_size": batch_size,
            "table": table.round(4).reset_index().to_dict("records"), "notes": notes, "runs": rows}


def run_accuracy(dataset: Dataset, seeds: int, workers: int, epochs: int | None, quick: bool) -> dict[str, Any]:
    """Backbone, spec-literal and recommended to early stopping on `seeds` seeds (the full training
    budget, or the quick one); the paired difference recommended - literal of test NDCG@20 with
    its 95% interval."""
    variants = {"backbone": config.load("multimodal", use_rf=False), "spec-literal": config.load("multimodal"),
                "recommended": config.load("recommended")}
    options = config.training_options(quick, **({} if epochs is None else {"epochs": epochs}))
    executor = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        results = train_many(variants, list(range(seeds)), dataset, options, executor=executor)
    finally:
        if executor is not None:
            executor.shutdown()
    table = pd.DataFrame(records(results))
    diff = paired_differences(table, METRIC, baseline="spec-literal", treatments=["recommended", "backbone"])
    recommended = diff.set_index("variant").loc["recommended"]
    met = bool(recommended["ci_low"] > TARGET_LOW)
    print(f"{dataset.name}: {seeds} seed(s), training budget {options}")
    print(table.groupby("variant", sort=False)[[METRIC, "best_epoch"]].agg(["mean", "std"]).round(4).to_string())
    print(f"recommended - spec-literal, {METRIC}: {describe(recommended)}; "
          f"target lower end > {TARGET_LOW}: {'met' if met else 'NOT met'}")
    shown = ["variant", "baseline_mean", "treatment_mean", "delta", "ci_low", "ci_high", "n_seeds", "verdict"]
    verdict = (f"recommended - spec-literal, {METRIC} over {seeds} seeds: {describe(recommended)}; "
               f"target lower end > {TARGET_LOW}: {'met' if met else 'NOT met'}")
    return {"title": "RF overhead benchmark, accuracy: recommended vs spec-literal (paired over seeds)",
            "seeds": seeds, "training": options, "metric": METRIC, "target_ci_low_above": TARGET_LOW,
            "target_met": met, "table": diff[shown].to_dict("records"), "notes": [verdict],
            "runs": table.drop(columns=["train_seconds", "rf_seconds"]).to_dict("records")}


def save(section: str, result: dict[str, Any], path: Path) -> None:
    """Write `result` under `section` of the JSON file at `path`, keeping its other sections."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[section] = result
    path.write_text(json.dumps(data, indent=1, default=float) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["movielens", "synthetic"], default="movielens",
                        help="synthetic: the CLI's small preset, for a smoke run")
    parser.add_argument("--epochs", type=int, default=None,
                        help="timing: timed epochs per variant (default 3); accuracy: the epoch cap "
                             "(default: the full training budget)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (timing 1, accuracy 3)")
    parser.add_argument("--accuracy", action="store_true", help="the paired accuracy comparison instead of timings")
    parser.add_argument("--workers", type=int, default=1, help="accuracy mode: processes training in parallel")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="timing mode's batch size")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    for name in ("epochs", "seeds", "workers", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    torch.set_num_threads(1)
    dataset = load("synthetic", preset="small") if args.dataset == "synthetic" else load("movielens")
    if args.accuracy:
        result = run_accuracy(dataset, args.seeds or 3, args.workers, args.epochs, quick=args.dataset == "synthetic")
    else:
        result = run_timing(dataset, args.epochs or 3, args.seeds or 1, args.batch_size)
    save("accuracy" if args.accuracy else "timing",
         {"machine": machine(), "dataset": dataset.name, **result}, args.output)
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
