"""Non-learned reference scorers that every trained model must beat."""
from __future__ import annotations

import torch

from rfkit.data.dataset import Dataset


def popularity_scores(dataset: Dataset) -> torch.Tensor:
    """(n_users, n_items) scores where every user ranks items by their training degree.

    Returned as an expanded view of one row, so it costs O(n_items) memory.
    """
    popularity = torch.as_tensor(dataset.item_popularity(), dtype=torch.float32)
    return popularity.unsqueeze(0).expand(dataset.n_users, dataset.n_items)
