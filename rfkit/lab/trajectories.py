"""Notebook 04's analysis: cloud sizes along the flow, steps and solvers, 1-RF against 2-RF.

Reflow is repeated with several seeds (new couplings, new training order) from one trained 1-RF
generator, so the 1-RF numbers are paired with every reflow seed and `rfkit.stats.paired_differences`
gives 2-RF minus 1-RF with a 95% interval over reflow seeds (the 1-RF training itself is one run, so
its own seed noise is not in that interval). Errors and straightness are lower-is-better. `analyse`
turns the tables into conclusions (sentences) and the numbers a notebook records.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from rfkit.generator import RFEmbeddingGenerator
from rfkit.lab.flow_probes import compare_flows, reflow, versus_references
from rfkit.lab.verdicts import Findings, difference_row, phrase
from rfkit.stats import paired_differences

ONE_RF, TWO_RF = "1-RF", "2-RF"
FEW_STEPS = (1, 2)
ERRORS = {"mse_to_reference": "the fine 1-RF solution", "mse": "the targets"}  # endpoint errors, lower is better


def spread(points: Tensor | np.ndarray) -> float:
    """Root mean squared distance of rows from their centroid, per coordinate: a cloud's size."""
    xy = torch.as_tensor(points, dtype=torch.float64)
    if xy.ndim != 2 or len(xy) < 2:
        raise ValueError(f"points must be a 2-D (rows, dims) array with 2+ rows, got shape {tuple(xy.shape)}")
    return float((xy - xy.mean(0)).pow(2).mean().sqrt())


def cloud_sizes(start: Tensor, end: Tensor, targets: Tensor, projection: Any) -> dict[str, dict[str, float]]:
    """Size of the t=0 cloud, the generated t=1 cloud and the targets (rows x dim, target units):
    `spread` over all dimensions, `spread` in the plane of a fitted 2-D `projection` (e.g. the
    targets' PCA), and the share of each cloud's variance that lies in that plane."""
    sizes = {}
    for name, cloud in (("t0", start), ("t1", end), ("targets", targets)):
        plane = projection.transform(cloud.detach().cpu().numpy())
        full, flat = spread(cloud), spread(plane)
        sizes[name] = {"spread": full, "plane_spread": flat,
                       "plane_share": flat ** 2 * plane.shape[1] / (full ** 2 * cloud.shape[1])}
    return sizes


def cloud_sentence(sizes: Mapping[str, Mapping[str, float]]) -> str:
    """How the t=1 cloud's size compares with the t=0 cloud's, in the plane and over all dimensions."""
    t0, t1, targets = sizes["t0"], sizes["t1"], sizes["targets"]
    plane, full = t1["plane_spread"] / t0["plane_spread"], t1["spread"] / t0["spread"]
    overall = "about the same size as" if 0.8 <= full <= 1.25 else ("larger than" if full > 1 else "smaller than")
    return (f"In the targets' PCA plane the item cloud's spread goes from {t0['plane_spread']:.3g} at t=0 to "
            f"{t1['plane_spread']:.3g} at t=1, {plane:.2f}x (the targets' own: {targets['plane_spread']:.3g}). "
            f"Over all dimensions the t=1 cloud is {overall} the t=0 cloud ({t1['spread']:.3g} vs "
            f"{t0['spread']:.3g}, {full:.2f}x); "
            f"the plane holds {t0['plane_share']:.0%} of the noise's variance, {t1['plane_share']:.0%} of the "
            f"generated cloud's and {targets['plane_share']:.0%} of the targets'.")


