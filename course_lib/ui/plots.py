"""Figures for optimizer runs: paths on a contour map, and loss-vs-step curves.

:class:`PathFigure` is the figure every slider panel redraws: the landscape's contour with the
paths on the left, the losses on a log scale on the right. It is built for redrawing: the contour
is drawn once per landscape, and :meth:`PathFigure.show` only moves the data of lines it already
has (one path line, end marker and loss line per trajectory slot), so a slider callback costs a
few milliseconds of matplotlib, not a full re-plot. A run that diverged gets a message on the plot
("Adam lr=3: diverged at step 37") instead of an exception or an empty axis.

:func:`plot_paths` and :func:`plot_losses` are one-shot versions for static cells.

Figures are created through pyplot, so they show under any backend (inline PNGs, ipympl); the
default size and dpi keep a stored PNG well under 100 KB.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.colors import LogNorm

__all__ = ["PathFigure", "plot_paths", "plot_losses", "draw_contour", "contour_levels"]

FIGSIZE = (9.0, 3.8)
DPI = 80
GRID_POINTS = 160  # per axis; enough for smooth contours, about 2 ms to evaluate
LEVEL_COUNT = 15


def _color(index: int) -> str:
    return f"C{index % 10}"


def _as_list(trajectories) -> list:
    if trajectories is None:
        return []
    if hasattr(trajectories, "path") and hasattr(trajectories, "losses"):
        return [trajectories]
    return list(trajectories)


def contour_levels(values: np.ndarray, count: int = LEVEL_COUNT) -> tuple[np.ndarray, bool]:
    """Contour levels for ``values``: log-spaced when they are positive and span over 2 decades.

    Returns ``(levels, is_log)``. Log spacing is what makes valleys visible: on Rosenbrock the
    loss runs from 0 to thousands, and evenly spaced levels would all crowd onto the walls.
    """
    finite = values[np.isfinite(values)]
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return np.array([low]), False
    if low >= 0.0:
        # From the 1st to the 99th percentile: the extreme corners (Beale's walls reach 1e5)
        # would otherwise take the levels away from the basin, where the paths are.
        floor, ceiling = (float(v) for v in np.percentile(finite, [1.0, 99.0]))
        floor = max(floor, ceiling * 1e-6)
        if ceiling / max(floor, 1e-300) > 1e2:
            return np.geomspace(floor, ceiling, count), True
    return np.linspace(low, high, count), False


def _grid(landscape, points: int = GRID_POINTS):
    xs = torch.linspace(*landscape.xlim, points, dtype=torch.float64)
    ys = torch.linspace(*landscape.ylim, points, dtype=torch.float64)
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")
    value = getattr(landscape, "value", landscape)  # noise-free f for a noisy landscape
    with torch.no_grad():
        grid_z = value(torch.stack([grid_x, grid_y], dim=-1))
    return grid_x.numpy(), grid_y.numpy(), grid_z.numpy()


def draw_contour(ax, landscape):
    """Draw ``landscape``'s contour in its window on ``ax``; return the ContourSet."""
    grid_x, grid_y, grid_z = _grid(landscape)
    levels, is_log = contour_levels(grid_z)
    contour = ax.contour(
        grid_x,
        grid_y,
        grid_z,
        levels=levels,
        cmap="viridis",
        norm=LogNorm(levels[0], levels[-1]) if is_log else None,
        linewidths=0.7,
        zorder=1,
    )
    ax.set_xlim(*landscape.xlim)
    ax.set_ylim(*landscape.ylim)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(getattr(landscape, "name", ""), fontsize=10)
    return contour


def _minima_xy(landscape) -> tuple[np.ndarray, np.ndarray]:
    minima = getattr(landscape, "minima", None)
    if minima is None or len(minima) == 0:
        return np.empty(0), np.empty(0)
    minima = np.asarray(minima, dtype=np.float64)
    return minima[:, 0], minima[:, 1]


def _divergence_text(ax, slot: int):
    return ax.text(
        0.02,
        0.97 - 0.085 * slot,
        "",
        transform=ax.transAxes,
        va="top",
        ha="left",
        fontsize=8,
        zorder=10,
        bbox=dict(boxstyle="round,pad=0.25", facecolor="white", edgecolor="0.6", alpha=0.9),
    )


