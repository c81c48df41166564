"""The course in a real browser: JupyterLab from the course's .venv, driven in headless Chromium.

For every lecture notebook: Run All with no error output and no widget error; every slider
panel draws its figure; every control of every panel (sliders, step slider, dropdowns,
checkboxes, buttons) changes the figure; Play reaches the last step. In an exercise notebook a
typed correct answer makes its check pass and a wrong one prints the hint. A notebook saved,
closed (kernel shut down) and reopened shows no "Error displaying widget" and is live again
after Run All. Screenshots go to build/e2e/ (one per panel, after the controls were moved).

Needs /usr/bin/chromium (Debian's package) and the playwright package (`make install`); they
are skipped with a message otherwise. Run just these: ``.venv/bin/python -m pytest -m e2e``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from e2e.lab import REPO_ROOT, RECORDER, Lab, NotebookPage, missing_requirements

pytestmark = [pytest.mark.e2e]
if missing_requirements():
    pytestmark.append(pytest.mark.skip(reason=missing_requirements()))

SHOTS = REPO_ROOT / "build" / "e2e"
LECTURES = sorted(p.name for p in (REPO_ROOT / "notebooks").glob("*.ipynb"))
PANEL_NOTE = "run this cell to make the panel live"  # SliderPanel's text/plain
CHANGE_TIMEOUT_MS = 30_000  # generous: the machine may be busy; nothing here asserts speed


@pytest.fixture(scope="module")
def lab():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with Lab(log_path=SHOTS / "jupyterlab.log") as server:
        yield server


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(RECORDER)
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page
    context.close()
    # As a learner closing a notebook's tab and its kernel: without this, every lecture's kernel
    # (torch loaded, ~0.5 GB each) stays alive for the rest of the session.
    lab.shut_down_kernels()


def widget_errors(page) -> list[str]:
    """Widget errors shown in cell outputs (a markdown cell may quote the message)."""
    areas = page.locator(".jp-Notebook .jp-OutputArea")
    text = "\n".join(areas.all_inner_texts())
    return [line for line in text.splitlines() if "Error displaying widget" in line]


def error_outputs(nb: NotebookPage) -> list[str]:
    found = []
    for cell in nb.outputs():
        for output in cell["outputs"]:
            if output["output_type"] == "error":
                found.append(f"cell {cell['index']}: {output['ename']}: {output['evalue']}")
            elif output["output_type"] == "stream" and output["name"] == "stderr" \
                    and "Traceback" in "".join(output["text"]):
                found.append(f"cell {cell['index']}: {''.join(output['text'])[-300:]}")
    return found


def wait_for_change(nb: NotebookPage, index: int, before, timeout_ms: int = CHANGE_TIMEOUT_MS) -> bool:
    try:
        nb.page.wait_for_function("([i, s]) => window.__courseLab.signature(i) !== s", arg=[index, before],
                                  timeout=timeout_ms, polling=100)
        return True
    except Exception:
        return False


def settle(nb: NotebookPage, index: int, quiet_ms: int = 400) -> None:
    """Wait until the panel's figure stops changing (the last redraw has arrived)."""
    previous = nb.signature(index)
    for _ in range(60):
        nb.page.wait_for_timeout(quiet_ms)
        current = nb.signature(index)
        if current == previous:
            return
        previous = current


def move(nb: NotebookPage, index: int, control, kind: str) -> bool:
    """Change one control the way a learner would; True when the figure changed."""
    settle(nb, index)
    before = nb.signature(index)
    if kind == "slider":
        handle = control.locator(".noUi-handle").first
        for keys in (["ArrowLeft"] * 3, ["ArrowRight"] * 6, ["Home"], ["End"]):
            handle.focus()
            for key in keys:
                handle.press(key)
            if wait_for_change(nb, index, before, 8_000):
                return True
        return wait_for_change(nb, index, before)
    if kind == "dropdown":
        select = control.locator("select")
        values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
        current = select.input_value()
        select.select_option(next(v for v in values if v != current))
    elif kind == "checkbox":
        control.locator("input[type=checkbox]").click()
    elif kind == "button":
        control.click()
    return wait_for_change(nb, index, before)


