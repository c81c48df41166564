"""Written answers marked against a rubric: answers by question, marks.csv, and the merge.

Most tests feed the grader's output stage (``cli._write_outputs``) results as a grading run
returns them, so the marker's side (filling, breaking, re-running) is tested without the
sandbox; one test runs the real command end to end on a small class (test_grade_export.py also
reads that run). Expected scores come from the rubrics in the registry, never typed in.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import pytest

from course_lib.exercises.checks import REGISTRY, discover, register_written
from course_lib.exercises.checks._framework import WRITTEN
from course_lib.grade import cli, marks
from grade_fixtures import forge

ROOT = Path(__file__).resolve().parents[1]
discover()
WRITTEN_IDS = sorted((eid for eid, c in REGISTRY.items() if c.kind == WRITTEN),
                     key=lambda e: tuple(int(p) for p in e.split(".")))
NOTEBOOK_OF = {eid: name for name in sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
               for eid in forge.written_ids(name)}
E36, NB36 = "3.6", forge.MOMENTUM
E14, NB14 = "1.4", forge.GD


def rubric(eid: str):
    return REGISTRY[eid].rubric


# ------------------------------------------------------------------ the rubrics themselves


def test_every_written_exercise_of_the_course_has_a_rubric_of_2_to_4_points():
    assert set(WRITTEN_IDS) == set(NOTEBOOK_OF), "a ✍ cell without a checker, or vice versa"
    for eid in WRITTEN_IDS:
        checker = REGISTRY[eid]
        assert 2 <= len(checker.rubric) <= 4, eid
        assert all(point.marks > 0 and len(point.text) > 40 for point in checker.rubric), eid
        assert checker.max_score == sum(point.marks for point in checker.rubric) > 0, eid


def test_a_declared_max_score_must_be_the_sum_of_the_rubric(scratch_registry):
    with pytest.raises(ValueError, match="not the sum"):
        register_written("91.7", prompt="Why?", rubric=[(1, "a point"), (2, "another")],
                         max_score=4)
    with pytest.raises(ValueError, match="positive"):
        register_written("91.8", prompt="Why?", rubric=[(0, "a point worth nothing")])
    with pytest.raises(ValueError, match="marks, text"):
        register_written("91.9", prompt="Why?", rubric=["only text", "no marks"])
    ok = register_written("91.10", prompt="Why?", rubric=[(1, "a"), (0.5, "b")], max_score=1.5)
    assert ok.max_score == 1.5


def _chunks(text: str, width: int = 48) -> list[str]:
    words = text.split()
    return [" ".join(words[i:i + 8]) for i in range(0, max(1, len(words) - 7), 4)
            if len(" ".join(words[i:i + 8])) >= width]


def test_no_rubric_reaches_a_learner():
    """The rubric is for markers: not in exercises/, not in anything a check prints."""
    exercises = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "exercises").glob("*.ipynb"))
    exercises = " ".join(json.loads(json.dumps(exercises)).split())
    printed = " ".join(str(m.message) for c in REGISTRY.values() for m in c.mistakes)
    printed += " ".join(str(c.explain) for c in REGISTRY.values() if isinstance(c.explain, str))
    for eid in WRITTEN_IDS:
        from course_lib.exercises.checks import run_check
        printed += " " + run_check(eid, None).reason
        for point in rubric(eid):
            for chunk in _chunks(point.text):
                assert chunk not in exercises, (eid, chunk)
                assert chunk not in printed, (eid, chunk)


# ------------------------------------------------------------------ results, as a run gives them


def written(eid: str, text: str) -> dict:
    blank = not text.strip()
    return {"exercise_id": eid, "status": "failed" if blank else "flagged", "score": 0.0,
            "max_score": 0.0, "message": "no written answer" if blank else
            "written answer: read by your instructor (not scored automatically)",
            "feedback": ["Written answer: your instructor reads it."], "written": text,
            "hint_id": None, "flags": []}


def checked(eid: str, passed: bool) -> dict:
    return {"exercise_id": eid, "status": "passed" if passed else "failed",
            "score": 1.0 if passed else 0.0, "max_score": 1.0,
            "message": "passed" if passed else "wrong", "feedback": [], "hint_id": None,
            "flags": []}


def result(student: str, notebook: str, exercises: list[dict]) -> dict:
    return {"fingerprint": "x", "student": student, "notebook": notebook, "invalid": None,
            "exercises": exercises, "max_score": 0.0}


ANSWERS = {"ann": "The buffer halves an alternating gradient ...",
           "bob": "",
           "cat": "Momentum is like a ball rolling downhill."}


def class_results(answers=ANSWERS) -> list[dict]:
    return [result(s, NB36, [checked("3.1", s == "ann"), written(E36, text)])
            for s, text in answers.items()]


def grade_outputs(out: Path, results: list[dict], overrides=None, exports=()) -> marks.Merge:
    """What a (re-)run of course-grade does after grading: read marks.csv, write everything."""
    path = out / "written" / "marks.csv"
    marks_file = marks.read_marks_file(path) if path.exists() else None
    return cli._write_outputs(out, results, overrides or {}, marks_file=marks_file,
                              marks_path=path, exports=list(exports))


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def gradebook(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["student"], r["exercise"]): r for r in read_csv(out / "gradebook.csv")}


def fill(out: Path, marks_by_student: dict[str, list[str]], comment: str = "") -> None:
    """The marker fills the template's rows (as a spreadsheet would save them)."""
    path = out / "written" / "marks.csv"
    rows = read_csv(path)
    for row in rows:
        if row["student"] in marks_by_student:
            for column, value in zip(marks.POINT_COLUMNS, marks_by_student[row["student"]]):
                row[column] = value
            row["comment"] = comment
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def append_lines(out: Path, *lines: str) -> None:
    path = out / "written" / "marks.csv"
    path.write_text(path.read_text(encoding="utf-8") + "".join(f"{line}\n" for line in lines),
                    encoding="utf-8")


