"""Plotting helpers for the notebooks: one function per kind of plot, each drawing on a given `ax`.

Taking the axes (rather than making a figure) lets a notebook lay out panels side by side and
save the figure through its RunRecord.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullFormatter
from torch import Tensor


def plot_paths(trajectory: Tensor, ax: Axes, n_paths: int | None = 200, color: str = "tab:blue",
               alpha: float = 0.35, show_ends: bool = True, title: str | None = None) -> Axes:
    """2-D paths from a trajectory of shape (n_points, rows, 2): one line per row.

    Use the states of an ODE solve (`generate(..., return_trajectory=True)`) for learned paths,
    or `torch.stack([x0, x1])` for straight interpolation lines. With `show_ends`, start points
    are drawn grey and end points in `color` (as scatter markers, not lines). `n_paths` caps how
    many rows are drawn (the first ones), so the picture stays readable.
    """
    if trajectory.ndim != 3 or trajectory.shape[-1] != 2:
        raise ValueError(f"trajectory must have shape (n_points, rows, 2), got {tuple(trajectory.shape)}")
    paths = trajectory[:, :n_paths].detach().cpu().numpy()
    ax.plot(paths[:, :, 0], paths[:, :, 1], color=color, alpha=alpha, lw=0.8)
    if show_ends:
        ax.scatter(paths[0, :, 0], paths[0, :, 1], s=4, color="0.55", zorder=3, label="noise (t=0)")
        ax.scatter(paths[-1, :, 0], paths[-1, :, 1], s=4, color=color, zorder=3, label="end (t=1)")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def plot_samples(points: Tensor, ax: Axes, color: str = "tab:blue", label: str | None = None,
                 title: str | None = None) -> Axes:
    """A 2-D point cloud (rows x 2) as small dots, e.g. generated samples over target samples."""
    xy = points.detach().cpu().numpy()
    ax.scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.5, color=color, label=label)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def plot_step_curves(curves: Mapping[str, Mapping[int, float]], ax: Axes, floor: float | None = None,
                     ylabel: str = "distance to target", colors: Mapping[str, str] | None = None) -> Axes:
    """One line per named curve of value vs. number of ODE steps (log x axis).

    `floor`, if given, is drawn as a dashed horizontal line: the value two independent samples
    of the target itself reach, below which no generator can be told apart from the data.
    `colors` maps curve names to colours, to match other figures; unnamed curves use the cycle.
    """
    for name, values in curves.items():
        steps = sorted(values)
        ax.plot(steps, [values[s] for s in steps], marker="o", label=name, color=(colors or {}).get(name))
    if floor is not None:
        ax.axhline(floor, color="0.4", ls="--", lw=1, label="target vs. target")
    ax.set_xscale("log")
    ticks = sorted({s for values in curves.values() for s in values})
    ax.set_xticks(ticks, [str(s) for s in ticks])
    ax.minorticks_off()
    ax.set_xlabel("Euler steps")
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax


def plot_grid_heatmap(table: pd.DataFrame, ax: Axes, title: str | None = None, fmt: str = ".3f",
                      best: tuple | None = None, cmap: str = "viridis", cbar_label: str | None = None) -> Axes:
    """An annotated heatmap of a 2-D grid of numbers (rows x columns, e.g. a pivot table).

    Axis labels come from the index and column names. `best`, a (row label, column label)
    pair, is outlined in red: e.g. the cell chosen on validation.
    """
    if table.empty:
        raise ValueError("table is empty: nothing to draw")
    sns.heatmap(table, annot=True, fmt=fmt, cmap=cmap, ax=ax, linewidths=0.5,
                cbar_kws={"label": cbar_label} if cbar_label else None)
    ax.set_xlabel(table.columns.name or "")
    ax.set_ylabel(table.index.name or "")
    ax.tick_params(axis="y", rotation=0)
    if best is not None:
        row, col = table.index.get_loc(best[0]), table.columns.get_loc(best[1])
        ax.add_patch(Rectangle((col, row), 1, 1, fill=False, edgecolor="red", lw=2.5))
    if title:
        ax.set_title(title)
    return ax


def plot_metric_bars(values: Mapping[str, Mapping[str, float]], ax: Axes, fmt: str = "%.3f",
                     ylabel: str = "metric value") -> Axes:
    """Grouped bars: one group per metric, one bar per named setting (e.g. backbone vs. RF)."""
    if not values:
        raise ValueError("values is empty: nothing to draw")
    long = pd.DataFrame(values).rename_axis("metric").reset_index().melt(
        id_vars="metric", var_name="setting", value_name="value")
    sns.barplot(long, x="metric", y="value", hue="setting", ax=ax)
    for bars in ax.containers:
        ax.bar_label(bars, fmt=fmt, fontsize=8)
    ax.set(xlabel="", ylabel=ylabel)
    ax.legend(fontsize=8)
    return ax


def plot_bucket_bars(table: pd.DataFrame, ax: Axes, metric: str, hue: str = "variant",
                     order: Sequence[str] = ("head", "mid", "tail"),
                     palette: Mapping[str, str] | None = None, title: str | None = None,
                     legend: bool = True) -> Axes:
    """Grouped bars from a tidy table with one row per run: one group per popularity bucket
    (column ``bucket``), one bar per ``hue`` value; bar = mean over runs, error bar = their std.
    Buckets of very different scales read better one per axes (``order=[bucket]``)."""
    rows = table[table["bucket"].isin(order)]
    if rows.empty:
        raise ValueError(f"table has no rows for the buckets {list(order)}")
    sns.barplot(rows, x="bucket", y=metric, hue=hue, order=list(order), errorbar="sd", capsize=0.15,
                err_kws={"linewidth": 1.2}, palette=palette, ax=ax)
    ax.set(xlabel="item popularity bucket", ylabel=metric)
    if legend:
        ax.set_ylim(top=ax.get_ylim()[1] * 1.2)  # headroom for the legend above the bars
        ax.legend(loc="upper center", ncol=rows[hue].nunique(), fontsize=8)
    else:
        ax.get_legend().remove()
    if title:
        ax.set_title(title)
    return ax


def plot_delta_lines(deltas: pd.DataFrame, ax: Axes, x: str, hue: str = "bucket",
                     palette: Mapping[str, str] | None = None,
                     ylabel: str = "treatment - baseline", title: str | None = None,
                     dodge: float = 0.015) -> Axes:
    """One line per ``hue`` value of the paired difference ``delta`` against ``x``, with its 95%
    interval (``ci_low`` .. ``ci_high``) as error bars, and a dashed zero line: above it the
    treatment wins; a bar that crosses it is within noise. E.g. `rfkit.stats.paired_differences`
    output. Lines are shifted sideways by ``dodge`` (a share of the x range) each, so their error
    bars stay apart."""
    if deltas.empty:
        raise ValueError("deltas is empty: nothing to draw")
    groups = list(deltas.groupby(hue, sort=False))
    span = float(deltas[x].max() - deltas[x].min()) or 1.0
    for i, (name, group) in enumerate(groups):
        group = group.sort_values(x)
        shift = dodge * span * (i - (len(groups) - 1) / 2)  # side by side, so error bars don't overlap
        errors = [(group["delta"] - group["ci_low"]).fillna(0), (group["ci_high"] - group["delta"]).fillna(0)]
        ax.errorbar(group[x] + shift, group["delta"], yerr=errors, marker="o", capsize=4,
                    label=str(name), color=(palette or {}).get(name))
    ax.axhline(0.0, color="0.4", ls="--", lw=1)
    ax.set(xlabel=x, ylabel=ylabel)
    ax.legend(title=hue, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title)
    return ax


def plot_popularity_curve(item_popularity, labels, ax: Axes, palette: Mapping[str, str] | None = None,
                          title: str | None = None) -> Axes:
    """Items' training degree against their popularity rank (log y), shaded by bucket label:
    the long tail at a glance. ``labels`` is each item's bucket (`rfkit.metrics.popularity_buckets`)."""
    frame = pd.DataFrame({"degree": item_popularity, "bucket": labels})
    if frame.empty:
        raise ValueError("item_popularity is empty: nothing to draw")
    frame = frame.sort_values("degree", ascending=False, kind="stable").reset_index(drop=True)
    for name, group in frame.groupby("bucket", sort=False):
        ax.fill_between(group.index, group["degree"].clip(lower=0.5), 0.5, step="post", alpha=0.6,
                        label=f"{name} ({len(group)} items)", color=(palette or {}).get(name))
    ax.plot(frame.index, frame["degree"].clip(lower=0.5), color="0.2", lw=1, drawstyle="steps-post")
    ax.set_yscale("log")
    ax.set(xlabel="item popularity rank (0 = most interacted)", ylabel="training interactions")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_epoch_curves(epochs: pd.DataFrame, ax: Axes, y: str, hue: str = "variant",
                      warmups: Mapping[str, int] | None = None,
                      palette: Mapping[str, str] | None = None, title: str | None = None,
                      ylabel: str | None = None) -> Axes:
    """Per-epoch curves of column `y` from a tidy history (columns ``epoch``, `hue`, `y`; e.g.
    `rfkit.lab.histories.Histories.epochs`): one line per `hue` value, the mean over its runs with a
    ±std band where there are several. Rows where `y` is NaN (e.g. rf_loss without RF) are skipped.

    `warmups` maps `hue` values to their warmup length W: a dashed line in that curve's colour at
    x = W - 0.5, between the last warmup epoch (W - 1) and the first epoch that mixes (W).
    """
    missing = {"epoch", hue, y} - set(epochs.columns)
    if missing:
        raise ValueError(f"epochs lacks column(s) {sorted(missing)}")
    rows = epochs.dropna(subset=[y])
    if rows.empty:
        raise ValueError(f"no finite values of {y!r} to draw")
    levels = list(dict.fromkeys(rows[hue]))
    colors = dict(zip(levels, sns.color_palette(n_colors=len(levels))))
    colors.update(palette or {})
    sns.lineplot(rows, x="epoch", y=y, hue=hue, hue_order=levels, palette=colors, errorbar="sd",
                 marker="o", markersize=4, ax=ax)
    for name, warmup in (warmups or {}).items():
        if warmup > 0:
            ax.axvline(warmup - 0.5, color=colors.get(name, "0.4"), ls="--", lw=1.2,
                       label=f"warmup ends ({name})")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set(xlabel="epoch", ylabel=ylabel or y)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_cloud(points, ax: Axes, values=None, value_label: str | None = None, cmap: str = "viridis",
               title: str | None = None, size: float = 5) -> Axes:
    """A 2-D point cloud (rows x 2) coloured by one value per row (e.g. log item popularity),
    with a colour bar when `values` is given."""
    xy = points.detach().cpu().numpy() if isinstance(points, Tensor) else points
    dots = ax.scatter(xy[:, 0], xy[:, 1], s=size, c=values, cmap=cmap, alpha=0.8)
    if values is not None:
        ax.figure.colorbar(dots, ax=ax, label=value_label)
    if title:
        ax.set_title(title)
    return ax


