"""Rebuild a submission from the course's own exercise notebook.

Only the *source* of the learner's answer cells is taken from the submitted file: every other
cell (set-up, check cells, markdown), and every tag, output and piece of metadata, comes from
``exercises/<name>.ipynb``. So a submission cannot delete, retag or pre-fill a check cell, and
what it printed when the learner ran it is never read.

Answer cells are matched by cell id (nbformat 4.5 ids, which ``make exercises`` keeps stable);
when the ids are gone (an old Jupyter, a copy-paste into a new notebook) the k-th cell tagged
``answer`` of the same type stands for the k-th answer cell of the course, provided the
submission has exactly as many of them. An answer cell that cannot be found keeps the course's
stub, so its exercise is "not attempted", and the feedback says why.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ANSWER_TAG = "answer"
CHECK_TAG = "check"
MAX_NOTEBOOK_BYTES = 20 * 2**20
_STUB_ID = re.compile(r"Exercise (\d+(?:\.\d+)+)")


class InvalidSubmission(ValueError):
    """The file cannot be graded at all (not a notebook, unknown name, ...)."""


@dataclass
class CourseCell:
    index: int
    cell_id: str
    cell_type: str
    source: str
    tags: list[str]
    exercise_ids: list[str] = field(default_factory=list)  # answer cells: their exercises
    checks: list[tuple[str, str]] = field(default_factory=list)  # check cells: (id, expression)

    @property
    def is_answer(self) -> bool:
        return ANSWER_TAG in self.tags

    @property
    def is_check(self) -> bool:
        return CHECK_TAG in self.tags


@dataclass
class CourseNotebook:
    """An exercise notebook of the course, parsed once per grading run."""

    name: str
    path: Path
    cells: list[CourseCell]
    raw: bytes

    @property
    def answer_cells(self) -> list[CourseCell]:
        return [cell for cell in self.cells if cell.is_answer]

    def exercise_ids(self) -> list[str]:
        """Every exercise of the notebook in order: checked ones and written answers."""
        seen: list[str] = []
        for cell in self.cells:
            ids = [eid for eid, _ in cell.checks] if cell.is_check else (
                cell.exercise_ids if cell.is_answer and cell.cell_type == "markdown" else [])
            for eid in ids:
                if eid not in seen:
                    seen.append(eid)
        return seen

    def written_ids(self) -> list[str]:
        return [eid for cell in self.answer_cells if cell.cell_type == "markdown"
                for eid in cell.exercise_ids]


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        if not all(isinstance(line, str) for line in source):
            raise InvalidSubmission("a cell's source is not text")
        return "".join(source)
    if not isinstance(source, str):
        raise InvalidSubmission("a cell's source is not text")
    return source


def check_calls(source: str) -> list[tuple[str, str]]:
    """``check("3.1", momentum_step)`` calls in a check cell: [("3.1", "momentum_step")]."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "check" and len(node.args) >= 2 \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            calls.append((node.args[0].value, ast.unparse(node.args[1])))
    return calls


def load_course(path: Path) -> CourseNotebook:
    raw = Path(path).read_bytes()
    notebook = json.loads(raw.decode("utf-8"))
    cells: list[CourseCell] = []
    for index, cell in enumerate(notebook["cells"]):
        metadata = cell.get("metadata", {})
        course_cell = CourseCell(index, str(cell.get("id", f"cell-{index}")), cell["cell_type"],
                                 _source(cell), list(metadata.get("tags", [])))
        if course_cell.is_check:
            course_cell.checks = check_calls(course_cell.source)
        if course_cell.is_answer:
            if "exercise_id" in metadata:
                course_cell.exercise_ids = [str(metadata["exercise_id"])]
            else:
                course_cell.exercise_ids = list(dict.fromkeys(_STUB_ID.findall(course_cell.source)))
        cells.append(course_cell)
    # answer cells without an id of their own belong to the next check cell
    for position, cell in enumerate(cells):
        if cell.is_answer and not cell.exercise_ids and cell.cell_type == "code":
            for later in cells[position + 1:]:
                if later.is_check and later.checks:
                    cell.exercise_ids = [later.checks[0][0]]
                    break
    return CourseNotebook(Path(path).name, Path(path), cells, raw)


@dataclass
class Rebuilt:
    """The course notebook with the learner's answer sources: what the child will run."""

    course: CourseNotebook
    answers: dict[str, str]                  # course answer cell id -> learner's source
    notes: dict[str, list[str]]              # exercise id -> remarks for the learner
    missing: set[str]                        # answer cell ids not found in the submission

    def source_of(self, cell: CourseCell) -> str:
        return self.answers.get(cell.cell_id, cell.source) if cell.is_answer else cell.source

    def answer_sources(self, exercise_id: str) -> list[tuple[str, str]]:
        """(cell id, learner source) of the answer cells that belong to ``exercise_id``."""
        return [(cell.cell_id, self.source_of(cell)) for cell in self.course.answer_cells
                if exercise_id in cell.exercise_ids]


def parse_submission(data: bytes) -> dict[str, Any]:
    """The submission's JSON, or InvalidSubmission saying plainly what is wrong with it."""
    if not data.strip():
        raise InvalidSubmission("the file is empty")
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise InvalidSubmission(f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSubmission("not a notebook: the file is not UTF-8 text") from None
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidSubmission(f"not a notebook: malformed JSON ({error.msg} at line "
                                f"{error.lineno})") from None
    except RecursionError:
        raise InvalidSubmission("not a notebook: JSON nested too deeply") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise InvalidSubmission("not a notebook: no list of cells")
    for cell in notebook["cells"]:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise InvalidSubmission("not a notebook: a cell without a cell_type")
        _source(cell)
    return notebook


def rebuild(course: CourseNotebook, data: bytes) -> Rebuilt:
    notebook = parse_submission(data)
    submitted = notebook["cells"]
    by_id: dict[str, dict[str, Any]] = {}
    for cell in submitted:
        cell_id = cell.get("id")
        if isinstance(cell_id, str) and cell_id not in by_id:
            by_id[cell_id] = cell
    tagged = {kind: [cell for cell in submitted if cell["cell_type"] == kind
                     and ANSWER_TAG in _tags(cell)] for kind in ("code", "markdown")}
    course_answers = {kind: [cell for cell in course.answer_cells if cell.cell_type == kind]
                      for kind in ("code", "markdown")}
    answers: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    missing: set[str] = set()
    for kind, cells in course_answers.items():
        by_order = len(tagged[kind]) == len(cells)
        for position, cell in enumerate(cells):
            match = by_id.get(cell.cell_id)
            how = "id"
            if match is not None and match["cell_type"] != cell.cell_type:
                match = None
            if match is None and by_order:
                match, how = tagged[kind][position], "order"
            if match is None:
                missing.add(cell.cell_id)
                for eid in cell.exercise_ids:
                    notes.setdefault(eid, []).append(
                        f"answer cell {cell.cell_id!r} was not found in your notebook (deleted, "
                        "or its id and tag changed), so the course's empty cell was used")
                continue
            answers[cell.cell_id] = _source(match)
            if how == "order":
                for eid in cell.exercise_ids:
                    notes.setdefault(eid, []).append(
                        f"answer cell {cell.cell_id!r} was matched by position (cell ids missing)")
    return Rebuilt(course, answers, notes, missing)


def _tags(cell: dict[str, Any]) -> list[str]:
    metadata = cell.get("metadata")
    tags = metadata.get("tags", []) if isinstance(metadata, dict) else []
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []
