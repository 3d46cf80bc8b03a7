"""RFEmbeddingGenerator: the spec's pluggable rectified-flow embedding generator."""
from __future__ import annotations

import copy
import inspect
import math
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from rfkit.hardware import native_bf16

from . import randomness as random
from .checks import check_conditions, check_number, check_rows, check_tensor, count_non_finite
from .config import arguments_from_config
from .objective import cosine_guidance, info_nce, interpolate, prior_guidance
from .solvers import SOLVERS, integrate
from .velocity import VelocityNet


DIVERGENCE_ADVICE = ("lower rf_lr, use rf_warmup_epochs (the spec's advice for early instability), "
                     "or set rf_max_grad_norm (gradient clipping)")


# Rows per ODE block of generate() when chunk_size is None, by device type. Measured on an H100
# (1e6 rows): 8192-row blocks ran at 0.4x the plain whole-table loop (launch-bound), 65,536-row
# blocks at 0.95x, 262,144-row blocks at 1.0x but with 4x the output's size in extra memory, far
# over the 2x target; a CPU keeps 8192, where the blocks stay in cache.
CHUNK_ROWS = {"cpu": 8192, "cuda": 65_536}


class RFEmbeddingGenerator(nn.Module):
    """Learns to generate target embeddings from noise, conditioned on side information.

    The 15 documented parameters keep the spec's names, defaults and meaning. Beyond the spec:
    `condition_dim` builds the velocity net eagerly (otherwise it is built on first use, on the
    inputs' device and dtype), `gradient_checkpointing` trades compute for activation memory in
    training, `chunk_size` bounds the rows integrated at once in `generate` (None: by device,
    see `CHUNK_ROWS`), and
    `max_contrast_rows` bounds the contrastive term's memory (rows are subsampled above it), and
    `max_train_rows` (None: all rows, as the spec does) trains each step on a random subset of at
    most that many rows, which bounds the cost of a step on large tables. With
    `normalize_targets` (default) the flow runs in units of the targets' RMS, tracked as a moving
    average: host embeddings are often far smaller than the N(0, I) noise, and an unscaled flow
    then spends its capacity on the scale instead of the direction. `bf16` runs the velocity net
    under bfloat16 autocast in training steps and in `generate`: False (default, the spec's fp32),
    True, or "auto" (bf16 only where the device computes it natively, see `rfkit.hardware`).

    Divergence: a step whose loss or gradient is not finite is skipped, leaving parameters,
    optimizer state and tracked scale unchanged (as PyTorch's GradScaler skips inf steps), with
    one warning per generator; `max_skipped_steps` such steps in a row raise a RuntimeError that
    names the learning rate and the remedies (so does `generate` if it yields NaN or Inf).
    `max_grad_norm` (None: off, as in the spec) clips the gradient norm before each step.
    """

    RMS_MOMENTUM = 0.1

    def __init__(
        self,
        embedding_dim: int,
        hidden_dim: int = 256,
        n_layers: int = 2,
        dropout: float = 0.1,
        learning_rate: float = 0.001,
        sampling_steps: int = 10,
        user_guidance_scale: float = 0.2,
        guidance_decay_power: float = 2.0,
        cosine_guidance_scale: float = 0.1,
        cosine_decay_power: float = 2.0,
        warmup_epochs: int = 0,
        train_mix_ratio: float = 0.5,
        inference_mix_ratio: float = 0.5,
        contrast_temp: float = 0.2,
        contrast_weight: float = 1.0,
        *,
        condition_dim: int | None = None,
        gradient_checkpointing: bool = False,
        chunk_size: int | None = None,
        max_contrast_rows: int = 1024,
        max_train_rows: int | None = None,
        normalize_targets: bool = True,
        max_skipped_steps: int = 10,
        max_grad_norm: float | None = None,
        bf16: bool | str = False,
    ):
        super().__init__()
        check_number("embedding_dim", embedding_dim, low=0, low_open=True, integer=True)
        check_number("hidden_dim", hidden_dim, low=0, low_open=True, integer=True)
        check_number("n_layers", n_layers, low=1, integer=True)
        check_number("dropout", dropout, low=0, high=1, )
        if dropout == 1:
            raise ValueError("dropout must be in [0, 1), got 1")
        check_number("learning_rate", learning_rate, low=0, low_open=True)
        check_number("sampling_steps", sampling_steps, low=1, integer=True)
        for name, value in [("user_guidance_scale", user_guidance_scale),
                            ("cosine_guidance_scale", cosine_guidance_scale),
                            ("guidance_decay_power", guidance_decay_power),
                            ("cosine_decay_power", cosine_decay_power),
                            ("contrast_weight", contrast_weight)]:
            check_number(name, value, low=0)
        check_number("warmup_epochs", warmup_epochs, low=0, integer=True)
        check_number("train_mix_ratio", train_mix_ratio, low=0, high=1)
        check_number("inference_mix_ratio", inference_mix_ratio, low=0, high=1)
        check_number("contrast_temp", contrast_temp, low=0, low_open=True)
        if chunk_size is not None:
            check_number("chunk_size", chunk_size, low=1, integer=True)
        check_number("max_contrast_rows", max_contrast_rows, low=2, integer=True)
        if max_train_rows is not None:
            check_number("max_train_rows", max_train_rows, low=2, integer=True)
        check_number("max_skipped_steps", max_skipped_steps, low=1, integer=True)
        if max_grad_norm is not None:
            check_number("max_grad_norm", max_grad_norm, low=0, low_open=True)
        for name, flag in (("gradient_checkpointing", gradient_checkpointing),
                           ("normalize_targets", normalize_targets)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        if not (isinstance(bf16, bool) or (isinstance(bf16, str) and bf16 == "auto")):
            raise ValueError(f"bf16 must be False, True or 'auto', got {bf16!r}")

        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.n_layers = n_layers
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.sampling_steps = sampling_steps
        self.user_guidance_scale = user_guidance_scale
        self.guidance_decay_power = guidance_decay_power
        self.cosine_guidance_scale = cosine_guidance_scale
        self.cosine_decay_power = cosine_decay_power
        self.warmup_epochs = warmup_epochs
        self.train_mix_ratio = train_mix_ratio
        self.inference_mix_ratio = inference_mix_ratio
        self.contrast_temp = contrast_temp
        self.contrast_weight = contrast_weight
        self.gradient_checkpointing = gradient_checkpointing
        self.chunk_size = chunk_size
        self.max_contrast_rows = max_contrast_rows
        self.max_train_rows = max_train_rows
        self.normalize_targets = normalize_targets
        self.max_skipped_steps = max_skipped_steps
        self.max_grad_norm = max_grad_norm
        self.skipped_in_a_row = 0  # consecutive non-finite steps, reset by every good step
        self._warned_skip = False
        self.bf16 = bf16
        self.register_buffer("target_rms", torch.zeros(()))  # 0 until the first training step
        self.current_epoch = 0
        self.net: VelocityNet | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        if condition_dim is not None:
            check_number("condition_dim", condition_dim, low=0, low_open=True, integer=True)
            self._build(condition_dim, torch.device("cpu"), torch.float32)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, config: Mapping[str, Any], embedding_dim: int) -> "RFEmbeddingGenerator":
        """Build from the spec's YAML keys.

        Args:
            config: a mapping such as a loaded YAML file; its ``rf_*`` keys set the constructor
                arguments (``rf_lr`` -> learning_rate, ``rf_mix_ratio`` -> train_mix_ratio, every
                other argument ``rf_<name>``). Other keys (``use_rf``, the host's) are ignored; an
                unknown ``rf_*`` key is a ValueError naming the closest valid one.
            embedding_dim: the host's embedding width.

        Returns:
            A new generator.

        Example:
            >>> gen = RFEmbeddingGenerator.from_config({"rf_hidden_dim": 128, "rf_lr": 1e-4}, 64)
            >>> gen.hidden_dim, gen.learning_rate
            (128, 0.0001)
        """
        arguments = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "embedding_dim")]
        return cls(embedding_dim, **arguments_from_config(config, arguments))

    def _build(self, condition_dim: int, device: torch.device, dtype: torch.dtype) -> None:
        self.net = VelocityNet(self.embedding_dim, condition_dim, self.hidden_dim, self.n_layers,
                               self.dropout, self.gradient_checkpointing).to(device=device, dtype=dtype)
        self.target_rms = self.target_rms.to(device=device, dtype=dtype)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.learning_rate)

    def _ensure_net(self, conditions: list[Tensor]) -> None:
        """Build the net on first use; check the conditions' total width, device and dtype."""
        width = sum(c.shape[1] for c in conditions)
        first = conditions[0]
        if self.net is None:
            self._build(width, first.device, first.dtype)
        weight = self.net.c_in.weight
        if width != self.net.condition_dim:
            raise ValueError(f"conditions concatenate to width {width}, but the generator was built "
                             f"for condition width {self.net.condition_dim}")
        if first.device != weight.device:
            raise ValueError(f"conditions are on {first.device} but the generator is on {weight.device}; "
                             f"move one of them (e.g. generator.to({str(first.device)!r}))")
        if any(c.dtype != weight.dtype for c in conditions):
            raise TypeError(f"conditions have dtype {[c.dtype for c in conditions]} but the generator "
                            f"uses {weight.dtype}")

    # ------------------------------------------------------------------ training
    def set_epoch(self, epoch: int) -> None:
        """Tell the generator the current epoch (the trainer calls it every epoch); drives warmup.

        Args:
            epoch: a non-negative int; while it is below ``warmup_epochs`` mixing returns the originals.

        Example:
            >>> gen.set_epoch(3)
        """
        check_number("epoch", epoch, low=0, integer=True)
        self.current_epoch = epoch

    def compute_loss_and_step(
        self,
        target_embeds: Tensor,
        conditions: list[Tensor],
        user_prior: Tensor | None = None,
        epoch: int | None = None,
        *,
        fixed_noise: Tensor | None = None,
    ) -> dict[str, float | bool]:
        """One AdamW step of the generator on the RF objective (flow matching + contrastive term).

        Inputs are detached here, so the host model's graph and parameters are untouched. A step
        with a non-finite loss or gradient is skipped (nothing changes); see the class docstring.

        Args:
            target_embeds: (rows, embedding_dim) the embeddings to learn to generate (the host's
                ID embeddings).
            conditions: non-empty list of (rows, d_i) tensors, concatenated on the last dim.
            user_prior: optional (rows, embedding_dim) prior added to the predicted velocity with
                weight (1 - t)^guidance_decay_power * user_guidance_scale.
            epoch: optional; if given, `set_epoch(epoch)` first.
            fixed_noise: keyword-only (rows, embedding_dim) noise end of each path instead of fresh
                N(0, I) draws: reflow trains on such fixed couplings, given in this generator's
                units (z1 divided by its current scale), so the tracked scale does not move.

        Returns:
            ``{"rf_loss", "cl_loss", "total_loss"}`` as floats and ``"skipped"`` (bool).

        Example:
            >>> losses = gen.compute_loss_and_step(ids.detach(), [image.detach(), text.detach()])
            >>> losses["rf_loss"] > 0
            True
        """
        if epoch is not None:
            self.set_epoch(epoch)
        conds = [c.detach() for c in check_conditions(conditions)]
        rows = conds[0].shape[0]
        x1 = check_tensor("target_embeds", target_embeds).detach()
        check_rows("target_embeds", x1, rows, self.embedding_dim)
        if rows == 0:
            raise ValueError("target_embeds has 0 rows: a training step needs at least one row")
        self._ensure_net(conds)
        c = torch.cat(conds, dim=1)
        x1 = self._same_place("target_embeds", x1)
        if user_prior is not None:
            user_prior = check_tensor("user_prior", user_prior).detach()
            check_rows("user_prior", user_prior, rows, self.embedding_dim)
            user_prior = self._same_place("user_prior", user_prior)
        if fixed_noise is not None:
            x0 = check_tensor("fixed_noise", fixed_noise).detach()
            check_rows("fixed_noise", x0, rows, self.embedding_dim)
            x0 = self._same_place("fixed_noise", x0)
        # The scale is committed only if the step succeeds; fixed couplings keep the current one.
        tracked = self.normalize_targets and fixed_noise is None
        rms = self._tracked_rms(x1) if tracked else self.target_rms
        # Rows are sampled before anything per row is computed, so a step costs its rows only.
        if self.max_train_rows is not None and rows > self.max_train_rows:
            keep = random.randperm(rows, x1.device)[: self.max_train_rows]
            x1, c = x1[keep], c[keep]
            x0 = None if fixed_noise is None else x0[keep]
            user_prior = None if user_prior is None else user_prior[keep]
            rows = self.max_train_rows
        if self.normalize_targets:
            scale = self._scale_of(rms)
            x1 = x1 / scale
            user_prior = None if user_prior is None else user_prior / scale
        if fixed_noise is None:
            x0 = random.randn(x1.shape, x1)
        t = random.rand((rows,), x1)
        self.net.train()
        return self._step(self.loss_terms(x0, x1, t, c, user_prior), rms)

    def _step(self, losses: dict[str, Tensor], rms: Tensor) -> dict[str, float | bool]:
        """Backward, optional clipping, then the optimizer step and the new scale, unless
        the loss, the gradient norm or the scale is not finite (then nothing changes)."""
        self.optimizer.zero_grad(set_to_none=True)
        losses["total_loss"].backward()
        parameters = [p for p in self.net.parameters() if p.grad is not None]
        if self.max_grad_norm is None:
            grad_norm = torch.nn.utils.get_total_norm([p.grad for p in parameters])
        else:
            grad_norm = torch.nn.utils.clip_grad_norm_(parameters, self.max_grad_norm)
        result = {k: float(v.detach()) for k, v in losses.items()}
        finite = torch.isfinite(grad_norm) & torch.isfinite(rms)
        if not (math.isfinite(result["total_loss"]) and bool(finite)):
            self.optimizer.zero_grad(set_to_none=True)
            self._skip(result)
            return {**result, "skipped": True}
        self.optimizer.step()
        self.target_rms.copy_(rms)
        self.skipped_in_a_row = 0
        return {**result, "skipped": False}

    def _skip(self, losses: dict[str, float]) -> None:
        """Count a skipped step; warn on the first, raise after max_skipped_steps in a row."""
        self.skipped_in_a_row += 1
        if self.skipped_in_a_row >= self.max_skipped_steps:
            raise RuntimeError(
                f"RF generator diverged: {self.skipped_in_a_row} training steps in a row had a "
                f"non-finite loss or gradient (last rf_loss={losses['rf_loss']}, "
                f"cl_loss={losses['cl_loss']}) at learning rate {self._lr():g}; {DIVERGENCE_ADVICE}")
        if not self._warned_skip:
            self._warned_skip = True
            warnings.warn(f"RF generator skipped a step with a non-finite loss or gradient at "
                          f"learning rate {self._lr():g} (parameters unchanged); if this repeats, "
                          f"{DIVERGENCE_ADVICE}", RuntimeWarning, stacklevel=4)

    def _lr(self) -> float:
        """The optimizer's current learning rate (a caller may have changed it)."""
        return self.optimizer.param_groups[0]["lr"]

    @torch.no_grad()
    def _tracked_rms(self, x1: Tensor) -> Tensor:
        """The target RMS after this batch: its own RMS at first, then a moving average."""
        rms = x1.pow(2).mean().sqrt().clamp_min(1e-12)
        return rms if self.target_rms == 0 else torch.lerp(self.target_rms, rms, self.RMS_MOMENTUM)

    def _scale_of(self, rms: Tensor) -> float:
        return 1.0 if not self.normalize_targets or rms == 0 else float(rms)

    def scale(self) -> float:
        """Target units per flow unit: the tracked target RMS (1 before training or if disabled)."""
        return self._scale_of(self.target_rms)

    def loss_terms(self, x0: Tensor, x1: Tensor, t: Tensor, c: Tensor,
                   user_prior: Tensor | None = None) -> dict[str, Tensor]:
        """The objective at given noise, target, times and conditions (differentiable).

        The guidance terms are added to the predicted velocity, so the net learns the part of
        the straight-path velocity x1 - x0 that the guidance does not already supply.
        """
        x_t, v_target = interpolate(x0, x1, t)
        bf16 = self.uses_bf16(x_t.device)
        with torch.autocast(device_type=x_t.device.type, dtype=torch.bfloat16, enabled=bf16):
            v = self.net(x_t, t, c).to(x_t.dtype)
        if user_prior is not None and self.user_guidance_scale > 0:
            v = v + prior_guidance(user_prior, t, self.user_guidance_scale, self.guidance_decay_power)
        if self.cosine_guidance_scale > 0:
            v = v + cosine_guidance(x_t, x1, t, self.cosine_guidance_scale, self.cosine_decay_power)
        rf_loss = torch.mean((v - v_target) ** 2)
        if self.contrast_weight > 0:
            x1_hat = x_t + (1 - t)[:, None] * v
            if len(x1) > self.max_contrast_rows:
                rows = random.randperm(len(x1), x1.device)[: self.max_contrast_rows]
                x1_hat, x1 = x1_hat[rows], x1[rows]
            cl_loss = info_nce(x1_hat, x1, self.contrast_temp)
        else:
            cl_loss = torch.zeros((), device=x1.device, dtype=x1.dtype)
        return {"rf_loss": rf_loss, "cl_loss": cl_loss, "total_loss": rf_loss + self.contrast_weight * cl_loss}

    def uses_bf16(self, device: torch.device | str) -> bool:
        """Whether the velocity net runs under bf16 autocast on `device` (the `bf16` setting resolved)."""
        return native_bf16(device) if self.bf16 == "auto" else self.bf16

    def _same_place(self, name: str, value: Tensor) -> Tensor:
        weight = self.net.c_in.weight
        if value.device != weight.device:
            raise ValueError(f"{name} is on {value.device} but the generator is on {weight.device}")
        if value.dtype != weight.dtype:
            raise TypeError(f"{name} has dtype {value.dtype} but the generator uses {weight.dtype}")
        return value

    # ------------------------------------------------------------------ generation
    def chunk_rows(self, device: torch.device) -> int:
        """Rows per ODE block of `generate` on `device`: ``chunk_size``, or when it is None the
        device's `CHUNK_ROWS` (a CPU wants blocks that stay in cache, a GPU blocks that fill it)."""
        if self.chunk_size is not None:
            return self.chunk_size
        return CHUNK_ROWS.get(torch.device(device).type, CHUNK_ROWS["cpu"])

    @torch.no_grad()
    def generate(
        self,
        conditions: list[Tensor],
        n_steps: int | None = None,
        *,
        start_noise: Tensor | None = None,
        generator: torch.Generator | None = None,
        solver: str = "euler",
        return_trajectory: bool = False,
        user_prior: Tensor | None = None,
        bf16: bool | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Integrate the learned ODE from noise (t=0) to embeddings (t=1); no autograd graph.

        Rows go through the solver in chunks of `chunk_rows(device)`, so memory beyond the output stays
        bounded. Dropout is never applied here. Noise is N(0, I) in flow units; the output and the
        trajectory are in target units (multiplied by `scale()`).

        Args:
            conditions: non-empty list of (rows, d_i) tensors, as in training.
            n_steps: ODE steps (None: ``sampling_steps``).
            start_noise: keyword-only (rows, embedding_dim) starting point; makes the call deterministic.
            generator: keyword-only seeded `torch.Generator` for the starting noise (also deterministic).
            solver: "euler", "midpoint" or "heun".
            return_trajectory: also return every state, shape (n_steps + 1, rows, embedding_dim).
            user_prior: (rows, embedding_dim) adds the training-time prior guidance along the path.
            bf16: run the net under bfloat16 autocast (None: the generator's ``bf16`` setting).

        Returns:
            (rows, embedding_dim) generated embeddings, and the trajectory if asked for.

        Example:
            >>> emb = gen.generate([image, text], n_steps=10, generator=torch.Generator().manual_seed(0))
            >>> end, path = gen.generate([image, text], 5, start_noise=noise, return_trajectory=True)
        """
        n_steps = self.sampling_steps if n_steps is None else n_steps
        check_number("n_steps", n_steps, low=1, integer=True)
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {solver!r}")
        if bf16 is not None and not isinstance(bf16, bool):
            raise TypeError(f"bf16 must be a bool or None, got {bf16!r}")
        conds = check_conditions(conditions)
        rows = conds[0].shape[0]
        self._ensure_net(conds)
        weight = self.net.c_in.weight
        if start_noise is not None:
            x = check_tensor("start_noise", start_noise)
            check_rows("start_noise", x, rows, self.embedding_dim)
            x = self._same_place("start_noise", x).clone()
        else:
            x = random.randn((rows, self.embedding_dim), weight, generator)
        if user_prior is not None:
            user_prior = self._same_place("user_prior", check_tensor("user_prior", user_prior))
            check_rows("user_prior", user_prior, rows, self.embedding_dim)
            user_prior = user_prior / self.scale()
        trajectory = None
        if return_trajectory:
            trajectory = torch.empty(n_steps + 1, rows, self.embedding_dim, device=x.device, dtype=x.dtype)

        # Conditions are concatenated per chunk, never for all rows at once, to bound memory.
        bf16 = self.uses_bf16(x.device) if bf16 is None else bf16
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=bf16):
            chunk = self.chunk_rows(x.device)
            for start in range(0, rows, chunk):
                block = slice(start, start + chunk)
                velocity = self.net.frozen(torch.cat([c[block] for c in conds], dim=1))
                if user_prior is not None:
                    velocity = _with_prior(velocity, user_prior[block], self.user_guidance_scale,
                                           self.guidance_decay_power)
                integrate(velocity, x[block], n_steps, solver,
                          None if trajectory is None else trajectory[:, block])
        bad = count_non_finite(x)
        if bad:
            raise RuntimeError(f"RF generator diverged: generate() produced {bad} NaN or Inf value(s) "
                               f"(trained at learning rate {self._lr():g}); {DIVERGENCE_ADVICE}")
        x *= self.scale()
        if trajectory is None:
            return x
        trajectory *= self.scale()
        return x, trajectory

    @torch.no_grad()
    def reflow_pairs(self, conditions: list[Tensor], n_steps: int | None = None, *,
                     generator: torch.Generator | None = None, solver: str = "euler") -> tuple[Tensor, Tensor]:
        """Couplings (z0, z1 = ODE(z0 | c)) from the current model, for 2-rectified flow.

        Args:
            conditions: list of (rows, d_i) tensors.
            n_steps: ODE steps of the solve (None: ``sampling_steps``; reflow wants a fine grid).
            generator: keyword-only seeded `torch.Generator` for z0.
            solver: "euler", "midpoint" or "heun".

        Returns:
            (z0, z1), both (rows, embedding_dim); z1 in target units.

        Example:
            >>> z0, z1 = gen.reflow_pairs([cond], 50, generator=torch.Generator().manual_seed(0))
            >>> flow2 = copy.deepcopy(gen)
            >>> flow2.compute_loss_and_step(z1, [cond], fixed_noise=z0)  # 2-RF step
        """
        rows = check_conditions(conditions)[0].shape[0]
        if self.net is None:
            raise RuntimeError("reflow_pairs needs a trained generator: call compute_loss_and_step first")
        weight = self.net.c_in.weight
        z0 = random.randn((rows, self.embedding_dim), weight, generator)
        z1 = self.generate(conditions, n_steps, start_noise=z0, solver=solver)
        return z0, z1

    # ------------------------------------------------------------------ mixing
    def in_warmup(self, epoch: int | None = None) -> bool:
        """Whether `epoch` (None: the current one) is inside the warmup, where mixing is off."""
        return (self.current_epoch if epoch is None else epoch) < self.warmup_epochs

    def mix_embeddings(self, original_embeds: Tensor, generated_embeds: Tensor, training: bool,
                       epoch: int | None = None) -> Tensor:
        """Convex mix (1 - r) * original + r * generated, r the train or the inference ratio.

        Args:
            original_embeds: the host's embeddings.
            generated_embeds: RF's embeddings, same shape.
            training: True uses ``train_mix_ratio``, False ``inference_mix_ratio``.
            epoch: None uses the epoch last given to set_epoch / compute_loss_and_step.

        Returns:
            The mixed tensor; while epoch < warmup_epochs, `original_embeds` itself, unchanged.

        Example:
            >>> mixed = gen.mix_embeddings(ids, gen.generate([image, text]).detach(), training=True)
        """
        if not isinstance(training, bool):
            raise TypeError(f"training must be a bool, got {training!r}")
        if epoch is not None:
            check_number("epoch", epoch, low=0, integer=True)
        check_tensor("original_embeds", original_embeds)
        check_tensor("generated_embeds", generated_embeds)
        if original_embeds.shape != generated_embeds.shape:
            raise ValueError(f"original_embeds has shape {tuple(original_embeds.shape)} but generated_embeds "
                             f"has shape {tuple(generated_embeds.shape)}")
        if self.in_warmup(epoch):
            return original_embeds
        ratio = self.train_mix_ratio if training else self.inference_mix_ratio
        return torch.lerp(original_embeds, generated_embeds, ratio)

    # ------------------------------------------------------------------ checkpoints
    def get_extra_state(self) -> dict[str, Any]:
        return {
            "condition_dim": None if self.net is None else self.net.condition_dim,
            "epoch": self.current_epoch,
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
        }

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.current_epoch = state["epoch"]
        if state["optimizer"] is not None:
            # A copy, as for parameters: the source's optimizer must not share its moment tensors.
            self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Build the lazily created net first, so a fresh instance (alone or inside a host model)
        # can take a checkpoint of a trained one.
        extra = state_dict.get(prefix + "_extra_state")
        if self.net is None and extra is not None and extra["condition_dim"] is not None:
            weight = state_dict[prefix + "net.c_in.weight"]
            self._build(extra["condition_dim"], weight.device, weight.dtype)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _with_prior(velocity, prior: Tensor, scale: float, power: float):
    """Adds the prior guidance term (1-t)^power * scale * prior to a velocity field."""
    def guided(x: Tensor, t: float) -> Tensor:
        return velocity(x, t).add_(prior, alpha=(1 - t) ** power * scale)
    return guided
