"""rfkit.lab.trajectories: notebook 04's cloud sizes and 1-RF vs 2-RF verdicts, on hand-made tables."""
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.decomposition import PCA

from rfkit.generator import RFEmbeddingGenerator
from rfkit.lab.trajectories import (analyse, cloud_sentence, cloud_sizes, few_step_phrase, reflow_differences,
                                    reflow_runs, reflow_sentences, solver_sentences, spread, straightness_difference)

SEEDS = (0, 1, 2)


def flow_table(two_rf: dict, straightness: tuple[float, list] = (0.01, [0.001, 0.0011, 0.0009])) -> pd.DataFrame:
    """1-RF errors 1e-3 (1 step), 5e-4 (2 steps), 1e-5 (100 steps), repeated per reflow seed; 2-RF's
    per-seed errors at each step come from `two_rf` (default: the 1-RF value)."""
    one_rf = {1: 1e-3, 2: 5e-4, 100: 1e-5}
    rows = []
    for i, seed in enumerate(SEEDS):
        for n, error in one_rf.items():
            rows.append({"model": "1-RF", "seed": seed, "n_steps": n, "straightness": straightness[0],
                         "cosine": 0.5, "mse": 10 * error, "mse_to_reference": error})
            two = two_rf.get(n, [error] * 3)[i]
            rows.append({"model": "2-RF", "seed": seed, "n_steps": n, "straightness": straightness[1][i],
                         "cosine": 0.5, "mse": 10 * two, "mse_to_reference": two})
    return pd.DataFrame(rows)


