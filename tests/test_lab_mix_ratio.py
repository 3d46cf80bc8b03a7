"""rfkit.lab.mix_ratio: notebook 03's verdicts, on small hand-made sweeps with known effects."""
import pandas as pd
import pytest

from rfkit.lab.mix_ratio import (INFERENCE, METRICS, TRAIN, analyse, compare_cells, grid, row_choices,
                                 versus_backbone, versus_controls)
from rfkit.stats import paired_differences

TRAIN_RATIOS, INFERENCE_RATIOS, SEEDS = (0.1, 0.5), (0.0, 0.1, 0.5), (0, 1, 2)
FLAT = [0.0, 0.0, 0.0]


def make_sweep(offsets: dict, test_offsets: dict | None = None) -> pd.DataFrame:
    """A tidy sweep: each seed has its own base value; a cell adds its per-seed offsets (valid
    metrics) or `test_offsets` (test metrics, default the same); unlisted cells add nothing."""
    test_offsets = {**offsets, **(test_offsets or {})}
    rows = []
    for t in TRAIN_RATIOS:
        for i in INFERENCE_RATIOS:
            for seed in SEEDS:
                base = 0.10 + 0.01 * seed
                valid, test = offsets.get((t, i), FLAT)[seed], test_offsets.get((t, i), FLAT)[seed]
                rows.append({TRAIN: t, INFERENCE: i, "seed": seed, "best_epoch": 3 + seed,
                             **{m: base + (valid if m.startswith("valid") else test) for m in METRICS}})
    return pd.DataFrame(rows)


def test_grid_choices_and_differences_follow_the_offsets():
    sweep = make_sweep({(0.1, 0.5): [0.02, 0.021, 0.019], (0.5, 0.1): [-0.01, -0.011, -0.009]})
    assert grid(sweep).loc[0.1, 0.5] == pytest.approx(0.11 + 0.02)
    assert row_choices(sweep) == {0.1: 0.5, 0.5: 0.0}
    cells = versus_backbone(sweep, "valid_ndcg@20").set_index([TRAIN, INFERENCE])
    assert len(cells) == len(TRAIN_RATIOS) * (len(INFERENCE_RATIOS) - 1)
    assert cells.loc[(0.1, 0.5), "delta"] == pytest.approx(0.02)
    assert cells.loc[(0.1, 0.5), "verdict"] == "better" and cells.loc[(0.5, 0.1), "verdict"] == "worse"
    # Identical to the backbone on every seed: a zero-width interval at 0 is within noise.
    assert cells.loc[(0.1, 0.1), "verdict"] == "within noise" and cells.loc[(0.1, 0.1), "delta"] == 0
    pair = compare_cells(sweep, "valid_ndcg@20", (0.1, 0.5), (0.5, 0.1))
    assert pair["delta"] == pytest.approx(0.03) and pair["verdict"] == "better"


def test_bad_input_names_the_problem():
    sweep = make_sweep({})
    with pytest.raises(ValueError, match="no rows for the cell"):
        compare_cells(sweep, "test_ndcg@20", (0.3, 0.5), (0.1, 0.0))
    with pytest.raises(ValueError, match="no inference ratio 0"):
        versus_backbone(sweep[sweep[INFERENCE] > 0], "test_ndcg@20")
    with pytest.raises(ValueError, match="lacks column"):
        grid(sweep.drop(columns="seed"))


def test_better_case_says_mixing_helps_and_records_the_interval():
    findings = analyse(make_sweep({(0.1, 0.5): [0.02, 0.021, 0.019]}), spec_cell=(0.1, 0.5))
    assert findings.choice == (0.1, 0.5)
    text = findings.sentences[1]
    assert "helps on test" in text and "(better)" in text
    recorded = findings.numbers["best_vs_backbone"]
    assert recorded["verdict"] == "better" and recorded["ci_low"] > 0 and recorded["n_seeds"] == 3
    assert recorded["delta"] == pytest.approx(0.02)
    assert findings.numbers["spec_example_cell"]["test_ndcg@20"] == pytest.approx(0.13)
    assert "1 better, 0 worse of 2 rows" in findings.sentences[2]
    # 4 cells > 0; one beyond noise; 0.2 expected by chance.
    assert "Of the 4 cells" in findings.sentences[3] and "1 differ" in findings.sentences[3]
    assert "about 0.2 of 4" in findings.sentences[3] and "on test_ndcg@20" in findings.sentences[3]
    assert "about 0.1 of 1 " in findings.sentences[2]  # 1 row judged: the other chose the backbone


def test_worse_case_says_mixing_hurts_on_test():
    # Validation likes inference 0.5 a little; on test it is clearly worse than the backbone.
    findings = analyse(make_sweep({(0.1, 0.5): [0.01, 0.01, 0.01]},
                                  test_offsets={(0.1, 0.5): [-0.02, -0.021, -0.019]}))
    assert findings.choice == (0.1, 0.5)
    assert "hurts on test" in findings.sentences[1] and "(worse)" in findings.sentences[1]
    assert findings.numbers["best_vs_backbone"]["ci_high"] < 0
    assert "0 better, 1 worse" in findings.sentences[2]


