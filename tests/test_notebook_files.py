"""What the stored notebooks hold is what a learner sees before running anything."""

from __future__ import annotations

import json

import nbformat
import pytest

from course_lib.exercises.notebook_runner import WIDGET_VIEW, drop_widget_views


def _stored_notebooks(repo_root):
    return sorted(p for folder in ("notebooks", "solutions", "exercises")
                  for p in (repo_root / folder).glob("*.ipynb"))


def test_drop_widget_views_keeps_every_other_output():
    printed = nbformat.v4.new_output("stream", name="stdout", text="lr = 0.1\n")
    panel = nbformat.v4.new_output("display_data", data={
        "text/plain": "VBox(children=(...))", WIDGET_VIEW: {"model_id": "abc", "version_major": 2}})
    figure = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"})
    assert drop_widget_views([printed, panel, figure]) == [printed, figure]


def test_no_stored_notebook_shows_a_dead_widget(repo_root):
    # Widget state is never saved, so a stored widget view could only render as a text repr.
    for path in _stored_notebooks(repo_root):
        notebook = json.loads(path.read_text())
        assert "widgets" not in notebook.get("metadata", {}), f"{path}: widget state saved"
        for index, cell in enumerate(notebook["cells"]):
            for output in cell.get("outputs", []):
                assert WIDGET_VIEW not in output.get("data", {}), f"{path} cell {index}: widget view stored"


@pytest.mark.parametrize("folder", ["notebooks", "solutions"])
def test_stored_outputs_come_from_a_run(repo_root, folder):
    # A cell with outputs must have been executed; an executed notebook numbers its cells 1, 2, ...
    for path in sorted((repo_root / folder).glob("*.ipynb")):
        counts = []
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] != "code":
                continue
            if cell.get("outputs"):
                assert cell.get("execution_count") is not None, f"{path} cell {index}: outputs but never run"
            counts.append(cell.get("execution_count"))
        assert counts == list(range(1, len(counts) + 1)), f"{path}: not one top-to-bottom run ({counts})"
