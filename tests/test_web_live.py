"""The training panels in JupyterLab answering from the web book's table (course_lib.web.live).

- ``table_source`` finds a panel's table in an export folder only when the export was made by
  the running code (its fingerprint); a missing folder, another fingerprint or a landscape
  panel's spec give None (the kernel then draws every move, as before);
- the browser's lookup (panel_runtime.js ``sceneAt``, run in node) gives, for values that are
  notches of the table, exactly the scene the page would draw, and null for a value between the
  table's notches (a notch the notebook's slider has and the page does not);
- ``live_panel`` on a training panel keeps what the panel asked for once live (the background
  trainer's prefetch), and sends the table to the browser only once the view is live.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from course_lib.web import export, live

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "course_lib" / "web" / "js" / "panel_runtime.js"
PANEL = "08_weight_decay_adamw-0"  # eight scenes: a table in about a second


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("panels")
    export.export_panels(out, [PANEL, "05_adagrad-0"], jobs=1)
    return out


def test_a_table_made_by_this_code_is_found(folder):
    found = live.table_source(PANEL, folder)
    assert found is not None
    source, images = found
    assert source["kind"] == "table"
    spec = export.read_spec(folder / f"{PANEL}.js")
    assert source["controls"] == spec["controls"] and source["index"] == spec["source"]["index"]
    assert images == spec["images"]


def test_no_table_when_the_code_changed_or_there_is_none(folder, tmp_path):
    stale = tmp_path / "stale"
    shutil.copytree(folder, stale)
    manifest = json.loads((stale / "manifest.json").read_text())
    for item in manifest:
        item["code"] = "0" * 16  # made by other code
    (stale / "manifest.json").write_text(json.dumps(manifest))
    assert live.table_source(PANEL, stale) is None
    assert live.table_source(PANEL, tmp_path / "nothing-here") is None
    assert live.table_source("05_adagrad-0", folder) is None  # computed in the browser, no table
    assert live.table_source("10_choosing_an_optimizer-0", folder) is None  # not exported there


def test_the_fingerprint_follows_the_code(tmp_path, monkeypatch):
    before = export.code_fingerprint()
    package = tmp_path / "course_lib"
    shutil.copytree(ROOT / "course_lib", package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(export, "_HERE", package / "web")
    assert export.code_fingerprint() == before
    (package / "optim" / "__init__.py").write_text((package / "optim" / "__init__.py").read_text() + "\n# changed\n")
    assert export.code_fingerprint() != before


LOOKUP = r"""
global.window = undefined;
const P = require(process.argv[1]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const table = P.tableSource({controls: input.source.controls, source: input.source});
process.stdout.write(JSON.stringify(input.values.map((v) => table.sceneAt(v))));
"""


def _scenes_at(source: dict, values: list[dict]) -> list:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run([node, "-e", LOOKUP, str(RUNTIME)], input=json.dumps({"source": source, "values": values}),
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_the_browser_finds_exactly_the_tables_notches(folder):
    source, _ = live.table_source(PANEL, folder)
    (control,) = source["controls"]
    name, notches = control["name"], control["values"]
    assert len(notches) >= 3
    between = (notches[0] + notches[1]) / 2
    asked = [{name: v} for v in notches] + [{name: between}, {name: notches[1] * (1 + 1e-12)}]
    scenes = _scenes_at(source, asked)
    for k, scene in enumerate(scenes[: len(notches)]):
        assert scene == export.decode_scene(source, source["index"][k])
    assert scenes[len(notches)] is None, "a value between the table's notches must wait for the kernel"
    assert scenes[-1] == scenes[1], "a notch read back with round-off is still that notch"


def test_a_live_training_panel_sends_its_table_once_live(folder, monkeypatch):
    monkeypatch.setenv("COURSE_WEB_EXPORT_DIR", str(folder))
    panel = live.live_panel(PANEL)
    view = panel.view
    sent = []
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append(content))
    assert isinstance(view, live.LiveFigureView) and view in panel.widget.children
    assert view.source == {}, "nothing is made before a browser shows the view"
    assert [c["name"] for c in view.controls] == list(panel.sliders)
    view._on_frontend_msg(view, {"type": "ping"}, [])  # the browser's first message
    assert view.source["kind"] == "table" and view.source["controls"]
    assert [m["type"] for m in sent] == ["pong", "source"] and sent[1]["source"] is view.source
    # a message, not widget state: a saved notebook does not carry the table
    assert "source" not in view.keys and "source_images" not in view.keys
    view._on_frontend_msg(view, {"type": "ping"}, [])  # the view drawn again (a reload)
    assert [m["type"] for m in sent] == ["pong", "source", "pong", "source"]
    # the kernel is still the authority: update() draws its own scene, as before
    name = view.controls[0]["name"]
    other = view.controls[0]["values"][-1]
    panel.update(**{name: other})
    assert panel.view.scene["axes"]


def test_a_live_panel_keeps_its_background_trainer(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_WEB_EXPORT_DIR", str(tmp_path))  # no table here
    original = export.build_panel("02_batch_minibatch_sgd-0")
    asked = list(original.view.on_live)
    assert asked, "the batch-size panel asks for its background trainer once live"
    panel = live.live_panel("02_batch_minibatch_sgd-0", original)
    assert all(callback in panel.view.on_live for callback in asked)
    panel.view._on_frontend_msg(panel.view, {"type": "ping"}, [])
    assert panel.view.source == {}, "no table: the kernel draws every move"


def test_a_source_that_fails_is_reported_and_made_again_on_the_next_ping(folder, monkeypatch, caplog):
    """A failure to make the source reaches the browser as ``source-error`` and the kernel's log
    (not some cell's output); the browser asks again with a ping while it has no source, and a
    ping to a live view with no source makes it anew."""
    monkeypatch.setenv("COURSE_WEB_EXPORT_DIR", str(folder))
    panel = live.live_panel(PANEL)
    view = panel.view
    sent = []
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append(content))
    attach = view.make_source
    calls = []

    def broken():
        calls.append("broken")
        raise OSError("the export folder is not readable")

    view.make_source = broken
    with caplog.at_level("ERROR", logger="course_lib.web.live"):
        view._on_frontend_msg(view, {"type": "ping"}, [])
    assert [m["type"] for m in sent] == ["pong", "source-error"]
    assert "OSError: the export folder is not readable" == sent[1]["error"]
    assert "could not be made" in caplog.text and view.live and view.source == {}
    view.make_source = attach
    view._on_frontend_msg(view, {"type": "ping"}, [])  # the browser asks again
    assert [m["type"] for m in sent][2:] == ["pong", "source"] and view.source["kind"] == "table"
    made = view.source
    view._on_frontend_msg(view, {"type": "ping"}, [])  # a later view: the same source, not made again
    assert [m["type"] for m in sent][4:] == ["pong", "source"] and view.source is made
    assert calls == ["broken"]


def test_the_fingerprint_covers_the_registered_cells(monkeypatch):
    """00's panel runs its notebook cell's own code: an edit there must invalidate the tables."""
    before = export.code_fingerprint()
    real = export._cell_source
    monkeypatch.setattr(export, "_cell_source",
                        lambda notebook, cell: real(notebook, cell) + ("\n# edited" if notebook == "00_welcome" else ""))
    assert export.code_fingerprint() != before


def test_an_export_is_current_only_whole_and_made_by_this_code(tmp_path):
    code = export.code_fingerprint()
    manifest = []
    for entry in export.REGISTRY:
        (tmp_path / f"{entry.id}.js").write_text("// a spec")
        manifest.append({"id": entry.id, "file": f"{entry.id}.js", "code": code})
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert export.export_is_current(tmp_path)  # `make panels` (--if-stale) then trains nothing
    (tmp_path / "manifest.json").write_text(json.dumps(manifest[:-1]))
    assert not export.export_is_current(tmp_path), "a panel is missing"
    (tmp_path / "manifest.json").write_text(json.dumps([*manifest[:-1], {**manifest[-1], "code": "0" * 16}]))
    assert not export.export_is_current(tmp_path), "a panel made by other code"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / manifest[0]["file"]).unlink()
    assert not export.export_is_current(tmp_path), "a spec file is gone"
    assert not export.export_is_current(tmp_path / "nothing")


def test_06_computes_its_scenes_in_the_browser_with_no_table(monkeypatch, tmp_path):
    """06's effective-lr panel is computed in the browser (as 03): once live its view gets the
    "compute" source (every α notch), whether or not an export folder exists, and the browser
    makes the same scene the kernel draws for the starting values."""
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.web import synth

    monkeypatch.setenv("COURSE_WEB_EXPORT_DIR", str(tmp_path / "nothing-here"))  # no table anywhere
    panel = live.live_panel("06_rmsprop_adadelta-0")
    view = panel.view
    sent = []
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append(content))
    assert view.source == {}, "nothing is made before a browser shows the view"
    view._on_frontend_msg(view, {"type": "ping"}, [])
    assert view.source["kind"] == "compute" and view.source["panel"] == "06_rmsprop_adadelta-0"
    assert [m["type"] for m in sent] == ["pong", "source"]
    assert [(c["name"], len(c["values"])) for c in view.controls] == [("alpha", 1000), ("stream", 3)]
    if shutil.which("node") is None:
        return
    values = {c["name"]: c["value"] for c in view.controls}
    (answer,) = synth.scenes_in_node(view.source, [values])
    assert json.loads(json.dumps(answer["ok"]["texts"])) == json.loads(json.dumps(view.scene["texts"]))
