"""``course-grade --export canvas|moodle``: the documented layouts, the totals, and one real run.

docs/grading.md shows an example gradebook and the Canvas and Moodle files made from it, with
the LMS documentation they follow; the tests regenerate both files from that gradebook and
compare them with the documentation byte for byte, so the code and the documented headers
cannot drift apart. The end-to-end test grades a small class for real, marks its written
answers, re-runs after a new student hands in, and reads the exports.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib.exercises.checks import REGISTRY, discover
from course_lib.grade import export, marks
from grade_fixtures import forge

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "grading.md").read_text(encoding="utf-8")
discover()


def doc_block(name: str) -> str:
    match = re.search(rf"<!-- example {name} -->\n```csv\n(.*?)```", DOC, re.S)
    assert match, f"docs/grading.md has no example {name!r} block"
    return match.group(1)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


GRADEBOOK = rows_of(doc_block("gradebook"))


NOTEBOOKS = sorted({r["notebook"] for r in GRADEBOOK})


@pytest.mark.parametrize("fmt", ["canvas", "moodle"])
def test_the_export_is_exactly_the_documented_example(fmt):
    files, warnings = export.export_files(fmt, GRADEBOOK)
    assert sorted(files) == [f"{export.assignment_name(n)}.csv" for n in NOTEBOOKS]
    for name, text in files.items():
        assert text == doc_block(f"{fmt} {name[:-len('.csv')]}") and not warnings


def test_the_documented_headers_are_the_lms_identity_columns():
    for notebook in NOTEBOOKS:
        name = export.assignment_name(notebook)
        assert doc_block(f"canvas {name}").splitlines()[0].split(",") == \
            ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", name]
        assert doc_block(f"moodle {name}").splitlines()[0].split(",") == \
            ["First name", "Last name", "ID number", "Institution", "Department",
             "Email address", name]
    for column in export.CANVAS_IDENTITY + export.MOODLE_IDENTITY:
        assert f"`{column}`" in DOC, column


def student_rows(fmt: str, text: str) -> list[dict[str, str]]:
    rows = rows_of(text)
    return [r for r in rows if r.get("Student") != "Points Possible"] if fmt == "canvas" else rows


@pytest.mark.parametrize("fmt", ["canvas", "moodle"])
def test_no_blank_grade_reaches_the_lms(fmt):
    # review finding 4: Moodle's import clears a grade on a blank cell (load_data.php: '' -> null,
    # then update_final_grade(null)); Canvas counts blank-vs-existing as a change. So a file
    # lists only the students who handed its notebook in, and every grade cell holds a number.
    files, _ = export.export_files(fmt, GRADEBOOK)
    for name, text in files.items():
        column = name[:-len(".csv")]
        handed_in = {r["student"] for r in GRADEBOOK if export.assignment_name(r["notebook"]) == column}
        rows = student_rows(fmt, text)
        ids = [r["SIS Login ID" if fmt == "canvas" else "ID number"] for r in rows]
        assert sorted(ids) == sorted(handed_in)
        assert all(r[column] != "" and float(r[column]) >= 0 for r in rows)
    assert "ben" not in files["03_momentum.csv"]


def test_canvas_files_carry_points_possible_as_their_second_row():
    # review finding 8: Canvas's GradebookImporter reads row[0] =~ /Points Possible/ as the
    # assignments' points possible (process_pp); without it a new assignment gets none
    files, _ = export.export_files("canvas", GRADEBOOK)
    possible = export.points_possible(GRADEBOOK)
    for name, text in files.items():
        second = text.splitlines()[1].split(",")
        assert second[0] == "Points Possible" and second[1:5] == [""] * 4
        assert float(second[5]) == possible[name[:-len(".csv")]]
    assert possible["01_gradient_descent"] == 7
    assert all("Points Possible" not in text for text in export.export_files("moodle", GRADEBOOK)[0].values())


def test_totals_are_the_sums_of_the_gradebook():
    for fmt in ("canvas", "moodle"):
        files, _ = export.export_files(fmt, GRADEBOOK)
        for name, text in files.items():
            column = name[:-len(".csv")]
            for row in student_rows(fmt, text):
                student = row["SIS Login ID" if fmt == "canvas" else "ID number"]
                mine = [float(r["score"]) for r in GRADEBOOK if r["student"] == student
                        and export.assignment_name(r["notebook"]) == column]
                assert float(row[column]) == sum(mine), (student, row)
    possible = export.points_possible(GRADEBOOK)
    assert possible["01_gradient_descent"] == sum(
        float(r["max_score"]) for r in GRADEBOOK
        if r["student"] == "ada" and r["notebook"].startswith("01"))


def test_a_roster_supplies_the_lms_identity_and_unknown_students_are_named(tmp_path):
    roster_path = tmp_path / "roster.csv"
    roster_path.write_text("\ufeffstudent,Student,ID,SIS User ID,SIS Login ID,Section\n"
                           '"ada","Lovelace, Ada",1001,s1001,ada.lovelace,Lab A\n'
                           "zoe,Zoe,1003,s1003,zoe,Lab B\n", encoding="utf-8")
    roster = export.read_roster(roster_path)
    files, warnings = export.export_files("canvas", GRADEBOOK, roster)
    rows = student_rows("canvas", files["01_gradient_descent.csv"])
    assert rows[0]["Student"] == "Lovelace, Ada" and rows[0]["ID"] == "1001"
    assert rows[0]["SIS Login ID"] == "ada.lovelace" and rows[0]["Section"] == "Lab A"
    assert rows[1]["SIS Login ID"] == "ben"                       # not in the roster
    assert any("'ben' is not in the roster" in w for w in warnings)
    assert any("zoe" in w and "handed in nothing" in w for w in warnings)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,ID\nada,1\n")
    with pytest.raises(ValueError, match="'student' column"):
        export.read_roster(bad)
    twice = tmp_path / "twice.csv"
    twice.write_text("student,ID\nada,1\nada,2\n")
    with pytest.raises(ValueError, match="twice"):
        export.read_roster(twice)


def test_an_ungradable_file_counts_zero_out_of_the_notebook():
    rows = GRADEBOOK + [{"student": "cy", "notebook": "01_gradient_descent.ipynb",
                         "exercise": "", "score": "0", "max_score": "7", "status": "invalid",
                         "message": "malformed JSON"}]
    files = export.export_files("canvas", rows)[0]
    out = {r["SIS Login ID"]: r for r in student_rows("canvas", files["01_gradient_descent.csv"])}
    assert out["cy"]["01_gradient_descent"] == "0"
    assert "cy" not in files["03_momentum.csv"]


# ------------------------------------------------------------------ the real command, end to end


def run(subs: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_lib.grade", str(subs), "--out", str(out),
                           "--timeout", "30", "--workers", "2", *extra],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("small-class")
    subs, out = root / "subs", root / "out"
    for student, base in (("ann", "solutions"), ("bob", "exercises")):
        (subs / student).mkdir(parents=True)
        (subs / student / forge.GD).write_bytes((ROOT / base / forge.GD).read_bytes())
    first = run(subs, out)
    return {"root": root, "subs": subs, "out": out, "first": first}


def gradebook(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return {(r["student"], r["exercise"]): r for r in csv.DictReader(handle)}


def test_marks_round_trip_and_export_on_a_real_run(small_class):
    subs, out = small_class["subs"], small_class["out"]
    assert small_class["first"].returncode == 0, small_class["first"].stderr[-2000:]
    (written_id,) = forge.written_ids(forge.GD)
    points = REGISTRY[written_id].rubric
    path = out / "written" / "marks.csv"
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    assert [(r["student"], r["exercise"]) for r in rows] == [("ann", written_id),
                                                              ("bob", written_id)]
    assert (out / "written" / "by-question" / f"{written_id}.md").exists()
    # the marker gives ann every point but the last; and marks a student who never handed in
    ann = rows[0]
    given = [p.marks for p in points[:-1]] + [0]
    for column, value in zip(marks.POINT_COLUMNS, given):
        ann[column] = f"{value:g}"
    rows.append({**ann, "student": "zed", "answer": ""})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=marks.MARK_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    filled = path.read_bytes()
    # a new student hands in before the re-run
    (subs / "cat").mkdir()
    (subs / "cat" / forge.GD).write_bytes(forge.with_written(
        forge.GD, written_id, f"**{written_id}** Your answer:\n\nCentring changes nothing.\n"))
    second = run(subs, out, "--export", "canvas", "--export", "moodle")
    assert second.returncode == 1, second.stderr[-2000:]           # zed's row is reported
    assert "(1 to grade, 2 already done)" in second.stderr
    assert "'zed'" in second.stderr and "line 4" in second.stderr
    assert path.read_bytes().startswith(filled)
    new_rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    assert [r["student"] for r in new_rows[len(rows):]] == ["cat"]
    book = gradebook(out)
    top = sum(p.marks for p in points)
    assert book[("ann", written_id)]["status"] == "marked"
    assert float(book[("ann", written_id)]["score"]) == sum(given)
    assert float(book[("ann", written_id)]["max_score"]) == top
    assert book[("cat", written_id)]["status"] == "flagged"
    # the exports: ann's checked exercises plus her marks; bob's blank notebook 0; cat's checked
    column = export.assignment_name(forge.GD)
    canvas = {r["SIS Login ID"]: r for r in csv.DictReader(
        (out / "export" / "canvas" / f"{column}.csv").open(newline="", encoding="utf-8"))}
    moodle = {r["ID number"]: r for r in csv.DictReader(
        (out / "export" / "moodle" / f"{column}.csv").open(newline="", encoding="utf-8"))}
    for student in ("ann", "bob", "cat"):
        want = sum(float(r["score"]) for (s, _), r in book.items() if s == student)
        assert float(canvas[student][column]) == float(moodle[student][column]) == want
    assert float(canvas["ann"][column]) == len(book) / 3 - 1 + sum(given)
    assert "points possible: 01_gradient_descent" in second.stderr
    assert "not marked yet" in second.stderr                      # cat's answer
