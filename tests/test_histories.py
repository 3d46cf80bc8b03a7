"""rfkit.histories: per-epoch histories, RF time share, and the warmup identity of the scores."""
import math
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from rfkit.lab.histories import (mean_std_strings, rf_time_share, run_histories, seed_summary,
                             warmup_divergence, warmup_score_gap)
from rfkit.models import MultimodalGCN
from rfkit.train import train

SMALL = {"embedding_dim": 16, "rf_hidden_dim": 32}
OPTIONS = {"epochs": 4, "patience": 4, "batch_size": 1024}
TIMING = ["seconds", "rf_seconds", "eval_seconds"]


@pytest.fixture(scope="module")
def histories(tiny):
    configs = {"backbone": {**SMALL, "use_rf": False},
               "rf, warmup past the end": {**SMALL, "use_rf": True, "rf_warmup_epochs": 10},
               "rf, warmup 2": {**SMALL, "use_rf": True, "rf_warmup_epochs": 2}}
    return run_histories(configs, [0, 1], tiny, **OPTIONS)


def test_tables_are_tidy(histories):
    epochs, runs = histories.epochs, histories.runs
    assert list(epochs.columns[:3]) == ["variant", "seed", "epoch"]
    assert len(epochs) == 3 * 2 * 4 and len(runs) == 3 * 2
    assert list(runs["variant"]) == ["backbone"] * 2 + ["rf, warmup past the end"] * 2 + ["rf, warmup 2"] * 2
    assert list(runs["seed"]) == [0, 1] * 3
    assert (runs["epochs_run"] == 4).all()
    assert {"valid_recall@20", "test_ndcg@10", "best_epoch", "train_seconds"} <= set(runs.columns)
    backbone = runs[runs["variant"] == "backbone"]
    assert (backbone["rf_seconds"] == 0).all() and not backbone["mixed_at_best"].any()
    assert backbone["warmup_epochs"].isna().all()
    run = runs.iloc[4]
    assert run["mixed_at_best"] == (run["best_epoch"] >= 2)
    best = epochs[(epochs["variant"] == run["variant"]) & (epochs["seed"] == run["seed"])
                  & (epochs["epoch"] == run["best_epoch"])]
    assert best["test_ndcg@20"].item() == run["test_ndcg@20"]


def test_warmup_epochs_train_exactly_like_the_backbone(histories):
    """RF trains during warmup but never touches the host: the same seed gives the same history."""
    epochs = histories.epochs.drop(columns=TIMING + ["rf_loss", "cl_loss"]).set_index(["seed", "epoch"])
    backbone = epochs[epochs["variant"] == "backbone"].drop(columns="variant")
    never_mixed = epochs[epochs["variant"] == "rf, warmup past the end"].drop(columns="variant")
    pd.testing.assert_frame_equal(never_mixed, backbone)
    mixed = epochs[epochs["variant"] == "rf, warmup 2"].drop(columns="variant")
    before = mixed.index.get_level_values("epoch") < 2
    pd.testing.assert_frame_equal(mixed[before], backbone[before])
    assert (mixed[~before]["bpr_loss"] != backbone[~before]["bpr_loss"]).all()


def test_executor_gives_the_same_tables(tiny, histories):
    configs = {"backbone": {**SMALL, "use_rf": False}}
    with ThreadPoolExecutor(2) as executor:
        pooled = run_histories(configs, [1, 0], tiny, executor=executor, **OPTIONS)
    assert list(pooled.runs["seed"]) == [1, 0]
    local = histories.epochs[histories.epochs["variant"] == "backbone"].drop(columns=TIMING)
    pooled_epochs = pooled.epochs.drop(columns=TIMING).sort_values(["seed", "epoch"])
    pd.testing.assert_frame_equal(pooled_epochs.reset_index(drop=True), local.reset_index(drop=True))


@pytest.mark.parametrize("configs, seeds, message", [({}, [0], "non-empty mapping"),
                                                     ({"a": SMALL}, [], "at least one seed")])
