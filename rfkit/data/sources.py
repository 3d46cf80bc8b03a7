"""`load`: one entry point for every data source (a named source or an MMRec folder)."""
from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path

from .dataset import Dataset
from .mmrec import load_mmrec
from .movielens import load_movielens
from .synthetic import load_synthetic

SOURCES: dict[str, Callable[..., Dataset]] = {
    "movielens": load_movielens,
    "synthetic": load_synthetic,
}


def _check_options(source: str, loader: Callable[..., Dataset], options: dict) -> None:
    """Reject options a loader with a fixed signature would not take, listing the allowed ones.

    Loaders taking **kwargs (synthetic) check their own options.
    """
    parameters = inspect.signature(loader).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for source {source!r}; "
                         f"allowed: {sorted(parameters)}")


def load(source: str | os.PathLike, **options) -> Dataset:
    """Load "movielens" (options seed, cache_dir), "synthetic" (preset and the knobs of
    `SyntheticConfig`) or the MMRec folder at path `source` (no options)."""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a name or a path, got {type(source).__name__}")
    if isinstance(source, str) and source in SOURCES:
        _check_options(source, SOURCES[source], options)
        return SOURCES[source](**options)
    if isinstance(source, os.PathLike) or os.sep in source or Path(source).exists():
        if options:
            raise ValueError(f"an MMRec folder takes no options, got {sorted(options)}")
        return load_mmrec(source)
    raise ValueError(f"unknown source {source!r}: use 'movielens', 'synthetic' "
                     "or the path of an MMRec folder")
