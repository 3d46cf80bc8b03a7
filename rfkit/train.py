"""The training loop: BPR with sampled negatives, Adam, RF warmup, early stopping on validation.

A model needs ``bpr_loss(users, pos, neg) -> Tensor`` and ``score_all() -> (n_users, n_items)``.
If it has an ``rf_generator`` (the spec's plug-in), the trainer calls its ``set_epoch`` every
epoch, keeps its parameters out of the host optimizer (the generator steps its own), and logs
the model's ``last_rf_losses`` and ``rf_seconds``.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn
from tqdm.auto import tqdm

from rfkit.data.dataset import Dataset
from rfkit.device import module_device
from rfkit.metrics import topk_metrics


@dataclass
class TrainResult:
    """Per-epoch history, the best validation epoch and the model restored to it."""

    history: pd.DataFrame
    best_epoch: int
    best_valid: dict[str, float]
    test_at_best: dict[str, float]
    model: nn.Module


def sample_negatives(train: sp.csr_matrix, users: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """One item per user, uniform over the items that user has not interacted with in training.

    Draws uniformly and redraws the clashes until none is left (rejection sampling).
    """
    n_items = train.shape[1]
    degree = train.getnnz(axis=1)
    if (degree[users] >= n_items).any():
        raise ValueError("train: a sampled user interacted with every item, no negative exists")
    seen = np.repeat(np.arange(train.shape[0], dtype=np.int64), degree) * n_items + train.indices
    negatives = rng.integers(n_items, size=len(users))
    clash = np.flatnonzero(np.isin(users.astype(np.int64) * n_items + negatives, seen))
    while len(clash):
        negatives[clash] = rng.integers(n_items, size=len(clash))
        still = np.isin(users[clash].astype(np.int64) * n_items + negatives[clash], seen)
        clash = clash[still]
    return negatives


def _batches(train: sp.csr_matrix, batch_size: int, rng: np.random.Generator,
             device: torch.device) -> Iterator[tuple[torch.Tensor, ...]]:
    """(users, pos, neg) batches on ``device`` over all training pairs in a random order."""
    coo = train.tocoo()
    order = rng.permutation(coo.nnz)
    users, pos = coo.row[order], coo.col[order]
    neg = sample_negatives(train, users, rng)
    for start in range(0, len(users), batch_size):
        block = slice(start, start + batch_size)
        yield tuple(torch.from_numpy(a[block].astype(np.int64)).to(device)
                    for a in (users, pos, neg))


def _host_parameters(model: nn.Module) -> list[nn.Parameter]:
    rf = getattr(model, "rf_generator", None)
    owned_by_rf = {id(p) for p in rf.parameters()} if rf is not None else set()
    return [p for p in model.parameters() if id(p) not in owned_by_rf]


def _check_arguments(epochs: int, batch_size: int, lr: float, patience: int, eval_every: int,
                     ks: Sequence[int], stop_metric: str) -> None:
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("patience", patience),
                        ("eval_every", eval_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    metrics = {f"{m}@{k}" for k in ks for m in ("recall", "ndcg", "precision", "map")}
    if stop_metric not in metrics:
        raise ValueError(f"stop_metric must be one of {sorted(metrics)}, got {stop_metric!r}")


def train(model: nn.Module, dataset: Dataset, epochs: int = 50, batch_size: int = 2048,
          lr: float | None = None, patience: int = 10, seed: int = 0, progress: bool = True,
          eval_every: int = 1, ks: Sequence[int] = (10, 20),
          stop_metric: str = "recall@20") -> TrainResult:
    """Train with BPR and Adam; validate every ``eval_every`` epochs with full ranking.

    ``lr`` defaults to the model's ``learning_rate`` attribute, else 1e-3. Early stopping: after
    ``patience`` evaluations without a strictly better validation ``stop_metric``. Test metrics
    are computed at every evaluation (for the curves) and reported at the best validation epoch;
    they never drive any choice. ``seed`` seeds the sampling (numpy) and torch's global RNG
    (the generator's noise), so the same seed gives the same history apart from the timing
    columns ``seconds`` (training), ``eval_seconds`` and ``rf_seconds`` (inside RF calls while
    training). ``rf_loss`` / ``cl_loss`` are epoch means of the RF steps (NaN without RF).
    Batches go to the model's device (that of its first parameter); sampling stays on the CPU,
    so every device sees the same batches (the generator's noise comes from that device's RNG).
    """
    lr = getattr(model, "learning_rate", 1e-3) if lr is None else lr
    _check_arguments(epochs, batch_size, lr, patience, eval_every, ks, stop_metric)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    matrices = {split: dataset.matrix(split) for split in ("train", "valid", "test")}
    rf = getattr(model, "rf_generator", None)
    optimizer = torch.optim.Adam(_host_parameters(model), lr=lr)
    device = module_device(model)
    history, best, best_state, stale = [], None, None, 0

    bar = tqdm(range(epochs), disable=not progress, desc=f"train {type(model).__name__}")
    for epoch in bar:
        if rf is not None:
            rf.set_epoch(epoch)
        model.train()
        start, rf_start = time.perf_counter(), getattr(model, "rf_seconds", 0.0)
        bpr, rf_losses = [], []
        for users, pos, neg in _batches(matrices["train"], batch_size, rng, device):
            loss = model.bpr_loss(users, pos, neg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bpr.append(loss.item())
            if rf is not None:
                rf_losses.append(model.last_rf_losses)
        rf_means = pd.DataFrame(rf_losses, columns=["rf_loss", "cl_loss"]).mean()
        row = {"epoch": epoch, "bpr_loss": float(np.mean(bpr)),
               "rf_loss": float(rf_means["rf_loss"]), "cl_loss": float(rf_means["cl_loss"]),
               "seconds": time.perf_counter() - start,
               "rf_seconds": getattr(model, "rf_seconds", 0.0) - rf_start}

        if (epoch + 1) % eval_every == 0 or epoch == epochs - 1:
            start = time.perf_counter()
            scores = model.score_all()
            valid = topk_metrics(scores, matrices["train"], matrices["valid"], ks)
            test = topk_metrics(scores, matrices["train"], matrices["test"], ks)
            row.update({f"valid_{k}": v for k, v in valid.items()})
            row.update({f"test_{k}": v for k, v in test.items()})
            row["eval_seconds"] = time.perf_counter() - start
            if best is None or valid[stop_metric] > best[1][stop_metric]:
                best, best_state, stale = (epoch, valid, test), copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
            bar.set_postfix({stop_metric: f"{valid[stop_metric]:.4f}", "best": best[0]})
        history.append(row)
        if stale >= patience:
            break

    bar.close()
    model.load_state_dict(best_state)
    return TrainResult(pd.DataFrame(history), best[0], best[1], best[2], model)
