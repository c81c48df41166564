"""Slider panels: ipywidgets sliders tied to one persistent figure.

A :class:`SliderPanel` joins three things:

* ``compute(**slider_values) -> list[Trajectory]``: plain course_lib code that runs the
  optimizers for the current slider values (no widgets inside);
* ``sliders``: a mapping ``{keyword: ipywidgets widget}`` whose keys are ``compute``'s keywords;
* a figure that is built once and updated in place: a :class:`course_lib.ui.plots.PathFigure`
  (contour + paths | loss curves) by default, or any object with a ``fig`` (a matplotlib
  Figure) and a ``show(trajectories)`` method.

``panel.update(**values)`` recomputes and redraws with no widget in the loop, and returns the
trajectories, so tests call it with slider values and assert on the figure's data; the sliders
call the same method. ``panel.widget`` is the ipywidgets box a notebook shows, and
``display(panel)`` (or a panel as the last expression of a cell) shows it too.

Why the figure is persistent and drawn in the browser: re-rasterising a figure with a contour
takes 150-650 ms, far longer than the optimizer runs, so the panel keeps one matplotlib figure
as the *model* (it moves its path and loss artists in place, and tests read them) and a
:class:`course_lib.ui.figure_view.FigureView` draws it on a canvas in the browser from its data:
the contour is a PNG made once per landscape, the paths, curves, ticks and texts are vectors.
Play and the step slider reveal the already-sent steps in the browser, with no kernel round
trip per frame. Figures the view cannot draw (3-D or polar axes), or ``render="png"``, use the
older path: the whole figure as a PNG in an ``ipywidgets.Output``.

Why sliders update while dragging without a backlog: slider values arrive continuously
(``continuous_update=True``); in a kernel, a value from the browser only marks the panel
"pending" and schedules one redraw on the kernel's event loop a few milliseconds later, so a
burst of values that queued up during a slow redraw costs one redraw, with the latest values.
Code that sets a slider in a cell (``panel.sliders["lr"].value = 0.1``) redraws at once.

Why errors do not escape: a slider combination that ``compute`` rejects with a ``ValueError``
(say, a negative learning rate typed into a box) is reported as a message in the panel, and the
last good figure stays on screen. A diverging run is not an error at all: ``Trajectory`` marks it
and the figure writes the divergence message on the plot.

Example::

    panel = SliderPanel(
        lambda lr, landscape: [run(get_landscape(landscape), SGD, lr=lr, steps=100)],
        {"lr": lr_slider(0.01), "landscape": landscape_picker("rosenbrock")},
        play=True,
    )
    panel            # shows the sliders, a Play button and the figure
    panel.update(lr=0.002)   # what the sliders do, callable from a test
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import html
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython import get_ipython
from IPython.display import clear_output, display
from matplotlib.figure import Figure

__all__ = [
    "SliderPanel",
    "lr_slider",
    "float_slider",
    "int_slider",
    "landscape_picker",
    "truncate_trajectory",
]

# The name of the slider that picks the landscape; when a panel has one and no `landscape`
# argument, the panel looks the landscape up with course_lib.problems.landscapes.get_landscape.
LANDSCAPE_KEY = "landscape"

# How long a value from the browser waits for a newer one before the panel redraws. Values
# that queued up while the kernel was busy arrive microseconds apart, so they all land within
# this window and cost one redraw; a single move waits only this long.
COALESCE_S = 0.004

# Set by course_lib.exercises.notebook_runner in the kernels it starts: each panel's display then also
# carries a PNG of its first figure, which the runner stores in place of the live widget.
STATIC_FALLBACK_ENV = "COURSE_PANEL_STATIC_PNG"
STATIC_NOTE = "Static picture of the panel: run this cell (or Run All) to make its sliders live."


# --------------------------------------------------------------------------------------------
# Slider factories: the same look and the same "redraw while dragging" behaviour everywhere.
# --------------------------------------------------------------------------------------------

_STYLE = {"description_width": "initial"}


def slider_notches(widget: widgets.Widget) -> list:
    """Every value a FloatLogSlider, FloatSlider or IntSlider can hold in the browser: its notches
    ``min + k·step`` (a FloatLogSlider's: ``base ** (min + k·step)``).

    The browser moves a value set between two notches (by ``panel.update`` or a button) to a
    notch and sends that back to the kernel, so a value meant to stay, such as a preset, must be
    one of these (the browser's own arithmetic may put a log slider's notch a few ulps away).
    A TypeError for any other widget.
    """
    if isinstance(widget, widgets.FloatLogSlider):
        count = round((widget.max - widget.min) / widget.step)
        return [widget.base ** (widget.min + k * widget.step) for k in range(count + 1)]
    if isinstance(widget, widgets.FloatSlider):
        count = round((widget.max - widget.min) / widget.step)
        return [widget.min + k * widget.step for k in range(count + 1)]
    if isinstance(widget, widgets.IntSlider):
        return list(range(widget.min, widget.max + 1, widget.step))
    raise TypeError(f"a {type(widget).__name__} has no notches")


def _check_preset_value(description: str, name: str, widget: widgets.Widget, value) -> None:
    """A ValueError unless ``widget`` holds ``value`` as it is (a notch, an option)."""
    if isinstance(widget, (widgets.Dropdown, widgets.SelectionSlider)):
        options = [option for _, option in widget._options_full]
        if value not in options:
            raise ValueError(f"preset {description!r}: {name}={value!r} is not one of {options}")
        return
    try:
        notches = slider_notches(widget)
    except TypeError:
        return
    if not any(math.isclose(value, notch, rel_tol=1e-12, abs_tol=1e-15) for notch in notches):
        nearest = sorted(notches, key=lambda notch: abs(notch - value))[:2]
        raise ValueError(f"preset {description!r}: {name}={value!r} is not a notch of its slider (the nearest "
                         f"are {', '.join(f'{n:.6g}' for n in sorted(nearest))}); the browser would move it "
                         f"to the nearest notch")


def lr_slider(
    value: float = 0.01,
    *,
    min_exp: float = -4.0,
    max_exp: float = 1.0,
    description: str = "lr η",
    step: float = 0.05,
) -> widgets.FloatLogSlider:
    """A log-scale learning-rate slider over ``10**min_exp … 10**max_exp``.

    Learning rates that matter differ by orders of magnitude, so equal slider distances are
    equal *ratios*. ``continuous_update=True``: the panel redraws while the handle is
    dragged; :class:`SliderPanel` coalesces the values, so dragging never queues up a backlog.
    """
    if not 10**min_exp <= value <= 10**max_exp:
        raise ValueError(
            f"lr_slider value {value} is outside [1e{min_exp:g}, 1e{max_exp:g}]"
        )
    return widgets.FloatLogSlider(
        value=value,
        base=10,
        min=min_exp,
        max=max_exp,
        step=step,
        description=description,
        readout_format=".3g",
        continuous_update=True,
        style=_STYLE,
    )


def float_slider(
    value: float, min: float, max: float, step: float, description: str, *, log: bool = False
) -> widgets.FloatSlider | widgets.FloatLogSlider:
    """A float slider that redraws while dragged; ``log=True`` makes it log10-scaled
    (then ``min``/``max`` are the values themselves, not exponents)."""
    if not min <= value <= max:
        raise ValueError(f"{description} slider value {value} is outside [{min}, {max}]")
    if log:
        import math

        if min <= 0:
            raise ValueError(f"{description} log slider needs min > 0, got {min}")
        return widgets.FloatLogSlider(
            value=value, base=10, min=math.log10(min), max=math.log10(max), step=step,
            description=description, readout_format=".3g", continuous_update=True, style=_STYLE,
        )
    return widgets.FloatSlider(
        value=value, min=min, max=max, step=step, description=description,
        readout_format=".3g", continuous_update=True, style=_STYLE,
    )


def int_slider(value: int, min: int, max: int, description: str, *, step: int = 1) -> widgets.IntSlider:
    """An integer slider that redraws while dragged."""
    if not min <= value <= max:
        raise ValueError(f"{description} slider value {value} is outside [{min}, {max}]")
    return widgets.IntSlider(
        value=value, min=min, max=max, step=step, description=description,
        continuous_update=True, style=_STYLE,
    )


def landscape_picker(value: str = "rosenbrock", names=None, description: str = "landscape") -> widgets.Dropdown:
    """A Dropdown over landscape names (default: every name in ``course_lib.problems.landscapes.LANDSCAPES``).

    Put it in a panel's ``sliders`` under the key ``"landscape"``.
    """
    if names is None:
        from course_lib.problems.landscapes import LANDSCAPES

        names = list(LANDSCAPES)
    names = list(names)
    if value not in names:
        raise ValueError(f"landscape {value!r} is not one of {names}")
    return widgets.Dropdown(options=names, value=value, description=description, style=_STYLE)


# --------------------------------------------------------------------------------------------
# Step-by-step reveal
# --------------------------------------------------------------------------------------------


def truncate_trajectory(trajectory, steps: int):
    """The first ``steps`` steps of a trajectory (``steps + 1`` points, start included).

    A diverged trajectory cut before the point where it diverged is shown as not (yet)
    diverged, so the Play control reveals the divergence message when the path reaches it.
    Nothing is recomputed: this slices the stored arrays.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    n_points = len(trajectory.path)
    if steps + 1 >= n_points:
        return trajectory
    changes = {"path": trajectory.path[: steps + 1], "losses": trajectory.losses[: steps + 1]}
    if trajectory.diverged:
        changes.update(diverged=False, diverged_at=None, message="")
    if dataclasses.is_dataclass(trajectory):
        return dataclasses.replace(trajectory, **changes)
    clone = copy.copy(trajectory)
    for name, value in changes.items():
        setattr(clone, name, value)
    return clone


# --------------------------------------------------------------------------------------------
# The panel
# --------------------------------------------------------------------------------------------


def _is_landscape(obj) -> bool:
    # A Landscape is itself callable (it evaluates points), so tell it from a factory by its
    # attributes rather than by callable().
    return hasattr(obj, "grad") and hasattr(obj, "xlim") and hasattr(obj, "ylim")


def _matplotlib_figure(figure) -> Figure:
    if isinstance(figure, Figure):
        return figure
    for name in ("fig", "figure"):
        candidate = getattr(figure, name, None)
        if isinstance(candidate, Figure):
            return candidate
    raise ValueError(
        f"figure {type(figure).__name__} has no matplotlib Figure in .fig or .figure"
    )


class SliderPanel:
    """Sliders + one persistent figure, with a pure :meth:`update` that tests call.

    Parameters
    ----------
    compute:
        ``compute(**values) -> list[Trajectory]``; ``values`` has one entry per slider.
    sliders:
        ``{keyword: widget}``: any ipywidgets value widget (FloatLogSlider, IntSlider,
        Dropdown, Checkbox, ...). A key ``"landscape"`` holding a landscape name (see
        :func:`landscape_picker`) switches the figure's landscape.
    landscape:
        What the contour shows: a Landscape, a landscape name, or a function
        ``landscape(**values) -> Landscape`` for landscapes that depend on sliders (the
        quadratic's condition number). Left out, the ``"landscape"`` slider decides. Return the
        *same object* for the same arguments (cache the factory) so the contour is redrawn only
        when the landscape really changes.
    figure:
        Instead of a PathFigure, any object with ``fig`` (matplotlib Figure) and
        ``show(trajectories)``; used by panels that are not contour plots (the 1-D panel).
    caption:
        ``caption(values, trajectories) -> str``, a line of text written on the figure (the
        regime, the stability limit 2/L, the rate). Kept in ``panel.caption_artist``; the
        axes are lowered to leave room for ``caption_lines`` lines.
    play:
        Add a step slider and an ``ipywidgets.Play`` button that reveal the paths step by step
        from the stored trajectories (no recomputation).
    title:
        Bold text shown above the sliders.
    render:
        ``"browser"`` (default): draw the figure in the browser with
        :class:`course_lib.ui.figure_view.FigureView`; ``"png"``: re-render the whole figure as
        a PNG on every change (slow; for figures the browser view cannot draw, chosen
        automatically for 3-D and polar axes).
    prefetch:
        ``prefetch(values)``, for panels whose ``compute`` trains networks: called with the
        current slider values once the panel is live in a browser (its view's first message
        from the page), and again after every redraw a learner's move caused, so it can hand
        the settings a learner may pick next to :mod:`course_lib.ui.background` (nearest first).
        Never called by :meth:`update` from code, so running a notebook top to bottom (nbval,
        ``make run-notebook``) does exactly what it did without it.
    """

    def __init__(
        self,
        compute: Callable[..., list],
        sliders: Mapping[str, widgets.ValueWidget],
        *,
        landscape=None,
        figure=None,
        caption: Callable[[dict, list], str] | None = None,
        caption_lines: int = 2,
        play: bool = False,
        play_interval_ms: int | None = None,
        title: str = "",
        render: str = "browser",
        prefetch: Callable[[dict], None] | None = None,
    ):
        if not callable(compute):
            raise ValueError(f"compute must be callable, got {type(compute).__name__}")
        if not isinstance(sliders, Mapping):
            raise ValueError(
                "sliders must be a mapping {keyword: widget}, got " + type(sliders).__name__
            )
        for name, slider in sliders.items():
            if not isinstance(slider, widgets.ValueWidget):
                raise ValueError(
                    f"slider {name!r} must be an ipywidgets value widget, got {type(slider).__name__}"
                )
        if render not in ("browser", "png"):
            raise ValueError(f"render must be 'browser' or 'png', got {render!r}")
        if prefetch is not None and not callable(prefetch):
            raise ValueError(f"prefetch must be callable or None, got {type(prefetch).__name__}")
        self.compute = compute
        self.prefetch = prefetch
        self.sliders = dict(sliders)
        self.title = title
        self._pending_update = False  # a value from the browser waits for its redraw
        self._pending_step: int | None = None
        self._timer = None
        self.caption = caption
        self._landscape_spec = landscape
        self.landscape = None
        self.trajectories: list = []
        self.values: dict[str, Any] = {}
        self.error: str = ""
        self._syncing = False  # True while update() writes values back into the sliders

        if figure is None:
            first_landscape = self._resolve_landscape(self._slider_values())
            if first_landscape is None:
                raise ValueError(
                    "SliderPanel needs a landscape (argument or a 'landscape' slider) or a figure"
                )
            from course_lib.ui.plots import PathFigure

            figure = PathFigure(first_landscape)
            self.landscape = first_landscape
        self.figure = figure
        self.fig = _matplotlib_figure(figure)
        # The panel shows the figure itself; closing it in pyplot stops the inline backend from
        # also printing it under the cell that built the panel (a closed figure still renders).
        plt.close(self.fig)
        self.caption_artist = None
        if caption is not None:
            # 9 pt is 12 CSS px in the browser view, the smallest text the panels show.
            self.caption_artist = self.fig.text(0.5, 0.99, "", ha="center", va="top", fontsize=9)
            # Lower the axes by the caption's height (about 0.18 inch a line) so it sits above
            # the titles instead of on them.
            height_in = self.fig.get_figheight()
            top = self.fig.subplotpars.top - (caption_lines * 0.18 + 0.05) / height_in
            self.fig.subplots_adjust(top=top)

        # The browser view draws the figure; `output` holds the PNG in the fallback path.
        from course_lib.ui.figure_view import FigureView, can_draw

        self.output = widgets.Output()
        self.view = FigureView() if render == "browser" and can_draw(self.fig) else None
        self.status = widgets.HTML(value="")
        self.step_slider = None
        self._view_link = None  # step slider -> view (jsdlink), replaced by course_lib.web.live
        self.play = None
        controls: list[widgets.Widget] = list(self.sliders.values())
        if play:
            self.step_slider = widgets.IntSlider(
                value=0, min=0, max=1, description="step", continuous_update=True, style=_STYLE
            )
            # ipywidgets' Play waits `interval` after each step's work (jslink, the kernel
            # messages, the slider's layout, the drawing): 30 ms asked gave 21-25 steps a second
            # in JupyterLab. With a view, figure_view.js drives Play from the view: a step every
            # `interval` ms on the next animation frame (25 ms: up to 40 a second), the slider and
            # the kernel told every few steps. Without one each step is a kernel redraw: 30 ms.
            if play_interval_ms is None:
                play_interval_ms = 25 if self.view is not None else 30
            self.play = widgets.Play(value=0, min=0, max=1, interval=play_interval_ms, description="play")
            # The links run in the browser, so Play drives the step slider, and the step slider
            # the view, without a kernel round trip per frame. Slider -> view is one way: the
            # view's own Play steps (figure_view.js) must not move the slider at every frame.
            widgets.jslink((self.play, "value"), (self.step_slider, "value"))
            if self.view is not None:
                self._view_link = widgets.jsdlink((self.step_slider, "value"), (self.view, "step"))
                self.view.play_model = f"IPY_MODEL_{self.play.model_id}"
            self.step_slider.observe(self._on_step, names="value")
        for slider in self.sliders.values():
            slider.observe(self._on_slider, names="value")

        rows: list[widgets.Widget] = []
        if title:
            rows.append(widgets.HTML(f"<b>{html.escape(title)}</b>"))
        self.controls = widgets.HBox(controls, layout=widgets.Layout(flex_flow="row wrap"))
        self.presets: list[tuple[widgets.Button, dict[str, Any]]] = []  # add_preset's buttons
        rows.append(self.controls)
        if play:
            rows.append(widgets.HBox([self.play, self.step_slider]))
        rows += [self.status, self.output]
        if self.view is not None:
            rows.append(self.view)
        self.widget = widgets.VBox(rows)
        if self.view is not None and prefetch is not None:
            self.view.on_live.append(self._prefetch_safely)

        self.update()

    def add_control(self, control: widgets.Widget) -> None:
        """Put an extra widget (a button, say) at the end of the row of sliders."""
        self.controls.children = (*self.controls.children, control)

    def add_preset(self, description: str, values: dict[str, Any], **button_options) -> widgets.Button:
        """A button at the end of the row of sliders that moves the controls to ``values`` (a
        setting worth seeing, such as Polyak's optimum) and recomputes: ``panel.update(**values)``.

        The setting is fixed, so it is kept in ``panel.presets`` as ``(button, values)``: a live
        view (:mod:`course_lib.web.live`) draws it in the browser on the click, before the
        kernel's update arrives.
        """
        unknown = sorted(set(values) - set(self.sliders))
        if unknown:
            raise ValueError(f"preset {description!r}: unknown slider(s) {', '.join(unknown)}; "
                             f"this panel has: {', '.join(self.sliders)}")
        for name, value in values.items():
            _check_preset_value(description, name, self.sliders[name], value)
        values = dict(values)
        button = widgets.Button(description=description, **button_options)
        button.on_click(lambda *_: self.update(**values))
        self.presets.append((button, values))
        self.add_control(button)
        return button

    # -- values --------------------------------------------------------------------------------

    def _slider_values(self) -> dict[str, Any]:
        return {name: slider.value for name, slider in self.sliders.items()}

    def _resolve_landscape(self, values: dict[str, Any]):
        spec = self._landscape_spec
        if spec is None:
            if LANDSCAPE_KEY not in values:
                return None
            spec = values[LANDSCAPE_KEY]
        if isinstance(spec, str):
            from course_lib.problems.landscapes import get_landscape

            return get_landscape(spec)
        if _is_landscape(spec):
            return spec
        if callable(spec):
            return spec(**values)
        raise ValueError(f"landscape must be a Landscape, a name or a function, got {spec!r}")

    # -- the pure update -------------------------------------------------------------------------

    def update(self, **values) -> list:
        """Recompute with ``values`` (missing ones from the sliders), redraw, return the trajectories.

        No widget is needed for this to work: tests call it and inspect ``panel.fig``. The
        sliders are moved to the given values so the panel shows what was computed. When
        ``compute`` raises ``ValueError`` the message goes to ``panel.error`` and the status
        line, the figure keeps the last good paths, and ``[]`` is returned.
        """
        unknown = sorted(set(values) - set(self.sliders))
        if unknown:
            raise ValueError(
                f"unknown slider(s) {', '.join(unknown)}; this panel has: {', '.join(self.sliders)}"
            )
        merged = {**self._slider_values(), **values}
        self._write_back(values)
        self.values = merged
        try:
            landscape = self._resolve_landscape(merged)
            trajectories = list(self.compute(**merged))
        except ValueError as error:
            self.error = str(error)
            self.status.value = f"<span style='color:#b00020'>⚠ {html.escape(self.error)}</span>"
            self.trajectories = []
            return []
        self.error = ""
        self.status.value = ""
        if landscape is not None and landscape is not self.landscape:
            self.figure.set_landscape(landscape)
            self.landscape = landscape
        self.trajectories = trajectories
        if self.caption_artist is not None:
            self.caption_artist.set_text(self.caption(merged, trajectories))
        # The view's new scene, step and backgrounds go to the browser in one message, before
        # the step slider's new range (linked to the view there): the browser never draws the
        # new step over the old scene.
        with self.view.hold_sync() if self.view is not None else contextlib.nullcontext():
            self.figure.show(trajectories)
            if self.view is not None:
                self.view.step = self._longest()
            self._redisplay()
        self._reset_step_controls()
        return trajectories

    def _longest(self) -> int:
        """The last step Play can show (at least 1); runs without a ``path`` count as none."""
        return max(max((len(getattr(t, "path", ())) - 1 for t in self.trajectories), default=0), 1)

    def static_png(self, note: str = STATIC_NOTE) -> bytes:
        """The panel's figure as a PNG with ``note`` written under it (for saved notebooks)."""
        import io

        # just under the figure (bbox_inches="tight" grows the picture to take it in)
        text = self.fig.text(0.5, -0.01, note, ha="center", va="top", fontsize=9, color="#8a6d00")
        buffer = io.BytesIO()
        try:
            self.fig.savefig(buffer, format="png", bbox_inches="tight")
        finally:
            text.remove()
        return buffer.getvalue()

    def show_step(self, step: int) -> list:
        """Draw only the first ``step`` steps of the stored trajectories (what Play does).

        The matplotlib figure shows the truncated paths (tests read it); the browser view,
        which already holds every step, only moves its ``step``.
        """
        shown = [truncate_trajectory(t, step) for t in self.trajectories]
        self.figure.show(shown)
        if self.view is not None:
            self.view.step = int(step)
        else:
            self._redisplay()
        return shown

    def flush(self) -> None:
        """Run the redraw that values from the browser are waiting for, now (if any)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending_update:
            self._pending_update = False
            self._pending_step = None
            self.update()
            self._prefetch_safely()
        elif self._pending_step is not None:
            # The browser already shows this step (Play and the step slider are linked to the
            # view there); only the matplotlib model follows, so nothing is sent back.
            step, self._pending_step = self._pending_step, None
            self.figure.show([truncate_trajectory(t, step) for t in self.trajectories])

    # -- widget plumbing ---------------------------------------------------------------------------

    def _write_back(self, values: dict[str, Any]) -> None:
        self._syncing = True
        try:
            for name, value in values.items():
                slider = self.sliders[name]
                if slider.value != value:
                    try:
                        slider.value = value
                    except Exception:  # a value outside the slider's range: compute still uses it
                        pass
        finally:
            self._syncing = False

    def _reset_step_controls(self) -> None:
        if self.step_slider is None:
            return
        self._syncing = True
        try:
            self.play.playing = False
            for control in (self.step_slider, self.play):
                control.max = self._longest()
                control.value = control.max  # a new computation shows the whole path
        finally:
            self._syncing = False

    def _on_slider(self, change) -> None:
        if self._syncing:
            return
        if self._from_browser(change):
            self._pending_update = True
            self._schedule()
        else:
            self.update()

    def _on_step(self, change) -> None:
        if self._syncing:
            return
        if self._from_browser(change):
            self._pending_step = int(change["new"])
            self._schedule()
        else:
            self.show_step(int(change["new"]))

    @staticmethod
    def _from_browser(change) -> bool:
        # ipywidgets locks the properties it applies from a front-end message (a selection
        # widget's browser sends `index`, and `value` follows); values set by Python code
        # (tests, a notebook cell) are applied with no lock.
        owner = change.get("owner") if isinstance(change, dict) else getattr(change, "owner", None)
        return bool(getattr(owner, "_property_lock", None))

    def _schedule(self) -> None:
        """Redraw soon on the kernel's event loop; a newer value before then replaces this one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a plain Python session): redraw now
            self.flush()
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(COALESCE_S, self._flush_safely)

    def _prefetch_safely(self) -> None:
        """Tell ``prefetch`` the current values; its failure must never break the panel."""
        if self.prefetch is None:
            return
        try:
            self.prefetch(dict(self.values))
        except Exception as error:  # the panel still works, only without training ahead
            import warnings

            warnings.warn(f"SliderPanel: prefetch failed ({error!r}); slider moves train on demand",
                          RuntimeWarning, stacklevel=2)

    def _flush_safely(self) -> None:
        self._timer = None
        try:
            self.flush()
        except Exception as error:  # an error in a callback must reach the learner, not a log
            import traceback

            traceback.print_exc()
            self.status.value = f"<span style='color:#b00020'>⚠ {html.escape(repr(error))}</span>"

    def _redisplay(self) -> None:
        if self.view is not None:
            try:
                self.view.show(self.fig, self.trajectories)
                return
            except Exception as error:  # a figure the browser view cannot describe: fall back
                import warnings

                warnings.warn(f"SliderPanel: drawing in the browser failed ({error!r}); "
                              "showing PNGs instead (render='png')", RuntimeWarning, stacklevel=2)
                self.view.layout.display = "none"
                self.view = None
        # Only a running IPython kernel has somewhere to display to; in tests the figure's
        # artists are what matters, and they are already updated.
        if get_ipython() is None:
            return
        with self.output:
            clear_output(wait=True)
            display(self.fig)

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # What a viewer without the widget state shows (GitHub, a notebook saved without it).
        bundle["text/plain"] = f"{self.title or 'Slider panel'}: run this cell to make the panel live."
        if os.environ.get(STATIC_FALLBACK_ENV):
            import base64

            bundle["image/png"] = base64.b64encode(self.static_png()).decode("ascii")
        return bundle
