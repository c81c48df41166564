"""Written answers marked by people: answers by question, the marks template, and the merge.

``course-grade`` writes, for every written (✍) exercise,

- ``RESULTS/written/by-question/<exercise id>.md``: the question, the rubric (each point and its
  marks), then every student's answer, which is how markers work (one question at a time);
- ``RESULTS/written/marks.csv``: one row per student × written exercise, one column per rubric
  point (``p1`` ... ``p4``), and a ``comment``. The marker fills it in and runs the same command
  again: the marks go into ``gradebook.csv`` (the row's score becomes the sum of its points, out
  of the exercise's max score, status ``marked``).

Each row names the answer it marks (``answer``, a required column: ``a-`` and a digest of the
text, or ``blank``), so marks never move to an answer the marker has not read: a row without an
id is never applied, and when a student hands in again and the answer changes, the old row stays
(reported as stale, not applied) and a new row is added. The file is the marker's: an
existing marks.csv is never rewritten; new rows are appended after its bytes, and only when
there are new answers. Every row that cannot be applied (an unknown student or exercise, no
answer id or one a spreadsheet turned into a number, cells past the last column, a mark that is
not a number or is out of range, a half-marked row, conflicting duplicates) is reported with its
line number, on stderr and in ``written/marks-problems.txt``;
nothing is dropped silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

N_POINTS = 4                                   # rubrics have 2-4 points
POINT_COLUMNS = [f"p{i}" for i in range(1, N_POINTS + 1)]
MARK_COLUMNS = ["student", "notebook", "exercise", "answer", *POINT_COLUMNS, "out_of", "comment"]
REQUIRED = ["student", "notebook", "exercise", "answer", *POINT_COLUMNS]
NOT_A_POINT = "-"                              # the cells beyond an exercise's rubric
BLANK = "blank"                                # the answer id of an empty answer
ID_PREFIX = "a-"                               # so that no spreadsheet reads an id as a number


def answer_id(text: str) -> str:
    """What a marks row marks: ``a-`` and a short digest of the answer's text (``blank`` when
    empty). The prefix keeps a spreadsheet from turning ids such as ``0849029548`` or
    ``5626696e19`` into numbers."""
    text = (text or "").strip()
    if not text:
        return BLANK
    return ID_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def _same_answer(given: str, current: str) -> bool:
    """``given`` (a row's id) names ``current``: exactly, or as an id written before the prefix."""
    return given == current or (current.startswith(ID_PREFIX) and given == current[len(ID_PREFIX):])


def _looks_like_an_id(given: str) -> bool:
    body = given[len(ID_PREFIX):] if given.startswith(ID_PREFIX) else given
    return given == BLANK or (len(body) == 10 and all(c in "0123456789abcdef" for c in body))


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass
class Answer:
    """One student's answer to one written exercise, as graded in this run."""

    student: str
    notebook: str
    exercise: str
    text: str

    @property
    def answer_id(self) -> str:
        return answer_id(self.text)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.student, self.notebook, self.exercise)


@dataclass
class Mark:
    """A valid, complete row of marks.csv: its points, their sum, the marker's comment."""

    line: int
    points: list[float]
    comment: str

    @property
    def total(self) -> float:
        return float(sum(self.points))


@dataclass
class Merge:
    """What reading marks.csv against this run's answers gave."""

    marks: dict[tuple[str, str, str], Mark] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)     # rows not applied, and why
    notes: list[str] = field(default_factory=list)        # applied, but worth saying
    stale: int = 0


def answers_from_results(results: Iterable[dict[str, Any]]) -> list[Answer]:
    answers = []
    for result in results:
        if result.get("invalid") is not None:
            continue
        for exercise in result.get("exercises", []):
            if exercise.get("written") is not None:
                answers.append(Answer(result["student"], result["notebook"],
                                      exercise["exercise_id"], exercise["written"]))
    return sorted(answers, key=lambda a: (_exercise_key(a.exercise), a.student, a.notebook))


def _exercise_key(exercise_id: str) -> tuple:
    try:
        return (0, tuple(int(part) for part in exercise_id.split(".")))
    except ValueError:
        return (1, (exercise_id,))


# --------------------------------------------------------------------------------------------
# Reading the marker's file
# --------------------------------------------------------------------------------------------


@dataclass
class MarksFile:
    """marks.csv as the marker left it: its bytes, dialect and rows (with line numbers)."""

    raw: str
    delimiter: str
    newline: str
    fieldnames: list[str]
    rows: list[tuple[int, dict[str, str]]]


