"""The command line's comparison: the multimodal host trained without and with RF on the same
data and seed, each run's record (metrics at the best epoch, history, generator health), RF's
seconds per epoch over the backbone's, and Cornac's reference recommenders on the same split."""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from rfkit.data import Dataset
from rfkit.models import MultimodalGCN
from rfkit.train import TrainingDiverged, train

BACKBONE, WITH_RF = "MultimodalGCN", "MultimodalGCN+RF"


def build_models(dataset: Dataset, config: Mapping[str, Any], seed: int,
                 with_rf: bool) -> dict[str, MultimodalGCN]:
    """MultimodalGCN without RF and (if ``with_rf``) with RF, both built now so that a bad
    config key or value is refused before any training."""
    variants = {BACKBONE: False, **({WITH_RF: True} if with_rf else {})}
    return {name: MultimodalGCN({**config, "use_rf": use_rf, "seed": seed}, dataset)
            for name, use_rf in variants.items()}


def compare_rf(models: Mapping[str, MultimodalGCN], dataset: Dataset, epochs: int, seed: int,
               progress: bool = True) -> dict[str, dict[str, Any]]:
    """Train each of ``models`` (from `build_models`, placed on the config's ``device``) on the
    same data and seed.

    Per model: best epoch, valid and test metrics at it, training seconds and the per-epoch
    history (list of records, NaN as None).
    """
    outcome = {}
    for name, model in models.items():
        start = time.perf_counter()
        try:
            result, failure = train(model, dataset, epochs=epochs, seed=seed, progress=progress), None
        except TrainingDiverged as diverged:
            result, failure = diverged.result, diverged
        outcome[name] = {"status": "ok" if failure is None else "diverged",
                         "reason": None if failure is None else str(failure),
                         "best_epoch": result.best_epoch,
                         "seconds": time.perf_counter() - start,
                         "valid": result.best_valid, "test": result.test_at_best,
                         "history": json.loads(result.history.to_json(orient="records"))}
        if hasattr(model, "rf_generator") and failure is None:  # a diverged generator has no health to measure
            outcome[name]["rf_steps_taken"] = model.rf_steps_taken
            outcome[name]["generator_health"] = model.generator_health().record()
        if failure is not None:
            break  # the comparison is incomplete; what was measured is still reported
    return outcome


def reference_outcome(dataset: Dataset, seed: int, progress: bool = True) -> dict[str, dict[str, Any]]:
    """Cornac's references (`rfkit.experiments.references`) on the same split and seed, in the
    record format of `compare_rf` (no best epoch, no history)."""
    from rfkit.experiments.references import reference_runs  # needs Cornac
    runs = reference_runs(dataset, [seed], progress=progress)
    return {row["variant"]: {"status": "ok", "reason": None, "best_epoch": None, "seconds": row["train_seconds"],
                             **{split: {k.split("_", 1)[1]: v for k, v in row.items() if k.startswith(f"{split}_")}
                                for split in ("valid", "test")},
                             **({"chosen": row["chosen"]} if isinstance(row.get("chosen"), str) else {})}
            for row in runs.to_dict(orient="records")}


def epoch_overhead(outcome: Mapping[str, Mapping[str, Any]], warmup: int) -> dict[str, float] | None:
    """Seconds per epoch of both models over the epochs both ran at or after the RF `warmup` (an
    epoch after warmup generates; earlier ones would flatter RF), and the RF model's overhead.
    None without both models or without such an epoch."""
    if set(outcome) != {BACKBONE, WITH_RF}:
        return None
    seconds = {name: {row["epoch"]: row["seconds"] for row in run["history"] if row["epoch"] >= warmup}
               for name, run in outcome.items()}
    epochs = sorted(seconds[BACKBONE].keys() & seconds[WITH_RF].keys())
    if not epochs:
        return None
    per_epoch = {name: sum(times[e] for e in epochs) / len(epochs) for name, times in seconds.items()}
    return {"epochs": len(epochs), "backbone_s_per_epoch": per_epoch[BACKBONE],
            "rf_s_per_epoch": per_epoch[WITH_RF], "overhead": per_epoch[WITH_RF] / per_epoch[BACKBONE] - 1}
