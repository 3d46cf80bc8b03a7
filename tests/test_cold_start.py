"""Cold start: the split's invariants, candidate-set metrics, cold-row replacement, the regression
generator and the CLI's --cold-start."""
import dataclasses
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from rfkit import cli
from rfkit.data import SPLITS, Dataset, cold_half, cold_start, make_synthetic, warm_items, warm_view
from rfkit.experiments.cold import (FIT_SEED_STRIDE, MAPPER_OF, build_host, cold_rows, evaluate_cold_methods,
                                    fit_mapper, fit_mappers, host_embeddings, mean_health, replace_rows, train_host)
from rfkit.generator import GENERATORS, RegressionEmbeddingGenerator, RFEmbeddingGenerator, make_generator
from rfkit.metrics import cold_start_metrics, topk_metrics
from rfkit.models import MultimodalGCN
from rfkit.train import sample_negatives, train

SMALL = {"embedding_dim": 16, "learning_rate": 1e-2, "rf_hidden_dim": 32, "rf_sampling_steps": 3}
FAST = {"epochs": 3, "batch_size": 512, "progress": False}


def pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["userID"].tolist(), frame["itemID"].tolist()))


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic("tiny", seed=0)


@pytest.fixture(scope="module")
def cold(synthetic):
    return cold_start(synthetic.dataset, 0.4, seed=0)


# --- the split ---------------------------------------------------------------------------

def test_split_invariants(synthetic):
    original = synthetic.dataset
    result = cold_start(original, 0.2, seed=3)
    result.validate()
    cold = result.cold_items
    assert cold.dtype == np.int64 and (np.diff(cold) > 0).all()
    assert len(cold) == round(0.2 * original.n_items)
    assert not result.train["itemID"].isin(cold).any()
    assert result.n_users == original.n_users  # nobody lost every training interaction here
    everything = pd.concat([getattr(original, s) for s in SPLITS])
    cold_pairs = pairs(everything[everything["itemID"].isin(cold)])
    valid, test = (result.valid[result.valid["itemID"].isin(cold)],
                   result.test[result.test["itemID"].isin(cold)])
    assert pairs(valid) | pairs(test) == cold_pairs and not pairs(valid) & pairs(test)
    halves = cold_half(result, "valid"), cold_half(result, "test")
    assert not np.intersect1d(*halves).size and len(halves[0]) == len(cold) // 2
    np.testing.assert_array_equal(np.union1d(*halves), cold)
    for split in SPLITS:  # warm items keep the per-user split
        frame = getattr(original, split)
        assert pairs(frame[~frame["itemID"].isin(cold)]) == pairs(
            getattr(result, split)[~getattr(result, split)["itemID"].isin(cold)])
    np.testing.assert_array_equal(warm_items(result), np.setdiff1d(np.arange(original.n_items), cold))
    assert not warm_view(result).valid["itemID"].isin(cold).any()


def test_split_is_seeded(synthetic):
    a, b = (cold_start(synthetic.dataset, 0.2, seed=1) for _ in range(2))
    np.testing.assert_array_equal(a.cold_items, b.cold_items)
    for split in SPLITS:
        pd.testing.assert_frame_equal(getattr(a, split), getattr(b, split))
    assert not np.array_equal(a.cold_items, cold_start(synthetic.dataset, 0.2, seed=2).cold_items)


def hand_dataset() -> Dataset:
    """6 items; users 1-4 touch every item; user 0 trains on item 0 only."""
    rows = {"train": [(0, 0)], "valid": [(0, 1)], "test": [(0, 2)]}
    for u in range(1, 5):
        held = {"valid": u % 6, "test": (u + 1) % 6}
        rows["train"] += [(u, i) for i in range(6) if i not in held.values()]
        rows["valid"].append((u, held["valid"]))
        rows["test"].append((u, held["test"]))
    frames = {s: pd.DataFrame(r, columns=["userID", "itemID"]) for s, r in rows.items()}
    return Dataset("hand", 5, 6, **frames)


