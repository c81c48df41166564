"""Exercise checks: ``check("3.1", momentum_step)`` in a notebook, ``run_check`` for graders.

One checker per exercise, registered by id in a topic module of this package
(``gradient_descent.py`` holds 1.x, ``momentum.py`` 3.x, ``welcome.py`` the practice exercise
0.1 of 00_welcome): :func:`register` for a function, :func:`register_prediction` for a derived
number checked against a measurement, :func:`register_written` for a written answer,
:func:`register_outcome` for a training run that must reach a target. Every module here whose
name does not start with ``_`` is imported on first use, so adding a topic module is all it
takes to add checks. How to write one: ``CONTRIBUTING.md``, "Writing a checker".
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
from typing import Any, Callable

from ..check_protocol import RESULT_MIMETYPE, STRICT_ENV
from ._framework import (
    OUTCOME,
    PREDICTION,
    REGISTRY,
    WRITTEN,
    Budget,
    Case,
    Checker,
    CheckResult,
    KnownMistake,
    Observation,
    case_seed,
    compare,
    diagnose,
    in_place,
    register,
    register_outcome,
    register_prediction,
    register_written,
    RubricPoint,
    returns,
    run_checker,
)

__all__ = ["check", "run_check", "known_exercises", "register", "register_prediction",
           "register_written", "register_outcome", "Case", "KnownMistake", "Budget", "RubricPoint",
           "CheckResult", "Checker", "Observation", "in_place", "returns", "compare", "diagnose",
           "REGISTRY", "STRICT_ENV", "RESULT_MIMETYPE", "report_for_runner"]


# Topic modules that failed to import, with the error, so an unknown id can say why.
IMPORT_ERRORS: dict[str, str] = {}
_discovered = False


def discover() -> None:
    """Import every topic module in this package once, which registers its checkers."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{__name__}.{module.name}")
        except Exception as error:  # one broken topic module must not take every check down
            IMPORT_ERRORS[module.name] = f"{type(error).__name__}: {error}"


def known_exercises() -> list[str]:
    """Every registered exercise id, in syllabus order ("1.2" before "1.10")."""
    discover()
    return sorted(REGISTRY, key=lambda eid: tuple(int(part) for part in eid.split(".")))


def run_check(exercise_id: str, learner_fn: Callable[..., Any], *,
              seed: int | str | None = None) -> CheckResult:
    """Run the checker for ``exercise_id`` on ``learner_fn`` and return what it found.

    ``seed=None`` uses the exercise's own reproducible cases; any int or str draws other
    random cases (the same for the same seed), the fixed edge cases included either way.
    """
    discover()
    exercise_id = str(exercise_id)
    checker = REGISTRY.get(exercise_id)
    if checker is None:
        reason = (f"there is no exercise {exercise_id!r}; known exercises: "
                  f"{', '.join(known_exercises()) or 'none'}")
        details = [f"Checks in course_lib.exercises.checks.{name} could not be loaded ({error})"
                   for name, error in sorted(IMPORT_ERRORS.items())]
        return CheckResult(exercise_id, False, 0, "unknown_exercise", reason=reason,
                           details=details)
    return run_checker(checker, learner_fn, seed=seed)


def check(exercise_id: str, learner_fn: Callable[..., Any], *,
          seed: int | str | None = None) -> None:
    """Check the learner's function for one exercise and print the verdict.

    Prints ``✅ Exercise 3.1 passed (24 cases)`` or ``❌ Exercise 3.1 not passed yet: <reason>``
    followed by the failing case, expected vs received and a hint. Returns None so that a
    notebook cell shows only the printed lines; use :func:`run_check` for the result object.
    Under ``COURSE_CHECK_STRICT=1`` anything but a pass raises ``AssertionError`` (the report
    is its message), so nbval fails the cell.
    """
    result = run_check(exercise_id, learner_fn, seed=seed)
    print(result.report())
    if os.environ.get(STRICT_ENV, "") not in ("", "0") and not result.passed \
            and result.status != "written":
        raise AssertionError(result.report())


def report_for_runner(exercise_id: str, learner_fn: Callable[..., Any], nonce: str) -> None:
    """What a check cell runs under ``make check``: print the report as ``check()`` does, and
    display the result as JSON (``RESULT_MIMETYPE``) with the ``nonce`` that the runner wrote
    into this very cell, so it can tell this cell's verdict from anything printed or displayed
    by the learner's code."""
    result = run_check(exercise_id, learner_fn)
    print(result.report())
    from IPython.display import publish_display_data

    data = json.loads(json.dumps(result.to_dict(), default=str))
    publish_display_data({RESULT_MIMETYPE: {"nonce": nonce, "result": data}, "text/plain": ""})
