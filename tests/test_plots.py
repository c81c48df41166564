"""Plots: PathFigure reuses its artists, its lines hold the trajectories' data, divergence is
written on the figure, the contour is redrawn only for a new landscape; the one-shot helpers."""

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from course_lib.problems.landscapes import beale, noisy, quadratic, rosenbrock, saddle  # noqa: E402
from course_lib.ui.plots import PathFigure, contour_levels, plot_losses, plot_paths  # noqa: E402
from course_lib.experiments.trajectories import run  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def landscape():
    return quadratic(condition_number=10.0)


def visible_texts(ax):
    return [text.get_text() for text in ax.texts if text.get_visible() and text.get_text()]


def test_lines_hold_the_trajectories_data(landscape):
    figure = PathFigure(landscape)
    trajectories = [run(landscape, torch.optim.SGD, steps=40, lr=0.5), run(landscape, torch.optim.Adam, steps=60, lr=0.1)]
    figure.show(trajectories)
    for slot, trajectory in enumerate(trajectories):
        xs, ys = figure.path_lines[slot].get_data()
        np.testing.assert_array_equal(np.column_stack([xs, ys]), trajectory.path)
        steps, losses = figure.loss_lines[slot].get_data()
        np.testing.assert_array_equal(steps, np.arange(len(trajectory.losses)))
        np.testing.assert_array_equal(losses, trajectory.losses)
        np.testing.assert_array_equal(np.column_stack(figure.end_markers[slot].get_data()), trajectory.path[-1:])
        assert figure.path_lines[slot].get_label() == trajectory.label
    assert [text.get_text() for text in figure.ax_loss.get_legend().get_texts()] == [t.label for t in trajectories]
    np.testing.assert_array_equal(np.column_stack(figure.minima_marker.get_data()), landscape.minima.numpy())
    assert figure.ax_loss.get_yscale() == "log"
    low, high = figure.ax_loss.get_ylim()
    positive = np.concatenate([t.losses for t in trajectories])
    assert low <= positive.max() <= high and low > 0


def test_show_reuses_artists_and_hides_unused_slots(landscape):
    figure = PathFigure(landscape)
    contour = figure.contour
    figure.show([run(landscape, torch.optim.SGD, steps=20, lr=lr) for lr in (0.1, 0.5, 1.0)])
    lines = list(figure.path_lines), list(figure.loss_lines), list(figure.end_markers)
    count_before = len(figure.ax_paths.lines), len(figure.ax_loss.lines)
    second = [run(landscape, torch.optim.SGD, steps=30, lr=0.3)]
    figure.show(second)
    assert (list(figure.path_lines), list(figure.loss_lines), list(figure.end_markers)) == lines
    assert all(a is b for a, b in zip(figure.path_lines, lines[0]))
    assert (len(figure.ax_paths.lines), len(figure.ax_loss.lines)) == count_before
    assert figure.contour is contour and contour in figure.ax_paths.collections + list(figure.ax_paths.get_children())
    assert figure.path_lines[0].get_visible()
    assert not any(line.get_visible() for line in figure.path_lines[1:] + figure.loss_lines[1:])
    np.testing.assert_array_equal(np.column_stack(figure.path_lines[0].get_data()), second[0].path)
    assert [text.get_text() for text in figure.ax_loss.get_legend().get_texts()] == [second[0].label]


def test_divergence_is_written_on_the_plot_and_cleared_afterwards(landscape):
    figure = PathFigure(landscape)
    diverged = run(landscape, torch.optim.SGD, steps=200, lr=2.5)
    fine = run(landscape, torch.optim.SGD, steps=200, lr=0.5)
    assert diverged.diverged
    figure.show([fine, diverged])
    assert visible_texts(figure.ax_paths) == [f"SGD lr=2.5: diverged at step {diverged.diverged_at}"]
    xs, _ = figure.path_lines[1].get_data()
    assert len(xs) == diverged.diverged_at and np.isfinite(xs).all()
    figure.fig.canvas.draw()  # a diverged run must not break drawing
    figure.show([fine])
    assert visible_texts(figure.ax_paths) == []


def test_set_landscape_redraws_only_for_a_different_landscape(landscape):
    figure = PathFigure(landscape)
    contour = figure.contour
    assert figure.set_landscape(quadratic(condition_number=10.0)) is False
    assert figure.contour is contour
    assert figure.set_landscape(rosenbrock()) is True
    assert figure.contour is not contour
    assert contour not in figure.ax_paths.get_children(), "the old contour must be removed"
    assert figure.ax_paths.get_xlim() == rosenbrock().xlim
    np.testing.assert_array_equal(np.column_stack(figure.minima_marker.get_data()), [[1.0, 1.0]])
    new_contour = figure.contour
    figure.show([run(rosenbrock(), torch.optim.Adam, steps=10, lr=0.1)], landscape=rosenbrock())
    assert figure.contour is new_contour