def test_bad_arguments(tiny, configs, seeds, message):
    with pytest.raises(ValueError, match=message):
        run_histories(configs, seeds, tiny, **OPTIONS)


def test_rf_time_share():
    history = pd.DataFrame({"seconds": [2.0, 2.0], "rf_seconds": [0.5, 0.5]})
    share = rf_time_share(history)
    assert share == {"seconds": 4.0, "rf_seconds": 1.0, "share": 0.25, "overhead": pytest.approx(1 / 3)}
    assert rf_time_share(history.assign(rf_seconds=0.0))["overhead"] == 0.0
    with pytest.raises(ValueError, match="rf_seconds"):
        rf_time_share(history.assign(rf_seconds=3.0))
    with pytest.raises(ValueError, match="no training time"):
        rf_time_share(history.assign(seconds=0.0, rf_seconds=0.0))


def test_scores_equal_the_backbone_exactly_while_in_warmup(tiny):
    model = MultimodalGCN({**SMALL, "use_rf": True, "rf_warmup_epochs": 2, "rf_inference_mix_ratio": 0.5}, tiny)
    train(model, tiny, seed=0, progress=False, **OPTIONS)
    restored = model.rf_generator.current_epoch
    gaps = warmup_score_gap(model, range(5))
    assert list(gaps.index) == [0, 1, 2, 3, 4]
    assert (gaps[:2] == 0.0).all()
    assert (gaps[2:] > 1e-4).all()
    assert gaps[2:].nunique() == 1  # after warmup the epoch no longer matters
    assert model.rf_generator.current_epoch == restored


def test_score_gap_needs_rf(tiny):
    with pytest.raises(ValueError, match="use_rf=True"):
        warmup_score_gap(MultimodalGCN({**SMALL, "use_rf": False}, tiny), [0])


RUNS = pd.DataFrame({"variant": ["base"] * 3 + ["rf"] * 3, "seed": [0, 1, 2] * 2,
                     "ndcg": [0.10, 0.12, 0.14, 0.20, 0.21, 0.22]})


def test_mean_std_strings_and_seed_summary():
    table = mean_std_strings(RUNS, "variant", ["ndcg"], digits=3)
    assert table.loc["base", "ndcg"] == "0.120 ± 0.020" and table.loc["rf", "ndcg"] == "0.210 ± 0.010"
    summary = seed_summary(RUNS, "variant", ["ndcg"])
    assert summary["rf"]["ndcg"] == {"mean": pytest.approx(0.21), "std": pytest.approx(0.01)}
    assert seed_summary(RUNS[RUNS["seed"] == 0], "variant", ["ndcg"])["base"]["ndcg"]["std"] == 0.0


def test_warmup_divergence_on_real_histories(histories):
    columns = ["bpr_loss", "valid_recall@20", "test_ndcg@20"]
    warmups = {"backbone": math.inf, "rf, warmup past the end": 10, "rf, warmup 2": 2}
    table = warmup_divergence(histories.epochs, warmups, columns).set_index(["a", "b"])
    assert list(table.index) == [("rf, warmup 2", "rf, warmup past the end"), ("rf, warmup 2", "backbone"),
                                 ("rf, warmup past the end", "backbone")]
    assert (table["before"] == 0.0).all()
    assert list(table["shared_epochs"]) == [4, 4, 8]
    assert (table["after"].iloc[:2] > 0).all() and pd.isna(table["after"].iloc[2])


def test_warmup_divergence_counts_only_common_epochs():
    epochs = pd.DataFrame({"variant": ["w1"] * 3 + ["w3"] * 2, "seed": 0, "epoch": [0, 1, 2, 0, 1],
                           "m": [1.0, 2.0, 3.0, 1.0, 2.5]})
    row = warmup_divergence(epochs, {"w3": 3, "w1": 1}, ["m"]).iloc[0]
    assert (row["a"], row["b"], row["shared_epochs"], row["before"], row["after"]) == ("w1", "w3", 1, 0.0, 0.5)
    with pytest.raises(ValueError, match="lacks column"):
        warmup_divergence(epochs, {"w1": 1}, ["x"])
