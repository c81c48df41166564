"""A real JupyterLab driven by a real Chromium: what the e2e tests and benchmarks/browser_latency.py use.

:class:`Lab` starts ``python -m jupyterlab`` from this Python (the course's ``.venv``) on
127.0.0.1 with a random port and token, serving a scratch copy of the course (so saving a
notebook never touches the repository), with its own settings, workspace, runtime and data
folders (nothing from the machine's ``~/.jupyter`` leaks in; the course's own lab settings in
``.venv/share/jupyter/lab/settings`` do apply). :func:`launch_chromium` starts Debian's
``/usr/bin/chromium`` through Playwright for Python; it never downloads a browser.

:class:`NotebookPage` wraps one open notebook: Run All, wait for the kernel, read outputs from
JupyterLab's own notebook model (``--LabApp.expose_app_in_browser``), find the panels, move
their controls, press Play, save and reopen.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
HOW_TO_ENABLE = ("the browser tests need Debian's Chromium at /usr/bin/chromium (or COURSE_CHROMIUM=path) "
                 "and the playwright package: `sudo apt-get install -y chromium` and `make install`")
COPIED = ("notebooks", "exercises", "solutions")

# Lab settings for the scratch server: no news pop-up over the notebook, every cell kept in the
# page (windowing off) so panels far down a notebook exist for the test to find.
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def missing_requirements() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed; " + HOW_TO_ENABLE
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM}; " + HOW_TO_ENABLE
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A scratch JupyterLab server; use as a context manager."""

    def __init__(self, *, log_path: Path | None = None, source_root: Path = REPO_ROOT,
                 extra_env: dict | None = None):
        self.source_root = Path(source_root)
        self.extra_env = dict(extra_env or {})
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.home = Path(tempfile.mkdtemp(prefix="course-e2e-"))
        self.root = self.home / "course"
        self.log_path = log_path
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Lab":
        self.root.mkdir()
        for name in COPIED:
            if (self.source_root / name).is_dir():
                shutil.copytree(self.source_root / name, self.root / name,
                                ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        settings = self.home / "settings"
        for name, values in USER_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {**os.environ,
               "JUPYTERLAB_SETTINGS_DIR": str(settings),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
               "JUPYTER_CONFIG_DIR": str(self.home / "config"),
               "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
               "JUPYTER_DATA_DIR": str(self.home / "data"),
               "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::PendingDeprecationWarning",
               **self.extra_env}
        command = [sys.executable, "-m", "jupyterlab", "--no-browser",
                   "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                   "--LabApp.expose_app_in_browser=True",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "getuid") and os.getuid() == 0:
            command.append("--allow-root")
        if self.log_path:
            Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.root)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("JupyterLab did not answer within 120 s")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """What closing JupyterLab does: every kernel goes (the saved notebooks stay)."""
        for session in self.api("/api/sessions"):
            self.api(f"/api/sessions/{session['id']}", method="DELETE")

    def notebook_url(self, relative: str) -> str:
        # reset: start from an empty workspace, not the tabs an earlier page left open
        return f"{self.url}/lab/tree/{relative}?reset&token={self.token}"


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)


# Runs in every page before JupyterLab: records input events and painted frames, for the
# latency measurements. A frame is the course view's "course-frame" event (sent on the
# animation frame after a drawing) or, for PNG outputs, an <img> in a widget Output once it
# has loaded and the next animation frame has run.
RECORDER = r"""
window.__course = {inputs: [], frames: []};
for (const type of ["keydown", "pointerdown", "change", "input"]) {
  document.addEventListener(type, (e) => window.__course.inputs.push({type, t: e.timeStamp}), true);
}
document.addEventListener("course-frame", (e) => {
  window.__course.frames.push({t: e.detail.time, step: Number(e.detail.step), scene: e.detail.scene,
                               el: e.target, kind: "canvas"});
}, true);
new MutationObserver((records) => {
  for (const r of records) for (const node of r.addedNodes) {
    const imgs = node.nodeType === 1 ? (node.tagName === "IMG" ? [node] : [...node.querySelectorAll("img")]) : [];
    for (const img of imgs) {
      const done = () => requestAnimationFrame(() => window.__course.frames.push(
        {t: performance.now(), el: img, kind: "img"}));
      img.complete ? done() : img.addEventListener("load", done, {once: true});
    }
  }
}).observe(document, {childList: true, subtree: true});
"""

