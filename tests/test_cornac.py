"""The kit against Cornac: the same scores give the same metrics, Cornac's references train on the
kit's split, and RF runs as a Cornac model inside `cornac.Experiment`."""
import subprocess
import sys

import cornac
import numpy as np
import pandas as pd
import pytest
import torch
from cornac.eval_methods.base_method import ranking_eval

from rfkit.data import cold_half, cold_start
from rfkit.experiments.references import REFERENCES, reference_runs, vbpr_cold_scores
from rfkit.integrations.cornac import RFRecommender, identity_map, item_features, score_matrix, train_set
from rfkit.metrics import cold_start_metrics, popularity_scores, split_metrics, topk_metrics


class FixedScores(cornac.models.Recommender):
    """A Cornac model that returns a given score matrix, to compare metric code alone."""

    def __init__(self, scores: np.ndarray, train: cornac.data.Dataset) -> None:
        super().__init__(name="fixed", verbose=False)
        self.matrix = scores
        self.fit(train)

    def score(self, user_idx, item_idx=None):
        row = self.matrix[user_idx]
        return row if item_idx is None else row[item_idx]


def cornac_split(frame: pd.DataFrame, n_users: int, n_items: int) -> cornac.data.Dataset:
    triples = list(zip(frame["userID"].tolist(), frame["itemID"].tolist(), [1.0] * len(frame)))
    return cornac.data.Dataset.build(triples, global_uid_map=identity_map(n_users),
                                     global_iid_map=identity_map(n_items))


def random_scores(n_users: int, n_items: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n_users, n_items))  # no ties


def test_identity_maps_keep_the_kits_ids(tiny):
    built = train_set(tiny)
    assert (built.num_users, built.num_items) == (tiny.n_users, tiny.n_items)
    assert (built.matrix != tiny.matrix("train")).nnz == 0
    assert built.item_image.features.shape == (tiny.n_items, sum(f.shape[1] for f in tiny.features.values()))


def test_item_features_are_standardized_on_the_given_items(tiny):
    items = np.arange(0, tiny.n_items, 2)
    features = item_features(tiny, items)
    np.testing.assert_allclose(features[items].mean(axis=0), 0, atol=1e-5)
    assert not np.allclose(features.mean(axis=0), 0, atol=1e-3)  # the other rows were not fitted


@pytest.mark.parametrize("split", ["valid", "test"])
def test_full_ranking_metrics_agree_with_cornac(tiny, split):
    scores = random_scores(tiny.n_users, tiny.n_items)
    train = cornac_split(tiny.train, tiny.n_users, tiny.n_items)
    held_out = cornac_split(getattr(tiny, split), tiny.n_users, tiny.n_items)
    (recall, ndcg), _ = ranking_eval(FixedScores(scores, train), [cornac.metrics.Recall(k=20), cornac.metrics.NDCG(k=20)],
                                     train, held_out)
    ours = topk_metrics(torch.from_numpy(scores), tiny.matrix("train"), tiny.matrix(split), (20,))
    assert ours["recall@20"] == pytest.approx(recall, abs=1e-12)
    assert ours["ndcg@20"] == pytest.approx(ndcg, abs=1e-12)


def test_cornac_with_a_validation_set_also_masks_validation_items(tiny):
    """The protocol difference: given val_set, Cornac ranks test without the validation items;
    the kit (like MMRec) masks training items only. Each equals the other's computation with the
    matching mask, and on these scores the two protocols differ."""
    scores = random_scores(tiny.n_users, tiny.n_items, seed=1)
    train, valid, test = (cornac_split(getattr(tiny, s), tiny.n_users, tiny.n_items) for s in ("train", "valid", "test"))
    (with_valid,), _ = ranking_eval(FixedScores(scores, train), [cornac.metrics.NDCG(k=20)], train, test, val_set=valid)
    masked = (tiny.matrix("train") + tiny.matrix("valid")).sign()
    kit_with_valid = topk_metrics(torch.from_numpy(scores), masked, tiny.matrix("test"), (20,))["ndcg@20"]
    kit_protocol = topk_metrics(torch.from_numpy(scores), tiny.matrix("train"), tiny.matrix("test"), (20,))["ndcg@20"]
    assert kit_with_valid == pytest.approx(with_valid, abs=1e-12)
    assert kit_protocol != pytest.approx(with_valid, abs=1e-6)


def test_cold_candidate_metrics_agree_with_cornac(tiny):
    """Cold items ranked among themselves: Cornac's `rank` over the candidate items and its
    Recall/NDCG, user by user, against `rfkit.metrics.cold_start_metrics`."""
    split = cold_start(tiny, 0.3, seed=0)
    scores = random_scores(split.n_users, split.n_items, seed=2)
    candidates = cold_half(split, "test")
    test = split.matrix("test")[:, candidates].tocsr()
    model = FixedScores(scores, cornac_split(split.train, split.n_users, split.n_items))
    recall, ndcg = cornac.metrics.Recall(k=20), cornac.metrics.NDCG(k=20)
    per_user = []
    for user in np.flatnonzero(test.getnnz(axis=1)):
        ranked, _ = model.rank(user, item_indices=candidates, k=20)
        relevant = candidates[test[user].indices]
        per_user.append((recall.compute(gt_pos=relevant, pd_rank=ranked), ndcg.compute(gt_pos=relevant, pd_rank=ranked)))
    ours = cold_start_metrics(torch.from_numpy(scores), split, "test", (20,))
    assert ours["cold_recall@20"] == pytest.approx(np.mean([r for r, _ in per_user]), abs=1e-12)
    assert ours["cold_ndcg@20"] == pytest.approx(np.mean([n for _, n in per_user]), abs=1e-12)


