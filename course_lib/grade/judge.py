"""Grade one rebuilt notebook: drive the sandboxed child, judge each exercise in this process.

The framework's own ``run_checker`` does the judging, unchanged: it draws the hidden cases
(``seed`` = the instructor's secret and the student id), runs the reference here, calls the
learner's function through its own call strategy (in place, returns, multi-step, the aliasing
probe, outcome runs, predictions...) and diagnoses a failure with the checker's hints. The
only difference from a notebook is *where* the learner's function runs: what the strategy calls
is a :class:`RemoteFunction`, which sends the inputs to the child as data, lets the child call
the learner's function, and mirrors what came back onto this process's objects (return value,
in-place changes, aliasing; see ``wire.py``). Nothing the child prints is read.

A step (a cell, or one exercise's checks) that runs past the time limit or kills the child
costs that step only: the child is killed (its whole process group), a fresh one replays the
cells that had run, and grading goes on with the next step.
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from course_lib.exercises.checks import REGISTRY, discover, run_checker
from course_lib.exercises.checks._framework import (FUNCTION, OUTCOME, PREDICTION, WRITTEN, CheckResult,
                                          _GuardInputs, _outcome_call)

from course_lib.exercises.answer_scan import forbidden_for, refused_for

from . import wire
from .rebuild import CourseCell, Rebuilt
from .sandbox import ChildDied, ChildTimeout, Sandbox

# Exceptions the learner's code raised in the child are raised here again as these built-in
# types (so the checks treat them as they would in a notebook); any other type gets a stand-in
# class with the same name.
_BUILTIN_EXCEPTIONS = {name: getattr(builtins, name) for name in dir(builtins)
                       if isinstance(getattr(builtins, name), type)
                       and issubclass(getattr(builtins, name), BaseException)}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")
# Seconds a fresh sandboxed process may take to start (Python, torch) before it is given up.
STARTUP_LIMIT_S = 180


@dataclass
class ExerciseResult:
    """What the gradebook, the feedback and the misconception report need about one exercise."""

    exercise_id: str
    status: str                   # passed | failed | error | timeout | flagged
    score: float
    max_score: float
    message: str
    hint_id: str | None = None
    feedback: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    written: str | None = None    # the learner's text, for written answers
    guard: list[str] = field(default_factory=list)  # what the run-time guard caught

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Fatal(Exception):
    """The step must stop: the child timed out or died (the reason says which)."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class RemoteError(Exception):
    """Base of the stand-ins for exception types the learner's code defined itself."""


def _exception_for(description: dict[str, Any]) -> BaseException:
    name = str(description.get("type", "Exception"))
    message = str(description.get("message", ""))
    cls = _BUILTIN_EXCEPTIONS.get(name)
    if cls is None or cls in (GeneratorExit,):
        cls = type(name if _IDENTIFIER.match(name) else "LearnerException", (RemoteError,), {})
    try:
        return cls(message)
    except Exception:  # noqa: BLE001 - exception types with unusual constructors
        return RemoteError(f"{name}: {message}")


