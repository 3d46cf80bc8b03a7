"""Notebook 02 (warmup): the cost of RF inside and after warmup, and the notebook's conclusions.

During warmup the generator still takes an optimizer step every batch, but nothing is mixed, so
`MultimodalGCN.forward` skips the generation that `mix_embeddings` would discard: warmup epochs
spend less time in RF calls than mixed ones. `rf_seconds_in_warmup` and `warmup_cost` measure it, and
`warmup_conclusions` turns the notebook's numbers (the score identity, the shared training prefix,
each warmup's paired difference from the shortest one) into sentences and the results record.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from rfkit.lab.verdicts import Findings, chance_clause, difference_records, phrase
from rfkit.stats import chance_exceedances, describe, interval, verdict


def rf_seconds_in_warmup(epochs: pd.DataFrame, warmups: Mapping[str, int]) -> pd.DataFrame:
    """RF seconds of each warmup epoch next to the same seed and epoch of the shortest-warmup
    variant, which mixes (and so generates) there.

    The twins run the same batches and generator steps on tensors of the same sizes, so their RF
    time differs by the generation the warmup skips (host weights may differ, call times do not).
    One row per pair: ``variant``, ``seed``, ``epoch``, ``warmup_s`` and ``mixed_s``. `warmups`
    maps each variant to its warmup length W.
    """
    missing = {"variant", "seed", "epoch", "rf_seconds"} - set(epochs.columns)
    if missing:
        raise ValueError(f"epochs lacks column(s) {sorted(missing)}")
    if not warmups or set(warmups) - set(epochs["variant"]):
        raise ValueError(f"warmups must name variants of epochs, got {sorted(warmups)}")
    shortest = min(warmups, key=warmups.get)
    mixed = epochs[epochs["variant"] == shortest].set_index(["seed", "epoch"])["rf_seconds"].rename("mixed_s")
    frames = [epochs[(epochs["variant"] == name) & epochs["epoch"].between(warmups[shortest], warmup - 1)]
              for name, warmup in warmups.items()]
    pairs = pd.concat(frames, ignore_index=True).join(mixed, on=["seed", "epoch"], how="inner")
    return pairs.rename(columns={"rf_seconds": "warmup_s"})[["variant", "seed", "epoch", "warmup_s", "mixed_s"]]


def warmup_cost(pairs: pd.DataFrame) -> dict[str, Any] | None:
    """Warmup against mixed RF seconds per epoch from `rf_seconds_in_warmup` pairs, None without any.

    Several warmups share their mixed twin, so the pairs are first averaged per (seed, epoch): one
    unit each. Returns the number of units (``pairs``), the mean ``warmup_s`` and ``mixed_s``, the
    mean difference warmup - mixed with its 95% interval (None with one unit) and a verdict:
    "warmup cheaper" / "warmup costlier" / "within noise" / "one pair".
    """
    if pairs.empty:
        return None
    units = pairs.groupby(["seed", "epoch"])[["warmup_s", "mixed_s"]].mean()
    diff = interval(units["warmup_s"] - units["mixed_s"])
    word = phrase(verdict(diff["ci_low"], diff["ci_high"]), "warmup costlier", "warmup cheaper", "within noise",
                  "one pair")
    two = diff["n_seeds"] >= 2
    return {"pairs": len(units), "warmup_s": float(units["warmup_s"].mean()), "mixed_s": float(units["mixed_s"].mean()),
            "delta": float(diff["delta"]), "ci_low": float(diff["ci_low"]) if two else None,
            "ci_high": float(diff["ci_high"]) if two else None, "verdict": word}


def _cost_sentence(cost: Mapping[str, Any] | None, baseline: str) -> str:
    if cost is None:
        return f"No warmup epoch has a mixed counterpart in {baseline}, so warmup's RF time is not compared."
    reading = {"warmup cheaper": "the generator trains during warmup, but its generation is skipped",
               "warmup costlier": "UNEXPECTED: warmup epochs cost more in RF calls than mixed ones",
               "within noise": "no measurable difference in these runs",
               "one pair": "one pair only, no interval"}[cost["verdict"]]
    interval_text = "" if cost["ci_low"] is None else f" [{cost['ci_low']:+.3f}, {cost['ci_high']:+.3f}]"
    return (f"A warmup epoch spends {cost['warmup_s']:.3f} s in RF calls, the same epoch of {baseline} (which mixes) "
            f"{cost['mixed_s']:.3f} s: warmup - mixed = {cost['delta']:+.3f} s{interval_text} over {cost['pairs']} "
            f"seed-epochs ({cost['verdict']}): {reading}.")


def warmup_difference_sentence(row: Mapping[str, Any] | pd.Series, baseline: str, runs_in_warmup: int,
                               runs: int) -> str:
    """One warmup's paired difference from the baseline warmup, as a sentence that also says how
    many of its runs report the backbone's numbers (best epoch inside the warmup)."""
    return (f"{row['variant']} minus {baseline}, {row['metric']}: {describe(row)} over {int(row['n_seeds'])} seeds; "
            f"{runs_in_warmup} of its {runs} runs picked a warmup epoch as best (backbone numbers).")


