"""rfkit.plots: each helper draws what it says on the axes it is given."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rfkit.lab.plots import plot_paths, plot_samples, plot_step_curves  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_plot_paths_draws_one_line_per_row_and_the_ends(ax):
    trajectory = torch.cumsum(torch.randn(11, 30, 2), dim=0)
    plot_paths(trajectory, ax, n_paths=20, title="paths")
    assert len(ax.lines) == 20
    assert len(ax.lines[0].get_xdata()) == 11
    assert len(ax.collections) == 2  # start and end markers
    assert ax.get_title() == "paths"


def test_plot_paths_straight_lines_and_no_ends(ax):
    x0, x1 = torch.randn(5, 2), torch.randn(5, 2)
    plot_paths(torch.stack([x0, x1]), ax, n_paths=None, show_ends=False)
    assert len(ax.lines) == 5 and not ax.collections
    assert list(ax.lines[2].get_xdata()) == pytest.approx([float(x0[2, 0]), float(x1[2, 0])])


def test_plot_paths_rejects_non_2d_trajectories(ax):
    with pytest.raises(ValueError, match="n_points, rows, 2"):
        plot_paths(torch.zeros(4, 3, 5), ax)


def test_plot_samples_scatters_every_point(ax):
    plot_samples(torch.randn(40, 2), ax, label="target")
    assert len(ax.collections) == 1 and len(ax.collections[0].get_offsets()) == 40


def test_plot_step_curves_one_line_per_curve_plus_floor(ax):
    curves = {"1-RF": {1: 1.0, 2: 0.5, 20: 0.1}, "2-RF": {1: 0.2, 2: 0.15, 20: 0.1}}
    plot_step_curves(curves, ax, floor=0.05, colors={"2-RF": "tab:green"})
    assert len(ax.lines) == 3
    assert ax.lines[1].get_color() == "tab:green"
    assert list(ax.lines[0].get_xdata()) == [1, 2, 20]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "20"]


def test_plot_epoch_curves_mean_lines_and_warmup_markers(ax):
    import pandas as pd

    from rfkit.lab.plots import plot_epoch_curves

    epochs = pd.DataFrame([{"variant": v, "seed": s, "epoch": e, "recall": e / 10 + s / 100, "rf_loss": None}
                           for v in ("warmup 0", "warmup 2") for s in range(3) for e in range(5)])
    plot_epoch_curves(epochs, ax, "recall", warmups={"warmup 0": 0, "warmup 2": 2}, title="curves")
    data_lines = [line for line in ax.lines if len(line.get_xdata()) == 5]
    assert len(data_lines) == 2
    assert list(data_lines[0].get_ydata()) == pytest.approx([e / 10 + 0.01 for e in range(5)])  # seed mean
    markers = [line for line in ax.lines if line.get_label().startswith("warmup ends")]
    assert [line.get_label() for line in markers] == ["warmup ends (warmup 2)"]
    assert list(markers[0].get_xdata()) == [1.5, 1.5]
    assert markers[0].get_color() == data_lines[1].get_color()
    assert len(ax.collections) == 2  # one std band per curve
    assert ax.get_xlabel() == "epoch" and ax.get_title() == "curves"
    with pytest.raises(ValueError, match="no finite values of 'rf_loss'"):
        plot_epoch_curves(epochs, ax, "rf_loss")
    with pytest.raises(ValueError, match="lacks column"):
        plot_epoch_curves(epochs, ax, "ndcg")


def test_plot_grid_heatmap_annotates_every_cell_and_outlines_the_best(ax):
    import pandas as pd
    from matplotlib.patches import Rectangle

    from rfkit.lab.plots import plot_grid_heatmap

    table = pd.DataFrame([[0.1, 0.3, 0.2], [0.15, 0.25, 0.05]], index=pd.Index([0.1, 0.5], name="train ratio"),
                         columns=pd.Index([0.0, 0.2, 1.0], name="inference ratio"))
    plot_grid_heatmap(table, ax, title="grid", best=(0.5, 0.2))
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{v:.3f}" for v in table.to_numpy().ravel())
    outline = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_edgecolor()[:3] == (1.0, 0.0, 0.0)]
    assert len(outline) == 1 and outline[0].get_xy() == (1, 1)  # column 0.2, row 0.5
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("inference ratio", "train ratio", "grid")
    with pytest.raises(ValueError, match="empty"):
        plot_grid_heatmap(pd.DataFrame(), ax)


def test_plot_metric_bars_one_bar_per_setting_and_metric(ax):
    from rfkit.lab.plots import plot_metric_bars

    plot_metric_bars({"backbone": {"ndcg": 0.2, "recall": 0.4}, "RF": {"ndcg": 0.25, "recall": 0.35}}, ax)
    heights = [bar.get_height() for container in ax.containers for bar in container]
    assert heights == pytest.approx([0.2, 0.4, 0.25, 0.35])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["backbone", "RF"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ndcg", "recall"]


def test_plot_cloud_colours_points_and_adds_a_colour_bar(ax):
    from rfkit.lab.plots import plot_cloud

    plot_cloud(torch.randn(40, 2), ax, values=torch.arange(40.0).numpy(), value_label="degree", title="cloud")
    dots = ax.collections[0]
    assert len(dots.get_offsets()) == 40 and dots.get_array() is not None
    assert ax.get_title() == "cloud" and len(ax.figure.axes) == 2  # the colour bar's axes


def test_plot_colored_paths_one_coloured_line_per_drawn_row(ax):
    import numpy as np

    from rfkit.lab.plots import plot_colored_paths

    paths = np.cumsum(np.random.default_rng(0).normal(size=(6, 20, 2)), axis=0)
    plot_colored_paths(paths, np.arange(20.0), ax, n_paths=12)
    lines, starts, ends = ax.collections
    assert len(lines.get_segments()) == 12 and len(lines.get_segments()[0]) == 6
    assert (starts.get_offsets() == paths[0, :12]).all() and (ends.get_offsets() == paths[-1, :12]).all()


def test_plot_solver_curves_one_line_per_solver_with_labels(ax):
    import pandas as pd

    from rfkit.lab.plots import plot_solver_curves

    table = pd.DataFrame({"solver": ["euler"] * 3 + ["heun"] * 3, "n_steps": [1, 2, 4] * 2,
                          "err": [4.0, 2.0, 1.0, 2.0, 0.5, 0.1]})
    plot_solver_curves(table, ax, "n_steps", "err", logy=True, annotate="n_steps", ylabel="error")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["euler", "heun"]
    assert len(ax.texts) == 6 and ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_ylabel() == "error"
    with pytest.raises(ValueError, match="lacks column"):
        plot_solver_curves(table, ax, "n_steps", "missing")


def test_plot_paired_differences_is_symmetric_about_zero_in_table_order():
    from rfkit.lab.plots import plot_paired_differences
    rows = pd.DataFrame({"variant": ["a", "b", "c"], "delta": [0.02, -0.01, 0.0], "ci_low": [0.01, -0.03, float("nan")],
                         "ci_high": [0.03, 0.01, float("nan")], "verdict": ["better", "within noise", "one seed"]})
    fig, ax = plt.subplots()
    plot_paired_differences(rows, ax, labels=("variant",), title="t")
    positions = dict(zip([t.get_text() for t in ax.get_yticklabels()], ax.get_yticks()))
    assert positions["a"] > positions["b"] > positions["c"]  # table order, top to bottom
    low, high = ax.get_xlim()
    assert low == pytest.approx(-high) and high > 0.03  # symmetric about zero, every interval inside
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["better", "within noise", "one seed"]
    with pytest.raises(ValueError, match="lacks column"):
        plot_paired_differences(rows.drop(columns="ci_low"), ax, labels=("variant",))
    plt.close(fig)


def test_plot_paired_differences_draws_each_row_with_its_interval(ax):
    import pandas as pd

    from rfkit.lab.plots import VERDICT_COLORS, plot_paired_differences
    rows = pd.DataFrame({"variant": ["a", "b", "c"], "metric": ["m"] * 3, "delta": [0.02, -0.01, 0.003],
                         "ci_low": [0.01, -0.02, float("nan")], "ci_high": [0.03, 0.005, float("nan")],
                         "verdict": ["better", "within noise", "one seed"]})
    plot_paired_differences(rows, ax, labels=("variant", "metric"), title="diffs")
    bars = ax.containers
    assert len(bars) == 3 and ax.get_title() == "diffs"
    labels = dict(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]))
    assert [labels[y] for y in sorted(labels, reverse=True)] == ["a, m", "b, m", "c, m"]  # first row on top
    segments = bars[0].lines[2][0].get_segments()[0]
    assert [x for x, _ in segments] == pytest.approx([0.01, 0.03])
    assert bars[0].lines[0].get_color() == VERDICT_COLORS["better"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["better", "within noise", "one seed"]
    with pytest.raises(ValueError, match="lacks column"):
        plot_paired_differences(rows.drop(columns="ci_low"), ax)


def test_every_plot_helper_that_promises_axes_returns_them():
    """A plot helper annotated `-> Axes` ends by returning its axes (a merge once dropped two)."""
    import ast
    import inspect

    import rfkit.lab.plots as plots
    tree = ast.parse(inspect.getsource(plots))
    missing = [f.name for f in tree.body if isinstance(f, ast.FunctionDef) and isinstance(f.returns, ast.Name)
               and f.returns.id == "Axes" and not isinstance(f.body[-1], ast.Return)]
    assert not missing, f"no final `return ax` in {missing}"


def test_plot_method_points_draws_every_hue_with_its_title(ax):
    import pandas as pd

    from rfkit.lab.plots import plot_method_points
    table = pd.DataFrame({"setting": ["a", "a", "b", "b"], "method": ["rf", "regression"] * 2,
                          "mean": [0.2, 0.3, 0.25, 0.35], "ci_low": [0.1, 0.2, 0.2, 0.3],
                          "ci_high": [0.3, 0.4, 0.3, 0.4]})
    assert plot_method_points(table, ax, x="setting", hue="method", title="cold") is ax
    assert ax.get_title() == "cold" and len(ax.containers) == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
