"""Generate ``exercises/NN_topic.ipynb`` from ``solutions/NN_topic.ipynb`` (the single source).

    python -m course_lib.exercises.generate            # (re)write every exercises/ notebook
    python -m course_lib.exercises.generate --check    # exit 1, listing files that are not up to date
    make exercises                            # the same as the first line

In a solution notebook, each *answer cell* (tag ``answer``) holds what the learner sees plus the
solution between two marker lines::

    def gd_step(param, grad, lr):
        \"\"\"θ ← θ − lr·g, in place.\"\"\"
        ### BEGIN SOLUTION
        param.sub_(lr * grad)
        ### END SOLUTION

and is followed by a *check cell* (tag ``check``) calling ``check("1.1", gd_step)``. The
generator replaces each region, markers included, by one line at the marker's indentation::

        raise NotImplementedError("Exercise 1.1: replace this line with your code")

The exercise id comes from the next check cell, or from the marker (``### BEGIN SOLUTION 1.1``)
when a cell's id is not the next check's. Markdown answer cells (written answers, with
``"exercise_id": "3.6"`` in their metadata) hold the model answer between
``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` lines; it becomes
"*Write your answer here.*".

Nothing is given away and no verdict shows before the learner's work:

- check cells and answer cells lose their outputs and execution counts (a stored
  "✅ passed" line under an unanswered stub reads as passed);
- cells tagged ``solution-only`` (results, demos, explanations that give an answer away) are
  left out, and so is markdown text between ``<!-- BEGIN SOLUTION ONLY -->`` and
  ``<!-- END SOLUTION ONLY -->`` lines (a cell left with no text is left out too).

Everything else (other cells and their outputs, cell ids, metadata) is copied unchanged, and
the file is written exactly as nbformat writes it, so regenerating an unchanged source gives
the same bytes.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

BEGIN_MARKER = "### BEGIN SOLUTION"
END_MARKER = "### END SOLUTION"
# In markdown (written answers) the markers are HTML comments, invisible when rendered.
MARKDOWN_BEGIN_MARKER = "<!-- BEGIN SOLUTION -->"
MARKDOWN_END_MARKER = "<!-- END SOLUTION -->"
SOLUTION_ONLY_BEGIN = "<!-- BEGIN SOLUTION ONLY -->"
SOLUTION_ONLY_END = "<!-- END SOLUTION ONLY -->"
ANSWER_TAG = "answer"
CHECK_TAG = "check"
SOLUTION_ONLY_TAG = "solution-only"
MARKDOWN_PROMPT = "*Write your answer here.*"

_EXERCISE_ID = r"\d+(?:\.\d+)+"
_CHECK_CALL = re.compile(r"""check\(\s*["'](""" + _EXERCISE_ID + r""")["']""")
_MARKER_ID = re.compile(_EXERCISE_ID)

REPO_ROOT = Path(__file__).resolve().parents[2]


class AuthoringError(ValueError):
    """A solution notebook breaks the authoring format; the message says where and how."""


def stub_line(exercise_id: str, indent: str) -> str:
    return f'{indent}raise NotImplementedError("Exercise {exercise_id}: replace this line with your code")\n'


def tags(cell: dict[str, Any]) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def source_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def generate(solution: dict[str, Any], name: str = "<notebook>") -> dict[str, Any]:
    """The exercise notebook (a new JSON dict) made from a solution notebook's JSON dict."""
    exercise = copy.deepcopy(solution)
    cells = exercise.get("cells", [])
    kept: list[dict[str, Any]] = []
    for index, cell in enumerate(cells):
        where = f"{name}, cell {index} (id {cell.get('id', '?')!r})"
        if SOLUTION_ONLY_TAG in tags(cell):
            continue
        if cell["cell_type"] == "markdown":
            text = _drop_solution_only(source_text(cell), where)
            if not text.strip():
                continue  # the whole cell was solution-only text
            cell["source"] = text.splitlines(keepends=True)
        if ANSWER_TAG in tags(cell):
            if "id" not in cell:
                raise AuthoringError(f"{where}: answer cells need a cell id (nbformat 4.5) so "
                                     "the grader can find them")
            default_id = (cell.get("metadata", {}).get("exercise_id")
                          or _next_check_id(cells, index))
            new_source = _replace_regions(source_text(cell), cell["cell_type"], default_id,
                                          where)
            cell["source"] = new_source.splitlines(keepends=True)
        if cell["cell_type"] == "code" and (ANSWER_TAG in tags(cell) or CHECK_TAG in tags(cell)):
            cell["outputs"] = []  # no verdict (and no answer's output) before the learner's work
            cell["execution_count"] = None
        kept.append(cell)
    exercise["cells"] = kept
    return exercise


def _drop_solution_only(text: str, where: str) -> str:
    """``text`` without the lines from SOLUTION ONLY's begin marker to its end marker."""
    output: list[str] = []
    opened: int | None = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.strip()
        if stripped.startswith(SOLUTION_ONLY_BEGIN):
            if opened is not None:
                raise AuthoringError(f"{where}, line {number}: {SOLUTION_ONLY_BEGIN} inside "
                                     f"another one (opened on line {opened})")
            opened = number
        elif stripped.startswith(SOLUTION_ONLY_END):
            if opened is None:
                raise AuthoringError(f"{where}, line {number}: {SOLUTION_ONLY_END} without "
                                     f"{SOLUTION_ONLY_BEGIN}")
            opened = None
        elif opened is None:
            output.append(line)
    if opened is not None:
        raise AuthoringError(f"{where}: {SOLUTION_ONLY_BEGIN} on line {opened} is never closed")
    result = "".join(output)
    return result if text.endswith("\n") else result.rstrip("\n")


def _next_check_id(cells: list[dict[str, Any]], index: int) -> str | None:
    """The exercise id called by the first check cell after cell ``index``, if any."""
    for cell in cells[index + 1:]:
        if CHECK_TAG in tags(cell):
            match = _CHECK_CALL.search(source_text(cell))
            return match.group(1) if match else None
    return None


def _replace_regions(text: str, cell_type: str, default_id: str | None, where: str) -> str:
    lines = text.splitlines(keepends=True)
    output: list[str] = []
    region_start: int | None = None
    region_id: str | None = None
    n_regions = 0
    begin, end = BEGIN_MARKER, END_MARKER
    if cell_type == "markdown" and MARKDOWN_BEGIN_MARKER in text:
        begin, end = MARKDOWN_BEGIN_MARKER, MARKDOWN_END_MARKER
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith(begin):
            if region_start is not None:
                raise AuthoringError(f"{where}, line {number}: {begin} inside another "
                                     f"solution region (opened on line {region_start})")
            region_start = number
            marker_id = _MARKER_ID.search(stripped[len(begin):])
            region_id = marker_id.group(0) if marker_id else default_id
            if region_id is None:
                raise AuthoringError(f"{where}: no exercise id for this solution region; put a "
                                     "check cell (check(\"N.M\", ...)) after the answer cell, "
                                     f"write `{BEGIN_MARKER} N.M`, or (markdown) give the cell "
                                     "metadata \"exercise_id\"")
            indent = line[: len(line) - len(line.lstrip())]
            if cell_type == "code":
                if not indent:
                    raise AuthoringError(
                        f"{where}, line {number}: the solution region is at the top level of the "
                        "cell, so the exercise cell itself would raise; put it inside a function")
                output.append(stub_line(region_id, indent))
            else:
                output.append(MARKDOWN_PROMPT + "\n")
            n_regions += 1
        elif stripped.startswith(end):
            if region_start is None:
                raise AuthoringError(f"{where}, line {number}: {end} without {begin}")
            region_start = None
        elif region_start is None:
            output.append(line)
    if region_start is not None:
        raise AuthoringError(f"{where}: {begin} on line {region_start} is never closed")
    if n_regions == 0:
        raise AuthoringError(f"{where}: answer cell without a {begin} / {end} region")
    result = "".join(output)
    # the stub line ends with a newline; keep the cell's own ending (nbformat stores none)
    return result if text.endswith("\n") else result.rstrip("\n")


def dumps(notebook: dict[str, Any]) -> str:
    """JSON text exactly as ``nbformat.write`` produces it (indent 1, sorted keys, UTF-8)."""
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False,
                      separators=(",", ": ")) + "\n"


