"""The velocity network v(x_t, t, c) and its fast inference form.

The first layer acts on the concatenation [x_t, c, time_embedding(t)]. We keep its three
blocks as separate linear maps (mathematically the same layer) so that inference can encode the
conditions once per ODE solve and the time once per step, instead of once per row and step.

Beside the MLP, a time-gated linear path g(t) * x_t (one gate per coordinate, from the time
features) carries the part of the velocity that is linear in the state. The ideal velocity at
t = 0 is E[x1 | c] - x0: without this path the MLP must reproduce -x0 in every coordinate through
its SiLU bottleneck and dropout, and until it does, a 1-step sample is its start noise. The gate
starts at -1 (v = -x_t + MLP), so the MLP only has to learn the conditional part.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .randomness import PortableDropout

TIME_FEATURES = 32


def time_features(t: Tensor, n_features: int = TIME_FEATURES) -> Tensor:
    """Sinusoidal features of t in [0, 1], shape (..., n_features)."""
    half = n_features // 2
    freqs = torch.exp(torch.arange(half, device=t.device, dtype=t.dtype) * (-math.log(1000.0) / half))
    angles = (t[..., None] * 1000.0) * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class VelocityNet(nn.Module):
    """MLP: [x, c, time] -> hidden (SiLU, dropout) x n_layers -> velocity in embedding space."""

    def __init__(self, embedding_dim: int, condition_dim: int, hidden_dim: int, n_layers: int,
                 dropout: float, gradient_checkpointing: bool = False):
        super().__init__()
        self.x_in = nn.Linear(embedding_dim, hidden_dim)
        self.c_in = nn.Linear(condition_dim, hidden_dim, bias=False)
        self.t_in = nn.Linear(TIME_FEATURES, hidden_dim, bias=False)
        self.hidden = nn.ModuleList(nn.Linear(hidden_dim, hidden_dim) for _ in range(n_layers - 1))
        self.out = nn.Linear(hidden_dim, embedding_dim)
        self.gate = nn.Linear(TIME_FEATURES, embedding_dim)  # g(t): the linear path's weight
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, -1.0)
        self.dropout = PortableDropout(dropout)
        self.gradient_checkpointing = gradient_checkpointing

    @property
    def condition_dim(self) -> int:
        return self.c_in.in_features

    def _trunk(self, h: Tensor) -> Tensor:
        h = self.dropout(F.silu(h))
        for layer in self.hidden:
            h = self.dropout(F.silu(layer(h)))
        return self.out(h)

    def forward(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        """Velocity for rows x at per-row times t (shape (N,)) under conditions c."""
        time = time_features(t)
        h = self.x_in(x) + self.c_in(c) + self.t_in(time)
        if self.gradient_checkpointing and torch.is_grad_enabled():
            return checkpoint(self._trunk, h, use_reentrant=False) + self.gate(time) * x
        return self._trunk(h) + self.gate(time) * x

    def frozen(self, c: Tensor) -> "FrozenVelocity":
        """Inference form for one block of rows: conditions encoded once."""
        return FrozenVelocity(self, c)


class FrozenVelocity:
    """v(x, t) for fixed conditions, no dropout, no autograd; reuses the condition encoding."""

    def __init__(self, net: VelocityNet, c: Tensor):
        self.net = net
        self.c_code = net.c_in(c)
        self.c_code += net.x_in.bias
        self._t_code: dict[float, tuple[Tensor, Tensor]] = {}

    def _time_code(self, t: float) -> tuple[Tensor, Tensor]:
        """The time's first-layer code and the linear path's gate g(t), computed once per t."""
        if t not in self._t_code:
            # filled on the device: torch.tensor([t], device=cuda) would copy from the host each time
            tt = torch.full((1,), t, device=self.c_code.device, dtype=self.c_code.dtype)
            time = time_features(tt)
            self._t_code[t] = self.net.t_in(time)[0], self.net.gate(time)[0]
        return self._t_code[t]

    def __call__(self, x: Tensor, t: float) -> Tensor:
        net = self.net
        code, gate = self._time_code(t)
        h = torch.addmm(self.c_code, x, net.x_in.weight.T)
        h += code
        F.silu(h, inplace=True)
        for layer in net.hidden:
            h = torch.addmm(layer.bias, h, layer.weight.T)
            F.silu(h, inplace=True)
        return torch.addmm(net.out.bias, h, net.out.weight.T).addcmul_(gate, x)
