"""rfkit.lab.parameters: notebook 08's one-knob-at-a-time sweep, from plan to sentences."""
import functools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rfkit import config  # noqa: E402
from rfkit.experiments.runner import RunFailure, train_many  # noqa: E402
from rfkit.lab import parameters as P  # noqa: E402
from rfkit.lab.widgets import parameter_explorer  # noqa: E402

KIT = config.load("multimodal")
SEEDS = [0, 1, 2]
# A small grid: one knob that helps, one that hurts, one within noise, one that diverges.
GRID = {"hidden_dim": [32, 128], "n_layers": [1, 2], "dropout": [0.0, 0.1], "learning_rate": [1e-4, 1e-2],
        P.INFERENCE: [0.0, 0.2]}
BASE = {0: 0.200, 1: 0.210, 2: 0.190}  # the kit's test NDCG@20 per seed


def fake_measure(test: float, seed: int, cl_loss: float = 4.0) -> dict:
    """What `P.measure` returns, with made-up numbers."""
    return {"best_epoch": 6, "epochs_run": 7, "mixed_at_best": True, "valid_ndcg@20": test + 0.03, "test_ndcg@20": test,
            "rf_loss_first": 2.0, "rf_loss": 1.5, "cl_loss_first": 5.0, "cl_loss": cl_loss, "contrast_weight": 1.0,
            "rf_loss_zero": 2.0, "cl_loss_zero": 4.2, "generator": "flow", "rf_steps_taken": 50,
            "health_verdict": "learned",
            "health_one_step_cosine": 0.3, "health_ridge_cosine": 0.4, "health_noise_cosine": 0.0,
            "health_sampled_cosine": 0.1,
            "contrast_rows": 350, "endpoint_cosine": 0.5, "endpoint_mse": 0.1, "seconds_per_epoch": 0.5 + seed / 100,
            "rescored": {"0": {"valid_ndcg@20": test + 0.01, "test_ndcg@20": test - 0.02},
                         "0.2": {"valid_ndcg@20": test + 0.03, "test_ndcg@20": test}}}


@pytest.fixture(scope="module")
def sweep():
    plan = P.sweep_plan(KIT, GRID, complete=False)
    noise = {0: 0.004, 1: -0.005, 2: 0.001}
    changes = {P.EXAMPLE: lambda s: 0.0, "hidden_dim=32": lambda s: 0.02 + noise[s] / 10,
               "n_layers=1": lambda s: -0.03 + noise[s] / 10, "dropout=0": lambda s: noise[s]}
    results = []
    for name in plan.configs:
        for seed in SEEDS:
            if name == "learning_rate=0.01":
                measured = RunFailure("diverged", "training stopped at epoch 0, batch 1: the host loss is nan. "
                                                  "No epoch had been evaluated", 0, None)
            else:
                measured = fake_measure(BASE[seed] + changes[name](seed), seed)
            results.append((name, seed, measured))
    effects = P.effects_table(plan, results)
    return plan, results, effects, P.parameter_deltas(effects)


def test_keys_defaults_and_kit_values():
    assert len(P.PARAMETERS) == 14 and "embedding_dim" not in P.PARAMETERS
    assert P.config_key("learning_rate") == "rf_lr" and P.config_key("train_mix_ratio") == "rf_mix_ratio"
    assert P.config_key("hidden_dim") == "rf_hidden_dim"
    assert P.documented_default("hidden_dim") == 256 and P.documented_default("learning_rate") == 0.001
    assert P.kit_value("hidden_dim", KIT) == 128 and P.kit_value("dropout", KIT) == 0.1  # unset: the default
    with pytest.raises(ValueError, match="parameter must be one of"):
        P.config_key("embedding_dim")