def exercise_text(solution_path: Path) -> str:
    """The exact text of the exercise notebook generated from ``solution_path``."""
    solution = json.loads(solution_path.read_text(encoding="utf-8"))
    return dumps(generate(solution, name=str(solution_path)))


def course_exercises(solutions: Path | None = None) -> dict[str, Any]:
    """{file name: a function returning that exercise notebook's text}, generated in memory
    from ``solutions`` (default: this checkout's ``solutions/``) exactly as ``make exercises``
    writes it. ``make check`` compares a learner's notebook with these, never with a file in
    ``exercises/`` that the learner may have edited."""
    folder = REPO_ROOT / "solutions" if solutions is None else solutions
    return {path.name: (lambda path=path: exercise_text(path))
            for path in sorted(folder.glob("*.ipynb"))}


def pairs(root: Path = REPO_ROOT) -> list[tuple[Path, Path]]:
    """(solution, exercise) paths for every solution notebook."""
    return [(path, root / "exercises" / path.name)
            for path in sorted((root / "solutions").glob("*.ipynb"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate exercises/ from solutions/.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the exercises/ files that differ "
                             "from what solutions/ generates")
    parser.add_argument("--root", type=Path, default=REPO_ROOT,
                        help="the course folder holding solutions/ and exercises/")
    args = parser.parse_args(argv)

    stale: list[str] = []
    try:
        for solution_path, exercise_path in pairs(args.root):
            text = exercise_text(solution_path)
            current = exercise_path.read_text(encoding="utf-8") if exercise_path.exists() else None
            if current == text:
                continue
            if args.check:
                why = "missing" if current is None else "differs from its solution"
                stale.append(f"{exercise_path.relative_to(args.root)} ({why})")
            else:
                exercise_path.parent.mkdir(exist_ok=True)
                exercise_path.write_text(text, encoding="utf-8")
                print(f"wrote {exercise_path.relative_to(args.root)}")
    except AuthoringError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sources = {path.name for path, _ in pairs(args.root)}
    for orphan in sorted((args.root / "exercises").glob("*.ipynb")):
        if orphan.name not in sources:
            stale.append(f"exercises/{orphan.name} (no solutions/{orphan.name} to generate it "
                         "from)")
    if stale:
        print("exercises/ is not what `make exercises` generates from solutions/:")
        for line in stale:
            print(f"  {line}")
        print("Run `make exercises` and commit the result." if args.check
              else "Remove exercise notebooks that have no solution source.")
        return 1
    if args.check:
        print("exercises/ is up to date with solutions/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
