"""course-grade on a class of forged, broken and hostile submissions (tests/grade_fixtures).

One grading run (2 workers, a short time limit) grades every fixture; the tests then read its
gradebook: the solutions get full marks, blank notebooks 0, every forgery 0 or ``flagged``,
the almost-right answers 0 on their exercise with the checker's hint, and hostile code costs
only its own exercise (timeout/error/flagged) while the rest of that notebook and every other
student are graded normally. The course's files must be byte-identical afterwards.

The run needs bubblewrap: without the sandbox the hostile fixtures would really delete course
files. tests/test_grade_units.py covers the rest without it.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from course_lib.grade.sandbox import bwrap_path
from grade_fixtures import forge

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 12  # generous: the machines that run the tests are often busy
SEED = "test-secret"

pytestmark = pytest.mark.skipif(
    bwrap_path() is None,
    reason="bubblewrap (bwrap) is not installed or cannot create a sandbox here; the hostile "
           "submissions are only graded inside it (apt-get install bubblewrap)")


def tree_digest(*folders: str) -> dict[str, str]:
    digests = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digests[str(path.relative_to(ROOT))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def write_submissions(root: Path, subs: dict[str, dict[str, bytes]]) -> Path:
    for student, files in subs.items():
        for name, data in files.items():
            path = root / student / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return root


# The grader makes its scratch folders (course-grade-*) under TMPDIR. This module's runs put them
# in a folder of their own, so that test_no_sandbox_process_is_left_running looks only at the
# sandboxes these runs started, never at another grader running on the same machine.
_GRADER_TMP: dict[str, Path] = {}


@pytest.fixture(scope="module", autouse=True)
def grader_tmp():
    folder = Path(tempfile.mkdtemp(prefix="course-grade-test-"))
    folder.chmod(0o755)  # without bwrap the harness runs as nobody and must pass through
    _GRADER_TMP["path"] = folder
    yield folder
    _GRADER_TMP.clear()
    shutil.rmtree(folder, ignore_errors=True)


def grade(submissions: Path, out: Path, *extra: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if "path" in _GRADER_TMP:
        env["TMPDIR"] = str(_GRADER_TMP["path"])
    return subprocess.run(
        [sys.executable, "-m", "course_lib.grade", str(submissions), "--out", str(out),
         "--timeout", str(TIMEOUT_S), "--seed", SEED, *extra],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    before = tree_digest("exercises", "solutions", "course_lib")
    root = tmp_path_factory.mktemp("class")
    submissions = write_submissions(root / "submissions", forge.submissions())
    out = root / "results"
    run = grade(submissions, out, "--workers", "2")
    after = tree_digest("exercises", "solutions", "course_lib")
    return {"run": run, "out": out, "before": before, "after": after,
            "rows": read_rows(out / "gradebook.csv") if (out / "gradebook.csv").exists() else []}


def test_the_run_finishes_with_exit_status_0(graded):
    assert graded["run"].returncode == 0, graded["run"].stderr[-3000:]


def test_course_files_are_byte_identical_after_grading(graded):
    assert graded["after"] == graded["before"]


def test_gradebook_columns_are_exactly_the_contract(graded):
    with open(graded["out"] / "gradebook.csv", encoding="utf-8") as handle:
        assert handle.readline().strip() == "student,notebook,exercise,score,max_score,status,message"


def test_every_row_has_a_known_status_and_score(graded):
    for row in graded["rows"]:
        assert row["status"] in forge.ZERO | {forge.PASSED, forge.INVALID}, row
        if row["status"] == "passed":
            assert row["score"] == row["max_score"] == "1", row
        else:
            assert row["score"] == "0", row


def test_every_fixture_gets_its_expected_rows(graded):
    rules = forge.expected()
    rows = graded["rows"]
    by_key = {(r["student"], r["notebook"], r["exercise"]): r for r in rows}
    problems = []
    for (student, notebook, exercise), statuses in rules.items():
        if exercise == "*":
            continue
        row = by_key.get((student, notebook, exercise))
        if row is None:
            problems.append(f"no row for {student} {notebook} {exercise!r}")
        elif row["status"] not in statuses:
            problems.append(f"{student} {notebook} {exercise}: {row['status']} "
                            f"(want {sorted(statuses)}): {row['message']}")
    for row in rows:
        key = (row["student"], row["notebook"], row["exercise"])
        if key in rules:
            continue
        statuses = rules.get((row["student"], row["notebook"], "*"))
        if statuses is None:
            problems.append(f"unexpected row {key}: {row['status']} {row['message']}")
        elif row["status"] not in statuses:
            problems.append(f"{key}: {row['status']} (want {sorted(statuses)}): {row['message']}")
    assert not problems, "\n".join(problems)


def test_one_row_per_exercise_of_each_submitted_notebook(graded):
    from course_lib.grade.rebuild import load_course

    rows = graded["rows"]
    for name in sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb")):
        exercise_ids = load_course(ROOT / "exercises" / name).exercise_ids()
        for student in ("good_all", "blank_all"):
            got = [r["exercise"] for r in rows if r["student"] == student and r["notebook"] == name]
            assert got == exercise_ids


def test_written_answers_are_exported_scored_only_by_a_marker_and_never_scanned(graded):
    from course_lib.exercises.checks import REGISTRY, discover

    discover()
    rows = {(r["student"], r["notebook"], r["exercise"]): r for r in graded["rows"]}
    names = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    exported = (graded["out"] / "written" / "good_all.md").read_text(encoding="utf-8")
    count = 0
    for name in names:
        for exercise in forge.written_ids(name):
            count += 1
            for student in ("good_all", "blank_all"):
                row = rows[(student, name, exercise)]
                # worth the rubric's marks; 0 until a marker fills written/marks.csv
                assert (row["score"], row["max_score"]) == (
                    "0", f"{REGISTRY[exercise].max_score:g}"), row
                assert "flagged for review" not in row["message"], row
            assert rows[("good_all", name, exercise)]["status"] == "flagged"
            assert rows[("blank_all", name, exercise)]["message"] == "no written answer"
            assert f"{name}, exercise {exercise}" in exported
    assert count >= 11  # one written answer per notebook at least
    quoted = rows[("written_quotes_code", forge.MOMENTUM, "3.6")]
    assert quoted["status"] == "flagged" and "_getframe" not in quoted["message"]
    assert "os._exit(0)" in (graded["out"] / "written" / "written_quotes_code.md").read_text(
        encoding="utf-8")


def test_almost_right_answers_get_the_checkers_hint(graded):
    by_key = {(r["student"], r["exercise"]): r for r in graded["rows"]}
    assert "aliased_input" in by_key[("almost_aliasing", "3.1")]["message"]
    assert "changed_input" in by_key[("almost_grad_mul", "3.4")]["message"]
    assert "changed_input" in by_key[("almost_mutated_hessian", "1.2")]["message"]


def test_flags_say_what_was_found_and_what_the_run_did(graded):
    by_key = {(r["student"], r["exercise"]): r for r in graded["rows"]}
    assert "course_lib.exercises.checks" in by_key[("forge_reference_import", "3.1")]["message"]
    assert "_getframe" in by_key[("forge_stack_frame", "3.1")]["message"]
    assert "__torch_function__" in by_key[("forge_torch_function", "3.1")]["message"]
    assert "os._exit" in by_key[("hostile_os_exit", "3.2")]["message"]
    exit_row = by_key[("hostile_os_exit", "3.2")]["message"]
    assert "run: error" in exit_row and "exited with code 3" in exit_row
    assert "run: timeout" in by_key[("hostile_alarm_off", "3.2")]["message"]
    assert "outside its folder" in by_key[("hostile_delete_files", "3.2")]["message"]


def test_hostile_code_is_reported_plainly(graded):
    by_key = {(r["student"], r["exercise"]): r for r in graded["rows"]}
    assert f"{TIMEOUT_S:g} s" in by_key[("hostile_infinite_loop", "3.2")]["message"]
    assert "SystemExit" in by_key[("hostile_sys_exit", "3.2")]["message"]
    assert "KeyboardInterrupt" in by_key[("hostile_keyboard_interrupt", "3.2")]["message"]
    assert "answer cell did not finish" in by_key[("hostile_toplevel_loop", "3.2")]["message"]
    assert "No space left" in by_key[("hostile_fill_disk", "3.2")]["message"]
    assert "File too large" in by_key[("hostile_huge_output", "3.2")]["message"]
    assert "can't allocate memory" in by_key[("hostile_memory", "3.2")]["message"]


def test_garbage_files_get_one_invalid_row_each_with_a_reason(graded):
    rows = [r for r in graded["rows"] if r["student"] == "garbage"]
    reasons = {r["notebook"]: r["message"] for r in rows}
    assert set(reasons) == {"01_gradient_descent.ipynb", "02_batch_minibatch_sgd.ipynb",
                            "03_momentum.ipynb", "04_nesterov.ipynb", "99_unknown.ipynb",
                            "notes.txt"}
    assert "empty" in reasons["01_gradient_descent.ipynb"]
    assert "malformed JSON" in reasons["02_batch_minibatch_sgd.ipynb"]
    assert "UTF-8" in reasons["03_momentum.ipynb"]
    assert "no exercise notebook of this name" in reasons["99_unknown.ipynb"]
    assert all(r["exercise"] == "" and r["status"] == "invalid" for r in rows)


def test_feedback_per_student_with_verdict_and_hint(graded):
    text = (graded["out"] / "feedback" / "almost_aliasing.md").read_text(encoding="utf-8")
    assert "### Exercise 3.1: ❌ not passed" in text
    assert "Hint:" in text and "clone" in text
    assert "### Exercise 3.2: ✅ passed" in text
    good = (graded["out"] / "feedback" / "good_all.md").read_text(encoding="utf-8")
    assert "❌" not in good


def test_misconception_report_counts_hint_ids_most_common_first(graded):
    text = (graded["out"] / "misconceptions.md").read_text(encoding="utf-8")
    assert (graded["out"] / "misconceptions.png").read_bytes().startswith(b"\x89PNG")
    section = text.split("## Exercise 3.1")[1].split("## Exercise")[0]
    assert "`aliased_input` | 1 |" in section
    passed_31 = sum(1 for r in graded["rows"] if r["exercise"] == "3.1" and r["status"] == "passed")
    submitted_31 = sum(1 for r in graded["rows"] if r["exercise"] == "3.1")
    assert f"{passed_31} of {submitted_31} passed." in section


def test_rerun_reuses_every_result_and_writes_the_same_gradebook(graded, tmp_path):
    out = graded["out"]
    before = (out / "gradebook.csv").read_bytes()
    submissions = out.parent / "submissions"
    run = grade(submissions, out, "--workers", "2", timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "(0 to grade" in run.stderr
    assert (out / "gradebook.csv").read_bytes() == before


def test_overrides_csv_is_applied_on_a_rerun(graded, tmp_path):
    out = graded["out"]
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("student,notebook,exercise,score,status,message\n"
                         "hostile_delete_files,03_momentum.ipynb,3.2,1,passed,"
                         "deleting files was a test of the sandbox\n", encoding="utf-8")
    work_copy = tmp_path / "results"
    work_copy.mkdir()
    subprocess.run(["cp", "-a", str(out / ".work"), str(work_copy / ".work")], check=True)
    run = grade(out.parent / "submissions", work_copy, "--overrides", str(overrides),
                "--workers", "2", timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {(r["student"], r["exercise"]): r for r in read_rows(work_copy / "gradebook.csv")}
    row = rows[("hostile_delete_files", "3.2")]
    assert (row["score"], row["status"]) == ("1", "passed")
    assert "instructor override" in row["message"] and "was flagged" in row["message"]


def test_no_sandbox_process_is_left_running(graded, grader_tmp):
    mine = os.fsencode(grader_tmp)  # only the sandboxes this module's runs started
    leftovers = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"harness.py") for part in cmdline) and \
                any(mine in part for part in cmdline):
            leftovers.append(entry.name)
    assert not leftovers
