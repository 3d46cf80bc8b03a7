"""Training-time overhead of RF on the embedded default (MovieLens), with metrics; prints a table.

The spec claims RF adds 10-20% training time. We train the multimodal model without RF, with RF
at the generator's documented defaults, with the spec's example config, and with a cheap RF
setting, and report seconds per epoch, the share of training time spent inside RF calls and
the valid/test metrics at the best validation epoch. Run: `python benchmarks/bench_overhead.py`.
"""
from __future__ import annotations

import argparse

import pandas as pd
import torch

from rfkit.data import load
from rfkit.config import load as load_config
from rfkit.models import MultimodalGCN
from rfkit.train import train

CHEAP_RF = {"use_rf": True, "rf_hidden_dim": 64, "rf_sampling_steps": 2, "rf_max_train_rows": 512}
VARIANTS = {
    "no RF": {"use_rf": False},
    "RF, documented defaults": {"use_rf": True},
    "RF, spec example config": load_config("rf_default"),
    "RF, cheap (hidden 64, 2 steps, 512 rows/step)": CHEAP_RF,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # stable timings; on 2 cores one thread is also the faster choice here

    dataset = load("movielens")
    rows = []
    for name, config in VARIANTS.items():
        result = train(MultimodalGCN({**config, "seed": args.seed}, dataset), dataset, epochs=args.epochs,
                       patience=args.epochs, seed=args.seed, progress=False)
        h = result.history
        rows.append({
            "variant": name,
            "s/epoch": h["seconds"].mean(),
            "RF s/epoch": h["rf_seconds"].mean(),
            "RF share": h["rf_seconds"].sum() / h["seconds"].sum(),
            "best epoch": result.best_epoch,
            **{f"valid {k}": result.best_valid[k] for k in ("recall@20", "ndcg@20")},
            **{f"test {k}": result.test_at_best[k] for k in ("recall@10", "recall@20", "ndcg@10", "ndcg@20")},
        })
    table = pd.DataFrame(rows).set_index("variant")
    base = table.loc["no RF", "s/epoch"]
    table.insert(1, "overhead vs no RF", table["s/epoch"] / base - 1)
    print(f"MovieLens {dataset.summary()['users']} users x {dataset.summary()['items']} items, "
          f"{args.epochs} epochs, batch 2048, 1 thread, seed {args.seed}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4).to_string())


if __name__ == "__main__":
    main()
