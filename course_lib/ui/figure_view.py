"""Draw a matplotlib figure in the browser from its data: the slider panels' render path.

Re-rasterising a whole figure into a PNG on every slider move costs 150-650 ms on a 2-core
machine (the contour is redrawn into every image), far more than the optimizer runs. So the
panels keep their matplotlib figure as the *model* (its artists hold the data; tests read them)
and :class:`FigureView`, an ``anywidget`` widget, draws it in the browser on a canvas:

* lines (paths, loss curves, markers), texts (titles, captions, divergence messages), ticks,
  grids and legends are sent as data: pixel coordinates computed by matplotlib's own transforms,
  so log, symlog and aspect-equal axes come out exactly as matplotlib would place them;
* a few plain filled polygons (fill_between's bands) are sent as vectors too (``"fills"``);
* everything else on an axes (a contour set, images, bars) is rasterised into a
  PNG *background* for that axes, once, and only again when those artists change (a new
  landscape), never because a path moved. The background is drawn under every line, whatever
  the zorders say; twin axes, colorbars, log/symlog scales and legends are supported, 3-D and
  polar axes are not (:func:`can_draw`; such panels keep the PNG path);
* Play and the step slider reveal the already-sent steps in the browser (a JS timer), so no
  frame waits for the kernel.

:func:`scene_of` is the pure part: ``scene_of(fig) -> dict`` (JSON-ready); the widget holds the
latest scene in its ``scene`` trait and the backgrounds in ``images``.

Fonts: sizes in points become CSS pixels (1 pt = 4/3 px at 96 px per inch), never under 12 px,
so captions stay readable. The canvas shrinks to the notebook's width; text sizes do not.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path

import anywidget
import numpy as np
import traitlets
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

__all__ = ["FigureView", "scene_of", "mark_steps", "can_draw", "tick_label"]

CSS_DPI = 96.0  # what a browser calls one inch
BACKGROUND_DPI = 192.0  # backgrounds are rasterised at 2x the CSS size: sharp on HiDPI screens
MIN_FONT_PX = 12.0
MAX_CACHED_BACKGROUNDS = 8  # per view: a few landscapes, a few hundred kB

# The anywidget module: the drawing code (figure_draw.js, a classic script that the course's web
# pages load as it is) followed by the widget's wrapper (figure_view.js, which calls it).
_ESM = "\n".join((Path(__file__).with_name(name)).read_text(encoding="utf-8")
                  for name in ("figure_draw.js", "figure_view.js"))


# --------------------------------------------------------------------------------------------
# Tick labels: matplotlib's mathtext strings ("$\mathdefault{10^{-3}}$") as plain Unicode
# --------------------------------------------------------------------------------------------

_SUPERSCRIPT = str.maketrans("0123456789-−+.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁻⁺·")


def tick_label(text: str) -> str:
    r"""``"$\mathdefault{2\times10^{-3}}$"`` -> ``"2×10⁻³"``; plain labels pass through."""
    if "$" not in text:
        return text
    text = text.replace("$", "").replace(r"\mathdefault", "").replace(r"\times", "×")
    text = text.replace(r"\,", " ").replace(r"\;", " ").replace(r"\minus", "−")
    text = re.sub(r"\^\{([^{}]*)\}", lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    text = re.sub(r"\^(\S)", lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    return text.replace("{", "").replace("}", "").replace("\\", "")


# --------------------------------------------------------------------------------------------
# Scene: the figure as JSON-ready data, in CSS-independent display pixels (origin top left)
# --------------------------------------------------------------------------------------------


def _color(value, alpha=None) -> str | None:
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return None
    try:
        rgba = list(_rgba(value))
    except ValueError:
        return None
    if alpha is not None:
        rgba[3] *= alpha
    if rgba[3] == 0:
        return None
    return to_hex(rgba, keep_alpha=True)


def _rgba(value):
    from matplotlib.colors import to_rgba

    return to_rgba(value)


def _points(xy: np.ndarray, height: float) -> list:
    """Flat [x0, y0, x1, y1, ...] rounded to 0.1 px, y flipped; None marks a gap (NaN, inf)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    out = np.empty_like(xy)
    out[:, 0] = np.round(xy[:, 0], 1)
    out[:, 1] = np.round(height - xy[:, 1], 1)
    # Far-off points (a diverging path, a log axis at 0) are clamped, not dropped: the line
    # still leaves the axes in the right direction, and the canvas clips it.
    bad = ~np.isfinite(out).all(axis=1)
    np.clip(out, -1e5, 1e5, out=out)
    flat = out.ravel().tolist()
    if bad.any():
        for index in np.flatnonzero(bad):
            flat[2 * index] = flat[2 * index + 1] = None
    return flat