def plot_colored_paths(paths, values, ax: Axes, n_paths: int = 150, cmap: str = "viridis",
                       value_label: str | None = None, title: str | None = None) -> Axes:
    """2-D paths (n_points x rows x 2, e.g. a projected ODE trajectory), each line coloured by its
    row's value; start points grey, end points coloured. The first `n_paths` rows are drawn."""
    xy = paths[:, :n_paths]
    lines = LineCollection(list(xy.transpose(1, 0, 2)), array=values[:n_paths], cmap=cmap,
                           linewidths=0.8, alpha=0.6)
    ax.add_collection(lines)
    ax.scatter(xy[0, :, 0], xy[0, :, 1], s=5, color="0.6", label="noise (t=0)", zorder=3)
    ax.scatter(xy[-1, :, 0], xy[-1, :, 1], s=8, c=values[:n_paths], cmap=cmap, edgecolors="k",
               linewidths=0.3, label="generated (t=1)", zorder=4)
    ax.autoscale_view()
    ax.figure.colorbar(lines, ax=ax, label=value_label)
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_solver_curves(table: pd.DataFrame, ax: Axes, x: str, y: str, hue: str = "solver",
                       logx: bool = True, logy: bool = False, annotate: str | None = None,
                       xlabel: str | None = None, ylabel: str | None = None,
                       title: str | None = None) -> Axes:
    """One line per `hue` value (e.g. ODE solver) of `y` against `x` (e.g. endpoint error against
    steps, or NDCG against generation seconds): the mean over rows sharing (hue, x), with ±std
    error bars where there are several (seeds). `annotate` names a column whose value labels each point
    (e.g. ``n_steps`` on a quality-vs-time plot)."""
    missing = {x, y, hue, *([annotate] if annotate else [])} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}")
    sns.lineplot(table, x=x, y=y, hue=hue, errorbar="sd", err_style="bars", marker="o", ax=ax,
                 err_kws={"capsize": 3})
    if annotate:
        points = table.assign(_label=table[annotate]).groupby([hue, "_label"], sort=False)[[x, y]].mean()
        for (_, label), (px, py) in points.iterrows():
            ax.annotate(str(label), (px, py), textcoords="offset points", xytext=(3, 3), fontsize=7, color="0.3")
    if logx:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on short decades
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel or x, ylabel=ylabel or y)
    if title:
        ax.set_title(title)
    return ax


