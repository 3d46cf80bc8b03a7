"""rfkit.experiments.run_cache: an identical training runs once; anything that could change it misses."""
import pandas as pd
import pytest
import torch

from rfkit.data import cold_start, make_synthetic
from rfkit.experiments import cold, run_cache, runner
from rfkit.experiments.cold import evaluate_cold_methods
from rfkit.experiments.runner import train_one

CONFIG = {"embedding_dim": 8, "n_layers": 1, "use_rf": True, "rf_hidden_dim": 16, "rf_warmup_epochs": 0}
OPTIONS = {"epochs": 2, "patience": 2, "batch_size": 512}


def no_training(*args, **kwargs):
    raise AssertionError("trained although the run cache holds this training")


@pytest.fixture
def cache_on(tmp_path, monkeypatch):
    monkeypatch.setenv(run_cache.CACHE_VARIABLE, str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_off_unless_the_variable_names_a_folder(monkeypatch):
    monkeypatch.delenv(run_cache.CACHE_VARIABLE, raising=False)
    assert run_cache.cache_folder() is None
    monkeypatch.setenv(run_cache.CACHE_VARIABLE, " ")
    assert run_cache.cache_folder() is None


def test_every_part_of_the_code_key_exists():
    # a renamed module must not silently drop out of the key
    for part in run_cache.CODE:
        assert (run_cache.PACKAGE / part).exists(), part
    assert run_cache.code_version() == run_cache.code_version() and len(run_cache.code_version()) == 64


def test_a_hit_gives_the_same_record_and_random_state_without_training(tiny, cache_on, monkeypatch):
    first = train_one(CONFIG, 3, tiny, OPTIONS)
    after_first = torch.rand(3)
    monkeypatch.setattr(runner, "train", no_training)
    second = train_one(CONFIG, 3, tiny, OPTIONS)
    assert second == first  # timings too: they are the stored run's
    assert torch.equal(torch.rand(3), after_first)  # what runs next draws the same numbers
    assert any(cache_on.rglob("output.pkl"))


def test_the_cached_result_equals_an_uncached_training(tiny, cache_on, monkeypatch):
    cached = train_one(CONFIG, 4, tiny, OPTIONS)
    monkeypatch.delenv(run_cache.CACHE_VARIABLE)
    fresh = train_one(CONFIG, 4, tiny, OPTIONS)
    timing = ("train_seconds", "rf_seconds")
    assert {k: v for k, v in cached.items() if k not in timing} == {k: v for k, v in fresh.items() if k not in timing}


@pytest.mark.parametrize("change", ["seed", "config", "options", "data", "code"])
def test_anything_that_can_change_the_training_misses(tiny, cache_on, monkeypatch, change):
    train_one(CONFIG, 0, tiny, OPTIONS)
    monkeypatch.setattr(runner, "train", no_training)
    config, seed, options, dataset = CONFIG, 0, OPTIONS, tiny
    if change == "seed":
        seed = 1
    elif change == "config":
        config = {**CONFIG, "embedding_dim": 4}
    elif change == "options":
        options = {**OPTIONS, "batch_size": 256}
    elif change == "data":
        dataset = make_synthetic("tiny", seed=1).dataset
    else:
        monkeypatch.setattr(run_cache, "code_version", lambda: "another version of the code")
    with pytest.raises(AssertionError, match="trained although"):
        train_one(config, seed, dataset, options)


def test_cold_start_hosts_are_cached(cache_on, monkeypatch):
    dataset = cold_start(make_synthetic("tiny", seed=0).dataset, 0.3, seed=0)
    config = {"embedding_dim": 8, "rf_hidden_dim": 16, "rf_sampling_steps": 2}
    options = {"epochs": 2, "batch_size": 512}
    first = evaluate_cold_methods(dataset, "lightgcn", config, seed=0, train_options=options, generator_steps=5)
    monkeypatch.setattr(cold, "train", no_training)
    second = evaluate_cold_methods(dataset, "lightgcn", config, seed=0, train_options=options, generator_steps=5)
    pd.testing.assert_frame_equal(first, second)
