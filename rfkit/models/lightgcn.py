"""LightGCN (He et al. 2020): ID embeddings smoothed on the user-item graph, no transforms."""
from __future__ import annotations

import torch
from torch import nn

from rfkit.machine import resolve_device
from rfkit.models.losses import bpr_loss, l2_penalty


class LightGCN(nn.Module):
    """Layer-mean propagation of user and item ID embeddings on a normalized bipartite graph.

    ``adj`` is the (n_users + n_items) square sparse tensor of ``graph.bipartite_adjacency``.
    Initialization draws from a private CPU ``torch.Generator(seed)``, so the global RNG is
    untouched and every ``device`` ("cpu", "cuda", "cuda:N", "auto") starts from the same weights.
    """

    def __init__(self, n_users: int, n_items: int, adj: torch.Tensor, embedding_dim: int = 64,
                 n_layers: int = 2, reg_weight: float = 1e-4, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        super().__init__()
        for name, value in (("n_users", n_users), ("n_items", n_items),
                            ("embedding_dim", embedding_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(n_layers, int) or n_layers < 0:
            raise ValueError(f"n_layers must be an int >= 0, got {n_layers!r}")
        if reg_weight < 0:
            raise ValueError(f"reg_weight must be >= 0, got {reg_weight}")
        device = resolve_device(device)
        n = n_users + n_items
        if not isinstance(adj, torch.Tensor) or not adj.is_sparse or tuple(adj.shape) != (n, n):
            raise ValueError(f"adj must be a sparse torch tensor of shape ({n}, {n}), got "
                             f"{type(adj).__name__} {tuple(getattr(adj, 'shape', ()))}")
        self.n_users, self.n_items = n_users, n_items
        self.embedding_dim, self.n_layers, self.reg_weight = embedding_dim, n_layers, reg_weight
        self.register_buffer("adj", adj, persistent=False)
        generator = torch.Generator().manual_seed(seed)
        self.user_embedding = nn.Parameter(
            nn.init.xavier_uniform_(torch.empty(n_users, embedding_dim), generator=generator))
        self.item_embedding = nn.Parameter(
            nn.init.xavier_uniform_(torch.empty(n_items, embedding_dim), generator=generator))
        self.to(device)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(user_emb, item_emb): the mean of layers 0..n_layers of propagation."""
        x = torch.cat([self.user_embedding, self.item_embedding])
        layers = [x]
        for _ in range(self.n_layers):
            x = torch.sparse.mm(self.adj, x)
            layers.append(x)
        out = torch.stack(layers).mean(dim=0)
        return out[:self.n_users], out[self.n_users:]

    def bpr_loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """BPR on propagated embeddings plus reg_weight * L2 of the batch's layer-0 embeddings."""
        user_emb, item_emb = self()
        reg = l2_penalty(self.user_embedding[users], self.item_embedding[pos],
                         self.item_embedding[neg])
        return bpr_loss(user_emb[users], item_emb[pos], item_emb[neg]) + self.reg_weight * reg

    @torch.no_grad()
    def score_all(self) -> torch.Tensor:
        """(n_users, n_items) inner-product scores."""
        user_emb, item_emb = self()
        return user_emb @ item_emb.T