class Session:
    """The child process for one notebook, started (and restarted) on demand."""

    def __init__(self, sandbox: Sandbox, course_dir, harness_dir, timeout: float,
                 binds: list[tuple[str, str]] | None = None):
        self.sandbox = sandbox
        self.binds = list(binds or [])  # training halves the child looks up before any cell
        self.course_dir, self.harness_dir = course_dir, harness_dir
        self.timeout = timeout
        self.child = None
        self.executed: list[tuple] = []  # (label, source, forbidden, refused, course cell?)
        self.budget_left = timeout
        self.fatal: Fatal | None = None
        self.last_error_where: str | None = None
        self.callbacks: dict[int, Any] = {}
        self.restarts = 0
        self.step_limit = timeout
        # the run-time guard (guard.py): what the current step's exercise forbids, sent with
        # every command, and what the child reported reaching anyway
        self.forbidden: tuple[str, ...] = ()
        self.refused: dict[str, tuple[str, ...]] = {}
        self.guard_hits: list[str] = []

    # lifecycle -------------------------------------------------------------------------------
    def start_step(self, seconds: float | None = None) -> None:
        """A new step (a cell, or one exercise's checks) gets the full time limit again.

        Only time spent waiting for the child counts: the reference runs and diagnoses that
        this process does between calls are not the learner's.
        """
        self.budget_left = seconds or self.timeout
        self.step_limit = self.budget_left
        self.fatal = None
        self.last_error_where = None

    def ensure_child(self) -> None:
        if self.child is not None:
            return
        self.child = self.sandbox.start(self.course_dir, self.harness_dir)
        # Starting Python and importing torch is the grader's cost, not the learner's: it has
        # its own, generous limit and does not count against the step.
        ready = self._receive(time.monotonic() + STARTUP_LIMIT_S)
        if ready.get("kind") != "ready":
            self.drop_child()
            raise Fatal("error", "the sandbox did not start properly")
        for module, function in self.binds:  # before any learner code can replace them
            self.child.send({"op": "bind", "module": module, "function": function})
            if self._receive(time.monotonic() + STARTUP_LIMIT_S).get("kind") != "ok":
                self.drop_child()
                raise Fatal("error", f"the sandbox could not load {module}.{function}")
        if self.executed:
            self.restarts += 1
        hits = list(self.guard_hits)  # a replayed cell's hits were counted when it first ran
        for label, source, forbidden, refused, course in list(self.executed):  # replay them
            self.child.send({"op": "exec", "label": label, "source": source,
                             "forbidden": list(forbidden), "refused": refused, "course": course})
            self._receive(time.monotonic() + self.timeout)
        self.guard_hits = hits

    def drop_child(self) -> None:
        if self.child is not None:
            self.child.close()
            self.child = None

    def close(self) -> None:
        self.drop_child()

    def _receive(self, deadline: float | None = None) -> dict[str, Any]:
        started = time.monotonic()
        try:
            if deadline is not None:
                reply = self.child.receive(deadline)
            else:
                try:
                    reply = self.child.receive(started + self.budget_left)
                finally:
                    self.budget_left -= time.monotonic() - started
            hits = reply.pop("guard", None)
            if isinstance(hits, list):
                self.guard_hits.extend(_clean(hit) for hit in hits[:50])
            return reply
        except ChildTimeout:
            self.drop_child()
            raise Fatal("timeout", f"stopped after {self.step_limit:g} s") from None
        except ChildDied as died:
            self.drop_child()
            raise Fatal("error", f"the process running your code {died.description}") from None

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.child.send(message)
        except ChildDied as died:
            self.drop_child()
            raise Fatal("error", f"the process running your code {died.description}") from None

    # steps -----------------------------------------------------------------------------------
    def exec_cell(self, label: str, source: str, forbidden: tuple[str, ...] = (),
                  refused: dict[str, tuple[str, ...]] | None = None,
                  course: bool = False) -> dict[str, Any]:
        """Run a cell (an answer cell under its exercise's ``forbidden`` list); returns the
        child's reply (``kind`` ok or raised). Raises Fatal."""
        self.ensure_child()
        self._send({"op": "exec", "label": label, "source": source,
                    "forbidden": list(forbidden), "refused": refused or {}, "course": course})
        reply = self._receive()
        self.executed.append((label, source, tuple(forbidden), refused or {}, course))
        return reply

    def evaluate(self, expr: str) -> Any:
        """The value of a check cell's expression in the learner's namespace."""
        self.ensure_child()
        self._send({"op": "eval", "expr": expr, "forbidden": list(self.forbidden),
                    "refused": self.refused})
        reply = self._receive()
        if reply.get("kind") == "raised":
            raise _exception_for(reply)
        if reply.get("kind") != "value":
            raise Fatal("error", f"the value of `{expr}` could not be read: "
                                 f"{reply.get('message', 'unknown reply')}")
        return wire.Decoder(reply, on_callable=self._remote).decode(reply["value"])

    def _remote(self, node: dict[str, Any]) -> "RemoteFunction":
        return RemoteFunction(self, node["callable"], str(node.get("name", "function")))

    def call(self, handle: int, args: tuple, kwargs: dict[str, Any]) -> Any:
        if self.fatal is not None:  # the child is gone; later calls of this step fail fast
            raise RuntimeError(self.fatal.reason)
        try:
            outcome, value = self._call(handle, args, kwargs)
        except Fatal as fatal:
            self.fatal = fatal
            raise RuntimeError(fatal.reason) from None
        except BaseException:
            # e.g. the framework's own per-case alarm fired while we waited: the child is still
            # busy with the call, so it cannot be asked anything else
            self.drop_child()
            self.fatal = Fatal("timeout", "stopped: it ran past the per-case time limit")
            raise
        if outcome == "raised":
            raise value  # what the learner's code raised, as the checks expect it
        return value

    def _call(self, handle: int, args: tuple, kwargs: dict[str, Any]) -> tuple[str, Any]:
        """("value", what it returned) or ("raised", the exception to raise); Fatal."""
        if self.child is None:
            raise Fatal("error", "the process running your code had already ended")
        request = wire.Encoder(on_callable=self._register_callback)
        node = request.encode([list(args), dict(kwargs)])
        self._send({"op": "call", "handle": handle, "args": node, **request.tables(),
                    "forbidden": list(self.forbidden), "refused": self.refused})
        while True:
            reply = self._receive()
            kind = reply.get("kind")
            if kind == "callback":
                self._answer_callback(reply)
                continue
            break
        if kind == "raised":
            self.last_error_where = reply.get("where")
            return "raised", _exception_for(reply)
        if kind == "unsendable":
            return "raised", TypeError("what your function returned cannot be graded: "
                                       f"{reply.get('message')}")
        if kind != "result":
            raise Fatal("error", f"the sandbox answered {kind!r}: {reply.get('message', '')}")
        try:
            decoder = wire.Decoder(reply, request=request, on_callable=self._remote)
            decoder.decode(reply["inputs"])  # mirrors in-place changes onto our inputs
            return "value", decoder.decode(reply["returned"])
        except wire.WireError as error:
            return "raised", TypeError(f"what your function returned cannot be graded: {error}")

    def train(self, train: Any, learner: "RemoteFunction", *, seed: int, budget: Any) -> Any:
        """An outcome-graded exercise's training half, run in the child on the learner's
        function; returns the data it produced (decoded here, never unpickled)."""
        if self.fatal is not None:
            raise RuntimeError(self.fatal.reason)
        if self.child is None:
            raise RuntimeError("the process running your code had already ended")
        message = {"op": "train", "module": train.__module__, "function": train.__qualname__,
                   "handle": learner.handle, "seed": int(seed),
                   "budget": dataclasses.asdict(budget) if budget is not None else {},
                   "forbidden": list(self.forbidden), "refused": self.refused}
        try:
            self._send(message)
            reply = self._receive()
        except Fatal as fatal:
            self.fatal = fatal
            raise RuntimeError(fatal.reason) from None
        except BaseException:  # the framework's own time limit fired while we waited
            self.drop_child()
            self.fatal = Fatal("timeout", "stopped: it ran past the per-case time limit")
            raise
        kind = reply.get("kind")
        if kind == "raised":
            self.last_error_where = reply.get("where")
            raise _exception_for(reply)
        if kind == "unsendable":
            raise TypeError(f"what the training run returned cannot be graded: "
                            f"{reply.get('message')}")
        if kind != "result":
            raise RuntimeError(f"the sandbox answered {kind!r}: {reply.get('message', '')}")
        try:
            return wire.Decoder(reply).decode(reply["returned"])
        except wire.WireError as error:
            raise TypeError(f"what the training run returned cannot be graded: {error}") from None

    def _register_callback(self, function: Any) -> dict[str, Any]:
        handle = len(self.callbacks) + 1
        self.callbacks[handle] = function
        return {"callable": handle, "name": repr(function)[:80]}

    def _answer_callback(self, message: dict[str, Any]) -> None:
        """The learner's function called a function the check gave it (4.2's grad_fn)."""
        function = self.callbacks.get(message.get("callable"))
        try:
            args, kwargs = wire.Decoder(message).decode(message["args"])
            value = function(*args, **kwargs)
            encoder = wire.Encoder()
            node = encoder.encode(value)
            self._send({"op": "callback_result", "value": node, **encoder.tables()})
        except Fatal:
            raise
        except Exception as error:  # noqa: BLE001 - e.g. the learner passed a string to grad_fn
            self._send({"op": "callback_error",
                        "message": f"{type(error).__name__}: {error}"[:300]})


