"""`make site`: the course as a static web book in build/site/.

    .venv/bin/python docs/book/build.py            # what `make site` runs (after installing the `site` extra)

1. Stages the book's sources in build/book-src/: the landing page (README's course map, each
   notebook linked), every lecture in notebooks/ in course order, every exercise notebook with a
   note on how to run and check it locally (solutions are not published). A panel's stored
   static picture becomes `<div class="course-panel" data-panel="<id>">` holding that picture
   (the fallback until the panel mounts); 00's `interact` cell, whose widget is not stored,
   gets the div after its code.
2. Stages `_static/`: MathJax 2.7 from the jupyter-server-mathjax wheel (formulas render with no
   network) and the panels from the exporter (`course_lib.web.export.export_panels`:
   `panels/js/*.js` and `panels/<id>.js`); build/book-src/panels.json names the scripts in
   load order and the exported panel ids. Without the exporter the pages keep the pictures.
3. Runs Sphinx (myst-nb renders the stored outputs, nothing is executed; sphinx-book-theme) into
   build/site/, then checks the budgets: every page with everything it loads <= 5 MB, the site
   <= 60 MB. A page over budget stops the build. Prints the time it took.

The built folder is self-contained: it works from any static host and from file:// offline
(no CDN, no fetch: every script is a classic script; README "Read it online").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "docs" / "book"
SRC = ROOT / "build" / "book-src"
OUT = ROOT / "build" / "site"
STAMP = OUT / ".built"
PANELS = ROOT / "build" / "book-panels"   # the exporter's output, copied into the book's _static/panels

PAGE_BUDGET = 5 * 1024 * 1024   # bytes a lecture page transfers with everything it loads
SITE_BUDGET = 60 * 1024 * 1024  # the whole of build/site/

PANEL_TEXT = "run this cell to make the panel live."  # SliderPanel's text/plain (slider_panel.py)
INTERACT = re.compile(r"\binteract\(")                  # 00's `widgets.interact(draw_wave, ...)`
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# After the exporter's own scripts (the drawing code, the runtime): the JS port in the order its
# files ask for, then the "compute" source, then any other, by name. live_view.js is JupyterLab's
# (it goes into FigureView's anywidget module), not the page's.
SCRIPT_ORDER = ["js/optim.js", "js/landscapes.js", "js/trajectories.js", "js/synth.js"]
NOT_FOR_PAGES = {"js/live_view.js"}

STATIC_NOTE_HTML = ('<p class="course-panel-static-note">A static picture: this panel cannot be drawn in the page. '
                    'Run the notebook (<code>make lab</code>) to move its sliders.</p>')


# ------------------------------------------------------------------------------------------
# 1. The pages
# ------------------------------------------------------------------------------------------

def lectures() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def exercises() -> list[Path]:
    return sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))


def _source(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _title(notebook: dict, fallback: str) -> str:
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            for line in _source(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _is_panel_output(output: dict) -> bool:
    text = output.get("data", {}).get("text/plain", "")
    text = text if isinstance(text, str) else "".join(text)
    return text.rstrip().endswith(PANEL_TEXT)


def _panel_div(panel_id: str, png_b64: str | None, alt: str) -> str:
    img = (f'<img class="course-panel-fallback" alt="{_escape(alt)}" src="data:image/png;base64,{png_b64}">'
           if png_b64 else "")
    return f'<div class="course-panel" data-panel="{panel_id}">{img}{STATIC_NOTE_HTML}</div>'


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def panel_cells(notebook: dict) -> list[int]:
    """Indices of the cells that show a panel, in cell order (panel k of the lecture is the k-th)."""
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        if any(_is_panel_output(o) for o in cell.get("outputs", [])) or INTERACT.search(_source(cell)):
            found.append(index)
    return found


def lecture_page(path: Path) -> tuple[dict, list[str]]:
    """The lecture with each panel's picture turned into a course-panel div; and its panel ids."""
    notebook = json.loads(path.read_text())
    ids = []
    for k, index in enumerate(panel_cells(notebook)):
        panel_id = f"{path.stem}-{k}"
        ids.append(panel_id)
        cell = notebook["cells"][index]
        outputs, placed = [], False
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if _is_panel_output(output):
                png = data.get("image/png")
                png = png if isinstance(png, str) or png is None else "".join(png)
                alt = "".join(data.get("text/plain", "")).split(": run this cell")[0]
                outputs.append({"output_type": "display_data", "metadata": {},
                                "data": {"text/html": _panel_div(panel_id, png and png.strip(), alt)}})
                placed = True
            elif WIDGET_VIEW not in data:
                outputs.append(output)
        if not placed:  # a widget whose view is not stored (00's interact): the div alone
            outputs.append({"output_type": "display_data", "metadata": {},
                            "data": {"text/html": _panel_div(panel_id, None, "")}})
        cell["outputs"] = outputs
    return notebook, ids


