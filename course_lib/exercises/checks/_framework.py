"""The machinery every exercise checker shares.

Four kinds of exercise, each registered once per exercise id:

- :func:`register`: the learner writes a function; it is compared with a reference on cases;
- :func:`register_prediction`: the learner derives a number; it is compared with the truth that
  ``measure`` finds by running the optimizer;
- :func:`register_written`: a written answer in a markdown cell, read by the instructor;
- :func:`register_outcome`: the learner's training function must reach a target in a budget.

A function checker looks like this::

    @register("1.1", reference=reference_gd_step, call=in_place("param"),
              mistakes=[KnownMistake("ascent", gd_ascent, "You moved along +grad ...")])
    def gd_step_cases(rng):
        yield Case("zero gradient", param=torch.ones(3), grad=torch.zeros(3), lr=0.1)

For each case the framework gives the learner's function, the reference and (on a failure) each
known wrong implementation their own fresh copies of the inputs, calls them the same way (the
``call`` strategy), and compares what it observes. Nothing is compared against stored numbers.

The order of the diagnosis on a failing case is the order a learner needs it in:

1. ``NotImplementedError``      -> "not attempted yet" (the generated stub raises it);
2. any other exception          -> its type and message and the learner's own line, no traceback
                                   (also SystemExit, KeyboardInterrupt: nothing escapes a check);
3. framework detectors          -> changed an input it should only read, stored an input (or a
                                   view of it) instead of a copy, returned None, updated a copy
                                   instead of in place, wrong shape / dtype, NaN, an entry the
                                   reference does not create;
4. known mistakes               -> the learner's output equals a declared wrong implementation's
                                   output on this case: print that mistake's hint;
5. otherwise                    -> expected vs received.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import numbers
import os
import re
import signal
import sys
import threading
import time
import traceback
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch

# --------------------------------------------------------------------------------------------
# Cases, mistakes, results
# --------------------------------------------------------------------------------------------


class Case:
    """One input the learner's function is called with.

    ``Case("first step, float32", param=..., grad=..., state={}, lr=0.1)``: the description is
    what a learner reads when this case fails, so say what is special about it. Keyword
    arguments are passed to the function by name. ``rtol``/``atol`` override the per-dtype
    tolerances for this case only.
    """

    def __init__(self, description: str, *, rtol: float | None = None, atol: float | None = None,
                 **inputs: Any):
        if not isinstance(description, str) or not description:
            raise ValueError("Case needs a non-empty description string")
        self.description = description
        self.inputs = inputs
        self.rtol = rtol
        self.atol = atol

    def fresh_inputs(self) -> dict[str, Any]:
        """A deep copy of the inputs, so no call can see another call's in-place changes."""
        return {name: _clone(value) for name, value in self.inputs.items()}

    def __repr__(self) -> str:
        return f"Case({self.description!r})"


@dataclass(frozen=True)
class KnownMistake:
    """A deliberately wrong implementation and the hint to print when the learner's matches it.

    ``wrong_function`` takes the same arguments as the learner's function. ``hint_id`` is a
    short stable name (the grader records it); ``message`` is the hint, written to the learner.
    """

    hint_id: str
    wrong_function: Callable[..., Any]
    message: str