class RemoteFunction:
    """Stands for the learner's function in this process; calling it runs it in the child."""

    def __init__(self, session: Session, handle: int, name: str):
        self.session, self.handle, self.__name__ = session, handle, name
        self.__qualname__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.session.call(self.handle, args, kwargs)

    def __repr__(self) -> str:
        return f"<your function {self.__name__}>"


# --------------------------------------------------------------------------------------------
# Reference results, computed once per worker
# --------------------------------------------------------------------------------------------

_MEMO: dict[tuple[str, str], Any] = {}
_MEMO_LIMIT = 4096


def _digest(inputs: dict[str, Any]) -> str | None:
    encoder = wire.Encoder()
    try:
        node = encoder.encode(inputs)
        text = json.dumps([node, encoder.tables()], sort_keys=True, allow_nan=True)
    except Exception:  # noqa: BLE001 - inputs that do not travel are simply not memoized
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def trained_in_child(checker, session: Session):
    """An outcome-graded checker registered as ``train`` + ``score``, with its training half
    run in the sandboxed child (the learner's function, the training loop, under the step's
    time limit) and its scoring half here, on the data the child sends back.

    A checker with only ``run`` keeps it: it runs here and calls the learner's function in the
    child through the wire (its inputs and outputs must travel as data).
    """
    if checker.kind != OUTCOME or checker.train is None or checker.score is None:
        return checker

    def run(learner, *, seed, budget):
        if not isinstance(learner, RemoteFunction):
            raise TypeError("check() needs your training function")
        data = session.train(checker.train, learner, seed=seed, budget=budget)
        return checker.score(data, seed=seed, budget=budget)

    remote = dataclasses.replace(checker, run=run)
    remote.call = _GuardInputs(_outcome_call(remote))
    return remote