def test_within_noise_case_says_no_difference_beyond_noise():
    findings = analyse(make_sweep({(0.1, 0.5): [0.01, 0.012, 0.011]},
                                  test_offsets={(0.1, 0.5): [0.01, -0.012, 0.003]}))
    assert "makes no difference beyond seed noise" in findings.sentences[1]
    row = findings.numbers["best_vs_backbone"]
    assert row["verdict"] == "within noise" and row["ci_low"] < 0 < row["ci_high"]


def test_backbone_chosen_and_train_ratio_verdicts():
    # Every mixed cell is worse on validation: the choice is ratio 0 for both rows.
    worse = {(t, i): [-0.01, -0.02, -0.015] for t in TRAIN_RATIOS for i in INFERENCE_RATIOS if i > 0}
    findings = analyse(make_sweep(worse))
    assert findings.choice[1] == 0.0 and findings.numbers["best_vs_backbone"] is None
    assert findings.sentences[1].startswith("Validation prefers inference ratio 0")
    assert "backbone chosen" in findings.sentences[2]
    # Both rows' backbones are the same numbers here: the train ratio makes no difference.
    assert "makes no difference beyond noise" in findings.sentences[5]
    # Train ratio 0.5 clearly better at its choice than 0.1 at its choice.
    findings = analyse(make_sweep({(0.5, 0.5): [0.03, 0.031, 0.029], (0.1, 0.1): [0.01, 0.011, 0.009]}))
    assert findings.choice == (0.5, 0.5)
    assert "outside the advised" in findings.sentences[5] and "matters beyond noise" in findings.sentences[5]
    other = findings.numbers["versus_best_train_ratio"][0]
    assert other[TRAIN] == 0.1 and other["verdict"] == "worse" and other["delta"] == pytest.approx(-0.02)
    # 0.1 chose 0.1 = its train ratio (no comparison); 0.5 chose 0.5 as well.
    assert findings.numbers["inference_larger_share"] == 0.0


def test_recorded_rows_match_a_recomputation_from_the_recorded_seeds():
    findings = analyse(make_sweep({(0.1, 0.5): [0.02, 0.005, 0.03], (0.5, 0.1): [0.0, -0.01, 0.002]}))
    table = pd.DataFrame(findings.numbers["sweep_rows"])
    again = paired_differences(table, "test_ndcg@20", 0.0, by=[TRAIN], variant=INFERENCE)
    recorded = pd.DataFrame(findings.numbers["versus_backbone"]["test_ndcg@20"])
    assert recorded[["delta", "ci_low", "ci_high"]].to_numpy() == pytest.approx(
        again[["delta", "ci_low", "ci_high"]].to_numpy())
    assert list(recorded["verdict"]) == list(again["verdict"])


def test_noise_sentence_and_one_seed():
    # Cell means spread by 0.002, seeds by 0.01: the colours are mostly noise.
    findings = analyse(make_sweep({(0.1, 0.5): [0.002, 0.002, 0.002]}))
    assert "mostly seed noise" in findings.sentences[4]
    assert findings.numbers["grid_span"] == pytest.approx(0.002)
    one_seed = make_sweep({(0.1, 0.5): [0.02, 0.02, 0.02]})
    findings = analyse(one_seed[one_seed["seed"] == 0])
    assert "one seed" in findings.sentences[1] and "no cell can be told apart" in findings.sentences[3]
    assert findings.numbers["best_vs_backbone"]["ci_low"] is None
    assert findings.numbers["cell_seed_std"] is None


def test_plot_ratio_curve_draws_both_splits_and_their_backbone_lines():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rfkit.lab.plots import plot_ratio_curve

    curve = pd.DataFrame({"inference_mix_ratio": [0.5, 0.0, 1.0], "valid_ndcg@20": [0.2, 0.25, 0.1],
                          "test_ndcg@20": [0.18, 0.22, 0.09]})
    fig, ax = plt.subplots()
    plot_ratio_curve(curve, ax, "ndcg@20")
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [list(line.get_xdata()) for line in solid] == [[0.0, 0.5, 1.0]] * 2  # sorted by ratio
    assert [line.get_ydata()[0] for line in dashed] == [0.25, 0.22]  # each split's ratio-0 value
    with pytest.raises(ValueError, match="no inference ratio 0"):
        plot_ratio_curve(curve[curve["inference_mix_ratio"] > 0], ax)
    with pytest.raises(ValueError, match="lacks column"):
        plot_ratio_curve(curve, ax, "recall@20")
    plt.close(fig)


def test_the_controls_are_compared_where_the_generators_are_mixed_in():
    # Validation prefers ratio 0 here (every mixed cell is worse), so the overall choice scores
    # without any generator; the controls must be judged at the best cell that mixes RF in.
    sweep = make_sweep({(0.1, 0.1): [-0.001, -0.002, -0.001], (0.1, 0.5): [-0.01] * 3,
                        (0.5, 0.1): [-0.02] * 3, (0.5, 0.5): [-0.03] * 3})
    findings = analyse(sweep)
    assert findings.choice[1] == 0.0 and findings.mixed_choice == (0.1, 0.1)
    assert findings.numbers["mixed_cell"] == {"train_ratio": 0.1, "inference_ratio": 0.1}
    with pytest.raises(ValueError, match="inference ratio > 0"):
        versus_controls(sweep, sweep.assign(rf_generator="noise"), findings.choice)
