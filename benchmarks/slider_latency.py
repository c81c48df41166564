"""In-kernel latency of every control of every slider panel: value set -> redraw done.

    .venv/bin/python benchmarks/slider_latency.py                 # every notebook in notebooks/
    .venv/bin/python benchmarks/slider_latency.py notebooks/03_momentum.ipynb --repeat 3
    .venv/bin/python benchmarks/slider_latency.py --compare-render-paths   # PNG vs blit vs browser

Each notebook runs top to bottom in a fresh course kernel (the one ``make run-notebook`` uses),
exactly as "Run All" would; then, inside that kernel, every ``SliderPanel`` the notebook built
has each of its controls moved through up to 6 values across its range (sliders), its options
(dropdowns), both states (checkboxes) or clicks (buttons). One change is timed from setting the
widget's value (what the browser's message does) to the end of the redraw: the new figure sent
to the front end. With the coalescing panel the redraw runs on the kernel's event loop, so the
timer stops after ``panel.flush()``, which runs the pending redraw at once.

``--live SECONDS`` first makes every panel live, as a browser showing it does: panels that
train networks (02, 10) then train their slider grids in a background process
(``course_lib.ui.background``), and the moves start SECONDS later, a learner's first look at the
panel. Without it no panel is live, so every new setting trains on demand: the worst case.

Printed: median and 95th percentile per panel and over all changes, in milliseconds, and the
machine load. Targets (issue 9): median <= 50 ms, p95 <= 150 ms (goal: median <= 20 ms).

``--compare-render-paths`` times, on the 2-D panel of notebook 01 (contour + paths + losses),
what each candidate render path costs the kernel per slider move after the optimizer has run:
the inline PNG of the whole figure (the course before issue 9), a blitted redraw as ipympl does
it (cached contour background, paths and loss curves redrawn, PNG diff encoded), and the
browser-side figure (``course_lib.ui.figure_view``: data serialised, the browser draws).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import nbformat  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

from course_lib.exercises.notebook_runner import KERNEL_WARNINGS, CurrentEnvKernelSpecManager  # noqa: E402

# Runs inside the kernel after the notebook's cells: moves every control of every panel.
MEASURE = r'''
def _course_measure_panels(max_values=6, live_after=None):
    import gc, json, math, time
    import ipywidgets as widgets
    from course_lib.ui.slider_panel import SliderPanel

    def candidate_values(control):
        if isinstance(control, widgets.Checkbox):
            return [not control.value, control.value]
        if isinstance(control, (widgets.Dropdown, widgets.SelectionSlider, widgets.RadioButtons,
                                widgets.ToggleButtons)):
            values = list(control._options_values)
            others = [v for v in values if v != control.value]
            step = max(1, len(others) // max_values)
            return others[::step][:max_values] + [control.value]
        if isinstance(control, widgets.FloatLogSlider):
            exps = [control.min + (control.max - control.min) * k / (max_values - 1) for k in range(max_values)]
            return [control.base ** e for e in exps] + [control.value]
        if isinstance(control, (widgets.FloatSlider, widgets.IntSlider)):
            raw = [control.min + (control.max - control.min) * k / (max_values - 1) for k in range(max_values)]
            if isinstance(control, widgets.IntSlider):
                raw = sorted({int(round(v)) for v in raw})
            return raw + [control.value]
        return []

    panels = [o for o in gc.get_objects() if isinstance(o, SliderPanel)]
    if live_after is not None:
        # What a browser showing the panels does: each view's first message makes it live,
        # which starts the panels' background training (course_lib.ui.background); then a
        # learner reads for live_after seconds before the first move.
        for panel in panels:
            if panel.view is not None:
                panel.view._on_frontend_msg(panel.view, {"type": "ping"}, [])
        time.sleep(live_after)
    results = []
    for index, panel in enumerate(panels):
        flush = getattr(panel, "flush", lambda: None)
        name = (getattr(panel, "title", "") or "") or f"panel {index}"
        times = []
        controls = list(panel.sliders.items())
        extra = [c for c in getattr(panel, "controls", widgets.Box()).children
                 if isinstance(c, widgets.Button)]
        for key, control in controls:
            for value in candidate_values(control):
                if value == control.value:
                    continue
                start, cpu = time.perf_counter(), time.process_time()
                control.value = value
                flush()
                times.append((key, (time.perf_counter() - start) * 1e3, (time.process_time() - cpu) * 1e3))
        for button in extra:
            for _ in range(2):
                start, cpu = time.perf_counter(), time.process_time()
                button.click()
                flush()
                times.append((button.description, (time.perf_counter() - start) * 1e3,
                              (time.process_time() - cpu) * 1e3))
        results.append({"panel": name, "times": times})
    print("@@RESULT@@" + json.dumps(results))
'''

PANEL_TITLE = r'''
import gc
from course_lib.ui.slider_panel import SliderPanel
for _p in [o for o in gc.get_objects() if isinstance(o, SliderPanel)]:
    if not getattr(_p, "title", ""):
        _texts = [getattr(w, "value", "") for w in _p.widget.children if type(w).__name__ == "HTML"]
        _p.title = next((t.replace("<b>", "").replace("</b>", "") for t in _texts if t.startswith("<b>")), "")
'''


def run_code(client, code: str, timeout: float = 300.0) -> str:
    """Execute ``code`` in the kernel; return its stdout; raise on an error."""
    msg_id = client.execute(code, store_history=False)
    out: list[str] = []
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            out.append(content["text"])
        elif kind == "error":
            raise RuntimeError("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(out)


def measure_notebook(path: Path, live_after: float | None = None) -> list[dict]:
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvKernelSpecManager())
    manager.start_kernel(cwd=str(path.parent), env={**os.environ, "PYTHONWARNINGS": KERNEL_WARNINGS},
                         stderr=subprocess.DEVNULL)  # the kernel's start-up chatter
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                run_code(client, cell.source)
        run_code(client, PANEL_TITLE)
        run_code(client, MEASURE)
        out = run_code(client, f"_course_measure_panels(live_after={live_after!r})")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    line = next(l for l in out.splitlines() if l.startswith("@@RESULT@@"))
    return json.loads(line[len("@@RESULT@@"):])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def compare_render_paths(repeat: int) -> None:
    """Kernel cost per slider move of three render paths on the same figure (01's 2-D panel)."""
    import io
    import time

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from course_lib.ui.panels import gradient_descent as gd

    panel = gd.lr_condition_panel()
    fig = panel.fig
    figure = panel.figure
    lrs = [10 ** (-3 + 3.5 * k / 11) for k in range(12)]

    def inline_png():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")  # what the inline backend does
        return len(buffer.getvalue())

    canvas = FigureCanvasAgg(fig)
    animated = [*figure.path_lines, *figure.end_markers, *figure.loss_lines, *figure.divergence_texts,
                figure.start_marker, panel.caption_artist]

    def blit_png():
        # ipympl with blitting: the background (contour, axes) is cached once; per move, the
        # changed artists are drawn on top and the canvas is PNG-encoded and sent (ipympl
        # sends PNG frames; its "diff" mode still encodes a full-size image). The loss axis
        # rescales on every move, so its ticks are part of what must be redrawn: redraw it.
        canvas.restore_region(background)
        for artist in animated:
            artist.axes.draw_artist(artist) if artist.axes else fig.draw_artist(artist)
        figure.ax_loss.draw(canvas.get_renderer())
        buffer = io.BytesIO()
        canvas.print_png(buffer)
        return len(buffer.getvalue())

    for artist in animated:
        artist.set_animated(True)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    for artist in animated:
        artist.set_animated(False)

    from course_lib.ui.figure_view import scene_of  # the browser-side path

    def browser_scene():
        return len(json.dumps(scene_of(fig)))

    rows = []
    for name, render in (("inline PNG (before)", inline_png), ("ipympl-style blit + PNG", blit_png),
                         ("browser-side figure (data only)", browser_scene)):
        times, sizes = [], []
        for _ in range(repeat):
            for lr in lrs:
                panel.update(lr=lr)
                start = time.perf_counter()
                sizes.append(render())
                times.append((time.perf_counter() - start) * 1e3)
        rows.append((name, statistics.median(times), percentile(times, 95), statistics.median(sizes)))
    print("| render path (kernel side, after the optimizer ran) | median ms | p95 ms | bytes sent |")
    print("|---|---:|---:|---:|")
    for name, median, p95, size in rows:
        print(f"| {name} | {median:.1f} | {p95:.1f} | {size / 1e3:.0f} kB |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks (default: every notebooks/*.ipynb)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook (fresh kernel each)")
    parser.add_argument("--compare-render-paths", action="store_true")
    parser.add_argument("--json", help="also write the raw times here")
    parser.add_argument("--live", type=float, default=None, metavar="SECONDS",
                        help="make the panels live first, as a browser showing them does (starts "
                             "their background training), and wait SECONDS before the first move "
                             "(default: not live, the worst case: every setting trains on demand)")
    args = parser.parse_args(argv)
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {os.cpu_count()} CPUs")
    if args.compare_render_paths:
        compare_render_paths(max(args.repeat, 3))
        return 0
    paths = [Path(p) for p in args.notebooks] or sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
    per_panel: dict[str, list[float]] = {}
    per_panel_cpu: dict[str, list[float]] = {}
    for path in paths:
        for _ in range(args.repeat):
            for result in measure_notebook(path.resolve(), args.live):
                key = f"{path.stem}: {result['panel']}"
                per_panel.setdefault(key, []).extend(t[1] for t in result["times"])
                per_panel_cpu.setdefault(key, []).extend(t[2] for t in result["times"])
    everything = [t for times in per_panel.values() for t in times]
    everything_cpu = [t for times in per_panel_cpu.values() for t in times]
    # Wall time is what a learner waits; on a machine shared with other jobs the kernel's own
    # CPU time (second pair of columns) is the steadier figure.
    print("| panel | changes | median ms | p95 ms | max ms | CPU median ms | CPU p95 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key, times in per_panel.items():
        cpu = per_panel_cpu[key]
        print(f"| {key} | {len(times)} | {statistics.median(times):.1f} | "
              f"{percentile(times, 95):.1f} | {max(times):.1f} | {statistics.median(cpu):.1f} | "
              f"{percentile(cpu, 95):.1f} |")
    if everything:
        print(f"| **all panels** | {len(everything)} | {statistics.median(everything):.1f} | "
              f"{percentile(everything, 95):.1f} | {max(everything):.1f} | "
              f"{statistics.median(everything_cpu):.1f} | {percentile(everything_cpu, 95):.1f} |")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps(per_panel, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