def test_users_without_training_interaction_are_dropped():
    dataset = hand_dataset()
    seed = next(s for s in range(100) if 0 in cold_start(dataset, 0.5, s).cold_items)
    result = cold_start(dataset, 0.5, seed)
    assert result.n_users == 4  # user 0 is gone, users 1-4 are renumbered 0-3
    original = {(u - 1, i) for u, i in pairs(dataset.train) if u > 0 and i not in result.cold_items}
    assert pairs(result.train) == original


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, True, "0.2", math.nan])
def test_fraction_outside_the_open_interval_is_rejected(synthetic, fraction):
    with pytest.raises(ValueError, match="item_fraction must be a number in"):
        cold_start(synthetic.dataset, fraction)


def test_too_small_or_already_cold_is_rejected(cold):
    with pytest.raises(ValueError, match="need at least 2"):
        cold_start(hand_dataset(), 0.1)
    with pytest.raises(ValueError, match="already has cold items"):
        cold_start(cold, 0.2)
    one_item = Dataset("one", 1, 4, *(pd.DataFrame({"userID": [0], "itemID": [0]}) for _ in SPLITS))
    for seed in range(4):  # item 0 cold: no warm training left; else: the cold halves are empty
        with pytest.raises(ValueError, match="too small"):
            cold_start(one_item, 0.5, seed)
    with pytest.raises(ValueError, match="have training interactions"):
        dataclasses.replace(cold, cold_items=np.array([cold.train["itemID"].iloc[0]])).validate()


# --- candidate-set metrics ---------------------------------------------------------------

def test_candidate_metrics_by_hand():
    scores = torch.tensor([[0.9, 0.1, 0.8, 0.3, 0.5],
                           [0.2, 0.7, 0.6, 0.9, 0.4]])
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 0, 0, 1, 0]]))
    test = sp.csr_matrix(np.array([[0, 1, 0, 0, 1], [1, 1, 0, 0, 0]]))
    # Candidates 1, 2, 4. User 0 ranks 2, 4 (hits 0, 1 of 2 relevant); user 1 ranks 1, 2
    # (hits 1, 0 of 1 relevant: item 0 is no candidate).
    ndcg0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    got = topk_metrics(scores, train, test, ks=(2,), items=[1, 2, 4])
    assert got["recall@2"] == pytest.approx((0.5 + 1) / 2)
    assert got["ndcg@2"] == pytest.approx((ndcg0 + 1) / 2)
    # All items: user 1 ranks 1, 2 (train item 3 masked) with 2 relevant, so recall 1/2.
    assert topk_metrics(scores, train, test, ks=(2,))["recall@2"] == pytest.approx(0.5)
    for items, message in (([1], "1 candidates, fewer than K=2"), ([1, 9], r"lie in \[0, 5\)"),
                           ([1, 1, 2], "repeat"), ([0.5, 1.0], "integer")):
        with pytest.raises(ValueError, match=message):
            topk_metrics(scores, train, test, ks=(2,), items=items)


def test_cold_warm_all_metrics_see_only_their_candidates(cold):
    scores = torch.rand(cold.n_users, cold.n_items, generator=torch.Generator().manual_seed(0))
    base = cold_start_metrics(scores, cold, "test", ks=(10,))
    assert set(base) == {f"{g}_{m}@10" for g in ("cold", "warm", "all") for m in ("recall", "ndcg")}
    cold_columns = torch.from_numpy(cold.cold_items)
    shuffled = scores.clone()
    shuffled[:, cold_columns] = torch.rand(cold.n_users, len(cold_columns))
    changed = cold_start_metrics(shuffled, cold, "test", ks=(10,))
    assert changed["warm_recall@10"] == base["warm_recall@10"]
    assert changed["cold_recall@10"] != base["cold_recall@10"]
    perfect = torch.from_numpy(cold.matrix("test").toarray())
    assert cold_start_metrics(perfect, cold, "test", ks=(10,))["cold_ndcg@10"] == pytest.approx(1)
    with pytest.raises(ValueError, match="no cold_items"):
        cold_start_metrics(scores, dataclasses.replace(cold, cold_items=None), "test")


# --- cold rows ---------------------------------------------------------------------------

def test_replace_rows_touches_only_the_given_rows():
    table = torch.arange(12.0).reshape(4, 3)
    out = replace_rows(table, np.array([1, 3]), torch.zeros(2, 3))
    assert out[[1, 3]].abs().sum() == 0
    assert torch.equal(out[[0, 2]], table[[0, 2]]) and table[1, 0] == 3  # input untouched


