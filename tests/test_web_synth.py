"""The scenes made in the browser (course_lib/web/js/synth.js, fed by the JS port's runs: the
landscape panels and 06's effective-lr curves) against the scenes the Python panels make
(``panel.update(**values)``; FigureView's scene), in node.

For each panel computed in the browser and a sample of control combinations (the defaults, each
slider at both ends, every option of every picker, diverging runs, the notches
``SAMPLED_NOTCHES`` names with every option of every picker, and seeded random combinations),
every line's points agree within 0.2 px, every tick within 0.2 px with the same
label, every text is the same string at the same place in the same style, legends, axes boxes
and backgrounds are the same, and so are Play's marks (reveal, follow, from_step, last_step).
The only planned difference: where the contour follows a condition-number slider, the JS draws
it as ellipses (lines marked ``"contour"``) instead of naming a background picture; a test checks
those ellipses against the levels of the Python contour.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

PX = 0.2  # pixels: how far a JS point or tick may sit from the Python one

PANELS = ("01_gradient_descent-0", "01_gradient_descent-1", "03_momentum-0", "04_nesterov-0",
          "05_adagrad-0", "06_rmsprop_adadelta-0", "07_adam-0")

#: notches tried with every option of every picker, per panel (06: α from no memory to 1000 steps)
SAMPLED_NOTCHES = {"06_rmsprop_adadelta-0": {"alpha": [0.0, 0.001, 0.5, 0.9, 0.99, 0.999]}}


def _notch(control: dict, target: float):
    """The control's notch at ``target`` (it must have one)."""
    (value,) = [v for v in control["values"] if np.isclose(v, target, rtol=1e-9, atol=1e-12)]
    return value


def _combinations(controls: list[dict], seed: int, random_count: int, sampled: dict | None = None) -> list[dict]:
    defaults = {c["name"]: c["value"] for c in controls}
    combos = [dict(defaults)]
    pickers = [c for c in controls if c["kind"] == "dropdown"]
    for name, targets in (sampled or {}).items():
        (control,) = [c for c in controls if c["name"] == name]
        for target in targets:
            for options in itertools.product(*(picker["values"] for picker in pickers)):
                combos.append({**defaults, **{picker["name"]: option for picker, option in zip(pickers, options)},
                               name: _notch(control, target)})
    for control in controls:
        values = control["values"]
        if control["kind"] in ("dropdown", "checkbox"):
            picks = values
        else:
            picks = [values[0], values[-1]]
        for value in picks:
            combos.append({**defaults, control["name"]: value})
    # every layout with the largest learning rate (runs that diverge) and the smallest
    lr = next((c for c in controls if c["name"] == "lr"), None)
    for picker in pickers:
        for option in picker["values"]:
            if lr is not None:
                combos.append({**defaults, picker["name"]: option, "lr": lr["values"][-1]})
                combos.append({**defaults, picker["name"]: option, "lr": lr["values"][0]})
    rng = random.Random(seed)
    for _ in range(random_count):
        combos.append({c["name"]: rng.choice(c["values"]) for c in controls})
    unique = []
    for combo in combos:
        if combo not in unique:
            unique.append(combo)
    return unique


def _close(a, b) -> float:
    return abs(float(a) - float(b))


