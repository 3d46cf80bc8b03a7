"""Graph helpers on hand examples; LightGCN and MultimodalGCN, with the RF plug-in's contracts."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from rfkit.data import load
from rfkit.models import (LightGCN, MultimodalGCN, bipartite_adjacency, item_knn_graph,
                          user_item_mean)
from rfkit.models.losses import bpr_loss

SMALL_RF = {"use_rf": True, "embedding_dim": 16, "rf_hidden_dim": 32, "rf_sampling_steps": 3}


def _batch(dataset, n=64):
    train = dataset.train.iloc[:n]
    users = torch.tensor(train["userID"].to_numpy())
    pos = torch.tensor(train["itemID"].to_numpy())
    return users, pos, (pos + 1) % dataset.n_items


def test_bipartite_adjacency_is_symmetric_normalized():
    r = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32))
    # Degrees: users 2, 2; items 1, 2, 1. Entry (u, i) = 1 / sqrt(d_u * d_i).
    a, b, c = 1 / np.sqrt(2), 1 / 2, 1 / np.sqrt(2)
    expected = np.array([[0, 0, a, b, 0],
                         [0, 0, 0, b, c],
                         [a, 0, 0, 0, 0],
                         [b, b, 0, 0, 0],
                         [0, c, 0, 0, 0]], dtype=np.float32)
    np.testing.assert_allclose(bipartite_adjacency(r).to_dense().numpy(), expected, rtol=1e-6)


def test_bipartite_adjacency_leaves_isolated_nodes_at_zero():
    r = sp.csr_matrix(np.array([[1, 0], [0, 0]], dtype=np.float32))
    dense = bipartite_adjacency(r).to_dense()
    assert torch.isfinite(dense).all()
    assert dense[1].abs().sum() == 0 and dense[:, 3].abs().sum() == 0


def test_item_knn_graph_links_cosine_neighbours():
    features = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    # With k=2 (self included) items pair up {0, 1} and {2, 3}; every degree is 2.
    expected = np.kron(np.eye(2), np.full((2, 2), 0.5))
    np.testing.assert_allclose(item_knn_graph(features, 2).to_dense().numpy(), expected)


def test_item_knn_graph_symmetrizes_one_sided_choices():
    features = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    # Item 0 picks 1, item 1 picks 0 (cos .8 > .6), item 2 picks 1: edges 0-1 and 1-2.
    graph = item_knn_graph(features, 2).to_dense().numpy()
    degrees = np.array([2, 3, 2])  # including self loops
    adjacency = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]])
    np.testing.assert_allclose(graph, adjacency / np.sqrt(np.outer(degrees, degrees)), rtol=1e-6)


@pytest.mark.parametrize("k", [0, 5, 2.0])
def test_item_knn_graph_rejects_bad_k(k):
    with pytest.raises(ValueError, match="k must be"):
        item_knn_graph(np.eye(4, dtype=np.float32), k)


def test_user_item_mean_averages_items():
    r = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 0], [0, 0, 1]], dtype=np.float32))
    items = torch.tensor([[2.0], [4.0], [8.0]])
    users = torch.sparse.mm(user_item_mean(r), items)
    assert users.squeeze(1).tolist() == [3.0, 0.0, 8.0]


def test_lightgcn_propagates_layer_mean():
    r = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32))
    adj = bipartite_adjacency(r)
    model = LightGCN(2, 3, adj, embedding_dim=4, n_layers=1, seed=1)
    ego = torch.cat([model.user_embedding, model.item_embedding])
    expected = (ego + adj.to_dense() @ ego) / 2
    users, items = model()
    torch.testing.assert_close(torch.cat([users, items]), expected)
    torch.testing.assert_close(model.score_all(), expected[:2] @ expected[2:].T)


def test_lightgcn_seed_fixes_initialization_and_validates():
    adj = bipartite_adjacency(sp.csr_matrix(np.ones((2, 3), dtype=np.float32)))
    first, second = LightGCN(2, 3, adj, seed=5), LightGCN(2, 3, adj, seed=5)
    assert torch.equal(first.user_embedding, second.user_embedding)
    assert not torch.equal(first.item_embedding, LightGCN(2, 3, adj, seed=6).item_embedding)
    with pytest.raises(ValueError, match="adj"):
        LightGCN(3, 3, adj)


def test_lightgcn_bpr_loss_decreases_when_positive_scores_rise(tiny):
    adj = bipartite_adjacency(tiny.matrix("train"))
    model = LightGCN(tiny.n_users, tiny.n_items, adj, embedding_dim=8, reg_weight=0.0)
    users, pos, neg = _batch(tiny)
    loss = model.bpr_loss(users, pos, neg)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 1.0 * p.grad
    assert model.bpr_loss(users, pos, neg) < loss


def test_multimodal_config_is_validated(tiny):
    with pytest.raises(ValueError, match="embeding_dim"):
        MultimodalGCN({"embeding_dim": 8}, tiny)
    with pytest.raises(ValueError, match="rf_hiden_dim"):
        MultimodalGCN({"use_rf": True, "rf_hiden_dim": 8}, tiny)
    featureless = load("synthetic", preset="tiny", seed=0)
    featureless.features = {}
    with pytest.raises(ValueError, match="no item features"):
        MultimodalGCN({}, featureless)


def test_multimodal_conditions_stack_users_then_items(tiny):
    model = MultimodalGCN({"embedding_dim": 8}, tiny)
    assert not hasattr(model, "rf_generator")
    conditions = model.modality_conditions()
    assert len(conditions) == len(tiny.features)
    rows = tiny.n_users + tiny.n_items
    assert all(c.shape == (rows, 8) for c in conditions)
    # A user's modality embedding is the mean of its training items' embeddings.
    items = tiny.train.loc[tiny.train["userID"] == 0, "itemID"].to_numpy()
    torch.testing.assert_close(conditions[0][0],
                               conditions[0][tiny.n_users + items].mean(dim=0))


def test_rf_calls_leave_host_gradients_alone(tiny):
    model = MultimodalGCN(SMALL_RF, tiny)
    user_emb, item_emb = model.forward(train=True)
    host = [p for name, p in model.named_parameters() if not name.startswith("rf_generator.")]
    assert host and all(p.grad is None for p in host)
    rf_before = [p.detach().clone() for p in model.rf_generator.parameters()]
    rf_grads = [p.grad.clone() for p in model.rf_generator.parameters()]
    users, pos, neg = _batch(tiny)
    bpr_loss(user_emb[users], item_emb[pos], item_emb[neg]).backward()
    assert all(p.grad is not None for p in host)
    # The host loss's backward put nothing into the generator (its own step ran in forward).
    assert all(torch.equal(p.grad, g) for p, g in zip(model.rf_generator.parameters(), rf_grads))
    model.forward(train=True)
    assert any(not torch.equal(p, b) for p, b in zip(model.rf_generator.parameters(), rf_before))
    assert set(model.last_rf_losses) == {"rf_loss", "cl_loss", "total_loss"}
    assert model.rf_seconds > 0


def test_rf_inference_is_deterministic_and_mixes(tiny):
    model = MultimodalGCN(SMALL_RF, tiny)
    model.forward(train=True)
    first = model.score_all()
    assert torch.equal(first, model.score_all())
    assert model.training  # score_all restores the mode it found
    backbone = model.score_all(inference_mix_ratio=0.0)
    assert not torch.allclose(first, backbone)
    assert model.rf_generator.inference_mix_ratio == 0.5  # the override was temporary
    with pytest.raises(ValueError, match="inference_mix_ratio"):
        model.score_all(inference_mix_ratio=1.5)
    with pytest.raises(ValueError, match="use_rf"):
        MultimodalGCN({"embedding_dim": 8}, tiny).score_all(inference_mix_ratio=0.2)


def test_rf_is_identity_during_warmup(tiny):
    model = MultimodalGCN(SMALL_RF | {"rf_warmup_epochs": 100}, tiny)
    model.rf_generator.set_epoch(3)
    model.forward(train=True)
    assert torch.equal(model.score_all(), model.score_all(inference_mix_ratio=0.0))
    # a warmup pass trains the generator but generates nothing (mixing would discard it)
    assert model.rf_steps_taken == 1 and model.rf_cache.generate_calls == 0 and model.timings["rf_generate"] == 0
    model.rf_generator.set_epoch(100)
    assert not torch.allclose(model.score_all(), model.score_all(inference_mix_ratio=0.0))


def _on(tensors, device):
    return all(t.device.type == torch.device(device).type for t in tensors)


def test_lightgcn_on_device_matches_cpu(tiny, device):
    adj = bipartite_adjacency(tiny.matrix("train"))
    cpu = LightGCN(tiny.n_users, tiny.n_items, adj, 8, seed=1)
    model = LightGCN(tiny.n_users, tiny.n_items, adj, 8, seed=1, device=device)
    assert _on([*model.parameters(), *model.buffers()], device) and model.adj.is_sparse
    torch.testing.assert_close(model.score_all().cpu(), cpu.score_all(), rtol=1e-5, atol=1e-6)
    users, pos, neg = (t.to(device) for t in _batch(tiny))
    model.bpr_loss(users, pos, neg).backward()
    cpu.bpr_loss(*_batch(tiny)).backward()
    torch.testing.assert_close(model.user_embedding.grad.cpu(), cpu.user_embedding.grad,
                               rtol=1e-4, atol=1e-6)


def test_multimodal_on_device_matches_cpu(tiny, device):
    def build(where):
        torch.manual_seed(0)  # the generator's net is drawn from the global RNG on first use
        model = MultimodalGCN(SMALL_RF | {"device": where}, tiny)
        model.rf_generator.set_epoch(1)  # past warmup: scores mix in generated embeddings
        return model, model.score_all()

    cpu, cpu_scores = build("cpu")
    model, scores = build(device)
    assert model.config["device"] == str(torch.device(device)) and cpu.config["device"] == "cpu"
    assert scores.device.type == torch.device(device).type
    assert _on([*model.parameters(), *model.buffers()], device)
    assert not torch.allclose(scores, model.score_all(inference_mix_ratio=0.0))
    torch.testing.assert_close(scores.cpu(), cpu_scores, rtol=1e-4, atol=1e-5)
    user_emb, _ = model.forward(train=True)  # one RF training step runs on the device too
    assert user_emb.device == scores.device and model.last_rf_losses["rf_loss"] > 0


def test_model_device_errors_name_the_device(tiny):
    with pytest.raises(ValueError, match="device must be one of .* got 'gpu'"):
        MultimodalGCN({"device": "gpu"}, tiny)
    with pytest.raises(ValueError, match="device 'cuda:99' requested"):
        LightGCN(2, 3, bipartite_adjacency(sp.csr_matrix(np.ones((2, 3)))), device="cuda:99")
