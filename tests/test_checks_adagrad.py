"""Checkers 5.x (notebook 05, Adagrad): they pass right answers, fail the stub and wrong ones, and
each hint fires on a wrong implementation written the way a learner would write it.

The reference itself is proven equal to torch.optim.Adagrad in tests/test_theory_adagrad.py."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.exercises.checks import run_check
from course_lib.exercises.checks import adagrad as adagrad_checks

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


def step_as_new_tensor(param, grad, state, *, lr, lr_decay, eps):
    state["step"] = state["step"] + 1  # a new 0-dim tensor each step
    t = state["step"].item()
    state["sum"] += grad * grad
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
        (step_as_new_tensor, "step_rebound"),
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


# --------------------------------------------------------------------------------------------
# 5.2 predict, then measure: learner-style predictions
# --------------------------------------------------------------------------------------------


def predicted_right(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    appearances = t // every                      # zero gradients add nothing to the sum
    s = initial_accumulator_value + appearances * g**2
    return lr / (1 + (t - 1) * lr_decay) / (math.sqrt(s) + eps)


def predicted_by_simulating_the_formula(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    # a learner who replays the update rule by hand in plain Python (also right)
    s = initial_accumulator_value
    factor = None
    for step in range(1, t + 1):
        grad = g if step % every == 0 else 0.0
        s += grad * grad
        factor = lr / (1 + (step - 1) * lr_decay) / (math.sqrt(s) + eps)
    return factor


def predicted_decay_on_appearances(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    k = t // every
    return lr / (1 + (k - 1) * lr_decay) / (math.sqrt(initial_accumulator_value + k * g * g) + eps)


def predicted_dense_sum(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    return lr / (1 + (t - 1) * lr_decay) / (math.sqrt(initial_accumulator_value + t * g * g) + eps)


def predicted_decay_with_t(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    k = t // every
    return lr / (1 + t * lr_decay) / (math.sqrt(initial_accumulator_value + k * g * g) + eps)


def predicted_eps_inside(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    k = t // every
    return lr / (1 + (t - 1) * lr_decay) / math.sqrt(initial_accumulator_value + k * g * g + eps)


def predicted_without_s0(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    k = t // every
    return lr / (1 + (t - 1) * lr_decay) / (abs(g) * math.sqrt(k) + eps)


def stub_prediction(lr, lr_decay, initial_accumulator_value, eps, g, every, t):
    raise NotImplementedError("Exercise 5.2: predict the effective learning rate")


class TestEffectiveLrPrediction:
    @pytest.mark.parametrize("fn", [predicted_right, predicted_by_simulating_the_formula])
    def test_right_predictions_pass(self, fn):
        result = run_check("5.2", fn)
        assert result.passed, result.report()

    @pytest.mark.parametrize("seed", [1, 2, "student-7"])
    def test_seeds_draw_other_cases_and_the_answer_still_passes(self, seed):
        result = run_check("5.2", predicted_right, seed=seed)
        assert result.passed, result.report()

    def test_stub_is_not_attempted(self):
        assert run_check("5.2", stub_prediction).status == "not_attempted"

    def test_a_constant_fails(self):
        assert not run_check("5.2", lambda **inputs: 0.1).passed

    @pytest.mark.parametrize("fn, hint_id", [
        (predicted_decay_on_appearances, "lr_decay_counts_appearances"),
        (predicted_dense_sum, "every_step_counted_in_sum"),
        (predicted_decay_with_t, "lr_decay_counts_t"),
        (predicted_eps_inside, "eps_inside_root"),
        (predicted_without_s0, "no_initial_accumulator"),
    ])
    def test_known_mistake_gets_its_hint(self, fn, hint_id):
        result = run_check("5.2", fn)
        assert not result.passed
        assert result.hint_id == hint_id, result.report()

    def test_the_measurement_runs_torch_and_equals_the_theory(self):
        from course_lib.theory.adagrad import adagrad_effective_lr_curve

        stream = [0.0, 0.0, 0.7] * 4
        curve = adagrad_effective_lr_curve(stream, lr=0.3, lr_decay=0.1, eps=0.05,
                                           initial_accumulator_value=0.2)
        measured = adagrad_checks.measure_effective_lr(0.3, 0.1, 0.2, 0.05, 0.7, 3, 12)
        assert math.isclose(measured, curve[-1], rel_tol=1e-12)


def test_written_answer_5_3_is_registered():
    from course_lib.exercises.checks import known_exercises
    from course_lib.exercises.checks._framework import REGISTRY

    assert "5.3" in known_exercises()
    assert "eigenvector" in REGISTRY["5.3"].prompt


# --------------------------------------------------------------------------------------------
# 5.4 predict, then measure: the late linear rate on the turned valley, from settled sums
# --------------------------------------------------------------------------------------------


def per_decade_right(kappa, lr, s_x, s_y):
    # fixed diagonal P = lr/√s; the slowest factor is max |1 − λ(P·H)|; count steps for 10×
    mu = 1 / kappa
    p = [lr / math.sqrt(s_x), lr / math.sqrt(s_y)]
    a, b, d = p[0] * (1 + mu) / 2, math.sqrt(p[0] * p[1]) * (1 - mu) / 2, p[1] * (1 + mu) / 2
    mid, half = (a + d) / 2, math.sqrt(((a - d) / 2) ** 2 + b * b)
    rate = max(abs(1 - (mid - half)), abs(1 - (mid + half)))
    return math.log(10) / -math.log(rate)


def per_decade_harmonic_mean(kappa, lr, s_x, s_y):
    # the large-κ approximation: μ times the harmonic mean of the two effective lrs
    p_x, p_y = lr / math.sqrt(s_x), lr / math.sqrt(s_y)
    return math.log(10) / -math.log(1 - 2 * p_x * p_y / (p_x + p_y) / kappa)


def per_decade_det_over_trace(kappa, lr, s_x, s_y):
    # the slow eigenvalue as det(PH)/tr(PH), good only while it is small and the fast one is not near 2
    mu = 1 / kappa
    p_x, p_y = lr / math.sqrt(s_x), lr / math.sqrt(s_y)
    return math.log(10) / -math.log(1 - p_x * p_y * mu / ((p_x + p_y) * (1 + mu) / 2))


def per_decade_flat_curvature_only(kappa, lr, s_x, s_y):
    # GD at the geometric-mean effective lr on the flat curvature
    c = lr / (s_x * s_y) ** 0.25
    return math.log(10) / -math.log(1 - c / kappa)


class TestStepsPerDecade:
    def test_right_prediction_passes_for_several_seeds(self):
        for seed in (None, 1, 2, "learner-3"):
            result = run_check("5.4", per_decade_right, seed=seed)
            assert result.passed, result.report()

    def test_measure_is_the_closed_form_of_the_course(self):
        from course_lib.problems.landscapes import rotated_quadratic
        from course_lib.theory.adagrad import preconditioned_rate

        for kappa, lr, s_x, s_y in ((100.0, 0.3, 0.25, 0.04), (30.0, 0.2, 0.5, 0.05)):
            rate = preconditioned_rate([lr / math.sqrt(s_x), lr / math.sqrt(s_y)],
                                       rotated_quadratic(kappa).hessian.numpy())
            measured = adagrad_checks.measure_steps_per_decade(kappa, lr, s_x, s_y)
            assert measured == pytest.approx(math.log(10) / -math.log(rate), rel=2e-3)
            assert measured == pytest.approx(per_decade_right(kappa, lr, s_x, s_y), rel=2e-3)

    @pytest.mark.parametrize("hint_id", ["mean_lr_on_flat", "smallest_lr_on_flat",
                                         "largest_lr_on_flat", "gd_best_rate", "aligned_answer",
                                         "lecture_number"])
    def test_known_mistake_gets_its_hint(self, hint_id):
        fn = {"mean_lr_on_flat": adagrad_checks._mean_lr_on_flat,
              "smallest_lr_on_flat": adagrad_checks._smallest_lr_on_flat,
              "largest_lr_on_flat": adagrad_checks._largest_lr_on_flat,
              "gd_best_rate": adagrad_checks._gd_best_rate,
              "aligned_answer": adagrad_checks._aligned_answer,
              "lecture_number": adagrad_checks._lecture_number}[hint_id]
        result = run_check("5.4", fn)
        assert not result.passed
        assert result.hint_id == hint_id, result.report()

    @pytest.mark.parametrize("fn", [per_decade_harmonic_mean, per_decade_det_over_trace])
    def test_slow_mode_approximations_fail_where_the_fast_mode_or_small_kappa_matters(self, fn):
        # within the check's 1 % on the first case, far outside it on the two added ones
        assert fn(100.0, 0.3, 0.25, 0.04) == pytest.approx(per_decade_right(100.0, 0.3, 0.25, 0.04), rel=0.01)
        for case in ((10.0, 0.5, 0.08, 0.06), (3.0, 0.3, 0.25, 0.04)):
            assert abs(fn(*case) / per_decade_right(*case) - 1) > 0.05
        assert not run_check("5.4", fn).passed

    @pytest.mark.parametrize("fn", [per_decade_flat_curvature_only, lambda **kw: 300.0,
                                    lambda kappa, lr, s_x, s_y: kappa])
    def test_wrong_predictions_fail(self, fn):
        assert not run_check("5.4", fn).passed


def test_patching_the_reference_or_torch_does_not_fool_the_checks(monkeypatch):
    import course_lib.optim.adagrad as optim_adagrad

    # a learner cell that replaces the course's update and torch's optimizer by its own wrong one
    monkeypatch.setattr(optim_adagrad, "adagrad_update",
                        lambda param, grad, state, **kw: eps_inside_root(param, grad, state, **{
                            k: kw[k] for k in ("lr", "lr_decay", "eps")}))
    monkeypatch.setattr(torch.optim, "Adagrad", None)
    assert not run_check("5.1", eps_inside_root).passed
    assert run_check("5.2", predicted_right).passed
    assert not run_check("5.2", predicted_eps_inside).passed