class Diff:
    def __init__(self):
        self.problems: list[str] = []
        self.max_px = 0.0

    def fail(self, where: str, message: str) -> None:
        if len(self.problems) < 30:
            self.problems.append(f"{where}: {message}")

    def px(self, where: str, a, b) -> None:
        if a is None or b is None:
            if a is not b:
                self.fail(where, f"{a!r} vs {b!r}")
            return
        gap = _close(a, b)
        if not np.isfinite(gap):
            self.fail(where, f"{a!r} vs {b!r}")
            return
        self.max_px = max(self.max_px, gap)
        if gap > PX:
            self.fail(where, f"{a} vs {b} ({gap:.2f} px)")

    def same(self, where: str, a, b) -> None:
        if a != b:
            self.fail(where, f"{a!r} vs {b!r}")

    def style(self, where: str, js: dict, py: dict, skip: tuple) -> None:
        for key in sorted(set(js) | set(py)):
            if key in skip:
                continue
            a, b = js.get(key), py.get(key)
            if isinstance(a, float) or isinstance(b, float):
                if a is None or b is None or _close(a, b) > 1e-9:
                    self.fail(f"{where}.{key}", f"{a!r} vs {b!r}")
            elif a != b:
                self.fail(f"{where}.{key}", f"{a!r} vs {b!r}")

    def ticks(self, where: str, js: dict, py: dict) -> None:
        self.style(where, js, py, skip=("major", "minor"))
        for kind in ("major", "minor"):
            a, b = js.get(kind, []), py.get(kind, [])
            if len(a) != len(b):
                self.fail(f"{where}.{kind}", f"{len(a)} ticks vs {len(b)}: {a} vs {b}")
                continue
            for i, ((ca, la), (cb, lb)) in enumerate(zip(a, b)):
                self.px(f"{where}.{kind}[{i}]", ca, cb)
                self.same(f"{where}.{kind}[{i}] label", la, lb)

    def texts(self, where: str, js: list, py: list) -> None:
        if len(js) != len(py):
            self.fail(where, f"{[t['text'] for t in js]} vs {[t['text'] for t in py]}")
            return
        for i, (a, b) in enumerate(zip(js, py)):
            self.style(f"{where}[{i}]", a, b, skip=("x", "y"))
            self.px(f"{where}[{i}].x", a["x"], b["x"])
            self.px(f"{where}[{i}].y", a["y"], b["y"])

    def lines(self, where: str, js: list, py: list) -> None:
        if len(js) != len(py):
            self.fail(where, f"{len(js)} lines vs {len(py)}: n {[l['n'] for l in js]} vs {[l['n'] for l in py]}")
            return
        for i, (a, b) in enumerate(zip(js, py)):
            self.style(f"{where}[{i}]", a, b, skip=("points",))
            pa, pb = a["points"], b["points"]
            if len(pa) != len(pb):
                self.fail(f"{where}[{i}].points", f"{len(pa)} vs {len(pb)} numbers")
                continue
            for k, (u, v) in enumerate(zip(pa, pb)):
                self.px(f"{where}[{i}].points[{k}]", u, v)

    def scene(self, js: dict, py: dict, *, contour_bg: bool) -> None:
        self.style("scene", js, py, skip=("axes", "texts"))
        self.texts("scene.texts", js["texts"], py["texts"])
        if len(js["axes"]) != len(py["axes"]):
            self.fail("scene.axes", f"{len(js['axes'])} vs {len(py['axes'])}")
            return
        for n, (a, b) in enumerate(zip(js["axes"], py["axes"])):
            where = f"axes[{n}]"
            lines = a["lines"]
            if contour_bg and n == 0:
                lines = [line for line in lines if not line.get("contour")]
            else:
                self.same(f"{where}.bg", a["bg"], b["bg"])
            for i, (u, v) in enumerate(zip(a["box"], b["box"])):
                self.px(f"{where}.box[{i}]", u, v)
            self.same(f"{where}.face", a["face"], b["face"])
            self.same(f"{where}.spines", a["spines"], b["spines"])
            self.same(f"{where}.legend", a["legend"], b["legend"])
            self.ticks(f"{where}.x", a["x"], b["x"])
            self.ticks(f"{where}.y", a["y"], b["y"])
            self.lines(f"{where}.lines", lines, b["lines"])
            self.texts(f"{where}.texts", a["texts"], b["texts"])


@pytest.fixture(scope="module")
def built():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.web import synth

    cache = {}

    def get(panel_id):
        if panel_id not in cache:
            panel = synth.build_panel(panel_id)
            cache[panel_id] = (panel, synth.compute_spec(panel_id, panel))
        return cache[panel_id]

    return get


def _contour_layout(spec: dict, values: dict) -> bool:
    source = spec["source"]
    key = "|".join(str(values[name]) for name in source["layout_controls"])
    return bool(source["layouts"].get(key, {}).get("contour_of"))