def _font_px(size_pt: float) -> float:
    return max(MIN_FONT_PX, round(size_pt * CSS_DPI / 72.0, 1))


def _text(text: Text, height: float, *, dpi: float) -> dict | None:
    string = text.get_text()
    if not string or not text.get_visible():
        return None
    x, y = text.get_transform().transform(text.get_unitless_position())
    if not (np.isfinite(x) and np.isfinite(y)):
        return None
    item = {
        "text": tick_label(string) if "$" in string else string,
        "x": round(float(x), 1),
        "y": round(float(height - y), 1),
        "ha": text.get_horizontalalignment(),
        "va": text.get_verticalalignment(),
        "size": _font_px(text.get_fontsize()),
        "color": _color(text.get_color(), text.get_alpha()),
        "weight": "bold" if str(text.get_fontweight()) in ("bold", "heavy", "700", "800", "900") else "normal",
        "rotation": float(text.get_rotation()),
        "z": float(text.get_zorder()),
    }
    patch = text.get_bbox_patch()
    if patch is not None and patch.get_visible():
        item["box"] = {"fill": _color(patch.get_facecolor()), "edge": _color(patch.get_edgecolor()),
                       "alpha": patch.get_alpha() if patch.get_alpha() is not None else 1.0}
    return item


def _line_style(line: Line2D, dpi: float) -> dict:
    px = dpi / 72.0
    marker = line.get_marker()
    marker = "" if marker in (None, "None", "none", " ", "") else str(marker)
    return {
        "color": _color(line.get_color(), line.get_alpha()),
        "width": round(line.get_linewidth() * px, 2),
        "dash": str(line.get_linestyle()) if line.get_linestyle() not in ("None", "none", " ", "") else "",
        "marker": marker,
        "msize": round(line.get_markersize() * px, 2),
        "mface": _color(line.get_markerfacecolor(), line.get_alpha()),
        "medge": _color(line.get_markeredgecolor(), line.get_alpha()),
        "mew": round(line.get_markeredgewidth() * px, 2),
    }


def _line(line: Line2D, height: float, dpi: float) -> dict | None:
    if not line.get_visible():
        return None
    x = np.asarray(line.get_xdata(), dtype=np.float64).ravel()
    y = np.asarray(line.get_ydata(), dtype=np.float64).ravel()
    if x.size == 0 or x.size != y.size:
        return None
    with np.errstate(all="ignore"):
        xy = line.get_transform().transform(np.column_stack([x, y]))
    item = _line_style(line, dpi)
    item.update(points=_points(xy, height), n=int(x.size), z=float(line.get_zorder()),
                clip=bool(line.get_clip_on()))
    return item


def _ticks(ax: Axes, which: str, height: float) -> dict:
    axis = ax.xaxis if which == "x" else ax.yaxis
    if not axis.get_visible():
        return {"major": [], "minor": [], "labels": [], "offset": ""}
    x0, y0, x1, y1 = ax.bbox.extents
    result = {}
    for kind in ("major", "minor"):
        locs = np.asarray(axis.get_majorticklocs() if kind == "major" else axis.get_minorticklocs(),
                          dtype=np.float64)
        with np.errstate(all="ignore"):
            if which == "x":
                coords = ax.get_xaxis_transform().transform(np.column_stack([locs, np.zeros_like(locs)]))[:, 0]
                inside = (coords >= x0 - 0.5) & (coords <= x1 + 0.5)
            else:
                pixels = ax.get_yaxis_transform().transform(np.column_stack([np.zeros_like(locs), locs]))[:, 1]
                inside = (pixels >= y0 - 0.5) & (pixels <= y1 + 0.5)
                coords = height - pixels
        # Locators return ticks beyond the view; keep those on the axis (decided in pixels,
        # which is right for log and symlog axes too).
        locs, coords = locs[inside], coords[inside]
        formatter = axis.get_major_formatter() if kind == "major" else axis.get_minor_formatter()
        labels = [tick_label(s) for s in formatter.format_ticks(list(locs))] if locs.size else []
        result[kind] = [[round(float(c), 1), label] for c, label in zip(coords, labels)]
        if kind == "major":
            result["offset"] = tick_label(formatter.get_offset()) if hasattr(formatter, "get_offset") else ""
    # Which side the ticks and labels sit on: a twinx() axes or a colorbar has them on the right.
    position = axis.get_ticks_position()
    result["side"] = {"right": "right", "top": "top"}.get(position, "left" if which == "y" else "bottom")
    if axis.get_label_position() in ("right", "top"):
        result["side"] = axis.get_label_position()
    keywords = axis._major_tick_kw  # where ax.grid() keeps its settings (no public getter)
    result["grid"] = bool(keywords.get("gridOn", False))
    result["grid_alpha"] = float(keywords.get("grid_alpha", 1.0) or 1.0)
    result["label"] = axis.get_label_text()
    result["label_size"] = _font_px(axis.label.get_fontsize())
    result["tick_size"] = _font_px(axis.get_ticklabels()[0].get_fontsize() if axis.get_ticklabels() else 10)
    return result


