"""RFEmbeddingGenerator: analytic ODE checks, the objective, mixing, learning, reflow, checkpoints,
divergence handling."""
import copy
import io
import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from rfkit import RFEmbeddingGenerator, straightness
from rfkit.generator import integrate
from rfkit.generator.base import CHUNK_ROWS
from rfkit.generator.objective import cosine_gradient, interpolate, prior_guidance

SPEC_DEFAULTS = {
    "hidden_dim": 256, "n_layers": 2, "dropout": 0.1, "learning_rate": 0.001, "sampling_steps": 10,
    "user_guidance_scale": 0.2, "guidance_decay_power": 2.0, "cosine_guidance_scale": 0.1,
    "cosine_decay_power": 2.0, "warmup_epochs": 0, "train_mix_ratio": 0.5, "inference_mix_ratio": 0.5,
    "contrast_temp": 0.2, "contrast_weight": 1.0,
}


def make_gen(**kw) -> RFEmbeddingGenerator:
    torch.manual_seed(0)
    kw.setdefault("hidden_dim", 32)
    return RFEmbeddingGenerator(4, condition_dim=3, **kw)


def constant_field(gen: RFEmbeddingGenerator, velocity: torch.Tensor) -> None:
    """Make the net output `velocity` everywhere (all weights zero, output bias = velocity)."""
    with torch.no_grad():
        for p in gen.net.parameters():
            p.zero_()
        gen.net.out.bias.copy_(velocity)


def test_spec_parameters_and_defaults():
    gen = RFEmbeddingGenerator(embedding_dim=8)
    for name, default in SPEC_DEFAULTS.items():
        assert getattr(gen, name) == default, name
    with pytest.raises(TypeError):
        RFEmbeddingGenerator()  # embedding_dim is required


def test_constant_field_is_exact_in_one_euler_step():
    gen = make_gen()
    v = torch.tensor([1.0, -2.0, 0.5, 3.0])
    constant_field(gen, v)
    x0, c = torch.randn(6, 4), torch.randn(6, 3)
    out = gen.generate([c], n_steps=1, start_noise=x0)
    torch.testing.assert_close(out, x0 + v)
    assert torch.equal(x0, x0.clone())  # start noise is not modified in place


@pytest.mark.parametrize("solver", ["midpoint", "heun"])
@pytest.mark.parametrize("n_steps", [1, 3])
def test_second_order_solvers_exact_for_field_linear_in_t(solver, n_steps):
    a, b = torch.tensor([0.3, -1.0]), torch.tensor([2.0, 4.0])
    x0 = torch.randn(5, 2)
    x1 = integrate(lambda x, t: (a + b * t).expand_as(x).clone(), x0.clone(), n_steps, solver)
    torch.testing.assert_close(x1, x0 + a + b / 2)
    euler = integrate(lambda x, t: (a + b * t).expand_as(x).clone(), x0.clone(), 1, "euler")
    assert not torch.allclose(euler, x0 + a + b / 2)  # first order misses b/2


def test_trajectory_and_straightness_of_straight_paths():
    gen = make_gen()
    constant_field(gen, torch.ones(4))
    out, traj = gen.generate([torch.randn(7, 3)], n_steps=5, return_trajectory=True,
                             generator=torch.Generator().manual_seed(1))
    assert traj.shape == (6, 7, 4)
    torch.testing.assert_close(traj[-1], out)
    torch.testing.assert_close(traj[2] - traj[0], torch.full((7, 4), 0.4))
    assert straightness(traj) == pytest.approx(0.0, abs=1e-10)
    bent = traj.clone()
    bent[1] += 1.0  # a detour in one step
    assert straightness(bent) > 1.0