def exercise_page(path: Path) -> dict:
    """The exercise notebook, read-only, with a note on how to do and check it locally."""
    notebook = json.loads(path.read_text())
    name = f"exercises/{path.name}"
    note = (
        "```{note}\n"
        f"This page is a read-only copy of `{name}`: its answers and checks need Python. "
        "To do the exercises, clone the course and run `make lab` (it installs everything, then "
        f"opens JupyterLab); open `{name}`, write your answers where a cell says "
        "`raise NotImplementedError(...)`, and run the check cell under each. From a terminal, "
        f"`make check NB={name}` checks every exercise of the saved notebook. "
        f"The lecture is [{path.stem}](../notebooks/{path.name}); solutions are in `solutions/` "
        "of the repository.\n```\n")
    cell = {"cell_type": "markdown", "id": "web-book-note", "metadata": {}, "source": note}
    notebook["cells"].insert(1 if notebook["cells"] and notebook["cells"][0]["cell_type"] == "markdown" else 0, cell)
    for c in notebook["cells"]:
        if c["cell_type"] == "code":
            c["outputs"] = [o for o in c.get("outputs", []) if WIDGET_VIEW not in o.get("data", {})]
    return notebook


def course_map() -> str:
    """README's "Course map" section, each notebook name a link to its lecture (and exercises)."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Course map\n(.*?)(?=^## )", readme, re.S | re.M)
    if not match:
        raise SystemExit("README.md has no '## Course map' section for the landing page")
    section = match.group(1)
    have_exercises = {p.stem for p in exercises()}

    def link(m):
        stem = m.group(2)
        if not (ROOT / "notebooks" / f"{stem}.ipynb").is_file():
            return m.group(0)
        text = f"[`{stem}`](notebooks/{stem}.ipynb)"
        if stem in have_exercises:
            text += f" ([exercises](exercises/{stem}.ipynb))"
        return m.group(1) + text

    return re.sub(r"^(\|\s*\d+\s*\|\s*)`([0-9]{2}_[a-z_]+)`", link, section, flags=re.M)


def landing_page() -> str:
    readme = (ROOT / "README.md").read_text()
    title = readme.splitlines()[0].lstrip("# ").strip()
    lecture_list = "\n".join(f"notebooks/{p.stem}" for p in lectures())
    exercise_list = "\n".join(f"exercises/{p.stem}" for p in exercises())
    return f"""# {title}

A course in Jupyter notebooks on how the optimizers of deep learning work, for PyTorch users:
every equation is what `course_lib` implements and `torch.optim` computes. This web book shows
each lecture with its stored outputs, and its slider panels are live in the page (they run in
your browser; no Python needed). To run the code, do the exercises and have them checked, clone
the course and run `make lab` (README), or use Binder from `environment.yml`.

## Course map
{course_map()}

```{{toctree}}
:hidden:
:caption: Lectures

{lecture_list}
```

