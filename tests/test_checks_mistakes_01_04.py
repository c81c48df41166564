"""Every known mistake of exercises 1.x-4.x, run as if a learner had written it, fails the check
and gets its own hint: no hint is unreachable, none is shadowed by another mistake or by a
framework detector (returned None, changed input) that would say something else."""

from __future__ import annotations

import pytest

from course_lib.exercises.checks import REGISTRY, discover, run_check

discover()

MISTAKES = [(exercise_id, mistake) for exercise_id, checker in sorted(REGISTRY.items())
            if exercise_id.split(".")[0] in {"1", "2", "3", "4"} and checker.mistakes
            for mistake in checker.mistakes]


@pytest.mark.parametrize("exercise_id, mistake", MISTAKES,
                         ids=[f"{e}-{m.hint_id}" for e, m in MISTAKES])
def test_each_known_mistake_fails_with_its_own_hint(exercise_id, mistake):
    result = run_check(exercise_id, mistake.wrong_function)
    assert not result.passed
    assert result.hint_id == mistake.hint_id, result.report()
