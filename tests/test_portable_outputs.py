"""Stored outputs that nbval compares come out the same on another CPU kernel and thread count.

`make test` compares every printed line of the lectures and solutions with the stored one, so a
printed value that depends on floating-point summation order (round-off, a training run whose
last digits follow the BLAS kernel) fails on a learner's laptop though nobody touched the file.
This test re-runs the cells that once printed such values with torch forced onto other kernels
(``ATEN_CPU_CAPABILITY=default``: no AVX; ``MKL_ENABLE_INSTRUCTIONS=AVX2``: another BLAS path)
and thread counts, and requires their stored output. CONTRIBUTING.md, "Keeping stored outputs
portable", says how a cell is written so that it passes.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from course_lib.exercises.notebook_runner import execute

ROOT = Path(__file__).resolve().parent.parent

# (notebook, the cells whose output once depended on the machine)
CELLS = ("notebooks/11_initialization_and_practice.ipynb",
         ("c11-symmetry", "c11-optimizers", "c11-wn-lr"))

CONDITIONS = {
    "one thread, no vector kernels": {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "default"},
    "two threads, MKL's AVX2 path": {"OMP_NUM_THREADS": "2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def stdout_of(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")


@pytest.mark.parametrize("condition", CONDITIONS)
def test_cells_reproduce_their_stored_output_on_other_kernels(condition, monkeypatch):
    path, ids = CELLS
    stored = nbformat.read(ROOT / path, as_version=4)
    by_id = {cell.get("id"): cell for cell in stored.cells}
    assert set(ids) <= set(by_id), f"{path} lost a cell this test names"
    # Run the notebook up to the last of these cells (the earlier ones define what they use).
    last = max(stored.cells.index(by_id[cell_id]) for cell_id in ids)
    fresh = copy.deepcopy(stored)
    fresh.cells = fresh.cells[:last + 1]
    for name, value in CONDITIONS[condition].items():
        monkeypatch.setenv(name, value)  # the kernel inherits them before it imports torch
    execute(fresh, (ROOT / path).parent, timeout=120)
    fresh_by_id = {cell.get("id"): cell for cell in fresh.cells}
    for cell_id in ids:
        assert stdout_of(fresh_by_id[cell_id]) == stdout_of(by_id[cell_id]), \
            f"{path} cell {cell_id} under {condition}"
