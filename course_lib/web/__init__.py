"""The course on the web: its panels as data and scripts for static pages (no kernel).

Modules:

- ``export``: each panel's spec (controls, notches, and the scenes the page draws); the panel
  registry. The browser scripts are in ``js/`` (``panel_runtime.js``: controls, Play, drawing).
- ``jsport``: the float64 JavaScript ports of course_lib's update rules, landscapes, trajectory
  runner and landscape panels (``js/optim.js``, ``js/landscapes.js``, ``js/trajectories.js``,
  classic browser scripts that define ``window.CourseOptim`` and load in node too), and
  ``run_in_node`` that runs them in node (the parity tests use it).
- ``synth``: ``compute_spec(panel_id)``, the spec of a landscape panel (01 x2, 03, 04, 05, 07)
  whose scenes ``js/synth.js`` makes in the browser from those runs (source kind ``"compute"``),
  and ``scenes_in_node`` (tests/test_web_synth.py compares them with the Python panels' scenes).
- ``live``: ``live_panel(panel_id)``, the notebook's panel with a FigureView that computes the
  scene of a slider move in the browser (the same path) and draws it before the kernel answers
  (tests/e2e/test_live_panel.py).
"""
