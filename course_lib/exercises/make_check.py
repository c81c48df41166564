"""``make check``: does a learner's exercise notebook pass? Decided from a fresh run only.

    python -m course_lib.exercises.make_check exercises/03_momentum.ipynb
    python -m course_lib.exercises.make_check                 # every notebook in exercises/
    make check NB=exercises/03_momentum.ipynb           # the same, through the Makefile

What it does, and why:

1. **The learner's file is only read.** Its bytes are read once; the run happens on a copy in a
   scratch folder, which is the kernel's working folder, so code that deletes or rewrites files
   there touches nothing of the learner's. Should code in the notebook delete the learner's file
   through an absolute path, it is put back from those bytes (and said so).
2. **The checks come from the course, not from the submission.** The notebook is rebuilt from
   the course's template: the exercise notebook that ``make exercises`` would write for
   ``solutions/<same file name>``, generated in memory by the same code
   (:func:`course_lib.exercises.generate.course_exercises`), never the file in ``exercises/``,
   which is the learner's own and edited in place. Every cell is the template's, except the
   learner's *answer cells*, matched by cell id (falling back to order). So check cells that
   were deleted, edited, retagged (``nbval-skip``) or cleared do not matter, and neither do the
   outputs saved in the file, stale ✅ or ❌ lines included. A written answer counts as written
   when its cell has a line of its own that the template's cell does not have.
3. **The verdict is structured data.** Each rebuilt check cell calls
   ``course_lib.exercises.checks.report_for_runner(id, answer, nonce)`` with a fresh random nonce; the
   verdict is the JSON it displays in that cell's own outputs with that nonce, never printed
   text (which any cell could print). (This stops mistakes, not a determined forger: code that
   replaces course_lib's functions can still lie. The grader, issue 10, runs code sandboxed.)
4. **Nothing hangs, a crash stops nothing else.** Cells run one by one with a time limit
   (``--timeout``, 30 s; a template cell may set ``"timeout_s"`` in its metadata). A cell that
   runs out of time, or a kernel that dies (``os._exit``, a crash; noticed within about a
   second), is reported for its exercise; the kernel is restarted, the cells that ran before
   are run again (except the broken one and check cells), and checking goes on.

It prints one line per exercise and a total, e.g.::

    3.1 ✅ passed (15 cases)
    3.2 ❌ not passed yet: not attempted yet (your function still raises NotImplementedError)
    3.3 ⏱ stopped after 30 s: your answer cell did not finish
    3.6 ✍ written answer: read by your instructor
    1 of 3 exercises pass

and exits 0 exactly when every exercise that runs code passes (written answers are read by the
instructor and count neither way).

5. **No ✅ that the grader would not give.** The answer cells are also read the way
   ``course-grade`` reads them (:func:`course_lib.exercises.answer_scan.scan`): an answer that passes its
   check but imports the course's own implementation (``course_lib.optim``, ``.theory``, ...),
   reaches into the interpreter or writes files outside its folder is shown as ``⚠`` with the
   line the grader will flag, and does not count as passed: the grader scores it 0 until an
   instructor has looked.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from course_lib.exercises.check_protocol import RESULT_MIMETYPE, STRICT_ENV
from course_lib.exercises.generate import (ANSWER_TAG, CHECK_TAG, MARKDOWN_PROMPT,
                                           course_exercises)
from course_lib.exercises.notebook_runner import KERNEL_WARNINGS, CurrentEnvKernelManager

REPO_ROOT = Path(__file__).resolve().parents[2]
# The learner's notebooks (checked when no file is named). Never the templates: see point 2.
DEFAULT_NOTEBOOKS = REPO_ROOT / "exercises"
DEFAULT_TIMEOUT_S = 30
# After this many restarts in one notebook, the remaining exercises are reported as not checked.
MAX_RESTARTS = 3
# Printed output kept per cell; an answer that prints in an endless loop must not fill memory.
MAX_STREAM_CHARS = 200_000

_STUB_ID = re.compile(r"Exercise (\d+(?:\.\d+)+):")


# --------------------------------------------------------------------------------------------
# The rebuilt notebook
# --------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One code cell of the rebuilt notebook."""

    index: int                     # position in the rebuilt notebook
    role: str                      # "answer" | "check" | "course"
    cell_id: str
    exercise_ids: tuple[str, ...]  # the exercises this cell belongs to ("answer", "check")
    nonce: str | None = None       # check cells: the nonce their verdict must carry
    timeout_s: float | None = None


