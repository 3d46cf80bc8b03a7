"""Verdict tables in prose and on disk: how many exceed noise, how many would by chance, JSON rows.

Works on `rfkit.stats.paired_differences` output (columns ``delta``, ``ci_low``, ``ci_high``,
``n_seeds``, ``verdict``). A notebook that states many verdicts prints `chance_note` next to
them, and records `difference_records` so its test can recompute each verdict.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from rfkit.lab.record import json_records
from rfkit.stats import LEVEL, chance_exceedances

DIFFERENCE_COLUMNS = ("baseline_mean", "treatment_mean", "delta", "delta_std", "ci_low", "ci_high", "n_seeds",
                      "detectable", "verdict")


def _check(table: pd.DataFrame, name: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(table).__name__}")
    missing = {"verdict", "delta", "ci_low", "ci_high", "n_seeds"} - set(table.columns)
    if missing:
        raise ValueError(f"{name} lacks column(s) {sorted(missing)}: pass paired_differences output")


def chance_note(*tables: pd.DataFrame, level: float = LEVEL) -> str:
    """One sentence: how many of the verdicts in `tables` exceed noise, and how many would by
    chance alone at `level` if nothing differed. Rows without an interval ("one seed") do not count."""
    for i, table in enumerate(tables):
        _check(table, f"tables[{i}]")
    verdicts = pd.concat([table["verdict"] for table in tables], ignore_index=True) if tables else pd.Series([])
    judged = verdicts[verdicts != "one seed"]
    beyond = int(judged.isin(["better", "worse"]).sum())
    if judged.empty:
        return "No verdict has an interval (one seed each): nothing can be told from noise."
    return (f"{beyond} of these {len(judged)} verdicts exceed noise; with {level:.0%} intervals about "
            f"{chance_exceedances(len(judged), level):.1f} would do so by chance alone if nothing differed.")


def difference_records(table: pd.DataFrame, keys: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """The rows of a `paired_differences` table as JSON-ready records: the `keys` columns that name
    a row, then the difference, its interval and verdict; NaN (e.g. no interval) becomes None."""
    _check(table, "table")
    missing = [k for k in keys if k not in table.columns]
    if missing:
        raise ValueError(f"table lacks key column(s) {missing}")
    rows = table[[*keys, *[c for c in DIFFERENCE_COLUMNS if c in table.columns]]]
    return json_records(rows)
