"""rfkit.experiments.runner: one configuration on one seed, and the same over jobs on any executor."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from rfkit.experiments.runner import config_seed_jobs, records, run_jobs, run_summary, train_many, train_one

CONFIG = {"embedding_dim": 8, "n_layers": 1, "use_rf": False}
OPTIONS = {"epochs": 2, "patience": 2, "batch_size": 512}


def square(x: int) -> int:
    return x * x


def test_run_jobs_keeps_job_order_on_any_executor():
    jobs = [{"x": x} for x in range(6)]
    assert run_jobs(square, jobs, progress=False) == [x * x for x in range(6)]
    with ThreadPoolExecutor(3) as pool:
        assert run_jobs(square, jobs, pool, progress=False) == [x * x for x in range(6)]


def test_train_one_is_single_threaded_deterministic_and_restores_threads(tiny):
    torch.set_num_threads(2)
    first = train_one(CONFIG, 3, tiny, OPTIONS)
    assert torch.get_num_threads() == 2
    second = train_one(CONFIG, 3, tiny, OPTIONS)
    timing = ("train_seconds", "rf_seconds")
    assert {k: v for k, v in first.items() if k not in timing} == {k: v for k, v in second.items() if k not in timing}
    assert first["epochs_run"] == 2 and first["best_epoch"] in (0, 1) and "test_ndcg@20" in first


def test_train_many_and_records(tiny):
    results = train_many({"a": CONFIG, "b": {**CONFIG, "embedding_dim": 4}}, [0, 1], tiny, OPTIONS,
                         measure=lambda model, result, dataset: [run_summary(model, result)] * 2, progress=False)
    assert [(name, seed) for name, seed, _ in results] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    rows = records(results)
    assert len(rows) == 8 and rows[0]["variant"] == "a" and rows[-1]["seed"] == 1


def test_config_seed_jobs_rejects_empty_input():
    with pytest.raises(ValueError, match="configs"):
        config_seed_jobs({}, [0])
    with pytest.raises(ValueError, match="seeds"):
        config_seed_jobs({"a": CONFIG}, [])


def test_config_seed_jobs_refuses_identical_variants():
    # 08 once compared "2 ODE steps in training" with a config that already set 2: every
    # difference was exactly 0. Two names for one config compare nothing.
    with pytest.raises(ValueError, match="'a' and 'b' are identical"):
        config_seed_jobs({"a": CONFIG, "b": dict(CONFIG)}, [0])
    assert len(config_seed_jobs({"a": CONFIG, "b": {**CONFIG, "n_layers": 2}}, [0])) == 2


RF = {**CONFIG, "use_rf": True, "rf_hidden_dim": 16, "rf_warmup_epochs": 1}


def test_run_records_name_the_generator_its_health_and_whether_it_mixed(tiny):
    backbone = train_one(CONFIG, 0, tiny, OPTIONS)
    assert backbone["generator"] is None and backbone["mixed_at_best"] is False
    for kind in ("flow", "regression", "noise"):
        row = train_one({**RF, "rf_generator": kind}, 0, tiny, {**OPTIONS, "epochs": 3, "patience": 3})
        assert row["generator"] == kind
        assert row["health_verdict"] in ("learned", "not learned")
        assert row["mixed_at_best"] == (row["best_epoch"] >= 1)


def test_a_best_epoch_inside_the_warmup_is_a_model_that_never_mixed(tiny):
    # patience 1 over 3 epochs with a 3-epoch warmup: every epoch, the best included, is in warmup
    row = train_one({**RF, "rf_warmup_epochs": 3}, 0, tiny, {**OPTIONS, "epochs": 3, "patience": 3})
    assert row["best_epoch"] < 3 and row["mixed_at_best"] is False