@dataclass
class CheckResult:
    """What one check found. ``check()`` prints :meth:`report`; graders read the fields."""

    exercise_id: str
    passed: bool
    n_cases: int
    # "passed" | "failed" | "not_attempted" | "error" | "unknown_exercise" | "written"
    status: str
    reason: str = ""
    failing_case: str | None = None
    expected: str | None = None
    received: str | None = None
    hint_id: str | None = None
    hint: str | None = None
    details: list[str] = field(default_factory=list)

    def first_line(self) -> str:
        if self.passed:
            cases = "case" if self.n_cases == 1 else "cases"
            return f"✅ Exercise {self.exercise_id} passed ({self.n_cases} {cases})"
        if self.status == "written":
            return f"✍ Exercise {self.exercise_id} is a written answer: read by your instructor"
        return f"❌ Exercise {self.exercise_id} not passed yet: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values (what `make check` and the grader pass around)."""
        return {name: (list(value) if name == "details" else value)
                for name, value in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckResult":
        """The inverse of :meth:`to_dict`; unknown keys are refused, so a typo shows."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"not CheckResult fields: {sorted(unknown)}")
        return cls(**data)

    def report(self) -> str:
        lines = [self.first_line()]
        if self.failing_case is not None:
            lines.append(f"   Case: {self.failing_case}")
        if self.expected is not None:
            lines.append(f"   Expected: {self.expected}")
        if self.received is not None:
            lines.append(f"   Received: {self.received}")
        lines.extend(f"   {line}" for line in self.details)
        if self.hint is not None:
            lines.append(f"   Hint: {self.hint}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Call strategies: how a function is called on a case and what is observed
# --------------------------------------------------------------------------------------------


@dataclass
class Observation:
    """What one call produced: named values to compare, in order, plus notes for detectors.

    ``unchanged`` names observed inputs that the call left exactly as they were (an in-place
    function that did nothing to them); ``returned`` is the function's return value.
    """

    values: dict[str, Any]
    returned: Any = None
    unchanged: set[str] = field(default_factory=set)
    # The first input the call wrote into although it should only read it ("grad"), if any.
    changed_input: str | None = None
    # Where an updated value shares memory with an input it was computed from, if anywhere:
    # (observed key, input name), e.g. ("state['momentum_buffer'] after step 1", "grad").
    aliased: tuple[str, str] | None = None
    # Wall time of the call in seconds (outcome-graded exercises compare it with their budget).
    elapsed_s: float | None = None


class returns:
    """Call ``fn(**inputs)`` and compare its return value (pure functions: 1.2, 1.3, ...).

    Every input must come back unchanged: ``hessian.mul_(0.5)`` inside a function that should
    only compute something is reported as ``changed_input``.
    """

    updates: tuple[str, ...] = ()  # the inputs this strategy lets the function change: none

    def __call__(self, fn: Callable[..., Any], inputs: dict[str, Any]) -> Observation:
        before = {name: _clone(value) for name, value in inputs.items()}
        returned = fn(**inputs)
        return Observation({"return value": returned}, returned=returned,
                           changed_input=_first_changed(before, inputs))


class in_place:
    """Call ``fn(**inputs)`` and compare the named inputs afterwards (update rules).

    ``in_place("param", "state")`` observes ``param`` and every tensor in the ``state`` dict
    (under keys like ``state['momentum_buffer']``). Every other input must come back unchanged
    (a learner who writes into ``grad`` is told so), and no updated value may share memory with
    another input: ``state["momentum_buffer"] = grad`` (no clone) would change the moment the
    caller's next ``backward()`` writes into ``grad``. Both are checked after every call, by
    storage (``grad`` itself or any view of it) and by behaviour (each read-only input is changed
    after the call; an updated value that changes with it is an alias).

    ``steps_over="grad"`` makes a multi-step case: the case's ``grad`` is a list of gradients,
    the function is called once per gradient with the same param and state, and the observed
    inputs are compared after every step ("param after step 2").
    """

    def __init__(self, *observed: str, steps_over: str | None = None):
        if not observed:
            raise ValueError("in_place needs the names of the inputs the function updates")
        self.observed = observed
        self.steps_over = steps_over
        self.updates = tuple(observed)

    def __call__(self, fn: Callable[..., Any], inputs: dict[str, Any]) -> Observation:
        inputs = dict(inputs)  # the caller's dict keeps its own entries (the list of steps)
        if self.steps_over is None:
            return self._one_call(fn, inputs, suffix="")
        sequence = inputs.pop(self.steps_over)
        values: dict[str, Any] = {}
        unchanged: set[str] = set()
        returned = None
        for step, item in enumerate(sequence, start=1):
            inputs[self.steps_over] = item
            obs = self._one_call(fn, inputs, suffix=f" after step {step}")
            values.update(obs.values)
            unchanged |= obs.unchanged
            returned = obs.returned if returned is None else returned
            if obs.changed_input is not None or obs.aliased is not None:
                # later steps would only repeat the problem; report it at this step
                return Observation(values, returned=returned, unchanged=unchanged,
                                   changed_input=obs.changed_input, aliased=obs.aliased)
        return Observation(values, returned=returned, unchanged=unchanged)

    def _one_call(self, fn: Callable[..., Any], inputs: dict[str, Any], suffix: str) -> Observation:
        before = {name: _clone(value) for name, value in inputs.items()}
        returned = fn(**inputs)
        values: dict[str, Any] = {}
        unchanged: set[str] = set()
        for name in self.observed:
            for key, value in _flatten(name, inputs[name]):
                values[key + suffix] = _clone(value)
            for key, value in _flatten(name, before[name]):
                after = dict(_flatten(name, inputs[name])).get(key)
                if isinstance(value, torch.Tensor) and isinstance(after, torch.Tensor) \
                        and _identical(after, value):
                    unchanged.add(key + suffix)
        read_only = {name: value for name, value in before.items() if name not in self.observed}
        changed = _first_changed(read_only, inputs)
        aliased = None if changed else self._find_alias(inputs, suffix)
        return Observation(values, returned=returned, unchanged=unchanged,
                           changed_input=changed, aliased=aliased)

    def _find_alias(self, inputs: dict[str, Any], suffix: str) -> tuple[str, str] | None:
        """(observed key, input name) for the first updated value that aliases an input."""
        # 1. By storage: a state entry that is another input, or a view of one.
        for name in self.observed:
            if not isinstance(inputs[name], dict):
                continue
            for key, value in _flatten(name, inputs[name]):
                if not isinstance(value, torch.Tensor):
                    continue
                for other, other_value in inputs.items():
                    if other == name:
                        continue
                    if any(_shares_memory(value, tensor) for tensor in _tensors(other_value)):
                        return key + suffix, other
        # 2. By behaviour: change each read-only input the way the caller's next backward()
        #    would, and see whether an updated value changes with it (then put it back).
        snapshot = {key: _clone(value) for name in self.observed
                    for key, value in _flatten(name, inputs[name])}
        for other, other_value in inputs.items():
            if other in self.observed:
                continue
            for tensor in _tensors(other_value):
                if tensor.dtype == torch.bool or tensor.numel() == 0:
                    continue
                saved = tensor.detach().clone()
                with torch.no_grad():  # an input that requires grad may be changed here too
                    tensor.add_(1)
                try:
                    for name in self.observed:
                        for key, value in _flatten(name, inputs[name]):
                            if isinstance(value, torch.Tensor) and not _identical(
                                    value, snapshot[key]):
                                return key + suffix, other
                finally:
                    with torch.no_grad():
                        tensor.copy_(saved)
        return None


class _ChangedInput(Exception):
    """Raised by a custom call strategy when a function wrote into an input it should only
    read (the built-in strategies record it in ``Observation.changed_input`` instead)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _GuardInputs:
    """Wraps every registered call strategy: the inputs a strategy does not list in its
    ``updates`` attribute (none, for a custom strategy without one) must come back unchanged,
    whatever the strategy itself checks. ``Checker.call`` is always one of these."""

    def __init__(self, strategy: Callable[[Callable[..., Any], dict[str, Any]], Observation]):
        self.strategy = strategy
        self.updates = tuple(getattr(strategy, "updates", ()))

    def __call__(self, fn: Callable[..., Any], inputs: dict[str, Any]) -> Observation:
        originals = dict(inputs)
        before = {name: _clone(value) for name, value in originals.items()
                  if name not in self.updates}
        try:
            observation = self.strategy(fn, dict(inputs))
        except _ChangedInput as changed:
            return Observation({}, changed_input=changed.name)
        if observation.changed_input is None:
            observation.changed_input = _first_changed(before, originals)
        return observation

    def __repr__(self) -> str:
        return f"guarded({self.strategy!r})"


def _first_changed(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """Where ``after`` first differs from its copy ``before``: ``"grad"``, ``"grads[1]"``."""
    for name, value in before.items():
        if name in after:
            where = _changed_path(value, after[name], name)
            if where is not None:
                return where
    return None


def _changed_path(before: Any, after: Any, path: str) -> str | None:
    if isinstance(before, (dict, list, tuple)) and type(after) is type(before) \
            and len(after) == len(before):
        keys = before.keys() if isinstance(before, dict) else range(len(before))
        if isinstance(before, dict) and before.keys() != after.keys():
            return path
        for key in keys:
            where = _changed_path(before[key], after[key], f"{path}[{key!r}]")
            if where is not None:
                return where
        return None
    return None if _same(before, after) else path


def _same(before: Any, after: Any) -> bool:
    """Whether ``after`` still equals the copy ``before`` (tensors, and containers of them)."""
    if isinstance(before, torch.Tensor):
        return isinstance(after, torch.Tensor) and _identical(after, before)
    if isinstance(before, dict):
        return (isinstance(after, dict) and before.keys() == after.keys()
                and all(_same(before[k], after[k]) for k in before))
    if isinstance(before, (list, tuple)):
        return (isinstance(after, (list, tuple)) and len(before) == len(after)
                and all(_same(b, a) for b, a in zip(before, after)))
    return True  # numbers and strings cannot change; other objects are not copied


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


def _shares_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two tensors use the same storage (one is the other, or a view of it)."""
    if a.numel() == 0 or b.numel() == 0 or a.device != b.device:
        return False
    try:
        return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # tensors without storage (e.g. sparse)
        return False


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

# The kinds of exercise (Checker.kind).
FUNCTION = "function"      # the learner writes a function; compared with a reference
PREDICTION = "prediction"  # the learner derives a number; compared with a measured truth
WRITTEN = "written"        # the learner writes prose; read by the instructor, never run
OUTCOME = "outcome"        # the learner's training function must reach a target in a budget


@dataclass(frozen=True)
class Budget:
    """What an outcome-graded exercise may spend: ``epochs``, optimizer ``steps``, ``seconds``.

    The checker's ``run`` harness enforces epochs and steps (it hands them to the learner's
    function, or counts them); the framework times the whole run against ``seconds``.
    """

    epochs: int | None = None
    steps: int | None = None
    seconds: float | None = None

    def describe(self) -> str:
        parts = []
        if self.epochs is not None:
            parts.append(f"{self.epochs} epoch{'s' * (self.epochs != 1)}")
        if self.steps is not None:
            parts.append(f"{self.steps} step{'s' * (self.steps != 1)}")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        return ", ".join(parts) or "no limit"


@dataclass
class Checker:
    """Everything registered for one exercise id. ``kind`` says which fields matter:

    - ``"function"`` (:func:`register`): ``cases``, ``reference``, ``call``, ``mistakes``;
    - ``"prediction"`` (:func:`register_prediction`): ``cases``, ``reference`` (= ``measure``),
      ``rtol``/``atol``, ``explain``, ``mistakes`` (wrong formulas);
    - ``"written"`` (:func:`register_written`): ``prompt``, ``rubric`` (its
      :class:`RubricPoint` s; the exercise is worth their marks, :attr:`max_score`);
    - ``"outcome"`` (:func:`register_outcome`): ``run``, ``target``, ``budget``, ``metric``,
      ``higher_is_better``, ``n_seeds``, ``reference`` (a training function that reaches it).
    """

    exercise_id: str
    cases: Callable[[torch.Generator], Iterable[Case]] | None
    reference: Callable[..., Any] | None
    call: Callable[[Callable[..., Any], dict[str, Any]], Observation] | None
    mistakes: tuple[KnownMistake, ...]
    module: str
    kind: str = FUNCTION
    rtol: float | None = None
    atol: float | None = None
    explain: str | Callable[..., str] | None = None
    prompt: str | None = None
    rubric: tuple["RubricPoint", ...] = ()
    run: Callable[..., Any] | None = None
    target: float | None = None
    budget: Budget | None = None
    metric: str = "validation accuracy"
    higher_is_better: bool = True
    n_seeds: int = 1
    time_limit_s: float | None = None
    # outcome-graded, split in two (``run`` is then their composition): ``train`` runs the
    # learner's code and returns plain data (tensors), ``score`` turns that data into the metric
    train: Callable[..., Any] | None = None
    score: Callable[..., Any] | None = None
    # predict, then measure: how the truth was measured, as the Expected line says it
    measured_by: str = "running the optimizer"

    @property
    def max_score(self) -> float:
        """What the exercise is worth in a gradebook: the marks of its rubric for a written
        answer (0 when it has none), 1 for every exercise a checker decides."""
        if self.kind == WRITTEN:
            return float(sum(point.marks for point in self.rubric))
        return 1.0

    def make_cases(self, seed: int | str | None = None) -> list[Case]:
        """The cases, drawn from a generator seeded by the exercise id (same every run).

        ``seed`` (any int or str) draws other random cases, the same for the same seed, so a
        grader can test each learner on inputs nobody has seen; the generator's fixed edge
        cases come out unchanged.
        """
        if self.kind == WRITTEN:
            raise ValueError(f"exercise {self.exercise_id} is a written answer: it has no cases")
        rng = torch.Generator().manual_seed(case_seed(self.exercise_id, seed))
        if self.kind == OUTCOME:
            seeds = torch.randint(0, 2**31 - 1, (self.n_seeds,), generator=rng).tolist()
            budget = self.budget.describe() if self.budget else "no limit"
            return [Case(f"training with seed {s} (budget: {budget})", seed=s) for s in seeds]
        cases = list(self.cases(rng))
        if not cases:
            raise ValueError(f"checker for exercise {self.exercise_id} produced no cases")
        return cases


def case_seed(exercise_id: str, seed: int | str | None = None) -> int:
    """The torch seed for an exercise's cases: from the id alone by default, else id + seed."""
    if seed is None:
        return zlib.crc32(exercise_id.encode())
    if isinstance(seed, bool) or not isinstance(seed, (int, str)):
        raise TypeError(f"seed must be an int or a str, got {type(seed).__name__}")
    digest = hashlib.sha256(f"{exercise_id}|{type(seed).__name__}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # a non-negative 63-bit integer


REGISTRY: dict[str, Checker] = {}


def _validate_id(exercise_id: str) -> None:
    if not isinstance(exercise_id, str) or not re.fullmatch(r"\d+(\.\d+)+", exercise_id):
        raise ValueError(f"exercise id must look like '3.1', got {exercise_id!r}")


# What each checker was registered with, to notice learner code that swaps a reference out.
_REGISTERED: dict[str, tuple[Any, ...]] = {}


def _fingerprint(checker: Checker) -> tuple[Any, ...]:
    return (checker, checker.reference, checker.call, checker.mistakes, checker.cases,
            checker.run, checker.kind, checker.rtol, checker.atol, checker.target)


def _add(checker: Checker) -> None:
    existing = REGISTRY.get(checker.exercise_id)
    if existing is not None and existing.module != checker.module:
        raise ValueError(f"exercise {checker.exercise_id} is registered twice: in "
                         f"{existing.module} and in {checker.module}")
    REGISTRY[checker.exercise_id] = checker
    _REGISTERED[checker.exercise_id] = _fingerprint(checker)


def _unique_mistakes(exercise_id: str, mistakes: Iterable[KnownMistake]) -> tuple[KnownMistake, ...]:
    mistakes = tuple(mistakes)
    hint_ids = [m.hint_id for m in mistakes]
    if len(set(hint_ids)) != len(hint_ids):
        raise ValueError(f"exercise {exercise_id}: hint ids must be unique, got {hint_ids}")
    return mistakes


def register(exercise_id: str, *, reference: Callable[..., Any],
             call: Callable[..., Observation] | None = None,
             mistakes: Iterable[KnownMistake] = ()):
    """Decorator: register a case generator as the checker for ``exercise_id``.

    The decorated function takes a seeded ``torch.Generator`` and yields :class:`Case` objects.
    ``reference`` is the course_lib implementation the learner's function must equal; ``call``
    says how both are called (:class:`returns` by default, or :class:`in_place`).
    """
    _validate_id(exercise_id)
    mistakes = _unique_mistakes(exercise_id, mistakes)

    def decorator(cases_fn: Callable[[torch.Generator], Iterable[Case]]):
        _add(Checker(exercise_id, cases_fn, reference, _GuardInputs(call or returns()),
                     mistakes, cases_fn.__module__))
        return cases_fn

    return decorator


def register_prediction(exercise_id: str, *, measure: Callable[..., Any], rtol: float,
                        explain: str | Callable[..., str], mistakes: Iterable[KnownMistake] = (),
                        atol: float = 0.0):
    """Decorator: a *predict, then measure* exercise.

    The learner derives a number from the theory and writes it as a function of the case's
    inputs (``def predicted_lr(L, mu, beta): ...``). For each case the check calls
    ``measure(**inputs)``, which finds the truth by *running* the optimizer (never by the
    formula the learner is asked for), and passes when the prediction is within ``rtol``
    (relative, plus ``atol``). ``explain`` is the hint printed when a prediction is off: a
    string, or ``explain(inputs, measured, predicted) -> str`` to talk about this very gap.
    ``mistakes`` are wrong formulas (functions of the same inputs); a prediction that equals
    one within ``rtol`` gets that mistake's hint instead. With exactly one case the learner may
    pass the number itself: ``check("4.5", 3.8)``.
    """
    _validate_id(exercise_id)
    mistakes = _unique_mistakes(exercise_id, mistakes)
    if not (isinstance(rtol, numbers.Real) and rtol >= 0):
        raise ValueError(f"exercise {exercise_id}: rtol must be a number >= 0, got {rtol!r}")

    def decorator(cases_fn: Callable[[torch.Generator], Iterable[Case]]):
        _add(Checker(exercise_id, cases_fn, measure, _GuardInputs(returns()), mistakes,
                     cases_fn.__module__, kind=PREDICTION, rtol=float(rtol), atol=float(atol),
                     explain=explain))
        return cases_fn

    return decorator


@dataclass(frozen=True)
class RubricPoint:
    """One point a good written answer makes, worth ``marks``; shown to markers, never learners
    (``course-grade`` puts it above the class's answers and in the marks template)."""

    marks: float
    text: str

    def __post_init__(self):
        if isinstance(self.marks, bool) or not isinstance(self.marks, (int, float)) \
                or not math.isfinite(self.marks) or self.marks <= 0:
            raise ValueError(f"a rubric point's marks must be a positive number, got "
                             f"{self.marks!r}")
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError("a rubric point needs its text")


def _rubric(exercise_id: str, rubric: Any) -> tuple[RubricPoint, ...]:
    """``rubric`` as points: a sequence of ``(marks, text)`` (or :class:`RubricPoint`); a bare
    string (older checkers, tests) is one point worth 1 mark."""
    if rubric is None:
        return ()
    if isinstance(rubric, str):
        return (RubricPoint(1, rubric.strip()),)
    points = []
    for item in rubric:
        if isinstance(item, RubricPoint):
            points.append(item)
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            points.append(RubricPoint(item[0], str(item[1]).strip()))
        else:
            raise ValueError(f"exercise {exercise_id}: a rubric point is (marks, text), got "
                             f"{item!r}")
    return tuple(points)


def register_written(exercise_id: str, *, prompt: str, rubric: Any = None,
                     max_score: float | None = None) -> Checker:
    """Register a *written answer*: a markdown cell tagged ``answer`` whose metadata has
    ``"exercise_id": exercise_id``. Nothing runs: ``make check`` lists it as "written answer:
    read by your instructor" and the grader exports the text with ``prompt`` (the question, as
    one line) and ``rubric``: the points a good answer makes, each ``(marks, text)``, for the
    marker. The exercise is worth the sum of the marks; ``max_score``, when given, must equal
    it (a declaration the registry checks, so a rubric edit cannot change a gradebook's total
    unnoticed)."""
    _validate_id(exercise_id)
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"exercise {exercise_id}: a written answer needs its prompt")
    points = _rubric(exercise_id, rubric)
    checker = Checker(exercise_id, None, None, None, (), _caller_module(), kind=WRITTEN,
                      prompt=prompt.strip(), rubric=points)
    if max_score is not None and not math.isclose(float(max_score), checker.max_score):
        raise ValueError(f"exercise {exercise_id}: max_score {max_score:g} is not the sum of "
                         f"the rubric's marks ({checker.max_score:g})")
    _add(checker)
    return checker


def register_outcome(exercise_id: str, *, run: Callable[..., Any] | None = None,
                     target: float, budget: Budget | dict[str, Any],
                     reference: Callable[..., Any] | None = None,
                     metric: str = "validation accuracy", higher_is_better: bool = True,
                     n_seeds: int = 1, explain: str | None = None,
                     time_limit_s: float | None = None,
                     train: Callable[..., Any] | None = None,
                     score: Callable[..., Any] | None = None) -> Checker:
    """Register an *outcome-graded* exercise: the learner's training function must reach
    ``target`` within ``budget``.

    ``run(learner_fn, *, seed, budget) -> float`` is the checker's harness: it builds fresh
    data and model from ``seed``, calls the learner's function under the budget (hands it the
    epochs or steps allowed, or counts them) and returns the metric (``metric`` names it). The
    check passes when, for each of ``n_seeds`` seeds, the metric is >= ``target`` (<= when
    ``higher_is_better`` is False) and the run took at most ``budget.seconds``. ``reference``
    is a training function that reaches the target (the tests prove the target is reachable);
    ``explain`` is the hint for a run that falls short. Each run is stopped after
    ``time_limit_s`` (default: 3 x budget.seconds, or 60 s).

    Instead of ``run``, a harness may come in two halves, so that a grader can run the
    learner's code somewhere else (a sandbox) and still compute the metric itself:
    ``train(learner_fn, *, seed, budget) -> data`` calls the learner's function under the
    budget and returns plain data only (numbers, tensors, lists/dicts of them: e.g. the trained
    model's ``state_dict``); ``score(data, *, seed, budget) -> float`` computes the metric from
    that data (e.g. loads it into a fresh copy of the course's model and evaluates it on the
    validation split). ``train`` must live outside ``course_lib.exercises.checks`` (in a module the
    sandbox may import); ``run`` is then ``score(train(...))``.
    """
    _validate_id(exercise_id)
    if (run is None) == (train is None and score is None) or (train is None) != (score is None):
        raise TypeError(f"exercise {exercise_id}: give either run=, or both train= and score=")
    if run is None:
        run = _TrainThenScore(train, score)
    if isinstance(budget, dict):
        budget = Budget(**budget)
    if not isinstance(budget, Budget):
        raise TypeError(f"exercise {exercise_id}: budget must be a Budget or a dict, "
                        f"got {type(budget).__name__}")
    if not isinstance(target, numbers.Real):
        raise TypeError(f"exercise {exercise_id}: target must be a number, got {target!r}")
    if not (isinstance(n_seeds, int) and n_seeds >= 1):
        raise ValueError(f"exercise {exercise_id}: n_seeds must be a positive int")
    if time_limit_s is None:
        time_limit_s = 3 * budget.seconds if budget.seconds else 60.0
    checker = Checker(exercise_id, None, reference, None, (), _caller_module(), kind=OUTCOME,
                      explain=explain, run=run, target=float(target), budget=budget,
                      metric=metric, higher_is_better=higher_is_better, n_seeds=n_seeds,
                      time_limit_s=time_limit_s, train=train, score=score)
    checker.call = _GuardInputs(_outcome_call(checker))
    _add(checker)
    return checker


class _TrainThenScore:
    """``run`` of an outcome-graded exercise registered as ``train`` and ``score``."""

    def __init__(self, train: Callable[..., Any], score: Callable[..., Any]):
        self.train, self.score = train, score

    def __call__(self, fn: Callable[..., Any], *, seed: int, budget: Budget) -> Any:
        return self.score(self.train(fn, seed=seed, budget=budget), seed=seed, budget=budget)


class _outcome_call:
    """Call strategy of outcome-graded exercises: time ``run(fn, seed=..., budget=...)``."""

    def __init__(self, checker: Checker):
        self.checker = checker

    def __call__(self, fn: Callable[..., Any], inputs: dict[str, Any]) -> Observation:
        start = time.perf_counter()
        value = self.checker.run(fn, seed=inputs["seed"], budget=self.checker.budget)
        elapsed = time.perf_counter() - start
        return Observation({self.checker.metric: value}, returned=value, elapsed_s=elapsed)


def _caller_module() -> str:
    """The module that called register_written/register_outcome (two frames up)."""
    return sys._getframe(2).f_globals.get("__name__", "?")


# --------------------------------------------------------------------------------------------
# Running a check
# --------------------------------------------------------------------------------------------


def run_checker(checker: Checker, learner_fn: Any, *,
                seed: int | str | None = None) -> CheckResult:
    """Run every case; stop at the first failing one and diagnose it.

    Whatever the learner's code does (raise anything, ``sys.exit()``, return odd objects), the
    result is a :class:`CheckResult`; nothing the learner raises escapes.
    """
    exercise_id = checker.exercise_id
    if checker.kind == WRITTEN:
        return CheckResult(exercise_id, False, 0, "written",
                           reason="this is a written answer: your instructor reads it "
                                  "(nothing runs)")
    cases = checker.make_cases(seed)
    learner_fn, problem = _as_function(checker, learner_fn, len(cases))
    if problem is not None:
        return problem
    limit = checker.time_limit_s if checker.kind == OUTCOME else LEARNER_TIME_LIMIT_S
    for case in cases:
        # Before the reference runs again: an answer that replaced what it stands on (a
        # measurement's helpers, say) must not get to feed it made-up numbers.
        patched = _patched_result(checker, len(cases))
        if patched is not None:
            return patched
        expected = None if checker.kind == OUTCOME else checker.call(checker.reference,
                                                                     case.fresh_inputs())
        try:
            with _time_limit(limit):
                received = checker.call(learner_fn, case.fresh_inputs())
        except _TooSlow:
            return CheckResult(exercise_id, False, len(cases), "error",
                               reason=f"your function ran for more than {limit:g} s "
                                      "on one case and was stopped",
                               failing_case=case.description, hint_id="too_slow",
                               details=["Is there a loop that never ends (for example a "
                                        "simulation that never reaches the tolerance)?"])
        except NotImplementedError:
            return CheckResult(exercise_id, False, len(cases), "not_attempted",
                               reason="not attempted yet (your function still raises "
                                      "NotImplementedError)",
                               details=["Replace the `raise NotImplementedError(...)` line with "
                                        "your code, run that cell, then run this one again."])
        except BaseException as error:  # the learner's own bug, even sys.exit(): report it
            return _raised(exercise_id, len(cases), case, error)
        try:
            failure = diagnose(checker, case, expected, received)
        except BaseException as error:  # e.g. a returned object whose == raises
            result = _raised(exercise_id, len(cases), case, error)
            result.reason = ("comparing what your function returned raised "
                             f"{type(error).__name__}: {error}")
            return result
        if failure is not None:
            failure.n_cases = len(cases)
            return failure
    return _patched_result(checker, len(cases)) or CheckResult(exercise_id, True, len(cases),
                                                                "passed")


def _patched_result(checker: Checker, n_cases: int) -> CheckResult | None:
    """The failing result when a watched function is no longer the original, else None."""
    replaced = _replaced_helpers(checker)
    if not replaced:
        return None
    return CheckResult(checker.exercise_id, False, n_cases, "error", hint_id="patched_helpers",
                       reason="the check cannot trust its result: code in your notebook "
                              f"replaced {', '.join(replaced)}",
                       details=["Write the answer with your own code; do not replace "
                                "functions of torch or course_lib. Restart the kernel "
                                "(Kernel → Restart) and run your cells again."])


# The functions a verdict depends on, as they were when the framework was imported. A learner's
# function that swaps one of them (torch.isclose returning True, a patched compare) would pass
# anything; run_checker refuses to call such a run a pass. (A sandboxed grader is the real
# defence; this catches the simple cases in a learner's own kernel.)
def _watched() -> dict[str, Any]:
    module = sys.modules[__name__]
    watched = {f"torch.{name}": getattr(torch, name)
               for name in ("isclose", "isnan", "equal", "stack", "clone")}
    watched.update({f"torch.Tensor.{name}": getattr(torch.Tensor, name)
                    for name in ("__eq__", "__ne__", "all", "any", "clone", "detach", "item",
                                 "tolist", "copy_", "add_", "sum")})
    watched.update({f"math.{name}": getattr(math, name) for name in ("isnan", "isinf",
                                                                     "isfinite")})
    watched.update({f"course_lib.exercises.checks.{name}": getattr(module, name)
                    for name in ("compare", "diagnose", "_compare_tensor", "_compare_float",
                                 "_compare_int", "_as_number", "_identical", "_same",
                                 "_first_changed", "_matching_mistake", "_diagnose_prediction",
                                 "_diagnose_outcome", "_clone", "_flatten")})
    return watched



# Attributes a topic module asks to have watched as well (watch()): a measurement's own helpers,
# which an answer could replace to feed the check made-up numbers. {label: (owner, name, original)}
_WATCHED_ATTRIBUTES: dict[str, tuple[Any, str, Any]] = {}


def watch(owner: Any, *names: str) -> None:
    """Watch ``owner.name`` for each name (a module's function, a class): a check run after an
    answer replaced one fails with the ``patched_helpers`` hint, as for the framework's own."""
    for name in names:
        label = f"{getattr(owner, '__name__', type(owner).__name__)}.{name}"
        _WATCHED_ATTRIBUTES[label] = (owner, name, getattr(owner, name))


def _replaced_helpers(checker: Checker) -> list[str]:
    """The watched functions (and this checker's registration) that are not the originals."""
    now = _watched()
    replaced = [name for name, original in _ORIGINALS.items() if now.get(name) is not original]
    replaced += [label for label, (owner, name, original) in _WATCHED_ATTRIBUTES.items()
                 if getattr(owner, name, None) is not original]
    registered = _REGISTERED.get(checker.exercise_id)
    current = REGISTRY.get(checker.exercise_id)
    if registered is not None and (current is None or any(
            a is not b for a, b in zip(_fingerprint(current), registered))):
        replaced.append(f"the registered checker of exercise {checker.exercise_id}")
    return replaced


def _as_function(checker: Checker, learner_fn: Any,
                 n_cases: int) -> tuple[Callable[..., Any], CheckResult | None]:
    """The learner's answer as a function, or a result explaining why it is not one."""
    exercise_id = checker.exercise_id
    if callable(learner_fn):
        return learner_fn, None
    if checker.kind == PREDICTION and _as_number(learner_fn) is not None:
        if n_cases == 1:
            value = learner_fn
            return (lambda **inputs: value), None
        return learner_fn, CheckResult(
            exercise_id, False, n_cases, "error",
            reason=f"this exercise checks your prediction on {n_cases} cases, so it needs a "
                   "function of the inputs, not one number",
            details=[f"Write `def predicted(...)` with the parameters of the exercise and pass "
                     f'the function: check("{exercise_id}", predicted)'])
    return learner_fn, CheckResult(
        exercise_id, False, 0, "error",
        reason=f"check() needs your function, got {_short(learner_fn)}",
        details=["Pass the function itself, without calling it: "
                 f'check("{exercise_id}", my_function)'])


# A learner's endless loop must not hang the notebook: each call gets this long (seconds).
# A convenience only: code can switch the timer off or catch its exception in a loop; the
# backstop is the per-cell time limit of `make check` (course_lib/exercises/make_check.py).
LEARNER_TIME_LIMIT_S = 20


class _TooSlow(BaseException):
    """Raised inside the learner's code by the timer; a BaseException so `except Exception`
    in learner code cannot swallow it."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (SIGALRM; only on Unix, in the main thread, where
    notebook cells run; elsewhere the block simply runs without a limit)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise _TooSlow()

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# What to add when learner code raises one of the exceptions that are not errors.
_BASE_EXCEPTION_ADVICE = {
    SystemExit: "sys.exit() / exit() / quit() stop the whole Python session; a function "
                "gives its result back with `return`.",
    KeyboardInterrupt: "The run was interrupted (the Stop button, or your code raised "
                       "KeyboardInterrupt).",
    GeneratorExit: "GeneratorExit is how Python closes a generator; do not raise it yourself.",
}


# Hints for an exception that learner code commonly raises on one exercise (a log of 0, the
# square root of a negative number): exercise id -> [(exception type, text in its message,
# hint_id, hint)]. Added by ``register_error_hint``; ``_raised`` attaches the first that matches.
ERROR_HINTS: dict[str, list[tuple[type, str, str, str]]] = {}


def register_error_hint(exercise_id: str, error_type: type, message_contains: str, hint_id: str,
                        hint: str) -> None:
    """When the learner's function raises ``error_type`` with ``message_contains`` in its
    message on exercise ``exercise_id``, report ``hint`` (and ``hint_id``) with the error."""
    ERROR_HINTS.setdefault(exercise_id, []).append((error_type, message_contains, hint_id, hint))


def _raised(exercise_id: str, n_cases: int, case: Case, error: BaseException) -> CheckResult:
    result = _raised_without_hint(exercise_id, n_cases, case, error)
    for error_type, contains, hint_id, hint in ERROR_HINTS.get(exercise_id, ()):
        if isinstance(error, error_type) and contains in result.reason:
            result.hint_id, result.hint = hint_id, hint
            break
    return result


def _raised_without_hint(exercise_id: str, n_cases: int, case: Case,
                         error: BaseException) -> CheckResult:
    details = []
    frame = _last_learner_frame(error)
    if frame is not None:
        where = f"line {frame.lineno}" + (f": {frame.line.strip()}" if frame.line else "")
        details.append(f"In your code, {where}")
    elif isinstance(error, TypeError):
        # raised by the call itself: the learner renamed or dropped a parameter
        details.append("The check calls your function with these arguments, by name: "
                       f"{', '.join(case.inputs)}. Keep the parameter names of the exercise.")
    for kind, advice in _BASE_EXCEPTION_ADVICE.items():
        if isinstance(error, kind):
            details.append(advice)
    try:
        message = str(error)
    except BaseException:  # an exception whose __str__ raises
        message = "(its message could not be shown)"
    return CheckResult(exercise_id, False, n_cases, "error",
                       reason=f"your function raised {type(error).__name__}: {message}",
                       failing_case=case.description, details=details)


def _last_learner_frame(error: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame outside course_lib and installed packages: the learner's line."""
    course_lib_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    learner_frames = [
        frame for frame in traceback.extract_tb(error.__traceback__)
        if not os.path.abspath(frame.filename).startswith(course_lib_dir)
        and "site-packages" not in frame.filename and "/lib/python" not in frame.filename
    ]
    return learner_frames[-1] if learner_frames else None


def diagnose(checker: Checker, case: Case, expected: Observation | None,
             received: Observation) -> CheckResult | None:
    """None when ``received`` passes ``case``; otherwise the failing :class:`CheckResult`.

    ``expected`` is what ``checker.call(checker.reference, case.fresh_inputs())`` observed
    (None for outcome-graded exercises, which compare with ``checker.target``); ``received``
    is ``checker.call(learner_fn, case.fresh_inputs())``. The two may come from different
    processes (the grader runs learner code in a sandbox). ``n_cases`` of the result is 0;
    the caller fills it in. Known mistakes are re-run here (course code only).
    """
    exercise_id = checker.exercise_id
    if received.changed_input is not None:
        name = received.changed_input
        return CheckResult(exercise_id, False, 0, "failed",
                           reason=f"your function changed `{name}`, which it should only read",
                           failing_case=case.description, hint_id="changed_input",
                           hint=f"Work on a new tensor (e.g. `{name} * 2`) instead of an "
                                f"in-place operation on `{name}` (`{name}.mul_(2)`, "
                                f"`{name} *= 2`). Note that `x = {name}` does not copy: `x += 1` "
                                f"would still change `{name}`; `x = {name}.clone()` does copy.")
    if received.aliased is not None:
        key, name = received.aliased
        return CheckResult(exercise_id, False, 0, "failed",
                           reason=f"{key} shares memory with `{name}`",
                           failing_case=case.description, hint_id="aliased_input",
                           hint=f"You stored `{name}` itself (or a view of it), not a copy. The "
                                f"caller owns `{name}` and overwrites it (the next backward() "
                                f"writes the next gradient into the same tensor), and your "
                                f"state would change with it. Store a copy: "
                                f"`{name}.clone()` (torch uses `torch.clone({name}).detach()`).")
    if checker.kind == OUTCOME:
        return _diagnose_outcome(checker, case, received)
    if checker.kind == PREDICTION:
        return _diagnose_prediction(checker, case, expected, received)
    for key, expected_value in expected.values.items():
        received_value = received.values.get(key, _MISSING)
        problem = compare(expected_value, received_value, rtol=case.rtol, atol=case.atol)
        if problem is None:
            continue
        reason = f"{key} is wrong" if problem == "wrong value" else f"{key}: {problem}"
        result = CheckResult(exercise_id, False, 0, "failed", reason=reason,
                             failing_case=case.description, expected=_short(expected_value),
                             received=_short(received_value))
        if key in received.unchanged:
            # The learner's function left this input untouched although the reference changed
            # it: either it built a new tensor (and maybe returned it) or it rebound a name.
            result.hint_id = "updated_a_copy"
            if isinstance(received.returned, torch.Tensor):
                result.reason = f"{key} was not updated in place (your function returned a new tensor)"
                result.hint = ("Update the tensor you were given, in place: `param.sub_(lr * grad)` "
                               "or `param -= lr * grad`. `param = param - lr * grad` only makes a "
                               "new tensor inside your function.")
            else:
                result.reason = f"{key} was not changed by your function"
                result.hint = ("Update the tensor you were given, in place: `param.sub_(lr * grad)` "
                               "or `param -= lr * grad`; assigning `param = ...` inside the "
                               "function does not change the caller's tensor.")
            return result
        if received_value is None and key == "return value":
            result.hint_id = "returned_none"
            result.hint = "Your function returned None: did you forget the `return` statement?"
            return result
        mistake = _matching_mistake(checker, case, received)
        if mistake is not None:
            result.hint_id, result.hint = mistake.hint_id, mistake.message
        return result
    for key, received_value in received.values.items():
        if key in expected.values:
            continue
        # Something the reference does not keep, e.g. a momentum buffer when momentum is 0.
        result = CheckResult(exercise_id, False, 0, "failed",
                             reason=f"{key} should not exist in this case",
                             failing_case=case.description, expected="(no such entry)",
                             received=_short(received_value), hint_id="extra_entry",
                             hint="Your function created an entry the reference keeps no such "
                                  "entry for in this case; create state only when it is used.")
        mistake = _matching_mistake(checker, case, received, needs_key=key)
        if mistake is not None:
            result.hint_id, result.hint = mistake.hint_id, mistake.message
        return result
    return None


_diagnose = diagnose  # the name before it was public


def _diagnose_prediction(checker: Checker, case: Case, expected: Observation,
                         received: Observation) -> CheckResult | None:
    rtol = checker.rtol if case.rtol is None else case.rtol
    atol = checker.atol if case.atol is None else case.atol
    measured = expected.values["return value"]
    if _as_number(measured) is not None:  # compared with a tolerance, even a whole number
        measured = float(_as_number(measured))
    predicted = received.values.get("return value", _MISSING)
    problem = compare(measured, predicted, rtol=rtol, atol=atol)
    if problem is None:
        return None
    if rtol == 0 and atol == 0:
        tolerance = "only this value passes"
    else:
        tolerance = (f"within {rtol:.0%}" if rtol >= 0.01 else f"within a relative {rtol:g}") + " passes"
    result = CheckResult(checker.exercise_id, False, 0, "failed",
                         failing_case=case.description,
                         expected=f"{_short(measured)} (measured by {checker.measured_by}; "
                                  f"{tolerance})",
                         received=f"{_short(predicted)} (your prediction)")
    measured_number, predicted_number = _as_number(measured), _as_number(predicted)
    if predicted is None:
        result.reason = "your prediction is None"
        result.hint_id = "returned_none"
        result.hint = "Your function returned None: did you forget the `return` statement?"
        return result
    if problem != "wrong value" or measured_number is None or predicted_number is None:
        result.reason = f"your prediction: {problem}"
        return result
    result.reason = prediction_gap(measured_number, predicted_number)
    mistake = _matching_mistake(checker, case, received, rtol=rtol, atol=atol)
    if mistake is not None:
        result.hint_id, result.hint = mistake.hint_id, mistake.message
    else:
        result.hint_id = "prediction_off"
        explain = checker.explain
        result.hint = (explain(dict(case.inputs), measured_number, predicted_number)
                       if callable(explain) else explain)
    return result


def _ratio_text(ratio: float) -> str:
    """1.9, 0.52, 1.0026: enough digits to show how far from 1 the ratio is."""
    gap = abs(ratio - 1)
    digits = 2 if gap == 0 else min(6, max(2, 2 + math.ceil(-math.log10(gap))))
    return f"{ratio:.{digits}g}"


def _about(factor: float) -> str:
    """A factor rounded as a learner says it: about 4.3, about 25, about 1000."""
    if factor < 10:
        return f"{factor:.2g}"
    rounded = float(f"{factor:.1g}") if factor >= 100 else float(f"{factor:.2g}")
    return f"{rounded:.0f}" if rounded < 1e6 else f"{rounded:.0e}"


def prediction_gap(measured: float, predicted: float) -> str:
    """How a prediction differs from the measured value, in the learner's words: the ratio
    and the sign ("1.9× the measured value (same sign)", "off by a factor of about 1000",
    "the wrong sign"), never a signed relative percentage."""
    if not math.isfinite(predicted):
        return f"your prediction is {predicted:g}; the measured value is {measured:.4g}"
    if measured == 0:
        return f"the measured value is 0; your prediction is {predicted:.4g}"
    if predicted == 0:
        return f"your prediction is 0; the measured value is {measured:.4g}"
    ratio = predicted / measured
    size = abs(ratio)
    factor = size if size >= 1 else 1 / size
    if ratio < 0:
        text = "your prediction has the wrong sign"
        if factor >= 1.05:
            text += (f", and its size is {_ratio_text(size)}× the measured one" if factor < 3
                     else f", and its size is off by a factor of about {_about(factor)} "
                          f"({'too large' if size > 1 else 'too small'})")
        return text
    if factor >= 3:
        return (f"your prediction is off by a factor of about {_about(factor)}: "
                f"{'too large' if size > 1 else 'too small'} in size (same sign)")
    return f"your prediction is {_ratio_text(ratio)}× the measured value (same sign)"


def _diagnose_outcome(checker: Checker, case: Case, received: Observation) -> CheckResult | None:
    value = received.values.get(checker.metric, _MISSING)
    number = _as_number(value)
    budget = checker.budget or Budget()
    goal = f"{'≥' if checker.higher_is_better else '≤'} {checker.target:g}"
    result = CheckResult(checker.exercise_id, False, 0, "failed", failing_case=case.description,
                         expected=f"{checker.metric} {goal} within {budget.describe()}")
    if number is None or math.isnan(number):
        result.reason = f"your training run gave no usable {checker.metric}"
        result.received = _short(value)
        return result
    result.received = f"{checker.metric} {number:.4g}"
    if received.elapsed_s is not None and received.elapsed_s >= 0.05:
        # (a time measured as 0, or not measured where the run happened, says nothing)
        seconds = received.elapsed_s
        result.received += f" after {seconds:.1f} s" if seconds < 10 else f" after {seconds:.0f} s"
    if budget.seconds is not None and received.elapsed_s is not None \
            and received.elapsed_s > budget.seconds:
        result.reason = (f"your training took {received.elapsed_s:.1f} s; the budget is "
                         f"{budget.seconds:g} s")
        result.hint_id = "over_budget"
        result.hint = "Reach the target with less work: fewer or cheaper steps."
        return result
    reached = number >= checker.target if checker.higher_is_better else number <= checker.target
    if reached:
        return None
    result.reason = f"{checker.metric} {number:.4g} does not reach the target {goal}"
    result.hint_id = "target_missed"
    result.hint = checker.explain
    return result


def _matching_mistake(checker: Checker, case: Case, received: Observation, *,
                      rtol: float | None = None, atol: float | None = None,
                      needs_key: str | None = None) -> KnownMistake | None:
    """The first known mistake whose output equals the learner's on this case, if any
    (and, with ``needs_key``, which also produces that observed value)."""
    rtol = case.rtol if rtol is None else rtol
    atol = case.atol if atol is None else atol
    for mistake in checker.mistakes:
        try:
            wrong = checker.call(mistake.wrong_function, case.fresh_inputs())
        except Exception:  # a wrong implementation may legitimately blow up on an edge case
            continue
        if needs_key is not None and needs_key not in wrong.values:
            continue
        if wrong.values and all(
                compare(value, received.values.get(key, _MISSING), rtol=rtol, atol=atol) is None
                for key, value in wrong.values.items()):
            return mistake
    return None


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------

# torch.testing.assert_close's defaults for each dtype; Python floats are treated as float64.
TOLERANCES = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
}