def train_modules(course) -> list[str]:
    """``import`` lines for the modules of the notebook's outcome checkers' training halves
    (the child imports them from its course copy)."""
    lines = []
    for cell in course.cells:
        for exercise_id, _ in cell.checks if cell.is_check else ():
            train = getattr(REGISTRY.get(exercise_id), "train", None)
            if train is not None:
                lines.append(f"import {train.__module__}")
    return lines


def training_halves(course) -> list[tuple[str, str]]:
    """(module, function) of the notebook's outcome checkers' training halves."""
    halves = []
    for cell in course.cells:
        for exercise_id, _ in cell.checks if cell.is_check else ():
            train = getattr(REGISTRY.get(exercise_id), "train", None)
            if train is not None:
                halves.append((train.__module__, train.__qualname__))
    return halves


def memoized(checker):
    """The checker with its reference memoized, where that is safe.

    A class of 40 runs the same reference on the same fixed edge cases 40 times (2.3 trains a
    network per case); a reference that only *returns* something (its strategy lets it change
    no input) is a pure function of its inputs, so its result is kept, keyed by the inputs'
    bytes, and a copy is handed out. In-place references are always run.
    """
    if checker.kind not in (FUNCTION, PREDICTION) or getattr(checker.call, "updates", ()) \
            or checker.reference is None:
        return checker
    reference = checker.reference

    def remembered(**inputs):
        key = _digest(inputs)
        if key is not None and (checker.exercise_id, key) in _MEMO:
            return copy.deepcopy(_MEMO[(checker.exercise_id, key)])
        value = reference(**inputs)
        if key is not None and len(_MEMO) < _MEMO_LIMIT:
            try:
                _MEMO[(checker.exercise_id, key)] = copy.deepcopy(value)
            except Exception:  # noqa: BLE001 - a value deepcopy cannot copy is not kept
                pass
        return value

    remembered.__wrapped__ = reference
    return dataclasses.replace(checker, reference=remembered)