def test_negatives_come_from_the_candidate_items():
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]]))
    negatives = sample_negatives(train, np.array([0, 1] * 50), np.random.default_rng(0),
                                 candidates=np.array([0, 1, 2]))
    assert set(negatives[::2]) == {1, 2} and set(negatives[1::2]) == {0, 2}


@pytest.fixture(scope="module")
def lightgcn_host(cold):
    result = train(build_host("lightgcn", SMALL, cold, seed=0), warm_view(cold), seed=0, **FAST)
    return result.model


def test_cold_rows_replace_the_propagated_id_rows(cold, synthetic, lightgcn_host):
    parts = host_embeddings(lightgcn_host, cold)
    index = torch.from_numpy(cold.cold_items)
    warm = torch.from_numpy(warm_items(cold))
    untouched = host_embeddings(build_host("lightgcn", SMALL, cold, seed=0), cold).item_id
    # Cold items are never in a batch (not even as negatives): their rows stay as initialized.
    assert torch.equal(parts.item_id[index], untouched[index])
    assert not torch.allclose(parts.item_id[warm], untouched[warm])
    mappers = fit_mappers(parts, cold, SMALL, seed=0, generator_steps=20)
    rows = cold_rows(parts, cold, mappers, seed=0, samples=3, item_factors=synthetic.item_factors)
    assert set(rows) == {"untrained", "rf_1step", "rf", "rf_mean", "regression", "host_ceiling"}
    assert all(r.shape == (len(index), 16) for r in rows.values())
    conditions = [c[warm] for c in parts.conditions], [c[index] for c in parts.conditions]
    regression = fit_mapper("regression", SMALL, parts.item_id[warm], conditions[0], 20, seed=0)
    assert torch.equal(rows["regression"], regression.generate(conditions[1]))
    flow = fit_mapper("flow", SMALL, parts.item_id[warm], conditions[0], 20, seed=0)
    noise = torch.Generator().manual_seed(0)
    assert torch.equal(rows["rf"], flow.generate(conditions[1], generator=noise))
    assert not torch.equal(rows["rf_1step"], rows["rf"])
    replaced = replace_rows(parts.item_id, cold.cold_items, rows["regression"])
    assert torch.equal(replaced[index], rows["regression"]) and torch.equal(
        replaced[warm], parts.item_id[warm])


def test_evaluate_cold_methods_on_the_multimodal_host(cold, synthetic):
    table = evaluate_cold_methods(cold, "multimodal", SMALL, seed=0, train_options=FAST,
                                  item_factors=synthetic.item_factors, generator_steps=20,
                                  samples=2, ks=(20,))
    methods = ["zero", "rf_1step", "rf", "rf_mean", "regression", "host_ceiling", "random"]
    assert table["method"].tolist() == methods
    assert {"cold_recall@20", "all_ndcg@20", "valid_cold_ndcg@20", "best_epoch"} <= set(table)
    # a cold row never received a gradient: far smaller than the warm rows, and it scores like zero
    sizes = table.iloc[0]
    assert 0 < sizes["cold_id_rms"] < sizes["warm_id_rms"]
    assert abs(sizes["untrained_minus_zero"]) < 0.05
    hosted = table[table["method"] != "random"]
    assert hosted["warm_recall@20"].nunique() == 1  # cold rows never change warm-only rankings
    assert hosted["all_recall@20"].nunique() > 1 and hosted["cold_recall@20"].nunique() > 1
    again = evaluate_cold_methods(cold, "multimodal", SMALL, seed=0, train_options=FAST,
                                  item_factors=synthetic.item_factors, generator_steps=20,
                                  samples=2, ks=(20,))
    pd.testing.assert_frame_equal(table, again)  # inference is deterministic
    # the mappers' methods carry the health of the mapper that generated them, measured on warm items
    mapped = table[table["method"].isin(MAPPER_OF)]
    assert mapped["health_verdict"].isin(["learned", "not learned"]).all() and (mapped["rf_steps_taken"] == 20).all()
    assert mapped.groupby(mapped["method"].map(MAPPER_OF))["health_one_step_cosine"].nunique().eq(1).all()
    assert table.loc[~table["method"].isin(MAPPER_OF), "health_verdict"].isna().all()


