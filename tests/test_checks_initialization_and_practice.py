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


# ---- 11.2 ------------------------------------------------------------------------------------


def learner_cosine(gradients, max_norm, momentum, *, dtype=torch.float64):
    plain = torch.zeros_like(gradients[0], dtype=dtype)
    clipped = torch.zeros_like(plain)
    for g in gradients:
        g = g.to(dtype)
        factor = min(1.0, max_norm / (g.norm().item() + 1e-6))
        plain = momentum * plain + g
        clipped = momentum * clipped + factor * g
    return (torch.dot(plain, clipped) / (plain.norm() * clipped.norm())).item()


def test_11_2_the_derived_cosine_passes_in_float64_and_float32():
    assert run_check("11.2", learner_cosine).passed
    assert run_check("11.2", lambda **kw: learner_cosine(**kw, dtype=torch.float32)).passed


def test_11_2_the_truth_is_measured_by_running_torch_not_by_the_formula():
    rng = torch.Generator().manual_seed(3)
    cases = list(checks11.clip_cosine_cases(rng))
    assert len(cases) == 4
    for case in cases:
        inputs = case.fresh_inputs()
        measured = checks11.measured_clip_cosine(**inputs)
        assert measured == pytest.approx(learner_cosine(**inputs), abs=1e-9)
        assert measured < 0.95          # clipping turns the step in every case
    assert "torch.optim.SGD" in REGISTRY["11.2"].measured_by


@pytest.mark.parametrize("guess", [1.0, 0.0, 0.5, -1.0])
def test_11_2_a_guess_fails(guess):
    assert not run_check("11.2", lambda gradients, max_norm, momentum: guess).passed


def _weights_oldest_first(gradients, max_norm, momentum):
    plain = clipped = 0
    for k, g in enumerate(gradients):
        factor = min(1.0, max_norm / (g.norm().item() + 1e-6))
        plain = plain + momentum**k * g
        clipped = clipped + momentum**k * factor * g
    return (torch.dot(plain, clipped) / (plain.norm() * clipped.norm())).item()


def _only_the_biggest(gradients, max_norm, momentum):
    biggest = max(range(len(gradients)), key=lambda k: gradients[k].norm().item())
    plain = clipped = 0
    for k, g in enumerate(gradients):
        factor = min(1.0, max_norm / g.norm().item()) if k == biggest else 1.0
        plain = momentum * plain + g
        clipped = momentum * clipped + factor * g
    return (torch.dot(plain, clipped) / (plain.norm() * clipped.norm())).item()


def _to_unit_norm(gradients, max_norm, momentum):
    plain = clipped = 0
    for g in gradients:
        plain = momentum * plain + g
        clipped = momentum * clipped + max_norm * g / g.norm()
    return (torch.dot(plain, clipped) / (plain.norm() * clipped.norm())).item()


def _clip_the_buffer(gradients, max_norm, momentum):
    plain = 0
    for g in gradients:
        plain = momentum * plain + g
    clipped = plain * min(1.0, max_norm / plain.norm().item())
    return (torch.dot(plain, clipped) / (plain.norm() * clipped.norm())).item()


def _last_gradient_only(gradients, max_norm, momentum):
    g = gradients[-1]
    clipped = g * min(1.0, max_norm / g.norm().item())
    return (torch.dot(g, clipped) / (g.norm() * clipped.norm())).item()


@pytest.mark.parametrize("wrong, hint_id", [
    (_weights_oldest_first, "reversed_weights"),
    (_only_the_biggest, "clips_only_the_spike"),
    (_to_unit_norm, "normalises_every_gradient"),
    (_clip_the_buffer, "keeps_direction"),
    (_last_gradient_only, "keeps_direction"),
])
def test_11_2_each_learner_style_mistake_gets_its_hint(wrong, hint_id):
    result = run_check("11.2", wrong)
    assert not result.passed and result.hint_id == hint_id, result.report()


def test_11_2_the_lectures_printed_cosine_is_not_this_answer():
    # the lecture prints 0.058 for its own stream (spike last, four gradients): a learner who
    # copies that number, or the lecture's 1.000 for plain SGD, fails
    assert not run_check("11.2", lambda gradients, max_norm, momentum: 0.058).passed


def test_11_2_the_grader_refuses_torch_optim_and_torchs_clipping():
    from course_lib.exercises import answer_scan as scan
    from course_lib.exercises.checks import discover

    discover()
    forbidden = scan.forbidden_for(REGISTRY["11.2"])
    assert "torch.optim" in forbidden and "torch.nn.utils.clip_grad" in forbidden


def test_11_2_an_answer_that_mutates_the_gradients_is_refused():
    def mutating(gradients, max_norm, momentum):
        value = learner_cosine(gradients, max_norm, momentum)
        for g in gradients:
            g.mul_(0.0)
        return value
    result = run_check("11.2", mutating)
    assert not result.passed and "changed `gradients[0]`" in result.report()
