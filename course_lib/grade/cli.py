"""``course-grade SUBMISSIONS --out RESULTS``: grade a class's exercise notebooks.

    course-grade submissions/ --out results/ --workers 2 --seed "$SECRET"
    python -m course_lib.grade submissions/ --out results/ --shard 0/4

``SUBMISSIONS/<student>/<name>.ipynb``, where ``<name>.ipynb`` is a notebook of the course's
``exercises/``. Writes ``RESULTS/gradebook.csv``, ``RESULTS/feedback/<student>.md``,
``RESULTS/written/<student>.md``, the written answers by question with their rubric
(``RESULTS/written/by-question/<exercise>.md``) and the marks template
(``RESULTS/written/marks.csv``, merged into the gradebook on every run: ``marks.py``),
``RESULTS/misconceptions.md`` (+ ``.png``), ``RESULTS/export/<lms>/<notebook>.csv`` with
``--export``, and
keeps one result file per submission in ``RESULTS/.work/`` so that a re-run (after Ctrl-C, a
crash, or with new submissions) grades only what is missing or changed. Exit status 0 when
every submission was processed, whatever the scores; 1 when, in addition, rows of the marks
file could not be applied (listed); 2 when the grader cannot run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import export, marks, report
from .rebuild import InvalidSubmission, load_course, rebuild

GRADER_VERSION = "3"  # part of every work file's fingerprint: bump when grading changes
DEFAULT_TIMEOUT_S = 60.0
COURSE_ROOT = Path(__file__).resolve().parents[2]


class UsageError(Exception):
    """The grader cannot run (bad arguments, course files missing): exit status 2."""


@dataclass(frozen=True)
class Job:
    student: str
    notebook: str
    path: str            # the submitted file ("" for a problem found before reading it)
    problem: str | None  # why it is invalid without reading it, if so

    def work_name(self) -> str:
        digest = hashlib.sha256(f"{self.student}\0{self.notebook}".encode()).hexdigest()[:16]
        return f"{digest}.json"


# --------------------------------------------------------------------------------------------
# Finding the submissions
# --------------------------------------------------------------------------------------------


def find_jobs(submissions: Path, course_names: set[str]) -> list[Job]:
    """One job per file under SUBMISSIONS/<student>/ (hidden files and folders are skipped)."""
    jobs = []
    for entry in sorted(submissions.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            jobs.append(Job("", entry.name, str(entry),
                            "not inside a student folder (expected SUBMISSIONS/<student>/"
                            "<name>.ipynb)"))
            continue
        for item in sorted(entry.rglob("*"), key=lambda p: str(p)):
            relative = item.relative_to(entry)
            if any(part.startswith(".") for part in relative.parts) or item.is_dir():
                continue
            name = str(relative)
            if not item.is_file():
                jobs.append(Job(entry.name, name, "", "not a regular file"))
            elif item.suffix != ".ipynb":
                jobs.append(Job(entry.name, name, "", "not a notebook (.ipynb) file"))
            elif len(relative.parts) > 1 or name not in course_names:
                known = ", ".join(sorted(course_names))
                jobs.append(Job(entry.name, name, "",
                                f"no exercise notebook of this name in the course ({known})"))
            else:
                jobs.append(Job(entry.name, name, str(item), None))
    return jobs


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard must look like i/N (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"--shard {text}: need 0 <= i < N (shards are numbered from 0)")
    return index, count


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Stable hashing over student ids: a student's shard never depends on the others."""
    if shard is None:
        return True
    index, count = shard
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % count == index