def test_mapper_fits_average_the_mappers_methods_over_refits_of_one_host(cold, synthetic):
    options = dict(train_options=FAST, item_factors=synthetic.item_factors, generator_steps=20, samples=2)
    one = evaluate_cold_methods(cold, "lightgcn", SMALL, seed=0, **options).set_index("method")
    two = evaluate_cold_methods(cold, "lightgcn", SMALL, seed=0, mapper_fits=2, **options).set_index("method")
    assert list(two.index) == list(one.index) and (two.loc[list(MAPPER_OF), "mapper_fits"] == 2).all()
    # the second fit, by hand: same host, mappers and start noise seeded seed + FIT_SEED_STRIDE
    parts = host_embeddings(train_host(cold, "lightgcn", SMALL, 0, FAST).model, cold)
    rows = cold_rows(parts, cold, fit_mappers(parts, cold, SMALL, FIT_SEED_STRIDE, 20), FIT_SEED_STRIDE, 2)
    for method in MAPPER_OF:
        second = cold_start_metrics(parts.scores(replace_rows(parts.item_id, cold.cold_items, rows[method])),
                                    cold, "test", (20,))["cold_recall@20"]
        assert two.loc[method, "cold_recall@20"] == pytest.approx((one.loc[method, "cold_recall@20"] + second) / 2)
    hosted = ["untrained", "host_ceiling", "random"]  # no mapper: the same in every fit
    pd.testing.assert_frame_equal(two.loc[hosted, ["cold_recall@20", "valid_cold_recall@20"]],
                                  one.loc[hosted, ["cold_recall@20", "valid_cold_recall@20"]])
    for fits in (0, True, 1.0):
        with pytest.raises(ValueError, match="mapper_fits must be a positive int"):
            evaluate_cold_methods(cold, "lightgcn", SMALL, seed=0, mapper_fits=fits, **options)


def test_mean_health_learns_only_when_every_fit_did():
    learned = {"rows": 10, "one_step_cosine": 0.6, "ridge_cosine": 0.8, "verdict": "learned"}
    failed = {"rows": 10, "one_step_cosine": 0.2, "ridge_cosine": 0.8, "verdict": "not learned"}
    assert mean_health([learned, learned]) == {"rows": 10, "one_step_cosine": 0.6, "ridge_cosine": 0.8,
                                               "verdict": "learned"}
    both = mean_health([learned, failed])
    assert both["verdict"] == "not learned" and both["one_step_cosine"] == pytest.approx(0.4) and both["rows"] == 10
    with pytest.raises(ValueError, match="at least one fit"):
        mean_health([])


def test_multimodal_zero_rows_leave_the_modality_branch(cold):
    model = train(build_host("multimodal", SMALL, cold, seed=0), warm_view(cold), seed=0,
                  **FAST).model
    parts = host_embeddings(model, cold)
    zero = cold_rows(parts, cold, fit_mappers(parts, cold, SMALL, seed=0, generator_steps=2), seed=0,
                     samples=1)["zero"]
    assert zero.shape == (len(cold.cold_items), 16) and not zero.any()
    zeroed = replace_rows(parts.item_id, cold.cold_items, zero)
    index = torch.from_numpy(cold.cold_items)
    torch.testing.assert_close(parts.scores(zeroed)[:, index],
                               parts.users @ parts.item_extra[index].T)
    torch.testing.assert_close(parts.scores(parts.item_id), model.score_all())


# --- the regression generator ------------------------------------------------------------

def test_regression_learns_a_linear_map():
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = x @ torch.randn(8, 4)
    gen = RegressionEmbeddingGenerator(4, hidden_dim=64, dropout=0.0, learning_rate=1e-2,
                                       contrast_weight=0.0)
    for _ in range(400):
        losses = gen.compute_loss_and_step(y, [x[:, :5], x[:, 5:]])
    assert set(losses) == {"rf_loss", "cl_loss", "total_loss", "skipped"} and losses["cl_loss"] == 0
    assert losses["skipped"] is False
    fresh = torch.randn(64, 8)
    error = gen.generate([fresh[:, :5], fresh[:, 5:]]) - fresh @ torch.linalg.lstsq(x, y).solution
    assert error.pow(2).mean() < 0.05 * y.var()