def test_loss_target_is_x1_minus_x0_on_fixed_draw():
    gen = make_gen(cosine_guidance_scale=0.0, contrast_weight=0.0, dropout=0.0)
    x0, x1, c = torch.randn(10, 4), torch.randn(10, 4), torch.randn(10, 3)
    t = torch.linspace(0, 1, 10)
    x_t = t[:, None] * x1 + (1 - t[:, None]) * x0
    with torch.no_grad():
        losses = gen.loss_terms(x0, x1, t, c)
        expected = ((gen.net(x_t, t, c) - (x1 - x0)) ** 2).mean()
    torch.testing.assert_close(losses["rf_loss"], expected)
    torch.testing.assert_close(losses["total_loss"], expected)
    constant_field(gen, torch.zeros(4))
    with torch.no_grad():
        torch.testing.assert_close(gen.loss_terms(x0, x1, t, c)["rf_loss"], ((x1 - x0) ** 2).mean())


def test_guidance_terms_match_hand_computation():
    prior = torch.tensor([[1.0, 2.0], [-4.0, 0.0]])
    t = torch.tensor([0.5, 0.0])
    # (1 - t)^2 * 0.2 * prior
    torch.testing.assert_close(prior_guidance(prior, t, 0.2, 2.0), torch.tensor([[0.05, 0.1], [-0.8, 0.0]]))
    x = torch.randn(6, 5, requires_grad=True)
    y = torch.randn(6, 5)
    F.cosine_similarity(x, y).sum().backward()
    torch.testing.assert_close(cosine_gradient(x.detach(), y), x.grad)

    # With a zero net, the predicted velocity is exactly the sum of both guidance terms.
    gen = make_gen(user_guidance_scale=0.5, guidance_decay_power=1.0, cosine_guidance_scale=0.3,
                   cosine_decay_power=3.0, contrast_weight=0.0)
    constant_field(gen, torch.zeros(4))
    x0, x1, up = torch.randn(8, 4), torch.randn(8, 4), torch.randn(8, 4)
    t = torch.full((8,), 0.25)
    x_t, v_target = interpolate(x0, x1, t)
    v = 0.75 * 0.5 * up + 0.75**3 * 0.3 * cosine_gradient(x_t, x1)
    with torch.no_grad():
        torch.testing.assert_close(gen.loss_terms(x0, x1, t, torch.randn(8, 3), up)["rf_loss"],
                                   ((v - v_target) ** 2).mean())


def test_total_loss_is_rf_plus_weighted_contrast():
    gen = make_gen(contrast_weight=0.7)
    out = gen.compute_loss_and_step(torch.randn(20, 4), [torch.randn(20, 2), torch.randn(20, 1)])
    assert set(out) == {"rf_loss", "cl_loss", "total_loss", "skipped"} and out["skipped"] is False
    assert all(isinstance(out[k], float) for k in ("rf_loss", "cl_loss", "total_loss"))
    assert out["total_loss"] == pytest.approx(out["rf_loss"] + 0.7 * out["cl_loss"], rel=1e-5)


def test_warmup_boundary_and_mix_arithmetic():
    gen = make_gen(warmup_epochs=3, train_mix_ratio=0.1, inference_mix_ratio=0.2)
    orig, new = torch.randn(5, 4), torch.randn(5, 4)
    gen.set_epoch(2)
    assert gen.mix_embeddings(orig, new, training=True) is orig
    assert gen.mix_embeddings(orig, new, training=False) is orig
    gen.set_epoch(3)
    torch.testing.assert_close(gen.mix_embeddings(orig, new, training=True), 0.9 * orig + 0.1 * new)
    torch.testing.assert_close(gen.mix_embeddings(orig, new, training=False), 0.8 * orig + 0.2 * new)
    # An explicit epoch overrides the one set by the trainer.
    assert gen.mix_embeddings(orig, new, training=True, epoch=0) is orig
    gen.compute_loss_and_step(torch.randn(5, 4), [torch.randn(5, 3)], epoch=1)
    assert gen.current_epoch == 1 and gen.mix_embeddings(orig, new, training=False) is orig


def test_generate_builds_no_graph_and_host_model_is_untouched():
    host = torch.nn.Linear(3, 3)
    feats = torch.randn(16, 3)
    cond = host(feats)
    target = host(feats)[:, :3].repeat(1, 2)[:, :4]
    gen = make_gen()
    gen.compute_loss_and_step(target, [cond], user_prior=target * 0.1)
    assert all(p.grad is None for p in host.parameters())
    out = gen.generate([cond])
    assert not out.requires_grad and out.grad_fn is None


