"""Shared test set-up."""
import os

import pytest
import torch

from rfkit.data import load

# The tests train tiny models: on a 2-core machine intra-op threads cost more than they buy.
torch.set_num_threads(1)

# No run cache unless a test is about it (tests/test_run_cache.py turns it on for itself).
os.environ.pop("RFKIT_RUN_CACHE", None)

# The CPU always, CUDA when present; `pytest -m device` runs just these (the GPU check does).
DEVICES = [pytest.param("cpu", marks=pytest.mark.device)] + (
    [pytest.param("cuda", marks=pytest.mark.device)] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """Each available device in turn; a test using it compares that device with the CPU."""
    return request.param


@pytest.fixture(scope="session")
def tiny():
    """The tiny synthetic preset: trains a graph recommender in about a second."""
    return load("synthetic", preset="tiny", seed=0)
