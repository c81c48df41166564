"""The course on the web: its panels as data and scripts for static pages (no kernel).

Modules: ``export`` (each panel's spec: controls, notches, and the scenes the page draws).
The browser scripts are in ``js/`` (``panel_runtime.js``: controls, Play, drawing).
"""
