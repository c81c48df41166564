"""Checkers 11.1–11.3: the derived law passes, stubs fail, each learner-style mistake gets its
hint, and the references are torch's or proven against the closed form."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.exercises.checks import REGISTRY, run_check
from course_lib.exercises.checks import initialization_and_practice as checks11
from course_lib.theory import initialization as T


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code")


@pytest.mark.parametrize("exercise_id", ["11.1", "11.2"])
def test_a_stub_is_not_attempted(exercise_id):
    assert run_check(exercise_id, stub).status == "not_attempted"


# ---- 11.1 ------------------------------------------------------------------------------------


def learner_rms(depth, gain):
    mean_square = gain**2                     # first layer: inputs have E[x²] = 1
    for _ in range(depth - 1):
        mean_square *= gain**2 / 2            # ReLU halves it, the next layer multiplies by g²
    return math.sqrt(mean_square)


def test_11_1_the_derived_law_passes_on_any_seed():
    for seed in (None, 3, "s"):
        assert run_check("11.1", learner_rms, seed=seed).passed


def test_11_1_the_measurement_agrees_with_the_closed_form():
    for case in REGISTRY["11.1"].make_cases(seed=5):
        measured = checks11.measured_last_rms(**case.inputs)
        assert measured == pytest.approx(math.sqrt(T.relu_depth_mean_square(**case.inputs)), rel=0.05)


@pytest.mark.parametrize("wrong, hint", [
    (lambda depth, gain: gain**depth, "no_relu_halving"),
    (lambda depth, gain: math.sqrt((gain**2 / 2) ** depth), "halving_on_every_layer"),
    (lambda depth, gain: gain * (gain / 2) ** (depth - 1), "halving_the_std"),
    (lambda depth, gain: T.relu_depth_mean_square(depth, gain), "variance_not_rms"),
])
def test_11_1_each_wrong_law_gets_its_hint(wrong, hint):
    result = run_check("11.1", wrong)
    assert not result.passed and result.hint_id == hint


# ---- 11.2 ------------------------------------------------------------------------------------


def learner_clip(grads, max_norm):
    total = math.sqrt(sum(float((g**2).sum()) for g in grads))
    factor = min(1.0, max_norm / (total + 1e-6))
    for g in grads:
        g.mul_(factor)
    return total


def test_11_2_a_learner_loop_passes_and_the_reference_is_torch():
    assert run_check("11.2", learner_clip).passed
    assert run_check("11.2", learner_clip, seed=8).passed
    grads = [torch.full((2,), 3.0, dtype=torch.float64), torch.full((1,), 4.0, dtype=torch.float64)]
    total = checks11.reference_clip_grad_norm(grads, 1.0)
    assert float(total) == pytest.approx(math.sqrt(34))
    assert float(grads[1][0]) == pytest.approx(4.0 / (math.sqrt(34) + 1e-6))


def _clip_variant(*, per_tensor=False, clamp=True, eps=1e-6, return_after=False, by_value=False):
    def clip(grads, max_norm):
        total = torch.sqrt(sum((g**2).sum() for g in grads))
        if by_value:
            for g in grads:
                g.clamp_(-max_norm, max_norm)
            return total
        for g in grads:
            norm = g.norm() if per_tensor else total
            factor = max_norm / (norm + eps)
            if clamp:
                factor = min(float(factor), 1.0)
            g.mul_(factor)
        return torch.sqrt(sum((g**2).sum() for g in grads)) if return_after else total
    return clip


@pytest.mark.parametrize("wrong, hint", [
    (_clip_variant(per_tensor=True), "per_tensor"),
    (_clip_variant(clamp=False), "no_clamp"),
    (_clip_variant(eps=0.0), "no_eps"),
    (_clip_variant(return_after=True), "returns_clipped_norm"),
    (_clip_variant(by_value=True), "by_value"),
])
def test_11_2_each_mistake_gets_its_hint(wrong, hint):
    result = run_check("11.2", wrong)
    assert not result.passed and result.hint_id == hint


def test_11_2_clipping_copies_is_caught():
    def clips_copies(grads, max_norm):
        total = math.sqrt(sum(float((g**2).sum()) for g in grads))
        grads[:] = [g * min(1.0, max_norm / (total + 1e-6)) for g in grads]
        return total
    result = run_check("11.2", clips_copies)
    assert not result.passed and result.hint_id == "replaces_tensors"


def test_11_3_is_a_written_answer():
    assert REGISTRY["11.3"].kind == "written"


# -- issue 16: the slips learners made in 11.1 and 11.2 --------------------------------------


def test_11_1_says_how_it_measures_not_that_it_ran_an_optimizer():
    result = run_check("11.1", lambda depth, gain: 2 * gain * (gain / math.sqrt(2)) ** (depth - 1))
    assert not result.passed
    assert "random networks" in result.expected and "optimizer" not in result.expected


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
