"""Where a run stops, and whether its generator learned there: the study behind the training budget
(`rfkit/configs/training.yaml`) and the generator's warmup fit (`rf_warmup_steps_per_update` in
`recommended.yaml`).

Every variant trains once per seed with a long patience (``--patience``, default 40) on the tuned
MovieLens host, and records the generator's health at every evaluation (`rfkit.train.train`'s
``on_evaluate``). A run stopped at a shorter patience p is a prefix of that run (training is
deterministic), so one long run per seed gives, for every p in ``--compare``: the epoch it would
stop at, its best epoch, its test NDCG@20 there and whether its generator had learned there.

It prints two tables and writes benchmarks/results/stopping.json:
- per variant and patience: mean best epoch, mean test NDCG@20, the paired difference to the
  longest patience (95% interval over seeds, `rfkit.stats.paired_differences`), and the share of
  runs whose generator was `learned` at its best epoch;
- per generator variant: the share of all evaluations from epoch 2 on at which the generator had
  learned (the run may stop at any of them), and the RF time per post-warmup epoch.

Run: ``python benchmarks/bench_stopping.py --seeds 5 --workers 2`` (about 25 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from rfkit import config
from rfkit.data import load
from rfkit.machine import cpu_model, native_bf16
from rfkit.models import MultimodalGCN
from rfkit.stats import paired_differences
from rfkit.train import train

OUTPUT = Path(__file__).parent / "results" / "stopping.json"
HOST = {"reg_weight": 1e-3}  # MovieLens' tuned host (notebook 01, rfkit.experiments.tuning)
VARIANTS = {
    "backbone": {"use_rf": False},
    "RF (recommended)": {},
    "RF, no warmup fit": {"rf_warmup_steps_per_update": 1},
    "RF, never mixed in training": {"rf_mix_ratio": 0.0},
}
METRIC = "test_ndcg@20"


def health_now(model: MultimodalGCN) -> dict[str, Any]:
    """The generator's health at this evaluation (nothing for the backbone)."""
    if not hasattr(model, "rf_generator"):
        return {}
    health = model.generator_health()
    return {"rf_steps": model.rf_steps_taken, "learned": health.learned,
            "health_ratio": health.one_step_cosine / health.ridge_cosine}


def run(variant: str, seed: int, patience: int, epochs: int) -> pd.DataFrame:
    """One long run's history with the health at every evaluation."""
    torch.set_num_threads(1)
    dataset = load("movielens", seed=0)
    settings = config.load("recommended", **HOST, **VARIANTS[variant])
    model = MultimodalGCN({**settings, "seed": seed}, dataset)
    result = train(model, dataset, epochs=epochs, patience=patience, batch_size=4096, seed=seed,
                   progress=False, on_evaluate=health_now)
    return result.history.assign(variant=variant, seed=seed, warmup=settings["rf_warmup_epochs"])


def stop_at(history: pd.DataFrame, patience: int, stop_metric: str = "valid_recall@20") -> pd.Series:
    """The history row of the best epoch a run with `patience` would report (the trainer's rule)."""
    best, stale = None, 0
    for index, value in history[stop_metric].items():
        if best is None or value > history.at[best, stop_metric]:
            best, stale = index, 0
        else:
            stale += 1
        if stale >= patience:
            break
    return history.loc[best]


def summarise(histories: pd.DataFrame, patiences: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-patience table and the per-variant health table (see the module docstring)."""
    rows = [{"variant": variant, "seed": seed, "patience": p, **stop_at(history.reset_index(drop=True), p)
             [["epoch", METRIC, *(["learned"] if "learned" in history else [])]].to_dict()}
            for (variant, seed), history in histories.groupby(["variant", "seed"], sort=False) for p in patiences]
    stops = pd.DataFrame(rows)
    longest = max(patiences)
    table = []
    for variant, group in stops.groupby("variant", sort=False):
        differences = paired_differences(group, METRIC, longest, variant="patience").set_index("patience")
        for p, at_p in group.groupby("patience"):
            learned = at_p["learned"].mean() if "learned" in at_p and at_p["learned"].notna().any() else None
            row = differences.loc[p] if p in differences.index else None
            table.append({"variant": variant, "patience": p, "best_epoch": at_p["epoch"].mean(),
                          METRIC: at_p[METRIC].mean(), "learned_at_best": learned,
                          "minus_longest": None if row is None else row["delta"],
                          "ci_low": None if row is None else row["ci_low"],
                          "ci_high": None if row is None else row["ci_high"],
                          "verdict": "reference" if row is None else row["verdict"]})
    rf = histories[histories["variant"] != "backbone"]
    after = rf[rf["epoch"] >= 2]
    post_warmup = rf[rf["epoch"] >= rf["warmup"]]
    health = pd.DataFrame({
        "evaluations": after.groupby("variant", sort=False).size(),
        "learned_share": after.groupby("variant", sort=False)["learned"].mean(),
        "median_health_ratio": after.groupby("variant", sort=False)["health_ratio"].median(),
        "rf_time_per_post_warmup_epoch": post_warmup.groupby("variant", sort=False).apply(
            lambda g: g["rf_seconds"].sum() / (g["seconds"].sum() - g["rf_seconds"].sum())),
    })
    return pd.DataFrame(table), health


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--patience", type=int, default=40, help="the long run's patience")
    parser.add_argument("--compare", type=int, nargs="+", default=[5, 10, 20], help="shorter patiences read off it")
    parser.add_argument("--epochs", type=int, default=300, help="epoch cap of the long runs")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    jobs = [(variant, seed) for variant in args.variants for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run, variant, seed, args.patience, args.epochs) for variant, seed in jobs]
        histories = pd.concat([future.result() for future in futures], ignore_index=True)
    patiences = sorted({*args.compare, args.patience})
    table, health = summarise(histories, patiences)
    print(f"MovieLens, tuned host {HOST}, {args.seeds} seeds, patience {patiences} read off runs at {args.patience}; "
          f"{cpu_model()} (native bf16: {native_bf16()})")
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(table.round(4).to_string(index=False))
        print(health.round(3).to_string())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "machine": {"cpu": cpu_model(), "native_bf16": native_bf16(), "torch": torch.__version__},
        "seeds": args.seeds, "patience": args.patience, "host": HOST,
        "table": table.to_dict("records"), "health": health.reset_index(names="variant").to_dict("records"),
    }, indent=1, default=float))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
