"""Guidance and sampling (notebook 05): each setting against a reference, paired, with intervals.

Part 1 trains a grid of guidance scales with several seeds; every guided setting is compared with
guidance off (`REFERENCE`), paired by training seed, and every trained model is scored with and
without the user prior added back at inference (paired by the model itself). Part 2 scores
several trained models (one per seed) under several ODE solvers and step counts; every setting is
compared with the cheapest one (Euler, fewest steps), paired by trained model. All verdicts are
`rfkit.stats.paired_differences`; the conclusions are computed sentences that name the data each
part ran on and say how many verdicts would exceed noise by chance.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch

from rfkit.data.dataset import Dataset
from rfkit.lab.flow_probes import score_settings, versus_references
from rfkit.lab.verdicts import Findings, chance_note, detectable_clause
from rfkit.models import MultimodalGCN
from rfkit.stats import describe, paired_differences

METRICS = ("valid_ndcg@20", "test_ndcg@20")
PRIOR_METRICS = ("cosine", "test_ndcg@20")
AS_TRAINED, WITH_PRIOR = "as trained", "with prior"


def variant_name(user_scale: float, cosine_scale: float) -> str:
    """The grid's name of one guidance setting, e.g. ``"user 0.2, cos 0.1"``."""
    return f"user {float(user_scale)}, cos {float(cosine_scale)}"


REFERENCE = variant_name(0.0, 0.0)


def guidance_configs(base: Mapping[str, Any], user_scales: Sequence[float],
                     cosine_scales: Sequence[float]) -> dict[str, dict[str, Any]]:
    """One config per (user scale, cosine scale) on top of `base`; the grid must hold guidance off."""
    if not user_scales or not cosine_scales:
        raise ValueError("user_scales and cosine_scales must each name at least one scale")
    if 0.0 not in user_scales or 0.0 not in cosine_scales:
        raise ValueError(f"user_scales and cosine_scales must contain 0.0 (the reference {REFERENCE!r}), "
                         f"got {list(user_scales)} and {list(cosine_scales)}")
    return {variant_name(u, c): {**base, "rf_user_guidance_scale": float(u), "rf_cosine_guidance_scale": float(c)}
            for u in user_scales for c in cosine_scales}


def _by_metric(table: pd.DataFrame, metrics: Sequence[str], **options: Any) -> pd.DataFrame:
    return pd.concat([paired_differences(table, metric, **options).assign(metric=metric) for metric in metrics],
                     ignore_index=True)


def guidance_differences(grid: pd.DataFrame, metrics: Sequence[str] = METRICS,
                         reference: str = REFERENCE) -> pd.DataFrame:
    """Every guided setting minus guidance off, paired by seed, scored as trained (no prior at
    inference); one `paired_differences` row per (metric, variant)."""
    return _by_metric(grid[~grid["inference_prior"].astype(bool)], metrics, baseline=reference)


def prior_differences(grid: pd.DataFrame, metrics: Sequence[str] = PRIOR_METRICS) -> pd.DataFrame:
    """Per setting, the user prior added at inference minus scored as trained: the same trained
    model twice, paired by seed; one row per (metric, variant)."""
    table = grid.assign(sampler=grid["inference_prior"].astype(bool).map({False: AS_TRAINED, True: WITH_PRIOR}))
    return _by_metric(table, metrics, baseline=AS_TRAINED, treatments=[WITH_PRIOR], by=["variant"],
                      variant="sampler")


def setting_name(solver: str, n_steps: int) -> str:
    """A sampling setting's name, e.g. ``"euler 10"``."""
    return f"{solver} {int(n_steps)}"


def score_sampling(model: MultimodalGCN, dataset: Dataset, solvers: Sequence[str], steps: Sequence[int],
                   noise_seeds: Sequence[int]) -> pd.DataFrame:
    """Valid/test metrics of one trained model for every solver, step count and start-noise draw
    (`rfkit.lab.flow_probes.score_settings`), with ``noise_seed`` and ``setting`` columns."""
    if not hasattr(model, "rf_start_noise"):
        raise ValueError("model has no RF generator: build it with use_rf=True")
    shape = model.rf_start_noise.shape
    noises = {s: torch.randn(shape, generator=torch.Generator().manual_seed(1000 + s)) for s in noise_seeds}
    jobs = [(solver, n, s) for solver in solvers for n in steps for s in noise_seeds]
    quality = score_settings(model, dataset, [dict(n_steps=n, solver=solver, start_noise=noises[s])
                                              for solver, n, s in jobs])
    return quality.assign(noise_seed=[s for *_, s in jobs],
                          setting=[setting_name(solver, n) for solver, n, _ in jobs])