def _legend(ax: Axes, dpi: float) -> dict | None:
    legend = ax.get_legend()
    if legend is None or not legend.get_visible():
        return None
    items = []
    for handle, text in zip(legend.legend_handles, legend.get_texts()):
        if not text.get_text() or handle is None:
            continue
        style = _line_style(handle, dpi) if isinstance(handle, Line2D) else {
            "color": _color(handle.get_facecolor()) if hasattr(handle, "get_facecolor") else "#000000",
            "width": 6, "dash": "-", "marker": "", "msize": 0, "mface": None, "medge": None, "mew": 0}
        items.append({"label": text.get_text(), **style})
    codes = {0: "upper right", 1: "upper right", 2: "upper left", 3: "lower left", 4: "lower right",
             5: "center right", 6: "center left", 7: "center right", 8: "lower center",
             9: "upper center", 10: "center"}
    loc = legend._loc  # an int code, or a bbox tuple for explicit positions
    return {"items": items, "loc": codes.get(loc, "upper right") if isinstance(loc, int) else "upper right",
            "size": _font_px(legend.prop.get_size_in_points())}


# Filled polygons sent as vectors, not rasterised: a few plain polygons (fill_between's bands)
# that change with the sliders would otherwise make a new background PNG on every move.
MAX_FILL_PATHS = 8
MAX_FILL_VERTICES = 4000


def _vector_fill(artist) -> bool:
    from matplotlib.collections import PolyCollection

    if not isinstance(artist, PolyCollection) or artist.get_hatch():
        return False
    paths = artist.get_paths()
    faces = np.atleast_2d(artist.get_facecolor())
    return (0 < len(paths) <= MAX_FILL_PATHS and len(faces) == 1
            and sum(len(p.vertices) for p in paths) <= MAX_FILL_VERTICES
            and len(np.atleast_2d(artist.get_offsets())) <= 1)


def _fill(artist, height: float) -> dict | None:
    """A PolyCollection as polygons in display pixels (None between polygons), one colour."""
    face = np.atleast_2d(artist.get_facecolor())[0]
    color = _color(tuple(face))
    if color is None:
        return None
    transform = artist.get_transform()
    points: list = []
    with np.errstate(all="ignore"):
        for path in artist.get_paths():
            polygons = path.to_polygons(closed_only=False)
            for polygon in polygons:
                if len(polygon) < 3:
                    continue
                if points:
                    points += [None, None]
                points += _points(transform.transform(np.asarray(polygon, dtype=np.float64)), height)
    if not points:
        return None
    return {"color": color, "points": points, "z": float(artist.get_zorder()), "clip": bool(artist.get_clip_on())}


# Artists drawn as the axes' raster background (everything that is not a line, a text or a
# vector fill).
def _background_artists(ax: Axes) -> list:
    artists = [*ax.collections, *ax.images, *ax.patches]
    return sorted((a for a in artists if a.get_visible() and not _vector_fill(a)), key=lambda a: a.get_zorder())


