"""A panel in JupyterLab answering a slider move in the browser (course_lib.web.live): with the
kernel's panel made slow, a move of the lr slider still redraws the figure at once, before the
kernel has sent any scene, from the JS path (CourseSynth.sceneFor); when the kernel answers, its
own scene replaces the browser's, and the two draw the same pixels (03's landscape panel, 06's
effective-lr panel; 08's from the book's table). Screenshot to build/e2e/live_panel.png.

Run: ``.venv/bin/python -m pytest -m e2e tests/e2e/test_live_panel.py``.
"""

from __future__ import annotations

import contextlib
import json

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


# The kernel's panel made slow: each move's compute sleeps first, so exactly the kernel's answer to
# a move is held back, and the tests count the scenes the kernel sends (none may have come when
# the browser's drawing is taken) rather than trusting the kernel's busy status.
SLOW_KERNEL = ("import time\n_compute = panel.compute\n"
               "panel.compute = lambda **values: (time.sleep({seconds}), _compute(**values))[1]")
FAST_KERNEL = "panel.compute = _compute"
KERNEL = "window.__courseLab.notebook().sessionContext.session.kernel"


def _count_kernel_scenes(page) -> None:
    """Count, in ``window.__kernelScenes`` (and the time of the last in ``__kernelSceneAt``), every
    scene the kernel sends from now on (a FigureView's "update" message with a scene)."""
    page.evaluate(f"""() => {{ window.__kernelScenes = 0;
        {KERNEL}.iopubMessage.connect((_, m) => {{ const d = m.content && m.content.data;
          if (m.header.msg_type === "comm_msg" && d && d.state && d.state.scene) {{
            window.__kernelScenes++; window.__kernelSceneAt = performance.now(); }} }}); }}""")


def _moved_before_the_kernel_answers(page, nb, handle, key: str, presses: int,
                                     seconds: float = 3) -> tuple[float, str, str, str]:
    """Make the kernel's panel take ``seconds`` more over each move and press ``key`` ``presses``
    times on ``handle`` (a slider's handle): the figure changes before the kernel has sent any
    scene, drawn from the browser's source. Returns (ms from the first key to the changed
    figure, the picture before, the browser's picture, the picture once the kernel has answered
    every move); the kernel's panel is fast again after."""
    canvas = "document.querySelector('[data-source=\"1\"] canvas')"
    page.evaluate(f"(code) => {KERNEL}.requestExecute({{code}})", SLOW_KERNEL.format(seconds=seconds))
    nb.wait_idle(60)
    before = page.evaluate(f"() => {canvas}.toDataURL()")
    _count_kernel_scenes(page)
    handle.focus()
    started = page.evaluate("() => performance.now()")
    for _ in range(presses):
        handle.press(key)
    page.wait_for_function(f"(b) => {canvas}.toDataURL() !== b", arg=before, timeout=5_000)
    elapsed = page.evaluate("(t) => performance.now() - t", started)
    page.wait_for_timeout(500)  # the last move drawn too (the machine may be busy)
    local = page.evaluate(f"() => {canvas}.toDataURL()")
    assert page.evaluate("() => window.__kernelScenes") == 0, "the kernel should not have answered yet"
    assert int(page.evaluate("() => document.querySelector('[data-source=\"1\"]').dataset.localScene")) >= 1
    # the kernel answers each move (panel.update, `seconds` each; ipywidgets sends a move once the
    # kernel has answered the one before, so the kernel may look idle in between): its scenes
    # have stopped once none came for longer than one answer takes
    page.wait_for_function(f"""() => window.__kernelScenes >= 1 && !window.__courseLab.busy()
                                 && performance.now() - window.__kernelSceneAt > {(seconds + 3) * 1000}""",
                           timeout=(presses * (seconds + 3) + 60) * 1000, polling=250)
    page.wait_for_timeout(1500)
    after = page.evaluate(f"() => {canvas}.toDataURL()")
    page.evaluate(f"(code) => {KERNEL}.requestExecute({{code}})", FAST_KERNEL)
    nb.wait_idle(60)
    return elapsed, before, local, after


