"""The page runtime (course_lib/web/js/panel_runtime.js) in real Chromium, without a kernel.

A bare page (file://, network blocked) loads the drawing code, the runtime and the exported
specs of two table panels (a function of the notebook, trained grids) and two computed in the
page (06's theory curves, 01's parabola: the JS port and synth.js); every
control moved by the keyboard changes the canvas, Play reveals every step at >= 30 frames/s,
and nothing is requested outside the page's folder. The built site's own tests (every page,
every panel) are tests/e2e/test_site.py.
"""

from __future__ import annotations

import pytest

from e2e.lab import REPO_ROOT, launch_chromium, missing_requirements

pytestmark = [pytest.mark.e2e]
if missing_requirements():
    pytestmark.append(pytest.mark.skip(reason=missing_requirements()))

PANELS = ["00_welcome-0", "06_rmsprop_adadelta-0", "08_weight_decay_adamw-0", "01_gradient_descent-0"]
SHOTS = REPO_ROOT / "build" / "e2e" / "web_panels"


@pytest.fixture(scope="module")
def page_dir(tmp_path_factory):
    from course_lib.web.export import export_panels

    outdir = tmp_path_factory.mktemp("page")
    manifest = export_panels(outdir, PANELS)
    # every script any panel needs (the table panels' runtime, the computed panel's JS port and
    # source), each once and in the order the manifest names them, then the specs
    scripts = list(dict.fromkeys(s for m in manifest for s in m["scripts"])) + [m["file"] for m in manifest]
    body = "".join(f"<h3>{m['id']}</h3><div class='course-panel' data-panel='{m['id']}'>"
                   f"<p class='fallback'>stored picture</p></div>" for m in manifest)
    (outdir / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        + "".join(f"<script src='{s}'></script>" for s in scripts)
        + f"</head><body style='width:960px'>{body}</body></html>", encoding="utf-8")
    return outdir


@pytest.fixture(scope="module")
def page(page_dir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(viewport={"width": 1000, "height": 900})
        outside, errors = [], []
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
                      else (outside.append(route.request.url), route.abort()))
        tab = context.new_page()
        tab.on("console", lambda m: m.type == "error" and errors.append(m.text))
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto((page_dir / "index.html").as_uri())
        tab.wait_for_function("document.querySelectorAll('.course-panel[data-mounted]').length === %d" % len(PANELS))
        yield tab, outside, errors
        browser.close()


def canvas_pixels(tab, panel_id):
    return tab.evaluate("""(id) => document.querySelector(`.course-panel[data-panel="${id}"] canvas`).toDataURL()""",
                        panel_id)


@pytest.mark.parametrize("panel_id", PANELS)
def test_every_control_changes_the_figure(page, panel_id):
    tab, outside, errors = page
    panel = tab.locator(f".course-panel[data-panel='{panel_id}']")
    assert panel.locator(".fallback").is_hidden()  # the stored picture gives way to the live panel
    controls = panel.locator(".course-panel-controls input, .course-panel-controls select")
    assert controls.count() >= 1
    for k in range(controls.count()):
        control = controls.nth(k)
        # each control moves from the starting values (after others moved, a diverged run can
        # hide what, say, more steps would show)
        tab.evaluate("""(id) => { const p = document.querySelector(`.course-panel[data-panel="${id}"]`).__coursePanel;
            for (const c of p.spec.controls) p.set(c.name, c.value); }""", panel_id)
        tab.wait_for_timeout(150)
        before = canvas_pixels(tab, panel_id)
        kind = control.evaluate("(e) => e.tagName === 'SELECT' ? 'select' : e.type")
        control.focus()
        if kind == "range":
            at_end = control.input_value() == control.get_attribute("max")
            tab.keyboard.press("Home" if at_end else "End")
        elif kind == "checkbox":
            tab.keyboard.press("Space")
        else:
            options = control.locator("option").count()
            control.select_option(index=(int(control.input_value()) + 1) % options)
        tab.wait_for_timeout(150)
        assert canvas_pixels(tab, panel_id) != before, f"{panel_id}: moving {control.get_attribute('data-control')}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(SHOTS / f"{panel_id}.png"))
    assert not outside and not errors, (outside, errors)


def test_play_reveals_every_step_at_30_frames_a_second(page):
    tab, _, errors = page
    panel_id = "01_gradient_descent-0"
    panel = tab.locator(f".course-panel[data-panel='{panel_id}']")
    # a converging run with the most steps the page offers (the control test moved the sliders)
    tab.evaluate("""(id) => { const p = document.querySelector(`.course-panel[data-panel="${id}"]`).__coursePanel;
        p.set("lr", 0.1); p.set("curvature", 1.0); p.set("steps", 60); }""", panel_id)
    tab.wait_for_timeout(200)  # drawn on the next animation frame
    view = panel.locator(".course-figure-view")
    last = int(view.get_attribute("data-last-step"))
    assert last >= 20
    tab.evaluate("""(id) => { window.__frames = [];
        document.querySelector(`.course-panel[data-panel="${id}"]`).addEventListener('course-frame',
          (e) => window.__frames.push([e.detail.time, Number(e.detail.step)])); }""", panel_id)
    panel.locator("button").click()
    tab.wait_for_function(f"window.__frames.length && window.__frames[window.__frames.length - 1][1] === {last}",
                          timeout=20_000)
    frames = tab.evaluate("window.__frames")
    steps = [s for _, s in frames]
    assert steps[:2] == [0, 1] and sorted(set(steps)) == list(range(last + 1)), "every step is shown"
    rate = (len(frames) - 1) / ((frames[-1][0] - frames[0][0]) / 1000)
    print(f"Play: {len(frames)} frames at {rate:.0f} frames/s")
    assert rate >= 30
    assert not errors


def test_a_key_press_is_drawn_within_a_frame(page):
    """Key press on a slider -> the frame that shows the new figure: median <= 16 ms, p95 <= 33 ms
    (the issue's budget) over 40 moves, with the drawing done in the input event itself."""
    tab, _, errors = page
    panel_id = "06_rmsprop_adadelta-0"
    slider = tab.locator(f".course-panel[data-panel='{panel_id}'] input[data-control='alpha']")
    tab.evaluate("""() => { window.__lat = []; let t0 = 0;
        document.addEventListener('keydown', () => { t0 = performance.now(); }, true);
        document.addEventListener('course-frame', (e) => { if (t0) { window.__lat.push(e.detail.time - t0); t0 = 0; } }); }""")
    slider.focus()
    tab.keyboard.press("Home")
    tab.wait_for_timeout(60)
    tab.evaluate("window.__lat = []")
    for k in range(40):
        tab.keyboard.press("ArrowRight" if k < 20 else "ArrowLeft")
        tab.wait_for_timeout(40)
    latencies = sorted(tab.evaluate("window.__lat"))
    assert len(latencies) == 40
    median, p95 = latencies[20], latencies[int(0.95 * 39)]
    print(f"key press -> frame: median {median:.1f} ms, p95 {p95:.1f} ms")
    assert median <= 16 and p95 <= 33
    assert not errors
