"""Top-K metrics against hand-computed numbers, masking, buckets and the popularity baseline."""
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from rfkit.metrics import popularity_scores
from rfkit.data.dataset import Dataset
from rfkit.metrics import bucket_metrics, popularity_buckets, topk_metrics


def _csr(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    data = [(u, i) for u, items in enumerate(rows) for i in items]
    users, items = zip(*data)
    return sp.csr_matrix((np.ones(len(data)), (users, items)), shape=(len(rows), n_items))


@pytest.fixture
def hand_case():
    """5 users x 6 items. User 2 has no test item (not evaluated); user 3's best item is a
    training item and must be masked; user 4 has more test items than K=2."""
    scores = torch.tensor([[9, 8, 7, 6, 5, 4],
                           [0, 1, 2, 3, 4, 5],
                           [5, 4, 3, 2, 1, 0],
                           [1, 3, 2, 0, 0.5, 10],
                           [3, 2, 0, 1, -1, -2]], dtype=torch.float32)
    train = _csr([[0], [], [1, 2], [5], []], 6)
    test = _csr([[1, 3], [5], [], [0, 4], [0, 1, 2]], 6)
    return scores, train, test


def test_topk_metrics_match_hand_computation(hand_case):
    # Top 3 after masking: u0 -> 1,2,3 (hits 1,0,1); u1 -> 5,4,3 (1,0,0); u3 -> 1,2,0 (0,0,1);
    # u4 -> 0,1,3 (1,1,0). The ideal DCG and MAP's normaliser use min(|test|, K) hits.
    idcg2 = 1 + 1 / math.log2(3)
    idcg3 = idcg2 + 1 / math.log2(4)
    expected = {
        "recall@2": (1 / 2 + 1 + 0 + 2 / 3) / 4,
        "precision@2": (1 / 2 + 1 / 2 + 0 + 1) / 4,
        "ndcg@2": (1 / idcg2 + 1 + 0 + 1) / 4,
        "map@2": (1 / 2 + 1 + 0 + 1) / 4,
        "recall@3": (1 + 1 + 1 / 2 + 2 / 3) / 4,
        "precision@3": (2 / 3 + 1 / 3 + 1 / 3 + 2 / 3) / 4,
        "ndcg@3": ((1 + 1 / math.log2(4)) / idcg2 + 1 + (1 / math.log2(4)) / idcg2
                   + idcg2 / idcg3) / 4,
        "map@3": ((1 + 2 / 3) / 2 + 1 + (1 / 3) / 2 + 2 / 3) / 4,
    }
    got = topk_metrics(*hand_case, ks=(2, 3))
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_training_items_are_masked(hand_case):
    scores, train, test = hand_case
    # Put each evaluated user's training items at the very top: masking must make no difference.
    boosted = scores.clone()
    boosted[torch.from_numpy(train.toarray() > 0)] = 100.0
    assert topk_metrics(boosted, train, test, ks=(2, 3)) == topk_metrics(scores, train, test,
                                                                          ks=(2, 3))
    # Without a mask user 3's top item (5) would be a miss; with test = train it must never hit.
    assert topk_metrics(scores, train, train, ks=(3,))["recall@3"] == 0.0


def test_chunking_does_not_change_results():
    rng = np.random.default_rng(0)
    train = sp.random(37, 50, density=0.2, format="csr", random_state=1)
    test = sp.random(37, 50, density=0.1, format="csr", random_state=2)
    scores = torch.from_numpy(rng.normal(size=(37, 50)))
    assert topk_metrics(scores, train, test, chunk_size=1) == topk_metrics(scores, train, test,
                                                                           chunk_size=1000)


def test_perfect_scores_give_ones():
    test = _csr([[0, 1], [2], [3, 4, 5]], 8)
    train = _csr([[6], [7], []], 8)
    metrics = topk_metrics(torch.from_numpy(test.toarray()), train, test, ks=(3,))
    assert metrics["recall@3"] == metrics["ndcg@3"] == metrics["map@3"] == 1.0
    assert metrics["precision@3"] == pytest.approx((2 / 3 + 1 / 3 + 1) / 3)


@pytest.mark.parametrize("bad, message", [
    (dict(scores=torch.zeros(5, 5)), "train has shape"),
    (dict(scores=torch.zeros(4)), "scores must be 2-D"),
    (dict(scores=torch.full((5, 6), float("nan"))), "NaN"),
    (dict(ks=(7,)), "n_items"),
    (dict(ks=(0,)), "ks must be"),
    (dict(test=np.zeros((5, 6))), "test must be a scipy sparse"),
])
def test_bad_input_is_rejected(hand_case, bad, message):
    scores, train, test = hand_case
    kwargs = dict(scores=scores, train=train, test=test, ks=(2,)) | bad
    with pytest.raises((ValueError, TypeError), match=message):
        topk_metrics(**kwargs)


def test_popularity_buckets_cut_by_degree():
    popularity = np.array([5, 1, 3, 0, 2, 4, 9, 7, 6, 8])
    labels = popularity_buckets(popularity)
    assert set(np.flatnonzero(labels == "head")) == {6, 9}
    assert set(np.flatnonzero(labels == "mid")) == {7, 8, 0}
    assert set(np.flatnonzero(labels == "tail")) == {5, 2, 4, 1, 3}
    with pytest.raises(ValueError, match="sum to 1"):
        popularity_buckets(popularity, (("a", 0.5), ("b", 0.4)))


def test_bucket_metrics_add_up_to_overall():
    rng = np.random.default_rng(3)
    train = sp.random(60, 40, density=0.15, format="csr", random_state=4)
    test = sp.random(60, 40, density=0.08, format="csr", random_state=5)
    test = test - test.multiply(train > 0)
    test.eliminate_zeros()
    scores = torch.from_numpy(rng.normal(size=(60, 40)))
    popularity = np.asarray((train > 0).sum(axis=0)).ravel()
    table = bucket_metrics(scores, train, test, popularity, ks=(5, 10))
    overall = topk_metrics(scores, train, test, ks=(5, 10))
    n_users = int((test.getnnz(axis=1) > 0).sum())
    assert list(table.index) == ["head", "mid", "tail"]
    assert table["n_items"].sum() == 40
    for k in (5, 10):
        hits = (table[f"precision@{k}"] * table["n_users"]).sum()
        assert hits == pytest.approx(overall[f"precision@{k}"] * n_users)
    # A bucket's metrics are the overall metrics on that bucket's test items only.
    tail = np.flatnonzero(popularity_buckets(popularity) == "tail")
    tail_test = sp.csr_matrix(test.toarray() * np.isin(np.arange(40), tail))
    assert table.loc["tail", "recall@10"] == pytest.approx(
        topk_metrics(scores, train, tail_test, ks=(10,))["recall@10"])


def test_bucket_metrics_check_popularity_shape(hand_case):
    with pytest.raises(ValueError, match="item_popularity"):
        bucket_metrics(*hand_case, item_popularity=np.ones(5), ks=(2,))


def test_popularity_scores_rank_by_training_degree():
    train = pd.DataFrame({"userID": [0, 0, 1, 2, 2], "itemID": [1, 2, 2, 2, 0]})
    empty = pd.DataFrame({"userID": [0], "itemID": [3]})
    dataset = Dataset("toy", 3, 4, train, empty, empty)
    scores = popularity_scores(dataset)
    assert scores.shape == (3, 4)
    assert torch.equal(scores[1], torch.tensor([1.0, 1.0, 3.0, 0.0]))


def test_scores_on_device_rank_like_the_cpu(device):
    """Masking and top-K run on the scores' device, in chunks; the result is the CPU's."""
    rng = np.random.default_rng(6)
    train = sp.random(70, 45, density=0.2, format="csr", random_state=7)
    test = sp.random(70, 45, density=0.1, format="csr", random_state=8)
    test = test - test.multiply(train > 0)
    test.eliminate_zeros()
    scores = torch.from_numpy(rng.normal(size=(70, 45)).astype(np.float32))
    on_device = scores.to(device)
    expected = topk_metrics(scores, train, test, ks=(5, 10))
    assert expected["recall@10"] > 0
    assert topk_metrics(on_device, train, test, ks=(5, 10), chunk_size=16) == expected
    popularity = np.asarray((train > 0).sum(axis=0)).ravel()
    pd.testing.assert_frame_equal(bucket_metrics(on_device, train, test, popularity, ks=(5,)),
                                  bucket_metrics(scores, train, test, popularity, ks=(5,)))
