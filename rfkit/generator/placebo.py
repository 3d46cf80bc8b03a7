"""NoiseEmbeddingGenerator: the placebo. Gaussian noise at the targets' per-row scale, with the
flow's interface, so a config swaps it in with ``rf_generator: noise``.

RF versus the backbone mixes two things in: whatever the flow learned from the content, and a
perturbation of the embeddings. The placebo keeps the second and drops the first: the same ratios,
warmup and mixing, but what it "generates" is noise of the size the targets have. RF that beats
the placebo brings the content's signal; RF that only matches it brings noise.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from . import randomness
from .base import EmbeddingGenerator
from .checks import check_conditions, check_number, check_rows, check_tensor


class ConditionWidth(nn.Module):
    """Holds the condition width, device and dtype for the shared checks; nothing to learn."""

    def __init__(self, condition_dim: int):
        super().__init__()
        self.c_in = nn.Module()  # named as the nets' first layer, which the shared checks read
        self.c_in.register_buffer("weight", torch.empty(0, condition_dim))

    @property
    def condition_dim(self) -> int:
        return self.c_in.weight.shape[1]


class NoiseEmbeddingGenerator(EmbeddingGenerator):
    """Generates N(0, I) noise scaled, row by row, to the RMS of that row's latest target.

    Takes every argument of `RFEmbeddingGenerator`; the mixing ones (ratios, warmup) act as in
    the flow, the others have nothing to act on. ``compute_loss_and_step`` learns nothing: it
    records each row's target RMS (and the tracked table RMS, used for a table of another row
    count) and reports as ``rf_loss`` the squared error of a noise draw (in units of the targets'
    RMS, about 2), ``cl_loss`` 0. ``generate`` is deterministic given ``start_noise`` or
    ``generator``, as the flow's.
    """

    row_rms: Tensor | None = None  # each row's latest target RMS, once trained

    def _make_net(self, condition_dim: int) -> nn.Module:
        return ConditionWidth(condition_dim)

    @torch.no_grad()
    def compute_loss_and_step(self, target_embeds: Tensor, conditions: list[Tensor],
                              user_prior: Tensor | None = None, epoch: int | None = None, *,
                              fixed_noise: Tensor | None = None) -> dict[str, float | bool]:
        """Record the targets' scale (per row and for the table); ``user_prior`` and
        ``fixed_noise`` are checked and unused."""
        if epoch is not None:
            self.set_epoch(epoch)
        conds = check_conditions(conditions)
        x1 = check_tensor("target_embeds", target_embeds).detach()
        check_rows("target_embeds", x1, conds[0].shape[0], self.embedding_dim)
        if x1.shape[0] == 0:
            raise ValueError("target_embeds has 0 rows: a training step needs at least one row")
        for name, value in (("user_prior", user_prior), ("fixed_noise", fixed_noise)):
            if value is not None:
                check_rows(name, check_tensor(name, value), x1.shape[0], self.embedding_dim)
        self._ensure_net(conds)
        x1 = self._same_place("target_embeds", x1)
        self.target_rms.copy_(self._tracked_rms(x1))
        self.row_rms = x1.pow(2).mean(dim=1).sqrt()
        noise = randomness.randn(x1.shape, x1) * self.row_rms[:, None]
        rf_loss = float(torch.mean((noise - x1) ** 2) / self.target_rms**2)
        return {"rf_loss": rf_loss, "cl_loss": 0.0, "total_loss": rf_loss, "skipped": False}

    @torch.no_grad()
    def generate(self, conditions: list[Tensor], n_steps: int | None = None, *,
                 start_noise: Tensor | None = None, generator: torch.Generator | None = None,
                 solver: str = "euler", return_trajectory: bool = False,
                 user_prior: Tensor | None = None, bf16: bool | None = None) -> Tensor:
        """Noise (``start_noise``, or a draw from ``generator``) times each row's target RMS; a
        table whose row count differs from the one trained on gets the tracked table RMS.
        ``n_steps``, ``solver``, ``user_prior`` and ``bf16`` are accepted and unused; a placebo
        has no trajectory (``return_trajectory=True`` is a ValueError)."""
        if return_trajectory:
            raise ValueError("return_trajectory: a noise placebo has no trajectory")
        if n_steps is not None:
            check_number("n_steps", n_steps, low=1, integer=True)
        conds = check_conditions(conditions)
        rows = conds[0].shape[0]
        self._ensure_net(conds)
        x = self._start_noise(rows, start_noise, generator)
        if self.row_rms is not None and self.row_rms.shape[0] == rows:
            return x * self.row_rms[:, None]
        return x * self.scale()

    def get_extra_state(self) -> dict[str, Any]:
        return {**super().get_extra_state(), "row_rms": self.row_rms}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        super().set_extra_state(state)
        self.row_rms = state["row_rms"]