def test_spread_of_a_known_cloud_and_bad_input():
    assert spread(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(np.sqrt(0.5))
    assert spread(torch.tensor([[3.0, 3.0], [3.0, 3.0]])) == 0.0  # position does not matter
    with pytest.raises(ValueError, match="points must be"):
        spread(np.zeros(5))


def test_cloud_sizes_tell_plane_from_all_dimensions():
    """Isotropic noise and targets of the same overall RMS, with the targets' variance in 2 of 16
    dimensions: over all dimensions equal, in the targets' plane the targets are 2.8x wider."""
    torch.manual_seed(0)
    noise = torch.randn(4000, 16)
    targets = torch.zeros(4000, 16)
    targets[:, :2] = torch.randn(4000, 2) * np.sqrt(8.0)  # 2 dims carry the variance of 16
    pca = PCA(n_components=2).fit(targets.numpy())
    sizes = cloud_sizes(noise, targets, targets, pca)
    assert sizes["t0"]["spread"] == pytest.approx(1.0, rel=0.03)
    assert sizes["t1"]["spread"] == pytest.approx(sizes["t0"]["spread"], rel=0.03)
    assert sizes["t1"]["plane_spread"] / sizes["t0"]["plane_spread"] == pytest.approx(np.sqrt(8), rel=0.05)
    assert sizes["t0"]["plane_share"] == pytest.approx(2 / 16, rel=0.1)
    assert sizes["targets"]["plane_share"] == pytest.approx(1)
    text = cloud_sentence(sizes)
    assert "2.8" in text and "about the same size as the t=0 cloud" in text
    # Shrunk targets: smaller overall, and the sentence says so.
    small = cloud_sizes(noise, targets * 0.1, targets, pca)
    assert "t=1 cloud is smaller than the t=0 cloud" in cloud_sentence(small)


def test_better_at_both_steps():
    table = flow_table({1: [5e-4, 5.1e-4, 4.9e-4], 2: [2e-4, 2.1e-4, 1.9e-4]})
    rows = reflow_differences(table)
    assert set(rows["verdict"]) == {"better"} and len(rows) == 4  # 2 errors x 2 steps
    assert rows.set_index(["error", "n_steps"]).loc[("mse_to_reference", 1), "delta"] == pytest.approx(-5e-4)
    sentences, numbers = reflow_sentences(table, chord=1.0)
    assert "better than 1-RF at 1 and 2 Euler steps" in sentences[1]
    assert "-50.0%" in sentences[1]  # 5e-4 against 1e-3
    assert all(r["verdict"] == "better" for r in numbers["few_step_differences"])


def test_no_better_and_worse():
    # 1 step: scattered around 1-RF (within noise); 2 steps: clearly worse.
    table = flow_table({1: [0.8e-3, 1.3e-3, 0.95e-3], 2: [9e-4, 9.1e-4, 8.9e-4]})
    sentences, numbers = reflow_sentences(table, chord=1.0)
    assert "no better than 1-RF at 1 or 2 Euler steps, worse at 2" in sentences[1]
    verdicts = {(r["error"], r["n_steps"]): r["verdict"] for r in numbers["few_step_differences"]}
    assert verdicts[("mse_to_reference", 1)] == "within noise" and verdicts[("mse_to_reference", 2)] == "worse"


def test_better_at_one_step_only_and_straightness_verdicts():
    table = flow_table({1: [5e-4, 5.1e-4, 4.9e-4], 2: [4e-4, 6e-4, 5.1e-4]})
    sentences, numbers = reflow_sentences(table, chord=1.0)
    assert "better than 1-RF at 1 Euler step(s) but not at 2" in sentences[1]
    assert sentences[0].startswith("Reflow straightens the paths") and numbers["two_rf_is_straighter"]
    assert numbers["straightness_difference"]["verdict"] == "better"
    assert numbers["straightness_2rf"] == pytest.approx(0.001) and numbers["straightness_1rf"] == 0.01
    # 2-RF straightness scattered around 1-RF's: no measurable straightening.
    table = flow_table({}, straightness=(0.01, [0.005, 0.016, 0.009]))
    assert straightness_difference(table)["verdict"] == "within noise"
    assert "does not measurably straighten" in reflow_sentences(table, chord=1.0).sentences[0]


def test_few_step_phrase_and_missing_steps():
    rows = pd.DataFrame({"n_steps": [1, 2], "verdict": ["within noise", "within noise"]})
    assert few_step_phrase(rows) == "no better than 1-RF at 1 or 2 Euler steps"
    with pytest.raises(ValueError, match="lacks rows for n_steps"):
        reflow_differences(flow_table({}), steps=(1, 3))


def test_solver_sentences_and_analyse():
    steps = pd.DataFrame([{"solver": s, "n_steps": n, "ref_mse": e / n ** (1 if s == "euler" else 2),
                           "cosine": 0.3 + 0.001 * n, "mse": 0.02, "straightness": 0.0}
                          for s, e in (("euler", 1e-3), ("heun", 1e-3)) for n in (1, 2, 50)])
    references = pd.DataFrame({"cosine": [0.5, 0.0], "mse": [0.03, 0.01]},
                              index=pd.Index(["regression", "all zeros"], name="reference"))
    sentences, numbers = solver_sentences(steps, references)
    assert "Heun is more accurate than Euler" in sentences[0] and "monotone: True" in sentences[0]
    assert numbers["worse_than_all_zeros"] and not numbers["worse_than_regression"]
    assert sentences[2].startswith("Against the references, at 50 Euler steps: cosine 0.350, MSE 0.02")
    assert "cosine 0.500, MSE 0.03" in sentences[2] and "all zeros: MSE 0.01" in sentences[2]
    assert numbers["discretisation_shrink"]["euler"] == pytest.approx(50)
    sizes = {k: {"spread": 1.0, "plane_spread": p, "plane_share": 0.1} for k, p in
             (("t0", 0.1), ("t1", 0.22), ("targets", 0.3))}
    findings = analyse(steps, flow_table({}), sizes, references, chord=1.0)
    assert len(findings.sentences) == 7 and findings.numbers["plane_spread_ratio"] == pytest.approx(2.2)
    assert "2.20x" in findings.sentences[0]


def test_reflow_runs_pairs_each_seed_with_the_original():
    torch.manual_seed(0)
    generator = RFEmbeddingGenerator(4, hidden_dim=16, learning_rate=1e-2, condition_dim=3)
    conditions = [torch.randn(64, 3)]
    target = conditions[0] @ torch.randn(3, 4)
    for _ in range(20):
        generator.compute_loss_and_step(target, conditions)
    noise = torch.randn(64, 4)
    reference = generator.generate(conditions, 20, start_noise=noise, solver="heun")
    table, losses = reflow_runs(generator, conditions, target, noise, [3, 4], [1, 2, 20], reference, 20,
                                reflow_steps=5, learning_rate=1e-3, max_train_rows=32)
    assert list(losses.columns) == [3, 4] and len(losses) == 5
    assert len(table) == 2 * 2 * 3  # seeds x models x steps
    one_rf = table[table["model"] == "1-RF"]
    assert one_rf.groupby("n_steps")["mse_to_reference"].nunique().eq(1).all()  # the same flow for every seed
    two_rf = table[table["model"] == "2-RF"].set_index(["seed", "n_steps"])["mse_to_reference"]
    assert two_rf.loc[(3, 1)] != two_rf.loc[(4, 1)]  # another seed, another reflow
    assert len(reflow_differences(table)) == 4
    with pytest.raises(ValueError, match="at least one reflow seed"):
        reflow_runs(generator, conditions, target, noise, [], [1], reference, 20, reflow_steps=1)
