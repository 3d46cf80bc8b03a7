"""The sweep's grid: the 14 documented parameters, the values tried, the kit's value of each,
one config per value (`sweep_plan`) and the training budget."""
from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rfkit.generator import RFEmbeddingGenerator
from rfkit.generator.config import config_keys

# The 14 documented parameters: the constructor's positional ones after embedding_dim.
PARAMETERS = tuple(name for name, p in inspect.signature(RFEmbeddingGenerator.__init__).parameters.items()
                   if p.kind is p.POSITIONAL_OR_KEYWORD and name not in ("self", "embedding_dim"))
INFERENCE = "inference_mix_ratio"  # re-scored on trained models, never trained for
EXAMPLE = "example"                # the name of the kit's config in every table
CHOOSE_ON, JUDGE_ON = "valid_ndcg@20", "test_ndcg@20"

# The values tried, each list holding the kit's value and the documented default, spanning the
# spec's recommended range and a step beyond it on each side where that is cheap.
GRID: dict[str, list[Any]] = {
    "hidden_dim": [32, 128, 256],
    "n_layers": [1, 2, 3],
    "dropout": [0.0, 0.1, 0.3],
    "learning_rate": [1e-4, 1e-3, 7e-3, 3e-2],
    "sampling_steps": [2, 10, 20],
    "user_guidance_scale": [0.0, 0.2, 0.5],
    "guidance_decay_power": [0.5, 2.0, 4.0],
    "cosine_guidance_scale": [0.0, 0.1, 0.3],
    "cosine_decay_power": [0.5, 2.0, 4.0],
    "warmup_epochs": [0, 2, 5],
    "train_mix_ratio": [0.0, 0.1, 0.3, 0.5],
    "inference_mix_ratio": [0.0, 0.1, 0.2, 0.3, 0.5],
    "contrast_temp": [0.05, 0.2, 1.0],
    "contrast_weight": [0.0, 1.0, 3.0],
}

# What each parameter does, in this implementation (the spec's table gives only names).
MEANING = {
    "hidden_dim": "width of the velocity MLP's hidden layers",
    "n_layers": "layers of the velocity MLP",
    "dropout": "dropout in the velocity MLP while it trains (never when generating)",
    "learning_rate": "the generator's own AdamW learning rate (YAML rf_lr), apart from the host's",
    "sampling_steps": "Euler steps from noise to embedding, in training-time generation and at inference",
    "user_guidance_scale": "strength of the user-prior term added to the velocity",
    "guidance_decay_power": "how fast the user-prior term fades along the path: (1 - t)^power",
    "cosine_guidance_scale": "strength of the pull toward the target's direction (training only: it needs the target)",
    "cosine_decay_power": "how fast the cosine term fades along the path: (1 - t)^power",
    "warmup_epochs": "epochs before generated embeddings are mixed in (the generator itself trains from epoch 0)",
    "train_mix_ratio": "share of the generated embedding in the mix while training (YAML rf_mix_ratio)",
    "inference_mix_ratio": "share of the generated embedding in the mix when scoring",
    "contrast_temp": "temperature of the InfoNCE term between generated endpoints and their targets",
    "contrast_weight": "weight of the InfoNCE term in the generator's loss (0: off)",
}

_KEYS = {argument: key for key, argument in config_keys(PARAMETERS).items()}


def config_key(parameter: str) -> str:
    """The YAML key of a documented parameter (``rf_lr`` for learning_rate, ``rf_<name>`` else)."""
    if parameter not in _KEYS:
        raise ValueError(f"parameter must be one of {list(PARAMETERS)}, got {parameter!r}")
    return _KEYS[parameter]


def documented_default(parameter: str) -> Any:
    """The spec's default of a parameter, read from the constructor's signature."""
    config_key(parameter)
    return inspect.signature(RFEmbeddingGenerator.__init__).parameters[parameter].default


def kit_value(parameter: str, config: Mapping[str, Any]) -> Any:
    """The value the kit's `config` gives a parameter (its documented default when unset)."""
    return config.get(config_key(parameter), documented_default(parameter))


