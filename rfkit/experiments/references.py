"""Reference recommenders written by others: Cornac's MostPop, BPR, EASE and VBPR, trained on the
kit's own split and scored with the kit's metrics (full ranking, training items masked), so their
rows sit in the same tables as the kit's host, RF and controls.

- ``MostPop``: items by training degree (not stochastic);
- ``BPR``: matrix factorisation with the BPR loss (seeded, one thread so a seed gives one result);
- ``EASE``: the closed-form linear item-item model, its L2 strength chosen on validation
  Recall@20 from `EASE_LAMBDAS` (not stochastic);
- ``VBPR``: BPR plus a visual part that maps item features to factors, here the kit's item
  features standardized (`rfkit.integrations.cornac.item_features`) (seeded).

`vbpr_cold_scores` applies VBPR's trained content part to items it never saw, the cold-item
reference of notebook 07. Cornac is imported when these run, so the kit works without it.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from rfkit.data.cold_start import warm_items
from rfkit.data.dataset import Dataset
from rfkit.experiments.runner import run_jobs
from rfkit.metrics import split_metrics, topk_metrics

REFERENCES = ("MostPop", "BPR", "EASE", "VBPR")
STOCHASTIC = {"MostPop": False, "BPR": True, "EASE": False, "VBPR": True}
EASE_LAMBDAS = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
# Settings of the seeded references: chosen once on MovieLens validation Recall@20 (BPR from
# 200/500 iterations at learning rates 0.01/0.05; VBPR from learning rates 0.002-0.01), not on test.
BPR_SETTINGS = {"k": 64, "max_iter": 500, "learning_rate": 0.01, "lambda_reg": 0.01}
VBPR_SETTINGS = {"k": 32, "k2": 32, "n_epochs": 30, "batch_size": 1024, "learning_rate": 0.005,
                 "lambda_w": 0.001}


def _cornac() -> Any:
    from rfkit.integrations import cornac as bridge  # one-line ImportError without Cornac
    return bridge


def _model(name: str, seed: int, **settings: Any) -> Any:
    import cornac
    if name == "MostPop":
        return cornac.models.MostPop()
    if name == "BPR":
        return cornac.models.BPR(**{**BPR_SETTINGS, **settings}, num_threads=1, seed=seed, verbose=False)
    if name == "EASE":
        return cornac.models.EASE(**settings, verbose=False)
    if name == "VBPR":
        return cornac.models.VBPR(**{**VBPR_SETTINGS, **settings}, seed=seed, verbose=False)
    raise ValueError(f"reference must be one of {REFERENCES}, got {name!r}")


def fit_scores(name: str, dataset: Dataset, seed: int, items: np.ndarray | None = None,
               **settings: Any) -> tuple[Any, torch.Tensor]:
    """A Cornac reference fitted on the training split of ``items`` (default: all), and its
    (n_users, len(items)) scores."""
    bridge = _cornac()
    model = _model(name, seed, **settings)
    model.fit(bridge.train_set(dataset, items, seed=seed, features=name == "VBPR"))
    return model, bridge.score_matrix(model, dataset.n_users)


def _ease(dataset: Dataset, seed: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """EASE at the L2 strength of `EASE_LAMBDAS` with the best validation Recall@20."""
    train, valid = dataset.matrix("train"), dataset.matrix("valid")
    best = None
    for lamb in EASE_LAMBDAS:
        scores = fit_scores("EASE", dataset, seed, lamb=lamb)[1]
        recall = topk_metrics(scores, train, valid, (20,))["recall@20"]
        if best is None or recall > best[0]:
            best = (recall, lamb, scores)
    return best[2], {"chosen": f"lamb={best[1]:g}"}


def reference_run(name: str, dataset: Dataset, seed: int, ks: Sequence[int] = (10, 20)) -> dict[str, Any]:
    """One reference on one seed: its record (variant, seed, seconds, ``valid_*`` and ``test_*``
    metrics, whether it is stochastic, and for EASE the chosen L2 strength). Single-threaded, like
    every training of the kit, so a seed gives the same numbers in a process pool and outside it."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    if name == "EASE":
        scores, extra = _ease(dataset, seed)
    else:
        scores, extra = fit_scores(name, dataset, seed)[1], {}
    return {"variant": name, "seed": seed, "train_seconds": time.perf_counter() - start,
            "stochastic": STOCHASTIC[name], **extra, **split_metrics(scores, dataset, ks)}


def reference_runs(dataset: Dataset, seeds: Sequence[int], references: Sequence[str] = REFERENCES,
                   executor: Any = None, progress: bool = True) -> pd.DataFrame:
    """`reference_run` for every reference and seed (on ``executor`` if given), one row each.

    A reference that is not stochastic gives the same row on every seed; it still gets one per
    seed, so that it pairs with the kit's runs seed by seed like any other variant.
    """
    unknown = sorted(set(references) - set(REFERENCES))
    if unknown:
        raise ValueError(f"references must be among {REFERENCES}, got {unknown}")
    _cornac()
    jobs = [{"name": name, "dataset": dataset, "seed": seed} for name in references for seed in seeds]
    return pd.DataFrame(run_jobs(reference_run, jobs, executor, progress, desc="references"))


def vbpr_cold_scores(dataset: Dataset, seed: int) -> torch.Tensor:
    """(n_users, n_items) scores of VBPR trained on a cold-start dataset's warm items.

    Warm items get VBPR's own score. A cold item, which VBPR never saw, gets the part of it that
    needs no interactions: theta_u . (E f_i) + beta' . f_i, from the trained feature projection E
    and visual bias beta' applied to its standardized features f_i (Cornac's ``score`` refuses
    unknown items, so the trained pieces are applied here).
    """
    warm = warm_items(dataset)
    model, warm_scores = fit_scores("VBPR", dataset, seed, items=warm)
    features = _cornac().item_features(dataset, warm)
    content = model.theta_user @ (features @ model.emb_matrix).T + (features @ model.beta_prime).ravel()
    scores = torch.from_numpy(content.astype(np.float32))
    scores[:, torch.from_numpy(warm)] = warm_scores
    return scores