def _as_result(panel_id: str, values: dict, trajectories: list) -> dict:
    """The Python runs as the JS port's compute returns them ({trajectories, extras})."""
    extras: dict = {}
    if panel_id == "06_rmsprop_adadelta-0":
        from course_lib.theory.rmsprop import ema_memory
        from course_lib.ui.panels.rmsprop_adadelta import gradient_stream

        return {"trajectories": [{"label": c.label, "effective_lr": np.asarray(c.effective_lr, dtype=float).tolist(),
                                  "step_size": np.asarray(c.step_size, dtype=float).tolist()} for c in trajectories],
                "extras": {"gradients": gradient_stream(values["stream"]).tolist(),
                           "memory": ema_memory(values["alpha"])}}
    if panel_id == "01_gradient_descent-1":
        from course_lib.theory.gradient_descent import curvatures_at_minimum
        from course_lib.ui.panels.gradient_descent import _landscape

        curvatures = curvatures_at_minimum(_landscape(values["landscape"], float(values["condition_number"])))
        extras["curvatures"] = None if curvatures is None else list(curvatures)
    if panel_id == "03_momentum-0":
        from course_lib.ui.panels.momentum import panel_landscape

        surface = panel_landscape(values["landscape"])
        extras.update(mu=getattr(surface, "mu", None), L=getattr(surface, "L", None))
    return {"trajectories": [
        {"label": t.label, "path": np.asarray(t.path, dtype=float).tolist(),
         "losses": np.asarray(t.losses, dtype=float).tolist(), "diverged": bool(t.diverged),
         "diverged_at": t.diverged_at, "message": t.message} for t in trajectories],
        "extras": extras}


def _runs_differ(python: dict, js: dict) -> bool:
    """Whether the JS port's runs differ from the Python runs by more than float64 round-off
    (tests/test_web_parity.py is where that is held to account; here such a combination is
    checked with the Python runs only, and named in the output)."""
    a, b = python["trajectories"], js["trajectories"]
    if len(a) != len(b):
        return True
    for u, v in zip(a, b):
        if "effective_lr" in u:  # 06's curves
            if u["label"] != v["label"] or not all(
                    np.allclose(u[key], v[key], rtol=1e-12, atol=0) for key in ("effective_lr", "step_size")):
                return True
            continue
        if u["label"] != v["label"] or u["message"] != v["message"] or len(u["path"]) != len(v["path"]):
            return True
        pu, pv = np.asarray(u["path"], dtype=float), np.asarray(v["path"], dtype=float)
        if not np.allclose(pu, pv, rtol=1e-12, atol=1e-300):
            return True
    return False


def _hide_roundoff(scene: dict, result: dict) -> dict:
    """The scene with the loss-curve points below 1e-12 of the curve's start left out: there the
    loss is float64 round-off (a run at its minimum), which the JS port and torch round
    differently, and a log axis draws the difference (1e-30 against 1e-31)."""
    scene = json.loads(json.dumps(scene))
    for k, trajectory in enumerate(result["trajectories"]):
        losses = np.abs(np.asarray(trajectory["losses"], dtype=float))
        points = scene["axes"][1]["lines"][k]["points"]
        for i in np.flatnonzero(losses < 1e-12 * losses[0]):
            points[2 * i] = points[2 * i + 1] = None
    return scene


@pytest.mark.parametrize("panel_id", PANELS)
def test_js_scene_equals_python_scene(panel_id, built):
    """Both the scene synth.js makes from the Python runs (the synthesis alone) and the one it
    makes from the JS port's own runs (what the page shows) equal the Python panel's scene."""
    from course_lib.web import synth

    panel, spec = built(panel_id)
    combos = _combinations(spec["controls"], seed=sum(map(ord, panel_id)), random_count=12,
                           sampled=SAMPLED_NOTCHES.get(panel_id))
    python_scenes, results = [], []
    for values in combos:
        trajectories = panel.update(**values)
        python_scenes.append(json.loads(json.dumps(panel.view.scene)))
        results.append(_as_result(panel_id, values, trajectories))
    from_python_runs = synth.scenes_in_node(spec["source"], combos, results)
    from_js_runs = synth.scenes_in_node(spec["source"], combos)
    from course_lib.web.jsport import run_in_node

    js_runs = run_in_node([{"panel": panel_id, "values": values} for values in combos])
    differ = [values for values, result, js in zip(combos, results, js_runs)
              if "ok" not in js or _runs_differ(result, js["ok"])]
    if differ:
        print(f"\n{panel_id}: the JS port's runs differ from the Python runs (beyond round-off) for "
              f"{len(differ)} of {len(combos)} combinations: {differ}")
    lines = []
    for name, answers in (("Python runs", from_python_runs), ("JS runs", from_js_runs)):
        report = Diff()
        times = []
        for values, answer, expected in zip(combos, answers, python_scenes):
            assert "ok" in answer, f"{panel_id} {values}: {answer.get('error')}"
            if name == "JS runs" and values in differ:
                continue
            times.append(answer["ms"])
            before = len(report.problems)
            scene = answer["ok"]
            if name == "JS runs" and spec["source"]["figure"] == "paths":
                result = results[combos.index(values)]
                scene, expected = _hide_roundoff(scene, result), _hide_roundoff(expected, result)
            report.scene(scene, expected, contour_bg=_contour_layout(spec, values))
            if len(report.problems) > before:
                report.problems.insert(before, f"--- {name}: {values}")
        print(f"\n{panel_id} from {name}: {len(times)} combinations, max |JS - Python| {report.max_px:.2f} px, "
              f"scene in node: median {np.median(times):.2f} ms, max {max(times):.1f} ms")
        lines += report.problems
    assert not lines, "\n".join(lines)


