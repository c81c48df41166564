"""The browser-side figure (course_lib.ui.figure_view) and the panel's coalescing of slider values.

Positions in a scene are checked against axis geometry computed here by hand (linear and log
axes), not against matplotlib's transforms that scene_of itself uses; paths against torch.optim.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from course_lib.ui.figure_view import FigureView, mark_steps, scene_of, tick_label  # noqa: E402
from course_lib.experiments.trajectories import Trajectory  # noqa: E402
from course_lib.ui.slider_panel import SliderPanel, float_slider, lr_slider  # noqa: E402


def xy(points):
    values = np.array([np.nan if v is None else v for v in points], dtype=float)
    return values.reshape(-1, 2)


def two_axes_figure():
    fig = Figure(figsize=(6, 3), dpi=80)
    ax_lin, ax_log = fig.subplots(1, 2)
    ax_lin.set_xlim(0, 10)
    ax_lin.set_ylim(-1, 1)
    ax_log.set_yscale("log")
    ax_log.set_xlim(0, 4)
    ax_log.set_ylim(1e-4, 1e2)
    return fig, ax_lin, ax_log


def test_line_points_land_where_the_axis_geometry_puts_them():
    fig, ax_lin, ax_log = two_axes_figure()
    ax_lin.plot([0, 5, 10], [-1, 0, 0.5])
    ax_log.plot([0, 1, 2, 3], [1e-4, 1e-2, 1.0, 1e2])
    scene = scene_of(fig)
    height = fig.bbox.height
    for entry, ax in zip(scene["axes"], (ax_lin, ax_log)):
        x0, y0, x1, y1 = ax.bbox.extents
        assert entry["box"] == pytest.approx([x0, height - y1, x1, height - y0], abs=0.06)
    lin = xy(scene["axes"][0]["lines"][0]["points"])
    x0, y0, x1, y1 = ax_lin.bbox.extents
    expected_x = x0 + np.array([0, 5, 10]) / 10 * (x1 - x0)
    expected_y = height - (y0 + (np.array([-1, 0, 0.5]) + 1) / 2 * (y1 - y0))
    np.testing.assert_allclose(lin[:, 0], expected_x, atol=0.06)
    np.testing.assert_allclose(lin[:, 1], expected_y, atol=0.06)
    log = xy(scene["axes"][1]["lines"][0]["points"])
    x0, y0, x1, y1 = ax_log.bbox.extents
    decades = (np.log10([1e-4, 1e-2, 1.0, 1e2]) + 4) / 6  # the axis spans 1e-4 .. 1e2
    np.testing.assert_allclose(log[:, 1], height - (y0 + decades * (y1 - y0)), atol=0.06)


def test_ticks_are_only_those_on_the_axis_and_read_as_text():
    fig, _, ax_log = two_axes_figure()
    ax_log.plot([0, 1], [1e-3, 1e1])
    scene = scene_of(fig)
    labels = [label for _, label in scene["axes"][1]["y"]["major"]]
    assert labels[0] == "10⁻⁴" and labels[-1] == "10²" and "10⁰" in labels
    assert all(label.startswith("10") for label in labels)
    json.dumps(scene, allow_nan=False)  # plain JSON: no NaN, no numpy types left unconverted


@pytest.mark.parametrize("mathtext, plain", [
    (r"$\mathdefault{10^{-3}}$", "10⁻³"),
    (r"$\mathdefault{2\times10^{0}}$", "2×10⁰"),
    (r"$\mathdefault{-10^{2}}$", "-10²"),
    ("0.5", "0.5"),
    ("−1.0", "−1.0"),
])
def test_tick_labels_lose_their_mathtext(mathtext, plain):
    assert tick_label(mathtext) == plain


def test_non_finite_points_become_gaps_not_nan():
    fig = Figure(figsize=(4, 3), dpi=80)
    ax = fig.add_subplot()
    ax.set_yscale("log", nonpositive="mask")
    ax.plot([0, 1, 2, 3], [1.0, np.nan, 0.0, np.inf])
    ax.set_ylim(0.1, 10)
    scene = scene_of(fig)
    points = scene["axes"][0]["lines"][0]["points"]
    assert points[2:4] == [None, None]
    assert all(v is None or math.isfinite(v) for v in points)
    json.dumps(scene, allow_nan=False)


def test_a_band_is_a_vector_fill_in_axis_pixels_not_a_background():
    """fill_between on a log axis: its polygon's corners land where the axis puts them (by
    hand), in its colour and alpha, and the axes needs no background PNG for it."""
    fig, _, ax_log = two_axes_figure()
    x0, y0, x1, y1 = ax_log.bbox.extents
    height = fig.bbox.height
    ax_log.fill_between([1.0, 3.0], [1e-2, 1e-2], [1.0, 10.0], color="C1", alpha=0.2, lw=0)
    scene = scene_of(fig)
    entry = scene["axes"][1]
    assert entry["bg"] is None
    (fill,) = entry["fills"]
    assert fill["color"] == "#ff7f0e33"

    def pixel(x, y):  # x linear on (0, 4), y log on (1e-4, 1e2)
        return (x0 + (x1 - x0) * x / 4, height - (y0 + (y1 - y0) * (math.log10(y) + 4) / 6))

    corners = {tuple(round(v) for v in p) for p in xy(fill["points"]) if np.isfinite(p).all()}
    for x, y in ((1.0, 1e-2), (3.0, 1e-2), (3.0, 10.0), (1.0, 1.0)):
        assert tuple(round(v) for v in pixel(x, y)) in corners
    json.dumps(scene, allow_nan=False)


def gd_trajectory(lr, steps=30, diverge=False):
    """torch.optim.SGD on ½(x² + 10 y²) from (-1.5, 1.5)."""
    p = torch.tensor([-1.5, 1.5], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    path, losses = [p.detach().clone().numpy()], []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (p[0] ** 2 + 10 * p[1] ** 2)
        losses.append(float(loss.detach()))
        loss.backward()
        opt.step()
        path.append(p.detach().clone().numpy())
    losses.append(float(0.5 * (p[0] ** 2 + 10 * p[1] ** 2)))
    path = np.array(path)
    if diverge:
        return Trajectory("GD", path, np.array(losses), True, steps, f"diverged at step {steps}")
    return Trajectory("GD", path, np.array(losses))


def test_play_marks_prefix_lines_end_markers_and_late_divergence_messages():
    from course_lib.problems.landscapes import get_landscape
    from course_lib.ui.plots import PathFigure

    figure = PathFigure(get_landscape("quadratic", condition_number=10))
    fine, wild = gd_trajectory(0.05, 20), gd_trajectory(0.21, 12, diverge=True)
    figure.show([fine, wild])
    scene = scene_of(figure.fig)
    last = mark_steps(scene, [fine, wild])
    assert last == 20
    paths, losses = scene["axes"]
    prefix = [line for line in paths["lines"] if line.get("reveal") == "prefix"]
    assert sorted(line["n"] for line in prefix) == [13, 21]
    assert sorted(line["n"] for line in losses["lines"] if line.get("reveal") == "prefix") == [13, 21]
    followers = [line for line in paths["lines"] if "follow" in line]
    assert len(followers) == 2  # the two end markers
    for marker in followers:
        assert paths["lines"][marker["follow"]]["points"][-2:] == marker["points"]
    message = [t for t in paths["texts"] if "diverged" in t["text"]]
    assert [t["from_step"] for t in message] == [12]
    # the minimum's star and the start dots are not revealed step by step
    assert all("reveal" not in line and "follow" not in line
               for line in paths["lines"] if line["marker"] in ("*", "o"))


def test_the_contour_is_rasterised_once_per_landscape():
    from course_lib.ui.panels import momentum

    panel = momentum.momentum_panel()
    panel.update()  # momentum_panel moves its axes after building the panel: a new layout
    view = panel.view
    first = dict(view.images)
    assert len(first) == 1 and next(iter(first.values())).startswith("data:image/png;base64,")
    panel.update(lr=0.3)
    panel.update(momentum=0.9)
    assert view.images == first, "moving lr or β must not re-render the contour"
    panel.update(landscape="rosenbrock")
    assert set(view.images) != set(first) and len(view.images) == 1
    panel.update(landscape="quadratic")
    assert view.images == first  # back to the cached background, nothing re-rendered
    png = base64.b64decode(next(iter(first.values())).split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_panel_scene_holds_the_torch_path_of_the_slider_values():
    from course_lib.ui.panels import momentum

    panel = momentum.momentum_panel()
    panel.update(landscape="quadratic", lr=0.2, momentum=0.9)
    line = panel.figure.path_lines[0]
    expected = line.get_transform().transform(np.column_stack(line.get_data()))
    scene_line = next(entry for entry in panel.view.scene["axes"][0]["lines"] if entry["n"] == len(expected)
                      and entry["color"].startswith("#1f77b4"))
    got = xy(scene_line["points"])
    np.testing.assert_allclose(got[:, 0], expected[:, 0], atol=0.06)
    # and that path is torch's heavy ball on the panel's landscape
    surface = momentum.panel_landscape("quadratic")
    p = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.2, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        surface(p).backward()
        opt.step()
    np.testing.assert_allclose(line.get_data()[0][3], float(p[0]), rtol=1e-9)
    np.testing.assert_allclose(line.get_data()[1][3], float(p[1]), rtol=1e-9)


def make_panel():
    calls = []

    def compute(lr, curvature):
        calls.append((lr, curvature))
        xs = (1 - lr * curvature) ** np.arange(11)
        return [Trajectory("GD", np.column_stack([xs, xs]), 0.5 * curvature * xs**2)]

    figure_holder = Figure(figsize=(4, 3))
    ax = figure_holder.add_subplot()

    class Lines:
        fig = figure_holder

        def show(self, trajectories):
            for line in list(ax.lines):
                line.remove()
            for t in trajectories:
                ax.plot(t.path[:, 0], t.path[:, 1])

    panel = SliderPanel(compute, {"lr": lr_slider(0.1, min_exp=-3, max_exp=0),
                                  "curvature": float_slider(1.0, 0.5, 2.0, 0.1, "L")}, figure=Lines())
    return panel, calls


def browser_sets(slider, value):
    """What ipywidgets does with a value that arrives from the front end."""
    with slider._lock_property(value=value), slider.hold_trait_notifications():
        slider.value = value


def test_values_from_the_browser_are_coalesced_into_one_redraw_with_the_latest():
    panel, calls = make_panel()

    async def drag():
        before = len(calls)
        for value in (0.2, 0.3, 0.4, 0.5):
            browser_sets(panel.sliders["lr"], value)
        assert len(calls) == before, "nothing is computed while values are still arriving"
        await asyncio.sleep(0.05)
        assert calls[before:] == [(0.5, 1.0)], "one redraw, with the latest value"

    asyncio.run(drag())
    assert panel.values["lr"] == 0.5
    assert panel.view.scene["axes"][0]["lines"][0]["n"] == 11


def test_a_dropdown_choice_from_the_browser_is_coalesced_too():
    import ipywidgets as widgets

    calls = []
    holder = Figure(figsize=(3, 2))
    holder.add_subplot().plot([0, 1], [0, 1])

    class Still:
        fig = holder

        def show(self, trajectories):
            pass

    picker = widgets.Dropdown(options=["a", "b", "c"], value="a")
    panel = SliderPanel(lambda name: calls.append(name) or [], {"name": picker}, figure=Still())

    async def choose():
        before = len(calls)
        for index in (1, 2):
            # the browser sends the option's index; `value` follows inside the same lock
            with picker._lock_property(index=index), picker.hold_trait_notifications():
                picker.index = index
        assert len(calls) == before
        await asyncio.sleep(0.05)
        assert calls[before:] == ["c"]

    asyncio.run(choose())


def test_flush_runs_the_pending_redraw_now_and_code_set_values_redraw_at_once():
    panel, calls = make_panel()

    async def move():
        before = len(calls)
        browser_sets(panel.sliders["curvature"], 2.0)
        panel.flush()
        assert calls[before:] == [(0.1, 2.0)]
        await asyncio.sleep(0.02)
        assert calls[before:] == [(0.1, 2.0)], "the cancelled timer must not redraw again"
        panel.sliders["lr"].value = 0.3  # set by code in a cell: immediate
        assert calls[-1] == (0.3, 2.0)

    asyncio.run(move())


def test_static_png_and_the_mimebundle_for_viewers_without_the_widget(monkeypatch):
    panel, _ = make_panel()
    bundle = panel._repr_mimebundle_()
    assert "run this cell to make the panel live" in bundle["text/plain"]
    assert "image/png" not in bundle  # live JupyterLab: no PNG rendered per display
    monkeypatch.setenv("COURSE_PANEL_STATIC_PNG", "1")
    bundle = panel._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"
    assert not [t for t in panel.fig.texts if "Static picture" in t.get_text()], "the note is removed again"


def test_figure_view_answers_the_saved_copy_ping():
    view = FigureView()
    sent = []
    view.send = sent.append
    view._on_frontend_msg(view, {"type": "ping"}, [])
    assert sent == [{"type": "pong"}]


def test_render_png_keeps_the_old_output_path():
    panel, _ = make_panel()
    png_panel = SliderPanel(panel.compute, {"lr": lr_slider(0.1, min_exp=-3, max_exp=0),
                                            "curvature": float_slider(1.0, 0.5, 2.0, 0.1, "L")},
                            figure=panel.figure, render="png")
    assert png_panel.view is None
    with pytest.raises(ValueError, match="render must be"):
        SliderPanel(panel.compute, {}, figure=panel.figure, render="svg")


def test_a_figure_the_view_cannot_describe_falls_back_to_png(monkeypatch):
    import course_lib.ui.figure_view as figure_view

    def broken(fig, backgrounds=None):
        raise TypeError("an artist the scene does not know")

    monkeypatch.setattr(figure_view, "scene_of", broken)
    with pytest.warns(RuntimeWarning, match="showing PNGs instead"):
        panel, calls = make_panel()
    assert panel.view is None
    panel.update(lr=0.2)  # keeps working on the PNG path
    assert calls[-1] == (0.2, 1.0)
