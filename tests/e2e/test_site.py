"""The web book (`make site`, build/site/) in a real Chromium with the network blocked.

Served on 127.0.0.1 as a static host would serve it, with every request that is not to the
site refused and recorded: every page loads with no console error and no outside request,
within 5 MB with everything it loads; formulas are typeset (MathJax from the site's own
folder); search finds a lecture; previous/next follow the course order; the exercise pages say
how to run and check them locally, and no solution is published. Every panel is live: each
control of each panel, moved, changes the figure's pixels, and Play reveals every step. One
lecture is also opened from file:// with the network off. Screenshots go to build/e2e/site/.

The book is built first if build/site/ is missing or stale (`make test` runs `make site`
before these tests). Needs /usr/bin/chromium and playwright, as the other browser tests.
"""

from __future__ import annotations

import json

import pytest

from e2e.lab import REPO_ROOT, missing_requirements
from e2e.site import (PANEL_HELPERS, SITE, SiteServer, block_outside, ensure_site, watch_bytes,
                      watch_console)

pytestmark = [pytest.mark.e2e]
if missing_requirements():
    pytestmark.append(pytest.mark.skip(reason=missing_requirements()))

SHOTS = REPO_ROOT / "build" / "e2e" / "site"
PAGE_BUDGET = 5 * 1024 * 1024
SITE_BUDGET = 60 * 1024 * 1024
LECTURES = sorted(p.stem for p in (REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted(p.stem for p in (REPO_ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
PAGES = (["index.html", "search.html", "genindex.html"] + [f"notebooks/{s}.html" for s in LECTURES]
         + [f"exercises/{s}.html" for s in EXERCISES])
WAIT_MS = 10_000  # for a frame or a typeset formula; generous, the machine is shared


def _panel_ids() -> list[str]:
    try:
        from course_lib.web.export import REGISTRY
    except ImportError:
        return []
    return [entry.id for entry in REGISTRY]


PANELS = _panel_ids()


@pytest.fixture(scope="module")
def site():
    SHOTS.mkdir(parents=True, exist_ok=True)
    return ensure_site()


@pytest.fixture(scope="module")
def server(site):
    with SiteServer(site) as served:
        yield served


class Opened:
    """A page of the book opened offline: its console errors, refused requests and bytes."""

    def __init__(self, browser, url: str, allowed: list[str]):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.refused = block_outside(self.context, allowed)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.errors = watch_console(self.page)
        self.bytes = watch_bytes(self.page)
        self.page.goto(url, wait_until="load")
        self.page.evaluate(PANEL_HELPERS)

    def typeset(self) -> int:
        """Wait for MathJax to finish (if the page loads it); the number of typeset formulas."""
        return self.page.evaluate(f"""() => new Promise((resolve, reject) => {{
            if (!window.MathJax) return resolve(0);
            const started = performance.now();
            (function wait() {{
              if (window.MathJax.Hub && window.MathJax.isReady) {{
                window.MathJax.Hub.Queue(() => resolve(document.querySelectorAll(
                    '.MathJax, .MathJax_Display, .MathJax_CHTML, .MathJax_SVG').length));
              }} else if (performance.now() - started > {WAIT_MS * 3}) reject(new Error('MathJax never started'));
              else setTimeout(wait, 50);
            }})();
        }})""")

    def close(self):
        self.context.close()


@pytest.fixture
def opened(browser, server):
    pages = []

    def open_page(relative: str) -> Opened:
        page = Opened(browser, server.url + relative, [server.url])
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.close()


def _shot_name(relative: str) -> str:
    return relative.replace("/", "__").replace(".html", "")


# ------------------------------------------------------------------------------------------
# Pages
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("relative", PAGES)
def test_page_loads_offline_without_errors_within_budget(opened, relative):
    page = opened(relative)
    page.page.wait_for_load_state("networkidle")
    formulas = page.typeset()
    if relative.startswith("notebooks/"):
        mounted = page.page.evaluate("() => window.__site.panels().filter(p => p.dataset.mounted === '1').length")
        expected = len([i for i in PANELS if i.startswith(relative[len("notebooks/"):-len(".html")] + "-")])
        assert mounted == expected, f"{relative}: {mounted} live panels, {expected} exported"
    page.page.wait_for_load_state("networkidle")
    page.page.screenshot(path=str(SHOTS / f"page-{_shot_name(relative)}.png"))
    transferred = sum(page.bytes.values())
    assert not page.errors, f"{relative}: {page.errors}"
    assert not page.refused, f"{relative} asked for outside the site: {page.refused}"
    assert transferred <= PAGE_BUDGET, (f"{relative}: {transferred / 2**20:.2f} MB transferred "
                                        f"with everything it loads (budget 5 MB)")
    if relative.startswith("notebooks/") and relative != "notebooks/00_welcome.html":
        assert formulas > 0, f"{relative}: no formula typeset"
    print(f"{relative}: {transferred / 2**20:.2f} MB, {formulas} formulas")


def test_landing_page_is_the_course_map_with_every_lecture_linked(opened):
    page = opened("index.html").page
    links = page.eval_on_selector_all("article table a", "as => as.map(a => a.getAttribute('href'))")
    for stem in LECTURES:
        assert f"notebooks/{stem}.html" in links, f"the course map does not link {stem}"
    for stem in EXERCISES:
        assert f"exercises/{stem}.html" in links
    assert page.title().startswith("How deep-learning optimizers work")


def test_previous_and_next_follow_the_course_order(opened):
    order = ["index.html"] + [f"notebooks/{s}.html" for s in LECTURES] + [f"exercises/{s}.html" for s in EXERCISES]
    for i in (1, 3, len(LECTURES)):
        page = opened(order[i]).page
        prev_href = page.get_attribute("a.left-prev", "href")
        next_href = page.get_attribute("a.right-next", "href")
        here = order[i].rsplit("/", 1)[0] + "/" if "/" in order[i] else ""

        def resolved(href):
            from posixpath import normpath
            return normpath(here + href)

        assert resolved(prev_href) == order[i - 1], (order[i], prev_href)
        assert resolved(next_href) == order[i + 1], (order[i], next_href)


def test_search_finds_the_lecture_on_momentum(opened):
    page = opened("search.html?q=momentum").page
    page.wait_for_function("() => document.querySelectorAll('#search-results li').length > 0", timeout=30_000)
    found = page.eval_on_selector_all("#search-results li a", "as => as.map(a => a.getAttribute('href'))")
    assert any("03_momentum" in href for href in found), found


def test_exercise_pages_say_how_to_run_them_and_no_solution_is_published(opened, site):
    page = opened("exercises/03_momentum.html").page
    note = page.inner_text("article .admonition.note")
    assert "make lab" in note and "make check NB=exercises/03_momentum.ipynb" in note
    assert not list(site.rglob("solutions*")), "solutions are published"
    assert not any("solutions/" in p.as_posix() for p in site.rglob("*.html"))


def test_the_site_is_within_budget(site):
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    report = json.loads((site / "budgets.json").read_text())
    print(f"site {total / 2**20:.1f} MB, built in {report['build_s']} s")
    assert total <= SITE_BUDGET, f"the site is {total / 2**20:.1f} MB (budget 60 MB)"


def test_a_lecture_opened_from_file_works_with_the_network_off(browser, site):
    page = Opened(browser, (SITE / "notebooks" / "03_momentum.html").as_uri(), [SITE.as_uri()])
    try:
        assert page.typeset() > 0
        mounted = page.page.evaluate("() => window.__site.panels().filter(p => p.dataset.mounted === '1').length")
        assert mounted == len([i for i in PANELS if i.startswith("03_momentum-")])
        page.page.screenshot(path=str(SHOTS / "file-03_momentum.png"))
        assert not page.errors, page.errors
        assert not page.refused, page.refused
    finally:
        page.close()


# ------------------------------------------------------------------------------------------
# Panels
# ------------------------------------------------------------------------------------------

def _wait_for_frame(page, panel_id: str, frames_before: int) -> None:
    page.wait_for_function("([id, n]) => window.__site.frames(id) > n", arg=[panel_id, frames_before],
                           timeout=WAIT_MS)


def _moved_changes_figure(page, panel_id: str, control: dict) -> tuple[bool, list]:
    """Move the control to other values until the figure's pixels change; put it back."""
    start = control["value"]
    if control["type"] == "checkbox":
        candidates = [1 - start]
    else:
        last = control["count"] - 1
        candidates = [k for k in dict.fromkeys([last, 0, last // 2, start + 1, start - 1]) if 0 <= k <= last and k != start]
    tried = []
    before = page.evaluate("(id) => window.__site.signature(id)", panel_id)
    changed = False
    for k in candidates:
        frames = page.evaluate("(id) => window.__site.frames(id)", panel_id)
        page.evaluate("([id, name, k]) => window.__site.move(id, name, k)", [panel_id, control["name"], k])
        _wait_for_frame(page, panel_id, frames)
        tried.append(k)
        if page.evaluate("(id) => window.__site.signature(id)", panel_id) != before:
            changed = True
            break
    frames = page.evaluate("(id) => window.__site.frames(id)", panel_id)
    page.evaluate("([id, name, k]) => window.__site.move(id, name, k)", [panel_id, control["name"], start])
    _wait_for_frame(page, panel_id, frames)
    return changed, tried


@pytest.mark.parametrize("panel_id", PANELS)
def test_every_control_of_the_panel_changes_the_figure_and_play_plays(opened, panel_id):
    stem = panel_id.rsplit("-", 1)[0]
    page_ = opened(f"notebooks/{stem}.html")
    page = page_.page
    locator = page.locator(f'div.course-panel[data-panel="{panel_id}"]')
    locator.scroll_into_view_if_needed()
    page.wait_for_function("(id) => window.__site.frames(id) > 0", arg=panel_id, timeout=WAIT_MS)
    controls = page.evaluate("(id) => window.__site.controls(id)", panel_id)
    assert controls, f"{panel_id}: no controls"
    unchanged = []
    for control in controls:
        if control["disabled"] or control["count"] < 2:
            continue
        changed, tried = _moved_changes_figure(page, panel_id, control)
        if not changed:
            unchanged.append(f"{control['name']} (tried notches {tried})")
    assert not unchanged, f"{panel_id}: moving these left the figure's pixels unchanged: {unchanged}"

    play = locator.locator(".course-panel-play button")
    if play.count():
        view = locator.locator(".course-figure-view")
        last = int(view.get_attribute("data-last-step") or 0)
        frames = page.evaluate("(id) => window.__site.frames(id)", panel_id)
        play.click()
        page.wait_for_function(
            "([id, last]) => { const r = window.__site.panel(id).querySelector('.course-figure-view');"
            " return Number(r.dataset.step) >= last && !window.__site.panel(id).querySelector("
            "'.course-panel-play button').textContent.includes('Pause'); }",
            arg=[panel_id, last], timeout=max(WAIT_MS, last * 200))
        drawn = page.evaluate("(id) => window.__site.frames(id)", panel_id) - frames
        assert drawn >= last, f"{panel_id}: Play drew {drawn} frames for {last} steps"
    locator.screenshot(path=str(SHOTS / f"panel-{panel_id}.png"))
    assert not page_.errors, f"{panel_id}: {page_.errors}"
    assert not page_.refused, f"{panel_id}: {page_.refused}"
