"""Exercise checks: ``check("3.1", momentum_step)`` in a notebook, ``run_check`` for graders.

One checker per exercise, registered by id with :func:`register` in a topic module of this
package (``gradient_descent.py`` holds 1.1-1.3, ``momentum.py`` 3.x, ...). Every module here
whose name does not start with ``_`` is imported on first use, so adding a topic module is all it
takes to add checks. How to write one: ``CONTRIBUTING.md``, "Writing a checker".
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable

from ._framework import (
    REGISTRY,
    Case,
    CheckResult,
    KnownMistake,
    compare,
    in_place,
    register,
    returns,
    run_checker,
)

__all__ = ["check", "run_check", "known_exercises", "register", "Case", "KnownMistake",
           "CheckResult", "in_place", "returns", "compare"]

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


def run_check(exercise_id: str, learner_fn: Callable[..., Any]) -> CheckResult:
    """Run the checker for ``exercise_id`` on ``learner_fn`` and return what it found."""
    discover()
    exercise_id = str(exercise_id)
    checker = REGISTRY.get(exercise_id)
    if checker is None:
        reason = (f"there is no exercise {exercise_id!r}; known exercises: "
                  f"{', '.join(known_exercises()) or 'none'}")
        details = [f"Checks in course_lib.checks.{name} could not be loaded ({error})"
                   for name, error in sorted(IMPORT_ERRORS.items())]
        return CheckResult(exercise_id, False, 0, "unknown_exercise", reason=reason,
                           details=details)
    return run_checker(checker, learner_fn)


def check(exercise_id: str, learner_fn: Callable[..., Any]) -> None:
    """Check the learner's function for one exercise and print the verdict.

    Prints ``✅ Exercise 3.1 passed (24 cases)`` or ``❌ Exercise 3.1 not passed yet: <reason>``
    followed by the failing case, expected vs received and a hint. Returns None so that a
    notebook cell shows only the printed lines; use :func:`run_check` for the result object.
    """
    print(run_check(exercise_id, learner_fn).report())