_MISSING = object()


def compare(expected: Any, received: Any, *, rtol: float | None = None,
            atol: float | None = None) -> str | None:
    """None when ``received`` matches ``expected``; otherwise a short reason for the learner."""
    if received is _MISSING:
        return "missing (your function did not create it)"
    if isinstance(expected, torch.Tensor):
        return _compare_tensor(expected, received, rtol, atol)
    if expected is None:
        return None if received is None else f"expected None, got {_type_name(received)}"
    if isinstance(expected, bool):
        if isinstance(received, torch.Tensor) and received.numel() == 1:
            received = bool(received.item())
        if not isinstance(received, bool):
            return f"expected True or False, got {_type_name(received)}"
        return None if received == expected else "wrong value"
    if isinstance(expected, numbers.Integral):
        return _compare_int(expected, received)
    if isinstance(expected, numbers.Real):
        return _compare_float(float(expected), received, rtol, atol)
    if isinstance(expected, (tuple, list)):
        if not isinstance(received, (tuple, list)):
            return f"expected a {type(expected).__name__}, got {_type_name(received)}"
        if len(received) != len(expected):
            return f"expected {len(expected)} items, got {len(received)}"
        for index, (e, r) in enumerate(zip(expected, received)):
            problem = compare(e, r, rtol=rtol, atol=atol)
            if problem is not None:
                return f"item {index}: {problem}"
        return None
    if isinstance(expected, dict):
        if not isinstance(received, dict):
            return f"expected a dict, got {_type_name(received)}"
        for key, value in expected.items():
            if key not in received:
                return f"key {key!r} is missing"
            problem = compare(value, received[key], rtol=rtol, atol=atol)
            if problem is not None:
                return f"[{key!r}]: {problem}"
        return None
    try:
        return None if bool(received == expected) else "wrong value"
    except Exception:  # e.g. comparing a tensor with a string
        return f"expected {_type_name(expected)}, got {_type_name(received)}"