def warmup_conclusions(identity: Mapping[str, Any], shared_prefix: Mapping[str, Any], differences: pd.DataFrame,
                       baseline: str, runs: pd.DataFrame, cost: Mapping[str, Any] | None, chosen: str,
                       patience: int) -> Findings:
    """Notebook 02's conclusions and the record behind them.

    `identity`: ``max_gap_in_warmup``, ``min_gap_after_warmup``, ``best_epoch``, ``restored_epoch``
    and ``last_epoch`` of the short identity run. `shared_prefix`: ``max_diff`` (None if no pair
    shares an epoch) and ``seed_epochs``. `differences`: `paired_by_metric(runs, metrics, baseline)`
    (rows for each longer warmup against `baseline`). `runs`: one row per run with ``variant``,
    ``mixed_at_best`` and ``stopped_before_mixing``. `cost`: `warmup_cost` output. Returns the
    sentences and a dict with the difference rows, the beyond-noise count and its chance
    expectation, and the early stopping counts.
    """
    missing = {"variant", "mixed_at_best", "stopped_before_mixing"} - set(runs.columns)
    if missing:
        raise ValueError(f"runs lacks column(s) {sorted(missing)}")
    if baseline not in set(runs["variant"]):
        raise ValueError(f"baseline {baseline!r} is not a variant of runs")
    in_warmup = (~runs["mixed_at_best"].astype(bool)).groupby(runs["variant"]).sum()
    per_variant = runs.groupby("variant").size()
    n_beyond, n_compared = int(differences["beyond_noise"].sum()), len(differences)
    prefix = shared_prefix["max_diff"]
    n_stopped, n_best_in_warmup = int(runs["stopped_before_mixing"].sum()), int(in_warmup.sum())
    restored = identity["restored_epoch"]
    conclusions = [
        f"While the generator is inside its warmup, the scores "
        f"{'equal' if identity['max_gap_in_warmup'] == 0 else 'do NOT equal'} the backbone's exactly "
        f"(max |gap| = {identity['max_gap_in_warmup']}); after it they differ "
        f"(min gap {identity['min_gap_after_warmup']:.4g}).",
        f"train() left the generator at epoch {restored}; the best validation epoch was {identity['best_epoch']} "
        f"and the last epoch run {identity['last_epoch']}"
        + (" (the same here)." if identity["best_epoch"] == identity["last_epoch"] else
           ": the epoch is restored with the best weights."),
        ("No two warmups share an epoch before the shorter one ends, so the shared prefix is not checked."
         if prefix is None else
         f"Runs that differ only in warmup train {'identically' if prefix == 0 else 'NOT identically'} until the "
         f"shorter warmup ends (max |difference| = {prefix} over {shared_prefix['seed_epochs']} seed-epochs)."),
        _cost_sentence(cost, baseline),
        *[warmup_difference_sentence(row, baseline, int(in_warmup[row["variant"]]), int(per_variant[row["variant"]]))
          for _, row in differences.iterrows()],
        f"{n_beyond} of {n_compared} comparisons with {baseline} exceed the seed noise; {chance_clause(n_compared)}.",
        f"Chosen on validation: {chosen}.",
        f"{n_stopped} of {len(runs)} runs stopped before mixing (patience {patience}); "
        f"{n_best_in_warmup} of {len(runs)} selected a warmup epoch as best.",
    ]
    record = {"baseline": baseline, "differences": difference_records(differences, ["variant", "metric"]),
              "n_beyond_noise": n_beyond, "n_comparisons": n_compared,
              "chance_exceedances": chance_exceedances(n_compared),
              "early_stopping": {"patience": patience, "n_stopped_before_mixing": n_stopped,
                                 "n_best_in_warmup": n_best_in_warmup}}
    return Findings(conclusions, record)
