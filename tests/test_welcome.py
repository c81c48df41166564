"""notebooks/00_welcome.ipynb tells a learner the truth and gives no exercise away.

nbval (``make test``) re-runs it and compares every stored output, the ``make check`` output
included; these tests cover what nbval cannot: that the demo is not a course exercise solved
verbatim, that the demonstrated check is a real registered one, and that the outline names only
notebooks that exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from course_lib.exercises import checks

REPO_ROOT = Path(__file__).resolve().parents[1]
WELCOME = REPO_ROOT / "notebooks" / "00_welcome.ipynb"


def _welcome():
    return nbformat.read(WELCOME, as_version=4)


def test_no_course_exercise_is_solved_in_the_welcome_notebook():
    text = "\n".join(cell.source for cell in _welcome().cells)
    for solution in sorted((REPO_ROOT / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(solution, as_version=4).cells:
            if "answer" not in cell.metadata.get("tags", []):
                continue
            for body in re.findall(r"### BEGIN SOLUTION[^\n]*\n(.*?)### END SOLUTION",
                                   cell.source, re.S):
                for line in body.splitlines():
                    line = line.split("#")[0].strip()
                    if len(line) >= 15:
                        assert line not in text, f"00_welcome solves {solution.name}: {line}"
    code = "\n".join(cell.source for cell in _welcome().cells if cell.cell_type == "code")
    assert 'check("1.' not in code  # the code demos use the practice exercise 0.1


def test_the_demonstrated_check_is_the_registered_practice_exercise():
    checks.discover()
    assert checks.REGISTRY["0.1"].module == "course_lib.exercises.checks.welcome"
    outputs = {cell.id: "".join(o.get("text", "") for o in cell.outputs)
               for cell in _welcome().cells if cell.cell_type == "code"}
    assert outputs["demo-check-stub"].startswith("❌ Exercise 0.1 not passed yet: not attempted")
    assert outputs["demo-check-fail"].splitlines()[-1].startswith("   Hint: You added")
    assert outputs["demo-check-pass"].startswith("✅ Exercise 0.1 passed")
    assert outputs["make-check-run"].startswith("exercises/01_gradient_descent.ipynb")


def test_the_outline_lists_the_notebooks_that_exist_and_the_rest_as_coming_next():
    cell = next(c for c in _welcome().cells if c.id == "outline-table")
    table = cell.outputs[0]["data"]["text/markdown"]
    for number in [f"{n:02d}" for n in range(1, 12)]:
        row = next(line for line in table.splitlines() if line.startswith(f"| {number} |"))
        present = sorted((REPO_ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        if present:
            assert f"[`{present[0].name}`]({present[0].name})" in row
        else:
            assert row.endswith("| coming next |")