def test_a_move_is_drawn_while_the_kernel_sleeps():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with Lab(log_path=SHOTS / "jupyterlab-live.log") as lab, sync_playwright() as playwright, \
            _live_notebook(lab, playwright, "live.ipynb", NOTEBOOK) as (page, nb):
        handle = nb.panel(0).locator(".widget-slider").nth(1).locator(".noUi-handle").first
        elapsed, _, local, after = _moved_before_the_kernel_answers(page, nb, handle, "ArrowLeft", 5)
        page.screenshot(path=str(SHOTS / "live_panel.png"), full_page=True)
        print(f"\nredrawn from the browser {elapsed:.0f} ms after the first key (5 key presses) "
              f"before the kernel answered; the kernel's scene drew the same pixels: {after == local}")
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
    move to a notch of the table redraws the figure before the kernel answers; the kernel's scene
    follows."""
    from playwright.sync_api import sync_playwright

    from course_lib.web.export import export_panels

    export_panels(tmp_path / "panels", [TABLE_PANEL], jobs=1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with Lab(log_path=SHOTS / "jupyterlab-live-table.log",
             extra_env={"COURSE_WEB_EXPORT_DIR": str(tmp_path / "panels")}) as lab, sync_playwright() as playwright, \
            _live_notebook(lab, playwright, "table.ipynb", _notebook_with(TABLE_PANEL)) as (page, nb):
        handle = nb.panel(0).locator(".widget-slider").first.locator(".noUi-handle").first
        _, before, local, after = _moved_before_the_kernel_answers(page, nb, handle, "ArrowRight", 1)
        page.screenshot(path=str(SHOTS / "live_panel_table.png"), full_page=True)
        print(f"\nthe table's scene drawn before the kernel answered; the kernel's drew the same pixels: {after == local}")
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
    """03's "optimal lr, β" button (SliderPanel.add_preset): clicked while the kernel's panel is
    slow (3 s a compute), the sliders move to the preset's notches and the figure is redrawn from
    the browser before the kernel sends a scene; then the kernel has the same slider values and
    its scene draws the same pixels."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with Lab(log_path=SHOTS / "jupyterlab-live-preset.log") as lab, sync_playwright() as playwright, \
            _live_notebook(lab, playwright, "preset.ipynb", NOTEBOOK) as (page, nb):
        preset = json.loads(page.evaluate(KERNEL_PRINTS, "import json; print(json.dumps(panel.presets[0][1]))"))
        view = "document.querySelector('[data-compute=\"1\"]')"
        canvas = f"{view}.querySelector('canvas')"
        # start away from the preset, on the other landscape
        page.evaluate(KERNEL_PRINTS, "panel.update(landscape='rosenbrock', lr=0.001, momentum=0.2)")
        nb.wait_idle(60)
        page.wait_for_timeout(1500)
        before = page.evaluate(f"() => {canvas}.toDataURL()")
        scenes_before = int(page.evaluate(f"() => Number({view}.dataset.localScene || 0)"))
        page.evaluate(KERNEL_PRINTS, SLOW_KERNEL.format(seconds=3))
        # every computation the kernel makes from now on, with its values
        page.evaluate(KERNEL_PRINTS, "_calls, _slow = [], panel.compute\n"
                                     "panel.compute = lambda **v: (_calls.append(v), _slow(**v))[1]")
        _count_kernel_scenes(page)
        nb.panel(0).locator("button.widget-button", has_text="optimal lr").click()
        page.wait_for_function(f"(b) => {canvas}.toDataURL() !== b", arg=before, timeout=2_000)
        assert page.evaluate("() => window.__kernelScenes") == 0, "the kernel should not have answered yet"
        # (the kernel's write-back of the preset, and the log slider's notch as the browser's own
        # arithmetic puts it, a few ulps away, may each draw once more here: >= 1)
        assert int(page.evaluate(f"() => Number({view}.dataset.localScene)")) >= scenes_before + 1
        readouts = nb.panel(0).locator(".widget-readout").all_inner_texts()
        assert float(readouts[1]) == preset["momentum"], readouts
        assert nb.panel(0).locator("select").first.input_value() == preset["landscape"]
        local = page.evaluate(f"() => {canvas}.toDataURL()")
        page.wait_for_function("() => window.__kernelScenes >= 1", timeout=60_000)
        nb.wait_idle(60)
        page.wait_for_timeout(1500)
        after = page.evaluate(f"() => {canvas}.toDataURL()")
        calls = json.loads(page.evaluate(KERNEL_PRINTS, "print(json.dumps(_calls))"))
        page.evaluate(KERNEL_PRINTS, FAST_KERNEL)
        # the kernel computed the preset only (no scene of half its values: the sliders' values
        # from the browser came after the click)
        assert calls and all(c["landscape"] == "quadratic" and c["lr"] == pytest.approx(preset["lr"], rel=1e-12)
                             and c["momentum"] == pytest.approx(preset["momentum"], rel=1e-12) for c in calls), calls
        kernel_values = json.loads(page.evaluate(
            KERNEL_PRINTS, "import json; print(json.dumps({k: s.value for k, s in panel.sliders.items()}))"))
        page.screenshot(path=str(SHOTS / "live_panel_preset.png"), full_page=True)
        assert kernel_values["landscape"] == "quadratic"
        assert kernel_values["lr"] == pytest.approx(preset["lr"], rel=1e-12)
        assert kernel_values["momentum"] == pytest.approx(preset["momentum"], rel=1e-12)
        assert after == local, "the kernel's scene for the preset should draw the browser's pixels"


