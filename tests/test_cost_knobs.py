"""The RF cost knobs: cached training-time generation, fewer training ODE steps, row sampling,
bf16 where native; the host's per-part timings; the recommended config; the overhead benchmark."""
import importlib.util
import json
import math
import pathlib

import pytest
import torch
import torch.nn.functional as F

import rfkit.generator.base as base_module
import rfkit.generator.generator as flow_module
from rfkit import GenerationCache, RFEmbeddingGenerator, config, machine
from rfkit.experiments import cost
from rfkit.generator import Every
from rfkit.models import MultimodalGCN
from rfkit.train import train

SMALL_RF = {"use_rf": True, "embedding_dim": 16, "rf_hidden_dim": 32, "rf_sampling_steps": 5}
BENCH = pathlib.Path(__file__).parents[1] / "benchmarks" / "bench_overhead.py"


def _count_generations(model: MultimodalGCN, calls: list) -> None:
    """Record the keyword arguments of every generate call of the model's generator."""
    inner = model.rf_generator.generate

    def spy(conditions, n_steps=None, **kwargs):
        calls.append({"n_steps": n_steps, **kwargs})
        return inner(conditions, n_steps, **kwargs)

    model.rf_generator.generate = spy


# ---------------------------------------------------------------- rf_refresh_every
def test_cached_generation_is_reused_exactly_k_batches(tiny):
    model = MultimodalGCN(SMALL_RF | {"rf_refresh_every": 3}, tiny)
    calls = []
    _count_generations(model, calls)
    served = []
    for batch in range(7):
        before = len(calls)
        model(train=True)
        served.append(model.rf_cache._cached)
        if len(calls) > before:
            calls[-1]["batch"] = batch
    assert [c["batch"] for c in calls] == [0, 3, 6]
    assert served[0] is served[1] is served[2] and served[3] is not served[2] and served[3] is served[5]
    # Inference always generates afresh from the fixed noise and leaves the cache alone.
    model.score_all()
    assert len(calls) == 4 and calls[-1]["start_noise"] is model.rf_start_noise
    assert model.rf_cache.generate_calls == 3
    model(train=True)  # batch 7 still reuses the copy of batch 6
    assert len(calls) == 4 and model.rf_cache._cached is served[6]
    model.score_all()
    assert len(calls) == 5


def test_refresh_every_counts_training_batches_across_an_epoch(tiny):
    batches = math.ceil(len(tiny.train) / 512)
    for k in (1, 4):
        model = MultimodalGCN(SMALL_RF | {"rf_refresh_every": k}, tiny)
        train(model, tiny, epochs=1, batch_size=512, progress=False)
        assert model.rf_cache.generate_calls == math.ceil(batches / k)


def test_generation_cache_serves_one_copy_then_regenerates():
    torch.manual_seed(0)
    gen = RFEmbeddingGenerator(4, hidden_dim=8, condition_dim=3)
    cache = GenerationCache(gen, refresh_every=2)
    c = [torch.randn(6, 3)]
    first, second, third = cache.get(c), cache.get(c), cache.get(c)
    assert first is second and not torch.equal(first, third) and cache.generate_calls == 2
    assert not first.requires_grad
    # generate() itself never returns a stale result: two calls draw two noises.
    assert not torch.equal(gen.generate(c), gen.generate(c))
    with pytest.raises(ValueError, match="7 rows but the cached generation has 6"):
        cache.get([torch.randn(7, 3)])
    cache.clear()
    assert cache.get([torch.randn(7, 3)]).shape == (7, 4)


def test_every_is_due_on_the_first_call_then_every_kth():
    rhythm = Every(3)
    assert [rhythm() for _ in range(7)] == [True, False, False, True, False, False, True]
    always = Every(1)
    assert all(always() for _ in range(4))
    with pytest.raises(ValueError, match="rf_step_every"):
        Every(0, "rf_step_every")


