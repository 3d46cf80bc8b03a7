"""Notebook 08's second half: the spec's FAQ and troubleshooting advice, measured.

Q3 (early instability: warmup or a lower learning rate), Q4 (what cl_loss values mean), Q5 (RF
used only at inference), fewer sampling steps in training than at inference, and peak memory with
and without gradient checkpointing and chunked generation. Each function takes the measurements
as tables and returns ``(sentences, numbers)``: the answer as computed sentences and what a
notebook records.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rfkit.generator import make_generator
from rfkit.lab.memory import CAP_ROWS, CAPPED_STEP
from rfkit.lab.parameters import EXAMPLE, INFERENCE, JUDGE_ON, budget, kit_value, listing, value_label
from rfkit.lab.record import json_records
from rfkit.lab.verdicts import ROW_FIELDS, Findings, difference_row, phrase
from rfkit.stats import describe, paired_differences

NEAR_CHANCE = 0.95  # cl_loss at or above this share of ln(n): no contrastive signal
UNSTABLE, WITH_WARMUP, WITH_CLIPPING, LOWER_LR = "unstable", "unstable + warmup", "unstable + clipping", "lower rf_lr"


def instability_configs(config: Mapping[str, Any], learning_rate: float, warmup_epochs: int,
                        max_grad_norm: float) -> dict[str, dict[str, Any]]:
    """Q3's cases: a too-high ``rf_lr`` without warmup, then each remedy of the generator's error
    message on its own: warmup, gradient clipping, and the kit's lower ``rf_lr``."""
    unstable = {**config, "rf_lr": learning_rate, "rf_warmup_epochs": 0}
    return {UNSTABLE: unstable, WITH_WARMUP: {**unstable, "rf_warmup_epochs": warmup_epochs},
            WITH_CLIPPING: {**unstable, "rf_max_grad_norm": max_grad_norm},
            LOWER_LR: {**unstable, "rf_lr": kit_value("learning_rate", config)}}


def instability_training(training: Mapping[str, Any], warmup_epochs: int, after: int = 3) -> dict[str, Any]:
    """`training` for `after` epochs past the warmup, without early stopping, so a remedy that only
    delays the problem is seen to fail rather than to succeed by ending first."""
    return budget(training, warmup_epochs + after)


def _reason(reason: str) -> str:
    """A failure's cause, without the trainer's notes on what it kept."""
    return reason.split(". No epoch")[0].split(". The model")[0]


def instability_statement(runs: pd.DataFrame, learning_rate: float, warmup_epochs: int,
                          max_grad_norm: float) -> Findings:
    """Q3 in sentences from `rfkit.experiments.runner.records` rows of the `instability_configs` runs
    (``variant``, ``seed``, ``status``, ``reason``): how many seeds each case lost, and which
    remedies kept every seed training. A diverged run is a row with its status and reason."""
    missing = {"variant", "seed", "status", "reason"} - set(runs.columns)
    if missing:
        raise ValueError(f"runs lacks column(s) {sorted(missing)}")
    counts = {case: {"diverged": int((rows["status"] != "ok").sum()), "runs": len(rows)}
              for case, rows in runs.groupby("variant", sort=False)}
    if set(counts) != {UNSTABLE, WITH_WARMUP, WITH_CLIPPING, LOWER_LR}:
        raise ValueError(f"runs must hold the four instability cases, got {sorted(counts)}")
    lost = counts[UNSTABLE]
    if lost["diverged"] == 0:
        return Findings([f"rf_lr = {learning_rate:g} did not diverge here (0 of {lost['runs']} seeds): raise it to "
                         "see an unstable setting; the remedies are untested here."], {"cases": counts, "remedies": {}})
    failure = runs[(runs["variant"] == UNSTABLE) & (runs["status"] != "ok")].iloc[0]
    sentences = [f"rf_lr = {learning_rate:g} without warmup diverged in {lost['diverged']} of {lost['runs']} seeds, "
                 f"each kept as a row with its status and reason: {_reason(failure['reason'])}."]
    why = {WITH_WARMUP: "the generator trains during warmup too; warmup only delays mixing its output in",
           WITH_CLIPPING: "Adam's step size is set by the learning rate, not by the gradient's norm",
           LOWER_LR: "the step is small enough for the flow to stay finite"}
    names = {WITH_WARMUP: f"Warmup of {warmup_epochs} epochs", WITH_CLIPPING: f"Gradient clipping at {max_grad_norm:g}",
             LOWER_LR: "The kit's rf_lr"}
    explained = {WITH_WARMUP: "did not help", WITH_CLIPPING: "did not help", LOWER_LR: "kept every seed training"}
    remedies = {}
    for case in (WITH_WARMUP, WITH_CLIPPING, LOWER_LR):
        remedies[case] = counts[case]["diverged"] == 0
        outcome = ("kept every seed training" if remedies[case] else
                   "helped in part" if counts[case]["diverged"] / counts[case]["runs"] < lost["diverged"] / lost["runs"]
                   else "did not help")
        because = f" ({why[case]})" if outcome == explained[case] else ""
        sentences.append(f"{names[case]}: {counts[case]['diverged']} of {counts[case]['runs']} seeds diverged, "
                         f"so it {outcome}{because}.")
    if remedies[LOWER_LR]:
        blamed = (" (the trainer's message, seeing a NaN host loss, suspects the host's)"
                  if "host" in failure["reason"] else "")
        sentences.append("Every case keeps the host's learning rate, and the unstable case differs from the last "
                         f"one in rf_lr alone: the generator's learning rate is the cause{blamed}.")
    return Findings(sentences, {"cases": counts, "remedies": remedies})