# --------------------------------------------------------------------------------------------
# Grading one submission (in a worker process)
# --------------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _worker_init(course_root: str, timeout: float, memory_mb: int, use_bwrap: bool | None,
                 tmp_root: str) -> None:
    # Ctrl-C goes to the main process, which stops the workers; a worker must never take the
    # interrupt for the learner's KeyboardInterrupt and record a wrong grade.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_terminated)
    import torch

    from .sandbox import Limits, Sandbox

    torch.set_num_threads(1)
    workdir = Path(tempfile.mkdtemp(prefix="course-grade-", dir=tmp_root))
    workdir.chmod(0o755)
    cpu = int(timeout * 40 + 120)
    _WORKER.update(
        sandbox=Sandbox(workdir, limits=Limits(memory_bytes=memory_mb * 2**20, cpu_seconds=cpu),
                        use_bwrap=use_bwrap),
        workdir=workdir, timeout=timeout, courses={}, course_root=Path(course_root))


def _worker_terminated(signum, frame) -> None:
    """SIGTERM from the main process: kill the sandboxed children, leave nothing behind."""
    sandbox = _WORKER.get("sandbox")
    for child in list(getattr(sandbox, "live", [])):
        child.kill()
    shutil.rmtree(_WORKER.get("workdir", ""), ignore_errors=True)
    os._exit(1)


def _course(name: str):
    courses = _WORKER["courses"]
    if name not in courses:
        courses[name] = load_course(_WORKER["course_root"] / "exercises" / name)
    return courses[name]


