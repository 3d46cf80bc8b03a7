"""rfkit.plots: each helper draws what it says on the axes it is given."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rfkit.plots import plot_paths, plot_samples, plot_step_curves  # noqa: E402


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