def test_noisy_landscape_draws_the_noise_free_contour():
    base = rosenbrock()
    figure = PathFigure(noisy(base, sigma=3.0))
    reference = PathFigure(base)
    np.testing.assert_array_equal(figure.contour.levels, reference.contour.levels)
    # Changing only the noise keeps the contour and updates the title.
    contour = figure.contour
    assert figure.set_landscape(noisy(base, sigma=1.0, seed=5)) is False
    assert figure.contour is contour and "σ=1" in figure.ax_paths.get_title()
    assert figure.set_landscape(noisy(beale(), sigma=1.0)) is True


def test_saddle_losses_go_negative_and_the_axis_follows():
    trajectory = run(saddle(), torch.optim.SGD, steps=300, lr=0.1)
    figure = PathFigure(saddle())
    figure.show([trajectory])
    assert figure.ax_loss.get_yscale() == "symlog"
    low, high = figure.ax_loss.get_ylim()
    assert low <= trajectory.losses.min() and high >= trajectory.losses.max()
    assert len(figure.minima_marker.get_data()[0]) == 0
    figure.show([run(quadratic(), torch.optim.SGD, steps=10, lr=0.1)], landscape=quadratic())
    assert figure.ax_loss.get_yscale() == "log"


def grid_values(landscape, points=100):
    xs = torch.linspace(*landscape.xlim, points, dtype=torch.float64)
    ys = torch.linspace(*landscape.ylim, points, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
    return landscape(grid).numpy()


@pytest.mark.parametrize("make_landscape", [rosenbrock, beale])
def test_contour_levels_are_log_spaced_when_values_span_decades(make_landscape):
    values = grid_values(make_landscape())
    levels, is_log = contour_levels(values)
    assert is_log and levels[0] > 0
    np.testing.assert_allclose(np.diff(np.log(levels)), np.log(levels[1] / levels[0]), rtol=1e-9)
    assert values.min() <= levels[0] < levels[-1] <= values.max()
    # The basin, where the paths run (losses below 10 on both), gets several contours, although
    # the window's corners reach thousands (Rosenbrock) or 1e5 (Beale).
    assert (levels < 10.0).sum() >= 3
    levels, is_log = contour_levels(np.array([-2.0, 0.0, 2.0]))
    assert not is_log and np.allclose(np.diff(levels), levels[1] - levels[0])


def test_png_stays_small(landscape):
    figure = PathFigure(landscape)
    figure.show([run(landscape, torch.optim.SGD, steps=200, lr=lr) for lr in (0.3, 1.9, 2.1)])
    buffer = io.BytesIO()
    figure.fig.savefig(buffer, format="png")
    assert buffer.tell() < 120_000


def test_one_shot_helpers(landscape):
    trajectories = [run(landscape, torch.optim.SGD, steps=50, lr=0.5), run(landscape, torch.optim.SGD, steps=50, lr=3.0)]
    ax = plot_paths(landscape, trajectories)
    drawn = [line for line in ax.lines if line.get_label() in {t.label for t in trajectories}]
    assert len(drawn) == 2
    np.testing.assert_array_equal(np.column_stack(drawn[1].get_data()), trajectories[1].path)
    assert visible_texts(ax) == [f"SGD lr=3: {trajectories[1].message}"]
    ax = plot_losses(trajectories)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), trajectories[0].losses)
    assert ax.get_yscale() == "log" and "diverged at step" in ax.lines[1].get_label()


def test_show_accepts_one_trajectory_or_none(landscape):
    figure = PathFigure(landscape)
    trajectory = run(landscape, torch.optim.SGD, steps=10, lr=0.5)
    figure.show(trajectory)
    np.testing.assert_array_equal(np.column_stack(figure.path_lines[0].get_data()), trajectory.path)
    figure.show([])
    assert not any(line.get_visible() for line in figure.path_lines + figure.loss_lines)
    assert figure.ax_loss.get_legend() is None
    figure.fig.canvas.draw()


def test_show_asks_interactive_canvases_to_repaint_and_leaves_agg_to_display(landscape, monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = PathFigure(landscape)
    trajectories = [run(landscape, torch.optim.SGD, steps=10, lr=0.5)]
    renders = []
    monkeypatch.setattr(FigureCanvasAgg, "draw", lambda canvas, *args, **kwargs: renders.append(canvas))
    figure.show(trajectories)
    assert renders == [], "on Agg (tests, inline backend) show() must not render the whole figure"

    class InteractiveCanvas(FigureCanvasAgg):
        requests = 0

        def draw_idle(self, *args, **kwargs):
            InteractiveCanvas.requests += 1

    InteractiveCanvas(figure.fig)
    figure.show(trajectories)
    assert InteractiveCanvas.requests == 1