def test_generation_is_deterministic_and_chunk_invariant():
    gen = make_gen()
    c = torch.randn(50, 3)
    a = gen.generate([c], generator=torch.Generator().manual_seed(3))
    b = gen.generate([c], generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    gen.chunk_size = 7
    torch.testing.assert_close(gen.generate([c], generator=torch.Generator().manual_seed(3)), a)
    assert not torch.equal(gen.generate([c], generator=torch.Generator().manual_seed(4)), a)


def test_chunk_rows_follow_the_device_unless_set():
    gen = make_gen()
    assert gen.chunk_size is None
    assert gen.chunk_rows(torch.device("cpu")) == CHUNK_ROWS["cpu"] == 8192
    assert gen.chunk_rows(torch.device("cuda", 0)) == CHUNK_ROWS["cuda"] > CHUNK_ROWS["cpu"]
    gen.chunk_size = 7
    assert gen.chunk_rows(torch.device("cuda")) == 7  # an explicit size wins everywhere
    with pytest.raises(ValueError, match="chunk_size"):
        RFEmbeddingGenerator(4, chunk_size=0)


def test_tiny_conditional_problem_is_learned():
    torch.manual_seed(0)
    c = torch.randn(256, 6)
    target = c @ torch.randn(6, 4)  # each row's target is a function of its condition
    gen = RFEmbeddingGenerator(4, hidden_dim=64, dropout=0.0, learning_rate=3e-3, contrast_weight=0.1)

    def error() -> float:
        out = gen.generate([c], generator=torch.Generator().manual_seed(0))
        return float(((out - target) ** 2).mean() / target.var())

    gen.compute_loss_and_step(target, [c])
    before = error()
    losses = [gen.compute_loss_and_step(target, [c])["rf_loss"] for _ in range(600)]
    after = error()
    assert sum(losses[-50:]) < 0.5 * sum(losses[:50])
    assert after < 0.15 < before


def test_reflow_pairs_are_coupled_and_straighten_paths():
    torch.manual_seed(0)
    c = torch.zeros(512, 1)  # uninformative condition: a two-mode target makes 1-RF paths curve
    sign = torch.randint(0, 2, (512, 1)).float() * 2 - 1
    target = torch.cat([3 * sign, 0.3 * torch.randn(512, 1)], dim=1)
    gen = RFEmbeddingGenerator(2, hidden_dim=64, dropout=0.0, learning_rate=3e-3, contrast_weight=0.0,
                               cosine_guidance_scale=0.0)
    for _ in range(800):
        gen.compute_loss_and_step(target, [c])
    probe = torch.Generator().manual_seed(9)
    _, traj1 = gen.generate([c], n_steps=20, generator=probe, return_trajectory=True)

    z0, z1 = gen.reflow_pairs([c], n_steps=20, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(gen.generate([c], n_steps=20, start_noise=z0), z1)
    for _ in range(800):
        gen.compute_loss_and_step(z1, [c], fixed_noise=z0)
    _, traj2 = gen.generate([c], n_steps=20, generator=torch.Generator().manual_seed(9), return_trajectory=True)
    assert straightness(traj2) < 0.5 * straightness(traj1)


def test_checkpoint_round_trip_into_fresh_instance():
    torch.manual_seed(0)
    gen = RFEmbeddingGenerator(4, hidden_dim=16, warmup_epochs=2)
    target, conds = torch.randn(30, 4), [torch.randn(30, 2), torch.randn(30, 3)]
    for epoch in range(3):
        gen.compute_loss_and_step(target, conds, epoch=epoch)
    state = gen.state_dict()

    fresh = RFEmbeddingGenerator(4, hidden_dim=16, warmup_epochs=2)
    assert fresh.net is None
    fresh.load_state_dict(state)
    assert fresh.current_epoch == 2
    seed = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(fresh.generate(conds, generator=seed()), gen.generate(conds, generator=seed()))
    # The optimizer state came along: the next step is identical too.
    torch.manual_seed(1)
    a = gen.compute_loss_and_step(target, conds)
    torch.manual_seed(1)
    b = fresh.compute_loss_and_step(target, conds)
    assert a == b
    assert torch.equal(fresh.generate(conds, generator=seed()), gen.generate(conds, generator=seed()))


def test_gradient_checkpointing_gives_the_same_step():
    results = []
    for flag in (False, True):
        gen = make_gen(gradient_checkpointing=flag, dropout=0.0)
        torch.manual_seed(2)
        results.append(gen.compute_loss_and_step(torch.randn(40, 4), [torch.randn(40, 3)]))
        results.append(gen.generate([torch.ones(3, 3)], start_noise=torch.zeros(3, 4)))
    assert results[0] == pytest.approx(results[2])
    torch.testing.assert_close(results[1], results[3])


def test_bf16_autocast_path_stays_close_to_fp32():
    gen = make_gen()
    c = torch.randn(64, 3)
    fp32 = gen.generate([c], generator=torch.Generator().manual_seed(0))
    bf16 = gen.generate([c], generator=torch.Generator().manual_seed(0), bf16=True)
    assert bf16.dtype == torch.float32
    assert F.cosine_similarity(fp32, bf16).mean() > 0.99


def test_generation_on_device_agrees_with_cpu(device):
    """A CPU-trained generator moved to the device integrates the same ODE (cosine > 0.999)."""
    gen = make_gen(dropout=0.0)
    target, c = torch.randn(300, 4), torch.randn(300, 3)
    for _ in range(20):
        gen.compute_loss_and_step(target, [c])
    noise, prior = torch.randn(300, 4), 0.1 * target
    expected = gen.generate([c], start_noise=noise, user_prior=prior, solver="heun")
    moved = copy.deepcopy(gen).to(device)
    out = moved.generate([c.to(device)], start_noise=noise.to(device), user_prior=prior.to(device),
                         solver="heun")
    assert out.device.type == torch.device(device).type
    assert F.cosine_similarity(out.cpu(), expected).min() > 0.999
    bf16 = moved.generate([c.to(device)], start_noise=noise.to(device), bf16=True)
    assert F.cosine_similarity(bf16.cpu(), gen.generate([c], start_noise=noise)).mean() > 0.99


def test_generator_builds_and_trains_on_the_conditions_device(device):
    torch.manual_seed(0)
    gen = RFEmbeddingGenerator(4, hidden_dim=32, dropout=0.0, learning_rate=3e-3)
    target, c = torch.randn(128, 4, device=device), torch.randn(128, 3, device=device)
    losses = [gen.compute_loss_and_step(target, [c])["rf_loss"] for _ in range(60)]
    assert all(p.device.type == torch.device(device).type for p in gen.parameters())
    assert sum(losses[-10:]) < sum(losses[:10])
    buffer = io.BytesIO()
    torch.save(gen.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, map_location="cpu")  # a device checkpoint loads on a CPU machine
    fresh = RFEmbeddingGenerator(4, hidden_dim=32, dropout=0.0, learning_rate=3e-3)
    fresh.load_state_dict(state)
    assert all(p.device.type == "cpu" for p in fresh.parameters())
    noise = torch.randn(128, 4)
    torch.testing.assert_close(fresh.generate([c.cpu()], start_noise=noise),
                               gen.generate([c], start_noise=noise.to(device)).cpu(),
                               rtol=1e-4, atol=1e-5)


def test_user_prior_guidance_at_generation():
    gen = make_gen(user_guidance_scale=0.5, guidance_decay_power=0.0)
    constant_field(gen, torch.zeros(4))
    prior = torch.randn(6, 4)
    out = gen.generate([torch.randn(6, 3)], start_noise=torch.zeros(6, 4), user_prior=prior)
    torch.testing.assert_close(out, 0.5 * prior)  # power 0: a constant field of 0.5 * prior


def test_from_config_reads_spec_keys():
    config = {"use_rf": True, "rf_hidden_dim": 128, "rf_n_layers": 2, "rf_lr": 0.0001, "rf_sampling_steps": 10,
              "rf_warmup_epochs": 5, "rf_mix_ratio": 0.1, "rf_inference_mix_ratio": 0.2,
              "rf_contrast_temp": 0.3, "embedding_dim": 64}
    gen = RFEmbeddingGenerator.from_config(config, embedding_dim=8)
    assert (gen.hidden_dim, gen.learning_rate, gen.warmup_epochs) == (128, 0.0001, 5)
    assert (gen.train_mix_ratio, gen.inference_mix_ratio, gen.contrast_temp) == (0.1, 0.2, 0.3)
    with pytest.raises(ValueError, match="rf_hidden_dim"):
        RFEmbeddingGenerator.from_config({"rf_hiden_dim": 8}, embedding_dim=8)
    with pytest.raises(ValueError, match="rf_lr"):
        RFEmbeddingGenerator.from_config({"rf_learning_rate": 0.1}, embedding_dim=8)


def test_default_yaml_config_matches_spec():
    from rfkit.config import load
    config = load("rf_default")
    gen = RFEmbeddingGenerator.from_config(config, embedding_dim=16)
    assert config["use_rf"] is True
    assert (gen.hidden_dim, gen.n_layers, gen.learning_rate, gen.sampling_steps) == (128, 2, 0.0001, 10)
    assert (gen.warmup_epochs, gen.train_mix_ratio, gen.inference_mix_ratio) == (5, 0.1, 0.2)


BAD_CONSTRUCTOR = [
    ({"embedding_dim": 0}, ValueError, "embedding_dim"),
    ({"embedding_dim": 8.0}, TypeError, "embedding_dim"),
    ({"embedding_dim": 8, "train_mix_ratio": 1.5}, ValueError, "train_mix_ratio"),
    ({"embedding_dim": 8, "inference_mix_ratio": -0.1}, ValueError, "inference_mix_ratio"),
    ({"embedding_dim": 8, "sampling_steps": 0}, ValueError, "sampling_steps"),
    ({"embedding_dim": 8, "dropout": 1.0}, ValueError, "dropout"),
    ({"embedding_dim": 8, "contrast_temp": 0.0}, ValueError, "contrast_temp"),
    ({"embedding_dim": 8, "warmup_epochs": True}, TypeError, "warmup_epochs"),
    ({"embedding_dim": 8, "max_skipped_steps": 0}, ValueError, "max_skipped_steps"),
    ({"embedding_dim": 8, "max_grad_norm": 0.0}, ValueError, "max_grad_norm"),
]


@pytest.mark.parametrize("kwargs,error,name", BAD_CONSTRUCTOR)
def test_bad_constructor_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        RFEmbeddingGenerator(**kwargs)


def nan_at(shape, row=0):
    t = torch.randn(*shape)
    t[row, 0] = float("nan")
    return t


BAD_CALLS = [
    ("target", lambda g: g.compute_loss_and_step(nan_at((5, 4)), [torch.randn(5, 3)]), ValueError, "target_embeds"),
    ("cond", lambda g: g.compute_loss_and_step(torch.randn(5, 4), [torch.full((5, 3), float("inf"))]),
     ValueError, r"conditions\[0\]"),
    ("prior", lambda g: g.compute_loss_and_step(torch.randn(5, 4), [torch.randn(5, 3)], user_prior=nan_at((5, 4))),
     ValueError, "user_prior"),
    ("rows", lambda g: g.compute_loss_and_step(torch.randn(6, 4), [torch.randn(5, 3)]), ValueError, "target_embeds"),
    ("width", lambda g: g.compute_loss_and_step(torch.randn(5, 5), [torch.randn(5, 3)]), ValueError, "embedding_dim"),
    ("zero rows", lambda g: g.compute_loss_and_step(torch.randn(0, 4), [torch.randn(0, 3)]), ValueError,
     "target_embeds has 0 rows"),
    ("cond width", lambda g: g.generate([torch.randn(5, 2)]), ValueError, "condition width"),
    ("cond rows", lambda g: g.generate([torch.randn(5, 2), torch.randn(4, 1)]), ValueError, "same number of rows"),
    ("empty", lambda g: g.generate([]), ValueError, "conditions must not be empty"),
    ("not list", lambda g: g.generate(torch.randn(5, 3)), TypeError, "list of tensors"),
    ("n_steps", lambda g: g.generate([torch.randn(5, 3)], n_steps=0), ValueError, "n_steps"),
    ("solver", lambda g: g.generate([torch.randn(5, 3)], solver="rk45"), ValueError, "solver"),
    ("noise", lambda g: g.generate([torch.randn(5, 3)], start_noise=torch.randn(4, 4)), ValueError, "start_noise"),
    ("dtype", lambda g: g.generate([torch.randn(5, 3, dtype=torch.float64)]), TypeError, "dtype"),
    ("int", lambda g: g.generate([torch.ones(5, 3, dtype=torch.long)]), TypeError, "floating-point"),
    ("mix shape", lambda g: g.mix_embeddings(torch.randn(5, 4), torch.randn(4, 4), training=True),
     ValueError, "generated_embeds"),
    ("mix flag", lambda g: g.mix_embeddings(torch.randn(5, 4), torch.randn(5, 4), training="yes"),
     TypeError, "training"),
    ("epoch", lambda g: g.set_epoch(-1), ValueError, "epoch"),
    ("device", lambda g: g.to("meta").generate([torch.randn(5, 3)]), ValueError, "on cpu but the generator is on meta"),
]


@pytest.mark.parametrize("label,call,error,message", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_input_is_named(label, call, error, message):
    with pytest.raises(error, match=message):
        call(make_gen())


def test_max_train_rows_trains_on_a_row_subset():
    gen = make_gen(max_train_rows=8, normalize_targets=False)
    seen = []
    inner = gen.loss_terms

    def spy(x0, x1, t, c, user_prior=None):
        seen.append((x1.clone(), user_prior.clone()))
        return inner(x0, x1, t, c, user_prior)

    gen.loss_terms = spy
    target = torch.arange(64.0)[:, None].repeat(1, 4)  # row i holds the value i
    gen.compute_loss_and_step(target, [torch.randn(64, 3)], user_prior=target + 0.5)
    gen.compute_loss_and_step(target, [torch.randn(64, 3)], user_prior=target + 0.5)
    (x1_a, prior_a), (x1_b, _) = seen
    assert x1_a.shape == (8, 4)
    assert len(set(x1_a[:, 0].tolist())) == 8  # 8 distinct rows, no repeats
    torch.testing.assert_close(prior_a, x1_a + 0.5)  # prior rows follow the same subset
    assert set(x1_a[:, 0].tolist()) != set(x1_b[:, 0].tolist())  # a new subset each step
    with pytest.raises(ValueError, match="max_train_rows"):
        make_gen(max_train_rows=1)


def test_target_normalization_makes_the_flow_scale_equivariant():
    c = torch.randn(64, 3)
    target = c @ torch.randn(3, 4)
    outputs = []
    for factor in (1.0, 1000.0):
        gen = make_gen()
        torch.manual_seed(5)
        for _ in range(5):
            gen.compute_loss_and_step(target * factor, [c], user_prior=target * factor * 0.1)
        assert gen.scale() == pytest.approx(float(target.pow(2).mean().sqrt()) * factor, rel=1e-5)
        outputs.append(gen.generate([c], generator=torch.Generator().manual_seed(0), user_prior=target * factor))
    torch.testing.assert_close(outputs[1], outputs[0] * 1000.0, rtol=1e-4, atol=1e-4)


def test_without_normalization_the_scale_is_one():
    gen = make_gen(normalize_targets=False)
    gen.compute_loss_and_step(torch.randn(8, 4) * 50, [torch.randn(8, 3)])
    assert gen.scale() == 1.0


def test_checkpoint_loads_into_a_fresh_host_model():
    def host():
        torch.manual_seed(0)
        module = torch.nn.Module()
        module.rf = RFEmbeddingGenerator(4, hidden_dim=16)
        return module

    trained = host()
    conds = [torch.randn(12, 3)]
    trained.rf.compute_loss_and_step(torch.randn(12, 4), conds, epoch=1)
    fresh = host()
    fresh.load_state_dict(trained.state_dict())
    seed = torch.Generator().manual_seed(0)
    expected = trained.rf.generate(conds, generator=torch.Generator().manual_seed(0))
    assert torch.equal(fresh.rf.generate(conds, generator=seed), expected)
    assert fresh.rf.current_epoch == 1 and fresh.rf.optimizer.state_dict()["state"]


def test_reflow_training_keeps_the_flow_units():
    """Fixed couplings are in the producing flow's units: the scale must not drift while training
    on them, so 1-RF and 2-RF map the same noise to the same start point and the straightness of
    their trajectories is measured in the same units."""
    torch.manual_seed(0)
    c = torch.randn(128, 3)
    target = 5.0 * (c @ torch.randn(3, 4))  # an RMS far from the noise's 1
    gen = make_gen(dropout=0.0)
    for _ in range(20):
        gen.compute_loss_and_step(target, [c])
    z0, z1 = gen.reflow_pairs([c], n_steps=10, generator=torch.Generator().manual_seed(1))
    assert abs(float(z1.pow(2).mean().sqrt()) / gen.scale() - 1) > 0.02  # z1 alone would move the scale
    flow = copy.deepcopy(gen)
    scale = flow.scale()
    for _ in range(20):
        assert not flow.compute_loss_and_step(z1, [c], fixed_noise=z0)["skipped"]
    assert flow.scale() == scale == gen.scale()
    noise = torch.randn(64, 4, generator=torch.Generator().manual_seed(2))
    _, traj1 = gen.generate([c[:64]], n_steps=10, start_noise=noise, return_trajectory=True)
    _, traj2 = flow.generate([c[:64]], n_steps=10, start_noise=noise, return_trajectory=True)
    assert torch.equal(traj1[0], traj2[0])  # both start at noise * the same scale


def _state(gen: RFEmbeddingGenerator) -> dict:
    return copy.deepcopy(gen.state_dict())


def _assert_same(a, b) -> None:
    """Bit-identical nested state (tensors compared with torch.equal)."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("normalize", [True, False], ids=["scale overflows", "loss overflows"])
def test_non_finite_step_is_skipped_and_changes_nothing(normalize):
    gen = make_gen(normalize_targets=normalize, max_skipped_steps=3)
    c, target = torch.randn(16, 3), torch.randn(16, 4)
    for _ in range(2):
        gen.compute_loss_and_step(target, [c])  # the optimizer now has moments to protect
    before = _state(gen)
    huge = torch.full((16, 4), 1e30)  # finite, but its square is not
    with pytest.warns(RuntimeWarning, match="skipped a step .* learning rate 0.001"):
        out = gen.compute_loss_and_step(huge, [c])
    assert out["skipped"] is True and set(out) == {"rf_loss", "cl_loss", "total_loss", "skipped"}
    assert all(isinstance(out[k], float) for k in ("rf_loss", "cl_loss", "total_loss"))
    assert normalize or not math.isfinite(out["total_loss"])
    _assert_same(_state(gen), before)
    assert all(p.grad is None for p in gen.net.parameters())

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per generator: the next skip is silent
        assert gen.compute_loss_and_step(huge, [c])["skipped"]
        good = gen.compute_loss_and_step(target, [c])  # a good step resets the count
        assert good["skipped"] is False and math.isfinite(good["total_loss"])
        for _ in range(2):
            assert gen.compute_loss_and_step(huge, [c])["skipped"]
        after_skips = _state(gen)
        with pytest.raises(RuntimeError, match=r"3 training steps in a row.*learning rate 0\.001.*"
                                               r"rf_lr.*rf_warmup_epochs.*rf_max_grad_norm"):
            gen.compute_loss_and_step(huge, [c])
    _assert_same(_state(gen), after_skips)


def test_absurd_learning_rate_keeps_parameters_finite_or_stops_with_advice():
    torch.manual_seed(0)
    c = torch.randn(64, 3)
    target = c @ torch.randn(3, 4)
    gen = RFEmbeddingGenerator(4, hidden_dim=32, learning_rate=1e6)
    advice = r"learning rate 1e\+06.*lower rf_lr"
    outcomes = []
    with pytest.warns(RuntimeWarning, match="skipped"), pytest.raises(RuntimeError, match=advice):
        for _ in range(30):
            outcomes.append(gen.compute_loss_and_step(target, [c])["skipped"])
            assert all(torch.isfinite(p).all() for p in gen.net.parameters())
    assert outcomes == [False] + [True] * 9  # the 10th skip in a row (the default) stops it
    try:
        assert torch.isfinite(gen.generate([c])).all()
    except RuntimeError as error:
        assert "produced" in str(error) and "lower rf_lr" in str(error)


def test_gradient_clipping_bounds_the_gradient_norm():
    c, target = torch.randn(32, 3), 3 * torch.randn(32, 4)

    def norm_after_step(**kw) -> float:
        gen = make_gen(**kw)
        torch.manual_seed(1)
        assert not gen.compute_loss_and_step(target, [c])["skipped"]
        return float(torch.nn.utils.get_total_norm([p.grad for p in gen.net.parameters()]))

    assert norm_after_step() > 0.5
    assert norm_after_step(max_grad_norm=0.1) == pytest.approx(0.1, rel=1e-4)
    assert norm_after_step(max_grad_norm=1e9) == norm_after_step()  # above the norm: no effect


def test_default_step_is_a_plain_adamw_step():
    """Without clipping the step is the spec's: backward, AdamW step, same draws, same numbers."""
    c, target, prior = torch.randn(32, 3), 3 * torch.randn(32, 4), torch.randn(32, 4)
    gen = make_gen()
    reference = copy.deepcopy(gen)
    torch.manual_seed(3)
    out = gen.compute_loss_and_step(target, [c], user_prior=prior)

    torch.manual_seed(3)
    x0 = torch.randn_like(target)
    scale = float(target.pow(2).mean().sqrt())
    t = torch.rand(32)
    reference.net.train()
    losses = reference.loss_terms(x0, target / scale, t, c, prior / scale)
    losses["total_loss"].backward()
    reference.optimizer.step()
    assert out == {**{k: float(v.detach()) for k, v in losses.items()}, "skipped": False}
    for mine, theirs in zip(gen.net.parameters(), reference.net.parameters()):
        assert torch.equal(mine, theirs)
    assert gen.scale() == scale


def test_divergence_keys_come_from_config():
    gen = RFEmbeddingGenerator.from_config({"rf_max_skipped_steps": 4, "rf_max_grad_norm": 2.5}, 8)
    assert (gen.max_skipped_steps, gen.max_grad_norm) == (4, 2.5)
    assert (RFEmbeddingGenerator(8).max_skipped_steps, RFEmbeddingGenerator(8).max_grad_norm) == (10, None)


def test_portable_randomness_draws_what_the_plain_cpu_calls_draw():
    """On the CPU the device-independent draws equal torch's own (dropout: a uniform draw against
    p), so CPU results are unchanged; on another device the same values arrive (drawn on the CPU,
    then moved)."""
    from rfkit.generator.randomness import PortableDropout, rand, randn, randperm
    x = torch.ones(64, 32)
    for draw, plain in ((lambda: randn((64, 32), x), lambda: torch.randn_like(x)),
                        (lambda: rand((64,), x), lambda: torch.rand(64)),
                        (lambda: randperm(50, x.device), lambda: torch.randperm(50)),
                        (lambda: PortableDropout(0.3).train()(x),
                         lambda: (torch.rand(64, 32) >= 0.3).float() / 0.7)):
        torch.manual_seed(7)
        ours = draw()
        torch.manual_seed(7)
        assert torch.equal(ours, plain())
    assert torch.equal(PortableDropout(0.3).eval()(x), x)
