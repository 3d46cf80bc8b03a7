"""Notebook 08's analysis: every documented generator parameter, one at a time, and the spec's FAQ.

The sweep starts from the kit's config (the spec's example, `rfkit.config.load("multimodal")`) and
changes one of the 14 documented `RFEmbeddingGenerator` parameters (all but `embedding_dim`) at a
time. Every trained model is measured by `measure` (metrics at its best validation epoch, the RF
and contrastive losses of its last epoch, how far its generated embeddings land from their
targets, seconds per epoch) and re-scored at several inference mix ratios, so
`inference_mix_ratio` costs no training. Every effect is a paired difference over seeds against
the kit's config (`rfkit.stats.paired_differences`); the conclusions are sentences computed from
those tables. The spec's FAQ is measured in `rfkit.lab.faq`.
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from rfkit.data.dataset import Dataset
from rfkit.generator import RFEmbeddingGenerator
from rfkit.generator.config import config_keys
from rfkit.generator.health import zero_velocity_losses
from rfkit.lab.flow_probes import endpoint_error, rf_inputs
from rfkit.lab.plots import plot_parameter_effect
from rfkit.lab.record import json_records
from rfkit.metrics import split_metrics
from rfkit.models import MultimodalGCN
from rfkit.runner import RunFailure, generator_columns
from rfkit.stats import chance_exceedances, describe, paired_differences
from rfkit.train import TrainResult

# The 14 documented parameters: the constructor's positional ones after embedding_dim.
PARAMETERS = tuple(name for name, p in inspect.signature(RFEmbeddingGenerator.__init__).parameters.items()
                   if p.kind is p.POSITIONAL_OR_KEYWORD and name not in ("self", "embedding_dim"))
INFERENCE = "inference_mix_ratio"  # re-scored on trained models, never trained for
EXAMPLE = "example"                # the name of the kit's config in every table
CHOOSE_ON, JUDGE_ON = "valid_ndcg@20", "test_ndcg@20"
ROW_FIELDS = ("delta", "ci_low", "ci_high", "n_seeds", "verdict")

# The values tried, each list holding the kit's value and the documented default, spanning the
# spec's recommended range and a step beyond it on each side where that is cheap.
GRID: dict[str, list[Any]] = {
    "hidden_dim": [32, 128, 256],
    "n_layers": [1, 2, 3],
    "dropout": [0.0, 0.1, 0.3],
    "learning_rate": [1e-4, 1e-3, 7e-3, 3e-2],
    "sampling_steps": [2, 10, 20],
    "user_guidance_scale": [0.0, 0.2, 0.5],
    "guidance_decay_power": [0.5, 2.0, 4.0],
    "cosine_guidance_scale": [0.0, 0.1, 0.3],
    "cosine_decay_power": [0.5, 2.0, 4.0],
    "warmup_epochs": [0, 2, 5],
    "train_mix_ratio": [0.0, 0.1, 0.3, 0.5],
    "inference_mix_ratio": [0.0, 0.1, 0.2, 0.3, 0.5],
    "contrast_temp": [0.05, 0.2, 1.0],
    "contrast_weight": [0.0, 1.0, 3.0],
}

# What each parameter does, in this implementation (the spec's table gives only names).
MEANING = {
    "hidden_dim": "width of the velocity MLP's hidden layers",
    "n_layers": "layers of the velocity MLP",
    "dropout": "dropout in the velocity MLP while it trains (never when generating)",
    "learning_rate": "the generator's own AdamW learning rate (YAML rf_lr), apart from the host's",
    "sampling_steps": "Euler steps from noise to embedding, in training-time generation and at inference",
    "user_guidance_scale": "strength of the user-prior term added to the velocity",
    "guidance_decay_power": "how fast the user-prior term fades along the path: (1 - t)^power",
    "cosine_guidance_scale": "strength of the pull toward the target's direction (training only: it needs the target)",
    "cosine_decay_power": "how fast the cosine term fades along the path: (1 - t)^power",
    "warmup_epochs": "epochs before generated embeddings are mixed in (the generator itself trains from epoch 0)",
    "train_mix_ratio": "share of the generated embedding in the mix while training (YAML rf_mix_ratio)",
    "inference_mix_ratio": "share of the generated embedding in the mix when scoring",
    "contrast_temp": "temperature of the InfoNCE term between generated endpoints and their targets",
    "contrast_weight": "weight of the InfoNCE term in the generator's loss (0: off)",
}

_KEYS = {argument: key for key, argument in config_keys(PARAMETERS).items()}


def config_key(parameter: str) -> str:
    """The YAML key of a documented parameter (``rf_lr`` for learning_rate, ``rf_<name>`` else)."""
    if parameter not in _KEYS:
        raise ValueError(f"parameter must be one of {list(PARAMETERS)}, got {parameter!r}")
    return _KEYS[parameter]


def documented_default(parameter: str) -> Any:
    """The spec's default of a parameter, read from the constructor's signature."""
    config_key(parameter)
    return inspect.signature(RFEmbeddingGenerator.__init__).parameters[parameter].default


def kit_value(parameter: str, config: Mapping[str, Any]) -> Any:
    """The value the kit's `config` gives a parameter (its documented default when unset)."""
    return config.get(config_key(parameter), documented_default(parameter))


