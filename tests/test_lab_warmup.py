"""rfkit.lab.warmup: what warmup epochs cost in RF time, and notebook 02's conclusions."""
import pandas as pd
import pytest

from rfkit.config import load
from rfkit.lab.histories import run_histories
from rfkit.lab.integration import paired_by_metric
from rfkit.lab.warmup import rf_seconds_in_warmup, warmup_conclusions, warmup_cost

METRICS = ["test_recall@20", "test_ndcg@20"]
IDENTITY = {"max_gap_in_warmup": 0.0, "min_gap_after_warmup": 0.03, "best_epoch": 3, "restored_epoch": 3,
            "last_epoch": 5}
SHARED = {"max_diff": 0.0, "seed_epochs": 6}
COST = {"pairs": 6, "warmup_s": 0.1, "mixed_s": 0.3, "delta": -0.2, "ci_low": -0.25, "ci_high": -0.15,
        "verdict": "warmup cheaper"}


def runs_with(shift: list[float]) -> pd.DataFrame:
    """warmup 0 and warmup 5 over three seeds; warmup 5's metrics are warmup 0's plus `shift`; its
    seed 2 run picked a warmup epoch as best."""
    rows = []
    for seed, (base, delta) in enumerate(zip([0.30, 0.32, 0.31], shift)):
        rows.append({"variant": "warmup 0", "seed": seed, "mixed_at_best": True, "stopped_before_mixing": False,
                     **{m: base for m in METRICS}})
        rows.append({"variant": "warmup 5", "seed": seed, "mixed_at_best": seed != 2, "stopped_before_mixing": False,
                     **{m: base + delta for m in METRICS}})
    return pd.DataFrame(rows)


def conclude(shift, cost=COST, shared=SHARED):
    runs = runs_with(shift)
    return warmup_conclusions(IDENTITY, shared, paired_by_metric(runs, METRICS, "warmup 0"), "warmup 0", runs,
                              cost, "warmup 5", patience=11)


@pytest.mark.parametrize("shift, verdict", [([0.010, 0.011, 0.009], "better"), ([-0.010, -0.011, -0.009], "worse"),
                                            ([0.010, -0.012, 0.003], "within noise")])
def test_each_warmup_is_judged_by_its_paired_interval(shift, verdict):
    conclusions, record = conclude(shift)
    sentences = [s for s in conclusions if s.startswith("warmup 5 minus warmup 0")]
    assert len(sentences) == 2 and all(f"({verdict}" in s and ") over 3 seeds" in s for s in sentences)
    assert all("1 of its 3 runs picked a warmup epoch as best (backbone numbers)" in s for s in sentences)
    assert [row["verdict"] for row in record["differences"]] == [verdict, verdict]
    n_beyond = 0 if verdict == "within noise" else 2
    assert record["n_beyond_noise"] == n_beyond and record["n_comparisons"] == 2
    assert record["chance_exceedances"] == pytest.approx(0.05 * 2)
    assert record["early_stopping"] == {"patience": 11, "n_stopped_before_mixing": 0, "n_best_in_warmup": 1}


def test_identity_restored_epoch_and_cost_sentences():
    conclusions, _ = conclude([0.01, 0.0, 0.0])
    assert conclusions[0].startswith("While the generator is inside its warmup, the scores equal the backbone's")
    assert conclusions[1].endswith(": the epoch is restored with the best weights.")
    assert conclusions[2].endswith("train identically until the shorter warmup ends "
                                   "(max |difference| = 0.0 over 6 seed-epochs).")
    assert conclusions[3].startswith("A warmup epoch spends 0.100 s in RF calls")
    assert "warmup - mixed = -0.200 s [-0.250, -0.150] over 6 seed-epochs (warmup cheaper)" in conclusions[3]
    assert conclusions[-2].endswith("warmup 5.") and "1 of 6 selected a warmup epoch" in conclusions[-1]
    noisy = {**COST, "ci_high": 0.05, "verdict": "within noise"}
    assert conclude([0.01, 0.0, 0.0], cost=noisy).sentences[3].endswith("no measurable difference in these runs.")
    assert "not compared" in conclude([0.01, 0.0, 0.0], cost=None).sentences[3]
    assert "NOT identically" in conclude([0.01, 0.0, 0.0], shared={"max_diff": 1e-3, "seed_epochs": 6}).sentences[2]


