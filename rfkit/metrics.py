"""Full-ranking top-K metrics as MMRec computes them, overall and per popularity bucket.

For every user with at least one test item, all items are scored, the user's training items are
masked out, and the top K are compared with the test items (MMRec masks training items only, for
validation and test alike). With ``hits`` the 0/1 relevance of ranks 1..K and ``n`` the user's
number of test items:

- ``recall@K``    = sum(hits) / n
- ``precision@K`` = sum(hits) / K
- ``ndcg@K``      = sum_i hits_i / log2(i + 1), divided by the ideal DCG of min(n, K) hits
- ``map@K``       = sum_i hits_i * precision@i, divided by min(n, K)

each averaged over the evaluated users. Users are processed in chunks so memory stays at
``chunk_size x n_items``. Scores may live on any device: masking and top-K run there, chunk by
chunk, and only the top-K items come back to the CPU.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from rfkit.data.cold_start import cold_half, warm_items
from rfkit.data.dataset import Dataset

DEFAULT_BUCKETS: tuple[tuple[str, float], ...] = (("head", 0.2), ("mid", 0.3), ("tail", 0.5))


def _check_inputs(scores: torch.Tensor, train: sp.spmatrix, test: sp.spmatrix,
                  ks: Sequence[int]) -> None:
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_users, n_items), got shape {tuple(scores.shape)}")
    if torch.isnan(scores).any():
        raise ValueError("scores contains NaN")
    for name, m in (("train", train), ("test", test)):
        if not sp.issparse(m):
            raise TypeError(f"{name} must be a scipy sparse matrix, got {type(m).__name__}")
        if m.shape != tuple(scores.shape):
            raise ValueError(f"{name} has shape {m.shape}, scores has {tuple(scores.shape)}")
    if len(ks) == 0 or any(not isinstance(k, (int, np.integer)) or k < 1 for k in ks):
        raise ValueError(f"ks must be a non-empty sequence of positive ints, got {ks!r}")
    if max(ks) > scores.shape[1]:
        raise ValueError(f"ks has K={max(ks)} larger than n_items={scores.shape[1]}")


def _hit_matrix(scores: torch.Tensor, train: sp.csr_matrix, test: sp.csr_matrix, k: int,
                chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """0/1 relevance of the top-k ranks (train masked) and test counts, per evaluated user.

    Masking and top-k run on the scores' device; the chosen items come back to the CPU.
    """
    users = np.flatnonzero(test.getnnz(axis=1) > 0)
    hits = np.zeros((len(users), k), dtype=bool)
    device = scores.device
    for start in range(0, len(users), chunk_size):
        rows = users[start:start + chunk_size]
        block = scores[torch.from_numpy(rows).to(device)].detach().to(torch.float64)
        mask = torch.from_numpy(train[rows].toarray() > 0).to(device)
        block = block.masked_fill(mask, float("-inf"))
        top_values, top_items = (t.cpu() for t in torch.topk(block, k, dim=1))
        relevant = torch.from_numpy(test[rows].toarray() > 0)
        hit = relevant.gather(1, top_items) & torch.isfinite(top_values)
        hits[start:start + len(rows)] = hit.numpy()
    return hits, test.getnnz(axis=1)[users]


def _metrics_from_hits(hits: np.ndarray, n_relevant: np.ndarray,
                       ks: Sequence[int]) -> dict[str, float]:
    if len(hits) == 0:
        return {f"{m}@{k}": 0.0 for k in ks for m in ("recall", "ndcg", "precision", "map")}
    ranks = np.arange(1, hits.shape[1] + 1)
    discount = 1.0 / np.log2(ranks + 1)
    ideal_dcg = np.concatenate([[0.0], np.cumsum(discount)])
    cum_hits = np.cumsum(hits, axis=1)
    out: dict[str, float] = {}
    for k in ks:
        h = hits[:, :k]
        n_hits = cum_hits[:, k - 1]
        capped = np.minimum(n_relevant, k)
        dcg = (h * discount[:k]).sum(axis=1)
        average_precision = (h * cum_hits[:, :k] / ranks[:k]).sum(axis=1) / capped
        out[f"recall@{k}"] = float(np.mean(n_hits / n_relevant))
        out[f"ndcg@{k}"] = float(np.mean(dcg / ideal_dcg[capped]))
        out[f"precision@{k}"] = float(np.mean(n_hits / k))
        out[f"map@{k}"] = float(np.mean(average_precision))
    return out


def _evaluate(scores: torch.Tensor, train: sp.spmatrix, test: sp.spmatrix, ks: Sequence[int],
              chunk_size: int) -> tuple[dict[str, float], int]:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    hits, n_relevant = _hit_matrix(scores, sp.csr_matrix(train), sp.csr_matrix(test), max(ks),
                                   chunk_size)
    return _metrics_from_hits(hits, n_relevant, ks), len(n_relevant)


def _check_items(items: object, n_items: int, ks: Sequence[int]) -> np.ndarray:
    array = np.asarray(items)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"items must be a 1-D sequence of integer item ids, got {array.dtype} "
                         f"array of shape {array.shape}")
    if len(array) and (array.min() < 0 or array.max() >= n_items):
        raise ValueError(f"items must lie in [0, {n_items})")
    if len(np.unique(array)) != len(array):
        raise ValueError("items must not repeat an id")
    if len(array) < max(ks):
        raise ValueError(f"items has {len(array)} candidates, fewer than K={max(ks)}")
    return array


def topk_metrics(scores: torch.Tensor, train: sp.spmatrix, test: sp.spmatrix,
                 ks: Sequence[int] = (10, 20), chunk_size: int = 1024,
                 items: Sequence[int] | np.ndarray | None = None) -> dict[str, float]:
    """Recall/NDCG/Precision/MAP@K over users with >= 1 test item, training items masked.

    ``scores`` is (n_users, n_items); ``train`` and ``test`` are binary sparse matrices of the same
    shape. ``items`` (default: all) restricts the ranking to these candidate items, and the
    relevant items to the test items among them (cold-item evaluation ranks the cold items only).
    Metrics are 0.0 when no user has a (candidate) test item.
    """
    _check_inputs(scores, train, test, ks)
    if items is not None:
        columns = _check_items(items, scores.shape[1], ks)
        scores = scores[:, torch.from_numpy(columns).to(scores.device)]
        train, test = sp.csr_matrix(train)[:, columns], sp.csr_matrix(test)[:, columns]
    return _evaluate(scores, train, test, ks, chunk_size)[0]


def popularity_buckets(item_popularity: np.ndarray,
                       buckets: Sequence[tuple[str, float]] = DEFAULT_BUCKETS) -> np.ndarray:
    """Bucket name of every item: items sorted by training degree (descending, ties by id)
    are cut into consecutive groups holding the given fractions of the catalogue.

    The default puts the 20% most popular items in ``head``, the next 30% in ``mid`` and the
    least popular 50% in ``tail``.
    """
    popularity = np.asarray(item_popularity)
    if popularity.ndim != 1:
        raise ValueError(f"item_popularity must be 1-D, got shape {popularity.shape}")
    names = [name for name, _ in buckets]
    fractions = np.array([fraction for _, fraction in buckets], dtype=float)
    if len(set(names)) != len(names) or len(names) == 0:
        raise ValueError(f"buckets must have distinct names, got {names}")
    if (fractions <= 0).any() or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"buckets fractions must be positive and sum to 1, got {fractions}")
    order = np.argsort(-popularity, kind="stable")
    bounds = np.round(np.cumsum(fractions) * len(popularity)).astype(int)
    labels = np.empty(len(popularity), dtype=object)
    for name, lo, hi in zip(names, np.concatenate([[0], bounds[:-1]]), bounds):
        labels[order[lo:hi]] = name
    return labels


def bucket_metrics(scores: torch.Tensor, train: sp.spmatrix, test: sp.spmatrix,
                   item_popularity: np.ndarray, ks: Sequence[int] = (10, 20),
                   buckets: Sequence[tuple[str, float]] = DEFAULT_BUCKETS,
                   chunk_size: int = 1024) -> pd.DataFrame:
    """Top-K metrics restricted to the test items of each popularity bucket.

    Ranking is still over all items; per bucket only that bucket's test items count as relevant
    and only users with >= 1 such item are averaged. Rows are buckets (see
    ``popularity_buckets``); columns are the metrics plus ``n_items`` and ``n_users``.
    Hits add up across buckets: sum over buckets of precision@K * n_users equals the overall
    precision@K times its number of users.
    """
    _check_inputs(scores, train, test, ks)
    if np.shape(item_popularity) != (scores.shape[1],):
        raise ValueError(f"item_popularity must have shape ({scores.shape[1]},), "
                         f"got {np.shape(item_popularity)}")
    labels = popularity_buckets(item_popularity, buckets)
    rows = {}
    for name, _ in buckets:
        in_bucket = (labels == name).astype(np.float32)
        bucket_test = sp.csr_matrix(test) @ sp.diags(in_bucket)
        bucket_test.eliminate_zeros()
        metrics, n_users = _evaluate(scores, train, bucket_test, ks, chunk_size)
        rows[name] = {**metrics, "n_items": int(in_bucket.sum()), "n_users": n_users}
    return pd.DataFrame.from_dict(rows, orient="index")


def split_metrics(scores: torch.Tensor, dataset: Dataset, ks: Sequence[int] = (10, 20)) -> dict[str, float]:
    """`valid_*` and `test_*` metrics of one score matrix over a dataset's splits (train masked)."""
    train = dataset.matrix("train")
    return {f"{split}_{name}": value for split in ("valid", "test")
            for name, value in topk_metrics(scores, train, dataset.matrix(split), ks).items()}


