"""Notebook 03's analysis: the train x inference mix-ratio grid and what it says beyond seed noise.

The sweep trains once per (train ratio, seed) and re-scores each model at every inference ratio,
so inference ratio 0 of a row is *that row's own backbone*: the same trained models with the
generator switched off. Every comparison here is a paired difference over seeds
(`rfkit.stats.paired_differences`): a cell against its row's backbone, the cell chosen on
validation against scoring at the train ratio itself, and the best train ratio against the others.
Choices are made on validation; verdicts about a choice are judged on test, where choosing did not
look. `analyse` returns the conclusions as sentences and the numbers a notebook records.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rfkit.experiments.runner import with_health
from rfkit.lab.health import health_sentence
from rfkit.lab.record import json_records
from rfkit.lab.verdicts import Findings, chance_clause, difference_row, phrase
from rfkit.stats import describe, paired_differences

TRAIN, INFERENCE = "train ratio", "inference ratio"
CHOOSE_ON = "valid_ndcg@20"   # what picks a cell
JUDGE_ON = "test_ndcg@20"     # what a choice is judged on
METRICS = ("valid_ndcg@20", "valid_recall@20", "test_ndcg@20", "test_recall@20")
ADVISED_TRAIN = (0.1, 0.3)    # the spec's advice for train_mix_ratio


def tidy(sweep: pd.DataFrame) -> pd.DataFrame:
    """`rfkit.experiments.sweep.run_grid` output over ``rf_mix_ratio`` with readable ratio column names."""
    return sweep.rename(columns={"rf_mix_ratio": TRAIN, "rf_inference_mix_ratio": INFERENCE})


def _require(sweep: pd.DataFrame, metric: str) -> None:
    missing = {TRAIN, INFERENCE, "seed", metric} - set(sweep.columns)
    if missing:
        raise ValueError(f"sweep lacks column(s) {sorted(missing)}")


def grid(sweep: pd.DataFrame, metric: str = CHOOSE_ON) -> pd.DataFrame:
    """Mean over seeds of `metric`, train ratios as rows and inference ratios as columns."""
    _require(sweep, metric)
    return sweep.pivot_table(index=TRAIN, columns=INFERENCE, values=metric, aggfunc="mean")


def row_choices(sweep: pd.DataFrame, metric: str = CHOOSE_ON) -> dict[float, float]:
    """Each train ratio's best inference ratio on `metric` (mean over seeds)."""
    return {float(t): float(i) for t, i in grid(sweep, metric).idxmax(axis=1).items()}


