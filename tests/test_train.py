"""The trainer on real tiny data: models beat popularity, seeding, early stopping, RF warmup,
divergence."""
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from rfkit.metrics import popularity_scores
from rfkit.metrics import topk_metrics
from rfkit.models import LightGCN, MultimodalGCN, bipartite_adjacency
from rfkit.train import TrainingDiverged, sample_negatives, train

# The spec's example YAML ratios (0.1 train, 0.2 inference), with a small net for speed.
RF = {"use_rf": True, "rf_hidden_dim": 64, "rf_sampling_steps": 3, "rf_mix_ratio": 0.1,
      "rf_inference_mix_ratio": 0.2}
FAST = {"progress": False, "batch_size": 512}
TIMING = ["seconds", "eval_seconds", "rf_seconds"]


@pytest.fixture(scope="module")
def popularity_recall(tiny):
    return topk_metrics(popularity_scores(tiny), tiny.matrix("train"),
                        tiny.matrix("test"))["recall@20"]


def _lightgcn(dataset):
    return LightGCN(dataset.n_users, dataset.n_items, bipartite_adjacency(dataset.matrix("train")),
                    embedding_dim=32, seed=0)


@pytest.mark.parametrize("build, lr", [
    pytest.param(lambda d: _lightgcn(d), 0.02, id="lightgcn"),
    pytest.param(lambda d: MultimodalGCN({"embedding_dim": 32}, d), 0.01, id="multimodal"),
    pytest.param(lambda d: MultimodalGCN({"embedding_dim": 32} | RF, d), 0.01,
                 id="multimodal+rf"),
])
def test_models_beat_popularity(tiny, popularity_recall, build, lr):
    result = train(build(tiny), tiny, epochs=20, lr=lr, **FAST)
    assert result.test_at_best["recall@20"] > popularity_recall + 0.03
    history = result.history
    assert history["bpr_loss"].iloc[-1] < history["bpr_loss"].iloc[0]
    assert result.best_valid["recall@20"] == history["valid_recall@20"].max()
    assert result.epochs_run == len(history) and (history["rf_skipped_steps"] == 0).all()
    # The returned model carries the best-validation weights.
    restored = topk_metrics(result.model.score_all(), tiny.matrix("train"), tiny.matrix("valid"))
    assert restored == result.best_valid


def test_same_seed_same_history(tiny):
    def run(seed):
        model = MultimodalGCN({"embedding_dim": 16} | RF, tiny)
        return train(model, tiny, epochs=2, seed=seed, **FAST).history.drop(columns=TIMING)

    first = run(0)
    assert first["rf_loss"].notna().all() and first["cl_loss"].notna().all()
    assert first.equals(run(0))
    assert not first["bpr_loss"].equals(run(1)["bpr_loss"])


def test_rf_during_warmup_leaves_training_unchanged(tiny):
    """With warmup longer than training, the RF model trains and scores like the plain one."""
    plain = train(MultimodalGCN({"embedding_dim": 16}, tiny), tiny, epochs=2, **FAST)
    warm = train(MultimodalGCN({"embedding_dim": 16, "rf_warmup_epochs": 10} | RF, tiny), tiny,
                 epochs=2, **FAST)
    assert torch.equal(plain.model.score_all(), warm.model.score_all())
    assert torch.equal(warm.model.score_all(), warm.model.score_all(inference_mix_ratio=0.0))
    assert plain.history["bpr_loss"].equals(warm.history["bpr_loss"])
    assert plain.history["rf_loss"].isna().all() and (warm.history["rf_seconds"] > 0).all()


def test_trainer_sets_generator_epoch(tiny, monkeypatch):
    model = MultimodalGCN({"embedding_dim": 16} | RF, tiny)
    seen = []
    monkeypatch.setattr(model.rf_generator, "set_epoch", seen.append)
    train(model, tiny, epochs=3, **FAST)
    assert seen == [0, 1, 2]


def test_early_stopping_and_eval_every(tiny):
    # A vanishing learning rate leaves validation flat, so no evaluation after the first improves.
    flat = train(_lightgcn(tiny), tiny, epochs=20, lr=1e-30, patience=2, **FAST)
    assert list(flat.history["epoch"]) == [0, 1, 2] and flat.best_epoch == 0
    sparse = train(_lightgcn(tiny), tiny, epochs=5, eval_every=2, **FAST)
    evaluated = sparse.history["valid_recall@20"].notna().tolist()
    assert evaluated == [False, True, False, True, True]  # the last epoch is always evaluated


