"""The sweep's conclusions in words, computed from its tables."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rfkit.lab.verdicts import chance_clause, detectable_clause
from rfkit.stats import describe

from .grid import EXAMPLE, INFERENCE, PARAMETERS, documented_default, kit_value


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
    power = detectable_clause(deltas[deltas["parameter"].isin(still)])
    sentences = [f"{len(moved)} of {len(PARAMETERS)} parameters moved test NDCG@20 beyond noise at some value tried"
                 + (f" ({effects_text})" if moved else "")
                 + f"; {len(still)} stayed within noise at every value tried ({listing(still)})"
                 + (f"; at those values the sweep {power}." if power else "."),
                 f"That is {len(beyond)} beyond-noise verdict(s) out of {len(deltas)} paired comparisons; "
                 f"{chance_clause(len(deltas))}, so a lone beyond-noise value is weak evidence."]
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