def plot_ratio_curve(curve: pd.DataFrame, ax: Axes, metric: str = "ndcg@20", title: str | None = None) -> Axes:
    """Validation and test `metric` of one trained model against its inference mix ratio
    (`rfkit.experiments.sweep.score_at_ratios` output), each with a dashed line at its ratio-0 value: the
    backbone alone, the reference every ratio is compared with."""
    columns = [f"{split}_{metric}" for split in ("valid", "test")]
    missing = {"inference_mix_ratio", *columns} - set(curve.columns)
    if missing:
        raise ValueError(f"curve lacks column(s) {sorted(missing)}")
    if 0.0 not in set(curve["inference_mix_ratio"]):
        raise ValueError("curve has no inference ratio 0: the backbone reference is missing")
    curve = curve.sort_values("inference_mix_ratio")
    backbone = curve.set_index("inference_mix_ratio").loc[0.0]
    for column, color in zip(columns, sns.color_palette(n_colors=2)):
        split = column.split("_")[0]
        ax.plot(curve["inference_mix_ratio"], curve[column], marker="o", color=color, label=split)
        ax.axhline(backbone[column], color=color, ls="--", lw=1, label=f"{split}, backbone alone")
    ax.set(xlabel="inference mix ratio (0 = backbone alone)", ylabel=metric)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


