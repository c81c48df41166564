"""The web pages' panels (course_lib.web.export): the registry, the specs, the table source.

* the registry names every panel cell of every lecture, in order;
* every panel exports, with every combination the page offers present, under the page budget;
* the scene the page draws for a combination (the table decoded, in Python and by the page's own
  runtime in node) is the scene the Python panel gives for the same values;
* the page's readouts format like ipywidgets'.

The whole export (every panel, about two minutes) runs once per session here; set
COURSE_WEB_EXPORT_DIR to a folder already exported by ``python -m course_lib.web.export`` to
reuse it.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from course_lib.web import export

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")
PAGE_BUDGET = 5_000_000  # bytes a lecture page may load with everything in it
PANEL_SHARE = 4_000_000  # what the panels of one page may take of it (the page's text and pictures need the rest)
STATIC_SUFFIX = "run this cell to make the panel live."


def panel_cells(notebook: Path) -> list[str]:
    """Ids of the cells that show a panel: a SliderPanel's saved output, or widgets.interact."""
    cells = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        texts = ["".join(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", [])]
        if any(t.strip().strip("'\"").endswith(STATIC_SUFFIX) for t in texts) or "widgets.interact(" in source:
            cells.append(cell["id"])
    return cells


def test_the_registry_names_every_panel_cell_in_order():
    expected = []
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        expected += [(f"{notebook.stem}-{k}", cell) for k, cell in enumerate(panel_cells(notebook))]
    assert [(e.id, e.cell) for e in export.REGISTRY] == expected
    assert len(expected) == 13


def test_each_registered_call_is_what_its_cell_runs():
    for entry in export.REGISTRY:
        source = export._cell_source(entry.notebook, entry.cell)
        assert entry.call in source, (entry.id, entry.call)


# --------------------------------------------------------------------------------------------
# the exported specs
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    reuse = os.environ.get("COURSE_WEB_EXPORT_DIR")
    if reuse:
        outdir = Path(reuse)
        manifest = json.loads((outdir / "manifest.json").read_text())
    else:
        outdir = tmp_path_factory.mktemp("panels")
        manifest = export.export_panels(outdir)
    return outdir, manifest


def load_spec(outdir: Path, panel_id: str) -> dict:
    spec = export.read_spec(outdir / f"{panel_id}.js")  # what course_lib.web.live reads too
    assert spec["id"] == panel_id
    return spec


def test_every_panel_is_exported_with_its_scripts(exported):
    outdir, manifest = exported
    assert [m["id"] for m in manifest] == [e.id for e in export.REGISTRY]
    for name in ("figure_draw.js", "panel_runtime.js"):
        assert (outdir / "js" / name).is_file()
    for item in manifest:
        spec = load_spec(outdir, item["id"])
        assert spec["id"] == item["id"]
        assert spec["source"]["kind"] in ("table", "compute")
        for control in spec["controls"]:
            assert any(export._same(v, control["value"]) for v in control["values"]), (item["id"], control["name"])
            assert len(control["values"]) >= 2, f"{item['id']}: {control['name']} offers one value: it cannot move"


def test_every_combination_the_page_offers_is_present(exported):
    outdir, manifest = exported
    for item in manifest:
        spec = load_spec(outdir, item["id"])
        if spec["source"]["kind"] != "table":
            continue
        source = spec["source"]
        assert source["shape"] == [len(c["values"]) for c in spec["controls"]]
        assert len(source["index"]) == math.prod(source["shape"]), item["id"]
        assert all(0 <= i < len(source["scenes"]) for i in source["index"])
        # a scene's parts are all there
        for frame, _, axes, texts in source["scenes"]:
            assert frame < len(source["frames"])
            for base, x, y, lines, ax_texts, *fills in axes:
                assert base < len(source["axes"]) and x < len(source["ticks"]) and y < len(source["ticks"])
                assert all(i < len(source["fills"]) for i in (fills[0] if fills else []))
                assert all(i < len(source["lines"]) for i in lines)
                assert all(i < len(source["texts"]) for i in ax_texts)
            assert all(i < len(source["texts"]) for i in texts)
        # every background a scene names is shipped
        for ax in source["axes"]:
            assert ax["bg"] is None or ax["bg"] in spec["images"], item["id"]
            assert ax["legend"] is None or ax["legend"] < len(source["legends"])


def test_06_offers_every_notch_computed_in_the_browser(exported):
    """06's effective-lr panel is a "compute" panel: every α notch of the notebook's slider
    (0 .. 0.999, step 0.001) with every gradient stream, no table and no note of fewer notches."""
    from course_lib.ui.panels.rmsprop_adadelta import STREAMS

    outdir, manifest = exported
    (item,) = [m for m in manifest if m["id"] == "06_rmsprop_adadelta-0"]
    spec = load_spec(outdir, item["id"])
    assert item["kind"] == spec["source"]["kind"] == "compute" and spec["source"]["figure"] == "curves"
    alpha, stream = spec["controls"]
    assert alpha["name"] == "alpha" and len(alpha["values"]) == 1000 and alpha["value"] == 0.99
    assert all(math.isclose(v, k / 1000, abs_tol=1e-12) for k, v in enumerate(alpha["values"]))
    assert stream["name"] == "stream" and stream["values"] == list(STREAMS)
    assert not spec.get("notches_note") and not export.panel_entry(item["id"]).notches
    assert [f"js/{name}" for name in spec["scripts"]] == item["scripts"][-len(spec["scripts"]):]
    print(f"\n06's spec: {item['bytes']} bytes")


def test_each_page_fits_its_budget(exported):
    _, manifest = exported
    pages: dict[str, int] = {}
    for item in manifest:
        pages[item["notebook"]] = pages.get(item["notebook"], 0) + item["bytes"]
    scripts = sum(p.stat().st_size for p in export.JS_FILES)
    for page, size in pages.items():
        print(f"{page}: panel specs {size / 1e6:.2f} MB")
        assert size + scripts <= PANEL_SHARE, f"{page}: {size / 1e6:.2f} MB of panels"
    assert sum(pages.values()) <= 30_000_000


def _python_scene(panel, values: dict) -> dict:
    panel.update(**values)
    return panel.view.scene


def _combinations(spec: dict, count: int, seed: int = 0) -> list[dict]:
    """The starting values, every control's extremes, and a few random combinations."""
    rng = random.Random(seed)
    start = {c["name"]: c["value"] for c in spec["controls"]}
    chosen = [dict(start)]
    for control in spec["controls"]:
        for value in (control["values"][0], control["values"][-1]):
            chosen.append({**start, control["name"]: value})
    for _ in range(count):
        chosen.append({c["name"]: rng.choice(c["values"]) for c in spec["controls"]})
    return chosen


def _index(spec: dict, values: dict) -> int:
    flat = 0
    for control, size in zip(spec["controls"], spec["source"]["shape"]):
        k = next(i for i, v in enumerate(control["values"]) if export._same(v, values[control["name"]]))
        flat = flat * size + k
    return spec["source"]["index"][flat]


# Cheap to rebuild, or trained once at build: every lecture kind (a function of the notebook,
# a landscape run, trained grids) is sampled. (06's theory curves are computed in the browser.)
SAMPLED = ["00_welcome-0", "01_gradient_descent-0", "03_momentum-0",
           "08_weight_decay_adamw-0", "11_initialization_and_practice-0"]


@pytest.mark.parametrize("panel_id", SAMPLED)
def test_the_page_scene_is_the_panels_own(exported, panel_id):
    outdir, _ = exported
    spec = load_spec(outdir, panel_id)
    if spec["source"]["kind"] != "table":
        pytest.skip("computed in the browser: tests/test_web_synth.py compares those scenes")
    panel = export.build_panel(panel_id)
    for values in _combinations(spec, 4):
        expected = _python_scene(panel, values)
        got = export.decode_scene(spec["source"], _index(spec, values))
        assert got == json.loads(json.dumps(expected)), (panel_id, values)


# --------------------------------------------------------------------------------------------
# the page's runtime, in node
# --------------------------------------------------------------------------------------------

NODE_DECODE = r"""
const path = require("path");
const root = process.argv[process.argv.length - 1];
const CoursePanels = require(path.join(root, "course_lib/web/js/panel_runtime.js"));
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = input.cases.map((values) => {
  const source = CoursePanels.sources.table(input.spec);
  return source.sceneFor(values);
});
const formats = input.formats.map(([v, f]) => CoursePanels.formatValue(v, f));
process.stdout.write(JSON.stringify({ scenes: out, formats }));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed: the runtime's table decoding is not tested")
@pytest.mark.parametrize("panel_id", ["00_welcome-0", "08_weight_decay_adamw-0", "10_choosing_an_optimizer-0"])
def test_the_runtime_draws_the_same_scene_as_python_decodes(exported, panel_id):
    outdir, _ = exported
    spec = load_spec(outdir, panel_id)
    if spec["source"]["kind"] != "table":
        pytest.skip("computed in the browser")
    cases = _combinations(spec, 6, seed=1)
    formats = [[0.1, ".3g"], [1e-4, ".3g"], [1.41421356, ".3g"], [20, "d"], [0.999, ".3g"], [-0.5, ".2f"]]
    result = subprocess.run([NODE, "-e", NODE_DECODE, str(ROOT)], input=json.dumps(
        {"spec": spec, "cases": cases, "formats": formats}), capture_output=True, text=True, check=True)
    answer = json.loads(result.stdout)
    for values, scene in zip(cases, answer["scenes"]):
        assert scene == export.decode_scene(spec["source"], _index(spec, values)), values
    # ipywidgets' readouts (d3-format): ".3g" keeps three significant digits, zeros included
    assert answer["formats"] == ["0.100", "0.000100", "1.41", "20", "0.999", "\u22120.50"]


def test_points_survive_the_encoding():
    points = [10.0, 20.5, 10.1, None, 99999.9, -100000.0, None, None, 0.3, 20.4]
    assert export._decode_points(export._encode_points(points)) == points