def test_score_matrix_of_most_pop_is_the_kits_popularity(tiny):
    model = cornac.models.MostPop()
    model.fit(train_set(tiny, features=False))
    scores = score_matrix(model, tiny.n_users)
    assert scores.shape == (tiny.n_users, tiny.n_items)
    assert torch.equal(scores, popularity_scores(tiny).float())


@pytest.mark.slow
def test_reference_runs_are_seeded_and_beat_popularity(tiny):
    runs = reference_runs(tiny, [0, 1], progress=False)
    assert list(runs["variant"].unique()) == list(REFERENCES)
    assert len(runs) == 2 * len(REFERENCES)
    again = reference_runs(tiny, [0], ["BPR", "VBPR"], progress=False)
    first = runs[runs["seed"] == 0].set_index("variant")
    for row in again.to_dict(orient="records"):  # a seed gives one result
        assert row["test_ndcg@20"] == first.loc[row["variant"], "test_ndcg@20"]
    deterministic = runs[~runs["stochastic"]].groupby("variant")["test_ndcg@20"].nunique()
    assert (deterministic == 1).all()
    assert runs.loc[runs["variant"] == "EASE", "chosen"].str.startswith("lamb=").all()
    pop = split_metrics(popularity_scores(tiny), tiny, (20,))["test_ndcg@20"]
    assert first.loc["MostPop", "test_ndcg@20"] == pytest.approx(pop)
    assert first.loc["EASE", "test_ndcg@20"] > pop


def test_an_unknown_reference_is_refused(tiny):
    with pytest.raises(ValueError, match="references must be among"):
        reference_runs(tiny, [0], ["ItemKNN"])


@pytest.mark.slow
def test_vbpr_cold_scores_apply_the_content_part_to_unseen_items(tiny):
    split = cold_start(tiny, 0.3, seed=0)
    scores = vbpr_cold_scores(split, seed=0)
    assert scores.shape == (split.n_users, split.n_items) and torch.isfinite(scores).all()
    cold = torch.from_numpy(split.cold_items)
    # two users with different theta rank the cold items differently: the part is personal
    assert not torch.equal(scores[0, cold].argsort(), scores[1, cold].argsort())
    assert 0 <= cold_start_metrics(scores, split, "test", (20,))["cold_recall@20"] <= 1


@pytest.mark.slow
def test_rf_recommender_runs_in_a_cornac_experiment(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Cornac's Experiment writes its log into the working folder
    data = [(str(u), str(i), 1.0) for u, i in zip(tiny.train["userID"], tiny.train["itemID"])]
    data += [(str(u), str(i), 1.0) for split in ("valid", "test")
             for u, i in zip(getattr(tiny, split)["userID"], getattr(tiny, split)["itemID"])]
    ids = [str(i) for i in range(tiny.n_items)]
    image = cornac.data.ImageModality(features=item_features(tiny), ids=ids)
    split = cornac.eval_methods.RatioSplit(data, test_size=0.2, val_size=0.1, seed=0, exclude_unknowns=False,
                                           item_image=image, verbose=False)
    rf = RFRecommender(epochs=4, patience=4, batch_size=256, overrides={"rf_warmup_epochs": 1})
    experiment = cornac.Experiment(split, [rf, cornac.models.MostPop()],
                                   [cornac.metrics.Recall(k=20), cornac.metrics.NDCG(k=20)], verbose=False)
    experiment.run()
    result = experiment.result
    assert [r.model_name for r in result] == ["RF-MultimodalGCN", "MostPop"]
    assert 0 < result[0].metric_avg_results["Recall@20"] <= 1
    assert rf.scores.shape == (split.total_users, split.total_items)
    assert rf.model.rf_steps_taken > 0
    assert len(list(tmp_path.glob("CornacExp-*.log"))) == 1


@pytest.mark.slow
def test_rf_recommender_scores_unseen_items_from_content(tiny):
    """An item with no training interaction gets RF's generation as its whole ID row: its score
    equals users . (generated + content), not the untrained ID row's."""
    split = cold_start(tiny, 0.3, seed=0)
    rf = RFRecommender(epochs=2, patience=2, batch_size=256, overrides={"rf_warmup_epochs": 0})
    rf.fit(train_set(split), train_set_like(split, "valid"))
    model, item = rf.model, int(split.cold_items[0])
    with torch.no_grad():
        model.eval()
        users, _ = model()
        row = item + model.n_users
        conditions = [c[row:row + 1] for c in model.modality_conditions()]
        generated = model.rf_generator.generate(conditions, start_noise=model.rf_start_noise[row:row + 1])
        expected = users @ (generated + torch.stack(conditions).mean(dim=0))[0]
    np.testing.assert_allclose(rf.scores[:, item], expected.numpy(), rtol=1e-5, atol=1e-6)
    assert rf.score(0, item) == pytest.approx(float(rf.scores[0, item]))


def train_set_like(dataset, split: str) -> cornac.data.Dataset:
    return cornac_split(getattr(dataset, split), dataset.n_users, dataset.n_items)


def test_rf_recommender_needs_a_validation_set_and_features(tiny):
    with pytest.raises(ValueError, match="needs a val_set"):
        RFRecommender().fit(train_set(tiny))
    with pytest.raises(ValueError, match="needs item features"):
        RFRecommender().fit(train_set(tiny, features=False), train_set_like(tiny, "valid"))
    with pytest.raises(ValueError, match="call fit first"):
        RFRecommender().score(0)


def test_without_cornac_the_import_error_names_the_extra():
    code = ("import sys; sys.modules['cornac'] = None\n"
            "try:\n    import rfkit.integrations.cornac\n"
            "except ImportError as error:\n    print(error)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "rfkit.integrations.cornac needs Cornac: pip install 'rfkit[cornac]'"
