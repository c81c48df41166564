"""Checkers 11.1–11.3: the derived law passes, stubs fail, each learner-style mistake gets its
hint, and the references are torch's or proven against the closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.exercises.checks import REGISTRY, run_check
from course_lib.exercises.checks import initialization_and_practice as checks11


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code")


@pytest.mark.parametrize("exercise_id", ["11.1", "11.2"])
def test_a_stub_is_not_attempted(exercise_id):
    assert run_check(exercise_id, stub).status == "not_attempted"


# ---- 11.1 ------------------------------------------------------------------------------------


def learner_gain(depth):
    z, w = np.polynomial.hermite_e.hermegauss(61)
    w = w / w.sum()

    def mean_square(gain):
        q = gain**2
        for _ in range(depth - 1):
            q = gain**2 * np.sum(w * np.tanh(np.sqrt(q) * z) ** 2)
        return q

    low, high = 0.5, 3.0
    for _ in range(50):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if mean_square(middle) < 1 else (low, middle)
    return 0.5 * (low + high)


def test_11_1_the_derived_gain_passes_on_any_seed():
    for seed in (None, 3, "s"):
        assert run_check("11.1", learner_gain, seed=seed).passed


def test_11_1_the_measurement_agrees_with_the_mean_square_recursion():
    # the measured gain (bisection on networks) against the recursion, on other draws too
    for depth in (2, 4, 9):
        assert checks11.measured_unit_rms_gain(depth) == pytest.approx(learner_gain(depth), rel=0.01)
        assert checks11.measured_rms(depth, learner_gain(depth), seed=1) == pytest.approx(1.0, rel=0.03)


def test_11_1_the_lectures_gains_are_not_the_answer():
    # torch's 5/3 and Glorot's 1 fail; the deep fixed point fails for shallow depths
    assert not run_check("11.1", lambda depth: 5 / 3).passed
    assert not run_check("11.1", lambda depth: 1.0).passed
    assert not run_check("11.1", lambda depth: learner_gain(60)).passed


@pytest.mark.parametrize("wrong, hint", [
    (lambda depth: 1.0, "xavier_gain"),
    (lambda depth: 5 / 3, "calculate_gain"),
    (lambda depth: math.sqrt(2), "he_gain"),
    (lambda depth: learner_gain(60), "fixed_point_gain"),
])
def test_11_1_each_wrong_gain_gets_its_hint(wrong, hint):
    result = run_check("11.1", wrong)
    assert not result.passed and result.hint_id == hint


def test_11_3_is_a_written_answer():
    assert REGISTRY["11.3"].kind == "written"


# -- issue 16: the slips learners made in 11.1 and 11.2 --------------------------------------


def test_11_1_says_how_it_measures_not_that_it_ran_an_optimizer():
    result = run_check("11.1", lambda depth: 1.2)
    assert not result.passed
    assert "random tanh networks" in result.expected and "optimizer" not in result.expected


def _clip(eps_where="denominator", in_place=True):
    def clip_grad_norm(grads, max_norm):
        total = torch.sqrt(sum((g**2).sum() for g in grads))
        if eps_where == "denominator":
            factor = max_norm / (total + 1e-6)
        elif eps_where == "factor":
            factor = max_norm / total + 1e-6
        else:  # numerator
            factor = (max_norm + 1e-6) / total
        factor = min(float(factor), 1.0)
        for g in grads:
            if in_place:
                g.mul_(factor)
            else:
                g = g * factor  # noqa: F841 (the slip: a copy)
        return total
    return clip_grad_norm


@pytest.mark.parametrize("wrong, hint_id", [
    (_clip(eps_where="factor"), "eps_added_to_factor"),
    (_clip(eps_where="numerator"), "eps_in_numerator"),
    (_clip(in_place=False), "clips_a_copy"),
])
def test_11_2_misplaced_eps_and_a_clipped_copy_get_hints(wrong, hint_id):
    assert run_check("11.2", _clip()).passed
    result = run_check("11.2", wrong)
    assert not result.passed and result.hint_id == hint_id, result.report()
