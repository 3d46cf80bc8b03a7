"""Read and write the MMRec folder layout.

A folder holds one `<name>.inter` TSV (columns userID, itemID, rating, timestamp,
x_label with 0 train / 1 valid / 2 test) and one `<modality>_feat.npy` per modality
(row i = item i). Ids are dense: n_users = max userID + 1, n_items = max itemID + 1.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .dataset import SPLITS, Dataset

INTER_COLUMNS = ("userID", "itemID", "rating", "timestamp", "x_label")
INTER_SUFFIX = ".inter"
FEATURE_SUFFIX = "_feat.npy"
DEFAULT_RATING = 1.0  # written when a dataset's frames carry no rating column
DEFAULT_TIMESTAMP = 0  # likewise for timestamp


def dataset_from_inter(name: str, inter: pd.DataFrame,
                       features: dict[str, np.ndarray]) -> Dataset:
    """Cut an MMRec interaction table into train/valid/test by `x_label`.

    The split frames keep every column but `x_label`, in file order. Features of a
    floating or integer dtype are cast to float32 (the `Dataset` contract) and ordered
    by modality name, so every way of building a dataset lists them alike.
    """
    missing = [c for c in INTER_COLUMNS if c not in inter.columns]
    if missing:
        raise ValueError(f"interactions lack the column(s) {missing}")
    if inter.empty:
        raise ValueError("interactions are empty")
    for column in ("userID", "itemID", "x_label"):
        if not pd.api.types.is_integer_dtype(inter[column]):
            raise ValueError(f"column {column!r} must hold integers, got dtype {inter[column].dtype}")
    for column in ("userID", "itemID"):
        if inter[column].min() < 0:
            raise ValueError(f"column {column!r} holds negative ids (min {inter[column].min()})")
    bad_labels = sorted(set(inter["x_label"].unique().tolist()) - set(range(len(SPLITS))))
    if bad_labels:
        raise ValueError(f"column 'x_label' must hold 0 (train), 1 (valid) or 2 (test), "
                         f"found {bad_labels}")
    frames = {split: inter[inter["x_label"] == code].drop(columns="x_label").reset_index(drop=True)
              for code, split in enumerate(SPLITS)}
    dataset = Dataset(name=name, n_users=int(inter["userID"].max()) + 1,
                      n_items=int(inter["itemID"].max()) + 1,
                      features={m: _as_float32(m, features[m]) for m in sorted(features)}, **frames)
    dataset.validate()
    return dataset


def _as_float32(modality: str, feat: np.ndarray) -> np.ndarray:
    if not isinstance(feat, np.ndarray) or not (np.issubdtype(feat.dtype, np.floating)
                                                or np.issubdtype(feat.dtype, np.integer)):
        raise ValueError(f"features[{modality!r}] must be a numeric ndarray")
    return feat.astype(np.float32, copy=False)


def inter_from_dataset(dataset: Dataset) -> pd.DataFrame:
    """The MMRec interaction table of a dataset (splits stacked, labelled by `x_label`).

    Frames without `rating` or `timestamp` get DEFAULT_RATING / DEFAULT_TIMESTAMP.
    """
    dataset.validate()
    stacked = pd.concat([getattr(dataset, split).assign(x_label=code)
                         for code, split in enumerate(SPLITS)], ignore_index=True)
    defaults = {"rating": DEFAULT_RATING, "timestamp": DEFAULT_TIMESTAMP}
    stacked = stacked.assign(**{c: v for c, v in defaults.items() if c not in stacked.columns})
    extra = [c for c in stacked.columns if c not in INTER_COLUMNS]
    return stacked[[*INTER_COLUMNS[:-1], *extra, "x_label"]]


def _inter_file(folder: Path) -> Path:
    if not folder.is_dir():
        raise FileNotFoundError(f"MMRec folder {str(folder)!r} does not exist or is not a folder")
    found = sorted(folder.glob(f"*{INTER_SUFFIX}"))
    if not found:
        raise FileNotFoundError(f"no *{INTER_SUFFIX} file in MMRec folder {str(folder)!r}")
    if len(found) > 1:
        raise ValueError(f"several *{INTER_SUFFIX} files in MMRec folder {str(folder)!r}: "
                         f"{[p.name for p in found]}; keep exactly one")
    return found[0]


def _feature_files(folder: Path) -> dict[str, Path]:
    return {p.name[: -len(FEATURE_SUFFIX)]: p for p in sorted(folder.glob(f"*{FEATURE_SUFFIX}"))}


def _load_feature(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read feature file {str(path)!r}: {err}") from err


def load_mmrec(folder: str | os.PathLike) -> Dataset:
    """Load an MMRec-layout folder, keeping its split; the name is the .inter file's stem."""
    folder = Path(folder)
    inter_path = _inter_file(folder)
    inter = pd.read_csv(inter_path, sep="\t")
    features = {m: _load_feature(p) for m, p in _feature_files(folder).items()}
    try:
        return dataset_from_inter(inter_path.stem, inter, features)
    except ValueError as err:
        raise ValueError(f"{inter_path.parent}: {err}") from err


def save_mmrec(dataset: Dataset, folder: str | os.PathLike) -> Path:
    """Write `dataset` as an MMRec folder (created if needed) and return the folder.

    Refuses what `load_mmrec` could not read back as the same dataset: n_users or
    n_items other than max id + 1, or other .inter / _feat.npy files in the folder.
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset, got {type(dataset).__name__}")
    inter = inter_from_dataset(dataset)
    for attr, column in (("n_users", "userID"), ("n_items", "itemID")):
        if getattr(dataset, attr) != inter[column].max() + 1:
            raise ValueError(f"dataset.{attr}={getattr(dataset, attr)} is not max {column} + 1 "
                             f"({inter[column].max() + 1}); the MMRec layout cannot store it")
    for name in (dataset.name, *dataset.features):
        if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
            raise ValueError(f"{name!r} cannot be used as a file name in the MMRec layout")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ours = {f"{dataset.name}{INTER_SUFFIX}", *(f"{m}{FEATURE_SUFFIX}" for m in dataset.features)}
    strangers = [p.name for p in (*folder.glob(f"*{INTER_SUFFIX}"), *folder.glob(f"*{FEATURE_SUFFIX}"))
                 if p.name not in ours]
    if strangers:
        raise ValueError(f"folder {str(folder)!r} already holds other MMRec files {sorted(strangers)}")
    inter.to_csv(folder / f"{dataset.name}{INTER_SUFFIX}", sep="\t", index=False)
    for modality, feat in dataset.features.items():
        np.save(folder / f"{modality}{FEATURE_SUFFIX}", feat, allow_pickle=False)
    return folder
