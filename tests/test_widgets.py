"""SliderPanel: the pure update path, slider wiring, step reveal and error reporting.

The figure here is a tiny matplotlib figure with one line per trajectory, so these tests pin
down the panel's machinery independently of course_lib.ui.plots; the panels' own tests check the
real figures against torch.optim.
"""

from __future__ import annotations


import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

matplotlib.use("Agg")

from course_lib.experiments.trajectories import Trajectory  # noqa: E402
from course_lib.ui.slider_panel import (  # noqa: E402
    SliderPanel,
    float_slider,
    int_slider,
    lr_slider,
    truncate_trajectory,
)


def torch_gd_on_parabola(lr: float, curvature: float, steps: int, start: float = 1.0) -> Trajectory:
    """torch.optim.SGD on f(x) = ½·L·x², the reference the panel's figure must match."""
    x = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr)
    points = [x.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * curvature * x**2).sum().backward()
        optimizer.step()
        points.append(x.detach().clone())
    xs = torch.stack(points).numpy()
    xs = np.hstack([xs, np.zeros_like(xs)])
    return Trajectory("SGD", xs, 0.5 * curvature * xs[:, 0] ** 2)


class LineFigure:
    """A figure object with the PathFigure surface the panel uses: fig, show, set_landscape."""

    def __init__(self):
        self.fig = Figure()
        self.ax = self.fig.add_subplot()
        self.shown_calls = 0
        self.landscapes_set: list = []

    def show(self, trajectories):
        self.shown_calls += 1
        for line in list(self.ax.lines):
            line.remove()
        for t in trajectories:
            self.ax.plot(t.path[:, 0], t.path[:, 1], label=t.label)

    def set_landscape(self, landscape):
        self.landscapes_set.append(landscape)


def make_panel(**kwargs):
    calls = []

    def compute(lr, curvature, steps):
        calls.append((lr, curvature, steps))
        if lr <= 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        return [torch_gd_on_parabola(lr, curvature, steps)]

    sliders = {
        "lr": lr_slider(0.1, min_exp=-3, max_exp=1),
        "curvature": float_slider(1.0, 0.1, 10.0, 0.1, "L"),
        "steps": int_slider(20, 1, 200, "steps"),
    }
    panel = SliderPanel(compute, sliders, figure=LineFigure(), **kwargs)
    return panel, calls


def test_construction_draws_the_initial_slider_values():
    panel, calls = make_panel()
    assert calls == [(0.1, 1.0, 20)]
    (line,) = panel.figure.ax.lines
    expected = torch_gd_on_parabola(0.1, 1.0, 20).path
    np.testing.assert_allclose(line.get_xdata(), expected[:, 0])


@pytest.mark.parametrize("lr", [0.05, 0.5, 1.5, 2.5])
def test_update_redraws_the_torch_trajectory(lr):
    panel, _ = make_panel()
    trajectories = panel.update(lr=lr, curvature=1.0)
    expected = torch_gd_on_parabola(lr, 1.0, 20).path
    np.testing.assert_allclose(trajectories[0].path, expected)
    (line,) = panel.figure.ax.lines
    np.testing.assert_allclose(line.get_xdata(), expected[:, 0])
    # the x-iterates of GD on ½Lx² are (1 − ηL)^k · x0: the closed form, not just torch's word
    np.testing.assert_allclose(line.get_xdata(), (1 - lr) ** np.arange(21), rtol=1e-12)


def test_update_fills_missing_values_from_the_sliders_and_moves_the_sliders():
    panel, calls = make_panel()
    panel.update(lr=0.3)
    assert calls[-1] == (pytest.approx(0.3), 1.0, 20)
    assert panel.sliders["lr"].value == pytest.approx(0.3)
    assert panel.values == {"lr": 0.3, "curvature": 1.0, "steps": 20}


def test_moving_a_slider_recomputes_once():
    panel, calls = make_panel()
    n_before = len(calls)
    panel.sliders["steps"].value = 5
    assert len(calls) == n_before + 1
    assert len(panel.trajectories[0].path) == 6
    # update() writing a value back into a slider must not trigger a second computation
    panel.update(steps=7)
    assert len(calls) == n_before + 2


def test_unknown_slider_name_is_a_clear_error():
    panel, _ = make_panel()
    with pytest.raises(ValueError, match="unknown slider.*momentum.*this panel has: lr, curvature, steps"):
        panel.update(momentum=0.9)