@pytest.mark.parametrize("bad, message", [
    ({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"), ({"stop_metric": "auc"}, "stop_metric"),
    ({"patience": 1.5}, "patience"),
])
def test_bad_arguments_are_rejected(tiny, bad, message):
    with pytest.raises(ValueError, match=message):
        train(_lightgcn(tiny), tiny, **FAST | bad)


def test_negatives_avoid_training_items():
    train_matrix = sp.csr_matrix(np.array([[1, 1, 1, 0], [0, 1, 0, 1], [1, 1, 1, 0]]))
    users = np.repeat(np.arange(3), 200)
    negatives = sample_negatives(train_matrix, users, np.random.default_rng(0))
    assert not train_matrix[users, negatives].any()
    assert set(negatives[users == 1]) == {0, 2}
    again = sample_negatives(train_matrix, users, np.random.default_rng(0))
    assert np.array_equal(negatives, again)
    with pytest.raises(ValueError, match="every item"):
        sample_negatives(sp.csr_matrix(np.ones((2, 3))), np.array([0, 1]),
                         np.random.default_rng(0))


def _assert_restored_to_best(result, dataset) -> None:
    """The model scores as it did at the best validated epoch, recorded in the history."""
    restored = topk_metrics(result.model.score_all(), dataset.matrix("train"), dataset.matrix("valid"))
    assert restored == result.best_valid
    best_row = result.history.set_index("epoch").loc[result.best_epoch]
    assert best_row["valid_recall@20"] == result.best_valid["recall@20"]


def test_host_divergence_restores_the_best_model_and_keeps_the_history(tiny):
    # Adam moves each weight by about lr per step, so a LightGCN's loss grows like lr^2 with the
    # epochs; at this rate the L2 term overflows to inf after an epoch or more.
    model = _lightgcn(tiny)
    with pytest.raises(TrainingDiverged, match=r"epoch \d+, batch \d+: the host loss is inf, the host "
                                               r"learning rate 2.5e\+16 is likely too high") as info:
        train(model, tiny, epochs=20, lr=2.5e16, patience=20, **FAST)
    error = info.value
    result = error.result
    assert isinstance(error, RuntimeError) and error.batch is not None and "learning rate" in error.reason
    assert error.epoch >= 1 and result.epochs_run == error.epoch  # every completed epoch is kept
    assert list(result.history["epoch"]) == list(range(error.epoch))
    assert result.history["bpr_loss"].map(math.isfinite).all()
    assert result.model is model and result.best_epoch == result.history["valid_recall@20"].idxmax()
    _assert_restored_to_best(result, tiny)


def test_divergence_before_any_evaluation_says_nothing_was_restored(tiny):
    with pytest.raises(TrainingDiverged, match="No epoch had been evaluated") as info:
        train(_lightgcn(tiny), tiny, epochs=3, lr=1e18, **FAST)
    result = info.value.result
    assert info.value.epoch == 0 and result.epochs_run == 0
    assert (result.best_epoch, result.best_valid, result.test_at_best) == (None, None, None)


def test_generator_failure_inside_an_epoch_stops_with_its_reason(tiny):
    """rf_lr 1e6: the generator skips its non-finite steps, then gives up; the trainer names the
    epoch and batch, keeps the RF loss of the good steps, and restores the best model."""
    config = {"embedding_dim": 16, "rf_lr": 1e6, "rf_warmup_epochs": 1} | RF
    model = MultimodalGCN(config, tiny)
    with pytest.warns(RuntimeWarning, match="skipped a step"), \
            pytest.raises(TrainingDiverged, match=r"epoch 1, batch \d+: RuntimeError: RF generator "
                                                  r"diverged.*lower rf_lr") as info:
        train(model, tiny, epochs=5, lr=0.01, **FAST)
    error = info.value
    assert isinstance(error.__cause__, RuntimeError) and "1e+06" in error.reason
    history = error.result.history
    assert error.result.epochs_run == 1 and error.result.best_epoch == 0
    assert history.loc[0, "rf_skipped_steps"] > 0 and math.isfinite(history.loc[0, "rf_loss"])
    assert all(torch.isfinite(p).all() for p in model.parameters())
    _assert_restored_to_best(error.result, tiny)


def test_training_on_device_agrees_with_cpu(tiny, device):
    """Same batches on every device: the backbone's losses and test metrics match the CPU's; RF
    (whose noise comes from the device's own RNG) trains there and keeps its scores there."""
    def run(where, config):
        model = MultimodalGCN({"embedding_dim": 16, "device": where} | config, tiny)
        return train(model, tiny, epochs=3, **FAST)

    cpu, on_device = run("cpu", {}), run(device, {})
    np.testing.assert_allclose(on_device.history["bpr_loss"], cpu.history["bpr_loss"], rtol=1e-3)
    for name, value in cpu.test_at_best.items():
        assert abs(on_device.test_at_best[name] - value) <= 0.005, name
    with_rf = run(device, RF | {"rf_warmup_epochs": 1})
    assert with_rf.history["rf_loss"].notna().all()
    assert with_rf.model.score_all().device.type == torch.device(device).type
    assert with_rf.test_at_best["recall@20"] > 0


def test_a_never_mixing_generator_stays_off_the_hosts_random_stream(tiny):
    # The generator draws its noise, times and rows from torch's stream; the host samples with
    # numpy. So a host beside a generator that never mixes in training (rf_mix_ratio 0, as
    # GenMMRec's current integration) trains exactly as the backbone: scored at inference ratio 0
    # it is the backbone, epoch for epoch; scored with RF mixed in, only its scores move.
    never_mixing = {**RF, "rf_mix_ratio": 0.0, "rf_warmup_epochs": 1}
    options = {**FAST, "epochs": 4, "patience": 4, "seed": 3}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as every job runs: a parallel sparse product may sum in another order
    try:
        backbone = train(MultimodalGCN({"seed": 3}, tiny), tiny, **options)
        unmixed = train(MultimodalGCN({**never_mixing, "rf_inference_mix_ratio": 0.0, "seed": 3}, tiny), tiny,
                        **options)
        mixed = train(MultimodalGCN({**never_mixing, "rf_inference_mix_ratio": 0.05, "seed": 3}, tiny), tiny,
                      **options)
    finally:
        torch.set_num_threads(threads)
    compared = [c for c in backbone.history.columns if c.startswith(("bpr_", "valid_", "test_"))]
    assert unmixed.history[compared].equals(backbone.history[compared])
    assert mixed.history["bpr_loss"].equals(backbone.history["bpr_loss"])
    assert not mixed.history["valid_ndcg@20"].iloc[1:].equals(backbone.history["valid_ndcg@20"].iloc[1:])
    assert mixed.model.rf_steps_taken > 0
