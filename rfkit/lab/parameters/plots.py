"""The sweep's figures: one panel per parameter, each value minus the kit's."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from rfkit.lab.plots import plot_parameter_effect

from .grid import CHOOSE_ON, JUDGE_ON, PARAMETERS


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
