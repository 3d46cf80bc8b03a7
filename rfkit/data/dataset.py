"""The in-memory dataset every other layer consumes."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

SPLITS = ("train", "valid", "test")


@dataclass
class Dataset:
    """Implicit feedback with item modality features, ids already dense (0..n-1).

    `train`, `valid`, `test` are DataFrames with integer columns `userID`, `itemID`;
    `features` maps a modality name to a float32 array with one row per item.
    `cold_items` (cold-start datasets only, see `cold_start`) is the sorted int64 array of the
    items that have no training interaction by construction.
    """

    name: str
    n_users: int
    n_items: int
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    features: dict[str, np.ndarray] = field(default_factory=dict)
    cold_items: np.ndarray | None = None

    def matrix(self, split: str = "train") -> sp.csr_matrix:
        """Binary user x item CSR matrix of one split."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        df = getattr(self, split)
        values = np.ones(len(df), dtype=np.float32)
        m = sp.csr_matrix((values, (df["userID"].to_numpy(), df["itemID"].to_numpy())),
                          shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    def item_popularity(self) -> np.ndarray:
        """Training degree of every item (the long-tail axis)."""
        return np.bincount(self.train["itemID"].to_numpy(), minlength=self.n_items)

    def validate(self) -> None:
        """Raise ValueError/TypeError unless every field obeys the contract above.

        Loaders and writers call this so a broken dataset fails where it is made,
        not deep inside a model.
        """
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        for attr in ("n_users", "n_items"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{attr} must be a positive integer, got {value!r}")
        for split in SPLITS:
            df = getattr(self, split)
            if not isinstance(df, pd.DataFrame):
                raise TypeError(f"{split} must be a pandas DataFrame, got {type(df).__name__}")
            for column, limit in (("userID", self.n_users), ("itemID", self.n_items)):
                if column not in df.columns:
                    raise ValueError(f"{split} lacks the column {column!r}")
                ids = df[column]
                if not pd.api.types.is_integer_dtype(ids):
                    raise ValueError(f"{split}.{column} must hold integers, got dtype {ids.dtype}")
                if len(ids) and (ids.min() < 0 or ids.max() >= limit):
                    raise ValueError(f"{split}.{column} must lie in [0, {limit}), "
                                     f"got values in [{ids.min()}, {ids.max()}]")
        for modality, feat in self.features.items():
            if not isinstance(modality, str) or not modality:
                raise ValueError(f"feature modality names must be non-empty strings, got {modality!r}")
            if not isinstance(feat, np.ndarray) or feat.dtype != np.float32 or feat.ndim != 2:
                raise ValueError(f"features[{modality!r}] must be a 2-D float32 ndarray")
            if feat.shape[0] != self.n_items:
                raise ValueError(f"features[{modality!r}] has {feat.shape[0]} rows, "
                                 f"expected n_items={self.n_items}")
            if not np.isfinite(feat).all():
                raise ValueError(f"features[{modality!r}] contains NaN or Inf")
        if self.cold_items is not None:
            self._validate_cold_items()

    def _validate_cold_items(self) -> None:
        cold = self.cold_items
        if not isinstance(cold, np.ndarray) or cold.ndim != 1 or cold.dtype != np.int64:
            raise ValueError("cold_items must be a 1-D int64 ndarray")
        if len(cold) and (cold[0] < 0 or cold[-1] >= self.n_items or (np.diff(cold) <= 0).any()):
            raise ValueError(f"cold_items must be strictly increasing ids in [0, {self.n_items})")
        in_train = np.intersect1d(cold, self.train["itemID"].to_numpy())
        if len(in_train):
            raise ValueError(f"cold_items {in_train[:5].tolist()} have training interactions")

    def summary(self) -> dict:
        n = len(self.train) + len(self.valid) + len(self.test)
        return {
            "name": self.name, "users": self.n_users, "items": self.n_items,
            "interactions": n, "density": n / (self.n_users * self.n_items),
            "modalities": {k: v.shape[1] for k, v in self.features.items()},
        }