def _compare_tensor(expected: torch.Tensor, received: Any, rtol, atol) -> str | None:
    if received is None:
        return "got None instead of a tensor"
    if not isinstance(received, torch.Tensor):
        return f"expected a tensor, got {_type_name(received)}"
    if received.shape != expected.shape:
        return f"wrong shape: expected {tuple(expected.shape)}, got {tuple(received.shape)}"
    if received.dtype != expected.dtype:
        return f"wrong dtype: expected {expected.dtype}, got {received.dtype}"
    if received.is_floating_point():
        if (torch.isnan(received) & ~torch.isnan(expected)).any():
            return "contains NaN where the expected value is a number"
        default_rtol, default_atol = TOLERANCES.get(expected.dtype, (0.0, 0.0))
        rtol = default_rtol if rtol is None else rtol
        atol = default_atol if atol is None else atol
        close = torch.isclose(received, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = received == expected
    if bool(close.all()):
        return None
    bad = int((~close).sum())
    if expected.numel() == 1:
        return "wrong value"
    return f"{bad} of {expected.numel()} values differ"


def _as_number(received: Any) -> float | None:
    if isinstance(received, torch.Tensor) and received.numel() == 1:
        return received.item()
    if isinstance(received, numbers.Real) and not isinstance(received, bool):
        return received
    return None


def _compare_int(expected: int, received: Any) -> str | None:
    value = _as_number(received)
    if value is None:
        return f"expected a whole number, got {_type_name(received)}"
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        return f"expected a whole number, got {value:g}"
    return None if value == expected else "wrong value"


def _compare_float(expected: float, received: Any, rtol, atol) -> str | None:
    value = _as_number(received)
    if value is None:
        return f"expected a number, got {_type_name(received)}"
    if math.isnan(value) and not math.isnan(expected):
        return "got NaN where the expected value is a number"
    if math.isinf(expected) or math.isinf(value):
        return None if value == expected else "wrong value"
    default_rtol, default_atol = TOLERANCES[torch.float64]
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    return None if abs(value - expected) <= atol + rtol * abs(expected) else "wrong value"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same shape, dtype and values, NaN equal to NaN (torch.equal treats NaN as unequal)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point():
        return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
    return torch.equal(a, b)


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    return value


def _flatten(name: str, value: Any) -> list[tuple[str, Any]]:
    """``state`` -> [("state['step']", tensor), ...]; a tensor -> [(name, tensor)]."""
    if isinstance(value, dict):
        return [(f"{name}[{key!r}]", item) for key, item in value.items()]
    return [(name, value)]


def _type_name(value: Any) -> str:
    if value is None:
        return "None"
    return type(value).__name__


def _short(value: Any, max_items: int = 6) -> str:
    """A one-line repr a learner can read: values for small tensors, a summary for big ones."""
    if value is _MISSING:
        return "(missing)"
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        if value.dim() == 0:
            item = value.item()
            return f"tensor({item:.8g}) ({dtype})" if isinstance(item, float) else f"tensor({item}) ({dtype})"
        flat = value.detach().flatten().tolist()
        shown = ", ".join(f"{x:.6g}" if isinstance(x, float) else str(x) for x in flat[:max_items])
        if len(flat) > max_items:
            shown += ", ..."
        shape = "x".join(str(s) for s in value.shape) or "scalar"
        return f"tensor([{shown}]) ({shape}, {dtype})"
    if isinstance(value, float):
        return f"{value:.8g}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_short(v) for v in value[:max_items])
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# Taken last, when every function of this module exists (see _watched).
_ORIGINALS = _watched()
