"""rfkit.lab.faq and rfkit.lab.memory: the spec's FAQ answers, computed from small hand-made tables."""
import math

import pandas as pd
import pytest

from rfkit import config
from rfkit.lab import faq
from rfkit.lab.memory import CAP_ROWS, CAPPED_STEP, CASES, default_cases, memory_table, peak_memory
from rfkit.lab.parameters import EXAMPLE

KIT = config.load("multimodal")
SEEDS = [0, 1, 2]
HOST_NAN = "training stopped at epoch 0, batch 1: the host loss is nan. No epoch had been evaluated"


def instability_runs(diverged: dict[str, int]) -> pd.DataFrame:
    """`records` rows of the four cases, the first `diverged[case]` seeds of each diverged."""
    return pd.DataFrame([{"variant": case, "seed": seed, "status": "diverged" if seed < diverged[case] else "ok",
                          "reason": HOST_NAN if seed < diverged[case] else None}
                         for case in (faq.UNSTABLE, faq.WITH_WARMUP, faq.WITH_CLIPPING, faq.LOWER_LR)
                         for seed in SEEDS])


def test_instability_cases_and_budget():
    cases = faq.instability_configs(KIT, 1.0, 5, 1.0)
    assert cases[faq.UNSTABLE] == {**KIT, "rf_lr": 1.0, "rf_warmup_epochs": 0}
    assert cases[faq.WITH_WARMUP]["rf_warmup_epochs"] == 5 and cases[faq.WITH_CLIPPING]["rf_max_grad_norm"] == 1.0
    assert cases[faq.LOWER_LR]["rf_lr"] == KIT["rf_lr"]
    assert faq.instability_training({"epochs": 4, "patience": 2, "batch_size": 8}, 5) == \
        {"epochs": 8, "patience": 8, "batch_size": 8}  # runs past the warmup, no early stop


def test_instability_statement_says_which_remedy_worked():
    sentences, numbers = faq.instability_statement(
        instability_runs({faq.UNSTABLE: 3, faq.WITH_WARMUP: 3, faq.WITH_CLIPPING: 1, faq.LOWER_LR: 0}), 1.0, 5, 1.0)
    assert sentences[0].startswith("rf_lr = 1 without warmup diverged in 3 of 3 seeds")
    assert "the host loss is nan" in sentences[0] and "No epoch" not in sentences[0]
    assert sentences[1].startswith("Warmup of 5 epochs: 3 of 3 seeds diverged") and "did not help" in sentences[1]
    assert sentences[2].startswith("Gradient clipping at 1: 1 of 3 seeds diverged") and "in part" in sentences[2]
    assert sentences[3].startswith("The kit's rf_lr: 0 of 3 seeds diverged, so it kept every seed training")
    assert "the generator's learning rate is the cause (the trainer's message" in sentences[4]
    assert numbers["remedies"] == {faq.WITH_WARMUP: False, faq.WITH_CLIPPING: False, faq.LOWER_LR: True}
    assert numbers["cases"][faq.WITH_CLIPPING] == {"diverged": 1, "runs": 3}


def test_instability_statement_without_divergence_and_bad_input():
    sentences, numbers = faq.instability_statement(instability_runs(dict.fromkeys(
        (faq.UNSTABLE, faq.WITH_WARMUP, faq.WITH_CLIPPING, faq.LOWER_LR), 0)), 0.5, 5, 1.0)
    assert sentences == ["rf_lr = 0.5 did not diverge here (0 of 3 seeds): raise it to see an unstable setting; "
                         "the remedies are untested here."] and numbers["remedies"] == {}
    runs = instability_runs(dict.fromkeys((faq.UNSTABLE, faq.WITH_WARMUP, faq.WITH_CLIPPING, faq.LOWER_LR), 1))
    with pytest.raises(ValueError, match="four instability cases"):
        faq.instability_statement(runs[runs["variant"] != faq.LOWER_LR], 1.0, 5, 1.0)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['reason'\]"):
        faq.instability_statement(runs.drop(columns="reason"), 1.0, 5, 1.0)