def _scale_loss_axis(ax, loss_arrays: list[np.ndarray], max_steps: int) -> None:
    """Log scale fitted to the losses; symlog when some loss is negative (the saddle)."""
    finite = [losses[np.isfinite(losses)] for losses in loss_arrays]
    values = np.concatenate(finite) if finite else np.empty(0)
    ax.set_xlim(0, max(max_steps, 1))
    if values.size and values.min() < 0.0:
        # Linear within ±(the smallest starting |loss|), logarithmic beyond: the start stays
        # readable while the loss runs off towards -inf.
        start_sizes = [abs(float(losses[0])) for losses in finite if losses.size and losses[0] != 0.0]
        linthresh = max(min(start_sizes, default=1.0), 1e-12)
        # One tick per decade crowds the axis once the loss has fallen through many decades.
        decades = np.log10(max(float(np.abs(values).max()), linthresh) / linthresh)
        base = 10 if decades <= 6 else 100 if decades <= 12 else 1000
        ax.set_yscale("symlog", linthresh=linthresh, base=base)
        ax.set_ylim(float(values.min()) * 1.5, max(float(values.max()), 0.0) * 1.5 + 1e-12)
        return
    if ax.get_yscale() != "log":
        ax.set_yscale("log")
    positive = values[values > 0.0]
    if positive.size == 0:
        ax.set_ylim(1e-16, 1.0)
        return
    high = float(positive.max())
    # Float64 resolves a loss to ~1e-16 of where it started; going deeper only shows rounding.
    # Anchored to the starting losses, so one diverging run does not squash the others.
    starts = [float(losses[0]) for losses in finite if losses.size and losses[0] > 0.0]
    low = max(float(positive.min()), max(starts, default=high) * 1e-16)
    ax.set_ylim(low / 2.0, high * 2.0)


def _request_redraw(fig) -> None:
    """Ask interactive canvases (ipympl, Qt, Tk) to repaint soon.

    Agg-based canvases (tests, the inline backend) inherit ``FigureCanvasBase.draw_idle``, which
    renders the whole figure at once; they are rendered when displayed anyway, so skip it there
    rather than pay for every frame twice.
    """
    if type(fig.canvas).draw_idle is not FigureCanvasBase.draw_idle:
        fig.canvas.draw_idle()


def _contour_source(landscape):
    """What the contour is drawn from: the noise-free base of a noisy landscape, else itself."""
    return getattr(landscape, "base", landscape)


class PathFigure:
    """Contour + paths (left) and log-scale loss-vs-step curves (right), redrawn in place.

    >>> figure = PathFigure(quadratic(condition_number=20))          # doctest: +SKIP
    >>> figure.show([run(figure.landscape, torch.optim.SGD, lr=0.1)])  # doctest: +SKIP

    Attributes tests and panels read: ``fig``, ``ax_paths``, ``ax_loss``, ``landscape``,
    ``contour`` (the current ContourSet), and per trajectory slot ``path_lines``,
    ``end_markers``, ``loss_lines``, ``divergence_texts`` (lists of matplotlib artists; slots
    beyond the last :meth:`show` are hidden, not removed).
    """

    def __init__(self, landscape, *, figsize=FIGSIZE, dpi=DPI):
        self.fig, (self.ax_paths, self.ax_loss) = plt.subplots(
            1, 2, figsize=figsize, dpi=dpi, gridspec_kw=dict(width_ratios=[1.0, 1.25])
        )
        self.landscape = None
        self.contour = None
        (self.minima_marker,) = self.ax_paths.plot(
            [], [], linestyle="none", marker="*", markersize=13, color="gold", markeredgecolor="black", zorder=6
        )
        (self.start_marker,) = self.ax_paths.plot(
            [], [], linestyle="none", marker="o", markersize=6, color="black", zorder=6
        )
        self.path_lines, self.end_markers, self.loss_lines, self.divergence_texts = [], [], [], []
        self.trajectories: list = []
        self.ax_loss.set_xlabel("step")
        self.ax_loss.set_ylabel("loss")
        self.ax_loss.set_yscale("log")
        self.ax_loss.grid(True, which="major", alpha=0.3)
        self.set_landscape(landscape)
        self.fig.tight_layout()

    def set_landscape(self, landscape) -> bool:
        """Show ``landscape``; redraw the contour only if it differs from the current one.

        Returns True when the contour was redrawn. Landscapes compare by their parameters,
        so a slider callback that builds an equal landscape again costs nothing here; a noisy
        landscape draws its noise-free base, so changing only σ or the seed keeps the contour
        (the title, which names σ, is updated).
        """
        if self.landscape is not None and _contour_source(landscape) == _contour_source(self.landscape):
            self.landscape = landscape
            self.ax_paths.set_title(getattr(landscape, "name", ""), fontsize=10)
            return False
        if self.contour is not None:
            self.contour.remove()
        self.contour = draw_contour(self.ax_paths, landscape)
        self.minima_marker.set_data(*_minima_xy(landscape))
        self.landscape = landscape
        return True

    def _ensure_slots(self, count: int) -> None:
        while len(self.path_lines) < count:
            slot = len(self.path_lines)
            color = _color(slot)
            (path_line,) = self.ax_paths.plot([], [], color=color, linewidth=1.5, marker=".", markersize=3, zorder=4)
            (end_marker,) = self.ax_paths.plot([], [], linestyle="none", marker="X", markersize=8, color=color,
                                               markeredgecolor="white", zorder=5)
            (loss_line,) = self.ax_loss.plot([], [], color=color, linewidth=1.5)
            self.path_lines.append(path_line)
            self.end_markers.append(end_marker)
            self.loss_lines.append(loss_line)
            self.divergence_texts.append(_divergence_text(self.ax_paths, slot))

    def show(self, trajectories, *, landscape=None) -> PathFigure:
        """Draw ``trajectories`` (a list, or one Trajectory), reusing the existing artists.

        Path line k, its end marker and loss line k take trajectory k's data and label; unused
        slots are hidden. Each diverged trajectory gets "<label>: diverged at step k" written on
        the contour. The loss axis is rescaled to the data. Returns self.
        """
        if landscape is not None:
            self.set_landscape(landscape)
        trajectories = _as_list(trajectories)
        self.trajectories = trajectories
        self._ensure_slots(len(trajectories))
        for slot, trajectory in enumerate(trajectories):
            path = np.asarray(trajectory.path, dtype=np.float64)
            losses = np.asarray(trajectory.losses, dtype=np.float64)
            self.path_lines[slot].set_data(path[:, 0], path[:, 1])
            self.path_lines[slot].set_label(trajectory.label)
            self.end_markers[slot].set_data(path[-1:, 0], path[-1:, 1])
            self.loss_lines[slot].set_data(np.arange(len(losses)), losses)
            self.loss_lines[slot].set_label(trajectory.label)
            for artist in (self.path_lines[slot], self.end_markers[slot], self.loss_lines[slot]):
                artist.set_visible(True)
        for slot in range(len(trajectories), len(self.path_lines)):
            for artist in (self.path_lines[slot], self.end_markers[slot], self.loss_lines[slot]):
                artist.set_visible(False)
        # Divergence messages fill the text slots from the top, in trajectory order.
        diverged = [(slot, t) for slot, t in enumerate(trajectories) if t.diverged]
        for message_slot, (slot, trajectory) in enumerate(diverged):
            text = self.divergence_texts[message_slot]
            text.set_text(f"{trajectory.label}: {trajectory.message}")
            text.set_color(_color(slot))
            text.set_visible(True)
        for text in self.divergence_texts[len(diverged):]:
            text.set_text("")
            text.set_visible(False)

        starts = np.array([np.asarray(t.path)[0] for t in trajectories]).reshape(-1, 2)
        self.start_marker.set_data(starts[:, 0], starts[:, 1])
        max_steps = max((len(t.losses) - 1 for t in trajectories), default=0)
        max_steps = max(max_steps, max((t.diverged_at or 0 for t in trajectories), default=0))
        _scale_loss_axis(self.ax_loss, [np.asarray(t.losses, dtype=np.float64) for t in trajectories], max_steps)
        if trajectories:
            self.ax_loss.legend(handles=self.loss_lines[: len(trajectories)], fontsize=8, loc="upper right")
        elif self.ax_loss.get_legend() is not None:
            self.ax_loss.get_legend().remove()
        _request_redraw(self.fig)
        return self

    def close(self) -> None:
        """Release the figure (pyplot keeps figures alive until closed)."""
        plt.close(self.fig)


