"""The machinery every exercise checker shares.

A checker is declared once per exercise id with :func:`register`::

    @register("1.1", reference=reference_gd_step, call=in_place("param"),
              mistakes=[KnownMistake("ascent", gd_ascent, "You moved along +grad ...")])
    def gd_step_cases(rng):
        yield Case("zero gradient", param=torch.ones(3), grad=torch.zeros(3), lr=0.1)

For each case the framework gives the learner's function, the reference and (on a failure) each
known wrong implementation their own fresh copies of the inputs, calls them the same way (the
``call`` strategy), and compares what it observes. Nothing is compared against stored numbers.

The order of the diagnosis on a failing case is the order a learner needs it in:

1. ``NotImplementedError``      -> "not attempted yet" (the generated stub raises it);
2. any other exception          -> its type and message and the learner's own line, no traceback;
3. framework detectors          -> returned None, updated a copy instead of in place, changed an
                                   input it should not have, wrong shape / dtype, NaN;
4. known mistakes               -> the learner's output equals a declared wrong implementation's
                                   output on this case: print that mistake's hint;
5. otherwise                    -> expected vs received.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import signal
import threading
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
    status: str  # "passed" | "failed" | "not_attempted" | "error" | "unknown_exercise"
    reason: str = ""
    failing_case: str | None = None
    expected: str | None = None
    received: str | None = None
    hint_id: str | None = None
    hint: str | None = None
    details: list[str] = field(default_factory=list)

    def first_line(self) -> str:
        if self.passed:
            return f"✅ Exercise {self.exercise_id} passed ({self.n_cases} cases)"
        return f"❌ Exercise {self.exercise_id} not passed yet: {self.reason}"

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


class returns:
    """Call ``fn(**inputs)`` and compare its return value (pure functions: 1.2, 1.3, ...)."""

    def __call__(self, fn: Callable[..., Any], inputs: dict[str, Any]) -> Observation:
        returned = fn(**inputs)
        return Observation({"return value": returned}, returned=returned)


class in_place:
    """Call ``fn(**inputs)`` and compare the named inputs afterwards (update rules).

    ``in_place("param", "state")`` observes ``param`` and every tensor in the ``state`` dict
    (under keys like ``state['momentum_buffer']``). Every other tensor input must come back
    unchanged (a learner who writes into ``grad`` is told so).

    ``steps_over="grad"`` makes a multi-step case: the case's ``grad`` is a list of gradients,
    the function is called once per gradient with the same param and state, and the observed
    inputs are compared after every step ("param after step 2").
    """

    def __init__(self, *observed: str, steps_over: str | None = None):
        if not observed:
            raise ValueError("in_place needs the names of the inputs the function updates")
        self.observed = observed
        self.steps_over = steps_over

    def __call__(self, fn: Callable[..., Any], inputs: dict[str, Any]) -> Observation:
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
        for name, value in before.items():
            if name in self.observed or not isinstance(value, torch.Tensor):
                continue
            if not isinstance(inputs[name], torch.Tensor) or not _identical(inputs[name], value):
                raise _ChangedInput(name)
        return Observation(values, returned=returned, unchanged=unchanged)


class _ChangedInput(Exception):
    """Raised by ``in_place`` when a function wrote into an input it should only read."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass
class Checker:
    exercise_id: str
    cases: Callable[[torch.Generator], Iterable[Case]]
    reference: Callable[..., Any]
    call: Callable[[Callable[..., Any], dict[str, Any]], Observation]
    mistakes: tuple[KnownMistake, ...]
    module: str

    def make_cases(self) -> list[Case]:
        """The cases, drawn from a generator seeded by the exercise id (same every run)."""
        rng = torch.Generator().manual_seed(zlib.crc32(self.exercise_id.encode()))
        cases = list(self.cases(rng))
        if not cases:
            raise ValueError(f"checker for exercise {self.exercise_id} produced no cases")
        return cases


REGISTRY: dict[str, Checker] = {}