def full(eid: str) -> list[str]:
    return [f"{p.marks:g}" for p in rubric(eid)]


# ------------------------------------------------------------------ first run: what markers get


def test_the_first_run_writes_answers_by_question_and_a_template(tmp_path):
    merged = grade_outputs(tmp_path, class_results())
    assert not merged.problems
    rows = read_csv(tmp_path / "written" / "marks.csv")
    assert list(rows[0]) == marks.MARK_COLUMNS
    assert [(r["student"], r["exercise"]) for r in rows] == [(s, E36) for s in sorted(ANSWERS)]
    points = rubric(E36)
    for row in rows:
        assert row["notebook"] == NB36 and row["answer"] == marks.answer_id(ANSWERS[row["student"]])
        assert row["out_of"] == "/".join(f"{p.marks:g}" for p in points)
        unused = [row[c] for c in marks.POINT_COLUMNS[len(points):]]
        assert unused == ["-"] * (marks.N_POINTS - len(points))
        used = [row[c] for c in marks.POINT_COLUMNS[:len(points)]]
        assert used == (["0"] * len(points) if row["student"] == "bob" else [""] * len(points))
    page = (tmp_path / "written" / "by-question" / f"{E36}.md").read_text(encoding="utf-8")
    assert REGISTRY[E36].prompt[:60] in page
    for index, point in enumerate(points):
        assert f"| p{index + 1} | {point.marks:g} | {point.text[:50]}" in page
    assert ANSWERS["ann"] in page and ANSWERS["cat"] in page and "### bob: no answer" in page
    assert page.index("### ann") < page.index("### bob") < page.index("### cat")
    book = gradebook(tmp_path)
    assert book[("ann", E36)]["max_score"] == f"{REGISTRY[E36].max_score:g}"
    assert book[("ann", E36)]["score"] == "0" and book[("ann", E36)]["status"] == "flagged"
    assert "marks.csv" in book[("ann", E36)]["message"]
    assert book[("bob", E36)]["status"] == "failed"
    assert book[("ann", "3.1")]["max_score"] == "1"


