"""The training loop: BPR with sampled negatives, Adam, RF warmup, early stopping on validation.

A model needs ``bpr_loss(users, pos, neg) -> Tensor`` and ``score_all() -> (n_users, n_items)``.
If it has an ``rf_generator`` (the spec's plug-in), the trainer calls its ``set_epoch`` every
epoch, keeps its parameters out of the host optimizer (the generator steps its own), and logs
the model's ``last_rf_losses`` (epoch means over the steps not marked ``last_rf_skipped``; a host
that counts its steps in ``rf_steps_taken`` gets each step counted once, not the latest one again
on every batch without a step), the
number of skipped RF steps and ``rf_seconds``.

A run that fails while working (a non-finite host loss, or an error inside a training step or
an evaluation, such as the generator giving up on a diverging flow) raises `TrainingDiverged`:
it names the epoch, the batch and the likely cause, and carries the history so far, with the
model restored to its best validated state.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn
from tqdm.auto import tqdm

from rfkit.data.cold_start import warm_items
from rfkit.data.dataset import Dataset
from rfkit.machine import module_device
from rfkit.metrics import topk_metrics

__all__ = ["TrainResult", "TrainingDiverged", "sample_negatives", "train"]


@dataclass
class TrainResult:
    """Per-epoch history, the best validation epoch and the model restored to it.

    The best fields are None only on a `TrainingDiverged` result that stopped before any
    evaluation.
    """

    history: pd.DataFrame
    best_epoch: int | None
    best_valid: dict[str, float] | None
    test_at_best: dict[str, float] | None
    model: nn.Module

    @property
    def epochs_run(self) -> int:
        """Completed epochs (rows of the history)."""
        return len(self.history)


class Best(NamedTuple):
    """The best validated epoch so far, its validation metrics and its test metrics."""

    epoch: int | None
    valid: dict[str, float] | None
    test: dict[str, float] | None


class TrainingDiverged(RuntimeError):
    """Training stopped at `epoch` / `batch` (None: during evaluation) for `reason`.

    `result` holds the history of the completed epochs and the best validated epoch so far;
    its model is restored to that epoch's state. If no epoch was evaluated yet, the best fields
    are None and the model is left as training stopped it (a lazily built RF generator has no
    initial state to go back to).
    """

    def __init__(self, epoch: int, batch: int | None, reason: str, result: TrainResult) -> None:
        where = f"batch {batch}" if batch is not None else "evaluation"
        if result.best_epoch is None:
            kept = ("No epoch had been evaluated, so there is no state to restore: the model is "
                    "left as training stopped it")
        else:
            kept = f"The model is restored to its best validated epoch {result.best_epoch}"
        super().__init__(f"training stopped at epoch {epoch}, {where}: {reason}. {kept}; the "
                         f"history of the {result.epochs_run} completed epoch(s) is in .result")
        self.epoch, self.batch, self.reason, self.result = epoch, batch, reason, result


def _likely_cause(lr: float, rf: nn.Module | None) -> str:
    """Why a host loss or score goes non-finite: the host's step, or, with RF mixed in, the generator."""
    host = f"the host learning rate {lr:g} is likely too high"
    if rf is None:
        return host
    return (f"{host}, or the mixed-in RF embeddings blew up (rf_lr {rf.learning_rate:g}: lower it, "
            "or set rf_max_grad_norm)")


def sample_negatives(train: sp.csr_matrix, users: np.ndarray, rng: np.random.Generator,
                     candidates: np.ndarray | None = None) -> np.ndarray:
    """One item per user, uniform over the ``candidates`` items (default: all) that user has not
    interacted with in training.

    Draws uniformly and redraws the clashes until none is left (rejection sampling).
    """
    n_items = train.shape[1]
    candidates = np.arange(n_items) if candidates is None else candidates
    degree = train.getnnz(axis=1)
    if (train[:, candidates].getnnz(axis=1)[users] >= len(candidates)).any():
        raise ValueError("train: a sampled user interacted with every item, no negative exists")
    seen = np.repeat(np.arange(train.shape[0], dtype=np.int64), degree) * n_items + train.indices
    negatives = candidates[rng.integers(len(candidates), size=len(users))]
    clash = np.flatnonzero(np.isin(users.astype(np.int64) * n_items + negatives, seen))
    while len(clash):
        negatives[clash] = candidates[rng.integers(len(candidates), size=len(clash))]
        still = np.isin(users[clash].astype(np.int64) * n_items + negatives[clash], seen)
        clash = clash[still]
    return negatives


def _batches(train: sp.csr_matrix, batch_size: int, rng: np.random.Generator,
             candidates: np.ndarray | None, device: torch.device) -> Iterator[tuple[torch.Tensor, ...]]:
    """(users, pos, neg) batches on ``device`` over all training pairs in a random order."""
    coo = train.tocoo()
    order = rng.permutation(coo.nnz)
    users, pos = coo.row[order], coo.col[order]
    neg = sample_negatives(train, users, rng, candidates)
    for start in range(0, len(users), batch_size):
        block = slice(start, start + batch_size)
        yield tuple(torch.from_numpy(a[block].astype(np.int64)).to(device)
                    for a in (users, pos, neg))


def _host_parameters(model: nn.Module) -> list[nn.Parameter]:
    rf = getattr(model, "rf_generator", None)
    owned_by_rf = {id(p) for p in rf.parameters()} if rf is not None else set()
    return [p for p in model.parameters() if id(p) not in owned_by_rf]