@dataclass
class Written:
    exercise_id: str
    written: bool                  # whether the learner wrote anything of their own


@dataclass
class Plan:
    """The rebuilt notebook, its code cells as steps, and what was found along the way."""

    notebook: nbformat.NotebookNode
    steps: list[Step]
    exercise_ids: list[str]        # every exercise of the notebook, in order
    written: dict[str, Written]
    missing_answers: dict[str, str] = field(default_factory=dict)  # id -> why
    unreadable_checks: dict[str, str] = field(default_factory=dict)


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _check_call(source: str) -> tuple[str, str] | None:
    """``check("3.1", momentum_step)`` -> ("3.1", "momentum_step"); None if it is not one."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    calls = [node.value for node in tree.body if isinstance(node, ast.Expr)
             and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
             and node.value.func.id == "check"]
    if len(calls) != 1 or len(calls[0].args) != 2 or calls[0].keywords:
        return None
    exercise, answer = calls[0].args
    if not (isinstance(exercise, ast.Constant) and isinstance(exercise.value, str)):
        return None
    return exercise.value, ast.get_source_segment(source, answer)


def _runner_source(exercise_id: str, answer: str, nonce: str) -> str:
    return ("import course_lib.exercises.checks as _course_checks\n"
            f"_course_checks.report_for_runner({exercise_id!r}, {answer}, {nonce!r})")


def _answer_exercise_ids(template_cells: list, index: int) -> tuple[str, ...]:
    """The exercises an answer cell of the template belongs to: its metadata, the ids in its
    stubs, else the next check cell's."""
    cell = template_cells[index]
    from_metadata = cell.get("metadata", {}).get("exercise_id")
    if from_metadata:
        return (str(from_metadata),)
    ids = tuple(dict.fromkeys(_STUB_ID.findall(cell.source)))
    if ids:
        return ids
    for later in template_cells[index + 1:]:
        if CHECK_TAG in _tags(later):
            call = _check_call(later.source)
            return (call[0],) if call else ()
    return ()


def _written_something(learner_text: str, template_text: str) -> bool:
    template_lines = {line.strip() for line in template_text.splitlines()}
    return any(line.strip() and line.strip() not in template_lines
               and line.strip() != MARKDOWN_PROMPT for line in learner_text.splitlines())


def _pair_by_order(template: nbformat.NotebookNode,
                   learner: nbformat.NotebookNode) -> dict[int, Any]:
    """{template cell index: learner cell} for answer cells whose ids did not match.

    Paired in order, per cell type, but only when the unmatched answer cells on both sides are
    equally many (ids lost to another editor, say); otherwise pairing by order could hand one
    exercise's code to another, so nothing is paired.
    """
    template_ids = {cell.get("id") for cell in template.cells}
    learner_ids = {cell.get("id"): cell.cell_type for cell in learner.cells}
    pairs: dict[int, Any] = {}
    for kind in ("code", "markdown"):
        unmatched_template = [index for index, cell in enumerate(template.cells)
                              if ANSWER_TAG in _tags(cell) and cell.cell_type == kind
                              and learner_ids.get(cell.get("id")) != kind]
        unmatched_learner = [cell for cell in learner.cells
                             if ANSWER_TAG in _tags(cell) and cell.cell_type == kind
                             and cell.get("id") not in template_ids]
        if len(unmatched_template) == len(unmatched_learner):
            pairs.update(zip(unmatched_template, unmatched_learner))
    return pairs


