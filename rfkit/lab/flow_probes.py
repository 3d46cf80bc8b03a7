"""Looking inside a trained RF generator: endpoints, paths, sampling steps, solvers, timing, reflow.

The notebooks on trajectories (04) and on guidance and sampling (05) ask the same questions of a
trained `MultimodalGCN`: how close do the generated embeddings land to their targets, how
straight are the ODE paths, what do more steps or another solver buy, and at what cost in time.
The functions here answer them for any generator, inputs and settings; the notebooks only
choose the settings and plot.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from rfkit.data.dataset import Dataset
from rfkit.experiments.cold import fit_mapper
from rfkit.experiments.runner import generator_columns, records, train_many
from rfkit.generator import RFEmbeddingGenerator, straightness
from rfkit.metrics import split_metrics
from rfkit.models import MultimodalGCN
from rfkit.train import TrainResult

# Velocity-net evaluations per step of each solver (SOLVERS in rfkit.generator.solvers).
EVALS_PER_STEP = {"euler": 1, "midpoint": 2, "heun": 2}


@dataclass
class RFInputs:
    """What a trained model feeds its generator at inference, for all users and items.

    Rows are users then items, as in `MultimodalGCN`: `targets` are the ID embeddings (what RF
    learns to generate), `conditions` the modality embeddings, `user_prior` the guidance prior
    the model trains with, `start_noise` the fixed noise its evaluation starts from.
    """

    targets: Tensor
    conditions: list[Tensor]
    user_prior: Tensor
    start_noise: Tensor
    n_users: int

    @property
    def items(self) -> slice:
        """The item rows."""
        return slice(self.n_users, None)


@torch.no_grad()
def rf_inputs(model: MultimodalGCN) -> RFInputs:
    """The generator's inputs of a trained model with RF (computed in eval mode)."""
    if not hasattr(model, "rf_generator"):
        raise ValueError("model has no rf_generator: build it with use_rf=True")
    was_training = model.training
    model.eval()
    try:
        user_id, item_id = model.id_encoder()
        conditions = model.modality_conditions()
        prior = model.user_prior(conditions)
    finally:
        model.train(was_training)
    return RFInputs(torch.cat([user_id, item_id]), conditions, prior, model.rf_start_noise.clone(),
                    model.n_users)


def endpoint_error(generated: Tensor, target: Tensor) -> dict[str, float]:
    """How far generated rows land from their targets: mean row cosine and mean squared error.

    `cosine` is 1 for rows pointing the target's way (scores are inner products, so direction
    matters most); `mse` is the mean over all entries of (generated - target)^2.
    """
    if generated.shape != target.shape or generated.ndim != 2:
        raise ValueError(f"generated and target must be 2-D of one shape, got {tuple(generated.shape)} "
                         f"and {tuple(target.shape)}")
    return {"cosine": float(F.cosine_similarity(generated, target, dim=1).mean()),
            "mse": float(torch.mean((generated - target) ** 2))}