def sampling_differences(quality: pd.DataFrame, metrics: Sequence[str] = METRICS, reference_solver: str = "euler",
                         reference_steps: int | None = None) -> pd.DataFrame:
    """Every sampling setting minus the reference (`reference_solver` at `reference_steps`, by
    default its fewest steps), paired by ``noise_seed`` (in notebook 05: one trained model per
    seed, scored from that seed's start noise); one row per (metric, setting), with ``solver`` and
    ``n_steps`` columns."""
    if reference_solver not in set(quality["solver"]):
        raise ValueError(f"reference_solver {reference_solver!r} is not among the scored solvers "
                         f"{sorted(set(quality['solver']))}")
    steps = reference_steps or int(quality.loc[quality["solver"] == reference_solver, "n_steps"].min())
    names = quality.drop_duplicates("setting").set_index("setting")[["solver", "n_steps"]]
    table = _by_metric(quality, metrics, baseline=setting_name(reference_solver, steps), variant="setting",
                       seed="noise_seed")
    return table.join(names, on="setting")


SPEC_STEPS = (5, 20)  # the spec's recommended range of sampling steps


def _tally(rows: pd.DataFrame, name: str) -> str:
    """"better: a, b; worse: none; 3 of 5 within noise (could have detected 0.0040 to 0.0120 or more)"
    for the verdicts of `rows`."""
    listed = {v: ", ".join(map(str, rows.loc[rows["verdict"] == v, name])) or "none" for v in ("better", "worse")}
    power = detectable_clause(rows)
    return (f"better: {listed['better']}; worse: {listed['worse']}; "
            f"{int((rows['verdict'] == 'within noise').sum())} of {len(rows)} within noise"
            + (f" ({power})" if power else ""))


def _zero_scale(prior: pd.DataFrame) -> pd.Series:
    return prior["variant"].str.startswith("user 0.0,")


def guidance_conclusions(differences: pd.DataFrame, prior: pd.DataFrame, data_name: str) -> Findings:
    """Sentences on the guidance grid (run on synthetic data `data_name`) and its flags."""
    seeds = int(differences["n_seeds"].min())
    sentences = [f"'Guidance helps (user 0.1-0.5, cosine 0.05-0.2)', on synthetic data ({data_name}), {metric} "
                 f"minus guidance off ({REFERENCE}), 95% intervals over {seeds} training seeds: "
                 f"{_tally(rows, 'variant')}. "
                 + "; ".join(f"{row['variant']} {describe(row)}" for _, row in rows.iterrows()) + "."
                 for metric, rows in differences.groupby("metric", sort=False)]
    valid = differences[differences["metric"] == METRICS[0]]
    best = valid.loc[valid["treatment_mean"].idxmax()]
    best = best if best["treatment_mean"] > best["baseline_mean"] else None
    sentences.append(f"Highest mean {METRICS[0]}: " + (f"{best['variant']}, {describe(best)} against guidance off."
                                                       if best is not None else f"guidance off ({REFERENCE})."))
    zero = _zero_scale(prior)
    sentences += [f"Adding the user prior at inference (synthetic data, {data_name}), {metric}: "
                  f"{_tally(rows, 'variant')}; mean change {rows['delta'].mean():+.4f}."
                  for metric, rows in prior[~zero].groupby("metric", sort=False)]
    identity = float(prior.loc[zero, ["delta", "ci_low", "ci_high"]].abs().max().max()) if zero.any() else 0.0
    sentences.append("At user scale 0 the prior term is zero: adding it " + (
        "changes nothing, as it must." if identity == 0 else f"changes results by up to {identity:.2g}: a bug."))
    flags = {verdict: {metric: list(rows.loc[rows["verdict"] == word, "variant"])
                       for metric, rows in differences.groupby("metric", sort=False)}
             for verdict, word in (("guidance_better", "better"), ("guidance_worse", "worse"))}
    return Findings(sentences, {**flags, "prior_identity_at_zero": identity,
                                "best_guidance_variant": REFERENCE if best is None else best["variant"]})


def _steps_verdict(rows: pd.DataFrame) -> str:
    words = set(rows["verdict"])
    if words == {"better"}:
        return "holds"
    if "better" in words:
        return "holds on some metrics only"
    if "worse" in words:
        return "does NOT hold (fewer steps score better)"
    return "does NOT hold here (within noise)"


