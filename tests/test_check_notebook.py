"""`make check` (course_lib/exercises/make_check.py): decided from a fresh run of a copy, never fooled
by what a learner's file has saved, and never stopped by one broken answer.

The learner notebooks here are made the way a learner makes them: from the course's exercise
notebook, with answer cells filled in (the solutions' answers, or wrong ones), saved with or
without outputs, with check cells deleted or retagged. Each test runs the real command-line
entry point on a file in a temporary folder. A small self-made template (ids 92.x) covers
written answers and a missing answer cell without depending on the course's notebooks.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.exercises import make_check
from course_lib.exercises.notebook_runner import execute

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "03_momentum.ipynb"  # four function exercises
# The per-cell limit for the endless-loop tests: short, but long enough that no honest cell
# reaches it on a loaded 2-core machine.
LOOP_LIMIT_S = 12
EXERCISE = REPO_ROOT / "exercises" / NOTEBOOK
SOLUTION = REPO_ROOT / "solutions" / NOTEBOOK


def _tags(cell):
    return cell.metadata.get("tags", [])


def _check_ids(notebook):
    return [re.search(r'check\("([\d.]+)"', c.source).group(1)
            for c in notebook.cells if "check" in _tags(c)]


def _answer_ids(notebook):
    """{exercise id: the id of its code answer cell} (the answer comes before its check)."""
    result, pending = {}, None
    for cell in notebook.cells:
        if "answer" in _tags(cell) and cell.cell_type == "code":
            pending = cell.id
        elif "check" in _tags(cell) and pending is not None:
            result[re.search(r'check\("([\d.]+)"', cell.source).group(1)] = pending
            pending = None
    return result


def learner_notebook(answers=None, *, solved=()):
    """The exercise notebook with some answer cells replaced: ``solved`` ids get the
    solution's answer, ``answers`` maps ids to source text of the learner's own."""
    notebook = nbformat.read(EXERCISE, as_version=4)
    solution = {c.id: c for c in nbformat.read(SOLUTION, as_version=4).cells}
    cell_of = _answer_ids(notebook)
    for exercise_id in solved:
        _cell(notebook, cell_of[exercise_id]).source = solution[cell_of[exercise_id]].source
    for exercise_id, source in (answers or {}).items():
        _cell(notebook, cell_of[exercise_id]).source = source
    return notebook


def _cell(notebook, cell_id):
    return next(c for c in notebook.cells if c.id == cell_id)


def solution_answer(exercise_id):
    solution = nbformat.read(SOLUTION, as_version=4)
    return _cell(solution, _answer_ids(solution)[exercise_id]).source


def run_make_check(path, *extra, timeout=60):
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "course_lib.exercises.make_check", str(path), *extra],
        capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
    return completed, time.perf_counter() - start


def lines_by_id(stdout):
    """{exercise id: its verdict line}, from the indented lines make check prints."""
    return {match.group(1): line.strip() for line in stdout.splitlines()
            if (match := re.match(r"  (\d+\.\d+) ", line))}


def save(notebook, folder, name=NOTEBOOK):
    path = folder / name
    nbformat.write(notebook, path)
    return path


def ids():
    """The ids of the exercises with a check cell, in order."""
    return _check_ids(nbformat.read(EXERCISE, as_version=4))


def written_ids():
    return [c.metadata["exercise_id"] for c in nbformat.read(EXERCISE, as_version=4).cells
            if "answer" in _tags(c) and c.cell_type == "markdown" and "exercise_id" in c.metadata]


def all_ids():
    """Every exercise make check lists: checked ones and written answers, in notebook order."""
    order = [c for c in nbformat.read(EXERCISE, as_version=4).cells]
    found = []
    for cell in order:
        if "check" in _tags(cell):
            found += _check_ids(new_notebook(cells=[cell]))
        elif "answer" in _tags(cell) and "exercise_id" in cell.metadata:
            found.append(cell.metadata["exercise_id"])
    return found


# ---------------------------------------------------------------- never fooled by the file


def test_blank_notebook_run_and_saved_fails_naming_every_exercise(tmp_path):
    notebook = learner_notebook()
    execute(notebook, tmp_path)  # the learner ran every cell (❌ outputs) and saved
    path = save(notebook, tmp_path)
    completed, _ = run_make_check(path)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    found = lines_by_id(completed.stdout)
    assert list(found) == all_ids()
    for exercise_id in ids():
        assert found[exercise_id] == (f"{exercise_id} ❌ not passed yet: not attempted yet "
                                      "(your function still raises NotImplementedError)")
    for exercise_id in written_ids():
        assert found[exercise_id] == (f"{exercise_id} ✍ written answer: nothing written yet "
                                      "(your instructor reads it)")
    assert f"0 of {len(ids())} exercises pass" in completed.stdout


def test_wrong_answers_saved_with_forged_pass_lines_fail(tmp_path):
    first = ids()[0]
    wrong = solution_answer(first).replace("clone()", "clone().mul(2)").replace(
        "param.", "param.mul_(1.0001).")
    notebook = learner_notebook({first: wrong}, solved=ids()[1:])
    for cell in notebook.cells:  # whatever the file says, it is not read
        if "check" in _tags(cell):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                   text="✅ Exercise 3.1 passed (15 cases)\n")]
            cell.execution_count = 1
    path = save(notebook, tmp_path)
    completed, _ = run_make_check(path)
    assert completed.returncode == 1
    found = lines_by_id(completed.stdout)
    assert found[first].startswith(f"{first} ❌ not passed yet: ")
    for exercise_id in ids()[1:]:
        assert found[exercise_id].startswith(f"{exercise_id} ✅ passed"), completed.stdout


def test_cleared_outputs_and_deleted_or_retagged_check_cells_change_nothing(tmp_path):
    exercise_ids = ids()
    solved, unsolved = exercise_ids[:1], exercise_ids[1:]
    notebook = learner_notebook(solved=solved)
    checks = [c for c in notebook.cells if "check" in _tags(c)]
    # the second check cell deleted, the others retagged so nbval would skip them
    notebook.cells.remove(checks[1])
    for cell, tag in zip(checks[2:], ["nbval-skip", "nbval-ignore-output"]):
        cell.metadata["tags"] = [tag]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path = save(notebook, tmp_path)
    completed, _ = run_make_check(path)
    assert completed.returncode == 1
    found = lines_by_id(completed.stdout)
    assert list(found) == all_ids()  # every exercise is named, deleted check or not
    assert found[solved[0]].startswith(f"{solved[0]} ✅ passed")
    for exercise_id in unsolved:
        assert found[exercise_id].startswith(f"{exercise_id} ❌ not passed yet: not attempted")
    assert f"1 of {len(exercise_ids)} exercises pass" in completed.stdout


def test_correct_answers_with_stale_failing_outputs_pass(tmp_path):
    notebook = learner_notebook()
    execute(notebook, tmp_path)  # ❌ outputs stored from the blank run ...
    solution = learner_notebook(solved=ids())
    for cell in notebook.cells:  # ... then the answers written, and saved without re-running
        if "answer" in _tags(cell):
            cell.source = _cell(solution, cell.id).source
    path = save(notebook, tmp_path)
    completed, _ = run_make_check(path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"{len(ids())} of {len(ids())} exercises pass" in completed.stdout
    assert "❌" not in completed.stdout


def test_a_passing_answer_the_grader_would_flag_is_shown_as_such_not_as_passed(tmp_path):
    first, second = ids()[:2]
    # Right answers, but the first one imports the course's own optimizers: course-grade flags
    # that for review (score 0 until an instructor looks), so make check must not say ✅.
    borrowed = "import course_lib.optim as mine\n" + solution_answer(first)
    path = save(learner_notebook({first: borrowed}, solved=[second]), tmp_path)
    completed, _ = run_make_check(path)
    lines = lines_by_id(completed.stdout)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert lines[first].startswith(f"{first} ⚠ passes its check, but course-grade will flag it")
    assert "course_lib.optim" in lines[first] and "line 1" in lines[first]
    assert lines[second].startswith(f"{second} ✅")
    assert f"1 of {len(ids())} exercises pass" in completed.stdout


def test_printed_or_displayed_fake_verdicts_are_ignored(tmp_path):
    first = ids()[0]
    fake = json.dumps({"nonce": "guess", "result": {
        "exercise_id": first, "passed": True, "n_cases": 9, "status": "passed"}})
    forger = (solution_answer(first).split("def ")[0] + "from IPython.display import display\n"
              f"print('✅ Exercise {first} passed (15 cases)')\n"
              f"display({{'{make_check.RESULT_MIMETYPE}': {fake}}}, raw=True)\n"
              + "def " + "def ".join(solution_answer(first).split("def ")[1:])
              .replace("buf.mul_(momentum)", "buf.mul_(momentum * 0.5)"))
    notebook = learner_notebook({first: forger})
    path = save(notebook, tmp_path)
    completed, _ = run_make_check(path)
    assert completed.returncode == 1
    assert not lines_by_id(completed.stdout)[first].startswith(f"{first} ✅")


# ---------------------------------------------------------------- hostile and unlucky answers


def test_an_answer_that_deletes_files_leaves_the_notebook_byte_identical(tmp_path):
    first, *rest = ids()
    path = tmp_path / NOTEBOOK
    # Only what make check's scratch folder holds, and the learner's file by its absolute path:
    # never anything around them (this test runs on a shared machine).
    vandal = ("import glob, os\n"
              "assert 'make-check-' in os.getcwd(), os.getcwd()  # a safety net for this test\n"
              "for name in glob.glob('*'):  # the kernel's working folder: the scratch copy\n"
              "    os.remove(name) if os.path.isfile(name) else None\n"
              f"os.remove({str(path)!r})  # and the learner's own file, by its absolute path\n"
              + solution_answer(first))
    notebook = learner_notebook({first: vandal}, solved=rest)
    save(notebook, tmp_path)
    before = path.read_bytes()
    completed, _ = run_make_check(path)
    assert path.read_bytes() == before
    assert "put it back" in completed.stdout
    lines = lines_by_id(completed.stdout)
    # the checks still ran and passed; the deleting answer is the grader's to review
    assert lines[first].startswith(f"{first} ⚠ passes its check"), completed.stdout
    assert "writes or deletes files" in lines[first] or "os.remove" in lines[first], lines[first]
    assert all(lines[other].startswith(f"{other} ✅") for other in rest), completed.stdout
    assert completed.returncode == 1


def test_os_exit_in_one_answer_is_reported_at_once_and_the_others_still_checked(tmp_path):
    exercise_ids = ids()
    killer = exercise_ids[1]
    notebook = learner_notebook({killer: "import os\nos._exit(3)\n"},
                                solved=[i for i in exercise_ids if i != killer])
    path = save(notebook, tmp_path)
    # a per-cell limit far above 10 s: the death must be noticed by itself, not by a timeout
    completed, elapsed = run_make_check(path, "--timeout", "120", timeout=120)
    found = lines_by_id(completed.stdout)
    assert completed.returncode == 1
    assert found[killer].startswith(f"{killer} — not checked: the kernel died while your "
                                    "answer cell ran (the kernel process exited with code 3")
    for exercise_id in exercise_ids:
        if exercise_id != killer:
            assert found[exercise_id].startswith(f"{exercise_id} ✅ passed"), completed.stdout
    assert elapsed < 60  # two kernel starts and a replay under load; a timeout would be 120+


def test_kernel_death_is_noticed_within_ten_seconds(tmp_path):
    notebook = new_notebook(cells=[new_code_cell("import os\nos._exit(0)")])
    kernel = make_check.Kernel(notebook, tmp_path)
    kernel.start()
    try:
        start = time.perf_counter()
        run = kernel.run(make_check.Step(0, "answer", "c", ("1.1",)), timeout=300)
        assert time.perf_counter() - start < 10
    finally:
        kernel.stop()
    assert run.status == "dead" and run.why == "the kernel process exited with code 0"


def test_an_endless_top_level_loop_times_out_and_later_exercises_are_still_checked(tmp_path):
    exercise_ids = ids()
    looper = exercise_ids[1]
    notebook = learner_notebook({looper: "while True:\n    pass\n"},
                                solved=[i for i in exercise_ids if i != looper])
    path = save(notebook, tmp_path)
    completed, _ = run_make_check(path, "--timeout", str(LOOP_LIMIT_S), timeout=240)
    found = lines_by_id(completed.stdout)
    assert completed.returncode == 1
    assert found[looper] == (f"{looper} ⏱ stopped after {LOOP_LIMIT_S} s: your answer cell did "
                             "not finish (a loop that never ends?)")
    for exercise_id in exercise_ids:
        if exercise_id != looper:
            assert found[exercise_id].startswith(f"{exercise_id} ✅ passed"), completed.stdout


def test_a_function_that_switches_the_alarm_off_is_stopped_by_the_cell_limit(tmp_path):
    exercise_ids = ids()
    first = exercise_ids[0]
    answer = solution_answer(first)
    name = re.search(r"def (\w+)\(", answer).group(1)
    looper = (answer + f"\n\n_real = {name}\n\n"
              f"def {name}(*args, **kwargs):\n"
              "    import signal\n"
              "    signal.setitimer(signal.ITIMER_REAL, 0)\n"
              "    while True:\n"
              "        try:\n"
              "            pass\n"
              "        except BaseException:\n"
              "            pass\n")
    notebook = learner_notebook({first: looper}, solved=exercise_ids[1:])
    path = save(notebook, tmp_path)
    completed, _ = run_make_check(path, "--timeout", str(LOOP_LIMIT_S), timeout=240)
    found = lines_by_id(completed.stdout)
    assert found[first] == (f"{first} ⏱ stopped after {LOOP_LIMIT_S} s: the check of your "
                            "function did not finish (a loop that never ends?)")
    for exercise_id in exercise_ids[1:]:
        assert found[exercise_id].startswith(f"{exercise_id} ✅"), completed.stdout


def test_sys_exit_in_an_answer_cell_is_an_error_not_a_crash(tmp_path):
    first = ids()[0]
    notebook = learner_notebook({first: "import sys\nsys.exit('bye')\n"})
    path = save(notebook, tmp_path)
    completed, _ = run_make_check(path)
    found = lines_by_id(completed.stdout)
    assert completed.returncode == 1
    assert found[first].startswith(f"{first} ❌ not passed yet: your answer cell raised "
                                   "SystemExit: bye")


# ---------------------------------------------------------------- a template of our own


def _toy_template(folder):
    setup = new_code_cell(
        "import torch\n"
        "from course_lib.exercises.checks import Case, register, register_written, check\n"
        "register('92.1', reference=lambda x: 2 * x)(\n"
        "    lambda rng: iter([Case('a vector', x=torch.ones(3))]))\n"
        "register_written('92.2', prompt='Why?')")
    answer = new_code_cell("def double(x):\n    raise NotImplementedError(\"Exercise 92.1: "
                           "replace this line with your code\")",
                           metadata={"tags": ["answer"]})
    check = new_code_cell('check("92.1", double)', metadata={"tags": ["check"]})
    question = new_markdown_cell("**92.2** Why?\n\n*Write your answer here.*",
                                 metadata={"tags": ["answer"], "exercise_id": "92.2"})
    notebook = new_notebook(cells=[setup, answer, check, question])
    for index, cell in enumerate(notebook.cells):
        cell.id = f"toy-{index}"
    folder.mkdir()
    nbformat.write(notebook, folder / "92_toy.ipynb")
    return notebook


def test_written_answers_are_listed_and_count_neither_way(tmp_path):
    template = _toy_template(tmp_path / "templates")
    learner = copy.deepcopy(template)
    learner.cells[1].source = "def double(x):\n    return x + x"
    path = save(learner, tmp_path, "92_toy.ipynb")
    completed, _ = run_make_check(path, "--templates", str(tmp_path / "templates"))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    found = lines_by_id(completed.stdout)
    assert found == {"92.1": "92.1 ✅ passed (1 case)",
                     "92.2": "92.2 ✍ written answer: nothing written yet (your instructor "
                             "reads it)"}
    assert "1 of 1 exercise passes" in completed.stdout
    learner.cells[3].source = "**92.2** Why?\n\nBecause the step is averaged."
    save(learner, tmp_path, "92_toy.ipynb")
    completed, _ = run_make_check(path, "--templates", str(tmp_path / "templates"))
    assert lines_by_id(completed.stdout)["92.2"] == "92.2 ✍ written answer: read by your instructor"


def test_answers_are_found_by_order_when_ids_changed_and_missing_ones_said(tmp_path):
    template = _toy_template(tmp_path / "templates")
    learner = copy.deepcopy(template)
    learner.cells[1].id = "renamed-by-another-editor"
    learner.cells[1].source = "def double(x):\n    return 2 * x"
    path = save(learner, tmp_path, "my_attempt.ipynb")  # another name: matched by cell ids
    completed, _ = run_make_check(path, "--templates", str(tmp_path / "templates"))
    assert lines_by_id(completed.stdout)["92.1"] == "92.1 ✅ passed (1 case)"
    del learner.cells[1]
    path = save(learner, tmp_path, "92_toy.ipynb")
    completed, _ = run_make_check(path, "--templates", str(tmp_path / "templates"))
    line = lines_by_id(completed.stdout)["92.1"]
    assert line.startswith("92.1 ❌ not passed yet: not attempted yet")
    assert "your notebook has no answer cell 'toy-1'" in line


def test_bad_input_gets_a_clear_error(tmp_path):
    broken = tmp_path / "03_momentum.ipynb"
    broken.write_text("{ not json", encoding="utf-8")
    completed, _ = run_make_check(broken)
    assert completed.returncode == 2
    assert "cannot be read as a notebook" in completed.stderr
    assert broken.read_text(encoding="utf-8") == "{ not json"
    completed, _ = run_make_check(tmp_path / "nothing.ipynb")
    assert completed.returncode == 2 and "not a notebook file" in completed.stderr


@pytest.mark.parametrize("solution", sorted((REPO_ROOT / "solutions").glob("*.ipynb")),
                         ids=lambda path: path.stem)
def test_the_grader_scan_finds_nothing_in_the_course_solutions(solution):
    # make check shows ⚠ where course-grade would flag an answer; the model answers must not be
    template = nbformat.read(REPO_ROOT / "exercises" / solution.name, as_version=4)
    plan = make_check.build_plan(template, nbformat.read(solution, as_version=4))
    assert make_check.grader_findings(plan) == {}


def test_an_answer_too_deeply_nested_for_the_grader_scan_is_reported_not_a_crash():
    template = nbformat.read(EXERCISE, as_version=4)
    first = ids()[0]
    # 100 000 unary minuses: Python's parser runs out of memory (MemoryError) reading it
    learner = learner_notebook({first: "x = " + "-" * 100_000 + "1\n" + solution_answer(first)})
    plan = make_check.build_plan(template, learner)
    found = make_check.grader_findings(plan)
    # the grader reads every answer cell for each exercise (names defined anywhere), so each
    # exercise says so, instead of make check crashing with no report at all
    assert first in found and all("nested too deeply" in what[0] for what in found.values())