def _host_step(model: nn.Module, optimizer: torch.optim.Optimizer, users: torch.Tensor,
               pos: torch.Tensor, neg: torch.Tensor) -> float:
    """One BPR step; returns the loss. A non-finite loss is returned without stepping."""
    loss = model.bpr_loss(users, pos, neg)
    value = loss.item()
    if math.isfinite(value):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return value


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
          stop_metric: str = "recall@20",
          on_evaluate: Callable[[nn.Module], Mapping[str, Any]] | None = None) -> TrainResult:
    """Train with BPR and Adam; validate every ``eval_every`` epochs with full ranking.

    ``lr`` defaults to the model's ``learning_rate`` attribute, else 1e-3. Early stopping: after
    ``patience`` evaluations without a strictly better validation ``stop_metric``. Test metrics
    are computed at every evaluation (for the curves) and reported at the best validation epoch;
    they never drive any choice. ``seed`` seeds the sampling (numpy) and torch's global RNG
    (the generator's noise), so the same seed gives the same history apart from the timing
    columns ``seconds`` (training), ``eval_seconds`` and ``rf_seconds`` (inside RF calls while
    training). ``rf_loss`` / ``cl_loss`` are epoch means of the RF steps (NaN without RF).
    On a cold-start dataset (``cold_items`` set) negatives are drawn from the warm items only:
    cold items do not exist for the model while it trains.
    Batches go to the model's device (that of its first parameter); sampling stays on the CPU,
    so every device sees the same batches (the generator's noise comes from that device's RNG).
    ``on_evaluate(model)``, if given, runs after each evaluation; the numbers it returns join that
    epoch's history row (e.g. the generator's health along training). It must not draw from
    torch's random stream, or the run would no longer match one without it.
    """
    lr = getattr(model, "learning_rate", 1e-3) if lr is None else lr
    _check_arguments(epochs, batch_size, lr, patience, eval_every, ks, stop_metric)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    matrices = {split: dataset.matrix(split) for split in ("train", "valid", "test")}
    negative_items = None if dataset.cold_items is None else warm_items(dataset)
    rf = getattr(model, "rf_generator", None)
    optimizer = torch.optim.Adam(_host_parameters(model), lr=lr)
    device = module_device(model)
    history, best, best_state, stale = [], None, None, 0
    bar = tqdm(range(epochs), disable=not progress, desc=f"train {type(model).__name__}")

    def diverged(epoch: int, batch: int | None, reason: str) -> TrainingDiverged:
        """The error to raise, after restoring the best state and packing the history so far."""
        bar.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        result = TrainResult(pd.DataFrame(history), *(best or Best(None, None, None)), model)
        return TrainingDiverged(epoch, batch, reason, result)

    for epoch in bar:
        if rf is not None:
            rf.set_epoch(epoch)
        model.train()
        start, rf_start = time.perf_counter(), getattr(model, "rf_seconds", 0.0)
        bpr, rf_losses = [], []
        for batch, (users, pos, neg) in enumerate(_batches(matrices["train"], batch_size, rng, negative_items, device)):
            steps_before = getattr(model, "rf_steps_taken", None)  # None: a host that does not count
            try:
                value = _host_step(model, optimizer, users, pos, neg)
            except Exception as error:
                raise diverged(epoch, batch, f"{type(error).__name__}: {error}") from error
            if not math.isfinite(value):
                raise diverged(epoch, batch, f"the host loss is {value}, {_likely_cause(lr, rf)}")
            bpr.append(value)
            if rf is not None and (steps_before is None or model.rf_steps_taken > steps_before):
                rf_losses.append({**model.last_rf_losses,
                                  "skipped": getattr(model, "last_rf_skipped", False)})
        rf_steps = pd.DataFrame(rf_losses, columns=["rf_loss", "cl_loss", "skipped"])
        skipped = rf_steps["skipped"].astype(bool)
        rf_means = rf_steps.loc[~skipped, ["rf_loss", "cl_loss"]].mean()
        row = {"epoch": epoch, "bpr_loss": float(np.mean(bpr)),
               "rf_loss": float(rf_means["rf_loss"]), "cl_loss": float(rf_means["cl_loss"]),
               "rf_skipped_steps": int(skipped.sum()),
               "seconds": time.perf_counter() - start,
               "rf_seconds": getattr(model, "rf_seconds", 0.0) - rf_start}

        if (epoch + 1) % eval_every == 0 or epoch == epochs - 1:
            start = time.perf_counter()
            try:
                scores = model.score_all()
            except Exception as error:
                raise diverged(epoch, None, f"{type(error).__name__}: {error}") from error
            if not torch.isfinite(scores).all():
                raise diverged(epoch, None, f"the model's scores contain NaN or Inf, {_likely_cause(lr, rf)}")
            valid = topk_metrics(scores, matrices["train"], matrices["valid"], ks)
            test = topk_metrics(scores, matrices["train"], matrices["test"], ks)
            row.update({f"valid_{k}": v for k, v in valid.items()})
            row.update({f"test_{k}": v for k, v in test.items()})
            row["eval_seconds"] = time.perf_counter() - start
            if on_evaluate is not None:
                row.update(on_evaluate(model))
            if best is None or valid[stop_metric] > best.valid[stop_metric]:
                best, best_state, stale = Best(epoch, valid, test), copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
            bar.set_postfix({stop_metric: f"{valid[stop_metric]:.4f}", "best": best.epoch})
        history.append(row)
        if stale >= patience:
            break

    bar.close()
    model.load_state_dict(best_state)
    return TrainResult(pd.DataFrame(history), *best, model)
