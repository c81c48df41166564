"""The web book's panels in Chromium: control input -> new frame drawn, and Play's frame rate.

    .venv/bin/python benchmarks/site_latency.py                   # every panel of build/site/ (make site)
    .venv/bin/python benchmarks/site_latency.py --moves 80 03_momentum-0
    .venv/bin/python benchmarks/site_latency.py --lab notebooks/03_momentum.ipynb   # and in JupyterLab

In the page: build/site/ (built first if stale, as tests/e2e/test_site.py does) is served on
127.0.0.1 and opened in headless Chromium (/usr/bin/chromium through Playwright) with every
request outside the site refused. In each panel, --moves changes (default 60) go round its
controls the way a learner makes them: an arrow key on a slider (it sweeps to one end and back),
the next option of a dropdown, a click on a checkbox. One change is timed from the input event's
own timestamp (``event.timeStamp``) to the "course-frame" event that course_lib/ui/figure_draw.js
sends on the animation frame after it drew ("on screen": the frame with the drawing has been
presented), and to the end of the drawing itself ("drawn": figure_draw.js updates the view's
data-frames); the next change starts once the frame came. Play (first, at the notebook's starting values): the panel's Play button from step 0 to the last
step: frames drawn per second and the share of the steps drawn.

--lab NOTEBOOK...: the same figures in JupyterLab (a kernel behind each panel), measured with
benchmarks/browser_latency.py's driver (arrow keys on the ipywidgets sliders, Run All first).
--lab-live PANEL_ID...: in JupyterLab, a scratch notebook per panel computed in the browser (the
landscape panels, 06) showing it as ``course_lib.web.live.live_panel`` does (the browser computes
the scene, the kernel's follows).

Targets (issue 19): median <= 16 ms, p95 <= 33 ms; Play shows every step at >= 30 frames/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from e2e.lab import launch_chromium, missing_requirements  # noqa: E402
from e2e.site import PANEL_HELPERS, SiteServer, block_outside, ensure_site, watch_console  # noqa: E402
from browser_latency import percentile  # noqa: E402  (the same interpolated percentile as the JupyterLab figures)

# Before any page script: every input event's timestamp, and every frame the views draw.
RECORDER = r"""
window.__bench = {inputs: [], frames: [], drawn: []};
document.addEventListener("input", (e) => window.__bench.inputs.push(e.timeStamp), true);
// the moment a drawing is done (figure_draw.js counts it in data-frames), before it reaches the screen
new MutationObserver((records) => { const t = performance.now();
  for (const r of records) { const p = r.target.closest("div.course-panel");
    window.__bench.drawn.push({t, panel: p ? p.dataset.panel : null}); }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-frames"]});
document.addEventListener("course-frame", (e) => window.__bench.frames.push({
  t: e.detail.time, step: Number(e.detail.step), scene: e.detail.scene,
  panel: e.target.closest("div.course-panel") ? e.target.closest("div.course-panel").dataset.panel : null}), true);
"""




def panel_ids() -> list[str]:
    from course_lib.web.export import REGISTRY

    return [entry.id for entry in REGISTRY]


class PagePanel:
    def __init__(self, page, panel_id: str):
        self.page, self.id = page, panel_id
        self.el = page.locator(f'div.course-panel[data-panel="{panel_id}"]')

    def counts(self) -> tuple[int, int]:
        return tuple(self.page.evaluate("() => [window.__bench.inputs.length, window.__bench.frames.length]"))

    def timed(self, action) -> tuple[float, float] | None:
        """ms from the change's input event to the first frame of this panel on screen after it
        (the "course-frame" event, on the animation frame after the drawing), and to the end of
        that drawing."""
        n_inputs, _ = self.counts()
        action()
        try:
            self.page.wait_for_function(
                """([n, id]) => { const t0 = window.__bench.inputs[n];
                     return t0 !== undefined && window.__bench.frames.some(f => f.panel === id && f.t > t0); }""",
                arg=[n_inputs, self.id], timeout=10_000, polling="raf")
        except Exception:
            return None
        return tuple(self.page.evaluate(
            """([n, id]) => { const t0 = window.__bench.inputs[n];
                 const d = window.__bench.drawn.find(f => f.panel === id && f.t > t0);
                 return [window.__bench.frames.find(f => f.panel === id && f.t > t0).t - t0, d ? d.t - t0 : NaN]; }""",
            [n_inputs, self.id]))

    def changes(self, moves: int):
        """``moves`` actions, round-robin over the controls; a slider sweeps to an end and back."""
        controls = self.page.evaluate("(id) => window.__site.controls(id)", self.id)
        controls = [c for c in controls if not c["disabled"] and c["count"] > 1]
        state = {c["name"]: {"value": c["value"], "dir": 1} for c in controls}
        actions = []
        for k in range(moves):
            c = controls[k % len(controls)]
            s = state[c["name"]]
            locator = self.el.locator(f'[data-control="{c["name"]}"]')
            if c["type"] == "range":
                if not 0 <= s["value"] + s["dir"] < c["count"]:
                    s["dir"] = -s["dir"]
                s["value"] += s["dir"]
                key = "ArrowRight" if s["dir"] > 0 else "ArrowLeft"
                actions.append(lambda loc=locator, key=key: loc.press(key))
            elif c["tag"] == "select":
                s["value"] = (s["value"] + 1) % c["count"]
                actions.append(lambda loc=locator, v=str(s["value"]): loc.select_option(v))
            else:
                actions.append(lambda loc=locator: loc.click())
        return actions

    def play(self) -> dict | None:
        button = self.el.locator(".course-panel-play button")
        if not button.count():
            return None
        last = int(self.el.locator(".course-figure-view").get_attribute("data-last-step") or 0)
        _, n_frames = self.counts()
        button.click()
        self.page.wait_for_function(
            "(id) => !window.__site.panel(id).querySelector('.course-panel-play button').textContent.includes('Pause')",
            arg=self.id, timeout=max(30_000, last * 100))
        self.page.wait_for_timeout(100)
        frames = self.page.evaluate("([n, id]) => window.__bench.frames.slice(n).filter(f => f.panel === id)",
                                    [n_frames, self.id])
        if len(frames) < 2:
            return {"steps": last + 1, "frames": len(frames), "fps": 0.0, "shown": 0.0}
        span_s = (frames[-1]["t"] - frames[0]["t"]) / 1e3
        return {"steps": last + 1, "frames": len(frames), "fps": (len(frames) - 1) / span_s if span_s else 0.0,
                "shown": min(1.0, len({f["step"] for f in frames}) / (last + 1))}


def measure_page(ids: list[str], moves: int, log) -> dict:
    from playwright.sync_api import sync_playwright

    site = ensure_site()
    results = {}
    with SiteServer(site) as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for panel_id in ids:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            refused = block_outside(context, [server.url])
            context.add_init_script(RECORDER)
            page = context.new_page()
            errors = watch_console(page)
            page.goto(server.url + f"notebooks/{panel_id.rsplit('-', 1)[0]}.html", wait_until="load")
            page.evaluate(PANEL_HELPERS)
            panel = PagePanel(page, panel_id)
            panel.el.scroll_into_view_if_needed()
            page.wait_for_function("(id) => window.__site.frames(id) > 0", arg=panel_id, timeout=30_000)
            page.wait_for_timeout(300)
            play = panel.play()  # at the notebook's starting values, before the controls move
            times, drawn, missed = [], [], 0
            for action in panel.changes(moves):
                latency = panel.timed(action)
                if latency is None:
                    missed += 1
                else:
                    times.append(latency[0])
                    drawn.append(latency[1])
            results[panel_id] = {"times": times, "drawn": drawn, "missed": missed, "play": play,
                                 "errors": errors[:], "refused": refused[:]}
            log(f"  {panel_id}: {len(times)} changes, on screen median {statistics.median(times) if times else float('nan'):.1f} ms, "
                f"p95 {percentile(times, 95) if times else float('nan'):.1f} ms; drawn median "
                f"{statistics.median(drawn) if drawn else float('nan'):.1f} ms; play {play}"
                + (f", ERRORS {errors}" if errors else "") + (f", REFUSED {refused}" if refused else ""))
            context.close()
        browser.close()
    return results


def _split(times: list[float], here: list[bool]) -> str:
    """The table's last three cells: how many changes the browser answered itself (course_lib.web.live)
    and the median of those and of the rest (the kernel's)."""
    local = [t for t, h in zip(times, here) if h]
    kernel = [t for t, h in zip(times, here) if not h]
    return (f" {len(local)} of {len(times)} | " + (f"{statistics.median(local):.1f}" if local else "–") + " | "
            + (f"{statistics.median(kernel):.1f}" if kernel else "–") + " |")


def table(results: dict, title: str) -> list[float]:
    print(f"\n{title}\n")
    lab = any("here" in e for e in results.values())
    print("| panel | changes | on screen: median ms | p95 ms | drawn: median ms | p95 ms | Play frames/s | steps shown |"
          + (" answered in the browser | their median ms | through the kernel: median ms |" if lab else ""))
    print("|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if lab else ""))
    everything, all_drawn, all_here = [], [], []
    for name, e in results.items():
        times = e["times"]
        drawn = [d for d in e.get("drawn", []) if d == d]
        everything += times
        all_drawn += drawn
        drawn_cols = (f"{statistics.median(drawn):.1f} | {percentile(drawn, 95):.1f}" if drawn else "– | –")
        plays = e["play"] if isinstance(e["play"], list) else ([e["play"]] if e["play"] else [])
        # a frame rate needs a run of frames: Play over a handful of steps says nothing about it
        fps = f"{statistics.median(p['fps'] for p in plays):.0f}" if plays and plays[0]["steps"] >= 10 else "–"
        shown = f"{statistics.median(p['shown'] for p in plays):.0%} of {plays[0]['steps']}" if plays else "–"
        missed = f" (+{e['missed']} no frame)" if e["missed"] else ""
        split = ""
        if lab:
            here = e.get("here") or [False] * len(times)
            all_here += here
            split = _split(times, here)
        if times:
            print(f"| {name} | {len(times)}{missed} | {statistics.median(times):.1f} | {percentile(times, 95):.1f} "
                  f"| {drawn_cols} | {fps} | {shown} |" + split)
    if everything:
        drawn_cols = (f"{statistics.median(all_drawn):.1f} | {percentile(all_drawn, 95):.1f}" if all_drawn else "– | –")
        print(f"| **all panels** | {len(everything)} | {statistics.median(everything):.1f} | "
              f"{percentile(everything, 95):.1f} | {drawn_cols} | | |" + (_split(everything, all_here) if lab else ""))
        local = [t for t, h in zip(everything, all_here) if h]
        if local:
            print(f"\nanswered in the browser: {len(local)} of {len(everything)} changes, median "
                  f"{statistics.median(local):.1f} ms, p95 {percentile(local, 95):.1f} ms")
    return everything


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("panels", nargs="*", help="panel ids (default: every panel)")
    parser.add_argument("--moves", type=int, default=60, help="changes per panel in the page (>= 50)")
    parser.add_argument("--lab", nargs="*", metavar="NOTEBOOK", help="also measure these notebooks in JupyterLab")
    parser.add_argument("--lab-live", nargs="*", metavar="PANEL_ID",
                        help="also measure these computed panels (landscapes, 06) in JupyterLab as "
                             "course_lib.web.live.live_panel shows them (the browser answers a move, the kernel's scene follows)")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "build" / "site_latency.json")
    args = parser.parse_args(argv)
    why = missing_requirements()
    if why:
        print(f"skipped: {why}")
        return 0
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {os.cpu_count()} CPUs")
    page = measure_page(args.panels or panel_ids(), args.moves, print)
    everything = table(page, "In the page (build/site/, no kernel):")
    plays = [e["play"] for e in page.values() if e["play"] and e["play"]["steps"] >= 10]
    report = {"page": page}
    if everything:
        print(f"\npage: median {statistics.median(everything):.1f} ms, p95 {percentile(everything, 95):.1f} ms "
              f"(targets 16 / 33)" + (f"; Play: slowest {min(p['fps'] for p in plays):.0f} frames/s, "
              f"fewest steps shown {min(p['shown'] for p in plays):.0%} (target >= 30 frames/s, every step)"
                                     if plays else ""))
    if args.lab is not None:
        import browser_latency

        notebooks = [Path(p) for p in args.lab] or [REPO_ROOT / "notebooks" / "03_momentum.ipynb"]
        lab = browser_latency.measure(notebooks, REPO_ROOT, 4, print)
        lab_all = table(lab, "In JupyterLab (kernel behind each panel):")
        report["lab"] = lab
        if lab_all and everything:
            print(f"\nJupyterLab: median {statistics.median(lab_all):.1f} ms, p95 {percentile(lab_all, 95):.1f} ms; "
                  f"the page's median is {statistics.median(lab_all) / statistics.median(everything):.1f}x faster")
    if args.lab_live is not None:
        import browser_latency
        import tempfile

        import nbformat

        with tempfile.TemporaryDirectory(prefix="site-latency-") as scratch:
            (Path(scratch) / "notebooks").mkdir()
            notebooks = []
            for panel_id in args.lab_live or ["03_momentum-0"]:
                nb = nbformat.v4.new_notebook()
                nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                             "language": "python"}
                nb.cells = [nbformat.v4.new_code_cell(
                    f"from course_lib.web.live import live_panel\nlive_panel({panel_id!r})")]
                path = Path(scratch) / "notebooks" / f"live_{panel_id}.ipynb"
                nbformat.write(nb, path)
                notebooks.append(path)
            live = browser_latency.measure(notebooks, Path(scratch), 4, print)
        live_all = table(live, "In JupyterLab with live_panel (the browser answers, the kernel follows):")
        report["lab_live"] = live
        if live_all:
            print(f"\nJupyterLab, live_panel: median {statistics.median(live_all):.1f} ms, "
                  f"p95 {percentile(live_all, 95):.1f} ms")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
