"""The course's panels as data for its web pages: one spec per panel, a classic script each.

A web page has no kernel, so every figure a panel can show must already be in the page, or be
computed by the page's own JavaScript. This module writes, for each of the course's panels (the
:data:`REGISTRY`, in lecture and cell order), a *spec*: the panel's controls (every notch the
page offers), whether it plays, and a *source* the page asks for the scene of any combination
of control values (``window.CoursePanels.sources[spec.source.kind](spec).sceneFor(values)``).

The source here is the ``"table"``: the scene of every combination the page offers, computed
now by the panel's own Python code (``panel.update(**values)``, then FigureView's scene, exactly
what JupyterLab would draw). Scenes share most of their parts (the ticks of a fixed axis, a loss
curve that depends on one control of three, the captions), so the table stores each distinct
line, text, tick set and axes frame once and a scene as the indices of its parts; points are
integers in tenths of a pixel (the scene's own rounding), each the difference from the previous
one. Where every notch of every control would be too many scenes for a page (the budget is 5 MB
a page with everything it loads), the page offers fewer notches, always including the
notebook's starting values; the spec says which in ``notches_note``.

Panels whose figures are optimizer runs on 2-D landscapes, and 06's effective-lr curves, are
computed in the browser by ``course_lib.web.synth.compute_spec`` (the ``"compute"`` source), at
every notch of every control, when that module is present; without it the landscape panels are
exported as coarse tables too (their registry entries' ``notches``), so every panel is live.

``python -m course_lib.web.export OUTDIR`` writes ``OUTDIR/<panel id>.js`` for every panel,
``OUTDIR/js/*.js`` (the drawing code, the page runtime) and ``OUTDIR/manifest.json``.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import math
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PanelEntry", "REGISTRY", "panel_entry", "build_panel", "page_controls", "table_spec",
           "spec_for", "export_panels", "decode_scene", "spec_script", "read_spec", "code_fingerprint",
           "export_is_current", "JS_FILES", "main"]

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent.parent  # the repository (notebooks/ beside course_lib/)

#: the browser scripts a page loads, in order (figure_draw.js first: the runtime draws with it)
JS_FILES = (_HERE.parent / "ui" / "figure_draw.js", _HERE / "js" / "panel_runtime.js")


# --------------------------------------------------------------------------------------------
# The registry: every panel of the course, in lecture and cell order
# --------------------------------------------------------------------------------------------

Notches = Callable[[list, Any], list]


@dataclass(frozen=True)
class PanelEntry:
    """One panel: ``id`` ``<notebook stem>-<k>``; ``cell`` the id of the notebook cell that
    shows it; ``call`` that cell's panel expression; ``build()`` makes the panel (an object with
    ``update(**values)``, ``sliders``, ``view`` and ``title``, like a SliderPanel);
    ``notches`` names, per control, the notches the page offers (a list of targets: the nearest
    notch to each, plus the starting value) where it offers fewer than the widget has;
    ``compute``: the panel's figures are optimizer runs the browser can compute (
    ``course_lib.web.synth``); ``prepare(panel)`` trains ahead what the panel's background
    trainer would (whole grids at once), before the combinations are asked for."""

    id: str
    cell: str
    call: str
    build: Callable[[], Any]
    notches: dict = field(default_factory=dict)
    note: str = ""
    compute: bool = False
    prepare: Callable[[Any], None] | None = None

    @property
    def notebook(self) -> str:
        return self.id.rsplit("-", 1)[0]


def _factory(module: str, function: str, **kwargs) -> Callable[[], Any]:
    def build():
        return getattr(importlib.import_module(f"course_lib.ui.panels.{module}"), function)(**kwargs)

    build.__name__ = f"{module}.{function}"
    return build


class _InteractPanel:
    """Notebook 00's ``widgets.interact(draw_wave, ...)`` as a panel: the cell's own code (its
    ``draw_wave`` and its slider), run here with ``interact`` and ``plt.show`` caught, so the page
    shows what the notebook's function draws."""

    def __init__(self, notebook: str, cell: str):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from course_lib.ui.figure_view import can_draw, scene_of

        source = _cell_source(notebook, cell)
        caught: dict = {}

        def interact(function, **controls):
            caught.update(function=function, controls=controls)

        namespace: dict = {}
        exec(compile(source.replace("widgets.interact(", "__interact__("), f"<{notebook}:{cell}>", "exec"),
             {"__interact__": interact, "__name__": "__course_export__"} | namespace)
        self._function = caught["function"]
        self.sliders = dict(caught["controls"])
        self.title = ""
        self.values = {name: widget.value for name, widget in self.sliders.items()}
        self._plt, self._scene_of, self._can_draw = plt, scene_of, can_draw
        self.view = self  # the scene and images live here, as on a FigureView
        self.scene: dict = {}
        self.images: dict = {}
        self.update()

    def update(self, **values):
        self.values = {**self.values, **values}
        plt = self._plt
        show, plt.show = plt.show, (lambda *a, **k: None)
        try:
            plt.close("all")
            self._function(**self.values)
            fig = plt.gcf()
        finally:
            plt.show = show
        backgrounds: dict = {}
        self.scene = self._scene_of(fig, backgrounds)
        self.scene["last_step"] = 0
        self.images = backgrounds
        plt.close(fig)
        return []