# Helpers evaluated in the page. `panels()` lists the output areas that hold widget controls.
HELPERS = r"""
window.__courseLab = {
  notebook() {
    for (const w of window.jupyterapp.shell.widgets("main")) {
      if (w.context && w.context.path === window.__coursePath) return w;
    }
    return window.jupyterapp.shell.currentWidget;
  },
  panels() {
    const nb = this.notebook().node;
    return [...nb.querySelectorAll(".jp-OutputArea-output")].filter((o) =>
      o.querySelector(".widget-slider, .widget-dropdown, .widget-checkbox, .widget-button"));
  },
  figure(i) {
    const p = this.panels()[i];
    return p.querySelector(".course-figure-view canvas") || p.querySelector(".widget-output img");
  },
  signature(i) {
    const f = this.figure(i);
    if (!f) return null;
    return f.tagName === "CANVAS" ? f.toDataURL() : f.src;
  },
  outputs() {
    const cells = this.notebook().content.model.cells;
    const out = [];
    for (let i = 0; i < cells.length; i++) {
      const c = cells.get(i);
      if (c.type !== "code") continue;
      out.push({index: i, source: c.sharedModel.getSource(), count: c.executionCount,
                outputs: c.outputs.toJSON()});
    }
    return out;
  },
  busy() {
    const w = this.notebook();
    if (!w || !w.sessionContext || !w.sessionContext.session) return true;
    const status = w.sessionContext.session.kernel && w.sessionContext.session.kernel.status;
    const prompts = [...w.node.querySelectorAll(".jp-InputPrompt")].map((p) => p.textContent);
    return status !== "idle" || prompts.some((t) => t.includes("*"));
  },
};
"""


class NotebookPage:
    """One notebook open in JupyterLab in a Playwright page."""

    def __init__(self, page, lab: Lab, relative: str):
        self.page, self.lab, self.relative = page, lab, relative

    def open(self, timeout_s: float = 120) -> "NotebookPage":
        self.page.goto(self.lab.notebook_url(self.relative))
        self.page.wait_for_function(
            "(path) => window.jupyterapp && [...window.jupyterapp.shell.widgets('main')].some("
            "w => w.context && w.context.path === path && w.context.isReady && w.sessionContext)",
            arg=self.relative, timeout=timeout_s * 1000)
        self.page.evaluate("(path) => { window.__coursePath = path; }", self.relative)
        self.page.evaluate(HELPERS)
        return self

    def ensure_helpers(self) -> None:
        if not self.page.evaluate("() => !!window.__courseLab"):
            self.page.evaluate("(path) => { window.__coursePath = path; }", self.relative)
            self.page.evaluate(HELPERS)

    def wait_idle(self, timeout_s: float = 180) -> None:
        self.ensure_helpers()
        # idle for a moment in a row: a queued cell can start right after the previous one
        self.page.wait_for_function(
            """() => { const b = window.__courseLab.busy(); const now = performance.now();
                 if (b) { window.__courseIdleSince = null; return false; }
                 window.__courseIdleSince = window.__courseIdleSince || now;
                 return now - window.__courseIdleSince > 1500; }""",
            timeout=timeout_s * 1000, polling=250)

    def command(self, name: str, args: dict | None = None):
        self.ensure_helpers()
        # commands act on the current widget: make it this notebook first
        self.page.evaluate("() => window.jupyterapp.shell.activateById(window.__courseLab.notebook().id)")
        return self.page.evaluate("([n, a]) => window.jupyterapp.commands.execute(n, a)", [name, args or {}])

    def run_all(self, timeout_s: float = 180) -> None:
        self.wait_for_kernel()
        self.command("notebook:run-all-cells")
        self.page.wait_for_timeout(500)
        self.wait_idle(timeout_s)

    def wait_for_kernel(self, timeout_s: float = 120) -> None:
        self.ensure_helpers()
        self.page.wait_for_function(
            "() => { const s = window.__courseLab.notebook().sessionContext;"
            " return s.session && s.session.kernel && s.session.kernel.status === 'idle'; }",
            timeout=timeout_s * 1000, polling=250)

    def outputs(self) -> list[dict]:
        self.ensure_helpers()
        return self.page.evaluate("() => window.__courseLab.outputs()")

    def panel_count(self) -> int:
        self.ensure_helpers()
        return self.page.evaluate("() => window.__courseLab.panels().length")

    def panel(self, index: int):
        return self.page.locator(".jp-OutputArea-output").filter(
            has=self.page.locator(".widget-slider, .widget-dropdown, .widget-checkbox, .widget-button")).nth(index)

    def signature(self, index: int):
        return self.page.evaluate("(i) => window.__courseLab.signature(i)", index)

    def save(self) -> None:
        self.command("docmanager:save")
        self.page.wait_for_function("() => !window.__courseLab.notebook().context.model.dirty",
                                    timeout=30000)
