"""The MMRec preprocessing protocol: k-core filtering, dense ids, per-user random split.

Every source that builds its own interactions (MovieLens, synthetic) runs these three
steps, so all of them are evaluated the same way as the MMRec papers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

EVAL_FRACTION = 0.1  # share of each user's interactions in valid, and again in test
MIN_USER_INTERACTIONS = 3  # one train, one valid, one test


def _require_columns(inter: pd.DataFrame, columns: tuple[str, ...]) -> None:
    if not isinstance(inter, pd.DataFrame):
        raise TypeError(f"inter must be a pandas DataFrame, got {type(inter).__name__}")
    missing = [c for c in columns if c not in inter.columns]
    if missing:
        raise ValueError(f"inter lacks the column(s) {missing}")


def kcore(inter: pd.DataFrame, k: int) -> pd.DataFrame:
    """Drop interactions until every remaining user and item has at least `k` of them.

    Dropping a sparse item can push a user under `k` and vice versa, hence the loop.
    """
    _require_columns(inter, ("userID", "itemID"))
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    while True:
        user_degree = inter.groupby("userID")["userID"].transform("size")
        item_degree = inter.groupby("itemID")["itemID"].transform("size")
        keep = (user_degree >= k) & (item_degree >= k)
        if keep.all():
            break
        inter = inter[keep]
    if inter.empty:
        raise ValueError(f"the {k}-core of the interactions is empty")
    return inter.reset_index(drop=True)


def densify_ids(inter: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index, pd.Index]:
    """Re-number users and items 0..n-1 in sorted order of their original ids.

    Returns the re-numbered table and the original user and item ids, so that row i
    of any per-item array (features, planted factors) can be aligned with `item_ids[i]`.
    """
    _require_columns(inter, ("userID", "itemID"))
    user_codes, user_ids = pd.factorize(inter["userID"], sort=True)
    item_codes, item_ids = pd.factorize(inter["itemID"], sort=True)
    dense = inter.assign(userID=user_codes.astype(np.int64), itemID=item_codes.astype(np.int64))
    return dense, pd.Index(user_ids), pd.Index(item_ids)


def eval_size(n: pd.Series | np.ndarray | int) -> np.ndarray:
    """How many of a user's `n` interactions go to valid (and as many to test).

    round-half-up(n / 10), but at least 1: users with fewer than 15 interactions
    (in particular all with fewer than 10) keep all but 2 for training.
    """
    return np.maximum(1, np.floor(np.asarray(n) * EVAL_FRACTION + 0.5)).astype(np.int64)


def split_per_user(inter: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Label every interaction 0 (train), 1 (valid) or 2 (test) in column `x_label`.

    Each user's interactions are shuffled with `seed`; the first n - 2*eval_size(n)
    go to train, the next eval_size(n) to valid, the rest to test. The result is
    sorted by user, label and item, so it does not depend on the input row order.
    """
    _require_columns(inter, ("userID", "itemID"))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    ordered = inter.sort_values(["userID", "itemID"], kind="stable")
    shuffled = ordered.iloc[np.random.default_rng(seed).permutation(len(ordered))]
    by_user = shuffled.groupby("userID")
    size = by_user["userID"].transform("size").to_numpy()
    if (size < MIN_USER_INTERACTIONS).any():
        raise ValueError(f"every user needs at least {MIN_USER_INTERACTIONS} interactions "
                         "to be split into train, valid and test")
    rank = by_user.cumcount().to_numpy()
    n_eval = eval_size(size)
    n_train = size - 2 * n_eval
    label = (rank >= n_train).astype(np.int64) + (rank >= n_train + n_eval)
    return (shuffled.assign(x_label=label)
            .sort_values(["userID", "x_label", "itemID"], kind="stable")
            .reset_index(drop=True))