# --------------------------------------------------------------------------------------------
# Which course cells the child runs
# --------------------------------------------------------------------------------------------


def _bound_and_free(source: str) -> tuple[set[str], set[str]]:
    """Top-level names a cell binds, and names it reads (anywhere, functions included)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), set()
    bound: set[str] = set()
    for node in tree.body:
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef,
                                                           ast.AsyncFunctionDef)) else [node]:
            if isinstance(sub, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                bound.add(sub.name)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                bound.add(sub.id)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                bound.update((a.asname or a.name).split(".")[0] for a in sub.names)
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return bound, read


def cells_to_run(rebuilt: Rebuilt) -> set[int]:
    """Indices of the code cells the child executes.

    Answer cells always; course cells before the first answer cell (the set-up) always; any
    other course cell only when a later answer or check needs a name it defines (a demo cell
    that only prints or plots is skipped: grading does not need it, and it costs time).
    Check cells never run in the child.
    """
    cells = [c for c in rebuilt.course.cells if c.cell_type == "code" and not c.is_check]
    first_answer = min((c.index for c in cells if c.is_answer), default=len(rebuilt.course.cells))
    run = {c.index for c in cells if c.is_answer or c.index < first_answer}
    info = {c.index: _bound_and_free(rebuilt.source_of(c)) for c in cells}
    needed_names: dict[int, set[str]] = {}
    for cell in rebuilt.course.cells:
        if cell.is_check:
            needed_names[cell.index] = {name for _, expr in cell.checks
                                        for name in _bound_and_free(expr)[1]}
    changed = True
    while changed:
        changed = False
        wanted: set[tuple[int, str]] = set()
        for index in run:
            wanted |= {(index, name) for name in info[index][1]}
        wanted |= {(index, name) for index, names in needed_names.items() for name in names}
        for cell in cells:
            if cell.index in run:
                continue
            bound = info[cell.index][0]
            if any(name in bound and cell.index < index for index, name in wanted):
                run.add(cell.index)
                changed = True
    return run


# --------------------------------------------------------------------------------------------
# Grading one notebook
# --------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """One line, no memory addresses or sandbox paths: the gradebook is the same every run."""
    text = re.sub(r"0x[0-9a-fA-F]{6,}", "0x…", str(text))
    text = re.sub(r"/scratch/?|/tmp/[^\s'\"]*", "", text)
    return " ".join(text.split())[:400]


def _from_check(result: CheckResult, max_score: float) -> ExerciseResult:
    lines = [result.first_line().replace("✅ ", "").replace("❌ ", "")]
    if result.failing_case:
        lines.append(f"Case: {result.failing_case}")
    lines.extend(result.details)
    if result.hint:
        lines.append(f"Hint: {result.hint}")
    if result.passed:
        return ExerciseResult(result.exercise_id, "passed", max_score, max_score,
                              f"passed ({result.n_cases} hidden cases)", feedback=lines)
    status = "error" if result.status in ("error", "unknown_exercise") else "failed"
    message = result.reason + (f" [{result.hint_id}]" if result.hint_id else "")
    return ExerciseResult(result.exercise_id, status, 0.0, max_score, _clean(message),
                          hint_id=result.hint_id, feedback=[_clean(line) for line in lines])


def grade_notebook(rebuilt: Rebuilt, sandbox: Sandbox, *, seed: str, timeout: float,
                   max_score: float = 1.0) -> list[ExerciseResult]:
    """Every exercise of the notebook, in the course's order (written answers included)."""
    discover()
    course = rebuilt.course
    results: dict[str, ExerciseResult] = {}
    cell_trouble: dict[str, list[str]] = {}      # exercise id -> errors of its answer cells
    cell_fatal: dict[str, Fatal] = {}             # exercise id -> its answer cell hung or died
    cell_guard: dict[str, list[str]] = {}         # exercise id -> the guard's hits in its cells
    run = cells_to_run(rebuilt)
    # the sandbox gets the course_lib modules the *course's* cells import, whatever the answers do
    course_dir, harness_dir = sandbox.course_copy(course.name, [
        c.source for c in course.cells if c.cell_type == "code" and not c.is_answer]
        + train_modules(course))
    session = Session(sandbox, course_dir, harness_dir, timeout, binds=training_halves(course))
    try:
        for cell in course.cells:
            if cell.cell_type == "markdown" and cell.is_answer:
                for eid in cell.exercise_ids:
                    results[eid] = _written(eid, rebuilt.source_of(cell), cell)
                continue
            if cell.cell_type != "code":
                continue
            if cell.is_check:
                for exercise_id, expr in cell.checks:
                    if exercise_id in results:
                        continue
                    results[exercise_id] = _judge_exercise(
                        session, exercise_id, expr, seed=seed, timeout=timeout,
                        max_score=max_score, trouble=cell_trouble.get(exercise_id, []),
                        fatal=cell_fatal.get(exercise_id))
                    results[exercise_id].guard[:0] = cell_guard.get(exercise_id, [])
                continue
            if cell.index not in run:
                continue
            source = rebuilt.source_of(cell)
            session.start_step()
            forbidden, refused = _forbidden_in(cell) if cell.is_answer else ((), {})
            session.guard_hits = []
            try:
                reply = session.exec_cell(cell.cell_id, source, forbidden, refused,
                                          course=not cell.is_answer)
            except Fatal as fatal:
                for eid in cell.exercise_ids or _later_exercises(course, cell):
                    cell_fatal.setdefault(eid, Fatal(
                        fatal.status, f"cell {cell.cell_id!r}: {fatal.reason}"))
                continue
            for eid in cell.exercise_ids if session.guard_hits else ():
                cell_guard.setdefault(eid, []).extend(session.guard_hits)
            if reply.get("kind") == "raised":
                where = f" ({reply['where']})" if reply.get("where") else ""
                text = f"cell {cell.cell_id!r} raised {reply.get('type')}: " \
                       f"{reply.get('message')}{where}"
                for eid in cell.exercise_ids or _later_exercises(course, cell):
                    cell_trouble.setdefault(eid, []).append(_clean(text))
    finally:
        session.close()
    ordered = [results[eid] for eid in course.exercise_ids() if eid in results]
    for result in ordered:
        for note in rebuilt.notes.get(result.exercise_id, []):
            result.feedback.append(f"Note: {note}")
    return ordered