def test_grid_holds_kit_values_and_defaults():
    P.check_grid(P.GRID, KIT)
    for parameter, values in P.GRID.items():
        assert 3 <= len(values) <= 5 and P.documented_default(parameter) in values
    with pytest.raises(ValueError, match="missing"):
        P.check_grid({"hidden_dim": [32, 128]}, KIT)
    with pytest.raises(ValueError, match=r"grid\['hidden_dim'\] must hold distinct values including the kit's 128"):
        P.check_grid({**P.GRID, "hidden_dim": [32, 256]}, KIT)
    quick = P.quick_grid(P.GRID, KIT)
    assert quick["hidden_dim"] == [32, 128] and quick["train_mix_ratio"] == [0.0, 0.1]
    assert quick[P.INFERENCE] == P.GRID[P.INFERENCE]


def test_plan_trains_each_changed_value_once():
    plan = P.sweep_plan(KIT, P.GRID)
    changed = sum(len(v) - 1 for p, v in P.GRID.items() if p != P.INFERENCE)
    assert len(plan.configs) == changed + 1
    assert plan.configs["learning_rate=0.001"] == {**KIT, "rf_lr": 0.001}
    assert plan.settings[("hidden_dim", 128)] == P.EXAMPLE
    assert {plan.settings[(P.INFERENCE, r)] for r in P.GRID[P.INFERENCE]} == {P.EXAMPLE}
    table = P.parameter_table(KIT, P.GRID)
    assert list(table.index) == list(P.PARAMETERS) and table.loc["learning_rate", "YAML key"] == "rf_lr"


def test_effects_keep_failures_as_rows(sweep):
    _, _, effects, _ = sweep
    assert len(effects) == sum(len(v) for v in GRID.values()) * len(SEEDS)
    failed = effects[effects["status"] != "ok"]
    assert set(failed["variant"]) == {"learning_rate=0.01"} and failed["test_ndcg@20"].isna().all()
    assert failed["reason"].str.contains("host loss is nan").all()
    ratio = effects[effects["parameter"] == P.INFERENCE].set_index(["value", "seed"])["test_ndcg@20"]
    assert ratio[(0.0, 1)] == pytest.approx(BASE[1] - 0.02)  # the re-scored number, not the model's own
    assert effects.loc[effects["is_kit"], "variant"].eq(P.EXAMPLE).all()


def test_deltas_are_paired_over_seeds(sweep):
    _, _, effects, deltas = sweep
    row = deltas[deltas["parameter"] == "hidden_dim"].iloc[0]
    assert row["value"] == 32 and row["delta"] == pytest.approx(0.02 + np.mean([0.004, -0.005, 0.001]) / 10)
    assert row["verdict"] == "better"
    assert deltas.set_index("parameter").loc["n_layers", "verdict"] == "worse"
    assert deltas.set_index("parameter").loc["dropout", "verdict"] == "within noise"
    assert "learning_rate" not in set(deltas["parameter"])  # every seed failed: nothing to pair
    top = [("n_layers", 1, pytest.approx(-0.03)), ("hidden_dim", 32, pytest.approx(0.02))]
    assert P.top_parameters(deltas, 2) == top
    assert P.top_parameters(deltas, 0) == []


def test_sweep_conclusions_say_what_moved(sweep):
    _, _, effects, deltas = sweep
    text = "\n".join(P.sweep_conclusions(effects, deltas, KIT))
    assert "3 of 14 parameters moved test NDCG@20 beyond noise" in text  # inference ratio 0: -0.02 every seed
    assert "hidden_dim 32: +0.0200" in text and "(better)" in text and "n_layers 1: -0.0300" in text
    assert "1 stayed within noise at every value tried (dropout)" in text
    dropout = deltas.set_index("parameter").loc["dropout", "detectable"]
    assert f"(dropout); at those values the sweep could have detected {dropout:.4f} or more." in text
    assert "learning_rate=0.01 (3 of 3 seeds)" in text and "host loss is nan" in text
    assert "3 beyond-noise verdict(s) out of 4" in text and "about 0.2 of 4" in text
    # the documented default of dropout (0.1) is the kit's value: no default sentence for it
    assert "documented defaults" not in text


