"""Straightness of ODE trajectories (Liu et al. 2022, rectified flow)."""
from __future__ import annotations

import torch
from torch import Tensor


def straightness(trajectory: Tensor) -> float:
    """S = mean over steps i of ||(z1 - z0) - v_i||^2, v_i the velocity actually taken on step i.

    `trajectory` has shape (n_steps + 1, rows, dim) on a uniform grid over [0, 1]. S is 0 exactly
    when every path is a straight line traversed at constant speed; averaged over rows.
    """
    if not isinstance(trajectory, Tensor) or trajectory.ndim != 3 or trajectory.shape[0] < 2:
        raise ValueError("trajectory must be a tensor of shape (n_steps + 1, rows, dim) with n_steps >= 1")
    n_steps = trajectory.shape[0] - 1
    chord = trajectory[-1] - trajectory[0]
    velocities = torch.diff(trajectory, dim=0) * n_steps
    return float(((velocities - chord) ** 2).sum(dim=-1).mean())
