"""The item cold-start protocol of DropoutNet, Heater, CLCRec, GAR and ALDI.

A seeded random fraction of the items loses every training interaction. The cold items are cut
in two halves: all interactions of the first half form the cold part of the validation set, all
interactions of the second half the cold part of the test set. Warm items keep the per-user
split. Validation on warm items drives early stopping; the cold validation half chooses among
cold-item methods; the cold test half reports.
"""
from __future__ import annotations

import dataclasses
import numbers

import numpy as np
import pandas as pd

from .dataset import SPLITS, Dataset


def cold_start(dataset: Dataset, item_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """A copy of ``dataset`` in which ``item_fraction`` of the items (drawn with ``seed``) are cold.

    Users left without a training interaction are dropped (as MMRec drops them) and the rest
    renumbered in order; item ids and features are unchanged. The result carries ``cold_items``.
    Raises ValueError if the fraction is outside (0, 1) or a split side would be empty.
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset, got {type(dataset).__name__}")
    if (isinstance(item_fraction, bool) or not isinstance(item_fraction, numbers.Real)
            or not 0 < item_fraction < 1):
        raise ValueError(f"item_fraction must be a number in (0, 1), got {item_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if dataset.cold_items is not None:
        raise ValueError(f"dataset {dataset.name!r} already has cold items")
    dataset.validate()
    n_cold = int(round(item_fraction * dataset.n_items))
    if not 2 <= n_cold < dataset.n_items:
        raise ValueError(f"item_fraction={item_fraction} of {dataset.n_items} items gives {n_cold} "
                         "cold items; need at least 2 (one per half) and at least 1 warm item")
    drawn = np.random.default_rng(seed).permutation(dataset.n_items)[:n_cold]
    halves = {"valid": drawn[:n_cold // 2], "test": drawn[n_cold // 2:]}
    everything = pd.concat([getattr(dataset, s) for s in SPLITS], ignore_index=True)
    frames = {}
    for split in SPLITS:
        frame = getattr(dataset, split)
        parts = [frame[~frame["itemID"].isin(drawn)]]
        if split in halves:
            parts.append(everything[everything["itemID"].isin(halves[split])])
        frames[split] = pd.concat(parts, ignore_index=True)
    users = np.unique(frames["train"]["userID"].to_numpy())
    for split, frame in frames.items():
        kept = frame[frame["userID"].isin(users)].sort_values(["userID", "itemID"], kind="stable")
        frames[split] = kept.assign(userID=np.searchsorted(users, kept["userID"].to_numpy())
                                    .astype(np.int64)).reset_index(drop=True)
    _check_sides(frames, halves)
    result = dataclasses.replace(dataset, name=f"{dataset.name}_cold{item_fraction:g}",
                                 n_users=len(users), cold_items=np.sort(drawn).astype(np.int64),
                                 **frames)
    result.validate()
    return result


def _check_sides(frames: dict[str, pd.DataFrame], halves: dict[str, np.ndarray]) -> None:
    """ValueError unless warm train/valid/test and both cold halves hold interactions."""
    cold = np.concatenate(list(halves.values()))
    for split, frame in frames.items():
        is_cold = frame["itemID"].isin(cold)
        if not (~is_cold).any():
            raise ValueError(f"the dataset is too small: no warm interaction is left in {split}")
        if split in halves and not is_cold.any():
            raise ValueError(f"the dataset is too small: the cold {split} half has no interaction")


def _require_cold(dataset: Dataset) -> np.ndarray:
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset, got {type(dataset).__name__}")
    if dataset.cold_items is None:
        raise ValueError(f"dataset {dataset.name!r} has no cold_items; make it with cold_start()")
    return dataset.cold_items


def warm_items(dataset: Dataset) -> np.ndarray:
    """The sorted ids of the items that are not cold."""
    return np.setdiff1d(np.arange(dataset.n_items), _require_cold(dataset))


def cold_half(dataset: Dataset, split: str) -> np.ndarray:
    """The sorted cold items of one half: those with an interaction in ``split`` (valid or test)."""
    cold = _require_cold(dataset)
    if split not in ("valid", "test"):
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
    return np.intersect1d(cold, getattr(dataset, split)["itemID"].to_numpy())


def warm_view(dataset: Dataset) -> Dataset:
    """The dataset with only warm items' interactions in valid and test, for training a host:
    early stopping then sees warm validation Recall@20, as the protocol asks."""
    cold = _require_cold(dataset)
    held_out = {s: getattr(dataset, s) for s in ("valid", "test")}
    return dataclasses.replace(dataset, **{s: f[~f["itemID"].isin(cold)].reset_index(drop=True)
                                           for s, f in held_out.items()})