def check_grid(grid: Mapping[str, Sequence[Any]], config: Mapping[str, Any], complete: bool = True) -> None:
    """Every documented parameter (or, unless `complete`, some of them and the inference ratio) has
    distinct values including the kit's; else a ValueError."""
    missing = [p for p in PARAMETERS if p not in grid and (complete or p == INFERENCE)]
    unknown = [p for p in grid if p not in PARAMETERS]
    if missing or unknown:
        raise ValueError(f"grid must name every documented parameter once: missing {missing}, unknown {unknown}")
    for parameter, values in grid.items():
        if len(set(values)) != len(values) or kit_value(parameter, config) not in values:
            raise ValueError(f"grid[{parameter!r}] must hold distinct values including the kit's "
                             f"{kit_value(parameter, config)!r}, got {list(values)}")


def parameter_table(config: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """One row per documented parameter: its YAML key, what it does, the documented default, the
    kit's value and the values `grid` tries."""
    return pd.DataFrame([{"parameter": p, "YAML key": config_key(p), "what it does": MEANING[p],
                          "default": documented_default(p), "kit": kit_value(p, config),
                          "values tried": ", ".join(f"{v:g}" for v in grid.get(p, []))}
                         for p in PARAMETERS]).set_index("parameter")


def quick_grid(grid: Mapping[str, Sequence[Any]], config: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The kit's value and the first other value of each parameter (all inference ratios: free)."""
    check_grid(grid, config)
    out = {}
    for parameter, values in grid.items():
        kit = kit_value(parameter, config)
        out[parameter] = list(values) if parameter == INFERENCE else sorted([kit, next(v for v in values if v != kit)])
    return out


@dataclass
class SweepPlan:
    """The configs to train (``example`` and one per changed value) and, for every (parameter,
    value), the name of the config that measures it; inference ratios re-score the example."""

    configs: dict[str, dict[str, Any]]
    settings: dict[tuple[str, Any], str]
    kit: dict[str, Any]
    inference_ratios: list[float]


def sweep_plan(config: Mapping[str, Any], grid: Mapping[str, Sequence[Any]], complete: bool = True) -> SweepPlan:
    """One config per value that differs from the kit's, the kit's config once (``example``); a
    grid of only some parameters (and the inference ratios) when not `complete`."""
    check_grid(grid, config, complete)
    configs, settings = {EXAMPLE: dict(config)}, {}
    for parameter, values in grid.items():
        for value in values:
            example = parameter == INFERENCE or value == kit_value(parameter, config)
            name = EXAMPLE if example else f"{parameter}={value:g}"
            settings[(parameter, value)] = name
            if name != EXAMPLE:
                configs[name] = {**config, config_key(parameter): value}
    kit = {parameter: kit_value(parameter, config) for parameter in grid}
    return SweepPlan(configs, settings, kit, [float(r) for r in grid[INFERENCE]])


def budget(training: Mapping[str, Any], epochs: int) -> dict[str, Any]:
    """`training` with `epochs` epochs and no early stop: every compared run trains as long (the
    best validation epoch is still restored)."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    return {**training, "epochs": epochs, "patience": epochs}


QUICK_EPOCHS = 7  # past the kit's 5 warmup epochs, so that quick runs mix RF in
QUICK_BATCH = 4096  # the tiny preset's training set in one batch: a quick epoch is one step


def sweep_budget(training: Mapping[str, Any], quick: bool, epochs: int | None = None) -> dict[str, Any]:
    """The sweep's training budget: `training` itself (to early stopping) unless `epochs` fixes one.
    Quick runs train `QUICK_EPOCHS` epochs of `QUICK_BATCH` rows without early stopping, so RF
    mixing starts in them and the 14 knobs' trainings take seconds."""
    if quick:
        return {**budget(training, QUICK_EPOCHS), "batch_size": QUICK_BATCH}
    return dict(training) if epochs is None else budget(training, epochs)


def followup_grid(chosen: Sequence[tuple[str, Any, float]], config: Mapping[str, Any],
                  inference_ratios: Sequence[float]) -> dict[str, list[Any]]:
    """The grid that re-measures `top_parameters` elsewhere: each chosen parameter at the kit's
    value and its chosen value, and the inference ratios (re-scored, free)."""
    grid = {parameter: sorted({kit_value(parameter, config), value}) for parameter, value, _ in chosen}
    return {**grid, INFERENCE: list(inference_ratios)}


def contrast_rows(generator: RFEmbeddingGenerator, rows: int) -> int:
    """How many rows the contrastive term compares in one step: n of the chance level ln(n)."""
    if generator.max_train_rows is not None:
        rows = min(rows, generator.max_train_rows)
    return min(rows, generator.max_contrast_rows)


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def measure(model: MultimodalGCN, result: TrainResult, dataset: Dataset,
            inference_ratios: Sequence[float] = (0.0,)) -> dict[str, Any]:
    """A `rfkit.runner` measure: what notebook 08 records of one trained RF model.

    NDCG@20 at the best validation epoch, the last epoch's ``rf_loss`` / ``cl_loss`` (and the first
    epoch's, and ``*_zero``: what a zero velocity would report, `zero_velocity_losses`), the
    generator's health (``health_*``, ``rf_steps_taken``), ``contrast_rows`` (n of the chance level), the endpoint error of the generated
    embeddings (from the model's fixed noise), mean training ``seconds_per_epoch``, and
    ``rescored``: valid/test NDCG@20 at each inference ratio (same model, no retraining).
    """
    history, generator = result.history, model.rf_generator
    inputs = rf_inputs(model)
    error = endpoint_error(generator.generate(inputs.conditions, start_noise=inputs.start_noise), inputs.targets)
    zero = zero_velocity_losses(generator, inputs.targets, inputs.conditions, inputs.user_prior)
    rescored = {}
    for ratio in inference_ratios:
        metrics = split_metrics(model.score_all(inference_mix_ratio=float(ratio)), dataset, (20,))
        rescored[f"{ratio:g}"] = {m: metrics[m] for m in (CHOOSE_ON, JUDGE_ON)}
    return {"best_epoch": result.best_epoch, "epochs_run": len(history),
            "mixed_at_best": result.best_epoch >= generator.warmup_epochs,
            CHOOSE_ON: result.best_valid["ndcg@20"], JUDGE_ON: result.test_at_best["ndcg@20"],
            "rf_loss_first": _finite(history["rf_loss"].iloc[0]), "rf_loss": _finite(history["rf_loss"].iloc[-1]),
            "cl_loss_first": _finite(history["cl_loss"].iloc[0]), "cl_loss": _finite(history["cl_loss"].iloc[-1]),
            "rf_loss_zero": zero["rf_loss"], "cl_loss_zero": zero["cl_loss"], **generator_columns(model),
            "contrast_weight": generator.contrast_weight,
            "contrast_rows": contrast_rows(generator, model.n_users + model.n_items),
            "endpoint_cosine": error["cosine"], "endpoint_mse": error["mse"],
            "seconds_per_epoch": float(history["seconds"].mean()), "rescored": rescored}


MEASURED = ("best_epoch", "epochs_run", "mixed_at_best", CHOOSE_ON, JUDGE_ON, "rf_loss_first", "rf_loss",
            "cl_loss_first", "cl_loss", "rf_loss_zero", "cl_loss_zero", "contrast_weight", "contrast_rows",
            "endpoint_cosine", "endpoint_mse", "seconds_per_epoch", "rf_steps_taken", "health_verdict",
            "health_one_step_cosine", "health_ridge_cosine", "health_noise_cosine", "health_sampled_cosine")


def _run_row(measured: Any) -> dict[str, Any]:
    """The recorded fields of one run: status ``ok`` and its measures, or a failure's status and
    reason with every measure None."""
    if isinstance(measured, RunFailure):
        return {"status": measured.status, "reason": measured.reason, **dict.fromkeys(MEASURED)}
    return {"status": "ok", "reason": None, **{k: measured[k] for k in MEASURED}}


def _by_name(results: Sequence[tuple[str, int, Any]]) -> dict[str, list[tuple[int, Any]]]:
    out: dict[str, list[tuple[int, Any]]] = {}
    for name, seed, measured in results:
        out.setdefault(name, []).append((seed, measured))
    return out


def effects_table(plan: SweepPlan, results: Sequence[tuple[str, int, Any]]) -> pd.DataFrame:
    """One row per (parameter, value, seed) from `rfkit.runner.train_many` output with `measure`.

    ``variant`` names the config that measured the row (``example`` for the kit's values and for
    every inference ratio, whose NDCG@20 comes from re-scoring the example's models); ``is_kit`` and
    ``is_default`` mark the kit's value and the documented default; ``status`` is ``ok`` or the
    failure's, with its ``reason`` and no measures.
    """
    runs = _by_name(results)
    missing = sorted(set(plan.settings.values()) - set(runs))
    if missing:
        raise ValueError(f"results lack the config(s) {missing} of the plan")
    rows = []
    for (parameter, value), name in plan.settings.items():
        for seed, measured in runs[name]:
            row = {"parameter": parameter, "value": value, "variant": name, "seed": seed,
                   "is_kit": value == plan.kit[parameter], "is_default": value == documented_default(parameter),
                   **_run_row(measured)}
            if parameter == INFERENCE and row["status"] == "ok":
                row.update(measured["rescored"][f"{value:g}"])
            rows.append(row)
    table = pd.DataFrame(rows)
    table["value"] = pd.Series([row["value"] for row in rows], dtype=object)  # ints stay ints
    return table


def rescored_table(results: Sequence[tuple[str, int, Any]], name: str) -> pd.DataFrame:
    """One row per (seed, inference ratio) of config `name`'s successful runs: valid/test NDCG@20
    of the same trained model re-scored at each ratio, and whether RF was mixed at its best epoch."""
    rows = [{"variant": name, "seed": seed, "inference_ratio": float(ratio), "mixed_at_best": measured["mixed_at_best"],
             **metrics}
            for seed, measured in _by_name(results).get(name, []) if not isinstance(measured, RunFailure)
            for ratio, metrics in measured["rescored"].items()]
    if not rows:
        raise ValueError(f"results hold no successful run of {name!r}")
    return pd.DataFrame(rows)


def parameter_deltas(effects: pd.DataFrame, metric: str = JUDGE_ON) -> pd.DataFrame:
    """Each value minus the kit's value (``is_kit``) of the same parameter, paired by seed
    (`paired_differences`), for every parameter and every value with at least one successful seed;
    a ``parameter`` column added. `effects` as from `effects_table`."""
    missing = {"parameter", "value", "seed", "is_kit", metric} - set(effects.columns)
    if missing:
        raise ValueError(f"effects lacks column(s) {sorted(missing)}")
    tables = []
    for parameter, rows in effects.groupby("parameter", sort=False):
        kit = rows.loc[rows["is_kit"].astype(bool), "value"].iloc[0]
        measured = rows.dropna(subset=[metric])
        treatments = [v for v in dict.fromkeys(measured["value"]) if v != kit]
        if kit not in set(measured["value"]) or not treatments:
            continue
        table = paired_differences(measured, metric, kit, treatments, variant="value")
        table["value"] = pd.Series(treatments, dtype=object)  # one row per treatment, in order; ints stay ints
        tables.append(table.assign(parameter=parameter))
    if not tables:
        raise ValueError(f"no parameter has a successful kit value and another value with {metric!r}")
    deltas = pd.concat(tables, ignore_index=True)
    return deltas[["parameter", *[c for c in deltas.columns if c != "parameter"]]]


def difference_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The recorded part of one paired difference (delta, interval, seeds, verdict); NaN becomes None."""
    return json_records(pd.DataFrame([{k: row[k] for k in ROW_FIELDS}]))[0]


def top_parameters(deltas: pd.DataFrame, n: int, exclude: Sequence[str] = (INFERENCE,)) -> list[tuple[str, Any, float]]:
    """The `n` parameters with the largest |mean difference| at any value (e.g. on validation),
    each with that value and difference; ties keep the parameters' documented order."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    rows = deltas[~deltas["parameter"].isin(exclude)].assign(size=lambda d: d["delta"].abs())
    best = rows.loc[rows.groupby("parameter", sort=False)["size"].idxmax()]
    best = best.assign(order=best["parameter"].map(PARAMETERS.index)).sort_values(["size", "order"],
                                                                                  ascending=[False, True])
    return [(r.parameter, r.value, float(r.delta)) for r in best.head(n).itertuples()]


def value_label(parameter: str, value: Any) -> str:
    """"name value", e.g. "hidden_dim 32"."""
    return f"{parameter} {value:g}"


def listing(items: Sequence[str]) -> str:
    """Items joined by commas, or "none"."""
    return ", ".join(items) if items else "none"


def sweep_conclusions(effects: pd.DataFrame, deltas: pd.DataFrame, config: Mapping[str, Any]) -> list[str]:
    """What the sweep found, as sentences: which parameters moved `deltas`' metric beyond noise, how
    many such verdicts chance alone gives, the documented defaults against the kit's values, the
    failed settings, the time per epoch and the generated embeddings' error."""
    beyond = deltas[deltas["beyond_noise"]]
    moved = [p for p in PARAMETERS if p in set(beyond["parameter"])]
    still = [p for p in PARAMETERS if p in set(deltas["parameter"]) and p not in moved]
    effects_text = "; ".join(f"{value_label(r['parameter'], r['value'])}: {describe(r)}" for _, r in beyond.iterrows())
    sentences = [f"{len(moved)} of {len(PARAMETERS)} parameters moved test NDCG@20 beyond noise at some value tried"
                 + (f" ({effects_text})" if moved else "")
                 + f"; {len(still)} stayed within noise at every value tried ({listing(still)}).",
                 f"That is {len(beyond)} beyond-noise verdict(s) out of {len(deltas)} paired comparisons; about "
                 f"{chance_exceedances(len(deltas)):.1f} would exceed noise by chance alone at 95%, so a lone "
                 "beyond-noise value is weak evidence."]
    defaults = []
    for _, row in deltas.iterrows():
        if row["value"] == documented_default(row["parameter"]) != kit_value(row["parameter"], config):
            defaults.append(f"{row['parameter']} {row['value']:g} instead of {kit_value(row['parameter'], config):g}: "
                            f"{describe(row)}")
    if defaults:
        sentences.append("The spec's documented defaults against the kit's values, on test NDCG@20: "
                         + "; ".join(defaults) + ".")
    failed = effects[effects["status"] != "ok"].drop_duplicates(["variant", "seed"])
    if failed.empty:
        sentences.append("No setting failed to train.")
    else:
        counts = failed.groupby("variant", sort=False)["seed"].count()
        seeds = effects.drop_duplicates(["variant", "seed"]).groupby("variant")["seed"].count()
        first = failed.iloc[0]["reason"].split(". ")[0]
        sentences.append("Settings that failed to train (a row each, status and reason kept): "
                         + ", ".join(f"{name} ({k} of {seeds[name]} seeds)" for name, k in counts.items())
                         + f"; e.g. {first}.")
    ok = effects[(effects["status"] == "ok") & (effects["parameter"] != INFERENCE)]
    per_setting = ok.groupby(["parameter", "value"], sort=False)[["seconds_per_epoch", "endpoint_cosine"]].mean()
    example = ok[ok["variant"] == EXAMPLE].drop_duplicates("seed")
    if not example.empty:
        fast, slow = per_setting["seconds_per_epoch"].idxmin(), per_setting["seconds_per_epoch"].idxmax()
        near, far = per_setting["endpoint_cosine"].idxmax(), per_setting["endpoint_cosine"].idxmin()
        sentences.append(f"Seconds per epoch: {example['seconds_per_epoch'].mean():.2f} for the kit's config, from "
                         f"{per_setting.loc[fast, 'seconds_per_epoch']:.2f} ({value_label(*fast)}) to "
                         f"{per_setting.loc[slow, 'seconds_per_epoch']:.2f} ({value_label(*slow)}). Generated "
                         f"embeddings' mean cosine to their targets: {example['endpoint_cosine'].mean():.3f} for the "
                         f"kit's config, from {per_setting.loc[far, 'endpoint_cosine']:.3f} ({value_label(*far)}) to "
                         f"{per_setting.loc[near, 'endpoint_cosine']:.3f} ({value_label(*near)}).")
    in_warmup = ok.drop_duplicates(["variant", "seed"])
    in_warmup = in_warmup[~in_warmup["mixed_at_best"].astype(bool)]
    if len(in_warmup):
        sentences.append(f"{len(in_warmup)} run(s) were restored to a best epoch inside warmup, where RF is not "
                         f"mixed in ({listing(sorted(set(in_warmup['variant'])))}): for them only the warmup and the "
                         "generator's own losses differ from the backbone.")
    return sentences


def followup_conclusions(real: pd.DataFrame, synthetic: pd.DataFrame, dataset: str) -> list[str]:
    """Each setting re-measured on `dataset` (`parameter_deltas` rows `real`) next to its effect in the
    synthetic sweep (`synthetic`), and whether the two verdicts agree."""
    found = synthetic.set_index(["parameter", "value"])
    sentences = []
    for _, row in real.iterrows():
        label = value_label(row["parameter"], row["value"])
        if (row["parameter"], row["value"]) not in found.index:
            sentences.append(f"On {dataset}, {label} against the kit's value: {describe(row)} on test NDCG@20.")
            continue
        before = found.loc[(row["parameter"], row["value"])]
        agree = "the same verdict" if before["verdict"] == row["verdict"] else "a different verdict"
        sentences.append(f"On {dataset}, {label} against the kit's value: {describe(row)} on test NDCG@20; "
                         f"on synthetic data {describe(before)}: {agree}.")
    return sentences


def panel(effects: pd.DataFrame, parameter: str) -> tuple[list[Any], Any, Any]:
    """A parameter's values in order, its kit value and its documented default (None when not tried)."""
    rows = effects[effects["parameter"] == parameter]
    if rows.empty:
        raise ValueError(f"effects has no row of parameter {parameter!r}")
    values = sorted(set(rows["value"]))
    defaults = rows.loc[rows["is_default"].astype(bool), "value"]
    return values, rows.loc[rows["is_kit"].astype(bool), "value"].iloc[0], defaults.iloc[0] if len(defaults) else None


def plot_effects(deltas: pd.DataFrame, effects: pd.DataFrame, axes: Sequence[Axes],
                 metric: str = "test NDCG@20") -> None:
    """The small multiples: one panel per parameter of `effects` (in documented order) of `deltas`
    against the kit's value, with 95% intervals; the kit's value a black square, the documented
    default a dotted line. Axes beyond the panels carry the key."""
    axes, names = list(axes), [p for p in PARAMETERS if p in set(effects["parameter"])]
    if len(axes) < len(names):
        raise ValueError(f"axes must hold at least {len(names)} axes, got {len(axes)}")
    for ax, parameter in zip(axes, names):
        values, kit, default = panel(effects, parameter)
        plot_parameter_effect(deltas[deltas["parameter"] == parameter], ax, values, kit, default,
                              title=parameter, ylabel=f"Δ {metric}" if ax is axes[0] else "")
    for ax in axes[len(names):]:
        ax.axis("off")
        ax.text(0.0, 0.5, "each point: a value minus the kit's\nvalue, paired over seeds, 95% interval\n"
                          "■ the kit's value (reference, 0)\n┆ the spec's documented default", va="center",
                transform=ax.transAxes)


def setting_summary(effects: pd.DataFrame, deltas: pd.DataFrame, parameter: str) -> pd.DataFrame:
    """One row per value of `parameter`: runs that succeeded, mean measures over them, and the paired
    difference and verdict from `deltas` (the kit's value is the reference)."""
    rows = effects[effects["parameter"] == parameter]
    if rows.empty:
        raise ValueError(f"effects has no row of parameter {parameter!r}")
    columns = [CHOOSE_ON, JUDGE_ON, "rf_loss", "cl_loss", "endpoint_cosine", "seconds_per_epoch"]
    summary = rows.groupby("value")[columns].mean()
    summary.insert(0, "runs ok", rows.groupby("value")["status"].apply(lambda s: f"{(s == 'ok').sum()} of {len(s)}"))
    own = deltas[deltas["parameter"] == parameter].set_index("value")
    summary["Δ " + JUDGE_ON] = own["delta"].reindex(summary.index)
    summary["verdict"] = own["verdict"].reindex(summary.index).fillna("")
    summary.loc[panel(effects, parameter)[1], "verdict"] = "kit's value"
    return summary
