"""A FREEDOM/GUME-style multimodal graph recommender with the RF generator plugged in.

- ID branch: LightGCN on the user-item graph gives user and item ID embeddings; stacked as
  (n_users + n_items, d) they are the RF *target* (GUME's extended ID embeddings).
- Modality branch, per modality: item features (rows L2-normalized) are smoothed once on that
  modality's item-item kNN graph and linearly projected to d; users get the mean of their
  training items' vectors. Stacked the same way, these are the RF *conditions*.
- Final embeddings: (RF-mixed) ID embeddings + the mean of the modality embeddings; scores are
  inner products.

RF enters exactly through the spec's three steps (``__init__``, ``forward``, config).
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from sklearn.preprocessing import normalize
from torch import nn

from rfkit.data.dataset import Dataset
from rfkit.generator import Every, GenerationCache, GeneratorHealth, health, make_generator
from rfkit.generator.checks import check_number
from rfkit.machine import resolve_device
from rfkit.models.graph import bipartite_adjacency, item_knn_graph, user_item_mean
from rfkit.models.lightgcn import LightGCN
from rfkit.models.losses import bpr_loss, l2_penalty

DEFAULTS: dict[str, Any] = {
    "embedding_dim": 64, "n_layers": 2, "knn_k": 10, "reg_weight": 1e-4,
    "learning_rate": 1e-3, "use_rf": False, "seed": 0, "device": "cpu",
}


def resolve_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """DEFAULTS overridden by ``config``; keys other than DEFAULTS' and ``rf_*`` are an error
    (a typo must not fall back to a default). ``rf_*`` keys are checked by the generator, which
    knows its own keys and the host integration's (``rf_step_every``, ``rf_refresh_every``,
    ``rf_train_sampling_steps``)."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {type(config).__name__}")
    unknown = [k for k in config if k not in DEFAULTS and not str(k).startswith("rf_")]
    if unknown:
        raise ValueError(f"config has unknown key(s) {unknown}; model keys are {sorted(DEFAULTS)} "
                         f"plus the generator's rf_* keys")
    return {**DEFAULTS, **config}