def test_compute_value_error_is_shown_in_the_panel_not_raised():
    panel, _ = make_panel()
    good_line = panel.figure.ax.lines[0].get_xdata().copy()
    assert panel.update(lr=0.0) == []
    assert panel.error == "Invalid learning rate: 0.0"
    assert "Invalid learning rate" in panel.status.value
    # the last good drawing stays
    np.testing.assert_allclose(panel.figure.ax.lines[0].get_xdata(), good_line)
    # and the next good value clears the message
    panel.update(lr=0.1)
    assert panel.error == "" and panel.status.value == ""


def test_caption_is_written_on_the_figure():
    panel, _ = make_panel(caption=lambda values, trajectories: f"η·L = {values['lr'] * values['curvature']:.2f}")
    panel.update(lr=0.5, curvature=3.0)
    assert panel.caption_artist.get_text() == "η·L = 1.50"
    assert panel.caption_artist in panel.fig.texts


def test_play_reveals_stored_steps_without_recomputing():
    panel, calls = make_panel(play=True)
    n_calls = len(calls)
    assert panel.step_slider.max == 20 and panel.step_slider.value == 20
    panel.step_slider.value = 3
    assert len(calls) == n_calls
    (line,) = panel.figure.ax.lines
    np.testing.assert_allclose(line.get_xdata(), 0.9 ** np.arange(4))
    # a new computation shows the whole new path and resets the step controls to it
    panel.update(steps=10)
    assert panel.step_slider.max == 10 and panel.step_slider.value == 10
    assert panel.play.max == 10


def test_truncation_hides_divergence_until_it_is_reached():
    diverged = Trajectory("SGD", np.zeros((8, 2)), np.zeros(8), True, 7, "diverged at step 7")
    early = truncate_trajectory(diverged, 3)
    assert len(early.path) == 4 and len(early.losses) == 4
    assert (early.diverged, early.diverged_at, early.message) == (False, None, "")
    assert truncate_trajectory(diverged, 7) is diverged
    with pytest.raises(ValueError, match="steps must be >= 0"):
        truncate_trajectory(diverged, -1)


def test_landscape_factory_switches_the_contour_only_when_it_changes():
    landscapes = {}

    class FakeLandscape:
        def __init__(self, kappa):
            self.kappa, self.xlim, self.ylim = kappa, (-1, 1), (-1, 1)

        def grad(self, xy):
            return xy

    def landscape_for(kappa, lr):
        return landscapes.setdefault(kappa, FakeLandscape(kappa))

    figure = LineFigure()
    panel = SliderPanel(
        lambda kappa, lr: [torch_gd_on_parabola(lr, kappa, 5)],
        {"kappa": float_slider(2.0, 1.0, 10.0, 1.0, "κ"), "lr": lr_slider(0.1)},
        landscape=landscape_for,
        figure=figure,
    )
    assert [l.kappa for l in figure.landscapes_set] == [2.0]
    panel.update(lr=0.2)
    assert [l.kappa for l in figure.landscapes_set] == [2.0]
    panel.update(kappa=5.0)
    assert [l.kappa for l in figure.landscapes_set] == [2.0, 5.0]


def test_widget_box_and_display():
    panel, _ = make_panel(play=True, title="GD on a parabola")
    assert isinstance(panel.widget, widgets.VBox)
    contained = set()
    stack = [panel.widget]
    while stack:
        w = stack.pop()
        contained.add(id(w))
        stack.extend(getattr(w, "children", ()))
    for w in [*panel.sliders.values(), panel.play, panel.step_slider, panel.output, panel.status]:
        assert id(w) in contained
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="compute must be callable"):
        SliderPanel(None, {}, figure=LineFigure())
    with pytest.raises(ValueError, match="sliders must be a mapping"):
        SliderPanel(lambda: [], [lr_slider()], figure=LineFigure())
    with pytest.raises(ValueError, match="slider 'lr' must be an ipywidgets value widget"):
        SliderPanel(lambda lr: [], {"lr": 0.1}, figure=LineFigure())
    with pytest.raises(ValueError, match="needs a landscape"):
        SliderPanel(lambda lr: [], {"lr": lr_slider()})
    with pytest.raises(ValueError, match="outside"):
        lr_slider(100.0, max_exp=1)