def _cell_source(notebook: str, cell: str) -> str:
    path = _ROOT / "notebooks" / f"{notebook}.ipynb"
    for item in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if item.get("id") == cell:
            return "".join(item["source"])
    raise ValueError(f"{path.name} has no cell {cell!r}")


def _near(*targets) -> Notches:
    """The notches nearest ``targets`` (numbers, or strings/booleans taken as they are)."""
    def choose(notches: list, start) -> list:
        chosen = []
        for target in targets:
            if isinstance(target, (int, float)) and not isinstance(target, bool):
                numeric = [v for v in notches if isinstance(v, (int, float))]
                if target > 0 and all(v > 0 for v in numeric):
                    best = min(numeric, key=lambda v: abs(math.log(v) - math.log(target)))
                else:
                    best = min(numeric, key=lambda v: abs(v - target))
            else:
                best = target
            if best not in chosen:
                chosen.append(best)
        return chosen

    return choose


def _train_batch_grids(panel) -> None:
    """02: every batch size's whole lr grid in one stacked run each (what the background
    trainer does for a live panel), instead of one run per learning rate above B = 100."""
    for batch_size in panel.sliders["batch_size"].options:
        panel.runs.train_grid(int(batch_size))


_LANDSCAPE_NOTE = ("Computed ahead on a coarse grid: the page offers {what}; the notebook's "
                   "sliders (run it locally) have every notch.")

