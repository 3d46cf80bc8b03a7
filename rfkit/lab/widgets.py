"""Interactive notebook widgets (ipywidgets): one public function per widget.

Each widget is a thin shell around pure functions that compute what it shows, so tests drive it
from Python (set a slider's ``value``, read the numbers back) without a browser, and a notebook
run headless by papermill can record the very numbers a reader would see. Widgets keep what they
show in widget traits (HTML text, PNG bytes) rather than in captured cell output, so they also
update outside a running kernel.
"""
from __future__ import annotations

import copy
import io
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rfkit.data.dataset import Dataset
from rfkit.lab.parameters import PARAMETERS, panel, setting_summary
from rfkit.lab.plots import plot_metric_bars, plot_parameter_effect
from rfkit.metrics import split_metrics
from rfkit.models import MultimodalGCN

SHOWN_METRICS = ("valid_ndcg@20", "valid_recall@20", "test_ndcg@20", "test_recall@20")


def _metric_names(ks: Sequence[int]) -> set[str]:
    return {f"{split}_{m}@{k}" for split in ("valid", "test") for k in ks
            for m in ("recall", "ndcg", "precision", "map")}


def _require_rf(model: MultimodalGCN) -> None:
    if not hasattr(model, "rf_generator"):
        raise ValueError("model has no rf_generator: build it with use_rf=True")


def ratio_metrics(model: MultimodalGCN, dataset: Dataset, ratio: float,
                  ks: Sequence[int] = (10, 20)) -> dict[str, float]:
    """Validation and test metrics of a trained RF model scored at one inference mix ratio.

    The model is not retrained and its configured ratio is left as it was.
    """
    _require_rf(model)
    return split_metrics(model.score_all(inference_mix_ratio=ratio), dataset, ks)


def backbone_metrics(model: MultimodalGCN, dataset: Dataset,
                     ks: Sequence[int] = (10, 20)) -> dict[str, float]:
    """The same metrics for a copy of the model with its RF generator removed: the backbone alone.

    This path never calls the generator, so comparing it with ``ratio_metrics(..., 0.0)``
    checks that mixing at ratio 0 really is the backbone.
    """
    _require_rf(model)
    backbone = copy.deepcopy(model)
    del backbone.rf_generator
    return split_metrics(backbone.score_all(), dataset, ks)


def ratio_table(metrics: Mapping[str, float], backbone: Mapping[str, float],
                shown: Sequence[str] = SHOWN_METRICS) -> pd.DataFrame:
    """One row per shown metric: the backbone's value, the value at the ratio, and the change."""
    table = pd.DataFrame({"backbone (ratio 0)": [backbone[m] for m in shown],
                          "at this ratio": [metrics[m] for m in shown]}, index=list(shown))
    table["change"] = table["at this ratio"] - table["backbone (ratio 0)"]
    return table.rename_axis("metric")


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()


class InferenceRatioExplorer(widgets.VBox):
    """What `inference_ratio_explorer` returns: a ratio slider over a metrics table and a bar chart.

    ``metrics`` holds the numbers on display (``ratio_metrics`` at ``slider.value``) and
    ``backbone`` those of the model without RF; ``table`` (HTML) and ``chart`` (PNG image)
    show them. ``note`` warns when the model is still in RF warmup (mixing is then off at
    every ratio).
    """

    slider: widgets.FloatSlider
    table: widgets.HTML
    chart: widgets.Image
    note: widgets.HTML
    metrics: dict[str, float]
    backbone: dict[str, float]


