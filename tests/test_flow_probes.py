"""rfkit.lab.flow_probes: endpoint errors, projected paths, steps and solvers, timing, sampling overrides, reflow."""
import pytest
import torch
from sklearn.decomposition import PCA

from rfkit import RFEmbeddingGenerator
from rfkit.lab.flow_probes import (EVALS_PER_STEP, compare_flows, endpoint_error, probe_configs, project_trajectory,
                                   reference_endpoints, reflow, rf_inputs, score_settings, steps_and_solvers,
                                   time_generate, versus_references)
from rfkit.generator import SOLVERS
from rfkit.models import MultimodalGCN
from rfkit.train import train

CONFIG = {"use_rf": True, "embedding_dim": 16, "rf_hidden_dim": 32, "rf_warmup_epochs": 0,
          "rf_inference_mix_ratio": 0.5}


@pytest.fixture(scope="module")
def trained(tiny):
    model = MultimodalGCN(CONFIG, tiny)
    train(model, tiny, epochs=2, patience=2, batch_size=4096, progress=False)
    return model


@pytest.fixture()
def flow():
    torch.manual_seed(0)
    generator = RFEmbeddingGenerator(4, hidden_dim=16, learning_rate=1e-2, condition_dim=3)
    conditions = [torch.randn(64, 3)]
    target = conditions[0] @ torch.randn(3, 4)
    for _ in range(30):
        generator.compute_loss_and_step(target, conditions)
    return generator, conditions, target


def test_endpoint_error_of_identical_and_opposite_rows():
    x = torch.randn(10, 5)
    assert endpoint_error(x, x) == pytest.approx({"cosine": 1.0, "mse": 0.0})
    assert endpoint_error(-x, x)["cosine"] == pytest.approx(-1.0)
    assert endpoint_error(torch.zeros(10, 5), x)["mse"] == pytest.approx(float(x.pow(2).mean()))
    with pytest.raises(ValueError, match="one shape"):
        endpoint_error(x, x[:3])


def test_project_trajectory_maps_every_state_like_the_projection():
    trajectory = torch.randn(6, 20, 8)
    pca = PCA(2).fit(trajectory[-1].numpy())
    projected = project_trajectory(trajectory, pca)
    assert projected.shape == (6, 20, 2)
    assert projected[3] == pytest.approx(pca.transform(trajectory[3].numpy()), abs=1e-5)
    with pytest.raises(ValueError, match="n_points, rows, dim"):
        project_trajectory(trajectory[0], pca)


def test_steps_and_solvers_rows_identities_and_convergence(flow):
    generator, conditions, target = flow
    noise = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    table = steps_and_solvers(generator, conditions, target, noise, [1, 4, 32], list(SOLVERS))
    assert len(table) == 3 * len(SOLVERS)
    assert (table.evals == table.n_steps * table.solver.map(EVALS_PER_STEP)).all()
    assert (table[table.n_steps == 1].straightness == 0).all()  # one step: the velocity is the chord
    assert (table.straightness >= 0).all()
    for _, rows in table.groupby("solver"):
        assert rows.ref_mse.iloc[0] > rows.ref_mse.iloc[-1]  # finer grids land nearer the fine solve
    end = generator.generate(conditions, 4, start_noise=noise, solver="heun")
    row = table[(table.solver == "heun") & (table.n_steps == 4)].iloc[0]
    assert row.cosine == pytest.approx(endpoint_error(end, target)["cosine"])


def test_compare_flows_against_a_flow_s_own_fine_solution(flow):
    generator, conditions, target = flow
    noise = torch.randn(64, 4)
    fine = generator.generate(conditions, 50, start_noise=noise)
    table = compare_flows({"a": generator}, conditions, target, noise, [1, 50], fine, fine_steps=50)
    assert list(table.n_steps) == [1, 50]
    assert table.mse_to_reference.iloc[1] == pytest.approx(0.0, abs=1e-12)
    assert table.mse_to_reference.iloc[0] > 0
    assert table.straightness.nunique() == 1 and table.straightness.iloc[0] >= 0


def test_time_generate_counts_evaluations_and_times(flow):
    generator, conditions, _ = flow
    table = time_generate(generator, conditions, [1, 3], ["euler", "heun"], repeats=2)
    assert list(table.evals) == [1, 3, 2, 6]
    assert (table.seconds > 0).all()


def test_reflow_trains_a_copy_without_guidance(flow):
    generator, conditions, _ = flow
    before = {k: v.clone() for k, v in generator.state_dict().items() if isinstance(v, torch.Tensor)}
    copy, losses = reflow(generator, conditions, 5, seed=0, pair_steps=4, learning_rate=1e-3, max_train_rows=32)
    assert len(losses) == 5 and copy is not generator
    assert copy.user_guidance_scale == copy.cosine_guidance_scale == 0.0 and copy.max_train_rows == 32
    assert copy.optimizer.param_groups[0]["lr"] == 1e-3
    assert generator.cosine_guidance_scale == 0.1 and generator.optimizer.param_groups[0]["lr"] == 1e-2
    after = generator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.equal(copy.net.out.weight, generator.net.out.weight)