def reference_endpoints(config: Mapping[str, Any], conditions: Sequence[Tensor], targets: Tensor,
                        steps: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Endpoint errors (`endpoint_error`) of two references a generator should beat, indexed by
    ``reference``: "regression", the deterministic baseline (`rf_generator: regression`, the other
    rf_* keys of `config`) fitted with `steps` optimizer steps to map the same `conditions` to
    the same `targets` (`rfkit.experiments.cold.fit_mapper`), and "all zeros", which predicts nothing (its
    cosine is 0 by convention, its MSE the targets' mean square)."""
    regression = fit_mapper("regression", config, targets, list(conditions), steps, seed)
    rows = {"regression": regression.generate(list(conditions)), "all zeros": torch.zeros_like(targets)}
    return pd.DataFrame([{"reference": name, **endpoint_error(rows[name], targets)} for name in rows]
                        ).set_index("reference")


def versus_references(cosine: float, mse: float, references: pd.DataFrame, what: str) -> str:
    """One sentence: where endpoints with this `cosine` and `mse` stand against `reference_endpoints`."""
    regression, zeros = references.loc["regression"], references.loc["all zeros"]
    return (f"{what}: cosine {cosine:.3f}, MSE {mse:.4g}; the regression baseline fitted to the same inputs: cosine "
            f"{regression['cosine']:.3f}, MSE {regression['mse']:.4g} (the flow is "
            f"{'closer' if mse < regression['mse'] else 'FARTHER'} in MSE, "
            f"{'closer' if cosine > regression['cosine'] else 'FARTHER'} in cosine); all zeros: MSE {zeros['mse']:.4g} "
            f"(the flow is {'better' if mse < zeros['mse'] else 'WORSE'}).")


def project_trajectory(trajectory: Tensor, projection: Any) -> np.ndarray:
    """(n_points, rows, dim) states mapped by a fitted projection (e.g. sklearn PCA) to (n_points, rows, k).

    Fit the projection on the targets, so every time step is drawn in the targets' own plane.
    """
    if trajectory.ndim != 3:
        raise ValueError(f"trajectory must have shape (n_points, rows, dim), got {tuple(trajectory.shape)}")
    points, rows, dim = trajectory.shape
    flat = projection.transform(trajectory.reshape(points * rows, dim).cpu().numpy())
    return flat.reshape(points, rows, -1)


def steps_and_solvers(generator: RFEmbeddingGenerator, conditions: Sequence[Tensor], targets: Tensor,
                      start_noise: Tensor, steps: Sequence[int], solvers: Sequence[str] = ("euler",),
                      reference_steps: int = 100, reference_solver: str = "heun",
                      user_prior: Tensor | None = None) -> pd.DataFrame:
    """One row per (solver, n_steps): straightness of the discrete path and endpoint errors.

    All solves start from `start_noise`. `ref_mse` is the mean squared distance to a fine-grid
    solve (`reference_steps` of `reference_solver`), i.e. the discretisation error alone;
    `cosine` and `mse` compare with the targets (discretisation plus what the net has not
    learned). `evals` counts velocity-net evaluations, the cost that grows with steps.
    """
    conditions = list(conditions)
    reference = generator.generate(conditions, reference_steps, start_noise=start_noise,
                                   solver=reference_solver, user_prior=user_prior)
    rows = []
    for solver in solvers:
        for n in steps:
            end, path = generator.generate(conditions, n, start_noise=start_noise, solver=solver,
                                           return_trajectory=True, user_prior=user_prior)
            rows.append({"solver": solver, "n_steps": n, "evals": n * EVALS_PER_STEP[solver],
                         "straightness": straightness(path), **endpoint_error(end, targets),
                         "ref_mse": float(torch.mean((end - reference) ** 2))})
    return pd.DataFrame(rows)


def compare_flows(flows: Mapping[str, RFEmbeddingGenerator], conditions: Sequence[Tensor], targets: Tensor,
                  start_noise: Tensor, steps: Sequence[int], reference: Tensor,
                  fine_steps: int = 100) -> pd.DataFrame:
    """One row per (flow, n_steps) for generators sharing one job (e.g. 1-RF and its reflows).

    Euler solves from `start_noise`: `cosine`/`mse` against the targets, `mse_to_reference`
    against a common `reference` endpoint (e.g. the 1-RF ODE's fine-grid solution, which reflow
    learns to reach), and each flow's `straightness` on a `fine_steps` Euler grid.
    """
    conditions = list(conditions)
    rows = []
    for name, flow in flows.items():
        _, path = flow.generate(conditions, fine_steps, start_noise=start_noise, return_trajectory=True)
        bend = straightness(path)
        for n in steps:
            end = flow.generate(conditions, n, start_noise=start_noise)
            rows.append({"flow": name, "n_steps": n, "straightness": bend, **endpoint_error(end, targets),
                         "mse_to_reference": float(torch.mean((end - reference) ** 2))})
    return pd.DataFrame(rows)


def time_generate(generator: RFEmbeddingGenerator, conditions: Sequence[Tensor], steps: Sequence[int],
                  solvers: Sequence[str] = ("euler",), repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """Wall time of `generate` for every (solver, n_steps): the best of `repeats` calls, in seconds.

    The minimum is the least disturbed by other work on the machine; it is still a wall time,
    so compare numbers from one run only.
    """
    conditions = list(conditions)
    rows = []
    for solver in solvers:
        for n in steps:
            times = []
            for _ in range(repeats):
                noise = torch.Generator().manual_seed(seed)
                start = time.perf_counter()
                generator.generate(conditions, n, generator=noise, solver=solver)
                times.append(time.perf_counter() - start)
            rows.append({"solver": solver, "n_steps": n, "evals": n * EVALS_PER_STEP[solver],
                         "seconds": min(times)})
    return pd.DataFrame(rows)


def score_settings(model: MultimodalGCN, dataset: Dataset, settings: Sequence[Mapping[str, Any]],
                   ks: Sequence[int] = (20,)) -> pd.DataFrame:
    """Valid and test metrics of one trained model under each sampling setting, no retraining.

    A setting holds `MultimodalGCN.score_all`'s sampling overrides (``n_steps``, ``solver``,
    ``start_noise``, ``inference_prior``). One row per setting, in order, with its steps and
    solver (when set) and ``inference_prior``.
    """
    rows = []
    for setting in settings:
        metrics = split_metrics(model.score_all(**setting), dataset, ks)
        rows.append({**{k: v for k, v in setting.items() if k not in ("inference_prior", "start_noise")},
                     "inference_prior": bool(setting.get("inference_prior", False)), **metrics})
    return pd.DataFrame(rows)


def reflow(generator: RFEmbeddingGenerator, conditions: Sequence[Tensor], steps: int, seed: int = 0,
           pair_steps: int = 50, learning_rate: float | None = None,
           max_train_rows: int | None = None) -> tuple[RFEmbeddingGenerator, list[float]]:
    """2-rectified flow: a copy of `generator` trained `steps` times on its own ODE couplings.

    Pairs (z0, z1 = ODE(z0)) come from `reflow_pairs` on a `pair_steps` Euler grid. The copy has
    its guidance switched off: guidance terms are added to the velocity in training only, so
    with them the net would learn the coupling's velocity minus the guidance and miss its own
    pairs at inference. `learning_rate` (default: the generator's) sets the copy's optimizer,
    `max_train_rows` (default: the generator's) bounds the rows of each step.
    Returns the copy and its RF loss at every step; `generator` is left untouched.
    """
    conditions = list(conditions)
    z0, z1 = generator.reflow_pairs(conditions, pair_steps, generator=torch.Generator().manual_seed(seed))
    flow = copy.deepcopy(generator)
    flow.user_guidance_scale = flow.cosine_guidance_scale = 0.0
    if max_train_rows is not None:
        flow.max_train_rows = max_train_rows
    if learning_rate is not None:
        for group in flow.optimizer.param_groups:
            group["lr"] = learning_rate
    torch.manual_seed(seed)
    losses = [flow.compute_loss_and_step(z1, conditions, fixed_noise=z0)["rf_loss"] for _ in range(steps)]
    return flow, losses


def probe_measure(model: MultimodalGCN, result: TrainResult, dataset: Dataset) -> list[dict[str, Any]]:
    """A `rfkit.experiments.runner` measure: score a trained RF model without and with the user prior at inference.

    Two rows (``inference_prior`` False / True), each with the best epoch, valid/test NDCG@20 and
    Recall@20 of the mixed model, the endpoint error of the generated embeddings (from the
    model's fixed start noise, its own sampling steps) and the generator's health columns.
    """
    inputs = rf_inputs(model)
    health = generator_columns(model)
    rows = []
    for use_prior in (False, True):
        generated = model.rf_generator.generate(inputs.conditions, start_noise=inputs.start_noise,
                                                user_prior=inputs.user_prior if use_prior else None)
        scored = score_settings(model, dataset, [{"inference_prior": use_prior}]).iloc[0].to_dict()
        rows.append({"best_epoch": result.best_epoch, **scored, **endpoint_error(generated, inputs.targets), **health})
    return rows


def probe_configs(configs: Mapping[str, Mapping[str, Any]], seeds: Sequence[int], dataset: Dataset,
                  executor: Executor | None = None, **train_options: Any) -> pd.DataFrame:
    """Train every named config with every seed (on `executor` if given) and apply `probe_measure`;
    a `variant` column names the config, the config's keys are columns too."""
    results = train_many(configs, seeds, dataset, train_options, probe_measure, executor, progress=False)
    return pd.DataFrame([{"variant": row["variant"], **configs[row["variant"]], **row} for row in records(results)])


@torch.no_grad()
def mean_and_variance_check(generator: RFEmbeddingGenerator, conditions: Sequence[Tensor], targets: Tensor,
                            regression_mse: float, n_samples: int = 16, n_steps: int | None = None,
                            seed: int = 0) -> dict[str, float]:
    """The two facts behind "1 step beats many", measured.

    A trained rectified flow's 1-step Euler output from t = 0 is its conditional mean E[x1 | c]:
    it should agree with the average of many multi-step samples of the same rows. A single
    sample lands at that mean plus the conditional spread, so its expected squared error is the
    mean's plus the conditional variance; where the flow's mean is as good as a point estimate,
    sample MSE ~ `regression_mse` + variance.

    Returns (all MSEs per entry, in target units): ``one_step_vs_mean_cosine`` and
    ``one_step_vs_mean_mse`` (1-step output against the mean of `n_samples` samples of `n_steps`
    steps, default the generator's ``sampling_steps``), ``one_step_mse`` and ``sample_mean_mse``
    (each to the targets), ``sample_mse`` (one sample to the targets, averaged over samples),
    ``variance`` (samples around their mean), ``regression_mse``, ``predicted_sample_mse`` =
    regression_mse + variance, and ``sample_over_regression``.
    """
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2, got {n_samples}")
    conds, draw = list(conditions), torch.Generator().manual_seed(seed)
    noises = [torch.randn(targets.shape, generator=draw).to(targets) for _ in range(n_samples)]
    one_step = generator.generate(conds, 1, start_noise=noises[0])
    samples = torch.stack([generator.generate(conds, n_steps, start_noise=z) for z in noises])
    mean = samples.mean(dim=0)
    mse = lambda a, b: float(torch.mean((a - b) ** 2))  # noqa: E731
    sample_mse = float(torch.mean((samples - targets) ** 2))
    variance = float(torch.mean((samples - mean) ** 2)) * n_samples / (n_samples - 1)
    return {"n_samples": n_samples, "one_step_vs_mean_cosine": float(F.cosine_similarity(one_step, mean, dim=1).mean()),
            "one_step_vs_mean_mse": mse(one_step, mean), "one_step_mse": mse(one_step, targets),
            "sample_mean_mse": mse(mean, targets), "sample_mse": sample_mse, "variance": variance,
            "regression_mse": regression_mse, "predicted_sample_mse": regression_mse + variance,
            "sample_over_regression": sample_mse / regression_mse}


def mean_and_variance_sentences(check: Mapping[str, float], zeros_mse: float) -> list[str]:
    """What `mean_and_variance_check` says, with the all-zeros MSE (the targets' mean square) for scale."""
    mean_fits = check["one_step_vs_mean_mse"] < check["variance"]
    return [
        f"One Euler step lands on the flow's conditional mean: its output against the mean of "
        f"{check['n_samples']} samples has cosine {check['one_step_vs_mean_cosine']:.3f} and MSE "
        f"{check['one_step_vs_mean_mse']:.4g}, {'below' if mean_fits else 'NOT below'} the samples' own spread "
        f"around that mean (variance {check['variance']:.4g}).",
        f"A sample is the mean plus the conditional spread: one sample's MSE to the targets is "
        f"{check['sample_mse']:.4g}, against regression MSE + variance = {check['regression_mse']:.4g} + "
        f"{check['variance']:.4g} = {check['predicted_sample_mse']:.4g} ({check['sample_over_regression']:.2f}x the "
        f"regression's MSE; the 1-step output: {check['one_step_mse']:.4g}). That is why 1 step lands closer than "
        f"many, and why a sample can land farther than all zeros (MSE {zeros_mse:.4g}) without the flow being "
        f"broken: it draws an embedding, it does not average one.",
    ]