def contrastive_statement(effects: pd.DataFrame, deltas: pd.DataFrame) -> Findings:
    """Q4 in sentences: the last epoch's cl_loss against chance, ln(n) with n the rows the
    contrastive term compares, for the kit's config and every setting; the healthy range is the
    one of the settings at the kit's ``contrast_temp`` (the temperature scales cl_loss) whose `deltas`
    verdict is not "worse" (the contrastive term switched off, ``contrast_weight`` 0, is left out);
    near chance is at least `NEAR_CHANCE` of ln(n)."""
    runs = effects[(effects["status"] == "ok") & (effects["parameter"] != INFERENCE)]
    runs = runs[(runs["contrast_weight"] > 0) & runs["cl_loss"].notna()]
    if runs.empty:
        raise ValueError("effects hold no successful run with a contrastive term")
    runs = runs.assign(chance=np.log(runs["contrast_rows"].astype(float)))
    runs = runs.assign(share=runs["cl_loss"] / runs["chance"])
    settings = runs.groupby(["parameter", "value"], sort=False)[["cl_loss", "share"]].mean()
    verdicts = deltas.set_index(["parameter", "value"])["verdict"]
    settings["verdict"] = [verdicts.get(key, "kit's value") for key in settings.index]
    same_temp = runs[(runs["parameter"] != "contrast_temp") | runs["is_kit"].astype(bool)]
    same_temp = settings.loc[list(dict.fromkeys(zip(same_temp["parameter"], same_temp["value"])))]
    example = runs[runs["variant"] == EXAMPLE].drop_duplicates("seed")
    n, chance = int(example["contrast_rows"].iloc[0]), float(example["chance"].iloc[0])
    healthy = same_temp[same_temp["verdict"] != "worse"]
    near = settings[settings["share"] >= NEAR_CHANCE]
    falling = runs.drop_duplicates(["variant", "seed"]).dropna(subset=["rf_loss_zero", "rf_loss"])
    fell = int((falling["rf_loss"] < falling["rf_loss_zero"]).sum())
    zero_cl, zero_rf = float(example["cl_loss_zero"].mean()), float(example["rf_loss_zero"].mean())
    below_zero = example["cl_loss"].mean() < zero_cl
    sentences = [
        f"The contrastive term asks each generated endpoint to pick its own target out of n = {n} rows, so a "
        f"guess scores ln(n) = {chance:.2f}. The kit's config ends training at cl_loss "
        f"{example['cl_loss'].mean():.2f} ({example['share'].mean():.0%} of chance): "
        + ("its endpoints carry information about their targets." if example["share"].mean() < NEAR_CHANCE
           else "no better than a guess."),
        f"Healthy range on this data, at the kit's contrast_temp: settings that did not lower test NDCG@20 "
        f"beyond noise ended between "
        f"{healthy['share'].min():.0%} and {healthy['share'].max():.0%} of chance (cl_loss "
        f"{healthy['cl_loss'].min():.2f} to {healthy['cl_loss'].max():.2f}); "
        + (f"near chance (at least {NEAR_CHANCE:.0%}): {listing([value_label(*k) for k in near.index])}."
           if len(near) else f"no setting ended near chance (at least {NEAR_CHANCE:.0%})."),
        f"But chance is the wrong yardstick: the endpoint x_t + (1 - t) v holds t * x1, so a net that learned "
        f"nothing (v = 0) already scores cl_loss {zero_cl:.2f} ({zero_cl / chance:.0%} of chance) on the same rows. "
        f"The kit's config ends {'below' if below_zero else 'NOT below'} that level "
        f"({example['cl_loss'].mean():.2f}): "
        + ("the velocity, not the interpolation, carries information about the targets." if below_zero
           else "its contrastive score comes from the interpolation, not from what the net learned."),
        f"The RF loss ended below the zero-velocity level (v = 0: {zero_rf:.2f} for the kit's config, about "
        f"2 in units of the targets' RMS) in {fell} of {len(falling)} runs; the kit's config ends at "
        f"{example['rf_loss'].mean():.2f}, its generator learned in "
        f"{int((example['health_verdict'] == 'learned').sum())} of {len(example)} seeds "
        f"(1-step cosine {example['health_one_step_cosine'].mean():.3f}, ridge "
        f"{example['health_ridge_cosine'].mean():.3f}).",
    ]
    if "contrast_temp" in set(settings.index.get_level_values(0)):
        temps = settings.loc["contrast_temp"].sort_index()
        sentences.append("cl_loss depends on contrast_temp, which scales the similarities before the softmax: "
                         + ", ".join(f"{t:g}: {row['cl_loss']:.2f}" for t, row in temps.iterrows())
                         + "; compare cl_loss values only at one temperature.")
    numbers = {"contrast_rows": n, "chance": chance, "kit_cl_loss": float(example["cl_loss"].mean()),
               "kit_share_of_chance": float(example["share"].mean()),
               "healthy_share": [float(healthy["share"].min()), float(healthy["share"].max())],
               "near_chance": [value_label(*k) for k in near.index], "rf_loss_below_zero_velocity": [fell, len(falling)],
               "kit_cl_loss_zero_velocity": zero_cl, "kit_rf_loss_zero_velocity": zero_rf,
               "kit_cl_below_zero_velocity": bool(below_zero)}
    return Findings(sentences, numbers)