def test_rf_step_every_k_training_passes(tiny):
    model = MultimodalGCN(SMALL_RF | {"rf_step_every": 3}, tiny)
    calls = []
    inner = model.rf_generator.compute_loss_and_step
    model.rf_generator.compute_loss_and_step = lambda *a, **kw: calls.append(1) or inner(*a, **kw)
    stepped = []
    for batch in range(7):
        before = len(calls)
        model(train=True)
        stepped += [batch] * (len(calls) - before)
    assert stepped == [0, 3, 6]
    model.score_all()  # inference never steps
    assert len(calls) == 3 == model.rf_steps_taken


def test_epoch_rf_loss_averages_the_steps_taken_once_each(tiny):
    model = MultimodalGCN(SMALL_RF | {"rf_step_every": 3, "rf_warmup_epochs": 0}, tiny)
    losses = []
    inner = model.rf_generator.compute_loss_and_step

    def spy(*args, **kwargs):
        out = inner(*args, **kwargs)
        losses.append(out["rf_loss"])
        return out

    model.rf_generator.compute_loss_and_step = spy
    batch_size = 256
    batches = math.ceil(len(tiny.train) / batch_size)
    history = train(model, tiny, epochs=1, batch_size=batch_size, progress=False).history
    assert batches >= 4 and len(losses) == math.ceil(batches / 3) == model.rf_steps_taken
    # The mean of the steps taken, not of the latest loss repeated on every batch without a step.
    assert history["rf_loss"].iloc[0] == pytest.approx(sum(losses) / len(losses), rel=1e-12)


@pytest.mark.parametrize("kwargs,error,name", [
    ({"refresh_every": 0}, ValueError, "refresh_every"),
    ({"refresh_every": 2.0}, TypeError, "refresh_every"),
    ({"refresh_every": True}, TypeError, "refresh_every"),
    ({"n_steps": 0}, ValueError, "n_steps"),
])
def test_generation_cache_rejects_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        GenerationCache(RFEmbeddingGenerator(4), **kwargs)
    with pytest.raises(TypeError, match="generator"):
        GenerationCache(torch.nn.Linear(2, 2))


def test_integration_keys_are_declared_and_typos_still_fail(tiny):
    settings = {"rf_refresh_every": 3, "rf_train_sampling_steps": 2, "rf_step_every": 2, "rf_hidden_dim": 8}
    gen = RFEmbeddingGenerator.from_config(settings, embedding_dim=4)  # the generator skips the cache's keys
    cache = GenerationCache.from_config(gen, settings)
    assert (gen.hidden_dim, cache.refresh_every, cache.n_steps) == (8, 3, 2)
    with pytest.raises(ValueError, match="did you mean 'rf_refresh_every'"):
        RFEmbeddingGenerator.from_config({"rf_refresh_evry": 3}, embedding_dim=4)
    with pytest.raises(ValueError, match="rf_train_sampling_step"):
        MultimodalGCN(SMALL_RF | {"rf_train_sampling_step": 2}, tiny)


# ---------------------------------------------------------------- rf_train_sampling_steps
def _spy_ode_steps(monkeypatch) -> list[int]:
    steps = []
    inner = flow_module.integrate

    def spy(velocity, x, n_steps, *args):
        steps.append(n_steps)
        return inner(velocity, x, n_steps, *args)

    monkeypatch.setattr(flow_module, "integrate", spy)
    return steps


def test_training_and_inference_ode_steps_differ_when_set(tiny, monkeypatch):
    steps = _spy_ode_steps(monkeypatch)
    model = MultimodalGCN(SMALL_RF | {"rf_train_sampling_steps": 2}, tiny)
    model(train=True)
    model.score_all()
    assert steps == [2, 5]
    steps.clear()
    literal = MultimodalGCN(SMALL_RF, tiny)
    literal(train=True)
    literal.score_all()
    assert steps == [5, 5]


