"""What every embedding generator shares: its settings, the training step around its objective,
the target scale, warmup and mixing, and checkpoints. `RFEmbeddingGenerator` (the flow),
`RegressionEmbeddingGenerator` (the point-estimate baseline) and `NoiseEmbeddingGenerator` (the
placebo) differ only in their net, their objective and how they generate."""
from __future__ import annotations

import copy
import inspect
import math
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from rfkit.machine import native_bf16

from . import randomness
from .checks import check_conditions, check_number, check_rows, check_tensor
from .config import arguments_from_config
from .objective import info_nce
from .settings import GeneratorSettings

DIVERGENCE_ADVICE = ("lower rf_lr, use rf_warmup_epochs (the spec's advice for early instability), "
                     "or set rf_max_grad_norm (gradient clipping)")


# Rows per ODE block of generate() when chunk_size is None, by device type. Measured on an H100
# (1e6 rows): 8192-row blocks ran at 0.4x the plain whole-table loop (launch-bound), 65,536-row
# blocks at 0.95x, 262,144-row blocks at 1.0x but with 4x the output's size in extra memory, far
# over the 2x target; a CPU keeps 8192, where the blocks stay in cache.
CHUNK_ROWS = {"cpu": 8192, "cuda": 65_536}



class EmbeddingGenerator(nn.Module):
    """The generators' common part; subclasses provide `_make_net`, `loss_terms` and `generate`.
    Construction validates every setting (`GeneratorSettings`) and keeps each as an attribute."""

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
        given = locals()
        settings = GeneratorSettings(**{name: given[name] for name in GeneratorSettings.names()})
        for name in GeneratorSettings.names():
            setattr(self, name, getattr(settings, name))
        self.skipped_in_a_row = 0  # consecutive non-finite steps, reset by every good step
        self._warned_skip = False
        self.register_buffer("target_rms", torch.zeros(()))  # 0 until the first training step
        self.current_epoch = 0
        self.net: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        if condition_dim is not None:
            check_number("condition_dim", condition_dim, low=0, low_open=True, integer=True)
            self._build(condition_dim, torch.device("cpu"), torch.float32)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, config: Mapping[str, Any], embedding_dim: int) -> "EmbeddingGenerator":
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

    def _make_net(self, condition_dim: int) -> nn.Module:
        """The trainable net for conditions of width `condition_dim` (its first layer is ``c_in``)."""
        raise NotImplementedError

    def _build(self, condition_dim: int, device: torch.device, dtype: torch.dtype) -> None:
        self.net = self._make_net(condition_dim).to(device=device, dtype=dtype)
        self.target_rms = self.target_rms.to(device=device, dtype=dtype)
        parameters = list(self.net.parameters())
        self.optimizer = torch.optim.AdamW(parameters, lr=self.learning_rate) if parameters else None

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
            keep = randomness.randperm(rows, x1.device)[: self.max_train_rows]
            x1, c = x1[keep], c[keep]
            x0 = None if fixed_noise is None else x0[keep]
            user_prior = None if user_prior is None else user_prior[keep]
            rows = self.max_train_rows
        if self.normalize_targets:
            scale = self._scale_of(rms)
            x1 = x1 / scale
            user_prior = None if user_prior is None else user_prior / scale
        if fixed_noise is None:
            x0 = randomness.randn(x1.shape, x1)
        t = randomness.rand((rows,), x1)
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
        """The optimizer's current learning rate (a caller may have changed it); a generator
        with nothing to learn reports its setting."""
        return self.learning_rate if self.optimizer is None else self.optimizer.param_groups[0]["lr"]

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
        """``rf_loss``, ``cl_loss`` and ``total_loss`` at given noise, targets, times and conditions."""
        raise NotImplementedError

    def contrastive(self, prediction: Tensor, x1: Tensor) -> Tensor:
        """The contrastive term (InfoNCE of predicted endpoints against targets, temperature
        ``contrast_temp``) over at most ``max_contrast_rows`` sampled rows; 0 when
        ``contrast_weight`` is 0."""
        if self.contrast_weight == 0:
            return torch.zeros((), device=x1.device, dtype=x1.dtype)
        if len(x1) > self.max_contrast_rows:
            rows = randomness.randperm(len(x1), x1.device)[: self.max_contrast_rows]
            prediction, x1 = prediction[rows], x1[rows]
        return info_nce(prediction, x1, self.contrast_temp)

    def uses_bf16(self, device: torch.device | str) -> bool:
        """Whether the velocity net runs under bf16 autocast on `device` (the `bf16` setting resolved)."""
        return native_bf16(device) if self.bf16 == "auto" else self.bf16

    def _start_noise(self, rows: int, start_noise: Tensor | None,
                     generator: torch.Generator | None) -> Tensor:
        """A copy of the given (rows, embedding_dim) start noise, checked, or a fresh N(0, I) draw
        (from `generator` when given): where `generate` starts, on the net's device and dtype."""
        if start_noise is None:
            return randomness.randn((rows, self.embedding_dim), self.net.c_in.weight, generator)
        x = check_tensor("start_noise", start_noise)
        check_rows("start_noise", x, rows, self.embedding_dim)
        return self._same_place("start_noise", x).clone()

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

    def generate(self, conditions: list[Tensor], n_steps: int | None = None, **options: Any) -> Tensor:
        """(rows, embedding_dim) generated embeddings for the rows of `conditions`."""
        raise NotImplementedError

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