def effects_row(parameter, value, seed, cl_loss, is_kit=False, contrast_weight=1.0, rf_loss=1.5):
    return {"parameter": parameter, "value": value, "seed": seed, "status": "ok", "is_kit": is_kit,
            "variant": EXAMPLE if is_kit else f"{parameter}={value:g}", "cl_loss": cl_loss, "rf_loss": rf_loss,
            "rf_loss_first": 2.0, "rf_loss_zero": 2.0, "cl_loss_zero": 0.7 * math.log(100), "contrast_rows": 100,
            "contrast_weight": contrast_weight, "health_verdict": "learned" if seed else "not learned",
            "health_one_step_cosine": 0.3, "health_ridge_cosine": 0.4}


def test_contrastive_statement_reads_cl_loss_against_chance():
    chance = math.log(100)
    rows = []
    for seed in SEEDS:
        rows += [effects_row(p, kit, seed, 0.5 * chance, is_kit=True) for p, kit in
                 (("hidden_dim", 128), ("contrast_temp", 0.2), ("contrast_weight", 1.0))]
        rows += [effects_row("hidden_dim", 32, seed, 0.98 * chance, rf_loss=2.5),   # near chance, and worse
                 effects_row("hidden_dim", 256, seed, 0.6 * chance),                 # within noise
                 effects_row("contrast_temp", 0.05, seed, 0.1 * chance),             # another temperature
                 effects_row("contrast_weight", 0.0, seed, 0.0, contrast_weight=0.0)]  # term off: left out
    deltas = pd.DataFrame([{"parameter": "hidden_dim", "value": 32, "verdict": "worse"},
                           {"parameter": "hidden_dim", "value": 256, "verdict": "within noise"},
                           {"parameter": "contrast_temp", "value": 0.05, "verdict": "within noise"},
                           {"parameter": "contrast_weight", "value": 0.0, "verdict": "within noise"}])
    sentences, numbers = faq.contrastive_statement(pd.DataFrame(rows), deltas)
    assert numbers["chance"] == pytest.approx(chance) and numbers["kit_share_of_chance"] == pytest.approx(0.5)
    assert "out of n = 100 rows, so a guess scores ln(n) = 4.61" in sentences[0] and "(50% of chance)" in sentences[0]
    assert numbers["healthy_share"] == pytest.approx([0.5, 0.6])  # not the worse 98%, not temperature 0.05
    assert "between 50% and 60% of chance" in sentences[1]
    assert "near chance (at least 95%): hidden_dim 32" in sentences[1]
    # against the zero-velocity level (70% of chance here), not chance: the kit's 50% is below it
    assert "(v = 0) already scores cl_loss 3.22 (70% of chance)" in sentences[2] and "ends below that level" in sentences[2]
    assert numbers["kit_cl_below_zero_velocity"] and numbers["kit_cl_loss_zero_velocity"] == pytest.approx(0.7 * chance)
    assert numbers["rf_loss_below_zero_velocity"] == [9, 12]  # hidden_dim 32 ends at 2.5, above v = 0's 2.0
    assert "learned in 2 of 3 seeds" in sentences[3]
    assert sentences[4].startswith("cl_loss depends on contrast_temp") and "0.05: 0.46, 0.2: 2.30" in sentences[4]


def rescored(shift: dict[int, float]) -> pd.DataFrame:
    base = {0: 0.20, 1: 0.22, 2: 0.18}
    return pd.DataFrame([{"variant": "train_mix_ratio=0", "seed": s, "inference_ratio": r, "mixed_at_best": True,
                          "test_ndcg@20": base[s] + (shift[s] if r > 0 else 0.0) * r}
                         for s in SEEDS for r in (0.0, 0.2, 0.5)])


@pytest.mark.parametrize("shift, verdict, answer", [
    ({0: 0.05, 1: 0.06, 2: 0.055}, "better", "helps"),
    ({0: -0.05, 1: -0.06, 2: -0.055}, "worse", "hurts"),
    ({0: 0.05, 1: -0.06, 2: 0.01}, "within noise", "changes nothing beyond noise")])