# ---------------------------------------------------------------- row sampling
def test_row_sampling_keys_reach_the_rf_step(tiny, monkeypatch):
    contrast_rows = []
    inner = base_module.info_nce
    monkeypatch.setattr(base_module, "info_nce",
                        lambda pred, target, temp: contrast_rows.append(len(pred)) or inner(pred, target, temp))
    model = MultimodalGCN(SMALL_RF | {"rf_max_train_rows": 64, "rf_max_contrast_rows": 16}, tiny)
    step_rows = []
    loss_terms = model.rf_generator.loss_terms
    model.rf_generator.loss_terms = lambda x0, x1, *a: step_rows.append(len(x1)) or loss_terms(x0, x1, *a)
    model(train=True)
    assert step_rows == [64] and contrast_rows == [16]
    assert tiny.n_users + tiny.n_items > 64  # so the sample is a real subset


# ---------------------------------------------------------------- rf_bf16
def _train_and_generate(bf16, seed=0) -> tuple[list[float], torch.Tensor]:
    torch.manual_seed(seed)
    gen = RFEmbeddingGenerator(8, hidden_dim=32, condition_dim=6, bf16=bf16)
    c, target = torch.randn(128, 6), torch.randn(128, 8)
    losses = [gen.compute_loss_and_step(target, [c])["total_loss"] for _ in range(5)]
    return losses, gen.generate([c], start_noise=torch.randn(128, 8, generator=torch.Generator().manual_seed(1)))


def test_bf16_auto_falls_back_to_fp32_where_not_native(monkeypatch):
    monkeypatch.setattr(base_module, "native_bf16", lambda device: False)
    assert not RFEmbeddingGenerator(4, bf16="auto").uses_bf16("cpu")
    auto_losses, auto_out = _train_and_generate("auto")
    fp32_losses, fp32_out = _train_and_generate(False)
    assert auto_losses == fp32_losses and torch.equal(auto_out, fp32_out)


def test_bf16_where_native_stays_close_to_fp32(monkeypatch):
    monkeypatch.setattr(base_module, "native_bf16", lambda device: True)
    assert RFEmbeddingGenerator(4, bf16="auto").uses_bf16("cpu")
    fp32_losses, fp32_out = _train_and_generate(False)
    for setting in ("auto", True):
        losses, out = _train_and_generate(setting)
        assert out.dtype == torch.float32 and not torch.equal(out, fp32_out)  # bf16 really ran
        assert losses == pytest.approx(fp32_losses, rel=0.05)
        assert F.cosine_similarity(out, fp32_out).min() > 0.99


def test_bf16_setting_is_validated():
    with pytest.raises(ValueError, match="bf16"):
        RFEmbeddingGenerator(4, bf16="yes")
    with pytest.raises(TypeError, match="bf16"):
        RFEmbeddingGenerator(4, condition_dim=3).generate([torch.randn(2, 3)], bf16="auto")
    assert RFEmbeddingGenerator.from_config({"rf_bf16": "auto"}, embedding_dim=4).bf16 == "auto"


@pytest.mark.parametrize("flags,native", [("fpu sse2 avx2", False), ("fpu avx512f avx512_bf16", True),
                                          ("fpu amx_tile amx_bf16", True)])
