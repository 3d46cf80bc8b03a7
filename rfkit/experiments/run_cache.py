"""The run cache: an identical training (same config, data, seed, training options, device and
code) runs once across notebooks and report runs, and is read back from disk after that.

It is `joblib.Memory` on the folder named by the environment variable ``RFKIT_RUN_CACHE``
(unset: no cache; the report command sets it, so notebooks and their worker processes share it).
A key holds the code's version, a hash of every source file that trains a model (`CODE`) and the
torch version, so any change to that code misses the old entries. Cached trainings are those of
deterministic runs: the same key gives the same model and history on the CPU, so a hit changes no
number, only the time it takes.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import joblib
import torch

from rfkit.data.dataset import Dataset
from rfkit.machine import resolve_device

CACHE_VARIABLE = "RFKIT_RUN_CACHE"
PACKAGE = Path(__file__).resolve().parents[1]
# The code that trains a model, the cached functions' modules included; the lab, the notebooks and
# the publishing code cannot change a trained model.
CODE = ("generator", "models", "data", "configs", "train.py", "metrics.py", "config.py", "machine.py",
        "experiments/runner.py", "experiments/cold.py")

Result = TypeVar("Result")


@cache
def code_version() -> str:
    """SHA-256 of the core source files (paths and contents) and the torch version."""
    digest = hashlib.sha256(torch.__version__.encode())
    for part in CODE:
        path = PACKAGE / part
        for file in sorted(path.rglob("*") if path.is_dir() else [path]):
            if file.suffix in (".py", ".yaml"):
                digest.update(str(file.relative_to(PACKAGE)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def cache_folder() -> Path | None:
    """The folder of the run cache, or None when ``RFKIT_RUN_CACHE`` is unset or empty."""
    folder = os.environ.get(CACHE_VARIABLE, "").strip()
    return Path(folder) if folder else None


def run_key(dataset: Dataset, device: str | torch.device) -> str:
    """What a training's key holds besides its own arguments: the data, the device it runs on and
    the code version."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset, got {type(dataset).__name__}")
    return f"{joblib.hash(dataset)}-{resolve_device(device)}-{code_version()}"


def cached_call(function: Callable[..., Result], dataset: Dataset, device: str | torch.device,
                *args: Any) -> Result:
    """``function(dataset, *args)``, through the run cache when one is on.

    `function` must be a module-level function whose result depends only on its arguments (a
    seeded training); `args` are plain data. The dataset enters the key by its hash. Afterwards
    torch's random state is the one `function` left, hit or miss, so what runs next draws the
    same numbers either way.
    """
    folder = cache_folder()
    if folder is None:
        return function(dataset, *args)
    call = _memory(str(folder)).cache(_with_random_state, ignore=["dataset"])
    result, random_state = call(function, dataset, run_key(dataset, device), *args)
    _set_random_state(random_state)
    return result


def _with_random_state(function: Callable[..., Result], dataset: Dataset, key: str,
                       *args: Any) -> tuple[Result, dict[str, Any]]:
    """`function`'s result and torch's random state after it; `key` only tells cached calls apart."""
    result = function(dataset, *args)
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return result, {"cpu": torch.get_rng_state(), "cuda": cuda}


def _set_random_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if state["cuda"] is not None:
        torch.cuda.set_rng_state_all(state["cuda"])


@cache
def _memory(folder: str) -> joblib.Memory:
    return joblib.Memory(folder, verbose=0)
