"""Per-student totals in the column layout an LMS imports (``course-grade --export``).

One column per exercise notebook (an LMS assignment / grade item), holding the student's points
in it: the sum of the gradebook's ``score`` over the notebook's rows, out of the sum of their
``max_score`` (each checked exercise 1, each written answer its rubric's marks). A notebook a
student did not hand in is left blank (the LMS's "no grade"), never 0, so an import does not
overwrite a grade entered some other way.

- ``canvas``: Canvas's Gradebook import layout: ``Student``, ``ID``, ``SIS User ID``,
  ``SIS Login ID``, ``Section``, then one column per assignment (a new column name creates a
  new assignment on import). Written to ``RESULTS/export/canvas.csv``.
- ``moodle``: Moodle's grade import takes the layout of its own CSV export: ``First name``,
  ``Last name``, ``ID number``, ``Institution``, ``Department``, ``Email address``, then one
  column per grade item; on import you map one identity column to the user field and each
  item column to a grade item. Written to ``RESULTS/export/moodle.csv``.

The student id (the submission folder's name) goes in ``SIS Login ID`` (Canvas) and
``ID number`` (Moodle) unless a roster gives the LMS's own identity columns
(``--roster FILE``: a CSV with a ``student`` column and any of the identity columns).
docs/grading.md shows both files and the LMS documentation they follow.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Institution", "Department",
                   "Email address"]
FORMATS = {"canvas": (CANVAS_IDENTITY, "SIS Login ID"),
           "moodle": (MOODLE_IDENTITY, "ID number")}


def _number(value: float) -> str:
    return f"{round(value, 4):g}"


def assignment_name(notebook: str) -> str:
    """The LMS column of an exercise notebook: ``03_momentum.ipynb`` -> ``03_momentum``."""
    return notebook[:-len(".ipynb")] if notebook.endswith(".ipynb") else notebook


def totals(rows: list[dict[str, str]]) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per student and notebook: points; per notebook: points possible (the largest seen)."""
    scores: dict[str, dict[str, float]] = {}
    possible: dict[str, float] = {}
    per_file: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        key = (row["student"], row["notebook"])
        entry = per_file.setdefault(key, [0.0, 0.0])
        if row["exercise"] == "":                 # a file that could not be graded
            entry[1] = max(entry[1], float(row["max_score"] or 0))
            continue
        entry[0] += float(row["score"] or 0)
        entry[1] += float(row["max_score"] or 0)
    for (student, notebook), (score, top) in per_file.items():
        scores.setdefault(student, {})[notebook] = score
        possible[notebook] = max(possible.get(notebook, 0.0), top)
    return scores, possible


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """``student`` -> that student's identity columns, from the instructor's roster CSV."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if "student" not in (reader.fieldnames or []):
            raise ValueError(f"{path}: a roster needs a 'student' column (the submission "
                             "folder's name) beside the LMS's identity columns")
        roster = {}
        for number, row in enumerate(reader, start=2):
            student = (row.get("student") or "").strip()
            if not student:
                raise ValueError(f"{path}, line {number}: no student id")
            if student in roster:
                raise ValueError(f"{path}, line {number}: student {student!r} twice")
            roster[student] = {k: (v or "").strip() for k, v in row.items() if k}
        return roster


def export_csv(fmt: str, rows: list[dict[str, str]],
               roster: dict[str, dict[str, str]] | None = None) -> tuple[str, list[str]]:
    """The file's text and what the instructor should know (unmatched students, ...)."""
    identity, default_column = FORMATS[fmt]
    scores, possible = totals(rows)
    notebooks = sorted(possible)
    header = identity + [assignment_name(name) for name in notebooks]
    warnings = []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for student in sorted(scores):
        if roster is not None and student not in roster:
            warnings.append(f"{fmt} export: student {student!r} is not in the roster; the "
                            f"folder name is used as {default_column}")
        known = (roster or {}).get(student)
        cells = [known.get(column, "") if known else "" for column in identity]
        if not known:
            cells[identity.index(default_column)] = student
        if fmt == "canvas" and not any(cells[:3]):
            cells[0] = student                   # Canvas needs a name, ID or SIS User ID
        row = cells + [_number(scores[student][name]) if name in scores[student] else ""
                       for name in notebooks]
        writer.writerow(row)
    if roster is not None:
        missing = sorted(set(roster) - set(scores))
        if missing:
            warnings.append(f"{fmt} export: {len(missing)} roster students handed in nothing "
                            f"(left out, their LMS grades untouched): {', '.join(missing[:10])}"
                            + (" ..." if len(missing) > 10 else ""))
    return buffer.getvalue(), warnings


def points_possible(rows: list[dict[str, str]]) -> dict[str, float]:
    """Points possible per LMS column (to set on the LMS's assignments / grade items)."""
    return {assignment_name(name): top for name, top in sorted(totals(rows)[1].items())}
