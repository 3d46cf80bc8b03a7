"""Tests of the data layer: protocol steps, MovieLens, synthetic generator, MMRec folders."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rfkit.data import SPLITS, Dataset, load, make_synthetic, save_mmrec
from rfkit.data.movielens import CORE, TEXT_DIM, default_cache_dir
from rfkit.data.split import densify_ids, eval_size, kcore, split_per_user


def all_interactions(ds: Dataset) -> pd.DataFrame:
    return pd.concat([getattr(ds, s).assign(split=s) for s in SPLITS], ignore_index=True)


def assert_same_dataset(a: Dataset, b: Dataset) -> None:
    assert (a.name, a.n_users, a.n_items) == (b.name, b.n_users, b.n_items)
    for split in SPLITS:
        pd.testing.assert_frame_equal(getattr(a, split), getattr(b, split))
    assert list(a.features) == list(b.features)  # order matters: models concatenate them
    for m in a.features:
        assert a.features[m].dtype == b.features[m].dtype == np.float32
        np.testing.assert_array_equal(a.features[m], b.features[m])


def top_bottom_shares(ds: Dataset) -> tuple[float, float]:
    """Share of interactions held by the top 20% and by the bottom 50% of items."""
    degree = np.sort(np.bincount(all_interactions(ds)["itemID"], minlength=ds.n_items))[::-1]
    n = len(degree)
    return degree[: n // 5].sum() / degree.sum(), degree[n - n // 2:].sum() / degree.sum()


def heldout_r2(features: np.ndarray, target: np.ndarray) -> float:
    """R^2 of a least-squares map features -> target, fitted on even rows, scored on odd."""
    x = np.hstack([features, np.ones((len(features), 1))]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(x[::2], target[::2], rcond=None)
    residual = target[1::2] - x[1::2] @ coef
    return 1 - (residual ** 2).sum() / ((target[1::2] - target[1::2].mean(0)) ** 2).sum()


# --- protocol steps -----------------------------------------------------------------

def test_kcore_cascades_until_stable():
    # item 9 has one interaction; dropping it leaves user 1 with one, so user 1 goes too,
    # which leaves item 2 with one interaction, so it goes as well.
    inter = pd.DataFrame({"userID": [0, 0, 0, 1, 1, 2, 2, 2],
                          "itemID": [0, 1, 2, 2, 9, 0, 1, 3]})
    core = kcore(inter, 2)
    assert sorted(zip(core.userID, core.itemID)) == [(0, 0), (0, 1), (2, 0), (2, 1)]
    with pytest.raises(ValueError, match="empty"):
        kcore(inter, 5)
    with pytest.raises(ValueError, match="k must"):
        kcore(inter, 0)


def test_densify_ids_keeps_sorted_order_and_mapping():
    inter = pd.DataFrame({"userID": [30, 10, 30], "itemID": [7, 5, 100]})
    dense, users, items = densify_ids(inter)
    assert dense.userID.tolist() == [1, 0, 1] and dense.itemID.tolist() == [1, 0, 2]
    assert users.tolist() == [10, 30] and items.tolist() == [5, 7, 100]


def test_eval_size_rounding_rule():
    # round-half-up(n/10), at least 1: users under 15 interactions keep all but 2 for train
    assert eval_size(np.array([3, 9, 10, 14, 15, 24, 25, 100])).tolist() == [1, 1, 1, 1, 2, 2, 3, 10]


def test_split_per_user_sizes_and_row_order_independence():
    inter = pd.DataFrame({"userID": np.repeat([0, 1, 2], [3, 12, 25]),
                          "itemID": np.concatenate([np.arange(3), np.arange(12), np.arange(25)])})
    labelled = split_per_user(inter, seed=3)
    counts = labelled.groupby(["userID", "x_label"]).size().unstack().to_numpy()
    np.testing.assert_array_equal(counts, [[1, 1, 1], [10, 1, 1], [19, 3, 3]])
    shuffled = inter.sample(frac=1, random_state=1)
    pd.testing.assert_frame_equal(split_per_user(shuffled, seed=3), labelled)
    assert not split_per_user(inter, seed=4).equals(labelled)
    with pytest.raises(ValueError, match="at least 3"):
        split_per_user(inter.iloc[:2], seed=0)
    with pytest.raises(ValueError, match="seed"):
        split_per_user(inter, seed=-1)


# --- MovieLens ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def movielens_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return cache, load("movielens", seed=0, cache_dir=cache)


def test_movielens_shape_relations(movielens_cache):
    _, ds = movielens_cache
    inter = all_interactions(ds)
    assert ds.n_users == inter.userID.nunique() == inter.userID.max() + 1
    assert ds.n_items == inter.itemID.nunique() == inter.itemID.max() + 1
    assert 500 < ds.n_users <= 671 and 2000 < ds.n_items < 9066
    assert inter.groupby("userID").size().min() >= CORE
    assert inter.groupby("itemID").size().min() >= CORE
    assert not inter.duplicated(["userID", "itemID"]).any()  # splits disjoint per user
    for split in ("valid", "test"):
        assert getattr(ds, split).userID.nunique() == ds.n_users
    shares = np.array([len(getattr(ds, s)) for s in SPLITS]) / len(inter)
    np.testing.assert_allclose(shares, [0.8, 0.1, 0.1], atol=0.01)
    assert set(ds.features) == {"text", "meta"} and ds.features["text"].shape[1] == TEXT_DIM
    for feat in ds.features.values():
        assert feat.dtype == np.float32 and feat.shape[0] == ds.n_items and np.isfinite(feat).all()
    genres = ds.features["meta"][:, :19]
    assert set(np.unique(genres)) == {0.0, 1.0} and (genres.sum(1) >= 1).mean() > 0.99


def test_movielens_cache_hit_equals_fresh_build(movielens_cache):
    cache, fresh = movielens_cache
    folders = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(folders) == 1 and (folders[0] / "movielens.inter").is_file()
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no scratch left over
    assert_same_dataset(load("movielens", seed=0, cache_dir=cache), fresh)


def test_movielens_other_seed_other_split_same_items(movielens_cache):
    cache, ds0 = movielens_cache
    ds1 = load("movielens", seed=1, cache_dir=cache)
    assert (ds1.n_users, ds1.n_items) == (ds0.n_users, ds0.n_items)
    np.testing.assert_array_equal(ds1.features["text"], ds0.features["text"])
    pd.testing.assert_frame_equal(all_interactions(ds1).drop(columns="split")
                                  .sort_values(["userID", "itemID"], ignore_index=True),
                                  all_interactions(ds0).drop(columns="split")
                                  .sort_values(["userID", "itemID"], ignore_index=True))
    assert not ds1.test.equals(ds0.test)


def test_default_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.delenv("RFKIT_DATA_DIR", raising=False)
    assert default_cache_dir().parts[-2:] == ("data", "processed")
    monkeypatch.setenv("RFKIT_DATA_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path


# --- synthetic ----------------------------------------------------------------------

def test_synthetic_tiny_sizes_and_determinism():
    ds = load("synthetic", preset="tiny")
    assert ds.n_users == 200 and 120 <= ds.n_items <= 150
    assert 15 < len(all_interactions(ds)) / ds.n_users < 25
    assert set(ds.features) == {"image", "text"}
    assert_same_dataset(load("synthetic", preset="tiny"), ds)
    assert not load("synthetic", preset="tiny", seed=1).train.equals(ds.train)
    assert load("synthetic", preset="tiny", n_users=50).n_users == 50  # kwargs beat the preset


def test_synthetic_popularity_long_tail_grows_with_skew():
    top, bottom = top_bottom_shares(load("synthetic", preset="tiny"))
    assert top > 1.5 * bottom
    flat_top, flat_bottom = top_bottom_shares(load("synthetic", preset="tiny", popularity_skew=0.0))
    steep_top, _ = top_bottom_shares(load("synthetic", preset="tiny", popularity_skew=2.0))
    assert flat_top < top < steep_top and flat_bottom > bottom


def test_synthetic_informativeness_controls_linear_predictivity():
    # many items per feature column, so the held-out R^2 of pure noise is close to 0
    data = make_synthetic("tiny", n_users=400, n_items=1000, dim=8, feature_dim=8,
                          interactions_per_user=60, popularity_skew=0.0,
                          informativeness={"clean": 1.0, "half": 0.5, "noise": 0.0})
    r2 = {m: heldout_r2(f, data.item_factors) for m, f in data.dataset.features.items()}
    assert r2["clean"] > 0.99
    assert abs(r2["noise"]) < 0.05
    assert r2["clean"] > r2["half"] + 0.1 and r2["half"] > r2["noise"] + 0.3
    assert data.user_factors.shape == (data.dataset.n_users, data.config.dim)


@pytest.mark.parametrize("options, match", [
    ({"informativeness": {"image": 1.5}}, "image"),
    ({"informativeness": {"text": -0.1}}, "text"),
    ({"preset": "huge"}, "huge"),
    ({"n_users": 0}, "n_users"),
    ({"popularity_skew": float("nan")}, "popularity_skew"),
    ({"interactions_per_user": 500}, "interactions_per_user"),
    ({"colour": 1}, "colour"),
])
def test_synthetic_rejects_bad_knobs(options, match):
    with pytest.raises(ValueError, match=match):
        load("synthetic", **options)


# --- MMRec folders ------------------------------------------------------------------

def test_mmrec_round_trip(tmp_path):
    ds = load("synthetic", preset="tiny")
    save_mmrec(ds, tmp_path / "tiny")
    assert sorted(p.name for p in (tmp_path / "tiny").iterdir()) == [
        "image_feat.npy", "synthetic_tiny.inter", "text_feat.npy"]
    assert_same_dataset(load(tmp_path / "tiny"), ds)


def write_folder(folder, inter: pd.DataFrame, features: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    inter.to_csv(folder / "toy.inter", sep="\t", index=False)
    for m, f in features.items():
        np.save(folder / f"{m}_feat.npy", f)


TOY = pd.DataFrame({"userID": [0, 0, 0, 1, 1, 1], "itemID": [0, 1, 2, 2, 1, 3],
                    "rating": [5.0, 4.0, 3.0, 5.0, 1.0, 2.0], "timestamp": [1, 2, 3, 4, 5, 6],
                    "x_label": [0, 1, 2, 2, 0, 1]})


def test_mmrec_load_respects_x_label(tmp_path):
    write_folder(tmp_path, TOY, {"image": np.arange(8, dtype=np.float64).reshape(4, 2)})
    ds = load(str(tmp_path))
    assert (ds.name, ds.n_users, ds.n_items) == ("toy", 2, 4)
    assert list(zip(ds.train.userID, ds.train.itemID)) == [(0, 0), (1, 1)]
    assert list(zip(ds.valid.userID, ds.valid.itemID)) == [(0, 1), (1, 3)]
    assert list(zip(ds.test.userID, ds.test.itemID)) == [(0, 2), (1, 2)]
    assert ds.train.columns.tolist() == ["userID", "itemID", "rating", "timestamp"]
    assert ds.features["image"].dtype == np.float32 and ds.features["image"][3].tolist() == [6, 7]


@pytest.mark.parametrize("inter, features, error, match", [
    (TOY.drop(columns=["x_label", "rating"]), {}, ValueError, r"\['rating', 'x_label'\]"),
    (TOY.assign(userID=[0, 0, 0, -1, 1, 1]), {}, ValueError, "userID.*negative"),
    (TOY.assign(itemID=[0.0, 1, 2, 2, 1, 3]), {}, ValueError, "itemID.*integers"),
    (TOY.assign(x_label=[0, 1, 2, 3, 0, 1]), {}, ValueError, r"x_label.*\[3\]"),
    (TOY, {"image": np.zeros((3, 2))}, ValueError, "image.*3 rows.*n_items=4"),
    (TOY, {"text": np.array([[0.0], [np.nan], [1], [2]])}, ValueError, "text.*NaN"),
    (TOY, {"text": np.array([["a"], ["b"], ["c"], ["d"]])}, ValueError, "text.*numeric"),
])
def test_mmrec_load_rejects_bad_folders(tmp_path, inter, features, error, match):
    write_folder(tmp_path, inter, features)
    with pytest.raises(error, match=match):
        load(tmp_path)


def test_mmrec_load_rejects_missing_or_ambiguous_inter(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"\.inter"):
        load(tmp_path)
    write_folder(tmp_path, TOY, {})
    (tmp_path / "other.inter").write_text((tmp_path / "toy.inter").read_text())
    with pytest.raises(ValueError, match="other.inter.*toy.inter"):
        load(tmp_path)


def test_save_mmrec_refuses_what_cannot_round_trip(tmp_path):
    ds = load("synthetic", preset="tiny")
    bigger = Dataset(ds.name, ds.n_users, ds.n_items + 1, ds.train, ds.valid, ds.test)
    with pytest.raises(ValueError, match="n_items"):
        save_mmrec(bigger, tmp_path / "a")
    write_folder(tmp_path / "b", TOY, {})
    with pytest.raises(ValueError, match="toy.inter"):
        save_mmrec(ds, tmp_path / "b")
    wrong_rows = Dataset(ds.name, ds.n_users, ds.n_items, ds.train, ds.valid, ds.test,
                         {"image": ds.features["image"][:-1]})
    with pytest.raises(ValueError, match="image.*rows"):
        save_mmrec(wrong_rows, tmp_path / "c")


def test_load_rejects_unknown_sources_and_options(tmp_path):
    with pytest.raises(ValueError, match="movielens.*synthetic.*path"):
        load("amazon-baby")
    with pytest.raises(ValueError, match=r"\['colour'\].*cache_dir"):
        load("movielens", colour=1)
    with pytest.raises(ValueError, match="no options"):
        load(tmp_path, seed=0)
    with pytest.raises(TypeError, match="source"):
        load(42)
