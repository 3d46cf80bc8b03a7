"""Sweeps: a tiny grid gives the same table in-process, on a process pool and on a Dask cluster."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest

from rfkit.experiments.sweep import run_grid, score_at_ratios

BASE = {"use_rf": True, "rf_hidden_dim": 32, "embedding_dim": 16}
GRID = {"rf_mix_ratio": [0.0, 0.5], "rf_inference_mix_ratio": [0.3]}
OPTIONS = {"epochs": 3, "patience": 3}


@pytest.fixture(scope="module")
def local_table(tiny):
    return run_grid(BASE, GRID, [0, 1], tiny, progress=False, **OPTIONS)


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """Seed 0's rows without the timing columns (the executor runs cover one seed to stay quick)."""
    return table[table["seed"] == 0].drop(columns=["train_seconds", "rf_seconds"]).reset_index(drop=True)


def test_grid_table_is_tidy(local_table):
    assert len(local_table) == 4
    assert list(local_table["seed"]) == [0, 1, 0, 1]
    assert list(local_table["rf_mix_ratio"]) == [0.0, 0.0, 0.5, 0.5]
    assert (local_table["rf_inference_mix_ratio"] == 0.3).all()
    assert local_table["valid_recall@20"].between(0, 1).all()
    assert (local_table["rf_seconds"] > 0).all()
    assert list(local_table["variant"]) == ["rf_inference_mix_ratio=0.3, rf_mix_ratio=0.0"] * 2 + [
        "rf_inference_mix_ratio=0.3, rf_mix_ratio=0.5"] * 2


def test_rescoring_gives_one_row_per_inference_ratio(tiny, local_table):
    table = run_grid(BASE, GRID, [0], tiny, progress=False, rescore_ratios=[0.3, 0.0], **OPTIONS)
    assert list(table["rf_inference_mix_ratio"]) == [0.3, 0.0, 0.3, 0.0]
    # Rescoring at the configured ratio reproduces the plain run's test numbers.
    plain = local_table[local_table["seed"] == 0].reset_index(drop=True)
    rescored = table[table["rf_inference_mix_ratio"] == 0.3].reset_index(drop=True)
    pd.testing.assert_series_equal(rescored["test_recall@20"], plain["test_recall@20"])


def test_process_pool_gives_the_same_table(tiny, local_table):
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        table = run_grid(BASE, GRID, [0], tiny, executor=pool, progress=False, **OPTIONS)
    pd.testing.assert_frame_equal(comparable(table), comparable(local_table))


def test_dask_cluster_gives_the_same_table(tiny, local_table):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        with distributed.Client(cluster) as client:
            table = run_grid(BASE, GRID, [0], tiny, executor=client.get_executor(), progress=False,
                             **OPTIONS)
    pd.testing.assert_frame_equal(comparable(table), comparable(local_table))


@pytest.mark.parametrize("grid,message", [({}, "non-empty mapping"), ({"rf_mix_ratio": []}, "rf_mix_ratio"),
                                          ({"rf_mix_ratio": "0.1"}, "rf_mix_ratio")])
def test_bad_grid(tiny, grid, message):
    with pytest.raises(ValueError, match=message):
        run_grid(BASE, grid, [0], tiny, progress=False)


def test_inference_ratio_zero_reproduces_the_backbone(tiny):
    import torch

    from rfkit.metrics import topk_metrics
    from rfkit.models import MultimodalGCN
    from rfkit.train import train
    model = train(MultimodalGCN(BASE, tiny), tiny, epochs=2, progress=False).model
    table = score_at_ratios(model, tiny, [0.0, 1.0])
    with torch.no_grad():  # the backbone alone: ID embeddings + modality embeddings, no RF
        users, items = model.id_encoder()
        final = torch.cat([users, items]) + torch.stack(model.modality_conditions()).mean(dim=0)
        scores = final[:tiny.n_users] @ final[tiny.n_users:].T
    backbone = topk_metrics(scores, tiny.matrix("train"), tiny.matrix("valid"))
    assert table.loc[0, "valid_recall@20"] == backbone["recall@20"]
    assert table.loc[0, "valid_ndcg@20"] == backbone["ndcg@20"]
    assert table.loc[1, "valid_ndcg@20"] != backbone["ndcg@20"]


DIVERGING = {"embedding_dim": 16, "use_rf": True, "rf_lr": 1e6, "rf_warmup_epochs": 1, "rf_hidden_dim": 32,
             "rf_sampling_steps": 2}


def test_a_diverging_configuration_is_a_failed_row_and_the_others_finish(tiny):
    from rfkit.experiments.sweep import run_configs
    configs = {"good": {"embedding_dim": 16, "use_rf": False}, "bad": DIVERGING}
    with pytest.warns(RuntimeWarning, match="skipped a step"):
        table = run_configs(configs, [0, 1], tiny, progress=False, epochs=3, patience=3, batch_size=512)
    good, bad = table[table["variant"] == "good"], table[table["variant"] == "bad"]
    assert list(good["status"]) == ["ok", "ok"] and good["test_ndcg@20"].notna().all()
    assert list(bad["status"]) == ["diverged", "diverged"]
    assert bad["reason"].str.contains("lower rf_lr").all() and bad["test_ndcg@20"].isna().all()
    assert (bad["epochs_run"] == 1).all() and (bad["best_epoch"] == 0).all()