def test_regression_interface_matches_the_flow():
    torch.manual_seed(0)
    gen = make_generator({"rf_generator": "regression", "rf_hidden_dim": 16, "rf_warmup_epochs": 1,
                          "rf_sampling_steps": 7, "rf_mix_ratio": 0.25}, 4)
    assert type(gen) is RegressionEmbeddingGenerator and set(GENERATORS) == {"flow", "regression", "noise"}
    assert type(make_generator({"rf_hidden_dim": 16}, 4)) is RFEmbeddingGenerator
    conditions = [torch.randn(10, 3)]
    gen.compute_loss_and_step(torch.randn(10, 4), conditions, user_prior=torch.randn(10, 4))
    out = gen.generate(conditions)
    ignored = gen.generate(conditions, 1, start_noise=torch.randn(10, 4), solver="heun",
                           generator=torch.Generator().manual_seed(5))
    assert torch.equal(out, ignored) and gen.net.training  # dropout off only while generating
    with pytest.raises(ValueError, match="no trajectory"):
        gen.generate(conditions, return_trajectory=True)
    original = torch.randn(10, 4)
    gen.set_epoch(0)
    assert gen.mix_embeddings(original, out, training=True) is original  # warmup
    gen.set_epoch(1)
    torch.testing.assert_close(gen.mix_embeddings(original, out, training=True),
                               0.75 * original + 0.25 * out)
    fresh = make_generator({"rf_generator": "regression", "rf_hidden_dim": 16}, 4)
    fresh.load_state_dict(gen.state_dict())
    assert torch.equal(fresh.generate(conditions), out) and fresh.current_epoch == 1
    for config, message in (({"rf_generator": "diffusion"}, "must be one of"),
                            ({"rf_generator": "regression", "rf_hiden_dim": 8}, "rf_hidden_dim")):
        with pytest.raises(ValueError, match=message):
            make_generator(config, 4)


def test_multimodal_gcn_takes_the_regression_generator(tiny):
    model = MultimodalGCN({**SMALL, "use_rf": True, "rf_generator": "regression"}, tiny)
    assert isinstance(model.rf_generator, RegressionEmbeddingGenerator)
    result = train(model, tiny, seed=0, **{**FAST, "epochs": 1})
    assert result.history["rf_loss"].iloc[0] > 0


# --- CLI ---------------------------------------------------------------------------------

def test_cli_cold_start(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "SYNTHETIC_PRESET", "tiny")
    config = tmp_path / "config.yaml"
    config.write_text("embedding_dim: 16\nlearning_rate: 0.01\nrf_hidden_dim: 32\n"
                      "rf_sampling_steps: 2\n")
    out = tmp_path / "cold.json"
    assert cli.main(["train", "--dataset", "synthetic", "--config", str(config), "--epochs", "2",
                     "--cold-start", "0.4", "--mapper-fits", "2", "--json", str(out), "--no-progress"]) == 0
    table = capsys.readouterr().out
    for method in ("zero", "rf_1step", "rf_mean", "regression", "random"):
        assert re.search(rf"^{method}\s+\d+\s+0\.\d+", table, re.M), method
    assert "cold_recall@20" in table and "valid_all_ndcg@10" in table
    payload = json.loads(out.read_text())
    assert payload["cold_start"] == 0.4 and payload["dataset"] == "synthetic_tiny_cold0.4"
    assert {r["method"] for r in payload["methods"]} >= {"zero", "rf", "regression"}
    assert payload["mapper_fits"] == 2
    assert {r["mapper_fits"] for r in payload["methods"] if r["method"] in MAPPER_OF} == {2}
    for argv, message in ((["--cold-start", "1.5"], "item_fraction must be a number in (0, 1)"),
                          (["--cold-start", "0.4", "--no-rf"], "exclude each other"),
                          (["--mapper-fits", "2"], "--mapper-fits needs --cold-start"),
                          (["--cold-start", "0.4", "--mapper-fits", "0"], "--mapper-fits")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["train", "--dataset", "synthetic", "--epochs", "1", *argv])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