def build_plan(template: nbformat.NotebookNode, learner: nbformat.NotebookNode) -> Plan:
    """The notebook to run: the template's cells, with the learner's answer cells' sources."""
    learner_by_id = {cell.get("id"): cell for cell in learner.cells if cell.get("id")}
    by_order = _pair_by_order(template, learner)

    cells, steps, exercise_ids = [], [], []
    written: dict[str, Written] = {}
    missing: dict[str, str] = {}
    unreadable: dict[str, str] = {}

    def note(ids):
        for exercise_id in ids:
            if exercise_id not in exercise_ids:
                exercise_ids.append(exercise_id)

    for index, cell in enumerate(template.cells):
        cell = nbformat.from_dict(json.loads(json.dumps(cell)))  # a copy we may change
        tags = _tags(cell)
        timeout = cell.get("metadata", {}).get("timeout_s")
        if ANSWER_TAG in tags:
            kind = cell.cell_type
            mine = learner_by_id.get(cell.get("id"))
            if mine is None or mine.cell_type != kind:
                mine = by_order.get(index)
            ids = _answer_exercise_ids(template.cells, index)
            note(ids)
            if kind == "markdown":
                for exercise_id in ids:
                    written[exercise_id] = Written(exercise_id, mine is not None and
                                                   _written_something(mine.source, cell.source))
                cells.append(cell)
                continue
            if kind == "code":
                if mine is None:
                    for exercise_id in ids:
                        missing[exercise_id] = (f"your notebook has no answer cell "
                                                f"{cell.get('id')!r}; the course's empty one "
                                                "was run instead")
                else:
                    cell.source = mine.source
                cell.outputs, cell.execution_count = [], None
                steps.append(Step(len(cells), "answer", cell.get("id", "?"), ids,
                                  timeout_s=timeout))
        elif CHECK_TAG in tags and cell.cell_type == "code":
            call = _check_call(cell.source)
            if call is None:
                unreadable[cell.get("id", "?")] = cell.source
                steps.append(Step(len(cells), "course", cell.get("id", "?"), (),
                                  timeout_s=timeout))
            else:
                nonce = secrets.token_hex(16)
                cell.source = _runner_source(call[0], call[1], nonce)
                cell.outputs, cell.execution_count = [], None
                note((call[0],))
                steps.append(Step(len(cells), "check", cell.get("id", "?"), (call[0],),
                                  nonce=nonce, timeout_s=timeout))
        elif cell.cell_type == "code":
            steps.append(Step(len(cells), "course", cell.get("id", "?"), (), timeout_s=timeout))
        cells.append(cell)
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=dict(template.metadata))
    return Plan(notebook, steps, exercise_ids, written, missing, unreadable)


# --------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------


@dataclass
class CellRun:
    """What happened when one step ran."""

    status: str                       # "ok" | "error" | "timeout" | "dead" | "not_run"
    outputs: list = field(default_factory=list)
    error: str | None = None          # "NameError: name 'f' is not defined"
    error_line: str | None = None     # the learner's line, when the traceback names one
    why: str | None = None            # for "dead" and "not_run": the reason, in words


class _Client(NotebookClient):
    """nbclient, keeping at most MAX_STREAM_CHARS of printed text per cell."""

    stream_chars = 0

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream":
            self.stream_chars += len(msg["content"].get("text", ""))
            if self.stream_chars > MAX_STREAM_CHARS:
                return None
        return super().output(outs, msg, display_id, cell_index)