def test_warmup_cost_verdicts():
    def pairs(warmup, mixed):
        return pd.DataFrame({"seed": 0, "epoch": range(len(warmup)), "warmup_s": warmup, "mixed_s": mixed})
    assert warmup_cost(pairs([0.1, 0.11, 0.09], [0.3, 0.32, 0.29]))["verdict"] == "warmup cheaper"
    assert warmup_cost(pairs([0.3, 0.32, 0.29], [0.1, 0.11, 0.09]))["verdict"] == "warmup costlier"
    assert warmup_cost(pairs([0.1, 0.3, 0.2], [0.3, 0.1, 0.2]))["verdict"] == "within noise"
    one = warmup_cost(pairs([0.1], [0.3]))
    assert one["verdict"] == "one pair" and one["ci_low"] is None and one["delta"] == pytest.approx(-0.2)
    assert warmup_cost(pairs([], [])) is None
    shared_twin = pd.DataFrame({"seed": [0, 0, 0], "epoch": [0, 0, 1], "warmup_s": [0.1, 0.2, 0.1],
                                "mixed_s": [0.4, 0.4, 0.3]})  # two warmups share the twin of epoch 0
    cost = warmup_cost(shared_twin)
    assert cost["pairs"] == 2 and cost["warmup_s"] == pytest.approx((0.15 + 0.1) / 2)
    assert cost["delta"] == pytest.approx((-0.25 - 0.2) / 2)


def test_rf_seconds_in_warmup_pairs_hand_made_epochs():
    epochs = pd.DataFrame([{"variant": v, "seed": s, "epoch": e, "rf_seconds": 10 * w + e + s / 10}
                           for v, w in (("w1", 1), ("w3", 3)) for s in (0, 1) for e in range(4)])
    pairs = rf_seconds_in_warmup(epochs, {"w1": 1, "w3": 3})
    assert list(zip(pairs["variant"], pairs["seed"], pairs["epoch"])) == [("w3", 0, 1), ("w3", 0, 2), ("w3", 1, 1),
                                                                         ("w3", 1, 2)]
    assert list(pairs["warmup_s"] - pairs["mixed_s"]) == pytest.approx([20.0] * 4)
    with pytest.raises(ValueError, match="warmups must name variants"):
        rf_seconds_in_warmup(epochs, {"w9": 9})
    with pytest.raises(ValueError, match="rf_seconds"):
        rf_seconds_in_warmup(epochs.drop(columns="rf_seconds"), {"w1": 1})


def test_warmup_epochs_skip_generation_so_they_cost_less(tiny):
    """Real runs: warmup 3 vs warmup 0 over 4 epochs; the warmup epochs 0-2 of the first spend less
    time in RF calls than the same epochs of the second, which generates there."""
    config = load("multimodal")
    variants = {"warmup 0": {**config, "rf_warmup_epochs": 0}, "warmup 3": {**config, "rf_warmup_epochs": 3}}
    epochs = run_histories(variants, [0], tiny, epochs=4, patience=4, batch_size=1024).epochs
    pairs = rf_seconds_in_warmup(epochs, {"warmup 0": 0, "warmup 3": 3})
    assert list(pairs["epoch"]) == [0, 1, 2] and set(pairs["variant"]) == {"warmup 3"}
    assert (pairs["warmup_s"] > 0).all()  # the generator still trains during warmup
    cost = warmup_cost(pairs)
    assert cost["warmup_s"] < cost["mixed_s"]
