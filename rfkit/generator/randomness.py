"""Random draws made by the CPU's generator and then moved to the data's device.

A seed then gives the same noise, times, row samples and dropout masks on every device, so a
model trained on CUDA matches its CPU twin up to floating-point rounding instead of following
another random stream. On the CPU each draw consumes the generator exactly as the plain torch
call it replaces, so CPU results are unchanged (dropout draws its mask from `rand`).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def randn(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """N(0, 1) of `shape` with `like`'s dtype and device, drawn on the CPU (or on the device of a
    given `generator`, so a user's own CUDA generator still works)."""
    where = "cpu" if generator is None else generator.device
    return torch.randn(shape, generator=generator, dtype=like.dtype, device=where).to(like.device)


def rand(shape: tuple[int, ...], like: Tensor) -> Tensor:
    """U[0, 1) of `shape` with `like`'s dtype and device, drawn on the CPU."""
    return torch.rand(shape, dtype=like.dtype).to(like.device)


def randperm(n: int, device: torch.device) -> Tensor:
    """A random permutation of range(n) on `device`, drawn on the CPU."""
    return torch.randperm(n).to(device)


class PortableDropout(nn.Dropout):
    """`nn.Dropout` whose mask is drawn on the CPU and moved to the input.

    The mask is ``U[0, 1) >= p`` from `rand` (the same distribution as torch's Bernoulli mask):
    on a CPU, ``bernoulli_`` costs about three times a uniform draw, and in a small generator's
    training step it was the largest cost after the backward pass.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        mask = rand(tuple(x.shape), x).ge_(self.p).div_(1 - self.p)
        return x * mask