def test_filled_marks_move_into_the_gradebook_and_the_feedback(tmp_path):
    results = class_results()
    grade_outputs(tmp_path, results)
    points = rubric(E36)
    half = ["0.5"] + ["0"] * (len(points) - 1)
    fill(tmp_path, {"ann": full(E36), "cat": half}, comment="see the gain at ω = π")
    merged = grade_outputs(tmp_path, results)
    assert not merged.problems
    book = gradebook(tmp_path)
    top = f"{REGISTRY[E36].max_score:g}"
    assert (book[("ann", E36)]["score"], book[("ann", E36)]["max_score"]) == (top, top)
    assert book[("ann", E36)]["status"] == book[("cat", E36)]["status"] == "marked"
    assert book[("cat", E36)]["score"] == "0.5"
    assert "see the gain" in book[("cat", E36)]["message"]
    assert book[("bob", E36)]["status"] == "failed" and book[("bob", E36)]["score"] == "0"
    feedback = (tmp_path / "feedback" / "cat.md").read_text(encoding="utf-8")
    assert f"(0.5/{top})" in feedback and "see the gain" in feedback
    for point in points:                      # markers see the rubric, learners do not
        assert point.text[:40] not in feedback
    page = (tmp_path / "written" / "by-question" / f"{E36}.md").read_text(encoding="utf-8")
    assert f"marked {top} of {top}" in page and f"marked 0.5 of {top}" in page


def test_an_overrides_row_still_has_the_last_word(tmp_path):
    results = class_results()
    grade_outputs(tmp_path, results)
    fill(tmp_path, {"ann": full(E36)})
    override = {("ann", NB36, E36): {"student": "ann", "notebook": NB36, "exercise": E36,
                                     "score": "1", "status": "", "message": "plagiarised"}}
    grade_outputs(tmp_path, results, overrides=override)
    row = gradebook(tmp_path)[("ann", E36)]
    assert row["score"] == "1" and "plagiarised" in row["message"] and "was marked" in row["message"]


# ------------------------------------------------------------------ a marker's mistakes


def test_every_bad_row_is_reported_with_its_line_and_never_applied(tmp_path):
    results = class_results()
    grade_outputs(tmp_path, results)
    n = len(rubric(E36))
    top1 = rubric(E36)[0].marks
    good = full(E36)
    pad = ["-"] * (marks.N_POINTS - n)
    aid = {s: marks.answer_id(t) for s, t in ANSWERS.items()}

    def line(student, notebook, exercise, cells, answer=""):
        return ",".join([student, notebook, exercise, answer, *cells, "", ""])

    bad = {
        "unknown student": line("zed", NB36, E36, good + pad),
        "unknown exercise": line("ann", NB36, "3.9", good + pad),
        "not written": line("ann", NB36, "3.1", good + pad),
        "other notebook": line("ann", forge.NESTEROV, E36, good + pad),
        "above max": line("cat", NB36, E36, [f"{top1 + 1:g}"] + good[1:] + pad, aid["cat"]),
        "negative": line("cat", NB36, E36, ["-1"] + good[1:] + pad, aid["cat"]),
        "text": line("cat", NB36, E36, ["good"] + good[1:] + pad, aid["cat"]),
        "nan": line("cat", NB36, E36, ["nan"] + good[1:] + pad, aid["cat"]),
        "half marked": line("cat", NB36, E36, [good[0]] + [""] * (n - 1) + pad, aid["cat"]),
        "point beyond the rubric": line("cat", NB36, E36, good + ["1"] * (marks.N_POINTS - n),
                                        aid["cat"]) if n < marks.N_POINTS else None,
        "no student": line("", NB36, E36, good + pad),
    }
    bad = {k: v for k, v in bad.items() if v is not None}
    append_lines(tmp_path, *bad.values())
    merged = grade_outputs(tmp_path, results)
    assert len(merged.problems) == len(bad), merged.problems
    first = len(read_csv(tmp_path / "written" / "marks.csv")) - len(bad) + 2
    for number, problem in enumerate(merged.problems, start=first):
        assert f"line {number}" in problem and "not applied" in problem, problem
    text = "\n".join(merged.problems)
    for needle in ("'zed'", "'3.9'", "'3.1'", "out of range", "is not a number", "blank",
                   "04_nesterov.ipynb"):
        assert needle in text, needle
    assert set(gradebook(tmp_path)[("cat", E36)].values()) >= {"flagged"}   # nothing applied
    report = (tmp_path / "written" / "marks-problems.txt").read_text(encoding="utf-8")
    assert all(problem in report for problem in merged.problems)


