"""Pick the embedding generator from a config: ``rf_generator: flow`` (default), ``regression``
(the point-estimate baseline) or ``noise`` (the placebo)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import EmbeddingGenerator
from .generator import RFEmbeddingGenerator
from .placebo import NoiseEmbeddingGenerator
from .regression import RegressionEmbeddingGenerator

GENERATORS: dict[str, type[EmbeddingGenerator]] = {
    "flow": RFEmbeddingGenerator,
    "regression": RegressionEmbeddingGenerator,
    "noise": NoiseEmbeddingGenerator,
}
GENERATOR_KEY = "rf_generator"


def make_generator(config: Mapping[str, Any], embedding_dim: int) -> EmbeddingGenerator:
    """The generator named by ``config[GENERATOR_KEY]`` (default "flow"), built from the other
    rf_* keys; so every experiment swaps the flow for the regression baseline or the placebo
    with one line."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {type(config).__name__}")
    kind = config.get(GENERATOR_KEY, "flow")
    if kind not in GENERATORS:
        raise ValueError(f"{GENERATOR_KEY} must be one of {sorted(GENERATORS)}, got {kind!r}")
    rest = {k: v for k, v in config.items() if k != GENERATOR_KEY}
    return GENERATORS[kind].from_config(rest, embedding_dim)
