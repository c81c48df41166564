"""A landscape panel in JupyterLab answering a slider move in the browser (course_lib.web.live):
with the kernel busy (sleeping), a move of the lr slider still redraws the figure at once,
from the JS path (CourseSynth.sceneFor); when the kernel is free again its own scene replaces
the browser's, and the two draw the same pixels. Screenshot to build/e2e/live_panel.png.

Run: ``.venv/bin/python -m pytest -m e2e tests/e2e/test_live_panel.py``.
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest

from e2e.lab import REPO_ROOT, Lab, NotebookPage, launch_chromium, missing_requirements

pytestmark = [pytest.mark.e2e]
if missing_requirements():
    pytestmark.append(pytest.mark.skip(reason=missing_requirements()))

SHOTS = REPO_ROOT / "build" / "e2e"

NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "live", "metadata": {}, "outputs": [],
               "source": ["from course_lib.web.live import live_panel\n",
                          "panel = live_panel(\"03_momentum-0\")\n", "panel.widget"]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _notebook_with(panel_id: str) -> dict:
    notebook = json.loads(json.dumps(NOTEBOOK))
    notebook["cells"][0]["source"] = ["from course_lib.web.live import live_panel\n",
                                      f"panel = live_panel({panel_id!r})\n", "panel.widget"]
    return notebook


@contextlib.contextmanager
def _live_notebook(lab, playwright, name: str, notebook: dict):
    """``notebook`` as ``name`` in JupyterLab, run, its view's browser source arrived, the kernel
    idle: yields ``(page, nb)``."""
    (lab.root / name).write_text(json.dumps(notebook), encoding="utf-8")
    browser = launch_chromium(playwright)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        nb = NotebookPage(page, lab, name).open()
        nb.run_all()
        page.wait_for_function("() => !!document.querySelector('[data-compute=\"1\"]')")
        # the source comes once the view is live (made in the kernel then): wait for it
        page.wait_for_function("() => !!document.querySelector('[data-source=\"1\"]')", timeout=60_000)
        nb.wait_idle(60)
        yield page, nb
    finally:
        browser.close()


def test_a_move_is_drawn_while_the_kernel_sleeps():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with Lab(log_path=SHOTS / "jupyterlab-live.log") as lab, sync_playwright() as playwright, \
            _live_notebook(lab, playwright, "live.ipynb", NOTEBOOK) as (page, nb):
        canvas = "document.querySelector('[data-compute=\"1\"] canvas')"
        before = page.evaluate(f"() => {canvas}.toDataURL()")
        # the kernel sleeps for 8 s: nothing it sends can redraw the figure meanwhile
        page.evaluate("() => window.__courseLab.notebook().sessionContext.session.kernel"
                      ".requestExecute({code: 'import time; time.sleep(8)'})")
        page.wait_for_timeout(300)
        handle = nb.panel(0).locator(".widget-slider").nth(1).locator(".noUi-handle").first
        handle.focus()
        started = page.evaluate("() => performance.now()")
        for _ in range(5):
            handle.press("ArrowLeft")
        page.wait_for_function(f"(b) => {canvas}.toDataURL() !== b", arg=before, timeout=5_000)
        elapsed = page.evaluate("(t) => performance.now() - t", started)
        page.wait_for_timeout(1000)  # the last of the 5 moves drawn too (the machine may be busy)
        local = page.evaluate(f"() => {canvas}.toDataURL()")
        assert page.evaluate("() => window.__courseLab.busy()"), "the kernel should still be asleep"
        assert int(page.evaluate("() => document.querySelector('[data-compute=\"1\"]').dataset.localScene")) >= 1
        # the kernel wakes, runs panel.update for the new lr and sends its scene: the same picture
        nb.wait_idle(60)
        page.wait_for_timeout(1500)
        after = page.evaluate(f"() => {canvas}.toDataURL()")
        page.screenshot(path=str(SHOTS / "live_panel.png"), full_page=True)
        print(f"\nredrawn from the browser {elapsed:.0f} ms after the first key (5 key presses) "
              f"while the kernel slept; the kernel's scene drew the same pixels: {after == local}")
        assert after == local

        # key press -> the frame after the browser's drawing, one move at a time, kernel asleep
        page.evaluate("""() => {
          window.__lat = []; let t = null;
          document.addEventListener('keydown', (e) => { t = e.timeStamp; }, true);
          const root = document.querySelector('[data-compute="1"]');
          new MutationObserver(() => {
            if (t === null) return;
            const t0 = t; t = null;
            requestAnimationFrame(() => window.__lat.push(performance.now() - t0));
          }).observe(root, {attributes: true, attributeFilter: ['data-local-scene']});
        }""")
        page.evaluate("() => window.__courseLab.notebook().sessionContext.session.kernel"
                      ".requestExecute({code: 'import time; time.sleep(15)'})")
        page.wait_for_timeout(300)
        handle.focus()
        for k in range(30):
            handle.press("ArrowRight" if k % 2 else "ArrowLeft")
            page.wait_for_timeout(120)
        latencies = sorted(page.evaluate("() => window.__lat"))
        assert len(latencies) >= 20
        median = latencies[len(latencies) // 2]
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"key press -> frame drawn from the browser, kernel asleep: median {median:.1f} ms, "
              f"p95 {p95:.1f} ms over {len(latencies)} moves")
        nb.wait_idle(60)


TABLE_PANEL = "08_weight_decay_adamw-0"


def test_a_training_panel_answers_from_the_books_table_while_the_kernel_sleeps(tmp_path):
    """08's weight-decay panel in JupyterLab with its table exported (what `make lab` makes): a
    move to a notch of the table redraws the figure while the kernel sleeps; the kernel's scene
    follows once it wakes."""
    from playwright.sync_api import sync_playwright

    from course_lib.web.export import export_panels

    export_panels(tmp_path / "panels", [TABLE_PANEL], jobs=1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with Lab(log_path=SHOTS / "jupyterlab-live-table.log",
             extra_env={"COURSE_WEB_EXPORT_DIR": str(tmp_path / "panels")}) as lab, sync_playwright() as playwright, \
            _live_notebook(lab, playwright, "table.ipynb", _notebook_with(TABLE_PANEL)) as (page, nb):
        canvas = "document.querySelector('[data-source=\"1\"] canvas')"
        before = page.evaluate(f"() => {canvas}.toDataURL()")
        page.evaluate("() => window.__courseLab.notebook().sessionContext.session.kernel"
                      ".requestExecute({code: 'import time; time.sleep(8)'})")
        page.wait_for_timeout(300)
        handle = nb.panel(0).locator(".widget-slider").first.locator(".noUi-handle").first
        handle.focus()
        handle.press("ArrowRight")
        page.wait_for_function(f"(b) => {canvas}.toDataURL() !== b", arg=before, timeout=5_000)
        assert page.evaluate("() => window.__courseLab.busy()"), "the kernel should still be asleep"
        assert int(page.evaluate("() => document.querySelector('[data-source=\"1\"]').dataset.localScene")) >= 1
        local = page.evaluate(f"() => {canvas}.toDataURL()")
        nb.wait_idle(60)
        page.wait_for_timeout(1500)
        after = page.evaluate(f"() => {canvas}.toDataURL()")
        page.screenshot(path=str(SHOTS / "live_panel_table.png"), full_page=True)
        print(f"\nthe table's scene drawn while the kernel slept; the kernel's drew the same pixels: {after == local}")
        assert after != before


KERNEL_PRINTS = """async (code) => {
  const kernel = window.__courseLab.notebook().sessionContext.session.kernel;
  const future = kernel.requestExecute({code});
  let out = "";
  future.onIOPub = (msg) => { if (msg.header.msg_type === "stream") out += msg.content.text; };
  await future.done;
  return out;
}"""


def test_a_preset_button_is_drawn_in_the_browser_and_the_kernel_follows():
    """03's "optimal lr, β" button (SliderPanel.add_preset): clicked while the kernel's update is
    held back (3 s), the sliders move to Polyak's optimum and the figure is redrawn from the
    browser before the kernel's scene comes; then the kernel has the same slider values and its
    scene draws the same pixels."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with Lab(log_path=SHOTS / "jupyterlab-live-preset.log") as lab, sync_playwright() as playwright, \
            _live_notebook(lab, playwright, "preset.ipynb", NOTEBOOK) as (page, nb):
        page.on("console", lambda m: print(m.text) if "COURSEDBG" in m.text else None)
        preset = json.loads(page.evaluate(KERNEL_PRINTS, "import json; print(json.dumps(panel.presets[0][1]))"))
        view = "document.querySelector('[data-compute=\"1\"]')"
        dataset = f"() => ({{...{view}.dataset}})"
        # start away from the optimum, on the other landscape
        page.evaluate(KERNEL_PRINTS, "panel.update(landscape='rosenbrock', lr=0.001, momentum=0.2)")
        nb.wait_idle(60)
        page.wait_for_timeout(1500)
        before = page.evaluate(f"() => {view}.querySelector('canvas').toDataURL()")
        before_state = page.evaluate(dataset)
        # the kernel answers a comm message even while a cell sleeps (ipykernel 7), so its update
        # is held back instead: 3 s before panel.update runs
        page.evaluate(KERNEL_PRINTS, "import time\n_update = panel.update\n"
                                     "panel.update = lambda **v: (time.sleep(3), _update(**v))[1]")
        clicked = time.monotonic()
        nb.panel(0).locator("button.widget-button", has_text="optimal lr").click()
        page.wait_for_function(f"(b) => {view}.querySelector('canvas').toDataURL() !== b", arg=before, timeout=2_000)
        assert time.monotonic() - clicked < 2.5, "drawn before the kernel's update could run"
        state = page.evaluate(dataset)
        assert int(state["localScene"]) == int(before_state["localScene"]) + 1
        # the momentum slider shows β* (the lr slider's readout shows its nearest notch)
        readouts = nb.panel(0).locator(".widget-readout").all_inner_texts()
        assert any(abs(float(r) - preset["momentum"]) < 0.006 for r in readouts[:2]), readouts
        assert nb.panel(0).locator("select").first.input_value() == preset["landscape"]
        local = page.evaluate(f"() => {view}.querySelector('canvas').toDataURL()")
        page.wait_for_timeout(3000)
        nb.wait_idle(60)
        page.wait_for_timeout(1500)
        after = page.evaluate(f"() => {view}.querySelector('canvas').toDataURL()")
        kernel_values = json.loads(page.evaluate(
            KERNEL_PRINTS, "import json; print(json.dumps({k: s.value for k, s in panel.sliders.items()}))"))
        page.screenshot(path=str(SHOTS / "live_panel_preset.png"), full_page=True)
        assert kernel_values == preset
        assert after == local, "the kernel's scene for the preset should draw the browser's pixels"