def _fingerprint(ax: Axes, artists: list) -> str:
    """Changes when the background would look different: other artists, data, limits or size.

    By content, not identity: switching a panel back to a landscape draws a new but equal
    contour set, which must find its cached picture.
    """
    digest = hashlib.blake2b(digest_size=12)
    digest.update(repr((ax.get_xlim(), ax.get_ylim(), ax.bbox.bounds, ax.figure.dpi)).encode())

    def add(values) -> None:
        if values is not None:
            digest.update(np.ascontiguousarray(np.ma.filled(np.asarray(values, dtype=np.float64), np.nan)).tobytes())

    for artist in artists:
        digest.update(repr((type(artist).__name__, artist.get_alpha(), artist.get_zorder())).encode())
        for getter in ("get_offsets", "get_array", "get_facecolor", "get_edgecolor", "get_linewidth"):
            if hasattr(artist, getter):
                try:
                    add(getattr(artist, getter)())
                except (TypeError, ValueError):  # a colour given as a string, say
                    digest.update(repr(getattr(artist, getter)()).encode())
        if hasattr(artist, "get_paths"):
            for path in artist.get_paths():
                add(path.vertices)
        elif hasattr(artist, "get_extents"):
            digest.update(repr(artist.get_extents().bounds).encode())
        if hasattr(artist, "get_extent") and callable(artist.get_extent):
            digest.update(repr(artist.get_extent()).encode())
    return digest.hexdigest()


def _render_background(fig: Figure, ax: Axes, artists: list) -> str:
    """PNG data URL of ``artists`` alone, cropped to ``ax``'s box, at BACKGROUND_DPI."""
    from matplotlib.backends.backend_agg import RendererAgg
    from PIL import Image

    old_dpi = fig.dpi
    try:
        fig.dpi = BACKGROUND_DPI  # transforms follow the dpi; restored below
        width, height = fig.bbox.width, fig.bbox.height
        renderer = RendererAgg(int(round(width)), int(round(height)), fig.dpi)
        for artist in artists:
            artist.draw(renderer)
        x0, y0, x1, y1 = ax.bbox.extents
        image = Image.frombuffer("RGBA", (int(round(width)), int(round(height))),
                                 renderer.buffer_rgba(), "raw", "RGBA", 0, 1)
        box = (int(np.floor(x0)), int(np.floor(height - y1)), int(np.ceil(x1)), int(np.ceil(height - y0)))
        buffer = io.BytesIO()
        image.crop(box).save(buffer, format="PNG", optimize=False, compress_level=6)
    finally:
        fig.dpi = old_dpi
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def can_draw(fig: Figure) -> bool:
    """Whether :class:`FigureView` can draw ``fig`` (2-D rectilinear axes only; 3-D and polar
    axes fall back to a PNG)."""
    return all(ax.name == "rectilinear" for ax in fig.axes)


def scene_of(fig: Figure, backgrounds: dict | None = None) -> dict:
    """The figure as drawing instructions (JSON-ready).

    ``backgrounds`` is a cache ``{fingerprint: data URL}``: an axes whose non-line artists did
    not change reuses its PNG; new ones are rendered and added. Each axes in the scene names
    its background by fingerprint (``"bg"``), so the widget can send images only when new.
    """
    if not getattr(fig, "_course_laid_out", False):
        # Layout engines (constrained, tight) and aspect-equal axes place the axes at draw
        # time; run that once. Later scenes keep this layout, so the figure does not jump.
        fig.draw_without_rendering()
        fig._course_laid_out = True
    dpi = fig.dpi
    width, height = fig.bbox.width, fig.bbox.height
    backgrounds = {} if backgrounds is None else backgrounds
    scene = {"width": round(width, 1), "height": round(height, 1), "scale": CSS_DPI / dpi,
             "face": _color(fig.get_facecolor()), "axes": [], "texts": []}
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        ax.apply_aspect()
        x0, y0, x1, y1 = ax.bbox.extents
        entry = {
            "box": [round(x0, 1), round(height - y1, 1), round(x1, 1), round(height - y0, 1)],
            "face": _color(ax.patch.get_facecolor()) if ax.patch.get_visible() else None,
            "spines": [name for name, spine in ax.spines.items() if spine.get_visible()],
            "x": _ticks(ax, "x", height),
            "y": _ticks(ax, "y", height),
            "lines": [item for item in (_line(line, height, dpi) for line in ax.get_lines()) if item],
            "texts": [item for item in (_text(t, height, dpi=dpi) for t in
                                        (ax.title, ax._left_title, ax._right_title, *ax.texts)) if item],
            "legend": _legend(ax, dpi),
            "bg": None,
        }
        fills = [item for item in (_fill(a, height) for a in ax.collections
                                   if a.get_visible() and _vector_fill(a)) if item]
        if fills:
            entry["fills"] = fills
        artists = _background_artists(ax)
        if artists:
            key = _fingerprint(ax, artists)
            if key not in backgrounds:
                backgrounds[key] = _render_background(fig, ax, artists)
            entry["bg"] = key
        scene["axes"].append(entry)
    scene["texts"] = [item for item in (_text(t, height, dpi=dpi) for t in fig.texts) if item]
    return scene


