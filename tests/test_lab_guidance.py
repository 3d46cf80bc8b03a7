"""rfkit.lab.guidance: differences from guidance off and from the cheapest sampler, and the sentences."""
import pandas as pd
import pytest

from rfkit.lab.guidance import (REFERENCE, conclusions, guidance_conclusions, guidance_configs,
                                guidance_differences, prior_differences, sampling_conclusions, sampling_differences,
                                score_sampling, variant_name)
from rfkit.models import MultimodalGCN
from rfkit.train import train

SEEDS = (0, 1, 2)
BETTER, WORSE, NOISY = variant_name(0.2, 0.0), variant_name(0.5, 0.0), variant_name(0.0, 0.1)
# Per-seed offsets from guidance off: consistently up, consistently down, both ways.
OFFSETS = {REFERENCE: (0, 0, 0), BETTER: (0.010, 0.012, 0.011), WORSE: (-0.010, -0.009, -0.011),
           NOISY: (0.010, -0.010, 0.002)}


@pytest.fixture()
def grid():
    rows = []
    for variant, offsets in OFFSETS.items():
        positive_scale = not variant.startswith("user 0.0,")
        for seed, offset in zip(SEEDS, offsets):
            base = 0.20 + 0.03 * seed  # seed noise far larger than the effects: only pairing sees them
            for prior in (False, True):
                rows.append({"variant": variant, "seed": seed, "inference_prior": prior,
                             "valid_ndcg@20": base + offset, "test_ndcg@20": base + offset,
                             "cosine": 0.5 + 0.1 * seed + (0.02 + 0.001 * seed if prior and positive_scale else 0)})
    return pd.DataFrame(rows)


def test_guidance_configs_name_scales_and_need_the_reference():
    configs = guidance_configs({"use_rf": True}, [0, 0.2], [0.0])
    assert list(configs) == [REFERENCE, BETTER]
    assert configs[BETTER] == {"use_rf": True, "rf_user_guidance_scale": 0.2, "rf_cosine_guidance_scale": 0.0}
    with pytest.raises(ValueError, match="must contain 0.0"):
        guidance_configs({}, [0.2, 0.5], [0.0])
    with pytest.raises(ValueError, match="at least one"):
        guidance_configs({}, [], [0.0])


def test_guidance_differences_are_paired_against_guidance_off(grid):
    table = guidance_differences(grid).set_index(["metric", "variant"])
    assert len(table) == 2 * 3
    assert table.loc[("test_ndcg@20", BETTER), "delta"] == pytest.approx(0.011)
    assert table.loc[("test_ndcg@20", BETTER), "verdict"] == "better"
    assert table.loc[("test_ndcg@20", WORSE), "verdict"] == "worse"
    assert table.loc[("test_ndcg@20", NOISY), "verdict"] == "within noise"


def test_prior_differences_compare_each_model_with_itself(grid):
    table = prior_differences(grid).set_index(["metric", "variant"])
    assert table.loc[("cosine", BETTER), "delta"] == pytest.approx(0.021)
    assert table.loc[("cosine", BETTER), "verdict"] == "better"
    zero = table.loc[("cosine", REFERENCE)]
    assert zero["delta"] == zero["ci_low"] == zero["ci_high"] == 0.0 and zero["verdict"] == "within noise"
    assert (table.loc["test_ndcg@20", "delta"] == 0).all()


def sampling_quality(gains):
    """Per-draw metrics of settings whose differences from euler 1 are `gains[setting]` per draw."""
    rows = []
    for setting, per_draw in gains.items():
        solver, steps = setting.split()
        for draw, gain in zip(SEEDS, per_draw):
            value = 0.30 + 0.02 * draw + gain
            rows.append({"solver": solver, "n_steps": int(steps), "noise_seed": draw, "setting": setting,
                         "valid_ndcg@20": value, "test_ndcg@20": value})
    return pd.DataFrame(rows)


TIMING = pd.DataFrame({"solver": ["euler"] * 3 + ["heun"] * 3, "n_steps": [1, 10, 50] * 2,
                       "seconds": [0.010, 0.05, 0.25, 0.020, 0.10, 0.50]})
ENDPOINTS = TIMING.assign(cosine=[0.80, 0.90, 0.91, 0.85, 0.91, 0.91], mse=[0.5, 0.3, 0.25, 0.4, 0.25, 0.25])
REFERENCES = pd.DataFrame({"cosine": [0.95, 0.0], "mse": [0.2, 1.0]},
                          index=pd.Index(["regression", "all zeros"], name="reference"))


@pytest.mark.parametrize("gain, word", [((0.010, 0.011, 0.012), "holds"),
                                        ((-0.010, -0.011, -0.012), "does NOT hold (fewer steps score better)"),
                                        ((0.010, -0.010, 0.001), "does NOT hold here (within noise)")])