```{{toctree}}
:hidden:
:caption: Exercises (read-only)

{exercise_list}
```
"""


def stage_pages() -> dict[str, list[str]]:
    if SRC.exists():
        shutil.rmtree(SRC)
    (SRC / "notebooks").mkdir(parents=True)
    (SRC / "exercises").mkdir()
    (SRC / "index.md").write_text(landing_page())
    panels = {}
    for path in lectures():
        notebook, ids = lecture_page(path)
        panels[path.stem] = ids
        (SRC / "notebooks" / path.name).write_text(json.dumps(notebook, ensure_ascii=False))
    for path in exercises():
        (SRC / "exercises" / path.name).write_text(json.dumps(exercise_page(path), ensure_ascii=False))
    return panels


# ------------------------------------------------------------------------------------------
# 2. Static files: MathJax and the panels
# ------------------------------------------------------------------------------------------

def stage_mathjax(static: Path) -> None:
    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"

    def skip(folder, names):
        rel = Path(folder).relative_to(source).as_posix()
        if rel == "localization":           # English only: the menu that would switch is off
            return [n for n in names if n != "en"]
        if rel == "extensions":             # the accessibility explorer is not loaded
            return ["a11y"]
        if rel == "jax/output":             # formulas are drawn by HTML-CSS, never as SVG
            return ["SVG"]
        return []

    shutil.copytree(source, static / "mathjax", ignore=skip)


def stage_panels(static: Path, page_panels: dict[str, list[str]], reuse: bool = False) -> dict:
    """The panel export into static/panels/, and what course_site.py reads (build/book-src/panels.json).

    The scripts load in the exporter's order (its manifest's "scripts": the drawing code, then
    the runtime), then any other script it copied to js/ (the browser-side optimizers and
    synthesis of the "compute" source), by name.
    """
    out = PANELS
    try:
        from course_lib.web.export import export_is_current, export_panels
    except ImportError:
        export_panels = None
        print("book: course_lib.web.export is not here yet: every panel stays a static picture")
    if export_panels is not None and not reuse and export_is_current(out):
        reuse = True
        print(f"book: {out.relative_to(ROOT)} was exported by this very code (make panels, make lab): reusing it")
    if reuse and (out / "manifest.json").is_file():
        entries = json.loads((out / "manifest.json").read_text())
        print(f"book: reusing the panels exported in {out.relative_to(ROOT)}")
    else:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        entries = export_panels(out) if export_panels is not None else []
    shutil.copytree(out, static / "panels",
                    ignore=shutil.ignore_patterns("manifest.json", *(Path(s).name for s in NOT_FOR_PAGES)))
    first = list(dict.fromkeys(s for e in entries for s in e.get("scripts", [])))
    rest = sorted(p.relative_to(out).as_posix() for p in (out / "js").glob("*.js")) if (out / "js").is_dir() else []
    rest = sorted((s for s in rest if s not in first and s not in NOT_FOR_PAGES),
                  key=lambda s: (SCRIPT_ORDER.index(s) if s in SCRIPT_ORDER else len(SCRIPT_ORDER), s))
    scripts = first + rest
    exported = [e["id"] for e in entries]
    wanted = [i for ids in page_panels.values() for i in ids]
    if exported and exported != wanted:
        raise SystemExit(f"book: the exporter's panels {exported} are not the lectures' panels in "
                         f"cell order {wanted}")
    manifest = {"scripts": scripts, "panels": exported, "pages": page_panels,
                "bytes": {e["id"]: e.get("bytes") for e in entries}}
    (SRC / "panels.json").write_text(json.dumps(manifest, indent=1))
    return manifest


# ------------------------------------------------------------------------------------------
# 3. Sphinx, then the budgets
# ------------------------------------------------------------------------------------------

def run_sphinx() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    env = {**os.environ, "COURSE_BOOK_STATIC": str(SRC / "_static"),
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "2", "-c", str(BOOK),
               "-d", str(ROOT / "build" / "book-doctrees"), str(SRC), str(OUT)]
    subprocess.run(command, check=True, env=env, cwd=ROOT)
    (OUT / ".nojekyll").write_text("")   # GitHub Pages: serve _static/ as it is
    drop_fontawesome_js()


FONTAWESOME_JS = re.compile(r'<(script|link)\b[^>]*scripts/fontawesome\.js[^>]*>(\s*</script>)?\s*')


def drop_fontawesome_js() -> None:
    """The theme's FontAwesome script (1.5 MB, a third of a page's budget) turns the icons into
    SVG; its stylesheet already draws the same icons with the web font. Pages load the font only."""
    for page in OUT.rglob("*.html"):
        text = page.read_text()
        if "fontawesome.js" in text:
            page.write_text(FONTAWESOME_JS.sub("", text))
    for path in (OUT / "_static" / "scripts").glob("fontawesome.js*"):
        path.unlink()


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img") and attrs.get("src"):
            self.refs.append(attrs["src"])
        elif tag == "link" and attrs.get("href") and set((attrs.get("rel") or "").split()) & {"stylesheet", "preload"}:
            self.refs.append(attrs["href"])


CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def _local(base: Path, ref: str) -> Path | None:
    ref = ref.split("#")[0].split("?")[0]
    if not ref or ref.startswith(("data:", "http:", "https:", "//")):
        return None
    path = (base.parent / ref).resolve()
    return path if path.is_file() else None


def page_bytes(page: Path) -> tuple[int, list[str]]:
    """A page's size with everything its HTML and CSS name (fonts included), and outside refs."""
    parser = _Refs()
    parser.feed(page.read_text(errors="replace"))
    seen, outside, todo = {page.resolve()}, [], []
    for ref in parser.refs:
        if ref.startswith(("http:", "https:", "//")):
            outside.append(ref)
        local = _local(page, ref)
        if local and local not in seen:
            seen.add(local)
            todo.append(local)
    while todo:
        path = todo.pop()
        if path.suffix == ".css":
            for ref in CSS_URL.findall(path.read_text(errors="replace")):
                if ref.split("?")[0].endswith((".ttf", ".eot", ".otf", ".svg")):
                    continue  # a browser takes the woff2 of each font
                local = _local(path, ref)
                if local and local not in seen:
                    seen.add(local)
                    todo.append(local)
    # MathJax loads its configuration, output code and fonts itself, those a page's formulas need:
    # count all it could load (an upper bound; a lecture loads about 0.6 MB of them)
    if any(p.name == "MathJax.js" for p in seen):
        mj = OUT / "_static" / "mathjax"
        seen |= {p.resolve() for p in (mj / "config").glob("TeX-AMS-MML_HTMLorMML-full.js")}
        seen |= {p.resolve() for p in (mj / "jax").rglob("*.js") if "SVG" not in p.parts}
        seen |= {p.resolve() for p in (mj / "fonts").rglob("*.woff")}
    return sum(p.stat().st_size for p in seen), outside


