"""The JavaScript ports of the course's optimizers and landscape panels, and a way to run them.

``js/optim.js`` (the update rules of course_lib.optim), ``js/landscapes.js`` (the 2-D landscapes
of course_lib.problems.landscapes) and ``js/trajectories.js`` (the trajectory runner of
course_lib.experiments.trajectories and each landscape panel's ``compute``) are classic browser
scripts: loaded in that order with ``<script src=...>`` they define ``window.CourseOptim``, with
no modules and no requests, so a page works from ``file://``. They also load in node, which is how
tests/test_web_parity.py holds them to the Python code: every panel's runs equal course_lib's to
float64 round-off (most of them bit for bit).

:func:`run_in_node` runs a batch of requests in one node process and returns the answers:

- ``{"panel": "<panel id>", "values": {...}}`` -> ``CourseOptim.panels[id].compute(values)``,
  i.e. ``{"trajectories": [...], "extras": {...}}``;
- ``{"run": {"landscape": name, "kwargs": {...}, "optimizer": name, "hyperparams": {...},
  "steps": n, "start": [x, y] or None}}`` -> one Trajectory (``CourseOptim.run``);
- ``{"landscape": {"name": ..., "kwargs": {...}, "angle": deg or None}, "points": [[x, y], ...]}``
  -> ``{"values": [...], "grads": [[gx, gy], ...], "curvatures", "start", "xlim", "ylim"}``;
- ``{"call": "math.powInt", "args": [...]}`` -> the value of any function of ``CourseOptim``.

Each answer is ``{"ok": value}`` or ``{"error": message}`` (where the Python raises).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

__all__ = ["JS_DIR", "PORT_FILES", "COMPUTE_PANELS", "node_executable", "run_in_node"]

#: where the scripts live (shipped as package data)
JS_DIR = Path(__file__).resolve().parent / "js"

#: the port's scripts, in the order a page loads them
PORT_FILES = ("optim.js", "landscapes.js", "trajectories.js")

#: the panels whose runs the port computes (``CourseOptim.panels``), in course order
COMPUTE_PANELS = (
    "01_gradient_descent-0",
    "01_gradient_descent-1",
    "03_momentum-0",
    "04_nesterov-0",
    "05_adagrad-0",
    "06_rmsprop_adadelta-0",
    "07_adam-0",
)

_DRIVER = r"""
const C = require(process.argv[1]);
if (process.argv[2]) (new Function("C", process.argv[2]))(C);
const requests = JSON.parse(require("fs").readFileSync(0, "utf8"));
function resolve(path) {
  let target = C, owner = null;
  for (const part of path.split(".")) { owner = target; target = target[part]; }
  return [target, owner];
}
const answers = requests.map((r) => {
  try {
    if (r.panel !== undefined) return {ok: C.panels[r.panel].compute(r.values)};
    if (r.run !== undefined) {
      const q = r.run;
      const surface = C.getLandscape(q.landscape, q.kwargs || {});
      return {ok: C.run(surface, q.optimizer, q.hyperparams, q.steps, q.start, q.label)};
    }
    if (r.landscape !== undefined) {
      const q = r.landscape;
      const s = q.angle === undefined || q.angle === null
        ? C.getLandscape(q.name, q.kwargs || {})
        : C.rotatedQuadratic((q.kwargs || {}).condition_number, (q.kwargs || {}).L, q.angle);
      return {ok: {values: r.points.map((p) => s.value(p[0], p[1])),
                   grads: r.points.map((p) => s.grad(p[0], p[1])),
                   curvatures: s.curvatures, start: s.start, xlim: s.xlim, ylim: s.ylim,
                   minima: s.minima, name: s.name}};
    }
    if (r.call !== undefined) {
      const [fn, owner] = resolve(r.call);
      return {ok: fn.apply(owner, r.args || [])};
    }
    return {error: "unknown request"};
  } catch (e) {
    return {error: String(e && e.message ? e.message : e)};
  }
});
process.stdout.write(JSON.stringify(answers));
"""


def node_executable() -> str | None:
    """The path of ``node``, or None when it is not installed."""
    return shutil.which("node")


def run_in_node(requests: list[dict], *, prelude: str = "", timeout: float = 300.0) -> list[dict]:
    """Answer ``requests`` (see the module docstring) in one node process; raise RuntimeError
    when node is missing or fails. ``prelude`` is JavaScript run first, with the port as ``C``
    (tests use it to swap a wrong rule in and show that the parity check catches it)."""
    node = node_executable()
    if node is None:
        raise RuntimeError("node is not installed: the JavaScript ports cannot run")
    completed = subprocess.run(
        [node, "-e", _DRIVER, str(JS_DIR / "trajectories.js"), prelude],
        input=json.dumps(requests, allow_nan=False),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"node failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return json.loads(completed.stdout)