def test_followup_grid_and_conclusions(sweep):
    _, _, _, deltas = sweep
    grid = P.followup_grid([("n_layers", 1, -0.03)], KIT, [0.0, 0.2])
    assert grid == {"n_layers": [1, 2], P.INFERENCE: [0.0, 0.2]}
    real = deltas[deltas["parameter"] == "n_layers"].assign(verdict="within noise")
    sentence = P.followup_conclusions(real, deltas, "movielens")[0]
    assert sentence.startswith("On movielens, n_layers 1 against the kit's value") and "a different verdict" in sentence


def test_plot_and_explorer(sweep):
    _, _, effects, deltas = sweep
    fig, axes = plt.subplots(2, 3)
    P.plot_effects(deltas, effects, axes.flat)
    assert [ax.get_title() for ax in axes.flat[:5]] == [p for p in P.PARAMETERS if p in GRID]
    with pytest.raises(ValueError, match="axes must hold at least 5 axes"):
        P.plot_effects(deltas, effects, axes.flat[:3])
    plt.close(fig)
    explorer = parameter_explorer(effects, P.parameter_deltas(effects, P.CHOOSE_ON), deltas)
    assert explorer.parameter == "hidden_dim" and list(explorer.summary.index) == [32, 128]
    first = explorer.chart.value
    explorer.picker.value = "learning_rate"  # what picking a knob does
    assert explorer.parameter == "learning_rate" and explorer.chart.value != first
    assert explorer.summary.loc[0.01, "runs ok"] == "0 of 3" and explorer.summary.loc[1e-4, "verdict"] == "kit's value"


def test_measure_on_a_trained_model(tiny):
    """A real sweep of one knob: the measures, and the inference ratios re-scored on the same models."""
    kit = {**KIT, "rf_warmup_epochs": 0, "rf_hidden_dim": 32}
    plan = P.sweep_plan(kit, {"dropout": [0.0, 0.1], P.INFERENCE: [0.0, 0.2]}, complete=False)
    measure = functools.partial(P.measure, inference_ratios=plan.inference_ratios)
    results = train_many(plan.configs, [0, 1], tiny, P.budget({"batch_size": 1024}, 2), measure, progress=False)
    effects = P.effects_table(plan, results)
    assert (effects["status"] == "ok").all() and effects["epochs_run"].eq(2).all()
    assert effects["contrast_rows"].eq(tiny.n_users + tiny.n_items).all()  # 350 rows < max_contrast_rows
    assert effects["test_ndcg@20"].between(0, 1).all() and effects["cl_loss"].gt(0).all()
    own = effects[(effects["parameter"] == "dropout") & effects["is_kit"]].set_index("seed")["test_ndcg@20"]
    rescored = effects[(effects["parameter"] == P.INFERENCE) & effects["is_kit"]].set_index("seed")["test_ndcg@20"]
    assert (own - rescored).abs().max() < 1e-12  # the kit's ratio re-scored is the model's own number
    backbone = effects[(effects["parameter"] == P.INFERENCE) & (effects["value"] == 0.0)]["test_ndcg@20"]
    assert not np.allclose(backbone.to_numpy(), rescored.to_numpy())  # ratio 0 switches RF off


def test_budgets():
    full = {"epochs": 100, "patience": 5, "batch_size": 4096}
    assert P.sweep_budget(full, quick=False) == full  # to early stopping
    assert P.sweep_budget(full, quick=False, epochs=8) == {"epochs": 8, "patience": 8, "batch_size": 4096}
    quick = P.sweep_budget({**full, "epochs": 4}, quick=True, epochs=8)
    assert quick["epochs"] == quick["patience"] == P.QUICK_EPOCHS > KIT["rf_warmup_epochs"]
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        P.budget(full, 0)