def popularity_scores(dataset: Dataset) -> torch.Tensor:
    """(n_users, n_items) scores where every user ranks items by their training degree: the
    non-learned reference every trained model must beat.

    Returned as an expanded view of one row, so it costs O(n_items) memory.
    """
    popularity = torch.as_tensor(dataset.item_popularity(), dtype=torch.float32)
    return popularity.unsqueeze(0).expand(dataset.n_users, dataset.n_items)


def cold_start_metrics(scores: torch.Tensor, dataset: Dataset, split: str = "test",
                       ks: Sequence[int] = (10, 20)) -> dict[str, float]:
    """``cold_``, ``warm_`` and ``all_`` Recall/NDCG@K of one split of a cold-start dataset.

    cold: candidates are the cold items of that split's half; warm: candidates are the warm items;
    all (hybrid): every item is a candidate. Relevant items are the split's interactions among the
    candidates; training items are masked as everywhere.
    """
    train, target = dataset.matrix("train"), dataset.matrix(split)
    candidates = {"cold": cold_half(dataset, split), "warm": warm_items(dataset), "all": None}
    return {f"{group}_{name}": value for group, items in candidates.items()
            for name, value in topk_metrics(scores, train, target, ks, items=items).items()
            if name.startswith(("recall@", "ndcg@"))}
