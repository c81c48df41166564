"""Checkers 6.x (notebook 06, RMSProp and Adadelta): they pass right answers, fail the stub and
wrong ones, and each hint fires on a wrong implementation written the way a learner would.

The references are proven equal to torch.optim in tests/test_theory_rmsprop.py."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.exercises.checks import run_check
from course_lib.exercises.checks import rmsprop_adadelta as rmsprop_checks

# --------------------------------------------------------------------------------------------
# 6.1 learner-style implementations
# --------------------------------------------------------------------------------------------


def correct_rmsprop_step(param, grad, state, *, lr, alpha, eps, momentum, centered):
    state["step"] += 1
    v = state["square_avg"]
    v.mul_(alpha).add_((1 - alpha) * grad * grad)
    if centered:
        state["grad_avg"].mul_(alpha).add_((1 - alpha) * grad)
        denom = (v - state["grad_avg"] ** 2).sqrt() + eps
    else:
        denom = v.sqrt() + eps
    if momentum > 0:
        state["momentum_buffer"].mul_(momentum).add_(grad / denom)
        param -= lr * state["momentum_buffer"]
    else:
        param -= lr * grad / denom


def _learner(eps_inside=False, bias=False, full_square=False, centered_outside=False,
             momentum_ema=False, momentum_raw=False, rebind=False, mutate=False, stash=False,
             mean_unused=False, lr_in_buffer=False):
    def rmsprop_step(param, grad, state, *, lr, alpha, eps, momentum, centered):
        state["step"] += 1
        new_v = alpha * state["square_avg"] + (1.0 if full_square else 1 - alpha) * grad**2
        if rebind:
            state["square_avg"] = new_v
        else:
            state["square_avg"][...] = new_v
        v = state["square_avg"]
        if bias:
            v = v / (1 - alpha ** state["step"].item())
        if centered:
            state["grad_avg"].mul_(alpha).add_((1 - alpha) * grad)
            m = state["grad_avg"]
            if eps_inside:
                denom = torch.sqrt(v - m**2 + eps)
            elif centered_outside:
                denom = torch.sqrt(v) - m**2 + eps
            elif mean_unused:  # ḡ kept, then forgotten
                denom = torch.sqrt(v) + eps
            else:
                denom = torch.sqrt(v - m**2) + eps
        else:
            denom = torch.sqrt(v + eps) if eps_inside else torch.sqrt(v) + eps
        if mutate:
            grad /= denom
            step = grad
        else:
            step = grad / denom
        if momentum > 0:
            b = state["momentum_buffer"]
            if momentum_raw:
                b.mul_(momentum).add_(grad)
                param -= lr * b / denom
            elif lr_in_buffer:
                b.mul_(momentum).add_(lr * step)
                param -= b
            else:
                b.mul_(momentum).add_((1 - momentum) * step if momentum_ema else step)
                param -= lr * b
        else:
            param -= lr * step
        if stash:
            state["prev_grad"] = grad
    return rmsprop_step


def momentum_buffer_as_new_tensor(param, grad, state, *, lr, alpha, eps, momentum, centered):
    state["step"] += 1
    v = state["square_avg"]
    v.mul_(alpha).add_((1 - alpha) * grad * grad)
    if centered:
        state["grad_avg"].mul_(alpha).add_((1 - alpha) * grad)
        denom = (v - state["grad_avg"] ** 2).sqrt() + eps
    else:
        denom = v.sqrt() + eps
    if momentum > 0:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + grad / denom
        param -= lr * state["momentum_buffer"]
    else:
        param -= lr * grad / denom


def stub_rmsprop_step(param, grad, state, *, lr, alpha, eps, momentum, centered):
    raise NotImplementedError("Exercise 6.1: write rmsprop_step")


class TestRMSpropStep:
    def test_reference_passes(self):
        result = run_check("6.1", rmsprop_checks.reference_rmsprop_step)
        assert result.passed, result.report()
        assert result.n_cases >= 8

    def test_correct_learner_code_passes(self):
        for fn in (correct_rmsprop_step, _learner()):
            result = run_check("6.1", fn)
            assert result.passed, result.report()

    def test_stub_is_not_attempted(self):
        result = run_check("6.1", stub_rmsprop_step)
        assert not result.passed and result.status == "not_attempted"

    @pytest.mark.parametrize("flags, hint_id", [
        (dict(eps_inside=True), "eps_inside_root"),
        (dict(bias=True), "bias_correction"),
        (dict(full_square=True), "no_one_minus_alpha"),
        (dict(centered_outside=True), "centered_outside_root"),
        (dict(momentum_ema=True), "momentum_ema"),
        (dict(momentum_raw=True), "momentum_on_raw_gradient"),
        (dict(rebind=True), "square_avg_rebound"),
        (dict(mean_unused=True), "centered_mean_unused"),
        (dict(lr_in_buffer=True), "momentum_lr_inside"),
    ])
    def test_known_mistake_gets_its_hint(self, flags, hint_id):
        result = run_check("6.1", _learner(**flags))
        assert not result.passed
        assert result.hint_id == hint_id, result.report()

    def test_rebound_momentum_buffer_gets_its_own_hint(self):
        result = run_check("6.1", momentum_buffer_as_new_tensor)
        assert not result.passed
        assert result.hint_id == "momentum_buffer_rebound", result.report()
        assert "'momentum_buffer'" in result.received

    def test_mutated_grad_is_reported(self):
        result = run_check("6.1", _learner(mutate=True))
        assert not result.passed
        assert result.hint_id == "changed_input", result.report()

    def test_state_aliasing_the_gradient_fails(self):
        result = run_check("6.1", _learner(stash=True))
        assert not result.passed
        assert result.hint_id == "aliased_input", result.report()

    def test_every_mistake_differs_from_the_reference_somewhere(self):
        for mistake in rmsprop_checks.RMSPROP_STEP_MISTAKES:
            result = run_check("6.1", mistake.wrong_function)
            assert not result.passed and result.hint_id == mistake.hint_id, mistake.hint_id


# --------------------------------------------------------------------------------------------
# 6.2 and 6.3 predict, then measure: learner-style predictions (6.3: when centered RMSprop's
# steps on a steady slope pass factor·lr)
# --------------------------------------------------------------------------------------------


def rmsprop_factor_right(lr, alpha, eps, g1, n, g2, t):
    v_after_n = (1 - alpha**n) * g1**2            # started at 0
    k = t - n
    v = alpha**k * v_after_n + (1 - alpha**k) * g2**2
    return lr / (math.sqrt(v) + eps)


def rmsprop_factor_by_loop(lr, alpha, eps, g1, n, g2, t):
    # the lecture's boxed recursion, one step at a time: right, but it cannot finish in time
    v = 0.0
    for step in range(1, t + 1):
        g = g1 if step <= n else g2
        v = alpha * v + (1 - alpha) * g * g
    return lr / (math.sqrt(v) + eps)


def rmsprop_factor_bias_corrected(lr, alpha, eps, g1, n, g2, t):
    k = t - n
    v = alpha**k * (1 - alpha**n) * g1**2 + (1 - alpha**k) * g2**2
    return lr / (math.sqrt(v / (1 - alpha**t)) + eps)


def rmsprop_factor_converged(lr, alpha, eps, g1, n, g2, t):
    k = t - n
    return lr / (math.sqrt(alpha**k * g1**2 + (1 - alpha**k) * g2**2) + eps)


def rmsprop_factor_adagrad(lr, alpha, eps, g1, n, g2, t):
    return lr / (math.sqrt(n * g1**2 + (t - n) * g2**2) + eps)


def rmsprop_factor_eps_inside(lr, alpha, eps, g1, n, g2, t):
    k = t - n
    return lr / math.sqrt(alpha**k * (1 - alpha**n) * g1**2 + (1 - alpha**k) * g2**2 + eps)


def rmsprop_factor_forgot_everything(lr, alpha, eps, g1, n, g2, t):
    return lr / (abs(g2) + eps)


class TestRMSpropEffectiveLrPrediction:
    def test_right_prediction_passes(self):
        for seed in (None, 1, "s"):
            result = run_check("6.2", rmsprop_factor_right, seed=seed)
            assert result.passed, result.report()

    def test_a_step_loop_and_torch_itself_fail(self, monkeypatch):
        # a loop over billions of steps is stopped by the check's time limit (shortened here)
        from course_lib.exercises.checks import _framework

        monkeypatch.setattr(_framework, "LEARNER_TIME_LIMIT_S", 0.3)
        assert not run_check("6.2", rmsprop_factor_by_loop).passed

        def by_torch(lr, alpha, eps, g1, n, g2, t):  # the lecture's measuring helper, copied
            theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
            optimizer = torch.optim.RMSprop([theta], lr=lr, alpha=alpha, eps=eps)
            for step in range(1, t + 1):
                before = theta.item()
                theta.grad = torch.full((1,), g1 if step <= n else g2, dtype=torch.float64)
                optimizer.step()
            return -(theta.item() - before) / g2

        assert not run_check("6.2", by_torch).passed

    def test_cases_are_beyond_a_loop_and_not_degenerate(self):
        from course_lib.exercises.checks._framework import REGISTRY

        for seed in (None, 1, "s"):
            cases = [dict(case.inputs) for case in REGISTRY["6.2"].make_cases(seed)]
            long = [case for case in cases if case["t"] > rmsprop_checks.TORCH_MEASURED_MAX_T]
            assert len(long) >= 8 and all(case["t"] - case["n"] >= 1e8 for case in long)
            # the old scale neither gone nor still whole: alpha^n and alpha^(t-n) well inside (0, 1)
            assert all(0.1 < case["alpha"] ** case["n"] < 0.8 for case in long)
            assert all(0.1 < case["alpha"] ** (case["t"] - case["n"]) < 0.85 for case in long)

    @pytest.mark.parametrize("alpha, eps, g1, n, g2, t", [
        (0.8, 1e-3, 1.5, 7, -0.2, 12), (0.99, 1e-8, 0.05, 100, 1.5, 150),
        (0.999, 0.02, -2.0, 1500, 0.3, 4000), (0.5, 1e-8, 3.0, 1, 0.1, 3)])
    def test_closed_form_measurement_equals_torch(self, alpha, eps, g1, n, g2, t):
        closed = rmsprop_checks.rmsprop_effective_lr_after_switch(0.02, alpha, eps, g1, n, g2, t)
        measured = rmsprop_checks.measure_rmsprop_effective_lr(0.02, alpha, eps, g1, n, g2, t)
        assert math.isclose(measured, closed, rel_tol=1e-10)

    @pytest.mark.parametrize("fn, hint_id", [
        (rmsprop_factor_bias_corrected, "bias_correction"),
        (rmsprop_factor_converged, "converged_start"),
        (rmsprop_factor_adagrad, "adagrad_sum"),
        (rmsprop_factor_eps_inside, "eps_inside_root"),
        (rmsprop_factor_forgot_everything, "only_new_gradient"),
    ])
    def test_known_mistake_gets_its_hint(self, fn, hint_id):
        result = run_check("6.2", fn)
        assert not result.passed
        assert result.hint_id == hint_id, result.report()

    def test_measurement_equals_the_theory_curve(self):
        from course_lib.theory.rmsprop import rmsprop_effective_lr_curve

        stream = [1.5] * 7 + [-0.2] * 5
        curve = rmsprop_effective_lr_curve(stream, lr=0.02, alpha=0.8, eps=1e-3)
        measured = rmsprop_checks.measure_rmsprop_effective_lr(0.02, 0.8, 1e-3, 1.5, 7, -0.2, 12)
        assert math.isclose(measured, curve[-1], rel_tol=1e-12)


def centered_crossing_by_loop(lr, alpha, eps, g, factor):
    # a learner who writes both averages from their zero start and walks t up
    t = 1
    while True:
        x = alpha**t
        if abs(g) / (abs(g) * math.sqrt(x * (1 - x)) + eps) > factor:
            return t
        t += 1


def centered_crossing_closed_form(lr, alpha, eps, g, factor):
    c = 1 / factor - eps / abs(g)
    root = math.sqrt(1 - 4 * c * c)
    low, high = (1 - root) / 2, (1 + root) / 2
    if alpha > high:
        return 1
    return math.floor(math.log(low) / math.log(alpha)) + 1


def centered_crossing_no_eps(lr, alpha, eps, g, factor):
    return centered_crossing_by_loop(lr, alpha, 0.0, g, factor)


def centered_crossing_monotone(lr, alpha, eps, g, factor):
    # solves only the late branch: misses that the first steps are already long
    c = 1 / factor - eps / abs(g)
    root = math.sqrt(1 - 4 * c * c)
    return math.floor(math.log((1 - root) / 2) / math.log(alpha)) + 1


def centered_crossing_decay_only(lr, alpha, eps, g, factor):
    # v − ḡ² taken as αᵗg²
    t = 1
    while abs(g) / (abs(g) * math.sqrt(alpha**t) + eps) <= factor:
        t += 1
    return t


def centered_crossing_last_below(lr, alpha, eps, g, factor):
    return centered_crossing_by_loop(lr, alpha, eps, g, factor) - 1


def centered_crossing_memory_guess(lr, alpha, eps, g, factor):
    return round(1 / (1 - alpha))


class TestCenteredCrossingPrediction:
    @pytest.mark.parametrize("fn", [centered_crossing_by_loop, centered_crossing_closed_form])
    def test_right_predictions_pass(self, fn):
        for seed in (None, 3, "t"):
            result = run_check("6.3", fn, seed=seed)
            assert result.passed, result.report()

    @pytest.mark.parametrize("fn, hint_id", [
        (centered_crossing_no_eps, "eps_ignored"),
        (centered_crossing_monotone, "first_steps_ignored"),
        (centered_crossing_decay_only, "only_decay"),
        (centered_crossing_last_below, "one_early"),
    ])
    def test_known_mistake_gets_its_hint(self, fn, hint_id):
        result = run_check("6.3", fn)
        assert not result.passed
        assert result.hint_id == hint_id, result.report()

    def test_a_guess_and_a_blank_fail(self):
        assert not run_check("6.3", centered_crossing_memory_guess).passed
        assert not run_check("6.3", lambda lr, alpha, eps, g, factor: None).passed

    def test_measurement_equals_the_theory(self):
        from course_lib.theory.rmsprop import centered_first_step_above

        for alpha, eps, g, factor in ((0.99, 1e-8, 1.0, 100.0), (0.9, 0.01, 0.1, 5.0),
                                      (0.99, 1e-8, -0.5, 8.0), (0.8, 1e-8, -3.0, 1000.0)):
            measured = rmsprop_checks.measure_centered_first_step_above(0.01, alpha, eps, g, factor)
            assert measured == centered_first_step_above(alpha, eps, g, factor)

    def test_cases_include_a_first_step_answer_and_an_eps_that_matters(self):
        from course_lib.exercises.checks._framework import REGISTRY

        cases = [dict(case.inputs) for case in REGISTRY["6.3"].make_cases()]
        answers = [rmsprop_checks._centered_right(**case) for case in cases]
        assert 1 in answers and len(set(answers)) >= 5
        assert any(rmsprop_checks._centered_eps_ignored(**case) != answer
                   for case, answer in zip(cases, answers))


def test_written_answer_6_4_is_registered():
    from course_lib.exercises.checks import known_exercises

    assert "6.4" in known_exercises()