def read_marks_file(path: Path) -> MarksFile:
    """Parse marks.csv; a spreadsheet's BOM, ``;`` separator and CRLF line ends are accepted.

    Raises ValueError when the file is not a marks file at all (no header, columns missing)."""
    data = Path(path).read_bytes()
    try:
        raw = data.decode("utf-8")                     # a BOM stays in ``raw``, kept on append
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {error.start + 1} is not): a spreadsheet saved it in "
            "another encoding (Excel's \"CSV (Comma delimited)\" is Windows-1252). Open it "
            "again and save it as \"CSV UTF-8\"; your marks are still in it") from None
    body = raw[1:] if raw.startswith("\ufeff") else raw
    first = body.splitlines()[0] if body.strip() else ""
    delimiter = max((",", ";", "\t"), key=first.count)
    if not first.count(delimiter):
        delimiter = ","
    newline = "\r\n" if "\r\n" in raw else "\n"
    reader = csv.DictReader(io.StringIO(body, newline=""), delimiter=delimiter)
    fieldnames = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in REQUIRED if name not in fieldnames]
    if missing:
        raise ValueError(f"{path}: a marks file needs the columns {', '.join(REQUIRED)} "
                         f"(missing: {', '.join(missing)}); put the missing columns back (the "
                         f"template's header is {','.join(MARK_COLUMNS)}), or pass another file "
                         "with --marks. Do not delete a file that holds marks")
    reader.fieldnames = fieldnames
    rows = []
    for row in reader:
        cells = {key: (value or "").strip() if isinstance(value, str) else ""
                 for key, value in row.items() if key is not None}
        if row.get(None):
            cells["__extra__"] = delimiter.join(row[None])
        rows.append((reader.line_num, cells))
    return MarksFile(raw, delimiter, newline, fieldnames, rows)