def inference_only_statement(rescored: pd.DataFrame, ratio: float) -> Findings:
    """Q5 in sentences from `rescored_table` rows of models trained with train_mix_ratio 0: each
    inference ratio against ratio 0 (the same models' backbone), paired by seed."""
    if 0.0 not in set(rescored["inference_ratio"]) or ratio not in set(rescored["inference_ratio"]):
        raise ValueError(f"rescored must hold inference ratios 0 and {ratio}")
    deltas = paired_differences(rescored, JUDGE_ON, 0.0, variant="inference_ratio")
    chosen = deltas[deltas["inference_ratio"] == ratio].iloc[0]
    sentences = [f"Trained with train_mix_ratio 0 (the generator learns from epoch 0 but is never mixed in "
                 f"training) and mixed in only at inference with ratio {ratio:g}, test NDCG@20 changes by "
                 f"{describe(chosen)} against the same models' backbone (ratio 0).",
                 "Every ratio against the backbone: "
                 + "; ".join(f"{r['inference_ratio']:g}: {describe(r)}" for _, r in deltas.iterrows()) + "."]
    if not rescored["mixed_at_best"].astype(bool).all():
        sentences.append("Some models were restored to a best epoch inside warmup, where every ratio gives the "
                         "backbone: their differences are 0 by construction.")
    verdict = chosen["verdict"]
    answer = phrase(verdict, "helps", "hurts", "changes nothing beyond noise")
    sentences.append(f"So RF used only at inference {answer} here. (The spec's answer, \"no: RF must be trained\", "
                     "concerns an untrained generator; this one trained, only its mixing waited for inference.)")
    return Findings(sentences, {"deltas": json_records(deltas[["inference_ratio", *ROW_FIELDS]]), "verdict": verdict})


