"""The host's training-time rhythm: an RF step every k batches (`Every`) and a generation reused
for k batches (`GenerationCache`).

In training the host mixes the generated embeddings in *detached*: they are an input, not a path
for gradients. A copy generated a few batches ago therefore only lags the current generator; it
changes nothing else. Regenerating every k batches instead of every batch divides the cost of
training-time generation by k, and generating with fewer ODE steps in training than at inference
(the spec's FAQ: "训练时可以用较少步数") cuts it further. `generate()` itself always generates
afresh; only a host that asks this cache gets a reused copy, and inference should never ask it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from .base import EmbeddingGenerator
from .checks import check_conditions, check_number

# Config key -> GenerationCache argument (the keys are declared in config.INTEGRATION_KEYS).
CACHE_KEYS = {"rf_refresh_every": "refresh_every", "rf_train_sampling_steps": "n_steps"}


class Every:
    """A periodic action's rhythm: calling it answers True on the first call and then on every
    `k`-th call (k = 1: always), e.g. ``if step_due(): generator.compute_loss_and_step(...)``."""

    def __init__(self, k: int, name: str = "k"):
        check_number(name, k, low=1, integer=True)
        self.k = k
        self.calls = 0

    def __call__(self) -> bool:
        due = self.calls % self.k == 0
        self.calls += 1
        return due


class GenerationCache:
    """Serves `generator.generate(conditions, n_steps)` to a host's training passes, regenerating
    on the first call and then every `refresh_every` calls (1: every call, the spec's literal
    integration). `n_steps` (None: the generator's `sampling_steps`) sets the ODE steps of these
    training-time generations only. `generate_calls` counts the generations it ran.

    Example:
        >>> cache = GenerationCache.from_config(generator, {"rf_refresh_every": 4})
        >>> mixed = generator.mix_embeddings(ids, cache.get([image_cond, text_cond]), training=True)
    """

    def __init__(self, generator: EmbeddingGenerator, refresh_every: int = 1, n_steps: int | None = None):
        if not isinstance(generator, EmbeddingGenerator):
            raise TypeError(f"generator must be an embedding generator (e.g. RFEmbeddingGenerator), "
                            f"got {type(generator).__name__}")
        if n_steps is not None:
            check_number("n_steps", n_steps, low=1, integer=True)
        self.generator = generator
        self.refresh_every = refresh_every
        self.n_steps = n_steps
        self.generate_calls = 0
        self._refresh_due = Every(refresh_every, "refresh_every")
        self._cached: Tensor | None = None

    @classmethod
    def from_config(cls, generator: EmbeddingGenerator, config: Mapping[str, Any]) -> "GenerationCache":
        """Built from a config's keys ``rf_refresh_every`` (default 1) and ``rf_train_sampling_steps``
        (default None: the generator's ``rf_sampling_steps``)."""
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a mapping, got {type(config).__name__}")
        return cls(generator, **{argument: config[key] for key, argument in CACHE_KEYS.items() if key in config})

    def get(self, conditions: list[Tensor]) -> Tensor:
        """The generated embeddings for `conditions` (detached): fresh on the first call and every
        `refresh_every` calls, else the copy generated last."""
        rows = check_conditions(conditions)[0].shape[0]
        if self._cached is not None and self._cached.shape[0] != rows:
            raise ValueError(f"conditions have {rows} rows but the cached generation has "
                             f"{self._cached.shape[0]}: the cache serves one fixed table (call clear() to reset)")
        if self._refresh_due() or self._cached is None:
            self._cached = self.generator.generate(conditions, self.n_steps)
            self.generate_calls += 1
        return self._cached

    def clear(self) -> None:
        """Drop the cached copy: the next `get` generates afresh and starts a new rhythm."""
        self._cached = None
        self._refresh_due = Every(self.refresh_every, "refresh_every")