def _forbidden_in(cell: CourseCell) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """What the run-time guard refuses while an answer cell runs: its exercises' lists."""
    forbidden: list[str] = []
    refused: dict[str, tuple[str, ...]] = {}
    for eid in cell.exercise_ids:
        checker = REGISTRY.get(eid)
        if checker is not None and checker.kind != WRITTEN:
            forbidden += [entry for entry in forbidden_for(checker) if entry not in forbidden]
            refused.update(refused_for(checker))
    return tuple(forbidden), refused


def _later_exercises(course, cell: CourseCell) -> list[str]:
    """A course (set-up) cell that fails affects the exercises after it."""
    return [eid for later in course.cells[cell.index + 1:] if later.is_check
            for eid, _ in later.checks]


def _written(exercise_id: str, text: str, cell: CourseCell) -> ExerciseResult:
    blank = text.strip() == cell.source.strip() or not text.strip()
    if blank:
        return ExerciseResult(exercise_id, "failed", 0.0, 0.0, "no written answer",
                              feedback=["No written answer yet."], written="")
    return ExerciseResult(exercise_id, "flagged", 0.0, 0.0,
                          "written answer: read by your instructor (not scored automatically)",
                          feedback=["Written answer: your instructor reads it."], written=text)


def _judge_exercise(session: Session, exercise_id: str, expr: str, *, seed: str,
                    timeout: float, max_score: float, trouble: list[str],
                    fatal: Fatal | None) -> ExerciseResult:
    checker = REGISTRY.get(exercise_id)
    if checker is None:
        return ExerciseResult(exercise_id, "error", 0.0, max_score,
                              f"the course has no checker for exercise {exercise_id} "
                              "(tell your instructor)")
    if checker.kind == WRITTEN:
        return ExerciseResult(exercise_id, "flagged", 0.0, 0.0, "written answer")
    if fatal is not None:
        verb = "did not finish" if fatal.status == "timeout" else "stopped the run"
        return ExerciseResult(exercise_id, fatal.status, 0.0, max_score,
                              _clean(f"your answer cell {verb}: {fatal.reason}"),
                              feedback=[_clean(f"Your answer cell {verb}: {fatal.reason}. "
                                               "Look for a loop that never ends or code that "
                                               "stops Python (os._exit, sys.exit).")])
    limit = max(timeout, 2 * (checker.time_limit_s or 0)) if checker.kind == OUTCOME else timeout
    session.start_step(limit)
    session.forbidden, session.refused = forbidden_for(checker), refused_for(checker)
    session.guard_hits = []
    try:
        graded = _judge_steps(session, checker, exercise_id, expr, seed=seed,
                              max_score=max_score, trouble=trouble)
    finally:
        session.forbidden, session.refused = (), {}
    graded.guard = list(dict.fromkeys(session.guard_hits))
    return graded


