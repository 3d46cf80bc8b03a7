"""Generator health (is the flow trained?), the noise placebo, and the detectable effect."""
import math

import numpy as np
import pytest
import torch

from rfkit.generator import (GENERATORS, NoiseEmbeddingGenerator, RegressionEmbeddingGenerator,
                             RFEmbeddingGenerator, health, make_generator)
from rfkit.generator.checks import count_non_finite
from rfkit.generator.health import LEARNED_SHARE, GeneratorHealth, ridge_fit
from rfkit.models import MultimodalGCN
from rfkit.stats import describe, detectable_effect, interval
from rfkit.train import train

SMALL = {"embedding_dim": 16, "rf_hidden_dim": 32, "use_rf": True}


def linear_toy(rows: int = 512, seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Targets that are a linear map of the conditions plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(rows, 8, generator=g)
    x1 = c @ torch.randn(8, 4, generator=g) + 0.1 * torch.randn(rows, 4, generator=g)
    return [c[:, :5], c[:, 5:]], x1


# --- health ---------------------------------------------------------------------------------

def test_health_references_follow_their_definitions():
    conditions, x1 = linear_toy()
    untrained = RFEmbeddingGenerator(4, hidden_dim=16, condition_dim=8)
    h = health(untrained, conditions, x1)
    assert h.rows == 512 and h.sampling_steps == 10
    # the ridge fit knows the linear map; noise of the targets' size knows nothing
    assert h.ridge_cosine > 0.95 and h.ridge_mse < 0.05 * h.zeros_mse
    assert abs(h.noise_cosine) < 0.1 and h.noise_mse == pytest.approx(2 * h.zeros_mse, rel=0.15)
    assert h.zeros_mse == pytest.approx(float(x1.pow(2).mean()))
    torch.testing.assert_close(ridge_fit(torch.cat(conditions, 1), x1).mean(0), x1.mean(0))  # intercept
    # untrained: the gate starts the flow at v = -x + MLP, so one step lands near the MLP's output
    assert h.verdict == "not learned" and abs(h.one_step_cosine) < 0.5 * LEARNED_SHARE * h.ridge_cosine
    assert health(untrained, conditions, x1) == h  # seeded: reproducible
    assert GeneratorHealth.from_record(h.record()) == h and h.record()["verdict"] == "not learned"
    assert "not learned" in h.sentence() and f"{h.ridge_cosine:.3f}" in h.sentence()


def test_a_trained_flow_and_a_trained_regression_are_healthy():
    conditions, x1 = linear_toy()
    torch.manual_seed(0)
    flow = RFEmbeddingGenerator(4, hidden_dim=64, dropout=0.0, learning_rate=1e-2, contrast_weight=0.0,
                                cosine_guidance_scale=0.0)
    regression = RegressionEmbeddingGenerator(4, hidden_dim=64, dropout=0.0, learning_rate=1e-2,
                                              contrast_weight=0.0)
    before = health(flow, conditions, x1)
    for _ in range(300):
        flow.compute_loss_and_step(x1, conditions)
        regression.compute_loss_and_step(x1, conditions)
    after, point = health(flow, conditions, x1), health(regression, conditions, x1)
    assert after.learned and after.one_step_cosine > before.one_step_cosine + 0.5
    assert after.sampled_cosine > 0.9 and after.one_step_mse < 0.1 * after.zeros_mse
    assert point.learned and point.one_step_cosine == point.sampled_cosine  # a point estimate has no steps


def test_health_rejects_bad_targets():
    conditions, x1 = linear_toy(16)
    gen = RFEmbeddingGenerator(4, hidden_dim=8)
    with pytest.raises(ValueError, match="targets has 15 rows"):
        health(gen, conditions, x1[:15])
    with pytest.raises(ValueError, match="targets contains 1 NaN"):
        health(gen, conditions, x1.index_put((torch.tensor([0]), torch.tensor([0])), torch.tensor(float("nan"))))


def test_host_records_health_and_counts_steps_per_update(tiny):
    model = MultimodalGCN({**SMALL, "rf_steps_per_update": 3, "rf_step_every": 2}, tiny)
    for _ in range(5):  # updates on passes 0, 2 and 4
        model(train=True)
    assert model.rf_steps_taken == 9 and set(model.last_rf_losses) == {"rf_loss", "cl_loss", "total_loss"}
    h = model.generator_health()
    assert h.rows == tiny.n_users + tiny.n_items and h.verdict in ("learned", "not learned")
    with pytest.raises(ValueError, match="rf_steps_per_update"):
        MultimodalGCN({**SMALL, "rf_steps_per_update": 0}, tiny)


def test_the_warmup_takes_its_own_steps_per_update(tiny):
    # While nothing is mixed in, the generator fits with rf_warmup_steps_per_update steps per update.
    model = MultimodalGCN({**SMALL, "rf_warmup_epochs": 1, "rf_warmup_steps_per_update": 4}, tiny)
    model.rf_generator.set_epoch(0)
    model(train=True)
    assert model.rf_steps_taken == 4
    model.rf_generator.set_epoch(1)  # warmup over: one step per update (rf_steps_per_update's default)
    model(train=True)
    assert model.rf_steps_taken == 5
    assert MultimodalGCN(SMALL, tiny).rf_warmup_steps_per_update == 1  # default: as after the warmup
    with pytest.raises(ValueError, match="rf_warmup_steps_per_update"):
        MultimodalGCN({**SMALL, "rf_warmup_steps_per_update": 0}, tiny)
    with pytest.raises(ValueError, match="use_rf=True"):
        MultimodalGCN({**SMALL, "use_rf": False}, tiny).generator_health()


def test_count_non_finite_is_exact_when_a_finite_table_overflows_its_sum():
    huge = torch.full((1000,), 1e308, dtype=torch.float64)
    assert count_non_finite(huge) == 0
    huge[3] = float("inf")
    huge[7] = float("nan")
    assert count_non_finite(huge) == 2 and count_non_finite(torch.empty(0, 3)) == 0


# --- the placebo ----------------------------------------------------------------------------

def test_placebo_generates_noise_at_each_rows_target_scale():
    gen = make_generator({"rf_generator": "noise", "rf_warmup_epochs": 1, "rf_mix_ratio": 0.25}, 4)
    assert type(gen) is NoiseEmbeddingGenerator and "noise" in GENERATORS
    conditions = [torch.randn(10, 3)]
    targets = torch.randn(10, 4) * torch.arange(1, 11, dtype=torch.float32)[:, None]
    losses = gen.compute_loss_and_step(targets, conditions, user_prior=torch.randn(10, 4))
    assert losses["cl_loss"] == 0 and losses["skipped"] is False and 0.5 < losses["rf_loss"] < 5
    noise = torch.randn(10, 4)
    out = gen.generate(conditions, 3, start_noise=noise)
    torch.testing.assert_close(out, noise * targets.pow(2).mean(1).sqrt()[:, None])
    seeded = [gen.generate(conditions, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert torch.equal(*seeded)
    # another row count: the tracked table RMS
    other = gen.generate([torch.randn(6, 3)], start_noise=noise[:6])
    torch.testing.assert_close(other, noise[:6] * gen.scale())
    with pytest.raises(ValueError, match="no trajectory"):
        gen.generate(conditions, return_trajectory=True)
    original = torch.randn(10, 4)
    gen.set_epoch(0)
    assert gen.mix_embeddings(original, out, training=True) is original  # warmup, as the flow
    gen.set_epoch(1)
    torch.testing.assert_close(gen.mix_embeddings(original, out, training=True), 0.75 * original + 0.25 * out)
    fresh = make_generator({"rf_generator": "noise"}, 4)
    fresh.load_state_dict(gen.state_dict())
    assert torch.equal(fresh.generate(conditions, start_noise=noise), out) and fresh.current_epoch == 1
    assert sum(p.numel() for p in gen.parameters()) == 0  # nothing to learn
    assert health(gen, conditions, targets).verdict == "not learned"


def test_multimodal_gcn_trains_with_the_placebo(tiny):
    model = MultimodalGCN({**SMALL, "rf_generator": "noise", "rf_warmup_epochs": 1}, tiny)
    result = train(model, tiny, epochs=2, batch_size=512, progress=False)
    assert isinstance(model.rf_generator, NoiseEmbeddingGenerator) and model.rf_steps_taken > 0
    assert torch.isfinite(model.score_all()).all() and result.history["rf_loss"].notna().all()


# --- the smallest detectable effect ---------------------------------------------------------

@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_detectable_effect_has_the_stated_power(n):
    """Simulated paired t-tests on normal differences at that mean detect it 80% of the time."""
    from scipy import stats
    effect = detectable_effect(1.0, n)
    rng = np.random.default_rng(n)
    samples = rng.normal(effect, 1.0, size=(40_000, n))
    t = samples.mean(1) / (samples.std(1, ddof=1) / math.sqrt(n))
    power = float((np.abs(t) > stats.t.ppf(0.975, n - 1)).mean())
    assert power == pytest.approx(0.8, abs=0.01)


def test_detectable_effect_scales_and_shrinks_with_seeds():
    assert detectable_effect(0.02, 5) == pytest.approx(2 * detectable_effect(0.01, 5))
    assert detectable_effect(0.01, 3) > detectable_effect(0.01, 5) > detectable_effect(0.01, 50)
    assert detectable_effect(0.0, 5) == 0.0 and math.isnan(detectable_effect(0.01, 1))
    with pytest.raises(ValueError, match="std"):
        detectable_effect(-1.0, 5)


def test_within_noise_verdicts_say_what_they_could_have_detected():
    row = {**interval([0.01, -0.01, 0.02, -0.015, 0.005]), "verdict": "within noise"}
    assert row["detectable"] == pytest.approx(detectable_effect(row["delta_std"], 5))
    assert f"could have detected differences of {row['detectable']:.4f} or more" in describe(row)
    clear = {**interval([0.1, 0.11, 0.12]), "verdict": "better"}
    assert "could have detected" not in describe(clear)


# --- the levels of "learned nothing", and the mean-and-variance check ----------------------

def test_zero_velocity_losses_are_the_learned_nothing_level():
    """At v = 0 the flow's MSE is E|x1 - x0|^2 = E[x1^2] + 1 per entry in flow units (about 2),
    and the contrastive endpoint x_t still holds t * x1: better than chance, not perfect."""
    from rfkit.generator.health import zero_velocity_losses
    conditions, x1 = linear_toy(2000)
    gen = RFEmbeddingGenerator(4, hidden_dim=16, max_contrast_rows=256, cosine_guidance_scale=0.0)
    gen.compute_loss_and_step(x1, conditions)  # sets the target scale
    zero = zero_velocity_losses(gen, x1, conditions, n_draws=16)
    assert zero["rf_loss"] == pytest.approx(1 + float((x1 / gen.scale()).pow(2).mean()), rel=0.05)
    assert 0.3 * math.log(256) < zero["cl_loss"] < math.log(256)
    assert zero_velocity_losses(gen, x1, conditions, n_draws=16) == zero  # seeded
    assert type(gen.net).__name__ == "VelocityNet"  # the trained net is back in place
    with pytest.raises(ValueError, match="taken a training step"):
        zero_velocity_losses(RFEmbeddingGenerator(4), x1, conditions)


def test_mean_and_variance_check_on_a_point_estimate():
    """A regression generator ignores its start noise: its samples have no spread, its 1-step
    output is their mean, and a sample's MSE is the regression MSE plus a zero variance."""
    from rfkit.lab.flow_probes import mean_and_variance_check
    conditions, x1 = linear_toy(300)
    gen = RegressionEmbeddingGenerator(4, hidden_dim=16, dropout=0.0, learning_rate=1e-2)
    for _ in range(50):
        gen.compute_loss_and_step(x1, conditions)
    mse = float(torch.mean((gen.generate(conditions) - x1) ** 2))
    check = mean_and_variance_check(gen, conditions, x1, regression_mse=mse, n_samples=4)
    assert check["variance"] == 0 and check["one_step_vs_mean_mse"] == 0
    assert check["one_step_vs_mean_cosine"] == pytest.approx(1.0)
    assert check["sample_mse"] == pytest.approx(mse) == pytest.approx(check["predicted_sample_mse"])
    assert check["sample_over_regression"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="n_samples"):
        mean_and_variance_check(gen, conditions, x1, mse, n_samples=1)


def test_health_table_counts_and_averages_per_generator():
    import pandas as pd

    from rfkit.lab.health import health_sentence, health_table
    runs = pd.DataFrame([
        {"variant": v, "seed": s, "rf_steps_taken": steps, "health_verdict": verdict, "health_one_step_cosine": cos,
         "health_ridge_cosine": 0.4, "health_noise_cosine": 0.0, "health_sampled_cosine": cos / 2}
        for v, s, steps, verdict, cos in [("RF", 0, 100, "learned", 0.3), ("RF", 1, 120, "not learned", 0.1),
                                          ("placebo", 0, 100, "not learned", 0.0)]]
        + [{"variant": "backbone", "seed": 0}])  # no generator: no health, left out
    table = health_table(runs)
    assert list(table.index) == ["RF", "placebo"]
    assert table.loc["RF", "runs"] == 2 and table.loc["RF", "learned"] == 1
    assert table.loc["RF", "one_step_cosine"] == pytest.approx(0.2) and table.loc["RF", "rf_steps"] == 110
    assert "RF learned in 1 of 2 runs" in health_sentence(runs) and "placebo learned in 0 of 1" in health_sentence(runs)
    with pytest.raises(ValueError, match="no generator health"):
        health_table(runs[["variant", "seed"]])


def test_a_model_that_never_mixed_is_left_out_of_the_generator_verdicts():
    import pandas as pd

    from rfkit.lab.health import mixed_runs, never_mixed_sentence

    runs = pd.DataFrame([
        {"variant": "backbone", "seed": 0, "generator": None, "mixed_at_best": False},
        {"variant": "RF", "seed": 0, "generator": "flow", "mixed_at_best": True},
        {"variant": "RF", "seed": 1, "generator": "flow", "mixed_at_best": False},
        {"variant": "placebo", "seed": 1, "generator": "noise", "mixed_at_best": True}])
    kept, never = mixed_runs(runs)
    assert list(kept.index) == [0, 1, 3] and list(never.index) == [2]
    sentence = never_mixed_sentence(never)
    assert sentence.startswith("1 generator run(s) never mixed") and "RF seed 1" in sentence
    assert never_mixed_sentence(runs.iloc[:0]) == ""
    with pytest.raises(ValueError, match="mixed_at_best"):
        mixed_runs(runs.drop(columns="mixed_at_best"))
