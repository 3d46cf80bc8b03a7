"""The training objective: rectified-flow regression, guidance terms, contrastive term."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def interpolate(x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """Point on the straight path at time t (per row) and the path's velocity x1 - x0."""
    tt = t[:, None]
    return tt * x1 + (1 - tt) * x0, x1 - x0


def prior_guidance(user_prior: Tensor, t: Tensor, scale: float, power: float) -> Tensor:
    """(1-t)^power * scale * prior: strongest near the noise end, gone at t=1."""
    return ((1 - t) ** power * scale)[:, None] * user_prior


def cosine_gradient(x: Tensor, y: Tensor, eps: float = 1e-8) -> Tensor:
    """d cos(x, y) / dx, row-wise, in closed form."""
    x_norm = x.norm(dim=1, keepdim=True).clamp_min(eps)
    y_norm = y.norm(dim=1, keepdim=True).clamp_min(eps)
    cos = (x * y).sum(dim=1, keepdim=True) / (x_norm * y_norm)
    return y / (x_norm * y_norm) - cos * x / x_norm**2


def cosine_guidance(x_t: Tensor, x1: Tensor, t: Tensor, scale: float, power: float) -> Tensor:
    """(1-t)^power * scale * grad_{x_t} cos(x_t, x1): pulls the state toward the target's direction."""
    return ((1 - t) ** power * scale)[:, None] * cosine_gradient(x_t, x1)


def info_nce(pred: Tensor, target: Tensor, temperature: float) -> Tensor:
    """Row i of `pred` should be closest (cosine) to row i of `target` among all target rows."""
    logits = F.normalize(pred, dim=1) @ F.normalize(target, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(pred), device=pred.device))