def budgets() -> dict:
    pages = {p.relative_to(OUT).as_posix(): page_bytes(p) for p in sorted(OUT.rglob("*.html"))}
    site = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    return {"pages": {k: v[0] for k, v in pages.items()}, "outside": {k: v[1] for k, v in pages.items() if v[1]},
            "site": site}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse-panels", action="store_true",
                        help="reuse build/book-panels/ from the last build instead of exporting the panels again "
                             "(for work on the book's pages; `make site` always exports)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    page_panels = stage_pages()
    static = SRC / "_static"
    static.mkdir()
    stage_mathjax(static)
    manifest = stage_panels(static, page_panels, reuse=args.reuse_panels)
    staged = time.monotonic()
    run_sphinx()
    built = time.monotonic()
    report = budgets()
    mb = 1024 * 1024
    biggest = max(report["pages"].items(), key=lambda kv: kv[1])
    print(f"book: {len(lectures())} lectures, {len(exercises())} exercise pages, "
          f"{len(manifest['panels'])} of {sum(map(len, page_panels.values()))} panels live; "
          f"site {report['site'] / mb:.1f} MB (budget 60), largest page {biggest[0]} "
          f"{biggest[1] / mb:.2f} MB with what it loads (budget 5); "
          f"staged in {staged - start:.0f} s, Sphinx {built - staged:.0f} s, total {built - start:.0f} s")
    over = {k: v for k, v in report["pages"].items() if v > PAGE_BUDGET}
    problems = []
    if over:
        problems.append(f"pages over 5 MB: {', '.join(f'{k} {v / mb:.1f} MB' for k, v in over.items())}")
    if report["site"] > SITE_BUDGET:
        problems.append(f"the site is {report['site'] / mb:.1f} MB, over 60 MB")
    if report["outside"]:
        problems.append(f"pages that load from outside the site: {report['outside']}")
    (OUT / "budgets.json").write_text(json.dumps({**report, "build_s": round(built - start, 1)}, indent=1))
    if problems:
        print("book: " + "; ".join(problems), file=sys.stderr)
        return 1
    STAMP.write_text(f"{built - start:.1f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