def _parse_mark(cell: str) -> float | None:
    """A mark as a number: ``1``, ``0.5``, ``0,5`` (a decimal comma); None when not a number."""
    text = cell.strip().replace(",", ".") if cell.count(",") == 1 and "." not in cell else cell
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def merge(marks_file: MarksFile | None, answers: list[Answer],
          rubrics: dict[str, tuple], *, in_scope: Callable[[str], bool] = lambda s: True,
          name: str = "marks.csv", students: Iterable[str] = ()) -> Merge:
    """Check every row of the marker's file against this run's answers and the rubrics.

    ``rubrics`` maps each written exercise id of the course to its rubric points (``.marks``).
    A row is applied when it names a student, notebook and written exercise of this run, marks
    the answer the student handed in now, and every rubric point holds a number between 0 and
    the point's marks. ``in_scope(student)``: students of other shards are left alone;
    ``students``: everyone who handed in something (an ungradable file included)."""
    result = Merge()
    if marks_file is None:
        return result
    current = {answer.key: answer for answer in answers}
    handed_in = {answer.student for answer in answers} | set(students)
    notebook_of = {(answer.student, answer.exercise): answer.notebook for answer in answers}
    notebooks_of = {}
    for answer in answers:
        notebooks_of.setdefault(answer.student, set()).add(answer.notebook)
    seen: dict[tuple[str, str, str, str], tuple[int, list[float], str]] = {}
    conflicted: set[tuple[str, str, str]] = set()
    for line, row in marks_file.rows:
        where = f"{name} line {line}"
        student, notebook, exercise = row.get("student", ""), row.get("notebook", ""), \
            row.get("exercise", "")
        cells = [row.get(column, "") for column in POINT_COLUMNS]
        comment = row.get("comment", "")
        if not any([student, notebook, exercise, *cells, comment]):
            continue                                           # an empty line
        if not student or not exercise:
            result.problems.append(f"{where}: the row names no student or no exercise "
                                   f"({student or '?'}, {exercise or '?'}); not applied")
            continue
        if not in_scope(student):
            continue
        if row.get("__extra__", "").strip():
            result.problems.append(
                f"{where} ({student}, {exercise}): {row['__extra__']!r} lies beyond the last "
                "column (a comment with an unquoted separator?); put the comment in quotes; "
                "not applied")
            continue
        points = rubrics.get(exercise)
        if points is None:
            result.problems.append(f"{where}: exercise {exercise!r} is not a written exercise "
                                   f"of the course (written: {', '.join(sorted(rubrics, key=_exercise_key))}); "
                                   "not applied")
            continue
        if student not in handed_in:
            result.problems.append(f"{where}: no student {student!r} among this run's "
                                   "submissions (a typo, or a student who never handed in?); "
                                   "not applied")
            continue
        if not notebook:                       # typed by hand: the exercise says which
            notebook = notebook_of.get((student, exercise), "")
        key = (student, notebook, exercise)
        answer = current.get(key)
        if answer is None:
            handed = ", ".join(sorted(notebooks_of.get(student, ()))) or "nothing gradable"
            result.problems.append(f"{where}: {student} has no answer to {exercise} in "
                                   f"{notebook or '(no notebook named)'} (handed in: {handed}); "
                                   "not applied")
            continue
        given_id = row.get("answer", "")
        if not given_id:
            result.problems.append(
                f"{where} ({student}, {exercise}): the row names no answer id, so it cannot say "
                f"which answer was read; the answer handed in now is {answer.answer_id} "
                "(a row of its own in the file); not applied")
            continue
        if not _looks_like_an_id(given_id):
            result.problems.append(
                f"{where} ({student}, {exercise}): {given_id!r} is not an answer id (a "
                "spreadsheet may have turned it into a number); copy the id from "
                f"written/by-question/{exercise}.md; not applied")
            continue
        if not _same_answer(given_id, answer.answer_id):
            result.stale += 1
            if not all(cell in ("", NOT_A_POINT) for cell in cells):
                result.notes.append(f"{where}: {student}'s answer to {exercise} has changed "
                                    f"since this row was written (a new submission): its marks "
                                    f"are kept in the file but not applied; mark the row with "
                                    f"answer {answer.answer_id}")
            continue
        marks, trouble, unmarked = [], [], []
        for index, cell in enumerate(cells):
            column = POINT_COLUMNS[index]
            if index >= len(points):
                if cell not in ("", NOT_A_POINT):
                    trouble.append(f"{column} = {cell!r}, but {exercise}'s rubric has "
                                   f"{len(points)} points")
                continue
            if cell == "":
                unmarked.append(column)
                continue
            value = _parse_mark(cell)
            top = points[index].marks
            if value is None:
                trouble.append(f"{column} = {cell!r} is not a number")
            elif not 0 <= value <= top:
                trouble.append(f"{column} = {cell} is out of range: point {index + 1} is worth "
                               f"0 to {_number(top)}")
            else:
                marks.append(value)
        if trouble:
            result.problems.append(f"{where} ({student}, {exercise}): " + "; ".join(trouble)
                                   + "; not applied")
            continue
        if unmarked:
            if len(unmarked) < len(points):
                result.problems.append(
                    f"{where} ({student}, {exercise}): {', '.join(unmarked)} "
                    f"{'is' if len(unmarked) == 1 else 'are'} blank: mark every point (0 "
                    "counts) or none; not applied")
            continue                                             # not marked yet
        seen_key = (*key, answer.answer_id)
        if seen_key in seen:
            first, first_marks, first_comment = seen[seen_key]
            if first_marks == marks and first_comment == comment:
                result.notes.append(f"{where}: the same marks as line {first} for {student}, "
                                    f"{exercise}; counted once")
            else:
                result.problems.append(f"{where}: line {first} gives {student}'s answer to "
                                       f"{exercise} other marks; neither is applied until one "
                                       "row is removed")
                conflicted.add(key)
            continue
        seen[seen_key] = (line, marks, comment)
        result.marks[key] = Mark(line, marks, comment)
    for key in conflicted:
        result.marks.pop(key, None)
    return result


# --------------------------------------------------------------------------------------------
# Applying marks to the gradebook
# --------------------------------------------------------------------------------------------


def apply_marks(rows: list[dict[str, str]], merged: Merge, rubrics: dict[str, tuple],
                written: set[tuple[str, str, str]]) -> list[dict[str, str]]:
    """Written rows get their exercise's max score; marked ones their marks (status ``marked``).

    ``written``: the (student, notebook, exercise) keys of written answers in ``rows``."""
    for row in rows:
        key = (row["student"], row["notebook"], row["exercise"])
        if key not in written:
            continue
        points = rubrics.get(row["exercise"], ())
        row["max_score"] = _number(float(sum(point.marks for point in points)))
        mark = merged.marks.get(key)
        if mark is not None and mark.total == 0 and row["message"] == "no written answer":
            continue                       # the template's 0s for an empty answer
        if mark is None:
            if row["status"] == "flagged":
                row["message"] = ("written answer: to be marked in written/marks.csv "
                                  "(rubric in written/by-question/"
                                  f"{row['exercise']}.md)")
            continue
        detail = ", ".join(f"p{i + 1} {_number(value)}/{_number(point.marks)}"
                           for i, (value, point) in enumerate(zip(mark.points, points)))
        row["score"] = _number(mark.total)
        row["status"] = "marked"
        row["message"] = (f"marked: {_number(mark.total)} of {row['max_score']} ({detail})"
                          + (f"; {mark.comment}" if mark.comment else ""))[:400]
    return rows


