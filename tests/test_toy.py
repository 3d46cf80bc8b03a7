"""rfkit.toy: the 2-D targets, plain-RF training, reflow and the sample-quality distance."""
import copy

import pytest
import torch

from rfkit import straightness
from rfkit.lab.toy import (TARGETS, constant_condition, distance_by_steps, flow_paths, sample_target,
                       sliced_wasserstein, toy_generator, train_toy_flow)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_targets_are_seeded_2d_clouds_of_noise_scale(name):
    a, b = sample_target(name, 500, seed=0), sample_target(name, 500, seed=0)
    assert a.shape == (500, 2) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, sample_target(name, 500, seed=1))
    assert 0.5 < float(a.std()) < 3.0  # comparable to the N(0, I) source


def test_ring_has_the_requested_modes():
    points = sample_target("ring", 4000, seed=0)
    angles = torch.atan2(points[:, 1], points[:, 0])
    nearest = torch.round(angles / (2 * torch.pi / 8)) % 8
    assert set(nearest.tolist()) == set(range(8))
    torch.testing.assert_close(points.norm(dim=1).mean(), torch.tensor(3.0), atol=0.1, rtol=0)


def test_unknown_target_is_named():
    with pytest.raises(ValueError, match="moons"):
        sample_target("spiral", 10, seed=0)


def test_sliced_wasserstein_separates_distributions():
    x, y = sample_target("moons", 1000, 0), sample_target("moons", 1000, 1)
    same, shifted = sliced_wasserstein(x, y), sliced_wasserstein(x, y + torch.tensor([1.0, 0.0]))
    assert sliced_wasserstein(x, x) == 0.0
    assert same < 0.1 < shifted
    # Every projection of a shift by (1, 0) moves by |cos|, whose mean over directions is 2/pi.
    assert shifted == pytest.approx(2 / torch.pi, abs=0.05)
    with pytest.raises(ValueError, match="equal shapes"):
        sliced_wasserstein(x, y[:10])


def test_toy_generator_is_plain_rectified_flow():
    gen = toy_generator(hidden_dim=16, n_layers=2)
    assert gen.embedding_dim == 2 and gen.net.condition_dim == 1
    assert gen.dropout == 0 and gen.cosine_guidance_scale == 0 and gen.contrast_weight == 0
    assert constant_condition(3).shape == (3, 1)


def test_training_is_reproducible_and_learns():
    target = sample_target("moons", 2000, 0)
    runs = []
    for _ in range(2):
        gen = toy_generator(hidden_dim=32, n_layers=2, seed=0)
        runs.append(train_toy_flow(gen, target, steps=150, batch_size=256, seed=0))
    assert runs[0] == runs[1]
    assert gen.optimizer.param_groups[0]["lr"] == pytest.approx(gen.learning_rate / 150)  # decayed linearly
    assert sum(runs[0][-20:]) / 20 < sum(runs[0][:20]) / 20


def test_reflow_straightens_and_improves_one_step_samples():
    torch.manual_seed(0)
    target, reference = sample_target("moons", 4000, 0), sample_target("moons", 1000, 1)
    rf1 = toy_generator(hidden_dim=64, n_layers=2, seed=0)
    train_toy_flow(rf1, target, steps=300, batch_size=256, seed=0)
    z0, z1 = rf1.reflow_pairs([constant_condition(2000)], 30, generator=torch.Generator().manual_seed(1))
    rf2 = copy.deepcopy(rf1)
    losses = train_toy_flow(rf2, z1, steps=200, batch_size=256, seed=2, noise=z0)
    assert sum(losses[-20:]) / 20 < 0.2  # a deterministic coupling leaves little to average away

    noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(3))
    paths1, paths2 = flow_paths(rf1, noise, 30), flow_paths(rf2, noise, 30)
    assert paths1.shape == (31, 1000, 2)
    assert straightness(paths2) < 0.5 * straightness(paths1)
    d1, d2 = (distance_by_steps(g, noise, reference, [1, 20]) for g in (rf1, rf2))
    assert set(d1) == {1, 20}
    assert d2[1] < d1[1]


def test_fixed_noise_must_match_target():
    gen = toy_generator(hidden_dim=8, n_layers=1)
    with pytest.raises(ValueError, match="noise"):
        train_toy_flow(gen, torch.zeros(10, 2), steps=1, noise=torch.zeros(9, 2))
