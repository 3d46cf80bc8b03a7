"""Has the generator learned? Its endpoints against its targets, beside references that know
nothing (noise, zeros) and one that knows the linear part (a closed-form ridge fit).

One Euler step of a trained rectified flow from t = 0 lands on the conditional mean E[x1 | c],
so the 1-step output is the cleanest read of what the flow learned: a flow that learned nothing
returns its start noise. The ridge fit of the same targets from the same conditions is the
linear conditional mean; the verdict is `learned` when the 1-step cosine reaches at least half
of the ridge's (`LEARNED_SHARE`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import Ridge
from torch import Tensor

from .checks import check_conditions, check_rows, check_tensor

LEARNED_SHARE = 0.5
RIDGE_ALPHA = 1.0


@dataclass(frozen=True)
class GeneratorHealth:
    """Endpoint cosine (mean over rows) and MSE (mean over entries) to the targets, by source."""

    rows: int
    sampling_steps: int
    one_step_cosine: float
    one_step_mse: float
    sampled_cosine: float
    sampled_mse: float
    ridge_cosine: float
    ridge_mse: float
    noise_cosine: float
    noise_mse: float
    zeros_mse: float

    @property
    def learned(self) -> bool:
        """The 1-step cosine reaches `LEARNED_SHARE` of the ridge's (and is positive)."""
        return self.one_step_cosine > 0 and self.one_step_cosine >= LEARNED_SHARE * self.ridge_cosine

    @property
    def verdict(self) -> str:
        return "learned" if self.learned else "not learned"

    def record(self) -> dict[str, Any]:
        """The numbers and the verdict, flat, for results files and ``--json``."""
        return {**asdict(self), "verdict": self.verdict}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "GeneratorHealth":
        """Back from `record` (the verdict is recomputed, not read)."""
        return cls(**{k: v for k, v in record.items() if k != "verdict"})

    def sentence(self) -> str:
        """One line: the verdict with the numbers it rests on."""
        return (f"generator health: {self.verdict} (1-step cosine to its targets "
                f"{self.one_step_cosine:.3f}, ridge {self.ridge_cosine:.3f}, noise "
                f"{self.noise_cosine:.3f}; {self.sampling_steps}-step cosine {self.sampled_cosine:.3f}; "
                f"1-step MSE {self.one_step_mse:.4f}, ridge {self.ridge_mse:.4f}, all-zeros "
                f"{self.zeros_mse:.4f}, {self.rows} rows)")


def _cosine(a: Tensor, b: Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-12).mean())


def _mse(a: Tensor, b: Tensor) -> float:
    return float(torch.mean((a - b) ** 2))


def ridge_fit(conditions: Tensor, targets: Tensor, alpha: float = RIDGE_ALPHA) -> Tensor:
    """In-sample predictions of a ridge regression (with intercept) of targets on conditions."""
    c = conditions.detach().cpu().double().numpy()
    y = targets.detach().cpu().double().numpy()
    fitted = Ridge(alpha=alpha).fit(c, y).predict(c)
    return torch.from_numpy(np.asarray(fitted)).to(targets)


def health(generator: Any, conditions: list[Tensor], targets: Tensor, *, seed: int = 0) -> GeneratorHealth:
    """Measure `generator` (flow, regression or placebo) on the given rows.

    Args:
        generator: anything with the generator interface (``generate``, ``sampling_steps``).
        conditions: list of (rows, d_i) condition tensors, as given to the generator.
        targets: (rows, embedding_dim) the embeddings it learns to generate.
        seed: seeds the start noise and the noise reference, so the health is reproducible.

    Returns:
        A `GeneratorHealth`; its ``verdict`` is "learned" or "not learned".

    Example:
        >>> h = health(model.rf_generator, model.modality_conditions(), target)
        >>> print(h.sentence())
    """
    conds = [c.detach() for c in check_conditions(conditions)]
    x1 = check_tensor("targets", targets).detach()
    check_rows("targets", x1, conds[0].shape[0])
    if x1.shape[0] < 2:
        raise ValueError(f"targets has {x1.shape[0]} rows; health needs at least 2")
    draw = torch.Generator().manual_seed(seed)
    start = torch.randn(x1.shape, generator=draw).to(x1)
    one = generator.generate(conds, 1, start_noise=start)
    sampled = generator.generate(conds, generator.sampling_steps, start_noise=start)
    ridge = ridge_fit(torch.cat(conds, dim=1), x1)
    noise = torch.randn(x1.shape, generator=draw).to(x1) * x1.pow(2).mean().sqrt()
    return GeneratorHealth(
        rows=x1.shape[0], sampling_steps=generator.sampling_steps,
        one_step_cosine=_cosine(one, x1), one_step_mse=_mse(one, x1),
        sampled_cosine=_cosine(sampled, x1), sampled_mse=_mse(sampled, x1),
        ridge_cosine=_cosine(ridge, x1), ridge_mse=_mse(ridge, x1),
        noise_cosine=_cosine(noise, x1), noise_mse=_mse(noise, x1),
        zeros_mse=float(x1.pow(2).mean()))


class _ZeroVelocity(torch.nn.Module):
    """A velocity net that learned nothing: v = 0 everywhere."""

    def forward(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        return torch.zeros_like(x)


@torch.no_grad()
def zero_velocity_losses(generator: Any, targets: Tensor, conditions: list[Tensor],
                         user_prior: Tensor | None = None, n_draws: int = 8, seed: int = 0) -> dict[str, float]:
    """The ``rf_loss`` and ``cl_loss`` a flow whose net outputs v = 0 would report on these rows:
    the level that means "learned nothing", to judge a loss against (not the first epoch's, not
    ln(n)). Same objective as training (guidance terms, row samples, target scale), averaged
    over `n_draws` seeded draws of noise, times and rows.

    The contrastive endpoint x_t + (1 - t) v is x_t at v = 0, which holds t * x1: it picks its own
    target better than chance, so cl_loss at v = 0 sits below ln(n).
    """
    if not hasattr(generator, "loss_terms") or generator.net is None:
        raise ValueError("generator must be a flow that has taken a training step (its scale is set)")
    x1 = check_tensor("targets", targets).detach() / generator.scale()
    conds = check_conditions(conditions)
    check_rows("targets", x1, conds[0].shape[0], generator.embedding_dim)
    c = torch.cat(conds, dim=1)
    prior = None if user_prior is None else user_prior / generator.scale()
    net, generator.net = generator.net, _ZeroVelocity()
    losses = []
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for _ in range(n_draws):
                rows = torch.randperm(len(x1))[: generator.max_train_rows or len(x1)]
                x1_rows = x1[rows]
                terms = generator.loss_terms(torch.randn_like(x1_rows), x1_rows, torch.rand(len(rows)).to(x1),
                                             c[rows], None if prior is None else prior[rows])
                losses.append({k: float(terms[k]) for k in ("rf_loss", "cl_loss")})
    finally:
        generator.net = net
    return {k: float(np.mean([row[k] for row in losses])) for k in ("rf_loss", "cl_loss")}
