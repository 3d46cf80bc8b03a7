"""The generator health of a notebook's runs, in a table and in the sentence its conclusions carry.

Every run with a generator records its health (`rfkit.experiments.runner.generator_columns`: the
``health_*`` columns and ``rf_steps_taken``). A notebook that compares generators states how
healthy they were, so a reader knows whether a verdict is about a trained flow or about noise.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from rfkit.experiments.runner import HEALTH_PREFIX

COSINES = ("one_step_cosine", "ridge_cosine", "noise_cosine", "sampled_cosine")


def health_table(runs: pd.DataFrame, by: str | Sequence[str] = "variant") -> pd.DataFrame:
    """Per group of runs that have a generator: runs, how many learned, the mean cosines to the
    targets (1-step, ridge, noise, `sampling_steps`-step) and the mean RF optimizer steps."""
    by = [by] if isinstance(by, str) else list(by)
    verdict = HEALTH_PREFIX + "verdict"
    if verdict not in runs.columns:
        raise ValueError("runs have no generator health columns (health_*): were they trained with a generator?")
    with_generator = runs.dropna(subset=[verdict])
    grouped = with_generator.groupby(by, sort=False)
    table = pd.DataFrame({"runs": grouped.size(),
                          "learned": grouped[verdict].apply(lambda v: int((v == "learned").sum()))})
    for name in COSINES:
        table[name] = grouped[HEALTH_PREFIX + name].mean()
    table["rf_steps"] = grouped["rf_steps_taken"].mean()
    return table


def health_sentence(runs: pd.DataFrame, by: str | Sequence[str] = "variant") -> str:
    """One sentence: for each generator of `runs` (each group of `by`), in how many runs it learned
    and its mean cosines."""
    label = lambda key: ", ".join(map(str, key)) if isinstance(key, tuple) else str(key)  # noqa: E731
    parts = [f"{label(name)} learned in {int(row['learned'])} of {int(row['runs'])} runs (1-step cosine to its targets "
             f"{row['one_step_cosine']:.3f}, ridge {row['ridge_cosine']:.3f}, noise {row['noise_cosine']:.3f}; "
             f"{row['rf_steps']:.0f} optimizer steps)"
             for name, row in health_table(runs, by).iterrows()]
    return ("Generator health at each run's best epoch ('learned': the 1-step cosine reaches half the "
            "ridge fit's): " + "; ".join(parts) + ".")


def mixed_runs(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`runs` split into the rows a verdict about a generator may use and the generator runs that
    never mixed it in (``mixed_at_best`` False: the best validated epoch lay inside the warmup, so
    the model scores as its backbone). Runs without a generator are kept."""
    if "mixed_at_best" not in runs.columns or "generator" not in runs.columns:
        raise ValueError("runs need the columns 'generator' and 'mixed_at_best' "
                         "(rfkit.experiments.runner.generator_columns)")
    never = runs["generator"].notna() & ~runs["mixed_at_best"].fillna(False).astype(bool)
    return runs[~never], runs[never]


def never_mixed_sentence(never: pd.DataFrame, by: str | Sequence[str] = "variant") -> str:
    """"" when every generator run mixed; else which runs never did and that the verdicts leave them out."""
    if never.empty:
        return ""
    by = [by] if isinstance(by, str) else list(by)
    names = [f"{', '.join(map(str, key[:-1]))} seed {key[-1]}" for key in never[[*by, "seed"]].itertuples(index=False)]
    return (f"{len(never)} generator run(s) never mixed their generator in (best validated epoch inside the warmup, "
            f"so they score as their backbone): {'; '.join(names)}. The verdicts about the generators leave them out.")