def test_sampling_conclusions_judge_more_steps_by_their_interval(gain, word):
    quality = sampling_quality({"euler 1": (0, 0, 0), "euler 10": gain, "euler 50": gain,
                                "heun 1": (0.001, -0.001, 0), "heun 10": gain, "heun 50": gain})
    differences = sampling_differences(quality)
    assert set(differences["setting"]) == {"euler 10", "euler 50", "heun 1", "heun 10", "heun 50"}
    assert differences.set_index(["metric", "setting"]).loc[("valid_ndcg@20", "euler 50"), "n_steps"] == 50
    sentences, flags = sampling_conclusions(differences, TIMING, ENDPOINTS, REFERENCES, "movielens")
    assert sentences[0].startswith("'More steps are slower' holds on movielens") and flags["time_grows_with_steps"]
    assert "euler 10.0 -> 250.0 ms, heun 20.0 -> 500.0 ms (1 -> 50 steps" in sentences[0]
    assert sentences[1].startswith(f"'More steps give better quality' {word} on movielens: euler 50 steps minus 1")
    assert "trained models, one per training seed" in sentences[1] and "+0.1100" in sentences[1]
    assert flags["generate_ms"]["euler"] == pytest.approx({"1": 10.0, "50": 250.0})
    assert flags["one_step_enough"] == (word != "holds")
    assert sentences[2].endswith(f"they {'do not beat' if word != 'holds' else 'beat'} 1 step beyond noise here.")
    assert sentences[4].startswith("Endpoints on movielens at euler 50 steps: cosine 0.910, MSE 0.25")
    assert "regression baseline fitted to the same inputs: cosine 0.950, MSE 0.2" in sentences[4]
    assert flags["endpoint_cosine_below_regression"]


def test_sampling_differences_need_the_reference_solver():
    with pytest.raises(ValueError, match="reference_solver 'euler'"):
        sampling_differences(sampling_quality({"heun 1": (0, 0, 0), "heun 10": (0, 0, 0)}))


def test_conclusions_name_the_data_and_count_chance(grid):
    quality = sampling_quality({"euler 1": (0, 0, 0), "euler 10": (0.010, 0.011, 0.012),
                                "euler 50": (0.010, 0.011, 0.012)})
    sentences, flags = conclusions(guidance_differences(grid), prior_differences(grid), sampling_differences(quality),
                                   TIMING[TIMING.solver == "euler"], ENDPOINTS[ENDPOINTS.solver == "euler"],
                                   REFERENCES, "synthetic_small", "movielens")
    guidance = [s for s in sentences if s.startswith("'Guidance helps")]
    assert len(guidance) == 2 and all("on synthetic data (synthetic_small)" in s for s in guidance)
    assert f"better: {BETTER}; worse: {WORSE}; 1 of 3 within noise" in guidance[0]
    noisy = guidance_differences(grid).set_index(["metric", "variant"]).loc[("valid_ndcg@20", NOISY), "detectable"]
    assert f"1 of 3 within noise (could have detected {noisy:.4f} or more)" in guidance[0]
    assert flags["guidance_better"]["test_ndcg@20"] == [BETTER] and flags["guidance_worse"]["valid_ndcg@20"] == [WORSE]
    assert flags["best_guidance_variant"] == BETTER
    assert "At user scale 0 the prior term is zero: adding it changes nothing, as it must." in sentences
    assert all("synthetic" not in s for s in sentences if s.startswith("'More steps"))
    # Verdicts: 2 metrics x 3 guided settings, 2 metrics x 2 prior rows at positive scale, 2 x 2 sampling rows;
    # beyond noise: better and worse guidance (x2), the prior on cosine (x2), both longer samplers (x2).
    assert flags["n_verdicts"] == 6 + 4 + 4
    assert sentences[-1].startswith("10 of these 14 verdicts exceed noise; about 0.7 of 14")


def test_score_sampling_pairs_settings_by_noise_draw(tiny):
    model = MultimodalGCN({"use_rf": True, "embedding_dim": 16, "rf_hidden_dim": 32, "rf_warmup_epochs": 0,
                           "rf_inference_mix_ratio": 0.5}, tiny)
    train(model, tiny, epochs=1, patience=1, batch_size=4096, progress=False)
    quality = score_sampling(model, tiny, ["euler", "heun"], [1, 4], [0, 1])
    assert len(quality) == 8 and list(quality["setting"][:2]) == ["euler 1", "euler 1"]
    again = score_sampling(model, tiny, ["euler"], [1], [1])
    assert again["test_ndcg@20"].iloc[0] == quality["test_ndcg@20"].iloc[1]  # same draw, same numbers
    assert quality["valid_ndcg@20"].iloc[0] != quality["valid_ndcg@20"].iloc[1]  # another draw moves them
    with pytest.raises(ValueError, match="use_rf=True"):
        score_sampling(MultimodalGCN({"use_rf": False, "embedding_dim": 16}, tiny), tiny, ["euler"], [1], [0])


def test_a_prior_that_moves_results_at_scale_zero_is_called_a_bug(grid):
    broken = grid.copy()
    broken.loc[broken.inference_prior & (broken.variant == REFERENCE), "cosine"] += 0.003
    sentences, flags = guidance_conclusions(guidance_differences(broken), prior_differences(broken), "synthetic_tiny")
    assert sentences[-1].endswith("by up to 0.003: a bug.")
    assert flags["prior_identity_at_zero"] == pytest.approx(0.003)
