"""Checkers 5.x (notebook 05, Adagrad): they pass right answers, fail the stub and wrong ones, and
each hint fires on a wrong implementation written the way a learner would write it.

The reference itself is proven equal to torch.optim.Adagrad in tests/test_theory_adagrad.py."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.checks import run_check
from course_lib.checks import adagrad as adagrad_checks

# --------------------------------------------------------------------------------------------
# 5.1 learner-style implementations
# --------------------------------------------------------------------------------------------


def correct_adagrad_step(param, grad, state, *, lr, lr_decay, eps):
    state["step"] += 1
    t = state["step"].item()
    clr = lr / (1 + (t - 1) * lr_decay)
    state["sum"] += grad**2
    param -= clr * grad / (state["sum"].sqrt() + eps)


def stub_adagrad_step(param, grad, state, *, lr, lr_decay, eps):
    raise NotImplementedError("Exercise 5.1: write adagrad_step")


def does_nothing(param, grad, state, *, lr, lr_decay, eps):
    pass


def eps_inside_root(param, grad, state, *, lr, lr_decay, eps):
    state["step"] += 1
    t = state["step"].item()
    state["sum"] += grad * grad
    param -= lr / (1 + (t - 1) * lr_decay) * grad / torch.sqrt(state["sum"] + eps)


def decay_with_t(param, grad, state, *, lr, lr_decay, eps):
    state["step"] += 1
    clr = lr / (1 + state["step"].item() * lr_decay)
    state["sum"] += grad * grad
    param -= clr * grad / (state["sum"].sqrt() + eps)


def decay_before_increment(param, grad, state, *, lr, lr_decay, eps):
    # the same t − 1 mistake from the other side: decays with the count of the previous step,
    # but increments afterwards — equal to torch. Written to show the check accepts it.
    clr = lr / (1 + state["step"].item() * lr_decay)
    state["step"] += 1
    state["sum"] += grad * grad
    param -= clr * grad / (state["sum"].sqrt() + eps)


def forgets_lr_decay(param, grad, state, *, lr, lr_decay, eps):
    state["step"] += 1
    state["sum"] += grad * grad
    param -= lr * grad / (state["sum"].sqrt() + eps)


def divides_by_sum(param, grad, state, *, lr, lr_decay, eps):
    state["step"] += 1
    t = state["step"].item()
    state["sum"] += grad * grad
    param -= lr / (1 + (t - 1) * lr_decay) * grad / (state["sum"] + eps)


def accumulates_after_step(param, grad, state, *, lr, lr_decay, eps):
    state["step"] += 1
    t = state["step"].item()
    param -= lr / (1 + (t - 1) * lr_decay) * grad / (state["sum"].sqrt() + eps)
    state["sum"] += grad * grad


def accumulator_as_copy(param, grad, state, *, lr, lr_decay, eps):
    state["step"] += 1
    t = state["step"].item()
    state["sum"] = state["sum"] + grad * grad  # a new tensor each step
    param -= lr / (1 + (t - 1) * lr_decay) * grad / (state["sum"].sqrt() + eps)


def mutates_grad(param, grad, state, *, lr, lr_decay, eps):
    state["step"] += 1
    t = state["step"].item()
    state["sum"] += grad * grad
    grad /= state["sum"].sqrt() + eps  # overwrites the caller's gradient
    param -= lr / (1 + (t - 1) * lr_decay) * grad


def forgets_step_counter(param, grad, state, *, lr, lr_decay, eps):
    t = state["step"].item() + 1
    state["sum"] += grad * grad
    param -= lr / (1 + (t - 1) * lr_decay) * grad / (state["sum"].sqrt() + eps)


def keeps_last_gradient_in_state(param, grad, state, *, lr, lr_decay, eps):
    correct_adagrad_step(param, grad, state, lr=lr, lr_decay=lr_decay, eps=eps)
    state["last_grad"] = grad  # the state now aliases the caller's gradient


def new_param_tensor(param, grad, state, *, lr, lr_decay, eps):
    state["step"] += 1
    t = state["step"].item()
    state["sum"] += grad * grad
    param = param - lr / (1 + (t - 1) * lr_decay) * grad / (state["sum"].sqrt() + eps)
    return param


class TestAdagradStep:
    def test_reference_passes(self):
        result = run_check("5.1", adagrad_checks.reference_adagrad_step)
        assert result.passed, result.report()
        assert result.n_cases >= 8

    @pytest.mark.parametrize("fn", [correct_adagrad_step, decay_before_increment])
    def test_correct_learner_code_passes(self, fn):
        result = run_check("5.1", fn)
        assert result.passed, result.report()

    def test_stub_is_not_attempted(self):
        result = run_check("5.1", stub_adagrad_step)
        assert not result.passed and result.status == "not_attempted"

    def test_doing_nothing_fails(self):
        assert not run_check("5.1", does_nothing).passed

    @pytest.mark.parametrize("fn, hint_id", [
        (eps_inside_root, "eps_inside_root"),
        (decay_with_t, "decay_uses_t"),
        (forgets_lr_decay, "decay_ignored"),
        (divides_by_sum, "no_square_root"),
        (accumulates_after_step, "old_accumulator"),
        (accumulator_as_copy, "accumulator_rebound"),
        (new_param_tensor, "updated_a_copy"),
    ])
    def test_known_mistake_gets_its_hint(self, fn, hint_id):
        result = run_check("5.1", fn)
        assert not result.passed
        assert result.hint_id == hint_id, result.report()

    def test_mutated_grad_is_reported(self):
        result = run_check("5.1", mutates_grad)
        assert not result.passed
        assert result.hint_id == "changed_input", result.report()

    def test_step_counter_must_advance(self):
        result = run_check("5.1", forgets_step_counter)
        assert not result.passed
        assert "step" in result.reason

    def test_state_aliasing_the_gradient_fails(self):
        result = run_check("5.1", keeps_last_gradient_in_state)
        assert not result.passed
        assert result.hint_id == "aliased_input", result.report()

    def test_every_mistake_differs_from_the_reference_somewhere(self):
        for mistake in adagrad_checks.ADAGRAD_STEP_MISTAKES:
            result = run_check("5.1", mistake.wrong_function)
            assert not result.passed and result.hint_id == mistake.hint_id, mistake.hint_id