def _judge_steps(session: Session, checker, exercise_id: str, expr: str, *, seed: str,
                 max_score: float, trouble: list[str]) -> ExerciseResult:
    try:
        learner = session.evaluate(expr)
    except Fatal as error:
        return ExerciseResult(exercise_id, error.status, 0.0, max_score,
                              _clean(f"looking up `{expr}`: {error.reason}"))
    except BaseException as error:  # noqa: BLE001 - NameError & co. from the learner's namespace
        why = "; ".join(trouble) or "did its cell run?"
        return ExerciseResult(exercise_id, "error", 0.0, max_score,
                              _clean(f"`{expr}` is not available: {type(error).__name__}: "
                                     f"{error} ({why})"))
    result = run_checker(trained_in_child(memoized(checker), session), learner, seed=seed)
    if session.fatal is not None:
        status, reason = session.fatal.status, session.fatal.reason
        message = f"your function {reason}" if status == "timeout" else reason
        return ExerciseResult(exercise_id, status, 0.0, max_score, _clean(message),
                              feedback=[_clean(f"Your function {reason} on a hidden case "
                                               f"({result.failing_case or 'unknown case'}).")])
    graded = _from_check(result, max_score)
    if result.status == "error" and session.last_error_where:
        graded.feedback.insert(1, _clean(f"In your code, {session.last_error_where}"))
        graded.message = _clean(f"{graded.message} ({session.last_error_where})")
    if graded.status != "passed" and trouble:
        graded.feedback.extend(trouble)
    return graded
