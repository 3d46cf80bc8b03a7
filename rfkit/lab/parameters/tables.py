"""The sweep's runs as tables: one row per (parameter, value, seed), the paired differences against
the kit's value, and the knobs that moved the most."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from rfkit.experiments.runner import RunFailure
from rfkit.stats import paired_differences

from .grid import INFERENCE, JUDGE_ON, PARAMETERS, SweepPlan, documented_default
from .measure import MEASURED


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
    """One row per (parameter, value, seed) from `rfkit.experiments.runner.train_many` output with `measure`.

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