class Kernel:
    """A kernel running the rebuilt notebook in ``cwd``, restartable."""

    def __init__(self, notebook: nbformat.NotebookNode, cwd: Path):
        self.client = _Client(
            notebook, timeout=DEFAULT_TIMEOUT_S, kernel_name="python3",
            kernel_manager_class=CurrentEnvKernelManager,
            resources={"metadata": {"path": str(cwd)}}, allow_errors=True,
            interrupt_on_timeout=False, shutdown_kernel="immediate", record_timing=False,
            startup_timeout=120)
        self._context = None
        env = {**os.environ, "PYTHONWARNINGS": KERNEL_WARNINGS}
        env.pop(STRICT_ENV, None)  # a failing check must report, not raise
        self.env = env

    def start(self) -> None:
        self._context = self.client.setup_kernel(env=self.env, stderr=subprocess.DEVNULL)
        self._context.__enter__()

    def stop(self) -> None:
        if self._context is not None:
            context, self._context = self._context, None
            try:
                context.__exit__(None, None, None)
            except Exception:  # a kernel that is already gone cannot be shut down again
                pass

    def restart(self) -> None:
        self.stop()
        self.client.km = None
        self.client.kc = None
        self.start()

    def _exit_detail(self) -> str:
        process = getattr(getattr(self.client.km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return "the kernel process died"
        if code < 0:
            return f"the kernel process was killed by signal {-code}"
        return f"the kernel process exited with code {code}"

    def run(self, step: Step, timeout: float) -> CellRun:
        cell = self.client.nb.cells[step.index]
        self.client.timeout = int(max(1, round(step.timeout_s or timeout)))
        self.client.stream_chars = 0
        try:
            self.client.execute_cell(cell, step.index)
        except CellTimeoutError:
            return CellRun("timeout", list(cell.get("outputs", [])))
        except DeadKernelError:
            return CellRun("dead", list(cell.get("outputs", [])), why=self._exit_detail())
        outputs = list(cell.outputs)
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if not errors:
            return CellRun("ok", outputs)
        error = errors[0]
        return CellRun("error", outputs, error=f"{error.get('ename')}: {error.get('evalue')}",
                       error_line=_learner_line(error.get("traceback", [])))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _learner_line(traceback_lines: list[str]) -> str | None:
    """The last "----> 12 code" line of an IPython traceback, without colours."""
    found = None
    for block in traceback_lines:
        for line in _ANSI.sub("", block).splitlines():
            match = re.match(r"\s*-+>\s*(\d+)\s+(.*)", line)
            if match:
                found = f"line {match.group(1)}: {match.group(2).strip()}"
    return found


def run_plan(plan: Plan, cwd: Path, timeout: float) -> dict[int, CellRun]:
    """Run every step; returns what happened to each (by step index)."""
    runs: dict[int, CellRun] = {}
    kernel = Kernel(plan.notebook, cwd)
    restarts = 0
    replayable: list[Step] = []
    try:
        try:
            kernel.start()
        except Exception as error:  # a broken environment, not the learner's code
            _not_run(plan.steps, runs, f"the kernel could not start ({type(error).__name__}: "
                                       f"{error}); try `make install`")
            return runs
        for position, step in enumerate(plan.steps):
            run = kernel.run(step, timeout)
            runs[step.index] = run
            if run.status in ("ok", "error"):
                if step.role != "check":
                    replayable.append(step)
                continue
            # A timeout or a dead kernel: start again without this cell.
            broken = (f"exercise {', '.join(step.exercise_ids)}'s {step.role} cell"
                      if step.exercise_ids else f"the course's cell {step.cell_id!r}")
            if restarts >= MAX_RESTARTS:
                _not_run(plan.steps[position + 1:], runs,
                         f"make check stopped after {MAX_RESTARTS} restarts of the kernel "
                         f"(the last one for {broken})")
                break
            restarts += 1
            try:
                kernel.restart()
                replay = _replay(kernel, replayable, timeout)
            except Exception as error:  # the kernel would not start again
                replay = f"{type(error).__name__}: {error}"
            if replay is not None:
                _not_run(plan.steps[position + 1:], runs,
                         f"after {broken} was stopped, running the earlier cells again "
                         f"failed too ({replay})")
                break
    finally:
        kernel.stop()
    return runs


def _replay(kernel: Kernel, steps: list[Step], timeout: float) -> str | None:
    """Run ``steps`` again in a fresh kernel; None, or what went wrong."""
    for step in steps:
        run = kernel.run(step, timeout)
        if run.status in ("timeout", "dead"):
            return f"cell {step.cell_id!r}: {run.status}"
    return None


def _not_run(steps: list[Step], runs: dict[int, CellRun], why: str) -> None:
    for step in steps:
        runs[step.index] = CellRun("not_run", why=why)


# --------------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    exercise_id: str
    symbol: str         # ✅ ❌ ⚠ ⏱ — ✍
    text: str
    passed: bool | None  # None: a written answer (counts neither way)
    result: Result | None = None
    # A failing check's expected and received values and its hint: at most three lines,
    # printed under the verdict's line, which names the case (what the check cell shows in
    # JupyterLab, values shortened).
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.exercise_id} {self.symbol} {self.text}"

    def lines(self) -> list[str]:
        """The verdict's line and its details (at most 4 lines in all)."""
        return [self.line(), *(f"    {detail}" for detail in self.details)]


@dataclass
class Result:
    """The part of a check cell's CheckResult (course_lib.exercises.checks) that make check prints."""

    exercise_id: str
    passed: bool
    n_cases: int
    reason: str
    hint: str | None
    failing_case: str | None = None
    expected: str | None = None
    received: str | None = None
    status: str | None = None

    def details(self) -> list[str]:
        """Expected, received and hint, one line each, for the terminal (the case goes on the
        verdict's own line: see :meth:`headline`)."""
        if self.status == "not_attempted":
            return []  # the stub's NotImplementedError: nothing to compare yet
        lines = [f"{label}: {_shorten(value, VALUE_CHARS)}"
                 for label, value in (("Expected", self.expected), ("Received", self.received))
                 if value is not None]
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        return lines

    def headline(self) -> str:
        """The reason, and the case it failed on."""
        if self.failing_case and self.status != "not_attempted":
            return f"{self.reason} (case: {_shorten(self.failing_case, CASE_CHARS)})"
        return self.reason


# How long a case, or an expected or received value, may be on the terminal.
CASE_CHARS = 100
VALUE_CHARS = 110


def _shorten(value: Any, limit: int) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _result_from(run: CellRun, step: Step) -> Result | None:
    """The result this very check cell displayed with its nonce, if any."""
    found = None
    for output in run.outputs:
        payload = output.get("data", {}).get(RESULT_MIMETYPE)
        if not (isinstance(payload, dict) and payload.get("nonce") == step.nonce):
            continue
        data = payload.get("result")
        if not isinstance(data, dict):
            continue
        try:
            found = Result(str(data["exercise_id"]), data["passed"] is True,
                           int(data["n_cases"]), str(data.get("reason", "")),
                           _optional_text(data.get("hint")),
                           _optional_text(data.get("failing_case")),
                           _optional_text(data.get("expected")),
                           _optional_text(data.get("received")),
                           _optional_text(data.get("status")))
        except (KeyError, TypeError, ValueError):
            continue
    if found is not None and found.exercise_id != step.exercise_ids[0]:
        return None
    return found


def grader_findings(plan: Plan) -> dict[str, list[str]]:
    """What ``course-grade`` would flag for review in each exercise's answer cells (by id)."""
    from course_lib.exercises.checks import REGISTRY, discover
    from course_lib.exercises import answer_scan as scan

    discover()  # the checkers say what their exercise forbids (2.3 may use torch.optim)
    answer_steps = [step for step in plan.steps if step.role == "answer"]
    source = {step.index: plan.notebook.cells[step.index].source for step in answer_steps}
    all_answers = list(source.values())
    found: dict[str, list[str]] = {}
    for exercise_id in plan.exercise_ids:
        if exercise_id in plan.written:
            continue
        cells = [(step.cell_id, source[step.index]) for step in answer_steps
                 if exercise_id in step.exercise_ids]
        try:
            findings = scan.scan(cells, REGISTRY.get(exercise_id), all_answers)
        except (RecursionError, MemoryError) as error:  # an answer nested too deep to read
            found[exercise_id] = [f"an answer cell the grader cannot read as code "
                                  f"({type(error).__name__}: nested too deeply)"]
            continue
        if findings:
            found[exercise_id] = [finding.text() for finding in findings]
    return found


def verdicts(plan: Plan, runs: dict[int, CellRun], timeout: float) -> list[Verdict]:
    answers: dict[str, list[tuple[Step, CellRun]]] = {}
    checks: dict[str, tuple[Step, CellRun]] = {}
    for step in plan.steps:
        run = runs.get(step.index, CellRun("not_run", why="it was not reached"))
        for exercise_id in step.exercise_ids:
            if step.role == "answer":
                answers.setdefault(exercise_id, []).append((step, run))
            elif step.role == "check":
                checks[exercise_id] = (step, run)
    result = []
    for exercise_id in plan.exercise_ids:
        if exercise_id in plan.written:
            if plan.written[exercise_id].written:
                result.append(Verdict(exercise_id, "✍", "written answer: read by your "
                                      "instructor", None))
            else:
                result.append(Verdict(exercise_id, "✍", "written answer: nothing written yet "
                                      "(your instructor reads it)", None))
            continue
        result.append(_verdict(exercise_id, answers.get(exercise_id, []),
                               checks.get(exercise_id), plan, timeout))
    flagged = grader_findings(plan)
    for k, verdict in enumerate(result):
        if verdict.passed and verdict.exercise_id in flagged:
            what = flagged[verdict.exercise_id]
            more = f" (+{len(what) - 1} more)" if len(what) > 1 else ""
            result[k] = Verdict(verdict.exercise_id, "⚠", f"passes its check, but course-grade "
                                f"will flag it for review and score it 0 until your instructor "
                                f"has looked: {what[0]}{more}. Write it without that.", False,
                                verdict.result)
    return result


def _seconds(step: Step, timeout: float) -> str:
    return f"{step.timeout_s or timeout:g} s"


def _stopped(exercise_id: str, step: Step, run: CellRun, timeout: float, *, what: str,
             while_: str) -> Verdict | None:
    """The verdict for a cell that ran out of time or took the kernel down, else None.

    ``what`` names the cell for a timeout ("your answer cell"), ``while_`` for a dead kernel
    ("your answer cell ran")."""
    if run.status == "timeout":
        return Verdict(exercise_id, "⏱", f"stopped after {_seconds(step, timeout)}: {what} did "
                       "not finish (a loop that never ends?)", False)
    if run.status == "dead":
        return Verdict(exercise_id, "—", f"not checked: the kernel died while {while_} "
                       f"({run.why}: os._exit(), a crash or running out of memory)", False)
    return None


def _verdict(exercise_id: str, answers: list[tuple[Step, CellRun]],
             check: tuple[Step, CellRun] | None, plan: Plan, timeout: float) -> Verdict:
    for step, run in answers:
        stopped = _stopped(exercise_id, step, run, timeout, what="your answer cell",
                           while_="your answer cell ran")
        if stopped is not None:
            return stopped
    if check is None:
        return Verdict(exercise_id, "—", "not checked: the course's check cell for it could "
                       "not be read (tell your instructor)", False)
    step, run = check
    stopped = _stopped(exercise_id, step, run, timeout, what="the check of your function",
                       while_="your function was checked")
    if stopped is not None:
        return stopped
    if run.status == "not_run":
        return Verdict(exercise_id, "—", f"not checked: {run.why}", False)
    found = _result_from(run, step)
    if found is not None:
        if found.passed:
            cases = "case" if found.n_cases == 1 else "cases"
            return Verdict(exercise_id, "✅", f"passed ({found.n_cases} {cases})", True, found)
        text = f"not passed yet: {found.headline()}"
        if exercise_id in plan.missing_answers:
            text += f" ({plan.missing_answers[exercise_id]})"
        return Verdict(exercise_id, "❌", text, False, found, found.details())
    broken_answer = next(((s, r) for s, r in answers if r.status == "error"), None)
    if broken_answer is not None:
        where = f" ({broken_answer[1].error_line})" if broken_answer[1].error_line else ""
        return Verdict(exercise_id, "❌", f"not passed yet: your answer cell raised "
                       f"{broken_answer[1].error}{where}", False)
    if run.status == "error":
        advice = ""
        if (run.error or "").startswith("NameError"):
            advice = (" (keep the function's name from the exercise, and keep it in its "
                      "answer cell: make check takes only the answer cells from your file)")
        return Verdict(exercise_id, "❌", f"not passed yet: the check could not run: "
                       f"{run.error}{advice}", False)
    return Verdict(exercise_id, "❌", "not passed yet: the check gave no result (does code in "
                   "your notebook replace course_lib's functions?)", False)


# --------------------------------------------------------------------------------------------
# One notebook, end to end
# --------------------------------------------------------------------------------------------


class UsageError(Exception):
    """Something about the command line or the files; the message says what."""


def course_templates(templates: Path | None = None) -> dict[str, Any]:
    """{file name: a function returning the template's text}. By default the course's exercise
    notebooks generated in memory from ``solutions/``; ``templates`` names a folder of exercise
    notebooks to use instead (tests, an instructor's pristine copy)."""
    if templates is None:
        return course_exercises()
    return {path.name: (lambda path=path: path.read_text(encoding="utf-8"))
            for path in sorted(templates.glob("*.ipynb"))}


def _read_template(text: str) -> nbformat.NotebookNode:
    return nbformat.reads(text, as_version=4)


def find_template(learner_path: Path, learner: nbformat.NotebookNode,
                  templates: dict[str, Any], where: str = "the course") -> nbformat.NotebookNode:
    """The course notebook a learner's notebook is checked against: the one with the same file
    name, else the one sharing the most answer cell ids."""
    if learner_path.name in templates:
        return _read_template(templates[learner_path.name]())
    ids = {cell.get("id") for cell in learner.cells}
    best, best_overlap = None, 0
    for name in sorted(templates):
        try:
            template = _read_template(templates[name]())
        except Exception:
            continue
        overlap = sum(1 for c in template.cells if ANSWER_TAG in _tags(c) and c.get("id") in ids)
        if overlap > best_overlap:
            best, best_overlap = template, overlap
    if best is None:
        raise UsageError(f"{learner_path}: no notebook in {where} to check it against (same "
                         "file name, or the same answer cells)")
    return best


def check_notebook(path: Path, *, templates: Path | None = None,
                   timeout: float = DEFAULT_TIMEOUT_S) -> list[Verdict]:
    """Check one learner notebook; the file itself is only read. ``templates``: a folder of
    pristine exercise notebooks; by default they are generated from ``solutions/``."""
    if path.suffix != ".ipynb" or not path.is_file():
        raise UsageError(f"not a notebook file: {path}")
    original = path.read_bytes()
    try:
        learner = nbformat.reads(original.decode("utf-8"), as_version=4)
    except Exception as error:
        raise UsageError(f"{path} cannot be read as a notebook ({type(error).__name__}: "
                         f"{error}); was it saved completely?") from None
    where = "solutions/ (generated)" if templates is None else str(templates)
    template = find_template(path, learner, course_templates(templates), where)
    plan = build_plan(template, learner)
    scratch = Path(tempfile.mkdtemp(prefix="make-check-"))
    try:
        (scratch / path.name).write_bytes(original)  # the copy that runs, for any relative path
        runs = run_plan(plan, scratch, timeout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        _protect(path, original)
    return verdicts(plan, runs, timeout)


def _protect(path: Path, original: bytes) -> None:
    """Put the learner's file back if code in it deleted it; keep a copy if it changed."""
    if not path.exists():
        path.write_bytes(original)
        print(f"Code in your notebook deleted {path}; make check put it back as it was.")
        return
    if path.read_bytes() != original:
        backup = path.with_name(f"{path.stem}.before-make-check{path.suffix}")
        backup.write_bytes(original)
        print(f"{path} changed on disk while make check ran (saved from JupyterLab, or changed "
              f"by code in it). It is left as it is now; the version that was checked is in "
              f"{backup}.")


def summary(verdicts_: list[Verdict]) -> str:
    checked = [v for v in verdicts_ if v.passed is not None]
    passed = sum(1 for v in checked if v.passed)
    noun = "exercise passes" if len(checked) == 1 else "exercises pass"
    return f"{passed} of {len(checked)} {noun}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make check", description="Check exercise notebooks from a fresh run of a copy.")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="exercise notebooks to check (default: every one in exercises/)")
    parser.add_argument("--timeout", type=float,
                        default=float(os.environ.get("CHECK_TIMEOUT", DEFAULT_TIMEOUT_S)),
                        help=f"seconds each cell may run (default {DEFAULT_TIMEOUT_S})")
    parser.add_argument("--templates", type=Path, default=None,
                        help="a folder of pristine exercise notebooks to rebuild checks from "
                             "(default: generated in memory from solutions/, as `make "
                             "exercises` would write them)")
    parser.add_argument("--json", action="store_true",
                        help="print the verdicts as JSON (for programs) instead of lines")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be a positive number of seconds")
    default_folder = DEFAULT_NOTEBOOKS if args.templates is None else args.templates
    paths = args.notebooks or sorted(default_folder.glob("*.ipynb"))
    if not paths:
        print(f"no notebooks to check in {default_folder}", file=sys.stderr)
        return 2
    all_pass, report = True, []
    for path in paths:
        try:
            found = check_notebook(path, templates=args.templates, timeout=args.timeout)
        except UsageError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        all_pass &= all(v.passed is not False for v in found)
        if args.json:
            report.append({"notebook": str(path), "exercises": [
                {"id": v.exercise_id, "symbol": v.symbol, "text": v.text, "passed": v.passed,
                 "details": v.details} for v in found]})
            continue
        print(f"{path} (checked on a fresh run of a copy)")
        for verdict in found:
            for line in verdict.lines():
                print(f"  {line}")
        print(summary(found))
        if len(paths) > 1:
            print()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    elif not all_pass:
        # and an empty line: make's own error line comes next, on stderr, and a terminal or
        # notebook that shows stdout and stderr apart must not glue it onto this one
        print("A check cell shows the same in JupyterLab, with the values in full.\n")
    sys.stdout.flush()
    sys.stderr.flush()
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