REGISTRY: tuple[PanelEntry, ...] = (
    PanelEntry("00_welcome-0", "widget-smoke-test",
               "widgets.interact(draw_wave, frequency=widgets.FloatSlider(value=1.0, min=0.5, max=5.0, step=0.5))",
               lambda: _InteractPanel("00_welcome", "widget-smoke-test")),
    PanelEntry("01_gradient_descent-0", "one-d-panel", "gd.parabola_panel()",
               _factory("gradient_descent", "parabola_panel"),
               notches={"lr": _near(0.01, 0.1, 0.5, 0.9, 1.0, 1.5, 1.9, 2.1, 5.0),
                        "curvature": _near(0.5, 1.0, 2.0, 4.0),
                        "steps": _near(1, 5, 20, 60)},
               note=_LANDSCAPE_NOTE.format(what="9 learning rates, 4 curvatures and 4 step counts"),
               compute=True),
    PanelEntry("01_gradient_descent-1", "two-d-panel", "gd.lr_condition_panel()",
               _factory("gradient_descent", "lr_condition_panel"),
               notches={"lr": _near(1e-3, 0.01, 0.05, 0.1, 0.3, 1.0),
                        "condition_number": _near(1.0, 10.0, 100.0),
                        "steps": _near(10, 100, 500)},
               note=_LANDSCAPE_NOTE.format(what="6 learning rates, 3 condition numbers and 3 step counts"),
               compute=True),
    PanelEntry("02_batch_minibatch_sgd-0", "bms-panel", "bms.batch_size_panel()",
               _factory("batch_minibatch_sgd", "batch_size_panel"), prepare=_train_batch_grids),
    PanelEntry("03_momentum-0", "c03-panel", "momentum_panel()",
               _factory("momentum", "momentum_panel"),
               notches={"lr": _near(1e-3, 0.01, 0.1, 0.5, 1.0, 3.0),
                        "momentum": _near(0.0, 0.5, 0.9, 0.99)},
               note=_LANDSCAPE_NOTE.format(what="6 learning rates and 4 momenta"), compute=True),
    PanelEntry("04_nesterov-0", "nag-panel",
               'momentum_vs_nesterov_panel(landscape="quadratic", lr=0.5, momentum=0.9)',
               _factory("nesterov", "momentum_vs_nesterov_panel", landscape="quadratic", lr=0.5, momentum=0.9),
               notches={"lr": _near(1e-3, 0.01, 0.1, 0.5, 1.0, 4.0),
                        "momentum": _near(0.05, 0.5, 0.9, 0.99)},
               note=_LANDSCAPE_NOTE.format(what="6 learning rates and 4 momenta"), compute=True),
    PanelEntry("05_adagrad-0", "c05-panel", "adagrad_panel()",
               _factory("adagrad", "adagrad_panel"),
               notches={"kappa": _near(1.0, 10.0, 50.0, 1000.0),
                        "lr": _near(1e-3, 0.03, 0.3, 3.0),
                        "eps": _near(1e-10, 1e-4, 1.0, 10.0)},
               note=_LANDSCAPE_NOTE.format(what="4 condition numbers, 4 learning rates and 4 values of ε"),
               compute=True),
    PanelEntry("06_rmsprop_adadelta-0", "c06-panel", "effective_lr_panel()",
               _factory("rmsprop_adadelta", "effective_lr_panel"), compute=True),
    PanelEntry("07_adam-0", "c07-panel", "adam_panel()",
               _factory("adam", "adam_panel"),
               notches={"lr": _near(1e-3, 0.01, 0.1, 1.0),
                        "beta1": _near(0.0, 0.9),
                        "beta2": _near(0.9, 0.999),
                        "eps": _near(1e-8, 1e-1)},
               note=_LANDSCAPE_NOTE.format(what="4 learning rates, 2 values each of β₁, β₂ and ε"),
               compute=True),
    PanelEntry("08_weight_decay_adamw-0", "c08-panel", "weight_decay_panel()",
               _factory("weight_decay_adamw", "weight_decay_panel")),
    PanelEntry("09_lr_schedules-0", "c09-panel", "schedule_panel()",
               _factory("lr_schedules", "schedule_panel"),
               notches={"lr": _near(0.01, 0.05, 0.2, 1.0),
                        "final_fraction": _near(0.001, 0.01, 0.1),
                        "warmup_fraction": _near(0.02, 0.1, 0.3),
                        "seed": _near(0, 1)},
               note="Trained ahead: the page offers every schedule with peak learning rates 0.01, 0.05, "
                    "0.2 and 1, final shares 0.001, 0.01 and 0.1, warmup shares 0.02, 0.1 and 0.3, and "
                    "seeds 0 and 1; the notebook trains any notch."),
    PanelEntry("10_choosing_an_optimizer-0", "c10-panel", "race_panel()",
               _factory("choosing_an_optimizer", "race_panel"),
               notches={"first_lr": _near(1e-4, 1e-3, 1e-2, 0.1, 1.0),
                        "second_lr": _near(1e-4, 1e-3, 1e-2, 0.1, 1.0)},
               note="Trained ahead: the page offers the learning rates 1e-4, 1e-3, 0.01, 0.1 and 1 "
                    "(the starting values among them); the notebook's sliders have every ×1.8 notch."),
    PanelEntry("11_initialization_and_practice-0", "c11-panel", "depth_panel()",
               _factory("initialization_and_practice", "depth_panel"),
               notches={"depth": _near(1, 5, 10, 20, 30, 40),
                        "gain": _near(0.5, 1.0, 2.0),
                        "seed": _near(0, 1)},
               note="The page offers depths 1, 5, 10, 20, 30 and 40, gains 0.5, 1, √2 and 2 and seeds "
                    "0 and 1; the notebook's sliders have every notch."),
)


def panel_entry(panel_id: str) -> PanelEntry:
    for entry in REGISTRY:
        if entry.id == panel_id:
            return entry
    raise ValueError(f"no panel {panel_id!r}; the panels are: {', '.join(e.id for e in REGISTRY)}")