def fingerprint(job: Job, seed: str, timeout: float, course_bytes: bytes,
                settings: str = "") -> str:
    """What a result depends on: a re-run reuses it only when all of this is the same."""
    digest = hashlib.sha256()
    data = Path(job.path).read_bytes() if job.path else b""
    for part in (GRADER_VERSION, seed, str(timeout), settings, job.student, job.notebook,
                 job.problem or "", hashlib.sha256(data).hexdigest(),
                 hashlib.sha256(course_bytes).hexdigest()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def grade_job(job: Job, seed: str, work_path: str, key: str) -> dict[str, Any]:
    """Grade one submission and write its work file; returns the result."""
    from course_lib.exercises import answer_scan as scan

    from . import judge
    from course_lib.exercises.checks import REGISTRY, discover

    discover()
    result: dict[str, Any] = {"fingerprint": key, "student": job.student,
                              "notebook": job.notebook, "invalid": None, "exercises": []}
    course = _course(job.notebook)
    exercise_ids = course.exercise_ids()
    written = set(course.written_ids())
    result["max_score"] = float(sum(
        getattr(REGISTRY.get(eid), "max_score", 0.0) if eid in written
        or getattr(REGISTRY.get(eid), "kind", "") == "written" else 1.0
        for eid in exercise_ids))
    try:
        rebuilt = rebuild(course, Path(job.path).read_bytes())
    except InvalidSubmission as error:
        result["invalid"] = str(error)
        report.atomic_write(Path(work_path), json.dumps(result, indent=1, sort_keys=True))
        return result
    student_seed = f"{seed}/{job.student}"
    graded = judge.grade_notebook(rebuilt, _WORKER["sandbox"], seed=student_seed,
                                  timeout=_WORKER["timeout"])
    all_answers = [rebuilt.source_of(cell) for cell in course.answer_cells
                   if cell.cell_type == "code"]
    for exercise in graded:
        checker = REGISTRY.get(exercise.exercise_id)
        if exercise.written is not None:
            continue
        cells = [(cid, src) for cid, src in rebuilt.answer_sources(exercise.exercise_id)]
        findings = scan.scan(cells, checker, all_answers)
        if findings or exercise.guard:
            # what the scan read in the code, then what the run-time guard saw it do
            exercise.flags = [finding.text() for finding in findings] + list(exercise.guard)
            ran = f"{exercise.status}: {exercise.message}"
            exercise.status, exercise.score = "flagged", 0.0
            exercise.message = judge._clean("flagged for review: " + "; ".join(
                exercise.flags[:3]) + (f" (+{len(exercise.flags) - 3} more)"
                                       if len(exercise.flags) > 3 else "") + f" | run: {ran}")
    result["exercises"] = [exercise.to_dict() for exercise in graded]
    report.atomic_write(Path(work_path), json.dumps(result, indent=1, sort_keys=True))
    return result


def _invalid_result(job: Job, key: str) -> dict[str, Any]:
    return {"fingerprint": key, "student": job.student, "notebook": job.notebook,
            "invalid": job.problem, "exercises": [], "max_score": 0.0}


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course-grade",
        description="Grade exercise notebooks: hidden tests in a sandbox, a gradebook, feedback "
                    "for each student and a misconception report (docs/grading.md).")
    parser.add_argument("submissions", type=Path,
                        help="folder with one sub-folder per student holding their notebooks")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--workers", type=int, default=1,
                        help="notebooks graded at once (default 1; at most the number of cores)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds each cell, and each exercise's hidden tests, may run "
                             f"(default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--seed", default="",
                        help="a secret: hidden cases are drawn from it and the student id "
                             "(default empty: the same cases for everyone in a class)")
    parser.add_argument("--shard", help="grade only shard i of N (i/N, i from 0), over students")
    parser.add_argument("--course", type=Path, default=COURSE_ROOT,
                        help="the course folder holding exercises/ (default: this checkout)")
    parser.add_argument("--overrides", type=Path,
                        help="CSV of instructor overrides (default RESULTS/overrides.csv if it "
                             "exists)")
    parser.add_argument("--marks", type=Path,
                        help="the filled marks of written answers (default "
                             "RESULTS/written/marks.csv, which every run writes or extends)")
    parser.add_argument("--export", action="append", choices=["canvas", "moodle"], default=[],
                        help="also write per-student totals as RESULTS/export/<lms>/<notebook>.csv "
                             "(one file per notebook, only the students who handed it in) in the "
                             "layout that LMS imports (may be given twice)")
    parser.add_argument("--roster", type=Path,
                        help="CSV with a 'student' column and the LMS's identity columns, "
                             "copied into --export files")
    parser.add_argument("--memory-mb", type=int, default=4096,
                        help="address-space limit of each sandboxed process (default 4096)")
    parser.add_argument("--no-bwrap", action="store_true",
                        help="do not use bubblewrap even when it is available")
    parser.add_argument("--require-bwrap", action="store_true",
                        help="refuse to run without bubblewrap")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except UsageError as error:
        print(f"course-grade: error: {error}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    from .sandbox import bwrap_path, describe

    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    shard = parse_shard(args.shard)
    if not args.submissions.is_dir():
        raise UsageError(f"{args.submissions} is not a folder of submissions")
    exercises_dir = args.course / "exercises"
    course_names = {p.name for p in exercises_dir.glob("*.ipynb")}
    if not course_names:
        raise UsageError(f"no exercise notebooks in {exercises_dir} (pass --course)")
    if args.no_bwrap and args.require_bwrap:
        raise UsageError("--no-bwrap and --require-bwrap contradict each other")
    use_bwrap = False if args.no_bwrap else (True if args.require_bwrap else None)
    if use_bwrap and bwrap_path() is None:
        raise UsageError("--require-bwrap: bubblewrap (bwrap) is not installed or cannot run")
    overrides_path = args.overrides or (args.out / "overrides.csv")
    overrides = {}
    if args.overrides is not None and not args.overrides.is_file():
        raise UsageError(f"overrides file {args.overrides} does not exist")
    if overrides_path.is_file():
        try:
            overrides = report.read_overrides(overrides_path)
        except ValueError as error:
            raise UsageError(str(error)) from None

    marks_path = args.marks or (args.out / "written" / "marks.csv")
    if args.marks is not None and not args.marks.is_file():
        raise UsageError(f"marks file {args.marks} does not exist")
    marks_file = None
    if marks_path.is_file():
        try:
            marks_file = marks.read_marks_file(marks_path)
        except (ValueError, UnicodeDecodeError) as error:
            raise UsageError(str(error)) from None
    roster = None
    if args.roster is not None:
        if not args.export:
            raise UsageError("--roster is only used by --export canvas|moodle")
        try:
            roster = export.read_roster(args.roster)
        except (OSError, ValueError, UnicodeDecodeError) as error:
            raise UsageError(str(error)) from None

    out = args.out
    work = out / ".work"
    work.mkdir(parents=True, exist_ok=True)
    jobs = [job for job in find_jobs(args.submissions, course_names) if in_shard(job.student, shard)]
    course_bytes = {name: (exercises_dir / name).read_bytes() for name in course_names}

    results: dict[Job, dict[str, Any]] = {}
    todo: list[tuple[Job, str]] = []
    for job in jobs:
        key = fingerprint(job, args.seed, args.timeout, course_bytes.get(job.notebook, b""),
                          settings=f"bwrap={use_bwrap is not False and bwrap_path() is not None}"
                                   f";memory={args.memory_mb}")
        if job.problem is not None:
            results[job] = _invalid_result(job, key)
            continue
        cached = _read_work(work / job.work_name(), key)
        if cached is not None:
            results[job] = cached
        else:
            todo.append((job, key))

    if not args.quiet:
        mode = describe(bwrap_path() is not None and use_bwrap is not False)
        print(f"course-grade: {len(jobs)} submissions ({len(todo)} to grade, "
              f"{len(jobs) - len(todo)} already done); {mode}", file=sys.stderr)
    started = time.monotonic()
    if todo:
        _grade_all(todo, args, use_bwrap, work, results)
    merged = _write_outputs(out, list(results.values()), overrides, marks_file=marks_file,
                            marks_path=marks_path, in_scope=lambda s: in_shard(s, shard),
                            exports=args.export, roster=roster, quiet=args.quiet)
    if not args.quiet:
        elapsed = time.monotonic() - started
        print(f"course-grade: graded {len(todo)} in {elapsed:.1f} s; results in {out}",
              file=sys.stderr)
    return 1 if merged.problems else 0


def _read_work(path: Path, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("fingerprint") == key else None


def _grade_all(todo: list[tuple[Job, str]], args, use_bwrap, work: Path,
               results: dict[Job, dict[str, Any]]) -> None:
    from tqdm import tqdm

    tmp_root = tempfile.mkdtemp(prefix="course-grade-")
    os.chmod(tmp_root, 0o755)
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=args.workers, mp_context=context, initializer=_worker_init,
        initargs=(str(args.course), args.timeout, args.memory_mb, use_bwrap, tmp_root))
    bar = tqdm(total=len(todo), unit="notebook", disable=args.quiet or not sys.stderr.isatty(),
               file=sys.stderr)
    try:
        futures = {pool.submit(grade_job, job, args.seed, str(work / job.work_name()), key): job
                   for job, key in todo}
        for future in concurrent.futures.as_completed(futures):
            job = futures[future]
            try:
                results[job] = future.result()
            except Exception as error:  # noqa: BLE001 - a grader bug must not stop the class
                results[job] = {"fingerprint": "", "student": job.student,
                                "notebook": job.notebook, "exercises": [], "max_score": 0.0,
                                "invalid": f"the grader failed on this file ({type(error).__name__}:"
                                           f" {error}); please report it"}
            bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        print("\ncourse-grade: interrupted; finished submissions are kept, run the same "
              "command again to grade the rest", file=sys.stderr)
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(tmp_root, ignore_errors=True)
        raise SystemExit(130)
    bar.close()
    pool.shutdown(wait=True)
    shutil.rmtree(tmp_root, ignore_errors=True)


def _write_outputs(out: Path, results: list[dict[str, Any]],
                   overrides: dict[tuple[str, str, str], dict[str, str]], *,
                   marks_file: marks.MarksFile | None = None, marks_path: Path | None = None,
                   in_scope=lambda student: True, exports: list[str] = (),
                   roster: dict[str, dict[str, str]] | None = None,
                   quiet: bool = True) -> marks.Merge:
    from course_lib.exercises.checks import REGISTRY, discover
    from course_lib.exercises.checks._framework import WRITTEN

    discover()
    marks_path = marks_path or out / "written" / "marks.csv"
    rubrics = {eid: checker.rubric for eid, checker in REGISTRY.items()
               if checker.kind == WRITTEN}
    prompts = {eid: checker.prompt for eid, checker in REGISTRY.items()
               if getattr(checker, "prompt", None)}
    answers = marks.answers_from_results(results)
    merged = marks.merge(marks_file, answers, rubrics, in_scope=in_scope, name=marks_path.name,
                         students={result["student"] for result in results})
    rows = report.rows_from_results(results)
    rows = marks.apply_marks(rows, merged, rubrics, {answer.key for answer in answers})
    rows = report.apply_overrides(rows, overrides)
    report.atomic_write(out / "gradebook.csv", report.gradebook_csv(rows))
    by_student: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_student.setdefault(result["student"], []).append(result)
    for student, student_results in sorted(by_student.items()):
        name = student or "_no_student_folder"
        student_rows = [row for row in rows if row["student"] == student]
        report.atomic_write(out / "feedback" / f"{name}.md",
                            report.feedback_markdown(name, student_results, student_rows))
        written = report.written_markdown(name, student_results, prompts)
        if written is not None:
            report.atomic_write(out / "written" / f"{name}.md", written)
    # the written answers by question, and the marks template (never over the marker's work)
    by_exercise: dict[str, list[marks.Answer]] = {}
    for answer in answers:
        by_exercise.setdefault(answer.exercise, []).append(answer)
    for exercise, exercise_answers in by_exercise.items():
        report.atomic_write(out / "written" / "by-question" / f"{exercise}.md",
                            marks.by_question_markdown(exercise, prompts.get(exercise),
                                                       rubrics.get(exercise, ()),
                                                       exercise_answers, merged.marks))
    if answers:
        template = marks.updated_template(marks_file, answers, rubrics)
        if template is not None:
            report.atomic_write(marks_path, template)
    problems_path = out / "written" / "marks-problems.txt"
    text = marks.problems_text(merged, marks_path.name)
    if text is not None:
        report.atomic_write(problems_path, text)
        for line in merged.problems:
            print(f"course-grade: marks not applied: {line}", file=sys.stderr)
        for line in merged.notes:
            print(f"course-grade: marks: {line}", file=sys.stderr)
    elif problems_path.exists():
        problems_path.unlink()
    if answers and not quiet:
        marked = sum(1 for answer in answers if answer.key in merged.marks)
        print(f"course-grade: written answers: {marked} of {len(answers)} marked "
              f"({marks_path})" + (f"; {len(merged.problems)} rows not applied, see "
                                   f"{problems_path}" if merged.problems else ""),
              file=sys.stderr)
    for fmt in exports:
        files, warnings = export.export_files(fmt, rows, roster)
        for file_name, text in files.items():
            report.atomic_write(out / "export" / fmt / file_name, text)
        for warning in warnings:
            print(f"course-grade: {warning}", file=sys.stderr)
        unmarked = sum(1 for answer in answers if answer.key not in merged.marks
                       and answer.answer_id != marks.BLANK)
        if unmarked:
            print(f"course-grade: {fmt} export: {unmarked} written answers are not marked yet "
                  "and count 0 in the totals", file=sys.stderr)
        if not quiet:
            possible = ", ".join(f"{name} {value:g}" for name, value in
                                 export.points_possible(rows).items())
            print(f"course-grade: wrote {out / 'export' / fmt}/ ({', '.join(files)}: one file "
                  f"per notebook, only who handed it in); points possible: {possible}",
                  file=sys.stderr)
    table = report.misconceptions(results)
    hints = {eid: {m.hint_id: m.message for m in checker.mistakes}
             for eid, checker in REGISTRY.items()}
    has_chart = report.misconceptions_chart(table, out / "misconceptions.png")
    report.atomic_write(out / "misconceptions.md", report.misconceptions_markdown(
        table, hints, "misconceptions.png" if has_chart else None))
    return merged


if __name__ == "__main__":
    sys.exit(main())
