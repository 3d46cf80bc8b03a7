"""Shared test set-up."""
import pytest
import torch

from rfkit.data import load

# The tests train tiny models: on a 2-core machine intra-op threads cost more than they buy.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny():
    """The tiny synthetic preset: trains a graph recommender in about a second."""
    return load("synthetic", preset="tiny", seed=0)