VERDICT_COLORS = {"better": "tab:green", "worse": "tab:red", "within noise": "0.45", "one seed": "0.7"}


def plot_paired_differences(differences: pd.DataFrame, ax: Axes, labels: Sequence[str] = ("metric",),
                            xlabel: str = "treatment - baseline (95% interval)", title: str | None = None) -> Axes:
    """One row per paired difference (e.g. `rfkit.stats.paired_differences` output): ``delta`` as a
    dot with its ``ci_low`` .. ``ci_high`` interval, coloured by ``verdict``, against a dashed zero
    line; an interval that crosses it is within noise. Rows are labelled by the `labels` columns
    and drawn top to bottom in table order; the x axis is symmetric about zero."""
    missing = {"delta", "ci_low", "ci_high", "verdict", *labels} - set(differences.columns)
    if missing:
        raise ValueError(f"differences lacks column(s) {sorted(missing)}")
    if differences.empty:
        raise ValueError("differences is empty: nothing to draw")
    y = list(range(len(differences)))[::-1]
    for position, (_, row) in zip(y, differences.iterrows()):
        low, high = row["ci_low"], row["ci_high"]
        errors = [[0.0], [0.0]] if pd.isna(low) else [[row["delta"] - low], [high - row["delta"]]]
        ax.errorbar([row["delta"]], [position], xerr=errors, fmt="o", capsize=4,
                    color=VERDICT_COLORS.get(row["verdict"], "0.2"), label=row["verdict"])
    ax.axvline(0.0, color="0.4", ls="--", lw=1)
    edge = float(differences[["delta", "ci_low", "ci_high"]].abs().max().max())
    edge = 1.15 * edge if edge > 1e-12 else 1e-4  # all-zero rows still get a visible range
    ax.set_xlim(-edge, edge)
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.set_yticks(y, [", ".join(str(row[c]) for c in labels) for _, row in differences.iterrows()])
    ax.set_xlabel(xlabel)
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles))
    ax.legend(unique.values(), unique.keys(), title="verdict", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_method_points(table: pd.DataFrame, ax: Axes, x: str, hue: str, value: str = "mean",
                       order: Sequence[str] | None = None, hue_order: Sequence[str] | None = None,
                       palette: Mapping[str, str] | None = None, zero_line: bool = False,
                       legend: bool = True, title: str | None = None, dodge: float = 0.6) -> Axes:
    """Points of ``value`` with their interval (``ci_low`` .. ``ci_high``) per categorical ``x``,
    one colour per ``hue`` value, side by side within ``dodge`` of each tick and joined across
    ticks; one row per (x, hue), e.g. means over seeds or `rfkit.stats.paired_differences` rows.
    ``zero_line`` draws a dashed line at 0 (for differences: above it the method wins)."""
    missing = {x, hue, value, "ci_low", "ci_high"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}")
    if table.empty:
        raise ValueError("table is empty: nothing to draw")
    order = list(order or dict.fromkeys(table[x]))
    hue_order = list(hue_order or dict.fromkeys(table[hue]))
    step = dodge / max(len(hue_order), 1)
    for i, name in enumerate(hue_order):
        rows = table[table[hue] == name].set_index(x).reindex(order).dropna(subset=[value])
        if rows.empty:
            continue
        where = [order.index(v) + (i - (len(hue_order) - 1) / 2) * step for v in rows.index]
        errors = [(rows[value] - rows["ci_low"]).fillna(0), (rows["ci_high"] - rows[value]).fillna(0)]
        ax.errorbar(where, rows[value], yerr=errors, marker="o", capsize=3, lw=1.2, label=str(name),
                    color=(palette or {}).get(name))
    if zero_line:
        ax.axhline(0.0, color="0.4", ls="--", lw=1)
    ax.set_xticks(range(len(order)), order)
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set(xlabel="", ylabel=value)
    if legend:
        ax.legend(title=hue, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_parameter_effect(deltas: pd.DataFrame, ax: Axes, values: Sequence, reference, default=None,
                          label: str | None = None, color: str | None = None, shift: float = 0.0,
                          title: str | None = None, ylabel: str = "difference from the kit's value") -> Axes:
    """One parameter's paired differences (``value``, ``delta``, ``ci_low``, ``ci_high``) from its
    `reference` value, at evenly spaced positions for `values` (in order), with 95% error bars.

    The line runs through the reference, drawn at 0 as a black square; `default` (when among
    `values`) is a dotted vertical line; a dashed line marks 0. ``shift`` moves the points sideways (a share of one
    position) so two calls (e.g. valid and test) share an axis without hiding each other.
    """
    values = list(values)
    if reference not in values:
        raise ValueError(f"reference {reference!r} is not among values {values}")
    unknown = [v for v in deltas["value"] if v not in values]
    if unknown:
        raise ValueError(f"deltas has value(s) {unknown} not among values {values}")
    origin = pd.DataFrame({"value": [reference], "delta": [0.0], "ci_low": [0.0], "ci_high": [0.0]})
    rows = pd.concat([deltas[["value", "delta", "ci_low", "ci_high"]], origin], ignore_index=True)
    rows = rows.assign(position=[values.index(v) + shift for v in rows["value"]]).sort_values("position")
    errors = [(rows["delta"] - rows["ci_low"]).fillna(0), (rows["ci_high"] - rows["delta"]).fillna(0)]
    ax.errorbar(rows["position"], rows["delta"], yerr=errors, marker="o", capsize=3, color=color, label=label)
    ax.plot([values.index(reference) + shift], [0.0], marker="s", color="black", ls="none")
    ax.axhline(0.0, color="0.4", ls="--", lw=1)
    if default is not None and default in values:
        ax.axvline(values.index(default), color="0.5", ls=":", lw=1.5)
    ax.set_xticks(range(len(values)), [f"{v:g}" for v in values])
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def plot_cost_accuracy(table: pd.DataFrame, ax: Axes, metric: str, tolerance: float,
                       title: str | None = None) -> Axes:
    """Time against accuracy (`rfkit.lab.integration.knob_table`): one point per variant at its
    overhead over the backbone (x, %) and its paired difference from the literal integration (y)
    with the 95% interval; green where the lower end stays above -`tolerance` (dotted line)."""
    missing = {"overhead", "delta", "ci_low", "ci_high", "keeps_accuracy"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}")
    for name, row in table.iterrows():
        low, high = row["ci_low"], row["ci_high"]
        errors = [[0.0], [0.0]] if pd.isna(low) else [[row["delta"] - low], [high - row["delta"]]]
        ax.errorbar([100 * row["overhead"]], [row["delta"]], yerr=errors, fmt="o", capsize=4,
                    color="tab:green" if row["keeps_accuracy"] else "tab:red")
        ax.annotate(str(name).removeprefix("knob: "), (100 * row["overhead"], row["delta"]), fontsize=8,
                    xytext=(5, 4), textcoords="offset points")
    ax.axhline(0.0, color="0.4", ls="--", lw=1)
    ax.axhline(-tolerance, color="0.4", ls=":", lw=1)
    ax.set(xlabel="training time per epoch over the backbone (%)",
           ylabel=f"{metric}: variant minus spec-literal (95% interval)")
    if title:
        ax.set_title(title)
    return ax


REFERENCE_STYLES = {"regression": ("tab:purple", "--"), "all zeros": ("0.3", ":")}


def plot_reference_lines(references: pd.DataFrame, ax: Axes, column: str) -> Axes:
    """A labelled horizontal line per reference (`rfkit.lab.flow_probes.reference_endpoints`: index
    ``reference``) at its value of `column`, e.g. the regression baseline's endpoint MSE."""
    if column not in references.columns:
        raise ValueError(f"references lacks column {column!r}")
    for name, value in references[column].items():
        color, style = REFERENCE_STYLES.get(name, ("0.5", "-."))
        ax.axhline(value, color=color, ls=style, lw=1.2, label=f"{name} (reference)")
    ax.legend(fontsize=8)
    return ax