def test_duplicate_rows_count_once_when_equal_and_not_at_all_when_they_disagree(tmp_path):
    results = class_results()
    grade_outputs(tmp_path, results)
    fill(tmp_path, {"ann": full(E36), "cat": full(E36)})
    rows = (tmp_path / "written" / "marks.csv").read_text(encoding="utf-8").splitlines()
    ann = next(r for r in rows if r.startswith("ann,"))
    cat = next(r for r in rows if r.startswith("cat,"))
    cat_low = cat.replace(",".join(full(E36)), ",".join(["0"] * len(full(E36))), 1)
    assert cat_low != cat
    append_lines(tmp_path, ann, cat_low)
    merged = grade_outputs(tmp_path, results)
    book = gradebook(tmp_path)
    assert book[("ann", E36)]["status"] == "marked" and any("counted once" in n for n in merged.notes)
    assert book[("cat", E36)]["status"] == "flagged"
    assert len(merged.problems) == 1 and "other marks" in merged.problems[0]


def test_a_spreadsheet_saved_file_is_read_and_extended_in_its_own_format(tmp_path):
    """Excel in many locales saves with a BOM, ';' separators, CRLF and decimal commas."""
    results = class_results()
    grade_outputs(tmp_path, results)
    path = tmp_path / "written" / "marks.csv"
    rows = read_csv(path)
    rows[0]["p1"] = "0,5"                                             # ann
    for column in marks.POINT_COLUMNS[1:len(rubric(E36))]:
        rows[0][column] = "0"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    before = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    path.write_bytes(before)
    more = class_results({**ANSWERS, "dan": "A new student's answer."})
    merged = grade_outputs(tmp_path, more)
    assert not merged.problems and gradebook(tmp_path)[("ann", E36)]["score"] == "0.5"
    after = path.read_bytes()
    assert after.startswith(before)
    assert after[len(before):].decode().startswith("dan;" + NB36 + ";" + E36)
    assert after.endswith(b"\r\n")


# ------------------------------------------------------------------ re-runs


def test_a_rerun_after_new_submissions_keeps_every_filled_mark(tmp_path):
    results = class_results()
    grade_outputs(tmp_path, results)
    fill(tmp_path, {"ann": full(E36), "cat": ["0"] * len(rubric(E36))}, comment="ok")
    path = tmp_path / "written" / "marks.csv"
    filled = path.read_bytes()
    # nothing new: the file is not touched at all
    grade_outputs(tmp_path, results)
    assert path.read_bytes() == filled
    # a new student, a new notebook for ann, and cat hands in a new answer
    later = class_results({**ANSWERS, "cat": "Now with the gain 1/(1+β).", "dan": "Mine."})
    later.append(result("ann", NB14, [written(E14, "Centring decouples w and b.")]))
    merged = grade_outputs(tmp_path, later)
    after = path.read_bytes()
    assert after.startswith(filled), "the marker's rows are kept byte for byte"
    rows = read_csv(path)
    added = rows[len(read_csv_bytes(filled)):]
    assert {(r["student"], r["exercise"]) for r in added} == {("cat", E36), ("dan", E36),
                                                               ("ann", E14)}
    assert all(r["p1"] == "" for r in added)
    book = gradebook(tmp_path)
    assert book[("ann", E36)]["status"] == "marked"            # unchanged answer: still marked
    assert book[("cat", E36)]["status"] == "flagged"           # changed: the old marks are stale
    assert any("has changed" in note for note in merged.notes) and not merged.problems
    assert book[("ann", E14)]["max_score"] == f"{REGISTRY[E14].max_score:g}"
    # marking the new row of cat's new answer applies it; the stale row stays in the file
    fill(tmp_path, {"cat": full(E36)})
    grade_outputs(tmp_path, later)
    assert gradebook(tmp_path)[("cat", E36)]["score"] == f"{REGISTRY[E36].max_score:g}"