def train_steps_statement(runs: pd.DataFrame | None, fewer: str, same: str, train_steps: int,
                          inference_steps: int) -> Findings:
    """Fewer ODE steps in training than at inference, in sentences: config `fewer` against `same`,
    paired by seed, on test NDCG@20 and on seconds per epoch (`measure` rows with ``variant``).
    `runs` None: not measured (this rfkit has no ``rf_train_sampling_steps``)."""
    if runs is None:
        return Findings([f"Not measured: this rfkit has no rf_train_sampling_steps key, so training-time generation "
                         f"uses rf_sampling_steps ({inference_steps}) like inference."], {"measured": False})
    quality = paired_differences(runs, JUDGE_ON, same, [fewer]).iloc[0]
    time = paired_differences(runs, "seconds_per_epoch", same, [fewer], higher_is_better=False).iloc[0]
    base = float(time["baseline_mean"])
    sentences = [f"Generating with {train_steps} ODE steps in training instead of {inference_steps} (inference keeps "
                 f"{inference_steps}) changes seconds per epoch by {describe(time, 3)} ({time['delta'] / base:+.0%} "
                 f"of {base:.2f} s) and test NDCG@20 by {describe(quality)}."]
    return Findings(sentences, {"measured": True, "test_ndcg@20": difference_row(quality),
                                "seconds_per_epoch": difference_row(time)})


def supports_config_key(key: str, value: Any) -> bool:
    """Whether this rfkit's generator config accepts `key` (e.g. ``rf_train_sampling_steps``)."""
    try:
        make_generator({key: value}, 8)
    except ValueError:
        return False
    return True


def memory_statement(table: pd.DataFrame) -> Findings:
    """Peak memory in sentences from `rfkit.lab.memory.memory_table` rows: a training step with
    gradient checkpointing (and with `CAP_ROWS` rows per step, when the table has more rows) against
    a plain one, chunked generation against generation in one chunk; each with its time."""
    cases = table.set_index("case")
    rows = int(table["rows"].iloc[0])

    def versus(case: str, reference: str, what: str) -> str:
        peak, seconds = cases.loc[case, "peak_mib"], cases.loc[case, "seconds"]
        return (f"{peak:,.0f} MiB {what} ({peak / cases.loc[reference, 'peak_mib'] - 1:+.0%}, "
                f"time {seconds / cases.loc[reference, 'seconds'] - 1:+.0%})")

    step, chunked, whole = "training step", "generation in chunks of 8192 rows", "generation in one chunk"
    training = [versus("training step, gradient checkpointing", step, "with gradient checkpointing")]
    if CAPPED_STEP in cases.index and rows > CAP_ROWS:
        training.append(versus(CAPPED_STEP, step, f"with max_train_rows {CAP_ROWS:,}"))
    sentences = [f"On {rows:,} rows, one training step raises peak memory by {cases.loc[step, 'peak_mib']:,.0f} MiB "
                 f"({cases.loc[step, 'seconds']:.1f} s), " + " and ".join(training) + ".",
                 f"Generation raises it by {cases.loc[whole, 'peak_mib']:,.0f} MiB in one chunk and by "
                 + versus(chunked, whole, "in chunks of 8192 rows") + "."]
    return Findings(sentences, {"rows": rows, "peak_mib": {case: float(v) for case, v in cases["peak_mib"].items()},
                                "seconds": {case: float(v) for case, v in cases["seconds"].items()}})
