"""One rule for "A differs from B beyond noise": paired differences over seeds, 95% t-interval.

Two variants trained with the same seed share their initialisation, their BPR batches and their
split, so the per-seed difference isolates the change. Its mean over seeds comes with a Student-t
confidence interval; the difference is *beyond noise* when the interval excludes zero. With many
such verdicts, about ``(1 - level) * n`` of them exceed noise by chance alone: `chance_exceedances`
says how many, and notebooks print it next to their verdicts. A "within noise" verdict also
carries the smallest difference the comparison could have detected (`detectable_effect`: 80%
power at the same level), so a reader can tell "no effect" from "too few seeds".
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

LEVEL = 0.95
POWER = 0.8
VERDICTS = ("better", "worse", "within noise", "one seed")


def interval(differences: Sequence[float], level: float = LEVEL) -> dict[str, float]:
    """Mean of paired differences, its `level` t-interval (NaN bounds below 2 values) and n."""
    values = np.asarray(differences, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"differences must be a non-empty 1-D sequence, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("differences contain NaN or Inf")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    mean, n = float(values.mean()), len(values)
    if n < 2:
        return {"delta": mean, "delta_std": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
                "n_seeds": n, "detectable": float("nan")}
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / np.sqrt(n)
    return {"delta": mean, "delta_std": std, "ci_low": mean - half, "ci_high": mean + half, "n_seeds": n,
            "detectable": detectable_effect(std, n, level)}


def detectable_effect(std: float, n: int, level: float = LEVEL, power: float = POWER) -> float:
    """The smallest true mean difference that a two-sided paired t-test on `n` differences with
    standard deviation `std` detects with probability `power` at confidence `level`.

    Exact for normal differences: the test statistic follows a noncentral t with n - 1 degrees
    of freedom and noncentrality effect * sqrt(n) / std. 0 when `std` is 0; NaN below 2 values.

    Example:
        >>> round(detectable_effect(0.01, 5), 4)  # five seeds, paired spread 0.01
        0.0159
    """
    if n < 2 or not np.isfinite(std):
        return float("nan")
    if std < 0 or not 0 < power < 1:
        raise ValueError(f"std must be >= 0 and power in (0, 1), got std={std}, power={power}")
    if std == 0:
        return 0.0
    df, critical = n - 1, float(stats.t.ppf(0.5 + level / 2, n - 1))

    def shortfall(noncentrality: float) -> float:
        # the far tail is negligible, and scipy's nct returns NaN for it at large noncentrality
        far = float(np.nan_to_num(stats.nct.cdf(-critical, df, noncentrality)))
        return float(stats.nct.sf(critical, df, noncentrality)) + far - power

    high = critical + 4.0  # power(high) > 0.8 except for a handful of values; widen until it is
    while shortfall(high) < 0:
        high *= 2
    noncentrality = optimize.brentq(shortfall, 0.0, high)
    return noncentrality * std / np.sqrt(n)


def verdict(ci_low: float, ci_high: float, higher_is_better: bool = True) -> str:
    """"better" / "worse" when the interval excludes 0, else "within noise"; "one seed" without one."""
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return "one seed"
    if ci_low > 0:
        return "better" if higher_is_better else "worse"
    if ci_high < 0:
        return "worse" if higher_is_better else "better"
    return "within noise"


def paired_differences(table: pd.DataFrame, metric: str, baseline: str, treatments: Sequence[str] | None = None,
                       by: Sequence[str] = (), variant: str = "variant", seed: str = "seed",
                       level: float = LEVEL, higher_is_better: bool = True) -> pd.DataFrame:
    """Treatment minus baseline of `metric`, paired by seed, per group of `by` columns.

    One row per (group, treatment): ``baseline_mean``, ``treatment_mean``, ``delta`` (mean of the
    per-seed differences), ``delta_std``, ``ci_low`` / ``ci_high`` (the `level` t-interval),
    ``n_seeds``, ``detectable`` (`detectable_effect`), ``relative`` (delta / baseline mean),
    ``beyond_noise`` and ``verdict``. Only
    seeds run with both variants count; rows whose metric is missing (e.g. a failed run) are left out.
    """
    by = list(by)
    missing = {metric, variant, seed, *by} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}")
    names = list(dict.fromkeys(table[variant]))
    if baseline not in names:
        raise ValueError(f"baseline {baseline!r} is not a value of column {variant!r} (values: {names})")
    treatments = [n for n in names if n != baseline] if treatments is None else list(treatments)
    unknown = [t for t in treatments if t not in names]
    if unknown or not treatments:
        raise ValueError(f"treatments must be values of column {variant!r} other than the baseline, got {treatments}")
    wide = table.dropna(subset=[metric]).pivot_table(index=[*by, seed], columns=variant, values=metric,
                                                     aggfunc="first", sort=False)
    rows = []
    for treatment in treatments:
        pairs = wide[[baseline, treatment]].dropna() if treatment in wide and baseline in wide else pd.DataFrame()
        if pairs.empty:
            raise ValueError(f"no seed has both {baseline!r} and {treatment!r} with a value of {metric!r}")
        groups = pairs.groupby(level=by, sort=False) if by else [((), pairs)]
        for key, group in groups:
            key = key if isinstance(key, tuple) else (key,)
            result = interval(group[treatment] - group[baseline], level)
            base = float(group[baseline].mean())
            rows.append({**dict(zip(by, key)), variant: treatment, "baseline_mean": base,
                         "treatment_mean": float(group[treatment].mean()), **result,
                         "relative": result["delta"] / base if base else float("nan"),
                         "verdict": verdict(result["ci_low"], result["ci_high"], higher_is_better)})
    out = pd.DataFrame(rows)
    out["beyond_noise"] = out["verdict"].isin(["better", "worse"])
    return out


def chance_exceedances(n_comparisons: int, level: float = LEVEL) -> float:
    """How many of `n_comparisons` verdicts with no real effect exceed noise by chance: (1 - level) * n."""
    if n_comparisons < 0:
        raise ValueError(f"n_comparisons must be >= 0, got {n_comparisons}")
    return (1 - level) * n_comparisons


def describe(row: pd.Series | dict, digits: int = 4) -> str:
    """"+0.0123 [+0.0040, +0.0206] (better)": a difference, its interval and verdict, for prose; a
    "within noise" one adds what it could have detected (`detectable_effect`)."""
    if row["verdict"] == "one seed":
        return f"{row['delta']:+.{digits}f} (one seed, no interval)"
    text = f"{row['delta']:+.{digits}f} [{row['ci_low']:+.{digits}f}, {row['ci_high']:+.{digits}f}] ({row['verdict']}"
    detectable = row.get("detectable", float("nan"))
    if row["verdict"] == "within noise" and np.isfinite(detectable):
        text += f"; could have detected differences of {detectable:.{digits}f} or more"
    return text + ")"


def mean_and_spread(table: pd.DataFrame, by: str | Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each metric, one row per group (descriptive only:
    comparisons between variants go through `paired_differences`)."""
    summary = table.groupby(by, sort=False)[list(metrics)].agg(["mean", "std"])
    summary.columns = [f"{metric} {stat}" for metric, stat in summary.columns]
    return summary