def read_csv_bytes(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_a_row_without_an_answer_id_is_never_applied_and_the_answer_gets_its_own_row(tmp_path):
    # review finding 3: a row typed by hand (or whose answer column was emptied) marks an
    # answer nobody can say the marker read
    results = class_results({"ann": ANSWERS["ann"]})
    path = tmp_path / "written" / "marks.csv"
    path.parent.mkdir(parents=True)
    header = "student,notebook,exercise,answer," + ",".join(marks.POINT_COLUMNS) + "\n"
    n = len(rubric(E36))
    path.write_text(header + ",".join(["ann", NB36, E36, ""] + full(E36) + ["-"] * (4 - n)) + "\n")
    merged = grade_outputs(tmp_path, results)
    assert len(merged.problems) == 1 and "no answer id" in merged.problems[0]
    assert gradebook(tmp_path)[("ann", E36)]["status"] != "marked"
    rows = read_csv(path)
    assert [r["answer"] for r in rows] == ["", marks.answer_id(ANSWERS["ann"])]


def test_a_row_typed_before_a_student_handed_in_is_not_applied_after_she_does(tmp_path):
    # review finding 3: first "no student 'eve'", then silently applied to her unread answer
    path = tmp_path / "written" / "marks.csv"
    grade_outputs(tmp_path, class_results())
    n = len(rubric(E36))
    append_lines(tmp_path, ",".join(["eve", NB36, E36, ""] + full(E36) + ["-"] * (4 - n) + ["", ""]))
    merged = grade_outputs(tmp_path, class_results())
    assert any("'eve'" in problem for problem in merged.problems)
    answers = {**ANSWERS, "eve": "Eve's answer, which nobody has read yet."}
    merged = grade_outputs(tmp_path, class_results(answers))
    assert any("eve" in problem and "no answer id" in problem for problem in merged.problems)
    assert gradebook(tmp_path)[("eve", E36)]["status"] != "marked"
    assert marks.answer_id(answers["eve"]) in [r["answer"] for r in read_csv(path)]


def test_a_resubmission_keeps_the_old_marks_off_the_new_answer(tmp_path):
    path = tmp_path / "written" / "marks.csv"
    grade_outputs(tmp_path, class_results())
    fill(tmp_path, {"ann": full(E36)})
    assert gradebook(tmp_path) and grade_outputs(tmp_path, class_results()).marks
    answers = {**ANSWERS, "ann": "A new answer, handed in again."}
    merged = grade_outputs(tmp_path, class_results(answers))
    assert ("ann", NB36, E36) not in merged.marks and merged.stale == 1
    assert gradebook(tmp_path)[("ann", E36)]["status"] != "marked"
    assert marks.answer_id(answers["ann"]) in [r["answer"] for r in read_csv(path)]


def test_answer_ids_are_never_numbers_and_a_mangled_id_is_a_problem(tmp_path):
    # review finding 5: 10 hex digits such as 0849029548 or 5626696e19 become numbers in a
    # spreadsheet
    for k in range(2000):
        aid = marks.answer_id(f"answer {k}")
        with pytest.raises(ValueError):
            float(aid)
    grade_outputs(tmp_path, class_results())
    path = tmp_path / "written" / "marks.csv"
    rows = read_csv(path)
    for row in rows:
        if row["student"] == "cat":
            row["answer"] = "5.63E+25"
            for column, value in zip(marks.POINT_COLUMNS, full(E36)):
                row[column] = value
        if row["student"] == "ann":                      # an id written before the prefix
            row["answer"] = row["answer"][len(marks.ID_PREFIX):]
            for column, value in zip(marks.POINT_COLUMNS, full(E36)):
                row[column] = value
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    merged = grade_outputs(tmp_path, class_results())
    assert any("'5.63E+25' is not an answer id" in p for p in merged.problems), merged.problems
    assert merged.stale == 0 and not merged.notes
    assert ("ann", NB36, E36) in merged.marks and ("cat", NB36, E36) not in merged.marks


def test_cells_beyond_the_last_column_are_a_problem(tmp_path):
    # review finding 6: an unquoted comma in a comment used to lose the comment's tail silently
    grade_outputs(tmp_path, class_results())
    aid = marks.answer_id(ANSWERS["cat"])
    n = len(rubric(E36))
    append_lines(tmp_path, ",".join(["cat", NB36, E36, aid] + full(E36) + ["-"] * (4 - n)
                                    + ["", "good", " but no numbers"]))
    merged = grade_outputs(tmp_path, class_results())
    assert any("beyond the last column" in p and "not applied" in p for p in merged.problems)
    assert ("cat", NB36, E36) not in merged.marks


def test_a_cp1252_file_names_the_cause_and_a_tab_separated_file_is_read(tmp_path):
    # review finding 7
    grade_outputs(tmp_path, class_results())
    path = tmp_path / "written" / "marks.csv"
    text = path.read_text(encoding="utf-8").replace("no answer", "pas de réponse")
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(ValueError, match="CSV UTF-8") as error:
        marks.read_marks_file(path)
    assert "delete" not in str(error.value).lower()
    rows = [line.split(",") for line in text.splitlines()]
    path.write_text("\n".join("\t".join(row) for row in rows) + "\n", encoding="utf-8")
    read = marks.read_marks_file(path)
    assert read.delimiter == "\t" and len(read.rows) == len(rows) - 1
    path.write_text("student\tscore\nann\t3\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        marks.read_marks_file(path)
    assert "delete it" not in str(error.value) and "missing" in str(error.value)


def test_the_command_refuses_a_marks_file_that_is_not_one(tmp_path):
    import subprocess
    import sys
    (tmp_path / "subs").mkdir()
    bad = tmp_path / "marks.csv"
    bad.write_text("student,exercise,score\nann,3.6,3\n")
    run = subprocess.run([sys.executable, "-m", "course_lib.grade", str(tmp_path / "subs"),
                          "--out", str(tmp_path / "out"), "--marks", str(bad)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 2 and "p1" in run.stderr and "missing" in run.stderr


def test_marks_parse_as_a_marker_types_them():
    assert marks._parse_mark("1") == 1 and marks._parse_mark(" 0.5 ") == 0.5
    assert marks._parse_mark("0,5") == 0.5
    assert marks._parse_mark("½") is None and marks._parse_mark("inf") is None
    assert marks._parse_mark("") is None and math.isclose(marks._parse_mark("1e-1"), 0.1)


def test_the_rubric_table_in_docs_grading_is_the_registry():
    doc = (ROOT / "docs" / "grading.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\d+\.\d+) [^|]*\| ([\d. +]+) \| [\d.]+ \|$", doc, re.M))
    assert set(table) == set(WRITTEN_IDS)
    for eid in WRITTEN_IDS:
        assert table[eid].strip() == " + ".join(f"{p.marks:g}" for p in rubric(eid)), eid
        assert re.search(rf"^\| {re.escape(eid)} [^|]*\| [\d. +]+ \| {REGISTRY[eid].max_score:g} \|$",
                         doc, re.M), eid


def test_a_student_whose_only_file_could_not_be_graded_is_not_called_unknown(tmp_path):
    results = class_results({"ann": ANSWERS["ann"]})
    results.append({"fingerprint": "x", "student": "dee", "notebook": NB36,
                    "invalid": "malformed JSON", "exercises": [], "max_score": 0.0})
    grade_outputs(tmp_path, results)
    n = len(rubric(E36))
    append_lines(tmp_path, ",".join(["dee", "", E36, ""] + full(E36) + ["-"] * (4 - n) + ["", ""]))
    merged = grade_outputs(tmp_path, results)
    assert len(merged.problems) == 1 and "dee has no answer to 3.6" in merged.problems[0]
    assert "nothing gradable" in merged.problems[0]


def test_docs_say_the_rubric_is_public_like_the_solutions():
    # review finding 10: the rubric ships in course_lib, so "never shown to learners" overstated it
    doc = (ROOT / "docs" / "grading.md").read_text(encoding="utf-8")
    assert "never\nshown to learners" not in doc and "never shown to learners" not in doc
    assert "**public**" in doc and "REGISTRY['3.6'].rubric" in doc
    assert REGISTRY["3.6"].rubric                     # and it is indeed there
