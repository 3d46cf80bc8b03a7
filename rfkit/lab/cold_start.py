"""Notebook 07's analysis: the cold-start grid, its paired differences and the sentences they support.

A *setting* is one dataset before the cold split: a real one, or synthetic data at one feature
informativeness (whose planted factors add two ceilings). One job is one (setting, host, seed):
`cold_job` draws the seed's cold items, trains the host on the warm items and scores every
cold-item method on it (`rfkit.experiments.cold.evaluate_cold_methods`). Methods of one job share the host
and the cold split, so comparisons between methods are paired by seed
(`rfkit.stats.paired_differences`); so are comparisons across informativeness, because synthetic
data of one seed has the same interactions, hence the same cold split, at every informativeness.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from rfkit.data import Dataset, cold_start, make_synthetic
from rfkit.experiments.cold import HOSTS, evaluate_cold_methods
from rfkit.lab.health import health_sentence
from rfkit.lab.plots import plot_method_points
from rfkit.lab.verdicts import Findings, chance_clause, detectable_clause, phrase
from rfkit.metrics import cold_start_metrics
from rfkit.stats import describe, interval, paired_differences

METRICS = tuple(f"{group}_{name}@20" for group in ("cold", "warm", "all") for name in ("recall", "ndcg"))
COMPARED = ("cold_recall@20", "cold_ndcg@20", "all_recall@20", "all_ndcg@20")  # warm: same for all
RF_METHODS = ("rf_1step", "rf", "rf_mean")
MAPPERS = (*RF_METHODS, "regression")
REFERENCE = "vbpr_content"  # Cornac's VBPR, cold items scored by its content part: no host of ours
CEILINGS = ("host_ceiling", "data_ceiling")  # the planted factors: not deployable
METHODS = ("untrained", "zero", *MAPPERS, *CEILINGS, REFERENCE, "random")
NO_HOST = ("data_ceiling", REFERENCE, "random")  # scores that do not come from the job's host
BASELINES = ("untrained", "zero", "regression")  # each compared with every method but earlier baselines
PALETTE = {"untrained": "tab:gray", "zero": "black", "rf_1step": "lightskyblue", "rf": "tab:blue",
           "rf_mean": "navy", "regression": "tab:orange", "host_ceiling": "tab:green",
           "data_ceiling": "darkgreen", REFERENCE: "tab:pink", "random": "tab:red"}
KEY = "cold_recall@20"
# The columns of a paired difference that results.json keeps.
RECORD_COLUMNS = ["setting", "host", "metric", "baseline", "method", "baseline_mean", "treatment_mean", "delta",
                  "ci_low", "ci_high", "n_seeds", "detectable", "verdict"]


@dataclass(frozen=True)
class Setting:
    """A dataset before the cold split; ``informativeness`` None marks real data, and
    ``item_factors`` and ``user_factors`` (the planted factors of synthetic data) add the ceilings."""

    dataset: Dataset
    informativeness: float | None = None
    item_factors: np.ndarray | None = None
    user_factors: np.ndarray | None = None

    @property
    def label(self) -> str:
        s = self.informativeness
        return self.dataset.name if s is None else f"{self.dataset.name} s={s:g}"


def synthetic_settings(preset: str, informativeness: Sequence[float], seed: int = 0) -> list[Setting]:
    """Synthetic data at each informativeness (both modalities), interactions held fixed."""
    settings = []
    for s in informativeness:
        data = make_synthetic(preset, seed=seed, informativeness={"image": s, "text": s})
        settings.append(Setting(data.dataset, float(s), data.item_factors, data.user_factors))
    return settings


def cold_job(setting: Setting, host: str, seed: int, cold_fraction: float, config: Mapping[str, Any],
             train_options: Mapping[str, Any], generator_steps: int, samples: int = 8,
             mapper_fits: int = 1) -> list[dict[str, Any]]:
    """One (setting, host, seed) on one thread: the records of every method (test metrics of
    `METRICS`, the cold validation Recall@20, the host's best epoch and, for a mapper's methods,
    the number of fits averaged and the mapper's health)."""
    torch.set_num_threads(1)
    dataset = cold_start(setting.dataset, cold_fraction, seed=seed)
    users = None
    if setting.user_factors is not None:  # cold_start keeps the users with a warm training interaction
        train = setting.dataset.train
        users = setting.user_factors[np.unique(train.loc[~train["itemID"].isin(dataset.cold_items), "userID"])]
    table = evaluate_cold_methods(dataset, host, config, seed, train_options, setting.item_factors,
                                  generator_steps, samples, ks=(20,), user_factors=users, mapper_fits=mapper_fits)
    return [{"dataset": setting.dataset.name, "informativeness": setting.informativeness,
             "setting": setting.label, **{k: row.get(k) for k in ("host", "method", "seed", *HOST_COLUMNS)},
             **{m: row[m] for m in METRICS}, "valid_cold_recall@20": row["valid_cold_recall@20"],
             **{k: row[k] for k in MAPPER_COLUMNS}}
            for row in table.to_dict(orient="records")]


def reference_job(setting: Setting, seed: int, cold_fraction: float) -> list[dict[str, Any]]:
    """Cornac's VBPR on the same cold split as `cold_job` (`rfkit.experiments.references.vbpr_cold_scores`):
    one record without a host; `with_reference` copies it into every host's rows."""
    from rfkit.experiments.references import vbpr_cold_scores  # needs Cornac
    torch.set_num_threads(1)
    dataset = cold_start(setting.dataset, cold_fraction, seed=seed)
    scores = vbpr_cold_scores(dataset, seed)
    test, valid = (cold_start_metrics(scores, dataset, split, (20,)) for split in ("test", "valid"))
    return [{"dataset": setting.dataset.name, "informativeness": setting.informativeness, "setting": setting.label,
             "method": REFERENCE, "seed": seed, **{m: test[m] for m in METRICS},
             "valid_cold_recall@20": valid["cold_recall@20"]}]


def with_reference(table: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """``table`` plus the reference's records, one copy for every host run on that setting and seed,
    so that it pairs with each host's methods seed by seed."""
    hosts = table[["setting", "seed", "host"]].drop_duplicates()
    return pd.concat([table, reference.merge(hosts, on=["setting", "seed"])], ignore_index=True)


HOST_COLUMNS = ("best_epoch", "cold_id_rms", "warm_id_rms", "untrained_minus_zero")
MAPPER_COLUMNS = ("mapper_fits", "generator", "rf_steps_taken", "health_verdict", "health_one_step_cosine",
                  "health_ridge_cosine", "health_noise_cosine", "health_sampled_cosine")


def cold_jobs(settings: Sequence[Setting], hosts: Sequence[str], seeds: Sequence[int],
              **common: Any) -> list[dict[str, Any]]:
    """Keyword arguments of `cold_job` for every setting, host and seed (``common``: the rest)."""
    unknown = [h for h in hosts if h not in HOSTS]
    if unknown or not hosts:
        raise ValueError(f"hosts must be a non-empty selection of {HOSTS}, got {list(hosts)}")
    if not settings or not seeds:
        raise ValueError("settings and seeds must not be empty")
    return [dict(setting=setting, host=host, seed=seed, **common)
            for setting in settings for host in hosts for seed in seeds]


def _frame(table: pd.DataFrame | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(table)
    missing = {"setting", "informativeness", "host", "method", "seed", *METRICS} - set(frame.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}")
    return frame


def warm_identical(table: pd.DataFrame | Sequence[Mapping[str, Any]]) -> bool:
    """Whether every method of the host (not random, not the reference) has the same warm metrics
    within each (setting, host, seed): the methods only replace cold rows, and warm candidates
    never see them."""
    frame = _frame(table)
    hosted = frame[~frame["method"].isin(NO_HOST)]
    spread = hosted.groupby(["setting", "host", "seed"])[["warm_recall@20", "warm_ndcg@20"]].agg(np.ptp)
    return bool((spread.to_numpy() == 0).all())


def method_summary(table: pd.DataFrame | Sequence[Mapping[str, Any]], metric: str = KEY) -> pd.DataFrame:
    """Mean of ``metric`` over seeds per (setting, host, method) with its 95% t-interval
    (descriptive: comparisons go through `comparisons`)."""
    frame = _frame(table)
    rows = []
    for (setting, host, method), group in frame.groupby(["setting", "host", "method"], sort=False):
        spread = interval(group[metric].to_numpy())
        rows.append({"setting": setting, "host": host, "method": method, "mean": spread["delta"],
                     "ci_low": spread["ci_low"], "ci_high": spread["ci_high"], "n_seeds": spread["n_seeds"]})
    return pd.DataFrame(rows)


def comparisons(table: pd.DataFrame | Sequence[Mapping[str, Any]],
                metrics: Sequence[str] = COMPARED) -> pd.DataFrame:
    """Paired differences (per setting and host) of every method minus each baseline of
    `BASELINES` (untrained, then zero, then regression; a method is not compared with an earlier
    baseline again), for each metric: columns setting, host, metric, baseline, method and those of
    `rfkit.stats.paired_differences`. Each pair of methods appears once."""
    frame = _frame(table)
    parts = []
    for host, rows in frame.groupby("host", sort=False):
        present = [m for m in METHODS if m in set(rows["method"])]
        for i, baseline in enumerate(BASELINES):
            if baseline not in present:
                continue
            treatments = [m for m in present if m != baseline and m not in BASELINES[:i]]
            for metric in metrics:
                diff = paired_differences(rows, metric, baseline, treatments, by=["setting"], variant="method")
                parts.append(diff.assign(host=host, metric=metric, baseline=baseline))
    columns = ["setting", "host", "metric", "baseline", "method"]
    out = pd.concat(parts, ignore_index=True)
    return out[columns + [c for c in out.columns if c not in columns]]


def against(diffs: pd.DataFrame, baseline: str, metric: str = KEY) -> pd.DataFrame:
    """Every method minus ``baseline`` on ``metric`` from `comparisons` rows, which hold each pair
    once: a pair stored the other way round (baseline minus method) is negated, its interval
    mirrored and its verdict swapped."""
    rows = diffs[diffs["metric"] == metric]
    direct = rows[rows["baseline"] == baseline]
    mirrored = rows[rows["method"] == baseline].copy()
    mirrored["method"], mirrored["baseline"] = mirrored["baseline"], baseline
    mirrored["baseline_mean"], mirrored["treatment_mean"] = mirrored["treatment_mean"], mirrored["baseline_mean"]
    mirrored["delta"], mirrored["ci_low"], mirrored["ci_high"] = (-mirrored["delta"], -mirrored["ci_high"],
                                                                  -mirrored["ci_low"])
    mirrored["verdict"] = mirrored["verdict"].replace({"better": "worse", "worse": "better"})
    return pd.concat([mirrored, direct], ignore_index=True)[list(diffs.columns)]


def informativeness_differences(table: pd.DataFrame | Sequence[Mapping[str, Any]],
                                metric: str = KEY) -> pd.DataFrame:
    """Each method's ``metric`` at the highest minus the lowest informativeness, per host and
    dataset, paired by seed (empty when no dataset has two informativeness values)."""
    frame = _frame(table)
    synthetic = frame[frame["informativeness"].notna()].astype({"informativeness": float})
    parts = []
    for dataset, rows in synthetic.groupby("dataset", sort=False):
        values = sorted(rows["informativeness"].unique())
        if len(values) < 2:
            continue
        diff = paired_differences(rows, metric, values[0], [values[-1]], by=["host", "method"],
                                  variant="informativeness")
        parts.append(diff.rename(columns={"informativeness": "high"}).assign(dataset=dataset, low=values[0]))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


SIZED_PAIR = ("regression", "rf_mean")  # the study is sized on this difference (baseline, method)


def sizing(diffs: pd.DataFrame) -> pd.DataFrame:
    """Per setting and host, the smallest difference in cold Recall@20 that the study could detect
    between `SIZED_PAIR` (80% power, 95% confidence, from the paired spread over seeds), from
    `comparisons` rows: columns setting, host, n_seeds, delta_std, detectable."""
    baseline, method = SIZED_PAIR
    rows = diffs[(diffs["metric"] == KEY) & (diffs["baseline"] == baseline) & (diffs["method"] == method)]
    return rows[["setting", "host", "n_seeds", "delta_std", "detectable"]].reset_index(drop=True)


def _sizing_sentence(row: Mapping[str, Any], where: str) -> str:
    baseline, method = SIZED_PAIR
    return (f"{where}: the study can detect a difference of {row['detectable']:.4f} or more in cold Recall@20 "
            f"between {method} and {baseline} (80% power, 95% confidence; paired spread "
            f"{row['delta_std']:.4f} over {row['n_seeds']} seeds).")


def _listing(rows: pd.DataFrame) -> str:
    return "; ".join(f"{r['method']} {describe(r)}" for r in rows.to_dict(orient="records"))


def _rf_versus_regression(rows: pd.DataFrame) -> str:
    better, worse = rows[rows["verdict"] == "better"], rows[rows["verdict"] == "worse"]
    if len(better):
        head = f"RF beats regression on cold items ({', '.join(better['method'])} beyond noise)"
    elif len(worse) == len(rows):
        head = "regression beats every RF variant on cold items"
    else:
        head = "RF does not beat regression on cold items"
    return f"{head}: {_listing(rows)}."


def rf_versus_regression_sentence(diffs: pd.DataFrame, setting: str, host: str) -> str:
    """The answer of one (setting, host) cell to the notebook's question, from `comparisons` rows:
    does any RF variant beat regression on cold Recall@20?"""
    rows = diffs[(diffs["setting"] == setting) & (diffs["host"] == host) & (diffs["metric"] == KEY)
                 & (diffs["baseline"] == "regression") & diffs["method"].isin(RF_METHODS)]
    return f"{setting}, {host} host: {_rf_versus_regression(rows)}"


def _content_branch_sentence(rows: pd.DataFrame, where: str) -> str:
    """Why a content-to-ID mapper has little to add in a host with a content branch, from the
    host's own numbers (`rfkit.experiments.cold.id_row_sizes`, ``untrained_minus_zero``)."""
    host = rows.drop_duplicates("seed")
    gap = host["untrained_minus_zero"].abs().max()
    return (f"{where}: a cold item's propagated ID row never received a gradient: its RMS per coordinate is "
            f"{host['cold_id_rms'].mean():.4f} against the warm rows' {host['warm_id_rms'].mean():.4f}, so "
            f"leaving it untrained scores like the zero row (largest per-seed difference in cold Recall@20 "
            f"{gap:.4f}) and the content branch alone, which this host adds to every item, is its baseline. A "
            f"content-to-ID mapper reads the same content rows, so it can only re-weight what the branch "
            f"already adds.")


def _setting_sentences(frame: pd.DataFrame, diffs: pd.DataFrame, setting: str, host: str) -> list[str]:
    rows = frame[(frame["setting"] == setting) & (frame["host"] == host)]
    means = rows.groupby("method", sort=False)[KEY].mean()
    n_seeds = rows["seed"].nunique()
    where = f"{setting}, {host} host"
    out = [f"{where}: mean cold Recall@20 over {n_seeds} seeds: "
           + ", ".join(f"{m} {means[m]:.4f}" for m in METHODS if m in means) + "."]
    key = diffs[(diffs["setting"] == setting) & (diffs["host"] == host) & (diffs["metric"] == KEY)]
    baseline = "zero" if "zero" in means else "untrained"  # the host's own cold row
    versus = key[(key["baseline"] == baseline) & key["method"].isin(["regression", "rf"])]
    out.append(f"{where}: content mappers vs the {baseline} cold row, cold Recall@20: {_listing(versus)}.")
    if "zero" in means:
        out.append(_content_branch_sentence(rows, where))
    out.append(rf_versus_regression_sentence(diffs, setting, host))
    sized = sizing(diffs[(diffs["setting"] == setting) & (diffs["host"] == host)])
    if len(sized):
        out.append(_sizing_sentence(sized.iloc[0], where))
    if REFERENCE in means:
        row = key[(key["baseline"] == "regression") & (key["method"] == REFERENCE)].iloc[0]
        out.append(f"{where}: Cornac's VBPR scoring cold items by its content part alone (a reference "
                   f"trained outside this host) minus regression: {describe(row)}.")
    # what a user can deploy with this host: no random scores, no planted factors (synthetic
    # data's hidden truth), no model other than the host
    deployable = rows[~rows["method"].isin([*CEILINGS, *NO_HOST])]
    valid = deployable.groupby("method", sort=False)["valid_cold_recall@20"].mean()
    if "zero" in means:
        best = valid[list(MAPPERS)].idxmax()  # chosen on the validation half, not on the test numbers
        row = key[(key["baseline"] == "zero") & (key["method"] == best)].iloc[0]
        adds = phrase(row["verdict"], "adds to", "hurts", "does not add beyond noise to",
                      "is not judged (one seed) against")
        out.append(f"{where}: the mapper the cold validation half prefers ({best}) {adds} the content branch "
                   f"alone (zero cold ID row): {describe(row)}.")
    if "host_ceiling" in means:
        row = key[(key["baseline"] == "regression") & (key["method"] == "host_ceiling")].iloc[0]
        data = (f"the data's ceiling (cold items ranked by the planted user x item factors) "
                f"{means['data_ceiling']:.4f}, " if "data_ceiling" in means else "")
        out.append(f"{where}: the ceilings: {data}the host's ceiling (the planted item factors mapped into its ID "
                   f"space) {means['host_ceiling']:.4f}; regression {means['regression']:.4f}; host's ceiling minus "
                   f"regression: {describe(row)}.")
    chosen = valid.idxmax()
    out.append(f"{where}: among the deployable methods the cold validation half picks {chosen} (valid cold "
               f"Recall@20 {valid[chosen]:.4f}); its test cold Recall@20 is {means[chosen]:.4f}.")
    return out


def conclusions(table: pd.DataFrame | Sequence[Mapping[str, Any]]) -> Findings:
    """The sentences the cold-start grid supports, computed from its records: per setting and host
    the methods' means, mappers vs the host's own cold row (why the content branch is the multimodal
    host's baseline), RF vs regression (the honest answer when RF loses), the smallest difference
    the study could detect (`sizing`), the mapper preferred on the validation half vs the content
    branch (multimodal host), the two ceilings and the validation half's choice among the
    deployable methods; then the informativeness trend, a count over the grid and how many
    verdicts would exceed noise by chance. With the mappers' health columns, the
    first sentence says whether the flow and the regression mapper learned their warm items (1-step
    cosine against the ridge fit's). The numbers: the paired ``differences``, the
    ``informativeness_differences``, the ``sizing``, ``warm_identical`` and ``n_verdicts``."""
    frame = _frame(table)
    diffs = comparisons(frame)
    mappers = frame[frame["method"].isin(["rf", "regression"])] if "health_verdict" in frame else frame.iloc[:0]
    out = [health_sentence(mappers, by="method")] if len(mappers) else []
    cells = list(dict.fromkeys(zip(frame["setting"], frame["host"])))
    for setting, host in cells:
        out += _setting_sentences(frame, diffs, setting, host)
    trend = informativeness_differences(frame)
    for row in trend[trend["method"].isin(["regression", "rf"])].to_dict(orient="records") if len(trend) else []:
        out.append(f"{row['dataset']}, {row['host']} host: {row['method']}'s cold Recall@20 goes from "
                   f"{row['baseline_mean']:.4f} at s={row['low']:g} to {row['treatment_mean']:.4f} at "
                   f"s={row['high']:g}: {describe(row)}.")
    rf = diffs[(diffs["metric"] == KEY) & (diffs["baseline"] == "regression") & diffs["method"].isin(RF_METHODS)]
    counts = []
    for m, g in rf.groupby("method", sort=False):
        power = detectable_clause(g)
        counts.append(f"{m}: better in {(g['verdict'] == 'better').sum()}, worse in {(g['verdict'] == 'worse').sum()}, "
                      f"within noise in {(~g['beyond_noise']).sum()}" + (f" ({power})" if power else ""))
    out.append(f"Over the {len(cells)} setting x host cells, RF vs regression on cold Recall@20: "
               + "; ".join(counts) + ".")
    n = len(diffs) + len(trend)
    out.append(f"These tables hold {n} paired verdicts: {chance_clause(n)}, so read a lone 'better' or 'worse' "
               "with care.")
    return Findings(out, {"differences": diffs[RECORD_COLUMNS], "informativeness_differences": trend,
                          "sizing": sizing(diffs), "warm_identical": warm_identical(frame), "n_verdicts": n})


def cold_grid_figure(summary: pd.DataFrame, settings: Sequence[Sequence[str]], hosts: Sequence[str],
                     ylabel: str, zero_line: bool = False) -> Figure:
    """One row per host, one panel per group of settings (e.g. [real], [synthetic s=0, ...]):
    the methods' ``mean`` (or ``delta``) with ``ci_low``..``ci_high`` against the setting."""
    value = "delta" if "delta" in summary.columns else "mean"
    widths = [max(len(group), 1) + 1 for group in settings]
    fig, axes = plt.subplots(len(hosts), len(settings), figsize=(3.2 * sum(widths) / 2 + 2, 3.6 * len(hosts)),
                             squeeze=False, gridspec_kw={"width_ratios": widths})
    for row, host in zip(axes, hosts):
        panels = [summary[(summary["host"] == host) & summary["setting"].isin(group)] for group in settings]
        last = max(i for i, rows in enumerate(panels) if len(rows)) if any(len(r) for r in panels) else -1
        for i, (ax, group, rows) in enumerate(zip(row, settings, panels)):
            if rows.empty:  # e.g. a host not run on synthetic data
                ax.set_axis_off()
                ax.set_title(f"{host} host: not run here")
                continue
            order = [m for m in METHODS if m in set(rows["method"])]
            plot_method_points(rows, ax, x="setting", hue="method", value=value, order=list(group),
                               hue_order=order, palette=PALETTE, zero_line=zero_line,
                               legend=i == last, title=f"{host} host")
            ax.set_ylabel(ylabel if ax is row[0] else "")
    fig.tight_layout()
    return fig