class MultimodalGCN(nn.Module):
    """ID graph embeddings (RF target) + kNN-smoothed modality embeddings (RF conditions).

    ``last_rf_losses`` holds the losses of the latest RF training step, ``last_rf_skipped``
    whether the generator skipped that step as non-finite, and ``rf_steps_taken`` counts the steps
    (with ``rf_step_every`` > 1 most training passes take none). ``timings`` adds up the wall time of
    training passes by part (``host_encode``: the ID and modality encoders; ``rf_step``,
    ``rf_generate``, ``rf_mix``: the RF calls) and ``rf_seconds`` is the RF parts' sum, for the
    trainer's history and the overhead profile. Config key ``device`` ("cpu", "cuda", "cuda:N",
    "auto") places parameters, buffers and graphs; they are built on the CPU from the seed first,
    so every device starts from the same weights and noise.
    """

    TIMED_PARTS = ("host_encode", "rf_step", "rf_generate", "rf_mix")

    def __init__(self, config: Mapping[str, Any], dataset: Dataset) -> None:
        super().__init__()
        cfg = resolve_config(config)
        device = resolve_device(cfg["device"])
        cfg["device"] = str(device)
        if not dataset.features:
            raise ValueError(f"dataset {dataset.name!r} has no item features; "
                             f"MultimodalGCN needs at least one modality")
        d = cfg["embedding_dim"]
        self.config = cfg
        self.embedding_dim, self.n_users, self.n_items = d, dataset.n_users, dataset.n_items
        self.reg_weight, self.learning_rate = cfg["reg_weight"], cfg["learning_rate"]
        interactions = dataset.matrix("train")
        self.id_encoder = LightGCN(dataset.n_users, dataset.n_items,
                                   bipartite_adjacency(interactions), d, cfg["n_layers"],
                                   cfg["reg_weight"], cfg["seed"])
        self.register_buffer("user_item_mean", user_item_mean(interactions), persistent=False)
        generator = torch.Generator().manual_seed(cfg["seed"])
        self.modalities = sorted(dataset.features)
        self.projections = nn.ParameterDict()
        for name in self.modalities:
            features = dataset.features[name]
            if features.shape[0] != dataset.n_items:
                raise ValueError(f"features[{name!r}] has {features.shape[0]} rows, "
                                 f"dataset has {dataset.n_items} items")
            knn = item_knn_graph(features, cfg["knn_k"])
            unit = torch.from_numpy(normalize(features).astype("float32"))
            self.register_buffer(f"smoothed_{name}", torch.sparse.mm(knn, unit), persistent=False)
            self.projections[name] = nn.Parameter(nn.init.xavier_uniform_(
                torch.empty(features.shape[1], d), generator=generator))
        self.last_rf_losses: dict[str, float] = {}
        self.last_rf_skipped = False
        self.rf_steps_taken = 0
        self.timings = dict.fromkeys(self.TIMED_PARTS, 0.0)

        if cfg["use_rf"]:
            self.rf_generator = make_generator(cfg, d)
            self.rf_step_due = Every(cfg.get("rf_step_every", 1), "rf_step_every")
            self.rf_steps_per_update = cfg.get("rf_steps_per_update", 1)
            check_number("rf_steps_per_update", self.rf_steps_per_update, low=1, integer=True)
            # While nothing is mixed in, a step costs no generation: the warmup can fit more.
            self.rf_warmup_steps_per_update = cfg.get("rf_warmup_steps_per_update", self.rf_steps_per_update)
            check_number("rf_warmup_steps_per_update", self.rf_warmup_steps_per_update, low=1, integer=True)
            self.rf_cache = GenerationCache.from_config(self.rf_generator, cfg)
            rows = dataset.n_users + dataset.n_items
            self.register_buffer("rf_start_noise", torch.randn(rows, d, generator=generator),
                                 persistent=False)
        self.to(device)

    def modality_conditions(self) -> list[torch.Tensor]:
        """Per modality, the stacked (n_users + n_items, d) user and item embeddings."""
        conditions = []
        for name in self.modalities:
            items = getattr(self, f"smoothed_{name}") @ self.projections[name]
            users = torch.sparse.mm(self.user_item_mean, items)
            conditions.append(torch.cat([users, items]))
        return conditions

    def forward(self, train: bool = False, sampling: Mapping[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(user_emb, item_emb). ``train=True`` also takes an RF optimizer step (if RF is on; every
        ``rf_step_every`` training passes) and mixes in the training-time generation.

        ``sampling`` (inference only) overrides how RF generates: ``n_steps``, ``solver``,
        ``start_noise`` (default: the model's fixed noise) and ``inference_prior`` (True: add the
        user prior along the ODE path, as training does).
        """
        with self._timed("host_encode", train):
            user_id, item_id = self.id_encoder()
            target = torch.cat([user_id, item_id])
            conditions = self.modality_conditions()
        id_embeds = self._with_rf(target, conditions, train, sampling) if hasattr(self, "rf_generator") else target
        final = id_embeds + torch.stack(conditions).mean(dim=0)
        return final[:self.n_users], final[self.n_users:]

    def _with_rf(self, target: torch.Tensor, conditions: list[torch.Tensor], train: bool,
                 sampling: Mapping[str, Any] | None) -> torch.Tensor:
        """The spec's RF steps on the stacked ID embeddings: in training an RF optimizer step (every
        ``rf_step_every`` passes), then the mix with the cached training-time generation; at
        inference the mix with a fresh one."""
        rf = self.rf_generator
        if train and self.rf_step_due():
            with self._timed("rf_step", True):
                self._rf_update(target.detach(), [c.detach() for c in conditions])
        if rf.in_warmup():
            # mix_embeddings would return the target unchanged: skip the generation it discards.
            return target
        if not train:
            rf_embeds = rf.generate(conditions, **self._sampling_arguments(conditions, sampling or {}))
            return rf.mix_embeddings(target, rf_embeds, training=False)
        with self._timed("rf_generate", True):
            rf_embeds = self.rf_cache.get(conditions)
        with self._timed("rf_mix", True):
            return rf.mix_embeddings(target, rf_embeds, training=True)

    def _rf_update(self, target: torch.Tensor, conditions: list[torch.Tensor]) -> None:
        """``rf_steps_per_update`` generator steps (``rf_warmup_steps_per_update`` during the warmup)
        on one batch's detached target and conditions (each draws its own noise, times and rows);
        ``last_rf_losses`` is their mean over the
        steps not skipped, ``last_rf_skipped`` whether every step was skipped."""
        prior = self.user_prior(conditions)
        steps = [self.rf_generator.compute_loss_and_step(target, conditions, user_prior=prior)
                 for _ in range(self.rf_warmup_steps_per_update if self.rf_generator.in_warmup()
                                else self.rf_steps_per_update)]
        self.rf_steps_taken += len(steps)
        kept = [s for s in steps if not s["skipped"]]
        self.last_rf_skipped = not kept
        self.last_rf_losses = {k: sum(s[k] for s in kept or steps) / len(kept or steps)
                               for k in ("rf_loss", "cl_loss", "total_loss")}

    @torch.no_grad()
    def generator_health(self, seed: int = 0) -> GeneratorHealth:
        """`rfkit.generator.health` of the plugged-in generator on every user and item row: its
        endpoints against the host's current ID embeddings (its targets) from the conditions."""
        if not hasattr(self, "rf_generator"):
            raise ValueError("generator_health needs a model built with use_rf=True")
        was_training = self.training
        self.eval()
        try:
            target = torch.cat(self.id_encoder())
            return health(self.rf_generator, self.modality_conditions(), target, seed=seed)
        finally:
            self.train(was_training)

    @property
    def rf_seconds(self) -> float:
        """Wall time inside RF calls of training passes so far (step, generation, mixing)."""
        return sum(seconds for part, seconds in self.timings.items() if part.startswith("rf_"))

    @contextmanager
    def _timed(self, part: str, enabled: bool) -> Iterator[None]:
        """Adds the block's wall time to ``timings[part]`` when `enabled` (training passes)."""
        start = time.perf_counter()
        yield
        if enabled:
            self.timings[part] += time.perf_counter() - start

    SAMPLING_KEYS = ("n_steps", "solver", "start_noise", "inference_prior")

    def _sampling_arguments(self, conditions: list[torch.Tensor], sampling: Mapping[str, Any]) -> dict[str, Any]:
        """`generate` keyword arguments of an inference pass from the ``sampling`` overrides."""
        unknown = sorted(set(sampling) - set(self.SAMPLING_KEYS))
        if unknown:
            raise ValueError(f"unknown sampling override(s) {unknown}; allowed: {list(self.SAMPLING_KEYS)}")
        arguments = {k: v for k, v in sampling.items() if k in ("n_steps", "solver") and v is not None}
        noise = sampling.get("start_noise")
        arguments["start_noise"] = self.rf_start_noise if noise is None else noise
        if sampling.get("inference_prior", False):
            arguments["user_prior"] = self.user_prior(conditions)
        return arguments

    @staticmethod
    def user_prior(conditions: list[torch.Tensor]) -> torch.Tensor:
        """The user prior of the spec's guidance: row-specific minus general, i.e. the mean
        modality embedding minus its column mean."""
        specific = torch.stack(conditions).mean(dim=0)
        return specific - specific.mean(dim=0, keepdim=True)

    def bpr_loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """BPR on the final embeddings + reg_weight * L2 of the batch's layer-0 ID embeddings."""
        user_emb, item_emb = self(train=True)
        reg = l2_penalty(self.id_encoder.user_embedding[users],
                         self.id_encoder.item_embedding[pos], self.id_encoder.item_embedding[neg])
        return bpr_loss(user_emb[users], item_emb[pos], item_emb[neg]) + self.reg_weight * reg

    @contextmanager
    def _inference_ratio(self, ratio: float | None) -> Iterator[None]:
        """Temporarily override the generator's inference mix ratio (warmup still applies)."""
        if ratio is None:
            yield
            return
        if not hasattr(self, "rf_generator"):
            raise ValueError("inference_mix_ratio needs a model built with use_rf=True")
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise ValueError(f"inference_mix_ratio must be a number in [0, 1], got {ratio!r}")
        saved = self.rf_generator.inference_mix_ratio
        self.rf_generator.inference_mix_ratio = float(ratio)
        try:
            yield
        finally:
            self.rf_generator.inference_mix_ratio = saved

    @torch.no_grad()
    def score_all(self, inference_mix_ratio: float | None = None, **sampling: Any) -> torch.Tensor:
        """(n_users, n_items) scores in eval mode; deterministic (RF starts from fixed noise).

        ``inference_mix_ratio`` overrides the generator's ratio for this call only, so one trained
        model can be scored at several ratios; 0.0 gives the backbone's scores (RF mixing off).
        ``sampling`` overrides how RF generates for this call (see `forward`): ``n_steps``,
        ``solver``, ``start_noise``, ``inference_prior``.

        Example:
            >>> model.score_all(inference_mix_ratio=0.3, n_steps=1, solver="heun")
        """
        if sampling and not hasattr(self, "rf_generator"):
            raise ValueError("sampling overrides need a model built with use_rf=True")
        was_training = self.training
        self.eval()
        try:
            with self._inference_ratio(inference_mix_ratio):
                user_emb, item_emb = self(sampling=sampling)
        finally:
            self.train(was_training)
        return user_emb @ item_emb.T
