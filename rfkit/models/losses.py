"""Pairwise ranking loss and embedding regularizer shared by the backbones."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(user_emb: torch.Tensor, pos_emb: torch.Tensor, neg_emb: torch.Tensor) -> torch.Tensor:
    """Mean of -log sigmoid(<u, pos> - <u, neg>) over the batch (Rendle et al. 2009)."""
    margin = (user_emb * pos_emb).sum(dim=1) - (user_emb * neg_emb).sum(dim=1)
    return F.softplus(-margin).mean()


def l2_penalty(*tensors: torch.Tensor) -> torch.Tensor:
    """Half the squared L2 norm of the batch's embeddings, per batch row (LightGCN's reg)."""
    batch = tensors[0].shape[0]
    return sum(t.pow(2).sum() for t in tensors) / (2 * batch)
