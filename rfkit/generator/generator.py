"""RFEmbeddingGenerator: the spec's pluggable rectified-flow embedding generator."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import DIVERGENCE_ADVICE, EmbeddingGenerator
from .checks import check_conditions, check_number, check_rows, check_tensor, count_non_finite
from .objective import cosine_guidance, interpolate, prior_guidance
from .solvers import SOLVERS, integrate
from .velocity import VelocityNet


class RFEmbeddingGenerator(EmbeddingGenerator):
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
    True, or "auto" (bf16 only where the device computes it natively, see `rfkit.machine`).

    Divergence: a step whose loss or gradient is not finite is skipped, leaving parameters,
    optimizer state and tracked scale unchanged (as PyTorch's GradScaler skips inf steps), with
    one warning per generator; `max_skipped_steps` such steps in a row raise a RuntimeError that
    names the learning rate and the remedies (so does `generate` if it yields NaN or Inf).
    `max_grad_norm` (None: off, as in the spec) clips the gradient norm before each step.
    """

    def _make_net(self, condition_dim: int) -> nn.Module:
        return VelocityNet(self.embedding_dim, condition_dim, self.hidden_dim, self.n_layers,
                           self.dropout, self.gradient_checkpointing)

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
        cl_loss = self.contrastive(x_t + (1 - t)[:, None] * v, x1)  # the predicted endpoint
        return {"rf_loss": rf_loss, "cl_loss": cl_loss, "total_loss": rf_loss + self.contrast_weight * cl_loss}

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
        x = self._start_noise(rows, start_noise, generator)
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
        z0 = self._start_noise(rows, None, generator)
        z1 = self.generate(conditions, n_steps, start_noise=z0, solver=solver)
        return z0, z1


def _with_prior(velocity, prior: Tensor, scale: float, power: float):
    """Adds the prior guidance term (1-t)^power * scale * prior to a velocity field."""
    def guided(x: Tensor, t: float) -> Tensor:
        return velocity(x, t).add_(prior, alpha=(1 - t) ** power * scale)
    return guided
