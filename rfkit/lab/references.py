"""Notebook 01's yardsticks in words: how the host was tuned, and where it stands among Cornac's
reference recommenders (`rfkit.experiments.references`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from rfkit.experiments.tuning import CHOICE_METRIC
from rfkit.stats import describe, paired_differences

PROTOCOL = ("Every number here, the references' included, is full ranking over all items with only the "
            "user's training items masked (MMRec's protocol); Cornac's own Experiment, given a validation "
            "set, also masks the validation items when it ranks for test, so its test numbers are not these.")


def versus_references(runs: pd.DataFrame, references: Sequence[str], metric: str,
                      host: str = "backbone") -> pd.DataFrame:
    """Each reference minus the ``host`` on ``metric``, paired by seed (`rfkit.stats.paired_differences`)."""
    return paired_differences(runs, metric, host, list(references))


def standing_sentence(versus: pd.DataFrame, metric: str) -> str:
    """Where the host stands: each reference minus the host, and which references it trails or
    beats beyond noise."""
    parts = "; ".join(f"{row['variant']} {describe(row)}" for row in versus.to_dict(orient="records"))
    trails = versus.loc[versus["verdict"] == "better", "variant"].tolist()
    beats = versus.loc[versus["verdict"] == "worse", "variant"].tolist()
    verdict = (f"The host trails {', '.join(trails)} beyond noise" if trails
               else "No reference beats the host beyond noise")
    verdict += f" and beats {', '.join(beats)}." if beats else "."
    return (f"Where the host stands on {metric} (reference minus host, paired over "
            f"{int(versus['n_seeds'].max())} seeds): {parts}. {verdict}")


def tuning_sentence(table: pd.DataFrame, packaged: Mapping[str, Any]) -> str:
    """The host's tuning in one sentence: the chosen settings and their validation score against
    the packaged settings' (when those are in the grid)."""
    keys = [k for k in packaged if k in table.columns]
    chosen = table[table["chosen"]].iloc[0]
    settings = ", ".join(f"{k}={chosen[k]}" for k in keys)
    is_packaged = (table[keys] == pd.Series({k: packaged[k] for k in keys})).all(axis=1)
    text = (f"Tuned on {CHOICE_METRIC} over {len(table)} host settings, the host uses {settings} "
            f"({CHOICE_METRIC} {chosen[CHOICE_METRIC]:.4f}")
    if is_packaged[chosen.name]:
        text += "; these are the packaged settings"
    elif is_packaged.any():
        text += f"; the packaged settings score {table.loc[is_packaged, CHOICE_METRIC].iloc[0]:.4f}"
    return text + ")."