@pytest.mark.parametrize("panel_id", PANELS)
def test_spec_is_json_and_within_budget(panel_id, built):
    _, spec = built(panel_id)
    text = json.dumps(spec, allow_nan=False, ensure_ascii=False)
    size = len(text.encode())
    print(f"\n{panel_id}: spec {size / 1e3:.0f} kB ({len(spec['images'])} background pictures)")
    # a lecture page holds at most 5 MB with everything; notebook 01 has two of these panels
    assert size < 1.5e6
    assert spec["source"]["kind"] == "compute"
    layouts = spec["source"]["layouts"]
    named = {layout["paths"]["entry"]["bg"] for layout in layouts.values()} - {None}
    assert named == set(spec["images"])


@pytest.mark.parametrize("panel_id, values", [
    ("01_gradient_descent-1", {"condition_number": 100.0}),
    ("01_gradient_descent-1", {"condition_number": 1.0}),
    ("05_adagrad-0", {"kappa": 1000.0, "orientation": "turned 45°"}),
    ("05_adagrad-0", {"kappa": 1.0, "orientation": "along the axes"}),
])
def test_contour_ellipses_follow_the_python_contour_levels(panel_id, values, built):
    """Each ellipse JS draws lies on the level the Python ContourSet draws in the same colour."""
    from course_lib.web import synth

    panel, spec = built(panel_id)
    defaults = {c["name"]: c["value"] for c in spec["controls"]}
    values = {**defaults, **values}
    (answer,) = synth.scenes_in_node(spec["source"], [values])
    panel.update(**values)
    contour = panel.figure.contour
    levels = np.asarray(contour.levels)
    ellipses = [line for line in answer["ok"]["axes"][0]["lines"] if line.get("contour")]
    assert len(ellipses) == len(levels)
    from matplotlib.colors import to_hex

    colors = [to_hex(c, keep_alpha=True) for c in contour.get_edgecolor()]
    ax = panel.figure.ax_paths
    height = panel.fig.bbox.height
    inverse = ax.transData.inverted()
    per_px = (ax.get_xlim()[1] - ax.get_xlim()[0]) / ax.bbox.width  # data units per pixel
    import torch

    for line, level, color in zip(ellipses, levels, colors):
        assert line["color"] == color
        xy = np.asarray(line["points"], dtype=float).reshape(-1, 2)
        xy[:, 1] = height - xy[:, 1]
        data = torch.as_tensor(inverse.transform(xy), dtype=torch.float64)
        with torch.no_grad():
            f = panel.figure.landscape(data).numpy()
            slope = panel.figure.landscape.grad(data).norm(dim=-1).numpy()
        # the points are rounded to 0.1 px: f may be off by the slope times 0.05·√2 px
        assert np.all(np.abs(f - level) <= slope * per_px * 0.075 + 1e-9 * level + 1e-12), level