def _timing_sentence(timing: pd.DataFrame, data_name: str) -> tuple[str, dict, dict]:
    """'More steps are slower' from the wall times of the fewest and most steps, per solver."""
    seconds = timing.set_index(["solver", "n_steps"])["seconds"]
    first, last = int(timing["n_steps"].min()), int(timing["n_steps"].max())
    ms = {s: {str(first): 1e3 * float(seconds[(s, first)]), str(last): 1e3 * float(seconds[(s, last)])}
          for s in dict.fromkeys(timing["solver"])}
    grows = {s: times[str(last)] > times[str(first)] for s, times in ms.items()}
    sentence = (f"'More steps are slower' {'holds' if all(grows.values()) else 'does NOT hold'} on {data_name}: "
                "generate() for all users and items takes "
                + ", ".join(f"{s} {t[str(first)]:.1f} -> {t[str(last)]:.1f} ms" for s, t in ms.items())
                + f" ({first} -> {last} steps, best of the timed calls on this machine).")
    return sentence, grows, ms


def sampling_conclusions(differences: pd.DataFrame, timing: pd.DataFrame, endpoints: pd.DataFrame,
                         references: pd.DataFrame, data_name: str,
                         reference_solver: str = "euler") -> Findings:
    """Sentences on steps and solvers (one model trained on `data_name`) and their flags.

    `differences` is `sampling_differences` output; `timing` has one row per (solver, n_steps)
    with ``seconds``; `endpoints` per (solver, n_steps) the endpoint ``cosine`` and ``mse`` (no
    prior); `references` the `flow_probes.reference_endpoints` of the same inputs.
    """
    timed, grows, ms = _timing_sentence(timing, data_name)
    first, last = int(timing["n_steps"].min()), int(timing["n_steps"].max())
    fewest = f"{first} step{'s' if first > 1 else ''}"
    same_solver = differences[differences["solver"] == reference_solver]
    longest = same_solver[same_solver["n_steps"] == last]
    band = same_solver[same_solver["n_steps"].between(*SPEC_STEPS)]
    enough = not (band["verdict"] == "better").any()
    ends = endpoints.set_index(["solver", "n_steps"])
    cosine = ends["cosine"]
    noise = (f"95% intervals over {int(differences['n_seeds'].min())} trained models, one per training seed, "
             "each scored from its own start noise")
    sentences = [
        timed,
        f"'More steps give better quality' {_steps_verdict(longest)} on {data_name}: {reference_solver} {last} steps "
        f"minus {first}: " + "; ".join(f"{row['metric']} {describe(row)}" for _, row in longest.iterrows())
        + f" ({noise}); the endpoint cosine (one draw, no interval) changes by "
        f"{cosine[(reference_solver, last)] - cosine[(reference_solver, first)]:+.4f}.",
        f"'Use {SPEC_STEPS[0]}-{SPEC_STEPS[1]} steps' on {data_name}: {reference_solver} with "
        f"{SPEC_STEPS[0]}-{SPEC_STEPS[1]} steps minus {fewest}: "
        + ("; ".join(f"{row['n_steps']} steps {row['metric']} {describe(row)}" for _, row in band.iterrows())
           or "none run") + f"; they {'do not beat' if enough else 'beat'} {fewest} beyond noise here.",
        f"All {differences['setting'].nunique()} sampling settings against {setting_name(reference_solver, first)} "
        f"on {data_name}, " + "; ".join(f"{metric}: {_tally(rows, 'setting')}"
                                         for metric, rows in differences.groupby("metric", sort=False)) + ".",
        versus_references(float(cosine[(reference_solver, last)]), float(ends.loc[(reference_solver, last), "mse"]),
                          references, f"Endpoints on {data_name} at {reference_solver} {last} steps"),
    ]
    below = bool(cosine[(reference_solver, last)] < references.loc["regression", "cosine"])
    return Findings(sentences, {"time_grows_with_steps": grows, "generate_ms": ms, "one_step_enough": enough,
                                "more_steps_verdicts": dict(zip(longest["metric"], longest["verdict"])),
                                "endpoint_cosine_below_regression": below})


def conclusions(guidance: pd.DataFrame, prior: pd.DataFrame, sampling: pd.DataFrame, timing: pd.DataFrame,
                endpoints: pd.DataFrame, references: pd.DataFrame, guidance_data: str,
                sampling_data: str) -> Findings:
    """The notebook's conclusions: guidance sentences, sampling sentences, then how many of all
    these verdicts would exceed noise by chance (the identity rows at user scale 0 not counted)."""
    judged = prior[~_zero_scale(prior)]
    return (guidance_conclusions(guidance, prior, guidance_data)
            + sampling_conclusions(sampling, timing, endpoints, references, sampling_data)
            + Findings([chance_note(guidance, judged, sampling)],
                       {"n_verdicts": len(guidance) + len(judged) + len(sampling)}))