def versus_backbone(sweep: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Every cell with inference ratio > 0 minus its row's inference ratio 0 (the same trained
    models' backbones), paired by seed: one `paired_differences` row per cell."""
    _require(sweep, metric)
    if 0.0 not in set(sweep[INFERENCE]):
        raise ValueError("sweep has no inference ratio 0: the backbone reference is missing")
    return paired_differences(sweep, metric, 0.0, by=[TRAIN], variant=INFERENCE)


def compare_cells(sweep: pd.DataFrame, metric: str, treatment: tuple[float, float],
                  baseline: tuple[float, float]) -> dict[str, Any]:
    """`treatment` cell minus `baseline` cell, each a (train ratio, inference ratio), paired by seed."""
    _require(sweep, metric)
    parts = []
    for label, (train, inference) in (("baseline", baseline), ("treatment", treatment)):
        rows = sweep[(sweep[TRAIN] == train) & (sweep[INFERENCE] == inference)]
        if rows.empty:
            raise ValueError(f"sweep has no rows for the cell (train {train}, inference {inference})")
        parts.append(rows.assign(variant=label))
    return paired_differences(pd.concat(parts), metric, "baseline", ["treatment"]).iloc[0].to_dict()


def _cells_sentence(cells: pd.DataFrame, metric: str) -> str:
    counts = cells["verdict"].value_counts()
    if (counts.get("one seed", 0)) == len(cells):
        return f"With one seed there is no interval: no cell can be told apart from its backbone on {metric}."
    return (f"Of the {len(cells)} cells with inference ratio > 0, {int(cells['beyond_noise'].sum())} differ from "
            f"their row's backbone beyond noise on {metric} ({counts.get('better', 0)} better, "
            f"{counts.get('worse', 0)} worse); {chance_clause(len(cells))}.")


def _noise_sentence(sweep: pd.DataFrame, metric: str) -> tuple[str, float, float]:
    """The raw grid's colour range against the typical seed std of one cell."""
    means = grid(sweep, metric)
    span = float(means.max().max() - means.min().min())
    stds = sweep.groupby([TRAIN, INFERENCE])[metric].std()
    noise = float(stds.median()) if stds.notna().any() else float("nan")
    if not np.isfinite(noise):
        return f"The raw {metric} grid spans {span:.4f}; with one seed its seed noise is unknown.", span, noise
    reading = ("its colours are mostly seed noise: read the differences with their intervals instead"
               if span < noise else "it spans more than one seed std, but only the intervals say which "
               "cells differ beyond noise")
    return (f"The raw {metric} grid's cell means span {span:.4f} while one cell's seed std is {noise:.4f} "
            f"(median over cells): {reading}."), span, noise


def _choice_sentence(choice: tuple[float, float], versus: dict[str, Any] | None) -> str:
    train, inference = choice
    if versus is None:
        return (f"Validation prefers inference ratio 0 for train ratio {train}: mixing the trained generator in "
                f"at scoring time does not beat the backbone alone on validation.")
    effect = phrase(versus["verdict"], "helps", "hurts", "makes no difference beyond seed noise")
    return (f"Against the same models' backbones (inference ratio 0), the chosen cell changes {JUDGE_ON} by "
            f"{describe(versus)}: mixing RF in at ratio {inference} {effect} on test.")


def _rows_sentence(per_row: pd.DataFrame) -> str:
    parts = [f"{t} -> {i}: " + ("backbone chosen" if i == 0 else describe(r))
             for t, i, r in zip(per_row[TRAIN], per_row[INFERENCE], per_row["versus_backbone"])]
    judged = [r for r in per_row["versus_backbone"] if r is not None]
    better = sum(r["verdict"] == "better" for r in judged)
    worse = sum(r["verdict"] == "worse" for r in judged)
    return (f"Per train ratio, its validation-chosen inference ratio against ratio 0 on {JUDGE_ON}: "
            f"{'; '.join(parts)}. Beyond noise: {better} better, {worse} worse of {len(per_row)} rows "
            f"({chance_clause(len(judged))}).")


def _train_sentence(choice: tuple[float, float], versus_others: pd.DataFrame, trained: Sequence[float]) -> str:
    advised = ADVISED_TRAIN[0] <= choice[0] <= ADVISED_TRAIN[1]
    head = (f"The best train ratio {choice[0]} is {'inside' if advised else 'outside'} the advised "
            f"{ADVISED_TRAIN[0]}-{ADVISED_TRAIN[1]} (trained: {list(trained)})")
    if versus_others.empty:
        return head + "; with one train ratio there is nothing to compare it with."
    parts = [f"train ratio {t} {describe(r)}" for t, r in zip(versus_others[TRAIN], versus_others["difference"])]
    beyond = [r for r in versus_others["difference"] if r["verdict"] in ("better", "worse")]
    verdict = ("the train ratio makes no difference beyond noise here" if not beyond
               else "the train ratio matters beyond noise here")
    return f"{head}. Other train ratios, each at its own chosen inference ratio, minus it on {JUDGE_ON}: " \
           f"{'; '.join(parts)}: {verdict}."


def _larger_sentence(per_row: pd.DataFrame) -> str:
    larger = per_row[INFERENCE] > per_row[TRAIN]
    parts = [f"{t} -> {i}" + (f": {describe(r)} against scoring at {t}" if r is not None else "")
             for t, i, r in zip(per_row[TRAIN], per_row[INFERENCE], per_row["versus_train_ratio"])]
    return (f"The chosen inference ratio exceeds the train ratio in {larger.mean():.0%} of rows "
            f"({'; '.join(parts)}; differences on {JUDGE_ON}).")


@dataclass(kw_only=True)
class MixRatioFindings(Findings):
    """What `analyse` found: sentences and numbers, plus the choice and the tables behind the verdicts."""

    choice: tuple[float, float]
    mixed_choice: tuple[float, float]  # the best cell on validation among those that mix RF in (ratio > 0)
    cells: dict[str, pd.DataFrame]   # metric -> versus_backbone table
    per_row: pd.DataFrame            # one row per train ratio: its choice and its two comparisons
    versus_others: pd.DataFrame      # other train ratios (at their choice) minus the best one


def _per_row(sweep: pd.DataFrame, choices: Mapping[float, float]) -> pd.DataFrame:
    inference_ratios = set(sweep[INFERENCE])
    rows = []
    for train, inference in choices.items():
        at_train = train in inference_ratios and inference != train
        rows.append({TRAIN: train, INFERENCE: inference,
                     "versus_backbone": compare_cells(sweep, JUDGE_ON, (train, inference), (train, 0.0))
                     if inference != 0 else None,
                     "versus_train_ratio": compare_cells(sweep, JUDGE_ON, (train, inference), (train, train))
                     if at_train else None})
    return pd.DataFrame(rows)


def analyse(sweep: pd.DataFrame, spec_cell: tuple[float, float] | None = None,
            warmup_epochs: int = 0) -> MixRatioFindings:
    """The verdicts of a tidy sweep (columns train ratio, inference ratio, seed, `METRICS`,
    ``best_epoch``): the cell chosen on validation, every comparison as a paired difference, the
    conclusions as sentences and the numbers to record. `spec_cell` is the spec's example
    (train, inference) ratio pair, reported when the grid holds it."""
    for metric in METRICS:
        _require(sweep, metric)
    means = {m: grid(sweep, m) for m in METRICS}
    choice = tuple(float(r) for r in means[CHOOSE_ON].stack().idxmax())
    mixed = means[CHOOSE_ON].drop(columns=[0.0], errors="ignore")
    if mixed.empty:
        raise ValueError("sweep has no inference ratio > 0: nothing mixes RF in")
    mixed_choice = tuple(float(r) for r in mixed.stack().idxmax())
    choices = row_choices(sweep)
    cells = {m: versus_backbone(sweep, m) for m in (CHOOSE_ON, JUDGE_ON)}
    per_row = _per_row(sweep, choices)
    versus_choice = per_row.set_index(TRAIN).loc[choice[0], "versus_backbone"]
    others = [{TRAIN: t, "difference": compare_cells(sweep, JUDGE_ON, (t, i), choice)}
              for t, i in choices.items() if t != choice[0]]
    versus_others = pd.DataFrame(others, columns=[TRAIN, "difference"])
    noise_text, span, noise = _noise_sentence(sweep, CHOOSE_ON)
    test_rank = int(means[JUDGE_ON].stack().rank(ascending=False, method="min")[choice])
    runs = sweep.drop_duplicates([TRAIN, "seed"])
    summary = sweep.groupby([TRAIN, INFERENCE])[list(METRICS)].agg(["mean", "std"])
    cell = summary.loc[choice]
    n_seeds = sweep["seed"].nunique()
    conclusions = [
        f"Validation picks train ratio {choice[0]} with inference ratio {choice[1]}: {JUDGE_ON} "
        f"{cell[(JUDGE_ON, 'mean')]:.4f}" + (f" ± {cell[(JUDGE_ON, 'std')]:.4f}" if n_seeds > 1 else "")
        + f" over {n_seeds} seed(s) (validation {cell[(CHOOSE_ON, 'mean')]:.4f}).",
        _choice_sentence(choice, versus_choice),
        _rows_sentence(per_row),
        " ".join(_cells_sentence(cells[m], m) for m in (CHOOSE_ON, JUDGE_ON)),
        noise_text,
        _train_sentence(choice, versus_others, sorted(choices)),
        _larger_sentence(per_row),
        f"The validation choice ranks {test_rank} of {means[JUDGE_ON].size} cells on test.",
        f"Best epochs: {sorted(runs['best_epoch'].tolist())}; with warmup {warmup_epochs}, "
        f"{int((runs['best_epoch'] < warmup_epochs).sum())} model(s) were restored to a warmup epoch.",
    ]
    nested = lambda table: {t: r.to_dict() for t, r in table.iterrows()}  # noqa: E731 (train -> inference -> value)
    cell_rows = lambda table: [{TRAIN: t, INFERENCE: i, **difference_row(r)}  # noqa: E731
                               for t, i, (_, r) in zip(table[TRAIN], table[INFERENCE], table.iterrows())]
    numbers = {
        "sweep_rows": json_records(sweep[with_health([TRAIN, INFERENCE, "seed", *METRICS, "best_epoch"],
                                                     sweep.columns)]),
        "valid_ndcg20_grid": nested(means["valid_ndcg@20"]), "valid_recall20_grid": nested(means["valid_recall@20"]),
        "test_ndcg20_grid": nested(means[JUDGE_ON]),
        "mixed_cell": {"train_ratio": mixed_choice[0], "inference_ratio": mixed_choice[1]},
        "best_cell": {"train_ratio": choice[0], "inference_ratio": choice[1],
                      **{m: float(cell[(m, "mean")]) for m in METRICS}},
        "backbone_of_best": {m: float(summary.loc[(choice[0], 0.0), (m, "mean")]) for m in METRICS},
        "best_vs_backbone": difference_row(versus_choice) if versus_choice is not None else None,
        "spec_example_cell": ({m: float(summary.loc[spec_cell, (m, "mean")]) for m in METRICS}
                              if spec_cell is not None and spec_cell in summary.index else None),
        "versus_backbone": {m: cell_rows(table) for m, table in cells.items()},
        "per_train_ratio": [{TRAIN: t, INFERENCE: i, "versus_backbone": difference_row(b) if b is not None else None,
                             "versus_train_ratio": difference_row(r) if r is not None else None}
                            for t, i, b, r in per_row.itertuples(index=False)],
        "versus_best_train_ratio": [{TRAIN: t, **difference_row(d)} for t, d in versus_others.itertuples(index=False)],
        "best_inference_by_train_ratio": choices,
        "best_train_in_advised_range": ADVISED_TRAIN[0] <= choice[0] <= ADVISED_TRAIN[1],
        "inference_larger_share": float((per_row[INFERENCE] > per_row[TRAIN]).mean()),
        "test_rank_of_choice": test_rank, "grid_span": span, "cell_seed_std": noise if np.isfinite(noise) else None,
        "best_epochs": runs[[TRAIN, "seed", "best_epoch"]].to_dict("records"),
    }
    return MixRatioFindings(conclusions, numbers, choice=choice, mixed_choice=mixed_choice, cells=cells,
                            per_row=per_row, versus_others=versus_others)


def per_row_table(findings: MixRatioFindings) -> pd.DataFrame:
    """`findings.per_row` for reading: each train ratio's chosen inference ratio and its two
    test differences as "delta [low, high] (verdict)" text."""
    text = lambda d: "-" if d is None else describe(d)  # noqa: E731
    table = findings.per_row.assign(**{
        f"vs ratio 0 ({JUDGE_ON})": findings.per_row["versus_backbone"].map(text),
        f"vs scoring at the train ratio ({JUDGE_ON})": findings.per_row["versus_train_ratio"].map(text)})
    return table.drop(columns=["versus_backbone", "versus_train_ratio"]).rename(
        columns={INFERENCE: "chosen inference ratio (valid)"}).set_index(TRAIN)


CONTROL_NAMES = {"regression": "regression", "noise": "placebo"}  # rf_generator -> variant name


def versus_controls(sweep: pd.DataFrame, controls: pd.DataFrame, cell: tuple[float, float],
                    metric: str = JUDGE_ON) -> tuple[pd.DataFrame, list[str]]:
    """RF at `cell` (train ratio, inference ratio) against the controls trained and scored at the
    same cell on the same seeds: RF and regression minus the placebo, RF minus regression.

    The cell must mix the generators in (inference ratio > 0, e.g. `MixRatioFindings.mixed_choice`):
    at ratio 0 every arm scores without its generator, and "RF minus placebo" would not test content
    against noise. `controls`: tidy `run_grid` output over ``rf_generator`` ("regression", "noise")
    at the cell's train ratio, re-scored at least at its inference ratio. Returns the paired
    differences (a ``comparison`` column names each) and the sentences that say them, health included.
    """
    if not cell[1] > 0:
        raise ValueError(f"cell {cell} scores at inference ratio {cell[1]}: the controls are compared where "
                         "the generators are mixed in (inference ratio > 0)")
    _require(controls, metric)
    at_cell = lambda table: table[(table[TRAIN] == cell[0]) & (table[INFERENCE] == cell[1])]  # noqa: E731
    long = pd.concat([at_cell(sweep).assign(variant="RF"),
                      at_cell(controls).assign(variant=at_cell(controls)["rf_generator"].map(CONTROL_NAMES))])
    if set(long["variant"]) != {"RF", *CONTROL_NAMES.values()}:
        raise ValueError(f"sweep and controls must both hold cell {cell} for RF, regression and placebo")
    placebo = paired_differences(long, metric, "placebo", ["RF", "regression"])
    flow = paired_differences(long, metric, "regression", ["RF"])
    table = pd.concat([placebo.assign(comparison=placebo["variant"] + " - placebo"),
                       flow.assign(comparison="RF - regression")], ignore_index=True)
    parts = "; ".join(f"{c} {describe(r)}" for c, r in zip(table["comparison"], table.to_dict("records")))
    runs = long.drop_duplicates(["variant", "seed"])
    sentences = [f"Against the controls at the chosen cell (train {cell[0]}, inference {cell[1]}), {metric}: {parts}.",
                 health_sentence(runs)]
    return table, sentences
