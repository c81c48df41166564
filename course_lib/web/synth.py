"""Specs for the panels whose scenes the browser computes (source kind ``"compute"``).

The panels of notebooks 01 (both), 03, 04, 05 and 07 draw optimizer runs on 2-D landscapes
(01's first panel: on the parabola ½Lx²); 06's draws RMSprop's and Adagrad's effective learning
rates and step sizes over a gradient stream (its axes are fixed: the spec ships them whole, see
``_curves_source``). In the page, ``window.CourseOptim`` (``js/optim.js``,
``js/landscapes.js``, ``js/trajectories.js``) computes the runs for any combination of the
controls, and ``js/synth.js`` turns them into the scene the Python panel's FigureView would
show (``course_lib.ui.figure_view.scene_of`` + ``mark_steps``). :func:`compute_spec` ships what
does not depend on the runs, read off the Python panel's own matplotlib figure:

* per *layout* (the value of the controls that change the contour: the landscape, or 05's
  valley orientation), the paths axes as the panel draws it: box, ticks, title, the contour's
  background picture (its fingerprint; the PNG in ``spec["images"]``), the minima marker, and the
  data limits and display extents that map a point to pixels;
* where the contour follows a slider with many notches (01's condition number κ: 101 notches;
  05's κ: 31 notches x 2 orientations), no picture per notch (60-90 kB each, several MB in all)
  but the valley's parameters: synth.js draws its contour levels as ellipses (lines marked
  ``"contour": true``), computed as course_lib.ui.plots.contour_levels does, in the colours the
  ContourSet uses;
* the loss axes: box, extents, labels, and the two numbers matplotlib's locators take from the
  axis' length (``nbins`` of AutoLocator, ``numticks`` of LogLocator);
* the styles of every line and text the runs fill in (paths, end markers, loss curves, start
  marker, divergence messages, caption), copied from the artists.

tests/test_web_synth.py holds the result to the Python panel: for a sample of combinations on
every panel, each line's points, each tick and label and each text of the JS scene equal those of
``panel.update(**values); panel.view.scene`` (0.2 px).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_lib.web import export

__all__ = ["COMPUTE_PANELS", "JS_FILES", "build_panel", "controls_of", "compute_spec", "source_of",
           "scenes_in_node"]

#: the panels computed in the browser (course_lib.web.export's REGISTRY says how each is built)
COMPUTE_PANELS = ("01_gradient_descent-0", "01_gradient_descent-1", "03_momentum-0", "04_nesterov-0",
                  "05_adagrad-0", "06_rmsprop_adadelta-0", "07_adam-0")

#: which controls pick the paths axes' layout (contour, title), per panel
_LAYOUT_CONTROLS = {
    "01_gradient_descent-1": ["landscape"],
    "03_momentum-0": ["landscape"],
    "04_nesterov-0": ["landscape"],
    "05_adagrad-0": ["orientation"],
    "07_adam-0": ["landscape"],
}


def build_panel(panel_id: str):
    """The panel as the notebook's cell makes it (the export's registry call, matplotlib without a
    display)."""
    if panel_id not in COMPUTE_PANELS:
        raise ValueError(f"{panel_id!r} is not computed in the browser; those are: {', '.join(COMPUTE_PANELS)}")
    return export.build_panel(panel_id)


# --------------------------------------------------------------------------------------------
# Controls: every notch of every widget (the browser computes any of them)
# --------------------------------------------------------------------------------------------


def _control(name: str, widget) -> dict:
    """The export's description of ``widget`` (every notch it has), with the starting value made
    a notch of the page's slider too (it may fall between notches)."""
    control = export._widget_control(name, widget)
    if control["kind"] != "slider" or "labels" in control:
        return control
    value, values = widget.value, control["values"]
    if not any(math.isclose(v, value, rel_tol=1e-9, abs_tol=1e-12) for v in values):
        values = sorted([*values, value])
    else:
        values = [value if math.isclose(v, value, rel_tol=1e-9, abs_tol=1e-12) else v for v in values]
    return {**control, "values": values, "value": value}