def build_panel(panel_id: str):
    """The panel as the notebook makes it (matplotlib without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    return panel_entry(panel_id).build()


# --------------------------------------------------------------------------------------------
# Controls: the widget's notches, and the ones the page offers
# --------------------------------------------------------------------------------------------


def _widget_control(name: str, widget) -> dict:
    import ipywidgets as widgets

    label = widget.description or name
    if isinstance(widget, widgets.Checkbox):
        return {"name": name, "kind": "checkbox", "label": label, "values": [False, True], "value": bool(widget.value)}
    if isinstance(widget, (widgets.Dropdown, widgets.SelectionSlider)):
        options = [[str(lbl), value] for lbl, value in widget._options_full]
        kind = "dropdown" if isinstance(widget, widgets.Dropdown) else "slider"
        control = {"name": name, "kind": kind, "label": label, "value": widget.value,
                   "values": [value for _, value in options]}
        if kind == "dropdown":
            control["options"] = options
        else:
            control["labels"] = [lbl for lbl, _ in options]
        return control
    from course_lib.ui.slider_panel import slider_notches

    try:
        values = slider_notches(widget)
    except TypeError:
        raise ValueError(f"control {name!r}: a {type(widget).__name__} has no notches the page can offer") from None
    fmt = "d" if isinstance(widget, widgets.IntSlider) else widget.readout_format
    return {"name": name, "kind": "slider", "label": label, "values": values, "format": fmt,
            "value": widget.value}


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


def page_controls(entry: PanelEntry, panel) -> list[dict]:
    """The panel's controls with the notches the page offers (every notch unless the registry
    names fewer; the starting value always among them, in its place)."""
    controls = []
    for name, widget in panel.sliders.items():
        control = _widget_control(name, widget)
        notches, start = control["values"], control["value"]
        chosen = entry.notches.get(name)
        offered = list(notches) if chosen is None else chosen(notches, start)
        if not any(_same(v, start) for v in offered):
            # a start between two notches (lr 0.2 on a 10^(k/20) slider) takes the place of the
            # nearest notch the page would offer, so the page has no two all but equal values
            if chosen is not None and isinstance(start, (int, float)) and not isinstance(start, bool):
                nearest = _near(start)(notches, start)[0]
                offered = [v for v in offered if not _same(v, nearest)]
            offered.append(start)
        if control["kind"] != "dropdown" and all(isinstance(v, (int, float)) for v in offered):
            offered.sort()
        else:
            order = {repr(v): i for i, v in enumerate(notches)}
            offered.sort(key=lambda v: order.get(repr(v), len(order)))
        control["values"] = offered
        if "options" in control:
            labels = {repr(v): lbl for lbl, v in control["options"]}
            control["options"] = [[labels[repr(v)], v] for v in offered]
        if "labels" in control:
            labels = dict(zip(map(repr, notches), control["labels"]))
            control["labels"] = [labels.get(repr(v), str(v)) for v in offered]
        control["notches"] = len(notches)  # how many the notebook's widget has
        controls.append(control)
    return controls


# --------------------------------------------------------------------------------------------
# The table: scenes for every combination, parts stored once
# --------------------------------------------------------------------------------------------


def _encode_points(points: list) -> list:
    """Tenths of a pixel as integers, each the difference from the previous number of the same
    coordinate (x or y); a gap (None) stays None and does not reset the difference."""
    out, previous = [], [0, 0]
    for i, value in enumerate(points):
        if value is None:
            out.append(None)
            continue
        tenths = int(round(value * 10))
        out.append(tenths - previous[i % 2])
        previous[i % 2] = tenths
    return out


def _decode_points(encoded: list) -> list:
    out, previous = [], [0, 0]
    for i, value in enumerate(encoded):
        if value is None:
            out.append(None)
            continue
        previous[i % 2] += value
        out.append(previous[i % 2] / 10)
    return out


class _Pool:
    """Distinct JSON values, each stored once; ``add`` returns its index."""

    def __init__(self):
        self.items: list = []
        self._index: dict[str, int] = {}

    def add(self, value) -> int:
        key = json.dumps(value, sort_keys=True, separators=(",", ":"))
        if key not in self._index:
            self._index[key] = len(self.items)
            self.items.append(value)
        return self._index[key]


class _Table:
    """Scenes in parts: frames (figure size and face), axes (box, face, spines, background and
    the index of its legend; a legend's entries are indices of items), ticks (one axis' ticks, labels and grid), lines and fills (points encoded), texts."""

    KINDS = ("frames", "axes", "legends", "items", "ticks", "lines", "fills", "texts", "scenes")

    def __init__(self):
        self.pools = {kind: _Pool() for kind in self.KINDS}

    def add(self, scene: dict) -> int:
        p = self.pools
        frame = p["frames"].add({k: scene[k] for k in ("width", "height", "scale", "face")})
        axes = []
        for ax in scene["axes"]:
            legend = ax["legend"]
            if legend is not None:  # its entries, stored once, by index
                legend = p["legends"].add({**legend, "items": [p["items"].add(i) for i in legend["items"]]})
            base = p["axes"].add({**{k: ax[k] for k in ("box", "face", "spines", "bg")}, "legend": legend})
            lines = []
            for line in ax["lines"]:
                item = {k: v for k, v in line.items() if k != "points"}
                item["p"] = _encode_points(line["points"])
                lines.append(p["lines"].add(item))
            record = [base, p["ticks"].add(ax["x"]), p["ticks"].add(ax["y"]), lines,
                      [p["texts"].add(t) for t in ax["texts"]]]
            if "fills" in ax:
                record.append([p["fills"].add({**{k: v for k, v in f.items() if k != "points"},
                                               "p": _encode_points(f["points"])}) for f in ax["fills"]])
            axes.append(record)
        texts = [p["texts"].add(t) for t in scene["texts"]]
        return p["scenes"].add([frame, scene.get("last_step", 0), axes, texts])

    def as_json(self) -> dict:
        return {kind: pool.items for kind, pool in self.pools.items()}


def decode_scene(source: dict, index: int) -> dict:
    """Scene ``index`` of a table source, as FigureView's scene (what the page's runtime does)."""
    frame, last_step, axes, texts = source["scenes"][index]
    scene = dict(source["frames"][frame])
    scene["axes"] = []
    for base, x, y, lines, ax_texts, *fills in axes:
        ax = dict(source["axes"][base])
        if ax["legend"] is not None:
            legend = source["legends"][ax["legend"]]
            ax["legend"] = {**legend, "items": [source["items"][i] for i in legend["items"]]}
        ax["x"], ax["y"] = source["ticks"][x], source["ticks"][y]
        ax["lines"] = []
        for i in lines:
            line = {k: v for k, v in source["lines"][i].items() if k != "p"}
            line["points"] = _decode_points(source["lines"][i]["p"])
            ax["lines"].append(line)
        ax["texts"] = [source["texts"][i] for i in ax_texts]
        if fills:
            ax["fills"] = []
            for i in fills[0]:
                fill = {k: v for k, v in source["fills"][i].items() if k != "p"}
                fill["points"] = _decode_points(source["fills"][i]["p"])
                ax["fills"].append(fill)
        scene["axes"].append(ax)
    scene["texts"] = [source["texts"][i] for i in texts]
    scene["last_step"] = last_step
    return scene


def _scene_and_images(panel) -> tuple[dict, dict]:
    view = panel.view
    if view is None:
        raise ValueError("the panel's figure cannot be drawn in the browser (3-D or polar axes)")
    return view.scene, dict(view.images)


def table_spec(entry: PanelEntry, panel=None, *, progress: Callable[[str], None] | None = None) -> dict:
    """The panel's spec with a ``"table"`` source: every combination the page offers."""
    panel = build_panel(entry.id) if panel is None else panel
    controls = page_controls(entry, panel)
    if entry.prepare is not None:
        entry.prepare(panel)
    table = _Table()
    images: dict[str, str] = {}
    index = []
    combos = list(itertools.product(*(c["values"] for c in controls)))
    started = time.perf_counter()
    for combo in combos:
        values = {c["name"]: v for c, v in zip(controls, combo)}
        panel.update(**values)
        if getattr(panel, "error", ""):
            raise ValueError(f"{entry.id}: {values} gives an error: {panel.error}")
        scene, used = _scene_and_images(panel)
        images.update(used)
        index.append(table.add(scene))
    if progress:
        progress(f"{entry.id}: {len(combos)} combinations, {len(table.pools['scenes'].items)} distinct scenes, "
                 f"{time.perf_counter() - started:.1f} s")
    # leave the panel at its starting values (tests read it after)
    panel.update(**{c["name"]: c["value"] for c in controls})
    return {
        "id": entry.id,
        "title": getattr(panel, "title", ""),
        "controls": controls,
        "play": getattr(panel, "step_slider", None) is not None,
        "source": {"kind": "table", "shape": [len(c["values"]) for c in controls],
                   "index": index, **table.as_json()},
        "images": images,
        "notches_note": entry.note,
    }


