"""2-D toy distributions for teaching rectified flow, and the few helpers the primer needs.

The generator's noise source is N(0, I); the targets here are multi-modal 2-D point clouds of
about the same scale, so the paths between them can be drawn and the effect of reflow seen.
The condition is uninformative (one zeros column): the flow must learn the whole target.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch
from sklearn.datasets import make_moons
from torch import Tensor

from rfkit.generator import RFEmbeddingGenerator


def two_moons(n: int, seed: int, noise: float = 0.06) -> Tensor:
    """Two interleaved half circles, centred and scaled to span about [-3, 3] x [-1.5, 1.5]."""
    points, _ = make_moons(n_samples=n, noise=noise, random_state=seed)
    return torch.as_tensor((points - [0.5, 0.25]) * 2.0, dtype=torch.float32)


def gaussian_ring(n: int, seed: int, modes: int = 8, radius: float = 3.0, std: float = 0.2) -> Tensor:
    """A mixture of `modes` equal Gaussians evenly spaced on a circle of the given radius."""
    rng = np.random.default_rng(seed)
    angles = 2 * math.pi * rng.integers(modes, size=n) / modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return torch.as_tensor(centres + std * rng.standard_normal((n, 2)), dtype=torch.float32)


TARGETS: dict[str, Callable[[int, int], Tensor]] = {"moons": two_moons, "ring": gaussian_ring}


def sample_target(name: str, n: int, seed: int) -> Tensor:
    """n points (n x 2, float32) from the toy target called `name` (see TARGETS)."""
    if name not in TARGETS:
        raise ValueError(f"name must be one of {sorted(TARGETS)}, got {name!r}")
    return TARGETS[name](n, seed)


def constant_condition(n: int) -> Tensor:
    """An uninformative condition (n x 1 zeros): every row asks for the same distribution."""
    return torch.zeros(n, 1)


def toy_generator(hidden_dim: int = 128, n_layers: int = 3, learning_rate: float = 5e-3,
                  seed: int = 0) -> RFEmbeddingGenerator:
    """A 2-D generator doing plain rectified flow: no dropout, guidance or contrastive term.

    The kit's defaults add recommender-specific terms; switching them off leaves exactly the
    textbook objective MSE(v(x_t, t), x1 - x0) that the primer explains.
    """
    torch.manual_seed(seed)
    return RFEmbeddingGenerator(2, hidden_dim=hidden_dim, n_layers=n_layers, dropout=0.0,
                                learning_rate=learning_rate, cosine_guidance_scale=0.0,
                                user_guidance_scale=0.0, contrast_weight=0.0, condition_dim=1)


def train_toy_flow(generator: RFEmbeddingGenerator, target: Tensor, steps: int, batch_size: int = 512,
                   seed: int = 0, noise: Tensor | None = None) -> list[float]:
    """Fit `generator` on minibatches of `target`; returns the RF loss of every step.

    Without `noise` each batch is paired with fresh Gaussian noise (1-RF, independent coupling).
    With `noise` (same rows as `target`) row i of noise is always paired with row i of target:
    the fixed coupling that reflow trains on. The step size decays linearly from the
    generator's `learning_rate` to 0: the 1-RF regression target x1 - x0 is very noisy, and a
    shrinking step lets the net settle on its average. Reseeds torch's global RNG, from which
    the generator draws its noise and times, so a run is reproducible.
    """
    if noise is not None and noise.shape != target.shape:
        raise ValueError(f"noise has shape {tuple(noise.shape)} but target has {tuple(target.shape)}")
    torch.manual_seed(seed)
    cond = [constant_condition(batch_size)]
    losses = []
    for step in range(steps):
        for group in generator.optimizer.param_groups:
            group["lr"] = generator.learning_rate * (1 - step / steps)
        rows = torch.randint(len(target), (batch_size,))
        fixed = None if noise is None else noise[rows]
        losses.append(generator.compute_loss_and_step(target[rows], cond, fixed_noise=fixed)["rf_loss"])
    return losses


def flow_paths(generator: RFEmbeddingGenerator, noise: Tensor, n_steps: int) -> Tensor:
    """Euler trajectories from the given start noise: shape (n_steps + 1, rows, 2)."""
    _, trajectory = generator.generate([constant_condition(len(noise))], n_steps, start_noise=noise,
                                       return_trajectory=True)
    return trajectory


def sliced_wasserstein(x: Tensor, y: Tensor, n_projections: int = 128, seed: int = 0) -> float:
    """Mean 1-D Wasserstein-1 distance between x and y projected on random unit directions.

    A sample-quality measure for 2-D point clouds: about 0 for two samples of one distribution,
    larger when generated points blur between modes or miss some. With equal sample sizes the
    1-D distance is the mean gap between sorted projections, so all directions go at once.
    """
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must be 2-D with equal shapes, got {tuple(x.shape)} and {tuple(y.shape)}")
    directions = np.random.default_rng(seed).standard_normal((x.shape[1], n_projections))
    directions /= np.linalg.norm(directions, axis=0)
    px = np.sort(x.double().numpy() @ directions, axis=0)
    py = np.sort(y.double().numpy() @ directions, axis=0)
    return float(np.abs(px - py).mean())


def distance_by_steps(generator: RFEmbeddingGenerator, noise: Tensor, reference: Tensor,
                      step_counts: Iterable[int]) -> dict[int, float]:
    """Sliced Wasserstein distance of Euler samples to `reference`, for each number of steps."""
    cond = [constant_condition(len(noise))]
    return {n: sliced_wasserstein(generator.generate(cond, n, start_noise=noise), reference)
            for n in step_counts}