# --------------------------------------------------------------------------------------------
# Writing: the template (never over the marker's work) and the answers by question
# --------------------------------------------------------------------------------------------


def template_row(answer: Answer, points: tuple) -> dict[str, str]:
    row = {"student": answer.student, "notebook": answer.notebook,
           "exercise": answer.exercise, "answer": answer.answer_id, "comment": ""}
    for index, column in enumerate(POINT_COLUMNS):
        if index >= len(points):
            row[column] = NOT_A_POINT
        else:
            row[column] = "0" if answer.answer_id == BLANK else ""
    row["out_of"] = "/".join(_number(point.marks) for point in points)
    if answer.answer_id == BLANK:
        row["comment"] = "no answer"
    return row


def updated_template(marks_file: MarksFile | None, answers: list[Answer],
                     rubrics: dict[str, tuple]) -> str | None:
    """The new text of marks.csv, or None when the file already has a row for every answer.

    An existing file keeps its bytes exactly; rows for answers it does not name (new students,
    new notebooks, changed answers) are appended in its own separator and line ends."""
    if marks_file is None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=MARK_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for answer in answers:
            writer.writerow(template_row(answer, rubrics.get(answer.exercise, ())))
        return buffer.getvalue()
    have = {(row.get("student", ""), row.get("notebook", ""), row.get("exercise", ""),
             row.get("answer", "")) for _, row in marks_file.rows}
    # a row without an answer id marks nothing: the answer still gets its own row
    new = [answer for answer in answers
           if not any((*answer.key, given) in have
                      for given in {answer.answer_id, answer.answer_id[len(ID_PREFIX):]
                                    if answer.answer_id.startswith(ID_PREFIX) else BLANK})]
    if not new:
        return None
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=marks_file.fieldnames, extrasaction="ignore",
                            restval="", delimiter=marks_file.delimiter,
                            lineterminator=marks_file.newline)
    for answer in new:
        writer.writerow(template_row(answer, rubrics.get(answer.exercise, ())))
    text = marks_file.raw
    if text and not text.endswith(("\n", "\r")):
        text += marks_file.newline
    return text + buffer.getvalue()


def _quote(text: str) -> list[str]:
    return [f"> {line}" if line.strip() else ">" for line in text.strip().splitlines()]


def by_question_markdown(exercise: str, prompt: str | None, points: tuple,
                         answers: list[Answer], marks: dict[tuple[str, str, str], Mark]) -> str:
    """RESULTS/written/by-question/<exercise>.md: the question, the rubric, every answer."""
    total = sum(point.marks for point in points)
    notebooks = sorted({answer.notebook for answer in answers})
    lines = [f"# Exercise {exercise}: written answers ({', '.join(notebooks)})", "",
             "For markers; not for learners (the rubric is what a good answer says).", ""]
    if prompt:
        lines += ["## The question", "", *_quote(prompt), ""]
    lines += [f"## Rubric: {_number(total)} marks", "",
              "| column | marks | a good answer makes this point |", "|---|---:|---|"]
    for index, point in enumerate(points):
        text = point.text.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| p{index + 1} | {_number(point.marks)} | {text} |")
    answered = [a for a in answers if a.answer_id != BLANK]
    lines += ["", f"Mark in `written/marks.csv`: the rows of exercise {exercise}, one column per "
              "point (0 up to the point's marks; halves are fine), and a comment if you like. "
              "Then run the same `course-grade` command again.", "",
              f"## Answers: {len(answered)} of {len(answers)} students answered", ""]
    for answer in answers:
        mark = marks.get(answer.key)
        state = (f"marked {_number(mark.total)} of {_number(total)}" if mark is not None
                 else "not marked yet")
        if answer.answer_id == BLANK:
            lines += [f"### {answer.student}: no answer", ""]
            continue
        # quoted, so that a heading or rule in an answer cannot break this page's structure
        lines += [f"### {answer.student} (answer {answer.answer_id}; {state})", "",
                  *_quote(answer.text), "", "---", ""]
    return "\n".join(lines).rstrip() + "\n"


def problems_text(merged: Merge, name: str) -> str | None:
    if not merged.problems and not merged.notes:
        return None
    lines = []
    if merged.problems:
        lines += [f"Rows of {name} that were NOT applied (fix them and run again):", ""]
        lines += [f"- {problem}" for problem in merged.problems]
        lines.append("")
    if merged.notes:
        lines += ["Notes:", ""] + [f"- {note}" for note in merged.notes] + [""]
    return "\n".join(lines)
