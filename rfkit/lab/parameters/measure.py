"""What notebook 08 measures of one trained model (`measure`, a `rfkit.experiments.runner` measure)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rfkit.data.dataset import Dataset
from rfkit.experiments.runner import generator_columns
from rfkit.generator import RFEmbeddingGenerator
from rfkit.generator.health import zero_velocity_losses
from rfkit.lab.flow_probes import endpoint_error, rf_inputs
from rfkit.metrics import split_metrics
from rfkit.models import MultimodalGCN
from rfkit.train import TrainResult

from .grid import CHOOSE_ON, JUDGE_ON


def contrast_rows(generator: RFEmbeddingGenerator, rows: int) -> int:
    """How many rows the contrastive term compares in one step: n of the chance level ln(n)."""
    if generator.max_train_rows is not None:
        rows = min(rows, generator.max_train_rows)
    return min(rows, generator.max_contrast_rows)


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def measure(model: MultimodalGCN, result: TrainResult, dataset: Dataset,
            inference_ratios: Sequence[float] = (0.0,)) -> dict[str, Any]:
    """A `rfkit.experiments.runner` measure: what notebook 08 records of one trained RF model.

    NDCG@20 at the best validation epoch, the last epoch's ``rf_loss`` / ``cl_loss`` (and the first
    epoch's, and ``*_zero``: what a zero velocity would report, `zero_velocity_losses`), the
    generator's health (``health_*``, ``rf_steps_taken``), ``contrast_rows`` (n of the chance level), the endpoint error of the generated
    embeddings (from the model's fixed noise), mean training ``seconds_per_epoch``, and
    ``rescored``: valid/test NDCG@20 at each inference ratio (same model, no retraining).
    """
    history, generator = result.history, model.rf_generator
    inputs = rf_inputs(model)
    error = endpoint_error(generator.generate(inputs.conditions, start_noise=inputs.start_noise), inputs.targets)
    zero = zero_velocity_losses(generator, inputs.targets, inputs.conditions, inputs.user_prior)
    rescored = {}
    for ratio in inference_ratios:
        metrics = split_metrics(model.score_all(inference_mix_ratio=float(ratio)), dataset, (20,))
        rescored[f"{ratio:g}"] = {m: metrics[m] for m in (CHOOSE_ON, JUDGE_ON)}
    return {"best_epoch": result.best_epoch, "epochs_run": len(history),
            CHOOSE_ON: result.best_valid["ndcg@20"], JUDGE_ON: result.test_at_best["ndcg@20"],
            "rf_loss_first": _finite(history["rf_loss"].iloc[0]), "rf_loss": _finite(history["rf_loss"].iloc[-1]),
            "cl_loss_first": _finite(history["cl_loss"].iloc[0]), "cl_loss": _finite(history["cl_loss"].iloc[-1]),
            "rf_loss_zero": zero["rf_loss"], "cl_loss_zero": zero["cl_loss"], **generator_columns(model),
            "contrast_weight": generator.contrast_weight,
            "contrast_rows": contrast_rows(generator, model.n_users + model.n_items),
            "endpoint_cosine": error["cosine"], "endpoint_mse": error["mse"],
            "seconds_per_epoch": float(history["seconds"].mean()), "rescored": rescored}


MEASURED = ("best_epoch", "epochs_run", "mixed_at_best", CHOOSE_ON, JUDGE_ON, "rf_loss_first", "rf_loss",
            "cl_loss_first", "cl_loss", "rf_loss_zero", "cl_loss_zero", "contrast_weight", "contrast_rows",
            "endpoint_cosine", "endpoint_mse", "seconds_per_epoch", "generator", "rf_steps_taken", "health_verdict",
            "health_one_step_cosine", "health_ridge_cosine", "health_noise_cosine", "health_sampled_cosine")
