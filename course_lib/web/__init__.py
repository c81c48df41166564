"""The course on the web: its panels as data and scripts for static pages (no kernel).

Modules: ``export`` (each panel's spec: controls, notches, and the scenes the page draws) and
``jsport`` (the float64 JavaScript ports of course_lib's update rules, landscapes, trajectory
runner and landscape panels, and ``run_in_node`` that runs them in node for the parity tests).
The browser scripts are in ``js/`` (``panel_runtime.js``: controls, Play, drawing;
``optim.js``, ``landscapes.js``, ``trajectories.js``: ``window.CourseOptim``, the port).
"""
