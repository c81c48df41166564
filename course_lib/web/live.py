"""The panels in JupyterLab answering a slider move in the browser, with no kernel round trip:
:func:`live_panel`.

A panel's FigureView draws the scenes the kernel sends. :func:`live_panel` gives it a
:class:`LiveFigureView` instead: the same drawing code plus the JS port and ``js/synth.js``, the
path the web pages use (``compute_spec``'s source, the controls' notches, their widget models).
When a slider moves, the browser computes the scene for the new values and draws it at once;
the kernel still runs ``panel.update`` (tests and the matplotlib model read it) and its scene
replaces the browser's once the sliders are still. tests/test_web_synth.py shows that the two
scenes are the same, to 0.2 px, for these panels.

The landscape lectures (01, 03, 04, 05, 07) and 06 (its effective-lr curves, computed in the
browser too) show their panels this way:
``live_panel("03_momentum-0", momentum_panel())`` returns the panel with the live view
(``live_panel("03_momentum-0")`` builds the notebook's panel itself). The browser's source is made when the view first goes live in a
browser (a second copy of the panel renders each landscape's contour once, about a second per
landscape), so a notebook run without a browser costs nothing more. A view that has no source
3, 8 and 20 s after it was drawn asks again (a ping), and a ping to a live view with no source
makes it anew; a failure to make it goes to the kernel's log and to the view (``source-error``).

The panels that train networks (02, 08-11) answer from the *table* the web book ships
(``course_lib.web.export``: the scene of every combination of the page's notches, trained ahead),
read from the folder ``python -m course_lib.web.export`` wrote (``make lab`` and ``make site``
make ``build/book-panels/``; ``COURSE_WEB_EXPORT_DIR`` names another) when it was made by this
very code (:func:`course_lib.web.export.code_fingerprint`). A move to a notch the table holds is
drawn from it at once; a move between its notches (the notebook's sliders have more) waits for
the kernel, as does every move when there is no table. Either way the kernel's scene follows.

A preset button (:meth:`course_lib.ui.slider_panel.SliderPanel.add_preset`, 03's "optimal lr,
β") moves the controls in the browser on the click and draws the preset's scene there; the
click still reaches the kernel, whose ``panel.update`` follows as for any move.
"""


from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import traitlets

from course_lib.ui.figure_view import FigureView
from course_lib.web import export
from course_lib.web.synth import COMPUTE_PANELS, JS_FILES, build_panel, controls_of, source_of

__all__ = ["LiveFigureView", "live_panel", "table_source", "export_dir"]

_UI = Path(__file__).resolve().parent.parent / "ui"
_JS = Path(__file__).resolve().parent / "js"


def _esm() -> str:
    wrapper = (_UI / "figure_view.js").read_text(encoding="utf-8")
    ending = "export default { render };"
    if ending not in wrapper:
        raise RuntimeError("figure_view.js no longer ends with `export default { render };`: "
                           "course_lib/web/live.py cannot wrap its render")
    parts = [(_UI / "figure_draw.js").read_text(encoding="utf-8")]
    parts += [(_JS / name).read_text(encoding="utf-8") for name in (*JS_FILES, "panel_runtime.js")]
    parts += [wrapper.replace(ending, ""), (_JS / "live_view.js").read_text(encoding="utf-8")]
    return "\n".join(parts)


class LiveFigureView(FigureView):
    """A FigureView that also computes scenes in the browser when the panel's controls move.

    ``source`` and ``source_images`` (what the browser makes scenes from) go to the browser as a
    message, once the view is live and again whenever another view of it is drawn; they are not
    synced traits, so a saved notebook's widget state does not carry them (a table is up to
    1.75 MB).
    """

    _esm = _esm()
    controls = traitlets.List().tag(sync=True)
    control_models = traitlets.Dict().tag(sync=True)
    #: the panel's preset buttons (SliderPanel.add_preset): ``{"button": model ref, "values": {...}}``
    presets = traitlets.List().tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.source: dict = {}
        self.source_images: dict = {}
        #: makes the source (live_panel's), run on the first ping and again on a later ping while
        #: there is still no source (the browser asks again when none has come)
        self.make_source: Callable[[], None] | None = None

    def set_source(self, source: dict, images: dict) -> None:
        self.source, self.source_images = source, images
        self._send_source()

    def _send_source(self) -> None:
        if self.source:
            self.send({"type": "source", "source": self.source, "images": self.source_images})

    def _on_frontend_msg(self, widget, content, buffers) -> None:
        super()._on_frontend_msg(widget, content, buffers)
        if not (isinstance(content, dict) and content.get("type") == "ping"):
            return
        if self.source:
            self._send_source()  # a view drawn again (a reload, a second view) needs it too
        else:
            self._make_source()  # the first ping, or a later one while there is no source yet

    def _make_source(self) -> None:
        """Run :attr:`make_source`; a failure goes to the browser (``source-error``: the view keeps
        asking the kernel to draw) and to the kernel's log, not into some cell's output."""
        if self.make_source is None:
            return
        try:
            self.make_source()
        except Exception as error:  # noqa: BLE001 - any failure leaves the kernel drawing every move
            logging.getLogger(__name__).exception("the browser's source for this panel could not be made")
            self.send({"type": "source-error", "error": f"{type(error).__name__}: {error}"})


