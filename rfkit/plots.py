"""Plotting helpers for the notebooks: one function per kind of plot, each drawing on a given `ax`.

Taking the axes (rather than making a figure) lets a notebook lay out panels side by side and
save the figure through its RunRecord.
"""
from __future__ import annotations

from collections.abc import Mapping

from matplotlib.axes import Axes
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