def spec_for(entry: PanelEntry, *, progress=None) -> dict:
    """The computed-in-the-browser spec (``course_lib.web.synth``) for a landscape panel, else the table."""
    if entry.compute:
        try:
            synth = importlib.import_module("course_lib.web.synth")
        except ImportError:
            synth = None
        if synth is not None:
            return synth.compute_spec(entry.id)
    return table_spec(entry, progress=progress)


def spec_script(spec: dict) -> str:
    """The spec as a classic script that registers it with the page's runtime."""
    body = json.dumps(spec, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # "</script>" inside a string would end an inline script; escape the slash
    body = body.replace("</", "<\\/")
    return ("window.CoursePanels=window.CoursePanels||{specs:{},sources:{}};"
            f"window.CoursePanels.specs[{json.dumps(spec['id'])}]={body};\n")


# Seconds each panel's table takes on a 2-core machine (measured); the export starts the slowest.
_COST = {"10_choosing_an_optimizer-0": 130, "02_batch_minibatch_sgd-0": 60, "11_initialization_and_practice-0": 60,
         "01_gradient_descent-1": 50, "09_lr_schedules-0": 45}


def _export_one(panel_id: str, outdir: str) -> dict:
    """Write one panel's spec script; its manifest entry (and a line for the log)."""
    import torch

    torch.set_num_threads(1)  # the export runs panels side by side, one core each
    entry = panel_entry(panel_id)
    started = time.perf_counter()
    lines: list[str] = []
    spec = spec_for(entry, progress=lines.append)
    text = spec_script(spec)
    target = Path(outdir) / f"{entry.id}.js"
    target.write_text(text, encoding="utf-8")
    source = spec["source"]
    seconds = round(time.perf_counter() - started, 1)
    return {"id": entry.id, "notebook": entry.notebook, "cell": entry.cell,
            "file": target.name, "bytes": len(text.encode("utf-8")), "kind": source["kind"],
            "scenes": len(source.get("index", ())), "seconds": seconds,
            # what a page with this panel loads first, in order: the drawing code, the runtime,
            # then the scripts its source names (the computing source's port)
            "scripts": [f"js/{p.name}" for p in JS_FILES] + [f"js/{n}" for n in spec.get("scripts", [])],
            "log": " ".join(lines) or f"{entry.id}: {seconds} s"}


def code_fingerprint() -> str:
    """What an exported table was made with: a hash of course_lib's Python and JS sources, of the
    notebook cells the registry names (00's panel runs its cell's own code) and of the versions
    of torch, numpy and matplotlib. A table whose fingerprint differs from the running code's may
    show figures that code would no longer draw (course_lib.web.live then ignores it)."""
    import hashlib
    from importlib.metadata import version

    digest = hashlib.sha256()
    package = _HERE.parent
    for path in sorted(p for pattern in ("*.py", "*.js") for p in package.rglob(pattern)):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    for entry in REGISTRY:
        try:
            digest.update(_cell_source(entry.notebook, entry.cell).encode())
        except (OSError, ValueError):  # course_lib without the course's notebooks beside it
            digest.update(b"-")
    for name in ("torch", "numpy", "matplotlib"):
        digest.update(f"{name}=={version(name)}".encode())
    return digest.hexdigest()[:16]


def export_is_current(outdir) -> bool:
    """Whether ``outdir`` holds every panel of the registry, in order, exported by the code as it
    is now (each manifest entry's ``code`` is :func:`code_fingerprint`)."""
    outdir = Path(outdir)
    try:
        entries = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
        code = code_fingerprint()
        return ([e.get("id") for e in entries] == [r.id for r in REGISTRY]
                and all(e.get("code") == code and (outdir / e.get("file", "")).is_file() for e in entries))
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def read_spec(path) -> dict:
    """The spec inside a script :func:`spec_script` wrote (``outdir/<panel id>.js``)."""
    text = Path(path).read_text(encoding="utf-8")
    start = text.index("]=", text.index("window.CoursePanels.specs[")) + 2
    return json.loads(text[start:].rstrip().rstrip(";"))


def export_panels(outdir, ids: Sequence[str] | None = None, *, progress=None, jobs: int = 2) -> list[dict]:
    """Write ``outdir/<id>.js`` for every panel (or ``ids``), the browser scripts to
    ``outdir/js/`` and ``outdir/manifest.json``; return the manifest's entries
    ``{id, notebook, cell, file, bytes, kind, scenes, seconds, scripts, code}`` (``scripts``: what
    a page with the panel loads first, relative to ``outdir``; ``code``: :func:`code_fingerprint`).
    ``jobs`` processes export panels side by side (each panel's table is one process's work)."""
    outdir = Path(outdir)
    code = code_fingerprint()  # before training: the code the tables are made by
    (outdir / "js").mkdir(parents=True, exist_ok=True)
    for path in JS_FILES:
        shutil.copyfile(path, outdir / "js" / path.name)
    for path in sorted((_HERE / "js").glob("*.js")):  # the computing source's scripts (optim, synth, ...)
        text = path.read_text(encoding="utf-8")
        if re.search(r"^export\s", text, flags=re.M):
            continue  # an ES module (JupyterLab's anywidget code): a page's classic scripts cannot load it
        if not (outdir / "js" / path.name).exists():
            shutil.copyfile(path, outdir / "js" / path.name)
    entries = [e for e in REGISTRY if ids is None or e.id in ids]
    # the slowest first, so two workers finish together
    order = sorted(entries, key=lambda e: -_COST.get(e.id, 0))
    if jobs > 1 and len(order) > 1:
        import concurrent.futures
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch threads
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {e.id: pool.submit(_export_one, e.id, str(outdir)) for e in order}
            results = {}
            for panel_id, future in futures.items():
                results[panel_id] = future.result()
                if progress:
                    progress(results[panel_id]["log"])
    else:
        results = {e.id: _export_one(e.id, str(outdir)) for e in order}
        if progress:
            for e in order:
                progress(results[e.id]["log"])
    manifest = []
    for entry in entries:
        item = dict(results[entry.id])
        del item["log"]
        item["code"] = code
        manifest.append(item)
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.web.export", description=__doc__.split("\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("--only", nargs="*", help="panel ids (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="processes side by side (default 2)")
    parser.add_argument("--if-stale", action="store_true",
                        help="do nothing (but mark the manifest new) when OUTDIR was exported by this very code "
                             "(make panels: a file touched with no change trains nothing)")
    args = parser.parse_args(argv)
    if args.if_stale and not args.only and export_is_current(args.outdir):
        (Path(args.outdir) / "manifest.json").touch()
        print(f"{args.outdir}: exported by this very code already (nothing to train)")
        return 0
    started = time.perf_counter()
    manifest = export_panels(args.outdir, args.only, jobs=args.jobs,
                             progress=lambda m: print(m, file=sys.stderr, flush=True))
    by_page: dict[str, int] = {}
    for item in manifest:
        by_page[item["notebook"]] = by_page.get(item["notebook"], 0) + item["bytes"]
        print(f"{item['id']:36s} {item['kind']:8s} {item['scenes']:6d} scenes {item['bytes'] / 1e6:7.2f} MB "
              f"{item['seconds']:6.1f} s")
    for page, size in by_page.items():
        print(f"page {page:30s} {size / 1e6:7.2f} MB of panel specs")
    import resource

    cpu = sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for field in ("ru_utime", "ru_stime"))
    print(f"total {sum(by_page.values()) / 1e6:.2f} MB in {time.perf_counter() - started:.0f} s "
          f"({cpu:.0f} s of CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
