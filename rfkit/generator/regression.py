"""RegressionEmbeddingGenerator: a deterministic content -> ID regressor with the flow's interface.

It is the baseline that isolates what the *flow* adds over a point estimate: the same conditions,
targets, contrastive term, target normalization, optimizer and mixing, but an MLP c -> x1 of the
velocity net's width and depth trained with MSE instead of a velocity field integrated from noise.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import EmbeddingGenerator
from .checks import check_conditions
from .randomness import PortableDropout


class RegressionNet(nn.Module):
    """MLP: conditions -> hidden (SiLU, dropout) x n_layers -> embedding; the velocity net's sizes
    without its state and time inputs."""

    def __init__(self, embedding_dim: int, condition_dim: int, hidden_dim: int, n_layers: int,
                 dropout: float):
        super().__init__()
        self.c_in = nn.Linear(condition_dim, hidden_dim)
        self.hidden = nn.ModuleList(nn.Linear(hidden_dim, hidden_dim) for _ in range(n_layers - 1))
        self.out = nn.Linear(hidden_dim, embedding_dim)
        self.dropout = PortableDropout(dropout)

    @property
    def condition_dim(self) -> int:
        return self.c_in.in_features

    def forward(self, c: Tensor) -> Tensor:
        h = self.dropout(F.silu(self.c_in(c)))
        for layer in self.hidden:
            h = self.dropout(F.silu(layer(h)))
        return self.out(h)


class RegressionEmbeddingGenerator(EmbeddingGenerator):
    """Predicts the target embedding from the conditions in one deterministic forward pass.

    Takes every argument of `RFEmbeddingGenerator` (so a config swaps generators with the one key
    ``rf_generator``); the flow-only ones (sampling_steps, the guidance scales and powers,
    gradient_checkpointing) have no effect. ``compute_loss_and_step`` reports the MSE (in units
    of the targets' RMS with ``normalize_targets``) as ``rf_loss``, the optional contrastive term
    (``contrast_weight`` > 0, as in the flow) as ``cl_loss``; it ignores ``user_prior`` and
    ``fixed_noise``. ``mix_embeddings``, ``set_epoch``, warmup and checkpoints are the flow's.
    """

    def _make_net(self, condition_dim: int) -> nn.Module:
        return RegressionNet(self.embedding_dim, condition_dim, self.hidden_dim, self.n_layers, self.dropout)

    def loss_terms(self, x0: Tensor, x1: Tensor, t: Tensor, c: Tensor,
                   user_prior: Tensor | None = None) -> dict[str, Tensor]:
        """MSE of the prediction against the target plus the weighted contrastive term; the noise
        ``x0``, times ``t`` and ``user_prior`` of the flow's objective are unused."""
        prediction = self.net(c)
        mse = torch.mean((prediction - x1) ** 2)
        cl_loss = self.contrastive(prediction, x1)
        return {"rf_loss": mse, "cl_loss": cl_loss,
                "total_loss": mse + self.contrast_weight * cl_loss}

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
        bf16: bool = False,
    ) -> Tensor:
        """The prediction for every row of ``conditions``, in target units, without dropout.

        Deterministic: ``n_steps``, ``start_noise``, ``generator``, ``solver`` and ``user_prior``
        are accepted so that callers of the flow work unchanged, and ignored. A regressor has no
        trajectory, so ``return_trajectory=True`` is a ValueError. ``bf16`` runs the net under
        bfloat16 autocast; rows go through in chunks of ``chunk_rows(device)``.
        """
        if return_trajectory:
            raise ValueError("return_trajectory: a regression generator has no trajectory")
        conds = check_conditions(conditions)
        self._ensure_net(conds)
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.autocast(device_type=conds[0].device.type, dtype=torch.bfloat16,
                                enabled=bf16):
                chunk = self.chunk_rows(conds[0].device)
                blocks = [self.net(torch.cat([c[start:start + chunk] for c in conds], 1))
                          for start in range(0, conds[0].shape[0], chunk)]
        finally:
            self.net.train(was_training)
        return torch.cat(blocks).to(self.net.c_in.weight.dtype) * self.scale()
