"""Slider panels in a real browser: input event -> new figure painted, per panel; Play frame rate.

    .venv/bin/python benchmarks/browser_latency.py                       # every notebooks/*.ipynb
    .venv/bin/python benchmarks/browser_latency.py notebooks/03_momentum.ipynb --repeat 2
    .venv/bin/python benchmarks/browser_latency.py --source /tmp/main-copy   # another checkout's course

JupyterLab (from this .venv, on 127.0.0.1, random port and token) serves a scratch copy of the
course; headless Chromium (/usr/bin/chromium, through Playwright) runs each notebook with Run All
and then, in every panel, changes each control the way a learner does: arrow keys on a slider's
handle, another option in a dropdown, a click on a checkbox or button. One change is timed from
the input event's own timestamp (``event.timeStamp``) to the first animation frame after the new
figure was drawn in that panel: the course view's drawing of a *new scene*, or, for a figure
shown as a PNG, the new ``<img>`` loaded. The next change starts once the panel has been quiet
for 0.4 s, so changes never overlap.

Play: the panel's Play button, from the first step to the last: frames painted per second and
the share of the steps that were painted. Dragging: a slider handle dragged across 12 positions
in about a second; how many new figures were painted while the mouse button was down.

``--source DIR`` serves DIR's notebooks with DIR first on the kernel's PYTHONPATH, so the same
script measures another checkout (the "before" column of docs/benchmarks.md).
Targets (issue 9): median <= 150 ms and p95 <= 300 ms (goal: median <= 50 ms); Play >= 12
frames/s with every step shown (goal: >= 25 frames/s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from e2e.lab import RECORDER, Lab, NotebookPage, launch_chromium, missing_requirements  # noqa: E402

CONTROLS = {"slider": ".widget-slider", "dropdown": ".widget-dropdown",
            "checkbox": ".widget-checkbox", "button": "button.widget-button"}

# Frames of panel i painted after time t that show something new (a new scene or a new image).
NEW_FRAMES = """([i, t]) => {
  const el = window.__courseLab.panels()[i];
  const seen = window.__courseSeen = window.__courseSeen || new Map();
  return window.__course.frames.filter(f => f.t > t && el.contains(f.el)
      && (f.kind === 'img' || f.scene !== (seen.get(f.el) ?? -1)))
    .map(f => ({t: f.t, kind: f.kind, scene: f.scene ?? null}));
}"""


def percentile(values, q):
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class PanelDriver:
    def __init__(self, nb: NotebookPage, index: int):
        self.nb, self.page, self.index = nb, nb.page, index
        self.panel = nb.panel(index)

    def now(self) -> float:
        return self.page.evaluate("() => performance.now()")

    def last_scene(self):
        return self.page.evaluate("""(i) => { const v = window.__courseLab.panels()[i].querySelector('.course-figure-view');
                                             return v ? Number(v.dataset.scene) : null; }""", self.index)

    def settle(self, quiet_s: float = 0.4, limit_s: float = 30.0) -> None:
        """Wait until the panel paints nothing new for ``quiet_s``."""
        start = time.monotonic()
        while time.monotonic() - start < limit_s:
            t = self.now()
            self.page.wait_for_timeout(quiet_s * 1000)
            if not self.page.evaluate("([i, t]) => window.__course.frames.some(f => f.t > t"
                                      " && window.__courseLab.panels()[i].contains(f.el))", [self.index, t]):
                return

    def view_state(self) -> dict:
        """The panel's FigureView flags (``live``, ``compute``, ``source``: see course_lib.web.live)."""
        return self.page.evaluate("""(i) => { const v = window.__courseLab.panels()[i].querySelector('.course-figure-view');
            return v ? {live: v.dataset.live || null, compute: v.dataset.compute || null,
                        source: v.dataset.source || null} : {}; }""", self.index)

    def local_scenes(self) -> int:
        """How many scenes this panel's view drew from the browser's own source (course_lib.web.live)."""
        return int(self.page.evaluate("""(i) => { const v = window.__courseLab.panels()[i].querySelector('.course-figure-view');
                                                  return v ? Number(v.dataset.localScene || 0) : 0; }""", self.index))

    def timed(self, action) -> float | None:
        """Latency (ms) of one change: input timestamp -> first new figure painted after it.
        ``self.answered_here`` says whether the browser drew it from its own source (no kernel)."""
        self.settle()
        scene = self.last_scene()
        local_before = self.local_scenes()
        n_inputs = self.page.evaluate("() => window.__course.inputs.length")
        action()
        try:
            self.page.wait_for_function(
                """([i, n, scene]) => {
                     const inputs = window.__course.inputs.slice(n);
                     if (!inputs.length) return false;
                     const t0 = inputs[0].t;
                     const el = window.__courseLab.panels()[i];
                     return window.__course.frames.some(f => f.t > t0 && el.contains(f.el)
                        && (f.kind === 'img' || f.scene > scene));
                   }""", arg=[self.index, n_inputs, -1 if scene is None else scene], timeout=20000, polling=20)
        except Exception:
            return None
        self.answered_here = self.local_scenes() > local_before
        return self.page.evaluate(
            """([i, n, scene]) => {
                 const t0 = window.__course.inputs[n].t;
                 const el = window.__courseLab.panels()[i];
                 const f = window.__course.frames.find(f => f.t > t0 && el.contains(f.el)
                    && (f.kind === 'img' || f.scene > scene));
                 return f.t - t0; }""", [self.index, n_inputs, -1 if scene is None else scene])

    def controls(self):
        """The panel's controls, except the step slider beside Play (measured as Play)."""
        for kind, selector in CONTROLS.items():
            for k in range(self.panel.locator(selector).count()):
                control = self.panel.locator(selector).nth(k)
                if kind == "slider" and control.evaluate(
                        "el => !!el.parentElement.querySelector(':scope > .widget-play')"):
                    continue
                yield kind, control

    def changes(self, kind, control, per_control: int):
        """Actions that each change ``control`` once."""
        if kind == "slider":
            handle = control.locator(".noUi-handle").first
            keys = ["ArrowLeft"] * (per_control // 2) + ["ArrowRight"] * (per_control - per_control // 2)
            return [lambda key=key: (handle.focus(), handle.press(key)) for key in keys]
        if kind == "dropdown":
            select = control.locator("select")
            values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
            current = select.input_value()
            order = [v for v in values if v != current][: max(1, per_control - 1)] + [current]
            return [lambda v=v: select.select_option(v) for v in order]
        if kind == "checkbox":
            box = control.locator("input[type=checkbox]")
            return [box.click, box.click]
        return [control.click, control.click]

    def play(self) -> dict | None:
        if not self.panel.locator(".widget-play").count():
            return None
        self.settle()
        slider = self.panel.locator(".widget-play").locator("xpath=..").locator(".widget-slider")
        last = int(self.panel.locator(".widget-play").evaluate(
            "el => { const v = el.closest('.jp-OutputArea-output').querySelector('.course-figure-view');"
            " return v ? Number(v.dataset.lastStep) : -1; }"))
        if last < 0:  # the PNG panel: its step slider's max is the last step
            last = int(slider.locator(".widget-readout").inner_text() or 0)
        t0 = self.now()
        self.panel.locator(".widget-play button").first.click()
        deadline = time.monotonic() + max(60, last * 1.5)
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(500)
            readout = slider.locator(".widget-readout").inner_text().strip()
            if readout == str(last) and self.page.evaluate(
                    "([i, t]) => window.__course.frames.filter(f => f.t > t"
                    " && window.__courseLab.panels()[i].contains(f.el)).length > 2", [self.index, t0]):
                break
        self.settle(quiet_s=1.0)
        frames = self.page.evaluate("""([i, t]) => window.__course.frames.filter(f => f.t > t
            && window.__courseLab.panels()[i].contains(f.el)).map(f => ({t: f.t, step: f.step ?? null}))""",
                                    [self.index, t0])
        if len(frames) < 2:
            return {"steps": last + 1, "frames": len(frames), "fps": 0.0, "shown": 0.0}
        span_s = (frames[-1]["t"] - frames[0]["t"]) / 1e3
        steps = {f["step"] for f in frames if f["step"] is not None}
        shown = len(steps) if steps else len(frames)  # a PNG frame shows one step
        return {"steps": last + 1, "frames": len(frames), "fps": (len(frames) - 1) / span_s,
                "shown": min(1.0, shown / (last + 1))}

    def drag(self) -> int | None:
        """Drag the first slider's handle; new figures painted while the button is down."""
        sliders = self.panel.locator(".widget-slider")
        if not sliders.count():
            return None
        handle = sliders.first.locator(".noUi-handle").first
        track = sliders.first.locator(".noUi-base, .noUi-target").first
        self.settle()
        box, hbox = track.bounding_box(), handle.bounding_box()
        x, y = hbox["x"] + hbox["width"] / 2, hbox["y"] + hbox["height"] / 2
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        t_down = self.now()
        target = box["x"] + box["width"] * (0.2 if x > box["x"] + box["width"] / 2 else 0.8)
        for k in range(1, 13):
            self.page.mouse.move(x + (target - x) * k / 12, y)
            self.page.wait_for_timeout(80)
        t_up = self.now()
        self.page.mouse.up()
        self.settle()
        return self.page.evaluate("""([i, a, b]) => window.__course.frames.filter(f => f.t > a && f.t <= b
            && window.__courseLab.panels()[i].contains(f.el)).length""", [self.index, t_down, t_up])


def measure(notebooks: list[Path], source: Path, per_control: int, log) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict[str, dict] = {}
    extra_env = {"PYTHONPATH": str(source)} if source != REPO_ROOT else {}
    with Lab(source_root=source, extra_env=extra_env, log_path=REPO_ROOT / "build" / "browser_latency_lab.log") as lab, \
            sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for path in notebooks:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(RECORDER)
            page = context.new_page()
            page.set_default_timeout(120_000)
            nb = NotebookPage(page, lab, f"notebooks/{path.name}").open()
            nb.run_all()
            for index in range(nb.panel_count()):
                driver = PanelDriver(nb, index)
                driver.panel.scroll_into_view_if_needed()
                title = driver.panel.locator(".widget-html b").first
                name = f"{path.stem}: " + (title.inner_text() if title.count() else f"panel {index}")
                times, missed, here = [], 0, []
                # the view's state before the moves: live (the kernel answered its ping), compute
                # (the controls' models found), source (the browser's source arrived)
                view_state = driver.view_state()
                for kind, control in list(driver.controls()):
                    for action in driver.changes(kind, control, per_control):
                        latency = driver.timed(action)
                        if latency is None:
                            missed += 1
                        else:
                            times.append(latency)
                            here.append(driver.answered_here)
                entry = results.setdefault(name, {"times": [], "missed": 0, "play": [], "drag": [], "here": [],
                                                  "view": view_state})
                entry["times"] += times
                entry["here"] += here
                entry["missed"] += missed
                play = driver.play()
                if play:
                    entry["play"].append(play)
                dragged = driver.drag()
                if dragged is not None:
                    entry["drag"].append(dragged)
                log(f"  {name}: {len(times)} changes, median {statistics.median(times) if times else float('nan'):.0f} ms"
                    f", play {play}, drag frames {dragged}, view {view_state}")
            context.close()
        browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--source", type=Path, default=REPO_ROOT,
                        help="course checkout whose notebooks and course_lib to measure")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--per-control", type=int, default=4, help="changes per slider/dropdown")
    args = parser.parse_args(argv)
    why = missing_requirements()
    if why:
        print(f"skipped: {why}")
        return 0
    source = args.source.resolve()
    notebooks = [Path(p) for p in args.notebooks] or sorted((source / "notebooks").glob("*.ipynb"))
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {os.cpu_count()} CPUs; source {source}")
    merged: dict[str, dict] = {}
    for _ in range(args.repeat):
        for name, entry in measure(notebooks, source, args.per_control, print).items():
            into = merged.setdefault(name, {"times": [], "missed": 0, "play": [], "drag": [], "here": []})
            for key in into:
                into[key] += entry[key]
    print("\n| panel | changes | median ms | p95 ms | over 500 ms | Play frames/s | steps shown | frames while dragging |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    everything = []
    for name, e in merged.items():
        times = e["times"]
        everything += times
        play = e["play"]
        fps = f"{statistics.median(p['fps'] for p in play):.1f}" if play else "–"
        shown = f"{statistics.median(p['shown'] for p in play):.0%} of {play[0]['steps']}" if play else "–"
        drag = f"{statistics.median(e['drag']):.0f}" if e["drag"] else "–"
        if times:
            missed = f" (+{e['missed']} no frame)" if e["missed"] else ""
            print(f"| {name} | {len(times)}{missed} | "
                  f"{statistics.median(times):.0f} | {percentile(times, 95):.0f} | "
                  f"{sum(t > 500 for t in times) / len(times):.0%} | {fps} | {shown} | {drag} |")
    if everything:
        print(f"| **all panels** | {len(everything)} | {statistics.median(everything):.0f} | "
              f"{percentile(everything, 95):.0f} | {sum(t > 500 for t in everything) / len(everything):.0%} | | | |")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
