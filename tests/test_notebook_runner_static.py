"""Stored outputs of slider panels: a static picture with a "run this cell" line, never a
widget view that would show "Error displaying widget: model not found" when reopened."""

from __future__ import annotations

import base64

import nbformat

from course_lib.exercises.notebook_runner import WIDGET_VIEW, execute, static_widget_views


def test_widget_views_with_a_picture_keep_the_picture_and_others_are_dropped():
    printed = nbformat.v4.new_output("stream", name="stdout", text="hi\n")
    panel = nbformat.v4.new_output("display_data", data={
        WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/plain": "Panel: run this cell to make the panel live.", "image/png": "iVBORw0KGgo="})
    bare_widget = nbformat.v4.new_output("display_data", data={
        WIDGET_VIEW: {"model_id": "def", "version_major": 2, "version_minor": 0}, "text/plain": "VBox()"})
    kept = static_widget_views([printed, panel, bare_widget])
    assert kept[0] == printed
    assert len(kept) == 2 and set(kept[1]["data"]) == {"text/plain", "image/png"}
    assert WIDGET_VIEW in panel["data"], "the input outputs are not modified"


def test_a_run_notebook_stores_each_panel_as_its_picture(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from course_lib.ui.panels.momentum import momentum_panel\nmomentum_panel()"),
    ])
    execute(notebook, tmp_path, timeout=120)
    (output,) = notebook.cells[0].outputs
    assert WIDGET_VIEW not in output["data"]
    assert "run this cell to make the panel live" in output["data"]["text/plain"]
    assert base64.b64decode(output["data"]["image/png"])[:4] == b"\x89PNG"
    assert "widgets" not in notebook.metadata