def mark_steps(scene: dict, trajectories: list) -> int:
    """Mark what Play reveals step by step; return the last step (0 when nothing to play).

    Play shows the first ``s`` steps of every trajectory, as
    ``course_lib.ui.slider_panel.truncate_trajectory`` does, without asking the kernel:

    * a line with as many points as a trajectory has (its path, its loss curve) is drawn up to
      point ``s`` (``"reveal": "prefix"``);
    * a one-point line in the same colour sitting on such a line's last point (the end marker)
      follows point ``s`` of that line (``"follow": index``);
    * a text naming a trajectory's divergence message appears once ``s`` reaches the end of
      that trajectory (``"from_step"``), as the message is part of the run's last step.
    """
    lengths = {len(t.path) for t in trajectories if len(getattr(t, "path", ())) > 0}
    last_step = max((n - 1 for n in lengths), default=0)
    messages = [(t.message, len(t.path) - 1) for t in trajectories
                if getattr(t, "message", "") and len(getattr(t, "path", ())) > 0]
    for axes in scene["axes"]:
        lines = axes["lines"]
        for line in lines:
            if line["n"] in lengths and line["n"] > 1:
                line["reveal"] = "prefix"
        for line in lines:
            if line["n"] != 1 or line.get("reveal"):
                continue
            for index, other in enumerate(lines):
                if (other.get("reveal") == "prefix" and other["color"] == line["color"]
                        and other["points"][-2:] == line["points"][-2:]):
                    line["follow"] = index
                    break
        for text in axes["texts"]:
            for message, step in messages:
                if message in text["text"]:
                    text["from_step"] = max(text.get("from_step", 0), step)
    for text in scene["texts"]:
        for message, step in messages:
            if message in text["text"]:
                text["from_step"] = max(text.get("from_step", 0), step)
    scene["last_step"] = last_step
    return last_step


# --------------------------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------------------------


class FigureView(anywidget.AnyWidget):
    """A canvas in the browser that draws :func:`scene_of`'s scenes.

    ``show(fig, trajectories)`` sends the figure's current scene (and any new backgrounds);
    ``step`` (-1: everything) is what Play and the step slider move, linked in the browser.
    When the page holds a saved copy of the panel and no kernel answers, the view says so.
    """

    _esm = _ESM
    scene = traitlets.Dict().tag(sync=True)
    images = traitlets.Dict().tag(sync=True)
    step = traitlets.Int(-1).tag(sync=True)
    #: "IPY_MODEL_<id>" of the panel's Play widget: the browser paces it (figure_view.js)
    play_model = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._backgrounds: dict[str, str] = {}
        self.live = False  # True once a browser has drawn this view with this kernel behind it
        self.on_live: list = []  # callables run once, when the view first goes live
        self.on_msg(self._on_frontend_msg)

    def _on_frontend_msg(self, _widget, content, _buffers) -> None:
        # The front end asks "are you there?" when it draws; a saved copy gets no answer.
        if isinstance(content, dict) and content.get("type") == "ping":
            self.send({"type": "pong"})
            if not self.live:
                self.live = True
                for callback in self.on_live:
                    callback()

    def show(self, fig: Figure, trajectories=()) -> dict:
        """Send ``fig``'s scene; returns it (tests read it)."""
        scene = scene_of(fig, self._backgrounds)
        mark_steps(scene, list(trajectories))
        used = {entry["bg"] for entry in scene["axes"] if entry["bg"]}
        if used != set(self.images):
            # Only the backgrounds in use are sent (and saved with the notebook); the kernel
            # keeps the last few, so switching landscapes back and forth renders nothing new.
            self.images = {key: self._backgrounds[key] for key in used}
        for key in list(self._backgrounds)[:-MAX_CACHED_BACKGROUNDS]:
            if key not in used:
                del self._backgrounds[key]
        self.scene = scene
        return scene
