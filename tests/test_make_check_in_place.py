"""`make check` the way a learner runs it (issue 16): a copy of the course, `exercises/NN.ipynb`
edited in place and saved, then `make check NB=exercises/NN.ipynb` from the course's root.

The template make check compares with is the course's own exercise notebook, generated from
`solutions/` in memory, never the learner's edited file: so written answers count as written,
and an edited or replaced check cell changes nothing. Every exercise notebook is worked this way
(one `make check` each, a few minutes in all).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FAST = ["01_gradient_descent.ipynb", "03_momentum.ipynb"]
ALL = sorted(path.name for path in (REPO_ROOT / "solutions").glob("*.ipynb"))
NOTEBOOKS = ALL
WRITTEN = ("The larger the curvature, the larger the factor by which each step shrinks the "
           "error, so I expect it to settle sooner.\n\nA second paragraph, with a formula $x^2$.")


def _tags(cell):
    return cell.metadata.get("tags", [])


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course (what a learner clones), sharing this checkout's .venv."""
    root = tmp_path_factory.mktemp("course")
    for name in ("course_lib", "solutions", "exercises", "jupyter-config"):
        shutil.copytree(REPO_ROOT / name, root / name, copy_function=shutil.copy2,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Makefile", "constraints.txt", "pyproject.toml"):
        shutil.copy2(REPO_ROOT / name, root / name)  # mtimes kept: make sees .venv as current
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    return root


def make_check(course: Path, notebook: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    env["PYTHONPATH"] = str(course)  # the copy's course_lib, before the editable install's
    return subprocess.run(["make", "--no-print-directory", "check", f"NB=exercises/{notebook}"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=600)


def edit_in_place(course: Path, notebook: str, *, written: str | None,
                  check_cells: str = "keep") -> None:
    """Answer every code exercise with the solution's cell; write ``written`` (None: leave it
    blank) into each written answer, below the header or over it; replace or edit check cells
    (``check_cells``: "keep", "replace", "edit")."""
    path = course / "exercises" / notebook
    shutil.copy2(REPO_ROOT / "exercises" / notebook, path)  # a fresh clone's file
    exercise = nbformat.read(path, as_version=4)
    solution = {cell.id: cell for cell in nbformat.read(course / "solutions" / notebook,
                                                         as_version=4).cells}
    for k, cell in enumerate(exercise.cells):
        if "answer" in _tags(cell) and cell.cell_type == "code":
            cell.source = solution[cell.id].source
        elif "answer" in _tags(cell) and written is not None:
            # every other one loses the "**N.M** Your answer:" header
            keep_header = k % 2 == 0
            lines = [line for line in cell.source.splitlines()
                     if keep_header and "Your answer" in line]
            cell.source = "\n".join(lines + [written])
        elif "check" in _tags(cell) and check_cells == "replace":
            cell.source = "print('✅ passed')  # the learner's own line, not the course's check"
        elif "check" in _tags(cell) and check_cells == "edit":
            cell.source = re.sub(r"check\((\"[\d.]+\"), \w+\)", r"check(\1, lambda *a, **k: None)",
                                 cell.source)
            cell.metadata["tags"] = ["nbval-skip"]
    nbformat.write(exercise, path)


def verdict_lines(stdout: str) -> dict[str, str]:
    return {match.group(1): line.strip() for line in stdout.splitlines()
            if (match := re.match(r"  (\d+\.\d+) ", line))}


def written_ids(course: Path, notebook: str) -> list[str]:
    exercise = nbformat.read(course / "solutions" / notebook, as_version=4)
    return [cell.metadata["exercise_id"] for cell in exercise.cells
            if "answer" in _tags(cell) and cell.cell_type == "markdown"]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_solved_in_place_with_written_answers_and_replaced_checks_passes(course, notebook):
    edit_in_place(course, notebook, written=WRITTEN,
                  check_cells="replace" if notebook == NOTEBOOKS[0] else "edit")
    completed = make_check(course, notebook)
    lines = verdict_lines(completed.stdout)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert lines and all("✅" in line or "✍" in line for line in lines.values()), lines
    for exercise_id in written_ids(course, notebook):
        assert lines[exercise_id].endswith("✍ written answer: read by your instructor"), lines


def test_blank_written_answers_say_nothing_written_yet(course):
    notebook = FAST[0]
    edit_in_place(course, notebook, written=None, check_cells="edit")
    completed = make_check(course, notebook)
    lines = verdict_lines(completed.stdout)
    for exercise_id in written_ids(course, notebook):
        assert "nothing written yet" in lines[exercise_id], lines
    assert completed.returncode == 0  # written answers count neither way


def test_a_wrong_answer_in_place_shows_case_values_and_hint_and_ends_cleanly(course):
    """The terminal says what the check cell says (case, expected, received, hint) in at most
    4 lines, and make's own error line comes on a line of its own."""
    notebook = "03_momentum.ipynb"
    path = course / "exercises" / notebook
    shutil.copy2(REPO_ROOT / "exercises" / notebook, path)
    exercise = nbformat.read(path, as_version=4)
    first = next(cell for cell in exercise.cells
                 if "answer" in _tags(cell) and cell.cell_type == "code")
    first.source = first.source.replace(
        'raise NotImplementedError("Exercise 3.1: replace this line with your code")',
        "param.add_(grad, alpha=lr)")
    nbformat.write(exercise, path)
    completed = make_check(course, notebook)
    assert completed.returncode != 0
    out = completed.stdout.splitlines()
    start = next(k for k, line in enumerate(out) if line.startswith("  3.1 ❌"))
    block = [out[start]] + [line for line in out[start + 1:start + 4] if line.startswith("      ")]
    assert "(case: " in block[0]
    assert [line.split(":")[0].strip() for line in block[1:]][:2] == ["Expected", "Received"]
    assert len(block) <= 4
    assert completed.stdout.endswith("\n\n")  # make's error line cannot join the last line


def test_every_written_answer_cell_opens_with_the_same_header():
    """"**N.M** Your answer:" in every written answer (issue 16: 7.3's had none)."""
    for path in sorted((REPO_ROOT / "exercises").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if "answer" in _tags(cell) and cell.cell_type == "markdown":
                header = f"**{cell.metadata['exercise_id']}** Your answer:"
                assert cell.source.startswith(header), (path.name, cell.source[:40])