def test_rf_inputs_shapes_and_refusal(tiny, trained):
    inputs = rf_inputs(trained)
    rows = tiny.n_users + tiny.n_items
    assert inputs.targets.shape == inputs.user_prior.shape == inputs.start_noise.shape == (rows, 16)
    assert len(inputs.conditions) == len(tiny.features)
    assert inputs.targets[inputs.items].shape[0] == tiny.n_items
    with pytest.raises(ValueError, match="use_rf"):
        rf_inputs(MultimodalGCN({"embedding_dim": 16}, tiny))


def test_score_all_sampling_overrides_change_nothing_on_the_model(tiny, trained):
    generator = trained.rf_generator
    inputs = rf_inputs(trained)
    noise = torch.randn_like(inputs.start_noise)
    generated = generator.generate(inputs.conditions, 3, start_noise=noise, solver="heun", user_prior=inputs.user_prior)
    mixed = generator.mix_embeddings(inputs.targets, generated, training=False) + torch.stack(inputs.conditions).mean(0)
    expected = mixed[:tiny.n_users] @ mixed[tiny.n_users:].T
    state = {k: v.clone() for k, v in trained.state_dict().items() if torch.is_tensor(v)}
    scores = trained.score_all(n_steps=3, solver="heun", start_noise=noise, inference_prior=True)
    assert torch.allclose(scores, expected, atol=1e-5)
    assert not torch.allclose(scores, trained.score_all(), atol=1e-4)
    assert "generate" not in vars(generator) and generator.sampling_steps == 10
    assert torch.equal(trained.rf_start_noise, inputs.start_noise)
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in state.items())
    assert score_settings(trained, tiny, [{}]).iloc[0].to_dict() == \
        score_settings(trained, tiny, [{"n_steps": 10, "solver": "euler"}]).drop(columns=["n_steps", "solver"]).iloc[0].to_dict()
    with pytest.raises(ValueError, match="unknown sampling override"):
        trained.score_all(steps=3)


def test_score_settings_rows_and_the_prior_identity_at_scale_zero(tiny, trained):
    table = score_settings(trained, tiny, [{"n_steps": 1}, {"n_steps": 1, "inference_prior": True}])
    assert list(table.inference_prior) == [False, True]
    assert {"valid_ndcg@20", "test_recall@20", "n_steps"} <= set(table.columns)
    saved = trained.rf_generator.user_guidance_scale
    trained.rf_generator.user_guidance_scale = 0.0
    try:
        zero = score_settings(trained, tiny, [{}, {"inference_prior": True}])
    finally:
        trained.rf_generator.user_guidance_scale = saved
    metrics = [c for c in zero.columns if "@" in c]
    assert zero.loc[0, metrics].tolist() == zero.loc[1, metrics].tolist()


def test_probe_configs_scores_with_and_without_the_prior(tiny):
    table = probe_configs({"a": {**CONFIG, "rf_user_guidance_scale": 0.0}}, [0], tiny,
                          epochs=1, patience=1, batch_size=4096)
    assert list(table.inference_prior) == [False, True] and set(table.variant) == {"a"}
    assert table.cosine.iloc[0] == table.cosine.iloc[1]  # scale 0: the prior adds nothing
    assert table["valid_ndcg@20"].between(0, 1).all()


def test_reference_endpoints_fit_the_regression_and_predict_nothing_with_zeros():
    torch.manual_seed(0)
    conditions = [torch.randn(256, 3)]
    targets = conditions[0] @ torch.randn(3, 4)  # a linear map the regressor can learn
    config = {"rf_hidden_dim": 32, "rf_lr": 1e-2, "rf_contrast_weight": 0.0}
    references = reference_endpoints(config, conditions, targets, steps=300, seed=0)
    assert list(references.index) == ["regression", "all zeros"]
    zeros = references.loc["all zeros"]
    assert zeros["cosine"] == 0.0 and zeros["mse"] == pytest.approx(float(targets.pow(2).mean()))
    assert references.loc["regression", "mse"] < 0.05 * zeros["mse"] and references.loc["regression", "cosine"] > 0.95
    again = reference_endpoints(config, conditions, targets, steps=300, seed=0)
    assert again.equals(references)  # seeded: the same fit twice
    sentence = versus_references(0.5, zeros["mse"] / 2, references, "flow")
    assert "(the flow is FARTHER in MSE, FARTHER in cosine)" in sentence and sentence.endswith("(the flow is better).")