def export_dir() -> Path:
    """Where the exported panel specs are: ``$COURSE_WEB_EXPORT_DIR``, else the repository's
    ``build/book-panels/`` (``make lab``, ``make site``)."""
    named = os.environ.get("COURSE_WEB_EXPORT_DIR")
    return Path(named) if named else export._ROOT / "build" / "book-panels"


def table_source(panel_id: str, folder: Path | None = None) -> tuple[dict, dict] | None:
    """``(source, images)`` of ``panel_id``'s exported table: the spec's ``"table"`` source with
    the page's controls (its notches) inside; None when ``folder`` (:func:`export_dir`) has no
    table for the panel or one made by other code than this (another fingerprint)."""
    folder = export_dir() if folder is None else Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        entry = next(item for item in manifest if item["id"] == panel_id)
    except (OSError, ValueError, StopIteration, KeyError, TypeError):
        return None
    if entry.get("kind") != "table" or entry.get("code") != export.code_fingerprint():
        return None
    try:
        spec = export.read_spec(folder / entry["file"])
    except (OSError, ValueError):
        return None
    return {**spec["source"], "controls": spec["controls"]}, dict(spec.get("images") or {})


def live_panel(panel_id: str, panel=None, *, lazy: bool = True):
    """``panel`` (built as the notebook does when None) with a :class:`LiveFigureView`.

    ``lazy`` (default): the browser's source (each landscape's contour picture, the templates)
    is made only once the view is live in a browser, from a second copy of the panel, so running
    a notebook top to bottom (nbval, ``make run-notebook``) costs nothing more; until then, and
    for a saved notebook, the kernel draws every move as before.
    """
    import ipywidgets as widgets

    if panel is None:
        panel = build_panel(panel_id) if panel_id in COMPUTE_PANELS else export.build_panel(panel_id)
    old = panel.view
    if old is None:
        return panel  # a figure the browser cannot draw (3-D, polar): the panel's PNGs, as before
    view = LiveFigureView()
    view.on_live.extend(old.on_live)  # what the panel asked for once live (its background trainer)
    view._backgrounds = dict(old._backgrounds)
    view.images = dict(old.images)
    view.scene = old.scene
    view.step = old.step
    view.play_model = old.play_model
    view.controls = controls_of(panel)
    view.control_models = {name: f"IPY_MODEL_{widget.model_id}" for name, widget in panel.sliders.items()}
    view.presets = [{"button": f"IPY_MODEL_{button.model_id}", "values": values}
                    for button, values in getattr(panel, "presets", ())]

    def attach() -> None:
        if panel_id in COMPUTE_PANELS:
            source, images = source_of(panel_id, build_panel(panel_id) if lazy else panel)
        else:
            found = table_source(panel_id)
            if found is None:
                return  # no table made by this code: the kernel draws every move
            source, images = found
        view.set_source(source, images)

    view.make_source = attach
    if not lazy:
        view._make_source()
    if panel.step_slider is not None:
        if getattr(panel, "_view_link", None) is not None:
            panel._view_link.unlink()  # the old view is no longer shown: nothing to keep in step
        # one way, as SliderPanel links: the view's own Play steps must not move the slider
        panel._view_link = widgets.jsdlink((panel.step_slider, "value"), (view, "step"))
    panel.widget.children = tuple(view if child is old else child for child in panel.widget.children)
    panel.view = view
    return panel