def test_sources_register_compute_and_keep_the_last_scene_on_an_error(built, tmp_path):
    """In a page, CoursePanels.sources.compute(spec).sceneFor(values) answers with the scene
    (whatever order the page loads the scripts in: here by name, synth.js before trajectories.js);
    a combination the Python panel rejects (a negative lr, never on a slider) keeps the last good
    scene and says why, as the panel's status line does."""
    import subprocess
    from pathlib import Path

    import course_lib.web.synth as synth

    _, spec = built("01_gradient_descent-0")
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    js = Path(synth.__file__).with_name("js")
    script = f"""
    // as a page does: classic scripts in one global scope, no require, in the order given
    const vm = require("vm"), fs = require("fs");
    const page = {{console}};
    page.window = page;
    vm.createContext(page);
    for (const f of {json.dumps(sorted(synth.JS_FILES))}) {{
      vm.runInContext(fs.readFileSync({json.dumps(str(js))} + "/" + f, "utf8"), page, {{filename: f}});
    }}
    page.spec = JSON.parse(fs.readFileSync({json.dumps(str(tmp_path / "spec.json"))}, "utf8"));
    const out = vm.runInContext(`
      const source = window.CoursePanels.sources.compute(spec);
      const values = Object.fromEntries(spec.controls.map((c) => [c.name, c.value]));
      const good = source.sceneFor(values);
      const same = JSON.stringify(good) === JSON.stringify(window.CourseSynth.sceneFor(spec.source, values));
      const bad = source.sceneFor(Object.assign({{}}, values, {{lr: -1}}));
      JSON.stringify({{same, error: bad.error || "", axes: bad.axes.length,
                      lines: JSON.stringify(bad.axes) === JSON.stringify(good.axes),
                      node: typeof require}});
    `, page);
    console.log(out);
    """
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout)
    assert answer["node"] == "undefined"  # no require: the scripts found each other as a page's do
    assert answer["same"] and answer["lines"] and answer["axes"] == 2
    assert "learning rate" in answer["error"]


def test_live_panel_gets_its_browser_source_once_live():
    """course_lib.web.live.live_panel: the panel's view is a LiveFigureView (drawing code, the JS
    port, synth.js and live_view.js in one module) holding the controls' widget models; the
    browser's source comes when the view goes live (not while a notebook runs without a browser),
    and the kernel keeps updating the view's scene."""
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.web.live import LiveFigureView, live_panel

    panel = live_panel("05_adagrad-0")
    view = panel.view
    assert isinstance(view, LiveFigureView) and view in panel.widget.children
    for name in ("window.CourseOptim", "CourseSynth", "function liveRender", "export default { render: liveRender }"):
        assert name in view._esm
    assert set(view.control_models) == set(panel.sliders)
    assert all(ref == f"IPY_MODEL_{panel.sliders[name].model_id}" for name, ref in view.control_models.items())
    assert view.source == {}
    view._on_frontend_msg(view, {"type": "ping"}, [])  # the browser's first message
    assert view.source["kind"] == "compute" and view.source["panel"] == "05_adagrad-0"
    before = view.scene
    panel.update(lr=0.01)
    assert view.scene is not before and view.scene["axes"][1]["legend"]["items"][0]["label"].startswith("Adagrad (lr=0.01")


