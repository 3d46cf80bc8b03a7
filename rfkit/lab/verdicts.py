"""The one place where paired differences become words and records.

Works on `rfkit.stats.paired_differences` output (columns ``delta``, ``ci_low``, ``ci_high``,
``n_seeds``, ``verdict``): `phrase` says what a verdict means in a sentence's own words,
`chance_clause` and `chance_note` how many verdicts would exceed noise by chance,
`difference_records` turns the rows into JSON-ready records, and an analysis returns its sentences
and its numbers together as `Findings`, so a test checks the numbers and the verdicts rather than
the wording.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rfkit.lab.record import json_records
from rfkit.stats import LEVEL, chance_exceedances

VERDICTS = ("better", "worse", "within noise", "one seed")


@dataclass
class Findings:
    """What an analysis concludes: sentences for the reader, and the numbers behind them (JSON-ready)
    for results.json and for the tests. Findings add up: sentences in order, numbers merged (a name
    given twice is an error, never an overwrite)."""

    sentences: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as ``sentences, numbers = findings``."""
        return iter((self.sentences, self.numbers))

    def __add__(self, other: Findings) -> Findings:
        clash = sorted(self.numbers.keys() & other.numbers.keys())
        if clash:
            raise ValueError(f"both findings record {clash}")
        return Findings([*self.sentences, *other.sentences], {**self.numbers, **other.numbers})


def phrase(verdict: str, better: str, worse: str, within: str, one_seed: str = "cannot be judged on one seed") -> str:
    """The words for one `rfkit.stats.verdict` ("better", "worse", "within noise" or "one seed")."""
    words = dict(zip(VERDICTS, (better, worse, within, one_seed)))
    if verdict not in words:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    return words[verdict]


def chance_clause(n_verdicts: int, level: float = LEVEL) -> str:
    """How many of `n_verdicts` paired verdicts would exceed noise by chance alone if nothing
    differed: "about 1.2 of 24 would exceed noise by chance alone (95% intervals)"."""
    return (f"about {chance_exceedances(n_verdicts, level):.1f} of {n_verdicts} would exceed noise by chance alone "
            f"({level:.0%} intervals)")


def detectable_clause(table: pd.DataFrame, digits: int = 4) -> str:
    """What the "within noise" rows of a `paired_differences` table could have detected, for a
    sentence that counts them: "could have detected 0.0040 to 0.0120 or more"; "" when no such row
    has an interval."""
    _check(table, "table")
    if "detectable" not in table.columns:
        raise ValueError("table lacks column 'detectable': pass paired_differences output")
    sizes = table.loc[table["verdict"] == "within noise", "detectable"].to_numpy(dtype=float)
    sizes = sizes[np.isfinite(sizes)]
    if sizes.size == 0:
        return ""
    low, high = f"{sizes.min():.{digits}f}", f"{sizes.max():.{digits}f}"
    return f"could have detected {low if low == high else f'{low} to {high}'} or more"


ROW_FIELDS = ("delta", "ci_low", "ci_high", "n_seeds", "verdict")  # what one recorded difference holds
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
    return f"{beyond} of these {len(judged)} verdicts exceed noise; {chance_clause(len(judged), level)}."


def difference_records(table: pd.DataFrame, keys: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """The rows of a `paired_differences` table as JSON-ready records: the `keys` columns that name
    a row, then the difference, its interval and verdict; NaN (e.g. no interval) becomes None."""
    _check(table, "table")
    missing = [k for k in keys if k not in table.columns]
    if missing:
        raise ValueError(f"table lacks key column(s) {missing}")
    rows = table[[*keys, *[c for c in DIFFERENCE_COLUMNS if c in table.columns]]]
    return json_records(rows)


def difference_row(difference: Mapping[str, Any] | pd.Series) -> dict[str, Any]:
    """One paired difference's `ROW_FIELDS` as a JSON-ready record (a missing interval becomes None)."""
    return json_records(pd.DataFrame([{k: difference[k] for k in ROW_FIELDS}]))[0]
