"""The web book (build/site/, `make site`) served on 127.0.0.1 and opened in Chromium, offline.

:func:`ensure_site` builds the book when build/site/ is missing or older than what it is made
from (what `make site` does; `make test` runs `make site` first, so the tests normally reuse
it). :class:`SiteServer` serves the folder as any static host would (a plain HTTP server on a
random port). :func:`block_outside` makes a Playwright context refuse every request that is not
to the site (the served folder or, for file:// pages, build/site/ itself) and records them.
Used by tests/e2e/test_site.py and benchmarks/site_latency.py.
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from pathlib import Path

from e2e.lab import REPO_ROOT

SITE = REPO_ROOT / "build" / "site"
STAMP = SITE / ".built"
# what the book is made from (the Makefile's SITE_SOURCES)
SOURCES = ("README.md", "notebooks/*.ipynb", "exercises/*.ipynb", "docs/book/*", "docs/book/*/*",
           "course_lib/*/*.py", "course_lib/*/*/*.py", "course_lib/*/*.js", "course_lib/*/*/*.js")

# The lecture pages that hold panels, and the div the book puts in place of each panel's picture.
PANEL_SELECTOR = "div.course-panel[data-panel]"


def site_is_fresh() -> bool:
    if not STAMP.is_file():
        return False
    built = STAMP.stat().st_mtime
    return all(p.stat().st_mtime <= built for pattern in SOURCES for p in REPO_ROOT.glob(pattern) if p.is_file())


def ensure_site() -> Path:
    """build/site/, built now if it is missing or stale."""
    if not site_is_fresh():
        subprocess.run([sys.executable, str(REPO_ROOT / "docs" / "book" / "build.py")], check=True, cwd=REPO_ROOT)
    return SITE


def pages() -> list[str]:
    """Every HTML page of the book, relative to build/site/."""
    return sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no line per request on the test's output
        pass


class SiteServer:
    """build/site/ on http://127.0.0.1:<random port>/ (a context manager)."""

    def __init__(self, root: Path = SITE):
        self.root = Path(root)
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "SiteServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def block_outside(context, allowed: list[str]) -> list[str]:
    """Abort every request of ``context`` whose URL starts with none of ``allowed``; return the
    (live) list of the URLs refused. data: URLs never reach the network and are not routed."""
    refused: list[str] = []

    def route(r):
        url = r.request.url
        if any(url.startswith(a) for a in allowed):
            r.continue_()
        else:
            refused.append(url)
            r.abort()

    context.route("**/*", route)
    return refused


def watch_console(page) -> list[str]:
    """Console errors and uncaught exceptions of ``page`` (a live list)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    return errors


def watch_bytes(page) -> dict:
    """Bytes of every response ``page`` receives, by URL (a live dict): what it transfers."""
    sizes: dict[str, int] = {}

    def on_response(response):
        try:
            sizes[response.url] = len(response.body())
        except Exception:  # a redirect or an aborted request has no body
            sizes.setdefault(response.url, 0)

    page.on("response", on_response)
    return sizes


# In the page: the mounted panels, their controls and figures (panel_runtime.js's DOM).
PANEL_HELPERS = r"""
window.__site = {
  panels() { return [...document.querySelectorAll("div.course-panel[data-panel]")]; },
  panel(id) { return document.querySelector(`div.course-panel[data-panel="${id}"]`); },
  canvas(id) { const p = this.panel(id); return p && p.querySelector(".course-figure-view canvas"); },
  signature(id) { const c = this.canvas(id); return c ? c.toDataURL() : null; },
  frames(id) { const p = this.panel(id); const r = p && p.querySelector(".course-figure-view");
               return r ? Number(r.dataset.frames || 0) : 0; },
  controls(id) {
    const p = this.panel(id);
    return [...p.querySelectorAll(".course-panel-controls input, .course-panel-controls select")].map((el) => ({
      name: el.dataset.control, tag: el.tagName.toLowerCase(), type: el.type || "",
      count: el.tagName === "SELECT" ? el.options.length : (el.type === "range" ? Number(el.max) + 1 : 2),
      value: el.type === "checkbox" ? (el.checked ? 1 : 0) : Number(el.value), disabled: el.disabled }));
  },
  // move control `name` of panel `id` to index k (a checkbox: k = 0/1) as a learner would: the
  // value changes and an input event fires
  move(id, name, k) {
    const el = this.panel(id).querySelector(`[data-control="${name}"]`);
    if (el.type === "checkbox") { if (Boolean(k) !== el.checked) el.click(); return; }
    el.value = String(k);
    el.dispatchEvent(new Event("input", {bubbles: true}));
  },
};
"""