def plot_paths(landscape, trajectories, *, ax=None):
    """One-shot: ``landscape``'s contour with the trajectories' paths, minima and divergence notes.

    Returns the Axes (a new figure's when ``ax`` is None).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.8), dpi=DPI)
    draw_contour(ax, landscape)
    minima_x, minima_y = _minima_xy(landscape)
    ax.plot(minima_x, minima_y, linestyle="none", marker="*", markersize=13, color="gold",
            markeredgecolor="black", zorder=6)
    message_slot = 0
    for slot, trajectory in enumerate(_as_list(trajectories)):
        path = np.asarray(trajectory.path, dtype=np.float64)
        color = _color(slot)
        ax.plot(path[:, 0], path[:, 1], color=color, linewidth=1.5, marker=".", markersize=3, zorder=4,
                label=trajectory.label)
        ax.plot(path[:1, 0], path[:1, 1], linestyle="none", marker="o", markersize=6, color="black", zorder=6)
        ax.plot(path[-1:, 0], path[-1:, 1], linestyle="none", marker="X", markersize=8, color=color,
                markeredgecolor="white", zorder=5)
        if trajectory.diverged:
            text = _divergence_text(ax, message_slot)
            text.set_text(f"{trajectory.label}: {trajectory.message}")
            text.set_color(color)
            message_slot += 1
    if _as_list(trajectories):
        ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_losses(trajectories, *, ax=None):
    """One-shot: loss vs step of each trajectory on a log scale (symlog if a loss is negative).

    Returns the Axes (a new figure's when ``ax`` is None).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.4), dpi=DPI)
    trajectories = _as_list(trajectories)
    for slot, trajectory in enumerate(trajectories):
        losses = np.asarray(trajectory.losses, dtype=np.float64)
        label = trajectory.label + (f" ({trajectory.message})" if trajectory.diverged else "")
        ax.plot(np.arange(len(losses)), losses, color=_color(slot), linewidth=1.5, label=label)
    max_steps = max((len(t.losses) - 1 for t in trajectories), default=0)
    _scale_loss_axis(ax, [np.asarray(t.losses, dtype=np.float64) for t in trajectories], max_steps)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, which="major", alpha=0.3)
    if trajectories:
        ax.legend(fontsize=8, loc="upper right")
    return ax