def test_06_computes_any_alpha_before_the_kernel_answers(tmp_path):
    """06's effective-lr panel is computed in the browser (no table: COURSE_WEB_EXPORT_DIR names
    an empty folder): α moved from 0.99 to 0.987, a notch the web book's old table did not hold,
    is drawn before the kernel answers, and the kernel's scene then draws the same pixels."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with Lab(log_path=SHOTS / "jupyterlab-live-06.log", extra_env={"COURSE_WEB_EXPORT_DIR": str(tmp_path)}) as lab, \
            sync_playwright() as playwright, \
            _live_notebook(lab, playwright, "rmsprop.ipynb", _notebook_with("06_rmsprop_adadelta-0")) as (page, nb):
        handle = nb.panel(0).locator(".widget-slider").first.locator(".noUi-handle").first
        elapsed, _, local, after = _moved_before_the_kernel_answers(page, nb, handle, "ArrowLeft", 3)
        readout = nb.panel(0).locator(".widget-slider").first.locator(".widget-readout").inner_text()
        page.screenshot(path=str(SHOTS / "live_panel_06.png"), full_page=True)
        print(f"\n06: α {readout} drawn from the browser {elapsed:.0f} ms after the first key, before the "
              f"kernel answered; the kernel's scene drew the same pixels: {after == local}")
        assert readout == "0.987"
        assert after == local


def test_a_view_whose_source_did_not_come_asks_again():
    """The kernel's first sources are lost (its maker sends nothing for 2.8 s, as lost messages
    would look; FigureView's own pings, while no pong has come, stop at 2.5 s): the view asks
    again (a ping 3 s on) and its source comes; a move is then drawn from the browser."""
    from playwright.sync_api import sync_playwright

    notebook = json.loads(json.dumps(NOTEBOOK))
    notebook["cells"][0]["source"] = [
        "from course_lib.web.live import live_panel\n",
        "panel = live_panel(\"03_momentum-0\")\n",
        "import time\n",
        "_make, _asked = panel.view.make_source, []\n",
        "def _lossy():\n",
        "    _asked.append(time.monotonic())\n",
        "    if _asked[-1] - _asked[0] > 2.8:  # FigureView's own pings stop at 2.5 s\n",
        "        _make()\n",
        "panel.view.make_source = _lossy\n",
        "panel.widget"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with Lab(log_path=SHOTS / "jupyterlab-live-ask-again.log") as lab, sync_playwright() as playwright, \
            _live_notebook(lab, playwright, "ask.ipynb", notebook) as (page, nb):
        asked = int(page.evaluate(KERNEL_PRINTS, "print(len(_asked))"))
        assert asked >= 2, "the source came without the view asking again"
        before = int(page.evaluate("() => Number(document.querySelector('[data-source=\"1\"]').dataset.localScene || 0)"))
        handle = nb.panel(0).locator(".widget-slider").nth(1).locator(".noUi-handle").first
        handle.focus()
        handle.press("ArrowLeft")
        page.wait_for_function("(n) => Number(document.querySelector('[data-source=\"1\"]').dataset.localScene || 0) > n",
                               arg=before, timeout=5_000)
