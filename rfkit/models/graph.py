"""Sparse graphs the backbones propagate on, built with scipy.sparse and handed to torch.

- the user-item bipartite adjacency, symmetrically normalized (LightGCN's D^-1/2 A D^-1/2);
- an item-item kNN graph from one modality's features (cosine), symmetrized and normalized;
- the row-normalized user->item interaction matrix, which averages item-side vectors into users.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.neighbors import kneighbors_graph
from sklearn.preprocessing import normalize


def _check_interactions(interactions: sp.spmatrix) -> sp.csr_matrix:
    if not sp.issparse(interactions):
        raise TypeError(f"interactions must be a scipy sparse matrix, "
                        f"got {type(interactions).__name__}")
    if interactions.ndim != 2:
        raise ValueError(f"interactions must be 2-D, got shape {interactions.shape}")
    return sp.csr_matrix(interactions, dtype=np.float32)


def to_torch_sparse(matrix: sp.spmatrix) -> torch.Tensor:
    """A scipy sparse matrix as a coalesced float32 torch COO tensor."""
    coo = sp.coo_matrix(matrix, dtype=np.float32)
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(indices, torch.from_numpy(coo.data), coo.shape,
                                   check_invariants=True).coalesce()


def symmetric_normalize(adjacency: sp.spmatrix) -> sp.csr_matrix:
    """D^-1/2 A D^-1/2 with D the row sums of a square A; isolated nodes keep zero rows."""
    if adjacency.shape[0] != adjacency.shape[1]:
        raise ValueError(f"adjacency must be square, got shape {adjacency.shape}")
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(degree, dtype=np.float64)
    np.power(degree, -0.5, out=inv_sqrt, where=degree > 0)
    scale = sp.diags(inv_sqrt)
    return sp.csr_matrix(scale @ adjacency @ scale, dtype=np.float32)


def bipartite_adjacency(interactions: sp.spmatrix) -> torch.Tensor:
    """Normalized adjacency of the (n_users + n_items) bipartite graph; users come first."""
    r = _check_interactions(interactions)
    a = sp.bmat([[None, r], [r.T, None]], format="csr")
    return to_torch_sparse(symmetric_normalize(a))


def item_knn_graph(features: np.ndarray, k: int) -> torch.Tensor:
    """Normalized item-item graph linking each item to its k most cosine-similar items.

    Self is counted among the k (so an item keeps its own signal); the directed kNN relation is
    symmetrized (an edge if either side picked the other) before D^-1/2 A D^-1/2.
    """
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"features must be 2-D (n_items, dim), got shape {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("features contains NaN or Inf")
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= features.shape[0]:
        raise ValueError(f"k must be an int in [1, n_items={features.shape[0]}], got {k!r}")
    knn = kneighbors_graph(features, k, metric="cosine", include_self=True)
    return to_torch_sparse(symmetric_normalize(knn.maximum(knn.T)))


def user_item_mean(interactions: sp.spmatrix) -> torch.Tensor:
    """(n_users, n_items) interactions with rows summing to 1: R @ X averages items into users."""
    return to_torch_sparse(normalize(_check_interactions(interactions), norm="l1", axis=1))
