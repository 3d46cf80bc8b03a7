"""One config loader for the package's YAML files and the user's own.

The YAML files ship inside the package (`rfkit/configs/`), so `load("multimodal")` works from an
installed package as well as from a checkout. A file may build on another with ``base: <name>``:
its keys override the base's. The training budgets (full and quick) live in ``training.yaml``.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

BASE_KEY = "base"


def available() -> list[str]:
    """Names of the configs shipped with rfkit (without the .yaml suffix)."""
    return sorted(p.name[:-5] for p in (resources.files("rfkit") / "configs").iterdir() if p.name.endswith(".yaml"))


def _read(name_or_path: str | os.PathLike, folder: Path) -> tuple[dict[str, Any], str, Path]:
    """The YAML mapping of a packaged name or a file path (relative to `folder`), a label for
    messages, and the folder a relative ``base`` path of this file starts from."""
    text = str(name_or_path)
    if isinstance(name_or_path, os.PathLike) or text.endswith((".yaml", ".yml")) or os.sep in text:
        path = folder / Path(name_or_path)
        if not path.is_file():
            raise ValueError(f"config file {text!r} does not exist")
        source, label, folder = path.read_text(), str(path), path.parent
    else:
        packaged = resources.files("rfkit") / "configs" / f"{text}.yaml"
        if not packaged.is_file():
            raise ValueError(f"unknown config {text!r}: packaged configs are {available()}, "
                             "or give the path of a .yaml file")
        source, label = packaged.read_text(), f"{text} (packaged)"
    try:
        loaded = yaml.safe_load(source)
    except yaml.YAMLError as error:
        raise ValueError(f"config {label} is not valid YAML: {str(error).splitlines()[0]}") from None
    loaded = {} if loaded is None else loaded
    if not isinstance(loaded, dict):
        raise ValueError(f"config {label} must hold a YAML mapping, got {type(loaded).__name__}")
    return loaded, label, folder


def load(name_or_path: str | os.PathLike = "multimodal", **overrides: Any) -> dict[str, Any]:
    """A config as a dict: a packaged name ("multimodal", "rf_default") or a YAML file's path,
    its ``base`` chain resolved, then updated by ``overrides``.

    Example:
        >>> load("multimodal", rf_mix_ratio=0.3)["rf_mix_ratio"]
        0.3
    """
    config, seen, folder = {}, [], Path.cwd()
    current: str | os.PathLike | None = name_or_path
    while current is not None:
        layer, label, folder = _read(current, folder)
        if label in seen:
            raise ValueError(f"config {label} has a cycle of '{BASE_KEY}' keys: {seen}")
        seen.append(label)
        current = layer.pop(BASE_KEY, None)
        config = {**layer, **config}
    return {**config, **overrides}


def training_options(quick: bool, **overrides: Any) -> dict[str, Any]:
    """Epochs, patience and batch size for `rfkit.train.train` at the full or quick budget."""
    budgets = load("training")
    return {**budgets["quick" if quick else "full"], **overrides}
