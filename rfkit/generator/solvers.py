"""Fixed-step ODE solvers for dx/dt = v(x, t) on t in [0, 1]."""
from __future__ import annotations

from typing import Callable

from torch import Tensor

Velocity = Callable[[Tensor, float], Tensor]


def euler_step(v: Velocity, x: Tensor, t: float, dt: float) -> Tensor:
    return x.add_(v(x, t), alpha=dt)


def midpoint_step(v: Velocity, x: Tensor, t: float, dt: float) -> Tensor:
    half = x + 0.5 * dt * v(x, t)
    return x.add_(v(half, t + 0.5 * dt), alpha=dt)


def heun_step(v: Velocity, x: Tensor, t: float, dt: float) -> Tensor:
    k1 = v(x, t)
    k2 = v(x + dt * k1, t + dt)
    return x.add_(k1.add_(k2), alpha=0.5 * dt)


SOLVERS: dict[str, Callable[[Velocity, Tensor, float, float], Tensor]] = {
    "euler": euler_step,
    "midpoint": midpoint_step,
    "heun": heun_step,
}


def integrate(v: Velocity, x: Tensor, n_steps: int, solver: str = "euler",
              trajectory: Tensor | None = None) -> Tensor:
    """Integrate from t=0 to t=1 in n_steps equal steps, updating x in place.

    If `trajectory` (shape (n_steps + 1, *x.shape)) is given, the state at every grid point is
    written into it.
    """
    step = SOLVERS[solver]
    dt = 1.0 / n_steps
    if trajectory is not None:
        trajectory[0].copy_(x)
    for i in range(n_steps):
        x = step(v, x, i * dt, dt)
        if trajectory is not None:
            trajectory[i + 1].copy_(x)
    return x