def panel_diagnosis(nb: NotebookPage, panel) -> str:
    """What a failed move leaves behind: the panel's own status line and the kernel's state."""
    status = " | ".join(t.strip() for t in panel.locator(".widget-html").all_inner_texts() if t.strip())
    kernel = nb.page.evaluate("() => { const s = window.__courseLab.notebook().sessionContext;"
                              " return s.session && s.session.kernel ? s.session.kernel.status : 'none'; }")
    frames = panel.locator(".course-figure-view").get_attribute("data-frames")
    log = Path(nb.lab.log_path).read_text(errors="replace").splitlines() if nb.lab.log_path else []
    kernel_news = [line for line in log if "Kernel" in line and ("restart" in line or "died" in line)]
    return (f"panel text: {status or '(none)'}; kernel: {kernel}; frames drawn: {frames}; "
            f"server log on kernels: {kernel_news[-3:] or 'nothing'}")


# Dropdowns last: a checkbox may only matter on the first landscape (01's "best η*" compares
# with the optimal rate of the quadratic), and the landscape picker leaves it.
CONTROL_KINDS = {"slider": ".widget-slider", "checkbox": ".widget-checkbox",
                 "button": "button.widget-button", "dropdown": ".widget-dropdown"}


def controls_of(panel):
    for kind, selector in CONTROL_KINDS.items():
        for k in range(panel.locator(selector).count()):
            control = panel.locator(selector).nth(k)
            label = control.locator(".widget-label").first
            name = (label.inner_text() if kind != "button" and label.count() else control.inner_text()).strip()
            yield kind, name or f"{kind} {k}", control


def play_to_the_end(nb: NotebookPage, index: int, panel) -> dict:
    """Press Play and wait until the view shows the last step; return what was drawn."""
    view = panel.locator(".course-figure-view")
    last = int(view.get_attribute("data-last-step"))
    # back to step 0 first (Play resumes where the step slider stands)
    step_handle = panel.locator(".widget-play").locator("xpath=..").locator(".noUi-handle").first
    step_handle.focus()
    step_handle.press("Home")
    nb.page.wait_for_function("(el) => el.dataset.step === '0'", arg=view.element_handle(), timeout=30_000)
    nb.page.evaluate("() => { window.__course.frames = []; }")
    panel.locator(".widget-play button").first.click()
    nb.page.wait_for_function(
        """([i, last]) => {
             const el = window.__courseLab.panels()[i].querySelector('.course-figure-view');
             const fr = window.__course.frames.filter(f => el.contains(f.el));
             return fr.length > 0 && fr[fr.length - 1].step === last; }""",
        arg=[index, last], timeout=120_000, polling=100)
    steps = nb.page.evaluate(
        """(i) => { const el = window.__courseLab.panels()[i].querySelector('.course-figure-view');
             return window.__course.frames.filter(f => el.contains(f.el)).map(f => f.step); }""", index)
    return {"last": last, "steps": sorted({0, *steps})}  # step 0 was drawn before Play


@pytest.mark.parametrize("notebook", LECTURES)
def test_lecture_notebook_runs_and_every_panel_responds(lab, page, notebook):
    start = time.monotonic()
    nb = NotebookPage(page, lab, f"notebooks/{notebook}").open()
    nb.run_all()
    stem = Path(notebook).stem
    page.screenshot(path=str(SHOTS / f"{stem}_after_run_all.png"))
    assert error_outputs(nb) == []
    assert widget_errors(page) == []

    displayed = sum(PANEL_NOTE in "".join(o.get("data", {}).get("text/plain", ""))
                    for cell in nb.outputs() for o in cell["outputs"])
    views = page.locator(".course-figure-view")
    assert views.count() == displayed, "every slider panel shown by the notebook has a drawn figure"
    for k in range(views.count()):
        assert int(views.nth(k).get_attribute("data-frames") or 0) >= 1
        assert views.nth(k).locator("canvas").bounding_box()["width"] > 300

    for index in range(nb.panel_count()):
        panel = nb.panel(index)
        panel.scroll_into_view_if_needed()
        settle(nb, index)
        panel.screenshot(path=str(SHOTS / f"{stem}_panel{index}_initial.png"))
        moved = []
        for kind, name, control in controls_of(panel):
            assert move(nb, index, control, kind), (
                f"{notebook} panel {index}: moving {kind} {name!r} did not change the figure; "
                f"{panel_diagnosis(nb, panel)}")
            moved.append(name)
        assert moved, f"{notebook} panel {index} has no controls"
        if panel.locator(".widget-play").count():
            # The browser drew the last move itself; the kernel's own run for it ends by putting
            # the step slider back at the last step, so let it finish before Play starts at 0.
            nb.wait_idle(60)
            settle(nb, index)
            played = play_to_the_end(nb, index, panel)
            shown = len(set(played["steps"]))
            # Every step is drawn unless the machine is too busy for one animation frame per
            # Play tick; half is a floor that only a broken Play misses.
            assert shown >= 0.5 * (played["last"] + 1), played
        panel.screenshot(path=str(SHOTS / f"{stem}_panel{index}_after_moves_and_play.png"))
    assert error_outputs(nb) == []
    assert widget_errors(page) == []
    print(f"{notebook}: {nb.panel_count()} panel(s), {time.monotonic() - start:.0f} s")