def register(exercise_id: str, *, reference: Callable[..., Any],
             call: Callable[..., Observation] | None = None,
             mistakes: Iterable[KnownMistake] = ()):
    """Decorator: register a case generator as the checker for ``exercise_id``.

    The decorated function takes a seeded ``torch.Generator`` and yields :class:`Case` objects.
    ``reference`` is the course_lib implementation the learner's function must equal; ``call``
    says how both are called (:class:`returns` by default, or :class:`in_place`).
    """
    if not isinstance(exercise_id, str) or not exercise_id.replace(".", "").isdigit():
        raise ValueError(f"exercise id must look like '3.1', got {exercise_id!r}")
    mistakes = tuple(mistakes)
    hint_ids = [m.hint_id for m in mistakes]
    if len(set(hint_ids)) != len(hint_ids):
        raise ValueError(f"exercise {exercise_id}: hint ids must be unique, got {hint_ids}")

    def decorator(cases_fn: Callable[[torch.Generator], Iterable[Case]]):
        if exercise_id in REGISTRY and REGISTRY[exercise_id].module != cases_fn.__module__:
            raise ValueError(f"exercise {exercise_id} is registered twice: in "
                             f"{REGISTRY[exercise_id].module} and in {cases_fn.__module__}")
        REGISTRY[exercise_id] = Checker(exercise_id, cases_fn, reference, call or returns(),
                                        mistakes, cases_fn.__module__)
        return cases_fn

    return decorator


# --------------------------------------------------------------------------------------------
# Running a check
# --------------------------------------------------------------------------------------------


def run_checker(checker: Checker, learner_fn: Callable[..., Any]) -> CheckResult:
    """Run every case; stop at the first failing one and diagnose it."""
    exercise_id = checker.exercise_id
    if not callable(learner_fn):
        return CheckResult(exercise_id, False, 0, "error",
                           reason=f"check() needs your function, got {_short(learner_fn)}",
                           details=["Pass the function itself, without calling it: "
                                    f'check("{exercise_id}", my_function)'])
    cases = checker.make_cases()
    for case in cases:
        expected = checker.call(checker.reference, case.fresh_inputs())
        try:
            with _time_limit(LEARNER_TIME_LIMIT_S):
                received = checker.call(learner_fn, case.fresh_inputs())
        except _TooSlow:
            return CheckResult(exercise_id, False, len(cases), "error",
                               reason=f"your function ran for more than {LEARNER_TIME_LIMIT_S} s "
                                      "on one case and was stopped",
                               failing_case=case.description,
                               details=["Is there a loop that never ends (for example a "
                                        "simulation that never reaches the tolerance)?"])
        except NotImplementedError:
            return CheckResult(exercise_id, False, len(cases), "not_attempted",
                               reason="not attempted yet (your function still raises "
                                      "NotImplementedError)",
                               details=["Replace the `raise NotImplementedError(...)` line with "
                                        "your code, run that cell, then run this one again."])
        except _ChangedInput as changed:
            return CheckResult(exercise_id, False, len(cases), "failed",
                               reason=f"your function changed `{changed.name}`, which it should "
                                      "only read",
                               failing_case=case.description, hint_id="changed_input",
                               hint=f"Work on a new tensor (e.g. `{changed.name} * 2`) instead of "
                                    f"an in-place operation on `{changed.name}` "
                                    f"(`{changed.name}.mul_(2)`, `{changed.name} *= 2`).")
        except Exception as error:  # the learner's own bug: report it, never re-raise it
            return _raised(exercise_id, len(cases), case, error)
        failure = _diagnose(checker, case, expected, received)
        if failure is not None:
            failure.n_cases = len(cases)
            return failure
    return CheckResult(exercise_id, True, len(cases), "passed")


# A learner's endless loop must not hang the notebook: each call gets this long (seconds).
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


def _raised(exercise_id: str, n_cases: int, case: Case, error: Exception) -> CheckResult:
    details = []
    frame = _last_learner_frame(error)
    if frame is not None:
        where = f"line {frame.lineno}" + (f": {frame.line.strip()}" if frame.line else "")
        details.append(f"In your code, {where}")
    elif isinstance(error, TypeError):
        # raised by the call itself: the learner renamed or dropped a parameter
        details.append("The check calls your function with these arguments, by name: "
                       f"{', '.join(case.inputs)}. Keep the parameter names of the exercise.")
    return CheckResult(exercise_id, False, n_cases, "error",
                       reason=f"your function raised {type(error).__name__}: {error}",
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


def _diagnose(checker: Checker, case: Case, expected: Observation,
              received: Observation) -> CheckResult | None:
    exercise_id = checker.exercise_id
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
    return None


def _matching_mistake(checker: Checker, case: Case, received: Observation) -> KnownMistake | None:
    """The first known mistake whose output equals the learner's on this case, if any."""
    for mistake in checker.mistakes:
        try:
            wrong = checker.call(mistake.wrong_function, case.fresh_inputs())
        except Exception:  # a wrong implementation may legitimately blow up on an edge case
            continue
        if all(compare(value, received.values.get(key, _MISSING), rtol=case.rtol,
                       atol=case.atol) is None
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