def controls_of(panel) -> list[dict]:
    """The spec's controls: every notch the notebook's widgets have."""
    return [_control(name, widget) for name, widget in panel.sliders.items()]


# --------------------------------------------------------------------------------------------
# Templates read off the panel's figure
# --------------------------------------------------------------------------------------------


def _style(line, dpi: float) -> dict:
    from course_lib.ui.figure_view import _line_style

    return {**_line_style(line, dpi), "z": float(line.get_zorder()), "clip": bool(line.get_clip_on())}


def _text_style(artist, height: float, dpi: float) -> dict:
    from course_lib.ui.figure_view import _text

    old_text, old_visible = artist.get_text(), artist.get_visible()
    artist.set_text("x")
    artist.set_visible(True)
    try:
        item = _text(artist, height, dpi=dpi)
    finally:
        artist.set_text(old_text)
        artist.set_visible(old_visible)
    return item


def _extents(ax) -> list[float]:
    ax.apply_aspect()
    return [float(v) for v in ax.bbox.extents]


def _axes_template(entry: dict) -> dict:
    template = {key: value for key, value in entry.items() if key != "lines"}
    template["legend"] = None
    return template


def _tick_space(axis, low: int, high: int) -> int:
    return int(np.clip(axis.get_tick_space(), low, high))


def _path_layout(panel, values: dict, images: dict, contour_of: dict | None) -> dict:
    from course_lib.ui.figure_view import _line

    panel.update(**values)
    scene = panel.view.scene
    figure = panel.figure
    ax = figure.ax_paths
    height, dpi = panel.fig.bbox.height, panel.fig.dpi
    entry = _axes_template(scene["axes"][0])
    entry["texts"] = entry["texts"][:1]  # the title; divergence messages come from the runs
    layout: dict[str, Any] = {
        "paths": {
            "entry": entry,
            "extents": _extents(ax),
            "xlim": [float(v) for v in ax.get_xlim()],
            "ylim": [float(v) for v in ax.get_ylim()],
            "minima": _line(figure.minima_marker, height, dpi),
        },
    }
    if contour_of is not None:
        entry["bg"] = None
        layout["contour_of"] = contour_of
    elif entry["bg"]:
        images[entry["bg"]] = panel.view.images[entry["bg"]]
    return layout


def _contour_spec(figure, dpi: float) -> dict:
    from matplotlib.colors import to_hex

    from course_lib.ui.plots import GRID_POINTS, LEVEL_COUNT

    contour = figure.contour
    colors = [to_hex(c, keep_alpha=True) for c in np.atleast_2d(contour.get_edgecolor())]
    width = float(np.atleast_1d(contour.get_linewidth())[0])
    if len(colors) != LEVEL_COUNT:
        raise ValueError(f"expected {LEVEL_COUNT} contour colours, got {len(colors)}")
    return {
        "window": [float(v) for v in figure.landscape.xlim],
        "grid_points": GRID_POINTS,
        "colors": colors,
        "style": {"color": colors[0], "width": round(width * dpi / 72.0, 2), "dash": "-", "marker": "",
                  "msize": 0.0, "mface": None, "medge": None, "mew": 0.0, "z": float(contour.get_zorder()),
                  "clip": True},
    }