def reflow_runs(generator: RFEmbeddingGenerator, conditions: Sequence[Tensor], targets: Tensor, start_noise: Tensor,
                seeds: Sequence[int], steps: Sequence[int], reference: Tensor, fine_steps: int,
                reflow_steps: int, **reflow_options: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reflow `generator` once per seed and compare each copy with it (`compare_flows`).

    Returns a tidy table (``model`` 1-RF / 2-RF, ``seed``, ``n_steps`` and compare_flows'
    columns; the 1-RF rows are repeated for each seed, the flow that seed's reflow started from)
    and the reflow losses (one column per seed). `reflow_options` go to `flow_probes.reflow`.
    """
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one reflow seed")
    compare = lambda name, flow: compare_flows({name: flow}, conditions, targets, start_noise, steps,  # noqa: E731
                                              reference, fine_steps).rename(columns={"flow": "model"})
    original, parts, losses = compare(ONE_RF, generator), [], {}
    for seed in seeds:
        flow, losses[seed] = reflow(generator, conditions, reflow_steps, seed=seed, **reflow_options)
        parts += [original.assign(seed=seed), compare(TWO_RF, flow).assign(seed=seed)]
    return pd.concat(parts, ignore_index=True), pd.DataFrame(losses)


def reflow_differences(table: pd.DataFrame, steps: Sequence[int] = FEW_STEPS,
                       errors: Sequence[str] = tuple(ERRORS)) -> pd.DataFrame:
    """2-RF minus 1-RF of each endpoint error at each of `steps`, paired by reflow seed
    (lower is better: a "better" verdict means 2-RF lands closer)."""
    rows = table[table["n_steps"].isin(steps)]
    if set(rows["n_steps"]) != set(steps):
        raise ValueError(f"table lacks rows for n_steps {sorted(set(steps) - set(rows['n_steps']))}")
    return pd.concat([paired_differences(rows, error, ONE_RF, [TWO_RF], by=["n_steps"], variant="model",
                                         higher_is_better=False).assign(error=error) for error in errors],
                     ignore_index=True)


def straightness_difference(table: pd.DataFrame) -> dict[str, Any]:
    """2-RF minus 1-RF straightness S (one value per flow), paired by reflow seed; lower is straighter."""
    rows = table.drop_duplicates(["model", "seed"])
    return paired_differences(rows, "straightness", ONE_RF, [TWO_RF], variant="model",
                              higher_is_better=False).iloc[0].to_dict()


def relative(difference: Mapping[str, Any]) -> str:
    """"2-RF 1.2e-04 vs 1-RF 1.1e-04: +9.1% [-3.0%, +21.2%] (within noise)": a paired difference
    relative to the baseline's mean, for errors whose scale varies from data set to data set."""
    base = difference["baseline_mean"]
    share = lambda value: f"{value / base:+.1%}" if base else "n/a"  # noqa: E731
    head = f"2-RF {difference['treatment_mean']:.3g} vs 1-RF {base:.3g}: {share(difference['delta'])}"
    if difference["verdict"] == "one seed":
        return f"{head} (one seed, no interval)"
    return f"{head} [{share(difference['ci_low'])}, {share(difference['ci_high'])}] ({difference['verdict']})"


def few_step_phrase(differences: pd.DataFrame) -> str:
    """"better than 1-RF at 1 and 2 Euler steps" / "no better than 1-RF at 1 or 2 Euler steps
    (worse at 2)" / ..., from the verdicts of one error's rows."""
    steps = sorted(differences["n_steps"])
    better = [n for n, v in zip(differences["n_steps"], differences["verdict"]) if v == "better"]
    worse = [n for n, v in zip(differences["n_steps"], differences["verdict"]) if v == "worse"]
    listed = lambda ns, word: f" {word} ".join(str(n) for n in sorted(ns))  # noqa: E731
    if len(better) == len(steps):
        return f"better than 1-RF at {listed(steps, 'and')} Euler steps"
    if not better:
        tail = f", worse at {listed(worse, 'and')}" if worse else ""
        return f"no better than 1-RF at {listed(steps, 'or')} Euler steps{tail}"
    return (f"better than 1-RF at {listed(better, 'and')} Euler step(s) but not at "
            f"{listed([n for n in steps if n not in better], 'or')}")


def reflow_sentences(table: pd.DataFrame, chord: float) -> Findings:
    """The straightness verdict and the few-step verdicts of 1-RF against 2-RF, and their numbers.
    `chord` is the mean squared length of 1-RF's chord z1 - z0, to put S in proportion."""
    bend = straightness_difference(table)
    s1, s2 = bend["baseline_mean"], bend["treatment_mean"]
    differences = reflow_differences(table)
    n_seeds = int(table["seed"].nunique())
    straight = phrase(bend["verdict"], "straightens", "bends", "does not measurably straighten",
                      "changes (one reflow seed, no interval)")
    sentences = [
        f"Reflow {straight} the paths: straightness S {relative(bend)} over {n_seeds} reflow seed(s), "
        f"1-RF/2-RF {s1 / max(s2, 1e-30):.1f}x; relative to the chord's mean squared "
        f"length ({chord:.3g}) 1-RF's S is {s1 / chord:.1e}: its paths were "
        f"{'nearly straight already' if s1 / chord < 0.01 else 'noticeably curved'}."]
    for error, against in ERRORS.items():
        rows = differences[differences["error"] == error]
        details = "; ".join(f"{n} step{'s' if n > 1 else ''}: {relative(r)}" for n, (_, r) in
                            zip(rows["n_steps"], rows.iterrows()))
        sentences.append(f"Endpoint MSE to {against} (2-RF minus 1-RF relative to 1-RF, 95% interval over "
                         f"reflow seeds): 2-RF is "
                         f"{few_step_phrase(rows)} ({details}).")
    sentences[-1] += " Reflow is trained to reproduce the 1-RF ODE, not the targets."
    per_seed = table.drop_duplicates(["model", "seed"])
    numbers = {"straightness_1rf": s1, "straightness_2rf": s2,
               "straightness_2rf_std": float(per_seed[per_seed["model"] == TWO_RF]["straightness"].std())
               if n_seeds > 1 else None,
               "straightness_difference": difference_row(bend), "two_rf_is_straighter": bool(s2 < s1),
               "few_step_differences": [{"error": e, "n_steps": int(n), **difference_row(r)} for e, n, (_, r) in
                                        zip(differences["error"], differences["n_steps"], differences.iterrows())]}
    return Findings(sentences, numbers)


def solver_sentences(steps_table: pd.DataFrame, references: pd.DataFrame) -> Findings:
    """What more steps and a second-order solver buy on one trained generator and one start noise
    (deterministic numbers, no seeds): discretisation error and closeness to the targets, the
    latter against `references` (`flow_probes.reference_endpoints`: regression and all zeros)."""
    by = steps_table.set_index(["solver", "n_steps"])
    solvers = list(dict.fromkeys(steps_table["solver"]))
    steps = sorted(set(steps_table["n_steps"]))
    first, last = steps[0], steps[-1]
    shrink = {s: float(by.loc[(s, first), "ref_mse"] / max(by.loc[(s, last), "ref_mse"], 1e-30)) for s in solvers}
    monotone = {s: bool(np.all(np.diff(by.loc[s].sort_index()["ref_mse"].to_numpy()) < 0)) for s in solvers}
    euler = by.loc["euler"]
    cosine_gain = float(euler.loc[last, "cosine"] - euler.loc[first, "cosine"])
    heun = ""
    if "heun" in solvers:
        heun_error = by.loc[("heun", last), "ref_mse"]
        heun = (f"; at {last} steps Heun is {'more' if heun_error < euler.loc[last, 'ref_mse'] else 'NOT more'} "
                f"accurate than Euler ({heun_error:.3g} vs {euler.loc[last, 'ref_mse']:.3g})")
    sentences = [
        f"The ODE's discretisation error {'falls' if shrink['euler'] > 1 else 'does NOT fall'} as steps grow: "
        f"Euler {euler.loc[first, 'ref_mse']:.3g} -> "
        f"{euler.loc[last, 'ref_mse']:.3g} ({first} -> {last} steps, monotone: {monotone['euler']}){heun}.",
        f"Closeness to the targets: mean cosine {euler.loc[first, 'cosine']:.3f} at {first} vs "
        f"{euler.loc[last, 'cosine']:.3f} at {last} Euler steps ({cosine_gain:+.4f}); "
        f"MSE {euler.loc[first, 'mse']:.4g} vs {euler.loc[last, 'mse']:.4g}. "
        "The part of the error that does not shrink with the steps is modelling error.",
        versus_references(float(euler.loc[last, "cosine"]), float(euler.loc[last, "mse"]), references,
                          f"Against the references, at {last} Euler steps"),
    ]
    regression, zeros = references.loc["regression"], references.loc["all zeros"]
    numbers = {"discretisation_shrink": shrink, "discretisation_monotone": monotone, "euler_cosine_gain": cosine_gain,
               "euler_mse_gain": float(euler.loc[first, "mse"] - euler.loc[last, "mse"]),
               "all_zeros_mse": float(zeros["mse"]), "worse_than_all_zeros": bool(euler.loc[last, "mse"] > zeros["mse"]),
               "regression_mse": float(regression["mse"]), "regression_cosine": float(regression["cosine"]),
               "worse_than_regression": bool(euler.loc[last, "mse"] > regression["mse"])}
    return Findings(sentences, numbers)


def analyse(steps_table: pd.DataFrame, reflow_table: pd.DataFrame, sizes: Mapping[str, Mapping[str, float]],
            references: pd.DataFrame, chord: float) -> Findings:
    """Notebook 04's conclusions from its tables: steps and solvers (`flow_probes.steps_and_solvers`),
    1-RF against 2-RF (`reflow_runs`), cloud sizes (`cloud_sizes`), the reference endpoints
    (`flow_probes.reference_endpoints`) and 1-RF's mean squared chord length."""
    t0, t1 = sizes["t0"], sizes["t1"]
    cloud_numbers = {"cloud_sizes": {k: dict(v) for k, v in sizes.items()},
                     "plane_spread_ratio": t1["plane_spread"] / t0["plane_spread"],
                     "spread_ratio": t1["spread"] / t0["spread"]}
    return (Findings([cloud_sentence(sizes)], {**cloud_numbers, "chord_sq_length": chord})
            + solver_sentences(steps_table, references) + reflow_sentences(reflow_table, chord))
