"""The host's tuning on validation, and the sentences that place it among the references."""
import pandas as pd
import pytest

from rfkit.experiments.tuning import CHOICE_METRIC, tune_host
from rfkit.lab.references import standing_sentence, tuning_sentence, versus_references


def test_tune_host_picks_the_best_validation_score(tiny):
    config = {"embedding_dim": 16, "learning_rate": 0.01}
    chosen, table = tune_host(config, {"n_layers": [1, 2]}, [0], tiny, epochs=2, batch_size=512)
    assert list(table["variant"]) == ["n_layers=1", "n_layers=2"] and table["chosen"].sum() == 1
    best = table.loc[table[CHOICE_METRIC].idxmax()]
    assert best["chosen"] and chosen == {"n_layers": best["n_layers"]}
    assert isinstance(chosen["n_layers"], int)  # a plain value, ready for a config
    # The backbone ignores the generator's keys, so every lesson's tuning is the same set of trainings.
    with_rf_keys = {**config, "use_rf": True, "rf_mix_ratio": 0.3, "rf_warmup_epochs": 1}
    again, table_again = tune_host(with_rf_keys, {"n_layers": [1, 2]}, [0], tiny, epochs=2, batch_size=512)
    assert again == chosen and table_again.drop(columns="train_seconds").equals(table.drop(columns="train_seconds"))


def table(chosen_layers: int) -> pd.DataFrame:
    return pd.DataFrame({"variant": ["n_layers=1", "n_layers=2"], "n_layers": [1, 2],
                         CHOICE_METRIC: [0.20, 0.25], "chosen": [chosen_layers == 1, chosen_layers == 2]})


def test_tuning_sentence_compares_with_the_packaged_settings():
    assert tuning_sentence(table(2), {"n_layers": 1}) == (
        f"Tuned on {CHOICE_METRIC} over 2 host settings, the host uses n_layers=2 ({CHOICE_METRIC} 0.2500; "
        "the packaged settings score 0.2000).")
    assert tuning_sentence(table(2), {"n_layers": 2}).endswith("(valid_recall@20 0.2500; these are the packaged settings).")
    assert tuning_sentence(table(2), {"n_layers": 3}).endswith("(valid_recall@20 0.2500).")  # not in the grid


def runs(gains: dict[str, float]) -> pd.DataFrame:
    rows = [{"variant": "backbone", "seed": s, "test_ndcg@20": 0.2 + 0.01 * s} for s in range(3)]
    rows += [{"variant": name, "seed": s, "test_ndcg@20": 0.2 + 0.01 * s + gain + 0.001 * (s == 1)}
             for name, gain in gains.items() for s in range(3)]
    return pd.DataFrame(rows)


def test_standing_sentence_names_what_the_host_trails_and_beats():
    versus = versus_references(runs({"EASE": 0.02, "MostPop": -0.05, "BPR": 0.0}), ["EASE", "MostPop", "BPR"],
                               "test_ndcg@20")
    assert list(versus["verdict"]) == ["better", "worse", "within noise"]
    sentence = standing_sentence(versus, "test_ndcg@20")
    assert sentence.startswith("Where the host stands on test_ndcg@20 (reference minus host, paired over 3 seeds): "
                               "EASE +0.0203 [")
    assert sentence.endswith("The host trails EASE beyond noise and beats MostPop.")
    level = standing_sentence(versus_references(runs({"BPR": 0.0}), ["BPR"], "test_ndcg@20"), "test_ndcg@20")
    assert level.endswith("No reference beats the host beyond noise.")
    with pytest.raises(ValueError, match="treatments"):
        versus_references(runs({"BPR": 0.0}), ["EASE"], "test_ndcg@20")