def check_grid(grid: Mapping[str, Sequence[Any]], config: Mapping[str, Any], complete: bool = True) -> None:
    """Every documented parameter (or, unless `complete`, some of them and the inference ratio) has
    distinct values including the kit's; else a ValueError."""
    missing = [p for p in PARAMETERS if p not in grid and (complete or p == INFERENCE)]
    unknown = [p for p in grid if p not in PARAMETERS]
    if missing or unknown:
        raise ValueError(f"grid must name every documented parameter once: missing {missing}, unknown {unknown}")
    for parameter, values in grid.items():
        if len(set(values)) != len(values) or kit_value(parameter, config) not in values:
            raise ValueError(f"grid[{parameter!r}] must hold distinct values including the kit's "
                             f"{kit_value(parameter, config)!r}, got {list(values)}")


def parameter_table(config: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """One row per documented parameter: its YAML key, what it does, the documented default, the
    kit's value and the values `grid` tries."""
    return pd.DataFrame([{"parameter": p, "YAML key": config_key(p), "what it does": MEANING[p],
                          "default": documented_default(p), "kit": kit_value(p, config),
                          "values tried": ", ".join(f"{v:g}" for v in grid.get(p, []))}
                         for p in PARAMETERS]).set_index("parameter")


def quick_grid(grid: Mapping[str, Sequence[Any]], config: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The kit's value and the first other value of each parameter (all inference ratios: free)."""
    check_grid(grid, config)
    out = {}
    for parameter, values in grid.items():
        kit = kit_value(parameter, config)
        out[parameter] = list(values) if parameter == INFERENCE else sorted([kit, next(v for v in values if v != kit)])
    return out


@dataclass
class SweepPlan:
    """The configs to train (``example`` and one per changed value) and, for every (parameter,
    value), the name of the config that measures it; inference ratios re-score the example."""

    configs: dict[str, dict[str, Any]]
    settings: dict[tuple[str, Any], str]
    kit: dict[str, Any]
    inference_ratios: list[float]


def sweep_plan(config: Mapping[str, Any], grid: Mapping[str, Sequence[Any]], complete: bool = True) -> SweepPlan:
    """One config per value that differs from the kit's, the kit's config once (``example``); a
    grid of only some parameters (and the inference ratios) when not `complete`."""
    check_grid(grid, config, complete)
    configs, settings = {EXAMPLE: dict(config)}, {}
    for parameter, values in grid.items():
        for value in values:
            example = parameter == INFERENCE or value == kit_value(parameter, config)
            name = EXAMPLE if example else f"{parameter}={value:g}"
            settings[(parameter, value)] = name
            if name != EXAMPLE:
                configs[name] = {**config, config_key(parameter): value}
    kit = {parameter: kit_value(parameter, config) for parameter in grid}
    return SweepPlan(configs, settings, kit, [float(r) for r in grid[INFERENCE]])


def budget(training: Mapping[str, Any], epochs: int) -> dict[str, Any]:
    """`training` with `epochs` epochs and no early stop: every compared run trains as long (the
    best validation epoch is still restored)."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    return {**training, "epochs": epochs, "patience": epochs}


QUICK_EPOCHS = 7  # past the kit's 5 warmup epochs, so that quick runs mix RF in
QUICK_BATCH = 4096  # the tiny preset's training set in one batch: a quick epoch is one step


def sweep_budget(training: Mapping[str, Any], quick: bool, epochs: int | None = None) -> dict[str, Any]:
    """The sweep's training budget: `training` itself (to early stopping) unless `epochs` fixes one.
    Quick runs train `QUICK_EPOCHS` epochs of `QUICK_BATCH` rows without early stopping, so RF
    mixing starts in them and the 14 knobs' trainings take seconds."""
    if quick:
        return {**budget(training, QUICK_EPOCHS), "batch_size": QUICK_BATCH}
    return dict(training) if epochs is None else budget(training, epochs)


def followup_grid(chosen: Sequence[tuple[str, Any, float]], config: Mapping[str, Any],
                  inference_ratios: Sequence[float]) -> dict[str, list[Any]]:
    """The grid that re-measures `top_parameters` elsewhere: each chosen parameter at the kit's
    value and its chosen value, and the inference ratios (re-scored, free)."""
    grid = {parameter: sorted({kit_value(parameter, config), value}) for parameter, value, _ in chosen}
    return {**grid, INFERENCE: list(inference_ratios)}