def test_native_bf16_reads_the_cpu_flags(tmp_path, monkeypatch, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: {flags}\n")
    monkeypatch.setattr(machine, "CPUINFO", cpuinfo)
    machine._cpuinfo_field.cache_clear()
    try:
        assert machine.native_bf16("cpu") is native and machine.cpu_model() == "Test CPU 9000"
        monkeypatch.setattr(machine, "CPUINFO", tmp_path / "missing")
        machine._cpuinfo_field.cache_clear()
        assert machine.native_bf16() is False and machine.cpu_flags() == frozenset()
        assert machine.native_bf16("meta") is False
    finally:
        machine._cpuinfo_field.cache_clear()


# ---------------------------------------------------------------- timings and configs
def test_timings_split_training_passes_and_skip_inference(tiny):
    model = MultimodalGCN(SMALL_RF, tiny)
    model(train=True)
    timings = dict(model.timings)
    assert all(timings[part] > 0 for part in MultimodalGCN.TIMED_PARTS)
    assert model.rf_seconds == pytest.approx(timings["rf_step"] + timings["rf_generate"] + timings["rf_mix"])
    model.score_all()
    assert model.timings == timings  # inference passes are not training time
    backbone = MultimodalGCN({"embedding_dim": 16}, tiny)
    backbone(train=True)
    assert backbone.rf_seconds == 0.0 and backbone.timings["host_encode"] > 0


def test_recommended_config_is_multimodal_plus_a_learning_rate_and_the_knobs(tiny):
    recommended, multimodal = config.load("recommended"), config.load("multimodal")
    knobs = {k: v for k, v in recommended.items() if k not in multimodal}
    changed = {k for k in multimodal if recommended[k] != multimodal[k]}
    assert changed == {"rf_lr"} and recommended["rf_lr"] > multimodal["rf_lr"]  # the spec's 1e-4 learns nothing
    assert set(knobs) == {"rf_step_every", "rf_warmup_steps_per_update", "rf_refresh_every", "rf_train_sampling_steps",
                          "rf_max_train_rows", "rf_max_contrast_rows", "rf_bf16"}
    model = MultimodalGCN(recommended, tiny)
    assert model.rf_warmup_steps_per_update == knobs["rf_warmup_steps_per_update"] > model.rf_steps_per_update
    assert model.rf_cache.refresh_every == knobs["rf_refresh_every"] and model.rf_step_due.k == knobs["rf_step_every"]
    assert model.rf_cache.n_steps == knobs["rf_train_sampling_steps"] < model.rf_generator.sampling_steps


# ---------------------------------------------------------------- the benchmark
@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_overhead", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_time_epochs_profiles_an_epoch_by_part(tiny):
    batches = math.ceil(len(tiny.train) / 512)
    timed = cost.time_epochs(SMALL_RF | {"rf_refresh_every": 2, "rf_warmup_epochs": 5}, tiny, epochs=2, seed=0,
                              batch_size=512)
    # Warmup is off, so every epoch generates; the rhythm runs on across epochs: one refresh per 2 batches.
    assert timed["generate_calls"] == batches / 2
    parts = [timed[p] for p in cost.PARTS]
    assert all(p > 0 for p in parts) and timed["rest"] > 0
    assert sum(parts) + timed["rest"] == pytest.approx(timed["seconds"])
    table = cost.timing_table([{"variant": "backbone", "seed": 0, **timed, "seconds": timed["seconds"] / 2},
                                {"variant": "rf", "seed": 0, **timed}])
    assert table.loc["backbone", "overhead"] == 0.0 and table.loc["rf", "overhead"] == pytest.approx(1.0)


def test_knob_variants_change_one_key_each_on_the_literal_config():
    literal = config.load("multimodal")
    variants = cost.knob_variants(literal)
    assert variants["spec-literal"] == literal and len(variants) == len(cost.KNOBS) + 1
    for name, knob in cost.KNOBS.items():
        changed = {k for k in variants[f"knob: {name}"].keys() | literal.keys()
                   if variants[f"knob: {name}"].get(k) != literal.get(k)}
        assert changed == set(knob)
    with pytest.raises(ValueError, match="literal must be an RF config"):
        cost.knob_variants({**literal, "use_rf": False})
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        cost.time_epochs(literal, None, 0, seed=0, batch_size=512)


def test_bench_saves_sections_side_by_side(bench, tmp_path):
    path = tmp_path / "out.json"
    bench.save("timing", {"a": 1}, path)
    bench.save("accuracy", {"b": 2}, path)
    assert json.loads(path.read_text()) == {"timing": {"a": 1}, "accuracy": {"b": 2}}
    assert {"cpu", "native_bf16", "torch", "threads"} <= set(bench.machine())


def test_documented_defaults_keep_the_host_and_no_rf_key(tiny):
    literal = config.load("multimodal")
    defaults = cost.documented_defaults(literal)
    assert defaults["use_rf"] is True and not [k for k in defaults if k.startswith("rf_")]
    assert {k: v for k, v in defaults.items() if k != "use_rf"} == {
        k: v for k, v in literal.items() if not k.startswith("rf_") and k != "use_rf"}
    generator = MultimodalGCN(defaults, tiny).rf_generator
    assert (generator.hidden_dim, generator.learning_rate, generator.warmup_epochs) == (256, 0.001, 0)