def inference_ratio_explorer(model: MultimodalGCN, dataset: Dataset, ratio: float | None = None,
                             step: float = 0.05, ks: Sequence[int] = (10, 20),
                             shown: Sequence[str] = SHOWN_METRICS) -> InferenceRatioExplorer:
    """A slider that re-scores a trained RF model at any inference mix ratio (no retraining).

    Starts at ``ratio`` (default: the model's configured inference ratio). Each ratio is scored
    once and cached; the slider updates on release, since a full-ranking evaluation takes a
    moment on real data.
    """
    _require_rf(model)
    unknown = [m for m in shown if m not in _metric_names(ks)]
    if unknown:
        raise ValueError(f"shown has unknown metric(s) {unknown}; known: {sorted(_metric_names(ks))}")
    generator = model.rf_generator
    start = generator.inference_mix_ratio if ratio is None else ratio
    explorer = InferenceRatioExplorer()
    explorer.slider = widgets.FloatSlider(value=start, min=0.0, max=1.0, step=step,
                                          continuous_update=False, readout_format=".2f",
                                          description="inference ratio",
                                          style={"description_width": "initial"})
    explorer.table, explorer.chart = widgets.HTML(), widgets.Image(format="png")
    warmup = generator.in_warmup()
    explorer.note = widgets.HTML(
        f"<b>The model is in RF warmup</b> (epoch {generator.current_epoch} &lt; "
        f"{generator.warmup_epochs}): mixing is off, every ratio gives the backbone." if warmup else "")
    explorer.backbone = backbone_metrics(model, dataset, ks)
    cache: dict[float, dict[str, float]] = {}

    def show(ratio: float) -> None:
        key = round(float(ratio), 6)
        if key not in cache:
            cache[key] = ratio_metrics(model, dataset, key, ks)
        explorer.metrics = cache[key]
        explorer.table.value = ratio_table(explorer.metrics, explorer.backbone, shown).to_html(
            float_format="{:.4f}".format, formatters={"change": "{:+.4f}".format})
        fig = Figure(figsize=(7, 3.2))
        ax = fig.add_subplot()
        plot_metric_bars({"backbone (ratio 0)": {m: explorer.backbone[m] for m in shown},
                          f"ratio {key:.2f}": {m: explorer.metrics[m] for m in shown}}, ax)
        ax.set_title(f"trained model re-scored at inference ratio {key:.2f}")
        explorer.chart.value = _png(fig)

    explorer.slider.observe(lambda change: show(change["new"]), names="value")
    show(explorer.slider.value)
    explorer.children = [explorer.slider, explorer.note, explorer.chart, explorer.table]
    return explorer


def trajectory_frame(projected, t: float):
    """The grid point of a projected trajectory nearest to time `t`: (index, its time, its points).

    `projected` has shape (n_points, rows, 2) on a uniform time grid over [0, 1] (e.g.
    `rfkit.lab.flow_probes.project_trajectory`); `t` is clipped to [0, 1].
    """
    if projected.ndim != 3 or projected.shape[0] < 2:
        raise ValueError(f"projected must have shape (n_points >= 2, rows, 2), got {tuple(projected.shape)}")
    n_steps = projected.shape[0] - 1
    index = int(round(min(max(float(t), 0.0), 1.0) * n_steps))
    return index, index / n_steps, projected[index]


class TrajectoryExplorer(widgets.VBox):
    """What `trajectory_explorer` returns: a time slider over the 2-D cloud of the ODE states.

    ``index``/``time``/``points`` hold the frame on display (`trajectory_frame` at
    ``slider.value``); ``chart`` (PNG image) shows it over the targets.
    """

    slider: widgets.FloatSlider
    chart: widgets.Image
    index: int
    time: float
    points: object


