"""Per-student totals in the column layout an LMS imports (``course-grade --export``).

One file per exercise notebook (an LMS assignment / grade item), holding each student's points
in it: the sum of the gradebook's ``score`` over the notebook's rows, out of the sum of their
``max_score`` (each checked exercise 1, each written answer its rubric's marks). A file lists
only the students who handed that notebook in, so no blank cell ever reaches the LMS: Moodle's
CSV import reads a blank (or ``-``) as "no grade" and still writes it, clearing a grade entered
some other way (grade/import/csv/classes/load_data.php, grade/import/lib.php), and Canvas's
importer counts a blank against an existing grade as a change. A student missing from a file
is left alone by both.

- ``canvas``: Canvas's Gradebook import layout: ``Student``, ``ID``, ``SIS User ID``,
  ``SIS Login ID``, ``Section``, then the assignment's column (a new column name creates a
  new assignment on import), and as the second row ``Points Possible`` with the notebook's
  points (Canvas's importer reads a row whose first cell is "Points Possible" as the
  assignment's points possible). Written to ``RESULTS/export/canvas/<notebook>.csv``.
- ``moodle``: Moodle's grade import takes the layout of its own CSV export: ``First name``,
  ``Last name``, ``ID number``, ``Institution``, ``Department``, ``Email address``, then the
  grade item's column; on import you map one identity column to the user field and the item
  column to a grade item. Written to ``RESULTS/export/moodle/<notebook>.csv``.

The student id (the submission folder's name) goes in ``SIS Login ID`` (Canvas) and
``ID number`` (Moodle) unless a roster gives the LMS's own identity columns
(``--roster FILE``: a CSV with a ``student`` column and any of the identity columns).
docs/grading.md shows the files and the LMS documentation they follow.
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
               roster: dict[str, dict[str, str]] | None = None,
               notebook: str | None = None) -> tuple[str, list[str]]:
    """One notebook's file (``notebook``: its file name; the only one when None) and what the
    instructor should know (unmatched students, ...). Only students who handed it in."""
    identity, default_column = FORMATS[fmt]
    scores, possible = totals(rows)
    if notebook is None:
        (notebook,) = possible
    warnings = []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(identity + [assignment_name(notebook)])
    if fmt == "canvas":
        writer.writerow(["Points Possible"] + [""] * (len(identity) - 1)
                        + [_number(possible[notebook])])
    for student in sorted(scores):
        if notebook not in scores[student]:
            continue                             # not handed in: no row, the LMS's grade stays
        if roster is not None and student not in roster:
            warnings.append(f"{fmt} export: student {student!r} is not in the roster; the "
                            f"folder name is used as {default_column}")
        known = (roster or {}).get(student)
        cells = [known.get(column, "") if known else "" for column in identity]
        if not known:
            cells[identity.index(default_column)] = student
        if fmt == "canvas" and not any(cells[:3]):
            cells[0] = student                   # Canvas needs a name, ID or SIS User ID
        writer.writerow(cells + [_number(scores[student][notebook])])
    return buffer.getvalue(), warnings


def export_files(fmt: str, rows: list[dict[str, str]],
                 roster: dict[str, dict[str, str]] | None = None
                 ) -> tuple[dict[str, str], list[str]]:
    """``<notebook>.csv`` -> its text, one per notebook handed in, and the warnings."""
    scores, possible = totals(rows)
    files, warnings = {}, []
    for notebook in sorted(possible):
        text, more = export_csv(fmt, rows, roster, notebook)
        files[f"{assignment_name(notebook)}.csv"] = text
        warnings += [w for w in more if w not in warnings]
    if roster is not None:
        missing = sorted(set(roster) - set(scores))
        if missing:
            warnings.append(f"{fmt} export: {len(missing)} roster students handed in nothing "
                            f"(left out, their LMS grades untouched): {', '.join(missing[:10])}"
                            + (" ..." if len(missing) > 10 else ""))
    return files, warnings


def points_possible(rows: list[dict[str, str]]) -> dict[str, float]:
    """Points possible per LMS column (to set on the LMS's assignments / grade items)."""
    return {assignment_name(name): top for name, top in sorted(totals(rows)[1].items())}
