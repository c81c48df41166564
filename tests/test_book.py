"""The web book's sources (docs/book/build.py), checked without building it: the landing page, the
panel divs in place of the stored pictures, the exercise pages' note. The built book itself is
tested in Chromium by tests/e2e/test_site.py."""

import importlib.util
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("book_build", ROOT / "docs" / "book" / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)

LECTURES = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_landing_page_is_the_readme_course_map_with_every_lecture_linked():
    page = build.landing_page()
    for stem in LECTURES:
        assert f"[`{stem}`](notebooks/{stem}.ipynb)" in page
        assert f"\nnotebooks/{stem}\n" in page  # in the toctree, so in the sidebar and prev/next
    assert "solutions/" not in page.split("```{toctree}")[1]
    # the toctree lists the lectures in course order
    listed = re.findall(r"^notebooks/(\S+)$", page, re.M)
    assert listed == LECTURES


@pytest.mark.parametrize("stem", LECTURES)
def test_each_panel_picture_becomes_a_panel_div_in_cell_order(stem):
    notebook, ids = build.lecture_page(ROOT / "notebooks" / f"{stem}.ipynb")
    html = "".join(o["data"].get("text/html", "") for c in notebook["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []) if "data" in o)
    assert re.findall(r'data-panel="([^"]+)"', html) == ids
    assert ids == [f"{stem}-{k}" for k in range(len(ids))]
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            assert not build._is_panel_output(output), "a panel's stored picture is left as it was"
            assert build.WIDGET_VIEW not in output.get("data", {})
    try:
        from course_lib.web.export import REGISTRY
    except ImportError:
        return
    assert ids == [e.id for e in REGISTRY if e.id.startswith(stem + "-")], "the exporter's panels differ"


def test_every_lecture_with_a_panel_keeps_its_picture_as_the_fallback():
    notebook, ids = build.lecture_page(ROOT / "notebooks" / "03_momentum.ipynb")
    html = json.dumps(notebook)
    assert ids and 'class=\\"course-panel-fallback\\"' in html and "data:image/png;base64," in html


def test_exercise_pages_say_how_to_run_and_check_them_locally():
    notebook = build.exercise_page(ROOT / "exercises" / "03_momentum.ipynb")
    note = notebook["cells"][1]["source"]
    assert note.startswith("```{note}")
    assert "make lab" in note and "make check NB=exercises/03_momentum.ipynb" in note


def test_the_book_tools_are_pinned_in_the_site_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split("==", r)[0].lower() for r in extras["site"]}
    assert {"sphinx", "myst-nb", "sphinx-book-theme", "jupyter-server-mathjax"} <= names
    assert all("==" in r for r in extras["site"])