def test_tickers_match_matplotlib_on_random_ranges():
    """synth.js's ports of matplotlib's tickers against matplotlib itself, over random view
    limits far beyond what the sampled panels reach: AutoLocator (MaxNLocator) + ScalarFormatter
    on linear axes through or from 0 (as all of these panels' linear axes are: no offset), LogLocator (major and 'auto' minor) + LogFormatterSciNotation on log axes
    (1e-300 .. 1e300, less than a decade to hundreds), SymmetricalLogLocator on symlog axes."""
    import subprocess
    from pathlib import Path

    from matplotlib import ticker

    import course_lib.web.synth as synth
    from course_lib.ui.figure_view import tick_label

    rng = np.random.default_rng(19)
    cases, expected = [], []
    for _ in range(150):  # linear, through 0 or starting at it as every linear axis of these panels
        span = float(10 ** rng.uniform(-3, 4))
        low = float(rng.choice([0.0, -rng.uniform(0, 1)]) * span)
        high = low + span
        nbins = int(rng.integers(1, 10))
        locs = ticker.MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
        inside = [float(v) for v in locs if low <= v <= high]
        formatter = ticker.ScalarFormatter()
        formatter.create_dummy_axis()
        formatter.axis.set_view_interval(low, high)
        cases.append({"kind": "linear", "vmin": low, "vmax": high, "nbins": nbins})
        expected.append({"locs": [float(v) for v in locs], "labels": formatter.format_ticks(inside)})
    for _ in range(200):  # log
        low = float(10 ** rng.uniform(-300, 290))
        high = low * float(10 ** rng.choice([rng.uniform(0.05, 1.5), rng.uniform(1, 30), rng.uniform(30, 300)]))
        if not np.isfinite(high):
            continue
        numticks = int(rng.integers(2, 10))
        major = ticker.LogLocator(numticks=numticks).tick_values(low, high)
        minor = ticker.LogLocator(subs="auto", numticks=numticks).tick_values(low, high)
        labels = {}
        for name, locs in (("major", major), ("minor", minor)):
            formatter = ticker.LogFormatterSciNotation()
            formatter.create_dummy_axis()
            formatter.axis.set_view_interval(low, high)
            inside = [float(v) for v in locs if low <= v <= high]
            labels[name] = [tick_label(s) for s in formatter.format_ticks(inside)]
        cases.append({"kind": "log", "vmin": low, "vmax": high, "numticks": numticks})
        expected.append({"major": [float(v) for v in major], "minor": [float(v) for v in minor], **{
            f"{k}_labels": v for k, v in labels.items()}})
    for _ in range(100):  # symlog
        linthresh = float(10 ** rng.uniform(-3, 2))
        low = -float(10 ** rng.uniform(-4, 12))
        high = float(rng.choice([0.0, 10 ** rng.uniform(-4, 3)]))
        base = int(rng.choice([10, 100, 1000]))
        locs = ticker.SymmetricalLogLocator(linthresh=linthresh, base=base).tick_values(low, high)
        formatter = ticker.LogFormatterSciNotation(base=base, linthresh=linthresh)
        formatter.create_dummy_axis()
        formatter.axis.set_view_interval(low, high)
        inside = [float(v) for v in locs if low <= v <= high]
        cases.append({"kind": "symlog", "vmin": low, "vmax": high, "linthresh": linthresh, "base": base})
        expected.append({"locs": [float(v) for v in locs],
                         "labels": [tick_label(t) for t in formatter.format_ticks(inside)]})
    script = Path(synth.__file__).with_name("js") / "synth.js"
    driver = r"""
    const S = require(process.argv[1]).ticker;
    const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const out = cases.map((c) => {
      if (c.kind === "linear") {
        const locs = S.maxNTicks(c.vmin, c.vmax, c.nbins);
        const inside = locs.filter((v) => c.vmin <= v && v <= c.vmax);
        return {locs, labels: S.scalarLabels(inside, c.vmin, c.vmax)};
      }
      if (c.kind === "log") {
        const major = S.logTicks(c.vmin, c.vmax, c.numticks, [1.0]);
        const minor = S.logTicks(c.vmin, c.vmax, c.numticks, "auto");
        const sub = S.logSublabels(c.vmin, c.vmax, 10, null);
        const label = (locs) => locs.filter((v) => c.vmin <= v && v <= c.vmax).map((v) => S.logLabel(v, 10, sub));
        return {major, minor, major_labels: label(major), minor_labels: label(minor)};
      }
      const locs = S.symlogTicks(c.vmin, c.vmax, c.linthresh, c.base);
      const sub = S.logSublabels(c.vmin, c.vmax, c.base, c.linthresh);
      return {locs, labels: locs.filter((v) => c.vmin <= v && v <= c.vmax).map((v) => S.logLabel(v, c.base, sub))};
    });
    process.stdout.write(JSON.stringify(out));
    """
    done = subprocess.run(["node", "-e", driver, str(script)], input=json.dumps(cases), capture_output=True,
                          text=True, check=True)
    answers = json.loads(done.stdout)
    problems = []
    for case, want, got in zip(cases, expected, answers):
        for key, value in want.items():
            if key.endswith("labels"):
                ok = got[key] == value
            else:
                mine = [np.inf if v is None else v for v in got[key]]  # JSON writes inf as null
                ok = len(mine) == len(value) and np.allclose(mine, value, rtol=1e-12, atol=0)
            if not ok:
                problems.append(f"{case}: {key} {got[key]} vs matplotlib {value}")
    assert not problems, "\n".join(problems[:10]) + f"\n({len(problems)} in all)"