def set_cell_source(nb: NotebookPage, index: int, text: str) -> None:
    """Type ``text`` into code cell ``index`` (replacing it), as a learner would."""
    nb.page.evaluate("""(i) => { const n = window.__courseLab.notebook().content;
        n.activeCellIndex = i; n.deselectAll(); n.mode = 'edit'; n.activeCell.editor.focus(); }""", index)
    nb.page.wait_for_function("() => document.activeElement && document.activeElement.closest('.cm-editor')")
    nb.page.keyboard.press("Control+a")
    nb.page.keyboard.press("Delete")
    # insert_text types without the editor's auto-indent and auto-close, which would mangle
    # pasted-in code; it is still an edit through the editor, marking the notebook changed.
    nb.page.keyboard.insert_text(text)


def run_cell(nb: NotebookPage, index: int) -> str:
    nb.page.evaluate("(i) => { const n = window.__courseLab.notebook().content;"
                     " n.activeCellIndex = i; n.deselectAll(); }", index)
    nb.command("notebook:run-cell")
    nb.wait_idle()
    cell = next(c for c in nb.outputs() if c["index"] == index)
    return "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                   for o in cell["outputs"])


def test_exercise_check_passes_a_typed_answer_and_hints_on_a_wrong_one(lab, page):
    nb = NotebookPage(page, lab, "exercises/01_gradient_descent.ipynb").open()
    nb.wait_for_kernel()
    cells = nb.outputs()
    setup = next(c["index"] for c in cells if "from course_lib.exercises.checks import check" in c["source"])
    answer = next(c["index"] for c in cells if "def gd_step(" in c["source"])
    check = next(c["index"] for c in cells if re.search(r'check\("1\.1"', c["source"]))
    run_cell(nb, setup)

    set_cell_source(nb, answer, "def gd_step(param, grad, lr):\n    param.add_(grad, alpha=lr)\n")
    run_cell(nb, answer)
    wrong = run_cell(nb, check)
    assert "not passed" in wrong and "1.1" in wrong, wrong
    page.screenshot(path=str(SHOTS / "exercise_wrong_answer.png"))

    set_cell_source(nb, answer, "def gd_step(param, grad, lr):\n    param.sub_(lr * grad)\n")
    run_cell(nb, answer)
    right = run_cell(nb, check)
    assert re.search(r"Exercise 1\.1 passed", right), right
    page.locator(".jp-Notebook .jp-Cell").nth(check).screenshot(path=str(SHOTS / "exercise_right_answer.png"))


def test_reopened_notebook_shows_no_widget_error_and_is_live_after_run_all(lab, page):
    relative = "notebooks/03_momentum.ipynb"
    if not (REPO_ROOT / relative).exists():
        relative = f"notebooks/{LECTURES[-1]}"
    nb = NotebookPage(page, lab, relative).open()
    nb.run_all()
    nb.save()  # what JupyterLab's autosave does
    lab.shut_down_kernels()  # closing JupyterLab: the kernel and its widgets are gone
    page.goto("about:blank")

    nb = NotebookPage(page, lab, relative).open()
    # the saved panel is drawn from the saved widget state; with no kernel behind it, the view
    # says so after 4 s
    first = page.locator(".course-figure-view[data-live]").first
    first.wait_for(timeout=60_000)
    assert widget_errors(page) == []
    first.scroll_into_view_if_needed()
    assert first.get_attribute("data-live") == "0"
    assert "run this cell" in first.inner_text()
    first.screenshot(path=str(SHOTS / "reopened_saved_panel.png"))

    nb.run_all()
    assert widget_errors(page) == []
    live = page.locator(".course-figure-view[data-live='1']")
    live.first.wait_for(timeout=60_000)
    index = 0
    panel = nb.panel(index)
    kind, name, control = next(controls_of(panel))
    assert move(nb, index, control, kind), "after Run All the reopened panel is live again"
    panel.screenshot(path=str(SHOTS / "reopened_after_run_all.png"))