def test_inference_only_statement(shift, verdict, answer):
    sentences, numbers = faq.inference_only_statement(rescored(shift), 0.2)
    assert numbers["verdict"] == verdict and f"({verdict}" in sentences[0]
    assert ") against the same models' backbone" in sentences[0]
    assert sentences[-1].startswith(f"So RF used only at inference {answer} here.")
    assert [d["inference_ratio"] for d in numbers["deltas"]] == [0.2, 0.5]
    with pytest.raises(ValueError, match="inference ratios 0 and 0.3"):
        faq.inference_only_statement(rescored(shift), 0.3)


def test_train_steps_statement():
    sentences, numbers = faq.train_steps_statement(None, "", "", 2, 10)
    assert numbers == {"measured": False} and "has no rf_train_sampling_steps" in sentences[0]
    runs = pd.DataFrame([{"variant": v, "seed": s, "seconds_per_epoch": (0.5 if v == "fewer" else 1.0) + s / 100,
                          "test_ndcg@20": 0.2 + s / 100 + (0.001 * (s - 1) if v == "fewer" else 0)}
                         for v in ("same", "fewer") for s in SEEDS])
    sentences, numbers = faq.train_steps_statement(runs, "fewer", "same", 2, 10)
    assert numbers["seconds_per_epoch"]["verdict"] == "better"  # lower is better for time
    assert numbers["test_ndcg@20"]["verdict"] == "within noise"
    assert "with 2 ODE steps in training instead of 10" in sentences[0] and "(-50% of 1.01 s)" in sentences[0]


def test_supports_config_key():
    assert faq.supports_config_key("rf_sampling_steps", 5)
    assert not faq.supports_config_key("rf_no_such_key", 5)


def test_memory_statement():
    table = pd.DataFrame([{"case": c, "rows": 100_000, "peak_mib": m, "seconds": s} for c, m, s in
                          (("training step", 800.0, 2.0), ("training step, gradient checkpointing", 600.0, 3.0),
                           (CAPPED_STEP, 400.0, 1.0), ("generation in one chunk", 200.0, 1.0),
                           ("generation in chunks of 8192 rows", 50.0, 1.0))])
    sentences, numbers = faq.memory_statement(table)
    assert sentences[0] == ("On 100,000 rows, one training step raises peak memory by 800 MiB (2.0 s), 600 MiB with "
                            "gradient checkpointing (-25%, time +50%) and 400 MiB with max_train_rows 65,536 "
                            "(-50%, time -50%).")
    assert sentences[1] == ("Generation raises it by 200 MiB in one chunk and by 50 MiB in chunks of 8192 rows "
                            "(-75%, time +0%).")
    assert numbers["rows"] == 100_000 and numbers["peak_mib"]["training step"] == 800.0
    small = faq.memory_statement(table.assign(rows=20_000)).sentences[0]
    assert "max_train_rows" not in small  # 20,000 rows: the cap takes every row


def test_peak_memory_sees_chunking_in_its_own_process():
    assert CAPPED_STEP not in default_cases(CAP_ROWS) and default_cases(CAP_ROWS + 1) == list(CASES)
    table = memory_table(60_000, ["generation in one chunk", "generation in chunks of 8192 rows"], workers=2)
    whole, chunked = table.to_dict("records")
    assert whole["chunk_size"] == 60_000 and chunked["chunk_size"] == 8192
    # one chunk holds a 60,000 x 128 hidden layer (about 29 MiB) at once; chunks hold 8192 rows of it
    assert whole["peak_mib"] > chunked["peak_mib"] + 15
    assert set(CASES) >= {whole["case"], chunked["case"]}
    with pytest.raises(ValueError, match="case must be one of"):
        peak_memory("nothing", 10)
    with pytest.raises(ValueError, match="rows must be a positive int"):
        peak_memory("training step", 0)
