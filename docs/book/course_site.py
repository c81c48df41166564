"""The book's Sphinx extension: each page that holds a panel loads the panel scripts, that page only.

build.py puts `<div class="course-panel" data-panel="ID">` (with the static picture inside, the
fallback) in place of each panel's stored picture, and stages the panel export in
`_static/panels/` (`js/*.js`, the runtime and the drawing code, and `ID.js`, one spec each).
Here every page whose body holds such a div gets, as deferred classic scripts in this order:
the runtime files (in build/book-src/panels.json's "scripts" order), the specs of that page's panels, and
`course_panels.js`, which mounts them. Pages without panels load none of it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

PANEL_DIV = re.compile(r'class="course-panel[^"]*" data-panel="([^"]+)"')


def _manifest(app) -> dict:
    if not hasattr(app, "_course_panels"):
        staged = os.environ.get("COURSE_BOOK_STATIC")
        path = Path(staged).parent / "panels.json" if staged else None
        app._course_panels = json.loads(path.read_text()) if path and path.is_file() else {"scripts": [], "panels": []}
    return app._course_panels


def add_panel_scripts(app, pagename, templatename, context, doctree):
    body = context.get("body") or ""
    ids = list(dict.fromkeys(PANEL_DIV.findall(body)))
    if not ids:
        return
    manifest = _manifest(app)
    exported = set(manifest["panels"])
    for script in manifest["scripts"]:
        app.add_js_file(f"panels/{script}", loading_method="defer", priority=800)
    for panel_id in ids:
        if panel_id in exported:
            app.add_js_file(f"panels/{panel_id}.js", loading_method="defer", priority=801)
    app.add_js_file("course_panels.js", loading_method="defer", priority=802)


def setup(app):
    app.connect("html-page-context", add_panel_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
