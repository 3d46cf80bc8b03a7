"""RF's training-time cost: the knobs that cut it, and a timer that profiles an epoch by part.

Each knob is one integration key on top of the spec-literal config (an RF step and a full
generation every batch); the packaged ``recommended`` config combines them. `time_epochs` times
epochs after warmup in this process: run it with nothing else on the machine (never while a
pool shares the cores), or the seconds measure the neighbours too.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from rfkit.data import Dataset
from rfkit.models import MultimodalGCN
from rfkit.train import train

# Each knob alone, as config keys on top of the spec-literal config (README, "Cost knobs").
KNOBS: dict[str, dict[str, Any]] = {
    "RF step every 2 batches": {"rf_step_every": 2},
    "refresh every 4 batches": {"rf_refresh_every": 4},
    "2 ODE steps in training": {"rf_train_sampling_steps": 2},
    "RF step on 1024 rows": {"rf_max_train_rows": 1024},
    "contrast on 256 rows": {"rf_max_contrast_rows": 256},
}
# A cheaper integration keeps the spec-literal accuracy when the paired 95% interval of
# (cheaper - literal) test NDCG@20 has its lower end above -ACCURACY_TOLERANCE (issue 10).
ACCURACY_TOLERANCE = 0.005
# The parts of an epoch that MultimodalGCN times (``model.timings``), with their labels.
PARTS = {"host_encode": "host encoders", "rf_step": "RF step", "rf_generate": "RF generate",
         "rf_mix": "RF mix"}


def knob_variants(literal: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Name -> config: "spec-literal" (``literal`` as given) and each knob of `KNOBS` alone on it."""
    if not literal.get("use_rf", False):
        raise ValueError("literal must be an RF config (use_rf: true), the integration the knobs change")
    return {"spec-literal": dict(literal), **{f"knob: {name}": {**literal, **knob} for name, knob in KNOBS.items()}}


def documented_defaults(literal: Mapping[str, Any]) -> dict[str, Any]:
    """`literal`'s host keys with RF on and no rf_* key: every generator parameter at the spec's
    documented default (an RF step and a full generation every batch, hidden 256, lr 1e-3)."""
    return {**{k: v for k, v in literal.items() if not k.startswith("rf_")}, "use_rf": True}


def time_epochs(settings: Mapping[str, Any], dataset: Dataset, epochs: int, seed: int,
                batch_size: int) -> dict[str, float]:
    """Mean seconds per epoch of `epochs` training epochs after one untimed epoch, by part.

    RF warmup is switched off (an epoch after warmup does this work; warmup epochs skip the
    generation and would flatter RF). One ``train`` call per epoch, so the model's cumulative
    ``timings`` can be read between epochs. Returns ``seconds``, one entry per `PARTS` key,
    ``rest`` (BPR loss, backward, Adam step, batching) and ``generate_calls``.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    rf = bool(settings.get("use_rf", False))
    model = MultimodalGCN({**settings, "seed": seed, **({"rf_warmup_epochs": 0} if rf else {})}, dataset)
    totals = dict.fromkeys(["seconds", *PARTS, "generate_calls"], 0.0)
    for epoch in range(epochs + 1):
        before = {**model.timings, "generate_calls": model.rf_cache.generate_calls if rf else 0}
        seconds = float(train(model, dataset, epochs=1, batch_size=batch_size, seed=seed + epoch,
                              progress=False).history["seconds"].iloc[0])
        if epoch == 0:
            continue  # first epoch: lazy construction, allocator and caches warm up
        totals["seconds"] += seconds
        for part in PARTS:
            totals[part] += model.timings[part] - before[part]
        totals["generate_calls"] += (model.rf_cache.generate_calls if rf else 0) - before["generate_calls"]
    per_epoch = {key: value / epochs for key, value in totals.items()}
    per_epoch["rest"] = per_epoch["seconds"] - sum(per_epoch[part] for part in PARTS)
    return per_epoch


def timing_table(rows: list[dict[str, Any]], baseline: str = "backbone") -> pd.DataFrame:
    """Per variant (rows of `time_epochs` with ``variant`` and ``seed``, averaged over seeds):
    s/epoch, overhead over `baseline`, RF share, and the epoch's profile in seconds."""
    table = pd.DataFrame(rows).groupby("variant", sort=False).mean(numeric_only=True).drop(columns="seed")
    if baseline not in table.index:
        raise ValueError(f"rows hold no variant {baseline!r} to measure the overhead against")
    rf = table[["rf_step", "rf_generate", "rf_mix"]].sum(axis=1)
    out = pd.DataFrame({"s/epoch": table["seconds"],
                        "overhead": table["seconds"] / table.loc[baseline, "seconds"] - 1,
                        "RF share": rf / table["seconds"]})
    for part, label in PARTS.items():
        out[label] = table[part]
    out["rest (BPR, backward, Adam, batches)"] = table["rest"]
    out["generations/epoch"] = table["generate_calls"]
    return out