def _path_source(panel_id: str, panel, images: dict) -> dict:
    figure = panel.figure
    fig = panel.fig
    scene = panel.view.scene
    height, dpi = fig.bbox.height, fig.dpi
    figure._ensure_slots(2)
    defaults = {name: widget.value for name, widget in panel.sliders.items()}
    controls = {c["name"]: c for c in controls_of(panel)}
    layout_controls = _LAYOUT_CONTROLS[panel_id]
    (name,) = layout_controls
    layouts = {}
    for option in controls[name]["values"]:
        contour_of = None
        if panel_id == "01_gradient_descent-1" and option == "quadratic":
            contour_of = {"kappa": "condition_number", "angle": 0.0}
        elif panel_id == "05_adagrad-0":
            from course_lib.ui.panels.adagrad import ORIENTATIONS

            contour_of = {"kappa": "kappa", "angle": ORIENTATIONS[option]}
        layouts[str(option)] = _path_layout(panel, {**defaults, name: option}, images, contour_of)
    panel.update(**defaults)

    loss = figure.ax_loss
    loss_entry = _axes_template(panel.view.scene["axes"][1])
    legend = scene["axes"][1]["legend"] or {"loc": "upper right", "size": 12.0}
    slots = [{"path": _style(figure.path_lines[k], dpi), "end": _style(figure.end_markers[k], dpi),
              "loss": _style(figure.loss_lines[k], dpi)} for k in range(2)]
    source = {
        "kind": "compute",
        "panel": panel_id,
        "figure": "paths",
        "width": scene["width"], "height": scene["height"], "scale": scene["scale"], "face": scene["face"],
        "layout_controls": layout_controls,
        "layouts": layouts,
        "loss": {"entry": loss_entry, "extents": _extents(loss),
                 "x": {"nbins": _tick_space(loss.xaxis, 1, 9)}, "y": {"numticks": _tick_space(loss.yaxis, 2, 9)},
                 "legend": {"loc": legend["loc"], "size": legend["size"]}},
        "styles": {"start": _style(figure.start_marker, dpi), "slots": slots},
        "divergence_texts": [_text_style(t, height, dpi) for t in figure.divergence_texts[:2]],
        "caption": _text_style(panel.caption_artist, height, dpi) if panel.caption_artist is not None else None,
    }
    if any(layout.get("contour_of") for layout in layouts.values()):
        # the colours and width of the ContourSet the panel draws (any quadratic's: 15 levels)
        quadratic = next(option for option, layout in layouts.items() if layout.get("contour_of"))
        panel.update(**{**defaults, name: quadratic})
        source["contour"] = _contour_spec(figure, dpi)
        panel.update(**defaults)
    if panel_id == "04_nesterov-0":
        from course_lib.ui.panels.nesterov import SUGGESTED_LR

        source["suggested_lr"] = dict(SUGGESTED_LR)
    return source


def _parabola_source(panel) -> dict:
    from course_lib.experiments.trajectories import DIVERGENCE_BOUND

    figure = panel.figure
    fig = panel.fig
    scene = panel.view.scene
    height, dpi = fig.bbox.height, fig.dpi
    vline = [line for line in figure.ax_curve.get_lines()
             if line not in (figure.curve_line, figure.path_line, figure.start_marker)][0]
    curve_entry = _axes_template(scene["axes"][0])
    curve_entry["texts"] = []
    distance_entry = _axes_template(scene["axes"][1])
    curve, distance = figure.ax_curve, figure.ax_distance
    return {
        "kind": "compute",
        "panel": "01_gradient_descent-0",
        "figure": "parabola",
        "width": scene["width"], "height": scene["height"], "scale": scene["scale"], "face": scene["face"],
        "curve": {"entry": curve_entry, "extents": _extents(curve),
                  "x": {"nbins": _tick_space(curve.xaxis, 1, 9)}, "y": {"nbins": _tick_space(curve.yaxis, 1, 9)}},
        "distance": {"entry": {**distance_entry, "legend": scene["axes"][1]["legend"]},
                     "extents": _extents(distance),
                     "x": {"nbins": _tick_space(distance.xaxis, 1, 9)},
                     "y": {"numticks": _tick_space(distance.yaxis, 2, 9)}},
        "styles": {
            "curve": _style(figure.curve_line, dpi), "path": _style(figure.path_line, dpi),
            "start": _style(figure.start_marker, dpi), "vline": _style(vline, dpi),
            "distance": _style(figure.distance_line, dpi), "closed_form": _style(figure.closed_form_line, dpi),
            "regime": _text_style(figure.regime_text, height, dpi),
            "factor": _text_style(figure.factor_text, height, dpi),
            "divergence": _text_style(figure.divergence_text, height, dpi),
        },
        "bound_text": f"{DIVERGENCE_BOUND:.0e}",
        "layout_controls": [],
        "layouts": {},
    }