def trajectory_explorer(projected, values=None, targets=None, value_label: str = "",
                        title: str = "generated embeddings at time t") -> TrajectoryExplorer:
    """A slider over time t that draws the projected ODE states at t (noise at 0, embeddings at 1).

    `values` colours the rows (e.g. log item popularity); `targets` (rows x 2, projected the
    same way) are drawn grey underneath. Axes stay fixed over t, so the cloud's shrinking and
    drifting is what one sees.
    """
    projected = np.asarray(projected)
    every = projected.reshape(-1, projected.shape[-1])
    if targets is not None:
        every = np.concatenate([every, np.asarray(targets)])
    low, high = every.min(axis=0), every.max(axis=0)
    pad = 0.05 * (high - low)
    explorer = TrajectoryExplorer()
    explorer.slider = widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=1 / (projected.shape[0] - 1),
                                          readout_format=".2f", description="time t")
    explorer.chart = widgets.Image(format="png")

    def show(t: float) -> None:
        explorer.index, explorer.time, explorer.points = trajectory_frame(projected, t)
        fig = Figure(figsize=(5.5, 4.5))
        ax = fig.add_subplot()
        if targets is not None:
            ax.scatter(*np.asarray(targets).T, s=4, color="0.8", label="targets (t=1)")
        dots = ax.scatter(*explorer.points.T, s=5, c=values, cmap="viridis")
        if values is not None:
            fig.colorbar(dots, ax=ax, label=value_label)
        ax.set(xlim=(low[0] - pad[0], high[0] + pad[0]), ylim=(low[1] - pad[1], high[1] + pad[1]),
               xlabel="PC 1 of the targets", ylabel="PC 2 of the targets",
               title=f"{title}: t = {explorer.time:.2f}")
        explorer.chart.value = _png(fig)

    explorer.slider.observe(lambda change: show(change["new"]), names="value")
    show(explorer.slider.value)
    explorer.children = [explorer.slider, explorer.chart]
    return explorer


class ParameterExplorer(widgets.VBox):
    """What `parameter_explorer` returns: a parameter picker over its curves and its table.

    ``parameter`` is the one on display and ``summary`` its `rfkit.lab.parameters.setting_summary`
    (one row per value); ``chart`` (PNG image) and ``table`` (HTML) show them.
    """

    picker: widgets.Dropdown
    chart: widgets.Image
    table: widgets.HTML
    parameter: str
    summary: pd.DataFrame


def parameter_explorer(effects: pd.DataFrame, valid_deltas: pd.DataFrame, test_deltas: pd.DataFrame,
                       parameter: str | None = None) -> ParameterExplorer:
    """Pick one of notebook 08's swept parameters and see its curves: valid and test NDCG@20 against
    the kit's value (paired, 95% intervals), the final RF and contrastive losses, the generated
    embeddings' cosine to their targets and the seconds per epoch, each against the value.

    `effects` from `rfkit.lab.parameters.effects_table`, the deltas from `parameter_deltas`.
    """
    names = [p for p in PARAMETERS if p in set(effects["parameter"])]
    explorer = ParameterExplorer()
    explorer.picker = widgets.Dropdown(options=names, value=parameter or names[0], description="parameter")
    explorer.chart, explorer.table = widgets.Image(format="png"), widgets.HTML()

    def show(name: str) -> None:
        values, kit, default = panel(effects, name)
        explorer.parameter, explorer.summary = name, setting_summary(effects, test_deltas, name)
        fig = Figure(figsize=(13, 3.2), layout="constrained")
        axes = fig.subplots(1, 4)
        for deltas, label, shift in ((valid_deltas, "valid", -0.08), (test_deltas, "test", 0.08)):
            plot_parameter_effect(deltas[deltas["parameter"] == name], axes[0], values, kit, default, label=label,
                                  shift=shift, title=f"{name}: Δ NDCG@20", ylabel="difference from the kit's value")
        axes[0].legend()
        means = explorer.summary.reindex(values)
        for ax, columns, title in ((axes[1], ["rf_loss", "cl_loss"], "losses, last epoch"),
                                   (axes[2], ["endpoint_cosine"], "generated vs target, cosine"),
                                   (axes[3], ["seconds_per_epoch"], "seconds per epoch")):
            for column in columns:
                ax.plot(range(len(values)), means[column], marker="o", label=column)
            ax.set_xticks(range(len(values)), [f"{v:g}" for v in values])
            ax.set_title(title)
        axes[1].legend()
        explorer.chart.value = _png(fig)
        explorer.table.value = explorer.summary.to_html(float_format="{:.4f}".format)

    explorer.picker.observe(lambda change: show(change["new"]), names="value")
    show(explorer.picker.value)
    explorer.children = [explorer.picker, explorer.chart, explorer.table]
    return explorer
