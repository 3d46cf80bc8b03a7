"""Notebook 01 (integration): the config it shows, RF-vs-backbone differences and its conclusions.

The notebook trains the host with and without RF on the same seeds. Whether RF helps is a paired
question (same seed: same initialisation, batches and split), answered by
`rfkit.stats.paired_differences` per metric; `integration_conclusions` turns those rows, the
warmup check and the time split into the sentences the notebook prints and the record it writes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import pandas as pd
import yaml

from rfkit.config import BASE_KEY, available
from rfkit.experiments.cost import ACCURACY_TOLERANCE
from rfkit.experiments.runner import HEALTH_PREFIX
from rfkit.lab.health import health_sentence, health_table
from rfkit.lab.verdicts import Findings, chance_clause, difference_records, phrase
from rfkit.stats import chance_exceedances, describe, paired_differences

HEADLINE = "test_ndcg@20"
TEST_METRICS = ("test_recall@10", "test_recall@20", "test_ndcg@10", "test_ndcg@20")


def config_chain_text(name: str) -> str:
    """The packaged YAML file `name` and every file it builds on (``base:``), base first, each
    under a comment line naming it: what `rfkit.config.load(name)` merges."""
    texts, seen = [], []
    current: str | None = name
    while current is not None:
        if current not in available() or current in seen:
            raise ValueError(f"name must be a packaged config {available()} without a base cycle, got {current!r}")
        seen.append(current)
        text = (resources.files("rfkit") / "configs" / f"{current}.yaml").read_text()
        texts.insert(0, f"# ---- rfkit/configs/{current}.yaml\n{text.rstrip()}")
        current = (yaml.safe_load(text) or {}).get(BASE_KEY)
    return "\n\n".join(texts)


def paired_by_metric(runs: pd.DataFrame, metrics: Sequence[str], baseline: str,
                     variant: str = "variant") -> pd.DataFrame:
    """`rfkit.stats.paired_differences` of every other variant against `baseline`, for each metric:
    one row per (metric, variant), columns as there plus ``metric``."""
    missing = sorted(set(metrics) - set(runs.columns))
    if missing or not metrics:
        raise ValueError(f"metrics must be non-empty columns of runs; missing {missing}")
    long = runs.melt(id_vars=[variant, "seed"], value_vars=list(metrics), var_name="metric", value_name="value")
    return paired_differences(long, "value", baseline, by=["metric"], variant=variant)


def within_model(runs: pd.DataFrame, metrics: Sequence[str], variant: str = "variant") -> pd.DataFrame:
    """Each generator variant as scored minus the same trained models scored at inference ratio 0
    (their ``unmixed_<metric>`` columns), paired by seed: a difference that no early stop can move,
    since both sides are one model at one epoch. One row per (metric, variant), as `paired_by_metric`."""
    with_generator = runs[runs["generator"].notna()]
    missing = sorted({f"unmixed_{m}" for m in metrics} - set(runs.columns))
    if missing or with_generator.empty:
        raise ValueError(f"runs need generator rows with columns {missing or 'unmixed_*'} "
                         "(rfkit.lab.histories.history_measure)")
    unmixed = with_generator.assign(**{m: with_generator[f"unmixed_{m}"] for m in metrics})
    tables = []
    for name in with_generator[variant].unique():
        pair = pd.concat([unmixed[unmixed[variant] == name].assign(**{variant: "ratio 0"}),
                          with_generator[with_generator[variant] == name]])
        tables.append(paired_by_metric(pair, metrics, "ratio 0", variant))
    return pd.concat(tables, ignore_index=True)


def within_model_sentence(within: pd.DataFrame, headline: str = HEADLINE) -> str:
    """What `within_model` says on `headline`, one clause per generator variant."""
    rows = within[within["metric"] == headline]
    parts = "; ".join(f"{row['variant']} {describe(row)}" for row in rows.to_dict("records"))
    return (f"The same trained models scored with their generator minus scored at inference ratio 0, on "
            f"{headline} (one model, one epoch: no early stop in between): {parts}.")


def rf_verdict_sentence(row: Mapping[str, Any] | pd.Series, metric: str = HEADLINE) -> str:
    """What one RF-minus-backbone row of `paired_by_metric` says, as a sentence."""
    meaning = phrase(row["verdict"], "beyond the seed noise, in RF's favour.", "beyond the seed noise, AGAINST RF.",
                     "within the seed noise: RF does not measurably change it here.",
                     "one seed only: no interval, hence no verdict.")
    return (f"RF minus backbone, {metric}: {describe(row)} over {int(row['n_seeds'])} paired seeds "
            f"({row['treatment_mean']:.4f} vs {row['baseline_mean']:.4f}): {meaning}")


def regression_sentence(versus_backbone: Mapping[str, Any] | pd.Series,
                        flow_minus_regression: Mapping[str, Any] | pd.Series, metric: str = HEADLINE) -> str:
    """What the regression baseline says: regression minus backbone, and RF minus regression (the
    part of RF's effect that needs a *flow* rather than a point estimate)."""
    meaning = phrase(flow_minus_regression["verdict"], "the flow beats the point estimate beyond noise.",
                     "the point estimate beats the flow beyond noise.",
                     "the flow adds nothing measurable over a point estimate here.", "one seed only: no verdict.")
    return (f"Regression (a deterministic MLP of the velocity net's size, rf_generator: regression) minus "
            f"backbone, {metric}: {describe(versus_backbone)}; RF minus regression: "
            f"{describe(flow_minus_regression)}: {meaning}")


def placebo_sentence(versus_backbone: Mapping[str, Any] | pd.Series, versus_placebo: pd.DataFrame,
                     metric: str = HEADLINE) -> str:
    """What the noise placebo says: placebo minus backbone, then RF and regression each minus
    placebo (`versus_placebo`, indexed by variant): does a generator bring more than noise?"""
    rows = [f"{name} minus placebo {describe(row)}: "
            + phrase(row["verdict"], "more than noise of the same size", "LESS than noise of the same size",
                     "not distinguishable from noise of the same size", "no verdict (one seed)")
            for name, row in versus_placebo.iterrows()]
    return (f"Placebo (Gaussian noise at the targets' per-row scale, rf_generator: noise) minus backbone, {metric}: "
            f"{describe(versus_backbone)}; " + "; ".join(rows) + ".")


def integration_conclusions(differences: pd.DataFrame, runs: pd.DataFrame, config_matches_generator: bool,
                            warmup: Mapping[str, Any], overhead: Mapping[str, Any],
                            flow_vs_regression: pd.DataFrame | None = None,
                            versus_placebo: pd.DataFrame | None = None,
                            headline: str = HEADLINE) -> Findings:
    """Notebook 01's conclusions and the record behind them.

    `differences`: `paired_by_metric(runs, metrics, "backbone")` with `headline` among the metrics,
    rows for variant "RF" and, optionally, "regression". `flow_vs_regression`: the same for RF
    against baseline "regression" (needed when `differences` has regression rows). `versus_placebo`:
    RF and regression against baseline "placebo" (needed when `differences` has placebo rows). `runs`: one
    row per (variant, seed) with ``mixed_at_best``. `warmup`: ``epochs``, ``prefix_max_diff``
    (None without warmup epochs) and ``after_max_diff``. `overhead`: ``share``, ``overhead`` and
    ``epoch_time_ratio`` of `rfkit.lab.histories.rf_time_share`, and ``mixed_overhead`` (the
    epochs after warmup; None if none). Returns the sentences and a dict with ``verdict`` (the
    RF headline row and the counts over every comparison), ``differences`` (all rows) and
    ``overhead`` (with ``within_spec_claim``: overhead <= 20%).
    """
    rf_rows = differences[differences["variant"] == "RF"].set_index("metric")
    if headline not in rf_rows.index:
        raise ValueError(f"differences has no RF row for headline metric {headline!r}")
    with_regression = "regression" in set(differences["variant"])
    if with_regression and flow_vs_regression is None:
        raise ValueError("differences has regression rows: pass flow_vs_regression (RF minus regression)")
    with_placebo = "placebo" in set(differences["variant"])
    if with_placebo and versus_placebo is None:
        raise ValueError("differences has placebo rows: pass versus_placebo (RF and regression minus placebo)")
    compared = pd.concat([differences, *([flow_vs_regression] if with_regression else []),
                          *([versus_placebo] if with_placebo else [])])
    n_beyond, n_compared = int(compared["beyond_noise"].sum()), len(compared)
    rf_runs = runs[runs["variant"] == "RF"]
    mixed = int(rf_runs["mixed_at_best"].sum())
    prefix, within_spec = warmup["prefix_max_diff"], overhead["overhead"] <= 0.2
    if prefix is None:
        warmup_sentence = "There is no warmup here, so no epoch where RF must train exactly like the backbone."
    else:
        warmup_sentence = (f"During the {warmup['epochs']}-epoch warmup the generator models train "
                           f"{'exactly' if prefix == 0 else 'NOT exactly'} like the backbone (max |difference| of "
                           f"loss and metrics = {prefix}); afterwards they differ "
                           f"(max {warmup['after_max_diff']:.4f}).")
    mixed_overhead = overhead.get("mixed_overhead")
    conclusions = [
        f"The three steps work from YAML alone: every rf_* value reached the generator "
        f"({'yes' if config_matches_generator else 'NO'}), and use_rf: false gives the plain backbone.",
        warmup_sentence,
        rf_verdict_sentence(rf_rows.loc[headline], headline),
        *([regression_sentence(differences[differences["variant"] == "regression"].set_index("metric").loc[headline],
                               flow_vs_regression.set_index("metric").loc[headline], headline)]
          if with_regression else []),
        *([placebo_sentence(differences[differences["variant"] == "placebo"].set_index("metric").loc[headline],
                            versus_placebo[versus_placebo["metric"] == headline].set_index("variant"), headline)]
          if with_placebo else []),
        *([health_sentence(runs)] if HEALTH_PREFIX + "verdict" in runs.columns else []),
        f"{n_beyond} of {n_compared} paired comparisons on test metrics differ beyond noise; "
        f"{chance_clause(n_compared)}, and these metrics move together.",
        f"{mixed} of {len(rf_runs)} RF runs were selected (best validation epoch) after the warmup, i.e. "
        f"actually mixed RF embeddings into their scores.",
        f"RF took {overhead['share']:.0%} of the RF runs' training time: an overhead of {overhead['overhead']:+.0%} "
        f"over the host's own work"
        + ("" if mixed_overhead is None else f" ({mixed_overhead:+.0%} in the epochs after warmup, which generate)")
        + f"; cross-check, epoch time vs. backbone runs: {overhead['epoch_time_ratio']:+.0%}. The spec's 10-20% is "
        + ("met." if within_spec else "NOT met with this light backbone."),
    ]
    verdict = {**difference_records(rf_rows.loc[[headline]].reset_index(), ["metric"])[0],
               "rf_runs_mixed_at_best": mixed, "n_beyond_noise": n_beyond, "n_comparisons": n_compared,
               "chance_exceedances": chance_exceedances(n_compared)}
    record = {"verdict": verdict, "differences": difference_records(differences, ["variant", "metric"]),
              "overhead": {**overhead, "within_spec_claim": within_spec}}
    if with_regression:
        record["flow_vs_regression"] = difference_records(flow_vs_regression, ["variant", "metric"])
    if with_placebo:
        record["versus_placebo"] = difference_records(versus_placebo, ["variant", "metric"])
    if HEALTH_PREFIX + "verdict" in runs.columns:
        record["health"] = health_table(runs).reset_index().to_dict("records")
    return Findings(conclusions, record)


def knob_table(runs: pd.DataFrame, timings: pd.DataFrame, literal: str = "spec-literal",
               metric: str = HEADLINE, tolerance: float = ACCURACY_TOLERANCE) -> pd.DataFrame:
    """Time against accuracy, one row per variant that was both trained and timed.

    `runs`: one row per (variant, seed) with `metric`; `timings`: `rfkit.experiments.cost.timing_table`
    (index: variant; ``s/epoch``, ``overhead``). Columns: s/epoch, overhead, the mean of `metric`,
    and variant minus `literal` paired by seed (delta, ci_low, ci_high, verdict), with
    ``keeps_accuracy``: the interval's lower end is above -`tolerance`; with health columns in
    `runs`, the generator's health (runs that learned, mean 1-step and ridge cosine). Rows by s/epoch.
    """
    shared = [v for v in timings.index if v in set(runs["variant"])]
    if literal not in shared:
        raise ValueError(f"literal {literal!r} must be both trained (runs) and timed (timings)")
    versus = paired_differences(runs[runs["variant"].isin(shared)], metric, literal).set_index("variant")
    table = timings.loc[shared, ["s/epoch", "overhead"]].join(runs.groupby("variant")[metric].mean())
    table = table.join(versus[["delta", "ci_low", "ci_high", "n_seeds", "detectable", "verdict"]])
    if HEALTH_PREFIX + "verdict" in runs.columns:  # what the generator learned, beside its cost
        table = table.join(health_table(runs[runs["variant"].isin(shared)])[["learned", "one_step_cosine",
                                                                           "ridge_cosine"]])
    table.loc[literal, ["delta", "ci_low", "ci_high", "verdict"]] = [0.0, 0.0, 0.0, "reference"]  # itself, exactly
    table.loc[literal, "n_seeds"] = int(runs["seed"][runs["variant"] == literal].nunique())
    table["keeps_accuracy"] = (table["ci_low"] > -tolerance) | (table.index == literal)
    return table.rename_axis("variant").sort_values("s/epoch")


def knob_sentences(table: pd.DataFrame, literal: str = "spec-literal", backbone: str = "backbone",
                   metric: str = HEADLINE, tolerance: float = ACCURACY_TOLERANCE) -> list[str]:
    """What `knob_table` says: each variant's time and accuracy against the literal integration,
    and the cheapest RF variant (not `backbone`) that keeps the accuracy."""
    reference = table.loc[literal]
    sentences = [f"Cost knobs against the spec-literal integration ({reference['overhead']:+.0%} over the backbone, "
                 f"{metric} {reference[metric]:.4f}); 'keeps accuracy' = the paired 95% interval's lower end is above "
                 f"-{tolerance}:"]
    for name, row in table.drop(index=literal).iterrows():
        kept = ("keeps accuracy" if row["keeps_accuracy"] else
                f"not shown to keep accuracy with {int(row['n_seeds'])} seeds (the interval reaches below -{tolerance})")
        learned = ("" if pd.isna(row.get("learned", float("nan"))) else
                   f"; generator learned in {int(row['learned'])} of {int(row['n_seeds'])} runs (1-step cosine "
                   f"{row['one_step_cosine']:.3f}, ridge {row['ridge_cosine']:.3f})")
        sentences.append(f"  {name}: {row['overhead']:+.0%} over the backbone, {metric} minus literal "
                         f"{describe(row)}: {kept}{learned}.")
    keeping = table[table["keeps_accuracy"] & (table.index != backbone)]
    cheapest = keeping.index[0]
    sentences.append(f"  => the cheapest RF integration that keeps the literal accuracy: {cheapest} "
                     f"({keeping.loc[cheapest, 's/epoch']:.2f} s/epoch, {keeping.loc[cheapest, 'overhead']:+.0%}).")
    return sentences