def _curves_source(panel) -> dict:
    """06's effective-lr figure (course_lib.ui.panels.rmsprop_adadelta.EffectiveLrFigure): two
    log-y axes whose limits are set once (y by the figure, x by the fixed steps 1..300), so each
    axes ships whole (box, ticks, title) and the browser adds only the curves, the legends and
    the caption. The gradient stream changes no axis: no layouts."""
    figure = panel.figure
    fig = panel.fig
    scene = panel.view.scene
    height, dpi = fig.bbox.height, fig.dpi

    def axes(k: int, ax, lines: list) -> dict:
        legend = scene["axes"][k]["legend"]
        return {"entry": _axes_template(scene["axes"][k]), "extents": _extents(ax),
                "xlim": [float(v) for v in ax.get_xlim()], "ylim": [float(v) for v in ax.get_ylim()],
                "yscale": ax.get_yscale(), "styles": [_style(line, dpi) for line in lines],
                "legend": {"loc": legend["loc"], "size": legend["size"]}}

    return {
        "kind": "compute",
        "panel": "06_rmsprop_adadelta-0",
        "figure": "curves",
        "width": scene["width"], "height": scene["height"], "scale": scene["scale"], "face": scene["face"],
        # each axes' line styles in its lines' order: RMSprop, Adagrad (then the dashed |gradient|)
        "effective_lr": axes(0, figure.ax_lr, figure.lr_lines),
        "step_size": axes(1, figure.ax_step, [*figure.step_lines, figure.gradient_line]),
        "gradient_label": figure.gradient_line.get_label(),
        "caption": _text_style(panel.caption_artist, height, dpi),
        "layout_controls": [],
        "layouts": {},
    }


def source_of(panel_id: str, panel=None) -> tuple[dict, dict]:
    """``(source, images)`` for ``panel_id``: the ``{"kind": "compute", ...}`` part of its spec and
    the background pictures its layouts name."""
    panel = build_panel(panel_id) if panel is None else panel
    images: dict[str, str] = {}
    if panel_id == "01_gradient_descent-0":
        return _parabola_source(panel), images
    if panel_id == "06_rmsprop_adadelta-0":
        return _curves_source(panel), images
    return _path_source(panel_id, panel, images), images


def compute_spec(panel_id: str, panel=None) -> dict:
    """The spec of a panel the browser computes: its controls (every notch), Play, and the
    ``{"kind": "compute"}`` source that ``js/synth.js`` turns into scenes."""
    panel = build_panel(panel_id) if panel is None else panel
    controls = controls_of(panel)
    source, images = source_of(panel_id, panel)
    return {
        "id": panel_id,
        "title": panel.title,
        "controls": controls,
        "play": panel.play is not None,
        "source": source,
        "images": images,
        "scripts": ["optim.js", "landscapes.js", "trajectories.js", "synth.js"],
    }


# --------------------------------------------------------------------------------------------
# Running synth.js in node (tests, and a check that the spec works without a browser)
# --------------------------------------------------------------------------------------------

#: the scripts a page loads for a compute panel, in order
JS_FILES = ("optim.js", "landscapes.js", "trajectories.js", "synth.js")

_DRIVER = r"""
const Synth = require(process.argv[1]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const answers = input.values.map((values, i) => {
  try {
    const t0 = process.hrtime.bigint();
    const scene = input.results ? Synth.sceneFromResult(input.source, values, input.results[i])
                                : Synth.sceneFor(input.source, values);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return {ok: scene, ms: ms};
  } catch (error) {
    return {error: String(error && error.stack || error)};
  }
});
process.stdout.write(JSON.stringify(answers));
"""


def scenes_in_node(source: dict, values: list[dict], results: list[dict] | None = None,
                   *, timeout: float = 120.0) -> list[dict]:
    """Run ``CourseSynth.sceneFor(source, values)`` (or ``sceneFromResult`` with the given
    ``{"trajectories", "extras"}``) in one node process for each of ``values``; returns
    ``[{"ok": scene, "ms": time} or {"error": message}]``."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node is not installed")
    script = Path(__file__).resolve().parent / "js" / "synth.js"
    payload = {"source": source, "values": values}
    if results is not None:
        payload["results"] = results
    done = subprocess.run([node, "-e", _DRIVER, str(script)], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"node failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)
