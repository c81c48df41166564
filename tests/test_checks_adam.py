"""Checkers for notebook 07 (Adam): the reference passes, learner-style wrong answers fail with
the hint meant for them, and the reference itself equals torch.optim.Adam."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.exercises.checks import run_check
from course_lib.optim.adam import adam_init
from course_lib.exercises.checks.adam import (ADAM_STEP_MISTAKES, measured_first_long_silence,
                                              measured_reddi_end, measured_spike_step,
                                              reddi_period_drift, reference_adam_step)
from course_lib.theory.adam import spike_step_ratio

# -- 7.1: learner-style implementations ---------------------------------------------------------


def learner_adam(*, first_moment="average", correct_m=True, correct_v=True, eps_where="outside",
                 ams="raw_max_corrected", ascent=False, mutate_grad=False, alias_beta1_zero=False,
                 step_offset=0):
    """An adam_step written the way a learner would, with one chosen slip."""

    def adam_step(param, grad, state, *, lr, beta1, beta2, eps, amsgrad=False):
        # state is torch's (adam_init): step a 0-dim float tensor, the moments zeros
        if amsgrad and ams == "aliased_to_v" and state["step"].item() == 0:
            state["max_exp_avg_sq"] = state["exp_avg_sq"]
        state["step"] += 1
        t = state["step"].item() + step_offset
        g = grad
        if mutate_grad:
            # right numbers, but the caller's gradient is scaled in place
            state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
            state["exp_avg"] = beta1 * state["exp_avg"] + grad.mul_(1 - beta1)
        elif alias_beta1_zero and beta1 == 0:
            state["exp_avg"] = g  # "with β₁ = 0, m is just g"
        elif first_moment == "sum":
            state["exp_avg"] = beta1 * state["exp_avg"] + g
        else:
            state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
        if mutate_grad:
            pass
        elif ams == "aliased_to_v":  # in place, so the alias made on step 1 stays one tensor
            state["exp_avg_sq"].mul_(beta2).add_((1 - beta2) * g * g)
        else:
            state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m_hat = m / (1 - beta1**t) if correct_m else m
        if amsgrad:
            if ams == "max_of_corrected":
                state["max_exp_avg_sq"] = torch.maximum(state["max_exp_avg_sq"], v / (1 - beta2**t))
                v_hat = state["max_exp_avg_sq"]
            elif ams == "aliased_to_v":
                torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                v_hat = state["max_exp_avg_sq"] / (1 - beta2**t)
            else:
                state["max_exp_avg_sq"] = torch.maximum(state["max_exp_avg_sq"], v)
                v_max = state["max_exp_avg_sq"]
                v_hat = v_max if ams == "raw_max_uncorrected" else v_max / (1 - beta2**t)
                if ams == "max_unused":
                    v_hat = v / (1 - beta2**t)
        else:
            v_hat = v / (1 - beta2**t) if correct_v else v
        if eps_where == "inside":
            denominator = torch.sqrt(v_hat + eps)
        else:
            denominator = torch.sqrt(v_hat) + eps
        step = lr * m_hat / denominator
        if ascent:
            param += step
        else:
            param -= step

    return adam_step


def test_reference_passes():
    assert run_check("7.1", reference_adam_step).passed


def test_a_careful_learner_passes():
    assert run_check("7.1", learner_adam()).passed


@pytest.mark.parametrize("seed", [1, 2, "student-17"])
def test_reference_passes_on_other_seeds(seed):
    assert run_check("7.1", reference_adam_step, seed=seed).passed


def test_stub_fails_as_not_attempted():
    def adam_step(param, grad, state, *, lr, beta1, beta2, eps, amsgrad=False):
        raise NotImplementedError("Exercise 7.1")

    assert run_check("7.1", adam_step).status == "not_attempted"


@pytest.mark.parametrize("kwargs, hint_id", [
    (dict(first_moment="sum"), "sum_form_first_moment"),
    (dict(correct_m=False, correct_v=False), "no_bias_correction"),
    (dict(correct_v=False), "only_first_moment_corrected"),
    (dict(correct_m=False), "only_second_moment_corrected"),
    (dict(eps_where="inside"), "eps_inside_root"),
    (dict(ams="max_of_corrected"), "amsgrad_max_of_corrected"),
    (dict(ams="raw_max_uncorrected"), "amsgrad_max_not_corrected"),
    (dict(ams="aliased_to_v"), "amsgrad_max_aliases_v"),
    (dict(ams="max_unused"), "amsgrad_max_unused"),
    (dict(ascent=True), "ascent"),
    (dict(mutate_grad=True), "changed_input"),
    (dict(step_offset=1), "step_one_ahead"),
    (dict(step_offset=-1), "step_one_behind"),
])
def test_learner_mistake_gets_its_hint(kwargs, hint_id):
    result = run_check("7.1", learner_adam(**kwargs))
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_eps_before_correction_gets_its_hint():
    def adam_step(param, grad, state, *, lr, beta1, beta2, eps, amsgrad=False):
        state["step"] += 1
        t = state["step"]
        state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        v = state["exp_avg_sq"]
        if amsgrad:
            torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        # Kingma & Ba's "efficient" ordering with the same ε
        step_size = lr * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
        param.sub_(step_size * state["exp_avg"] / (v.sqrt() + eps))

    result = run_check("7.1", adam_step)
    assert result.hint_id == "eps_before_correction", result.report()


def test_state_aliasing_the_gradient_fails():
    # Correct numbers at every step, but state['exp_avg'] *is* the caller's gradient tensor.
    result = run_check("7.1", learner_adam(alias_beta1_zero=True))
    assert not result.passed
    assert result.hint_id == "aliased_input", result.report()


def test_every_known_mistake_is_distinguishable():
    # each wrong implementation fails and gets its own hint (no mistake shadows another)
    for mistake in ADAM_STEP_MISTAKES:
        result = run_check("7.1", mistake.wrong_function)
        assert not result.passed
        assert result.hint_id == mistake.hint_id, (mistake.hint_id, result.report())


# -- the reference is torch ------------------------------------------------------------------


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("betas, eps", [((0.9, 0.999), 1e-8), ((0.5, 0.9), 1e-3), ((0.0, 0.99), 1e-6)])
def test_reference_equals_torch_adam(amsgrad, betas, eps):
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(6, generator=generator, dtype=torch.float64)
    gradients = [torch.randn(6, generator=generator, dtype=torch.float64) * 10 ** (-k % 4)
                 for k in range(12)]
    theirs = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([theirs], lr=0.01, betas=betas, eps=eps, amsgrad=amsgrad,
                                 foreach=False)
    ours = start.clone()
    state = adam_init(ours, amsgrad=amsgrad)
    for g in gradients:
        theirs.grad = g.clone()
        optimizer.step()
        reference_adam_step(ours, g, state, lr=0.01, beta1=betas[0], beta2=betas[1], eps=eps,
                            amsgrad=amsgrad)
        torch.testing.assert_close(ours, theirs.detach(), rtol=1e-12, atol=1e-14)
    torch_state = optimizer.state[theirs]
    assert state["step"].item() == torch_state["step"].item()
    torch.testing.assert_close(state["exp_avg_sq"], torch_state["exp_avg_sq"])
    if amsgrad:
        torch.testing.assert_close(state["max_exp_avg_sq"], torch_state["max_exp_avg_sq"])


# -- 7.2: how long a silence must be before a rare gradient's step passes η ----------------------


def derived_first_long_silence(beta1, beta2):
    """The derivation a learner writes: the step after s silent steps from the update's
    equations (one gradient in m and v, corrections at t = s + 1), searched for the first s >= 1
    where it passes 1."""
    s = 1
    while (1 - beta1) / (1 - beta1 ** (s + 1)) * math.sqrt((1 - beta2 ** (s + 1)) / (1 - beta2)) <= 1:
        s += 1
    return s


@pytest.mark.parametrize("beta1, beta2, quiet", [(0.9, 0.999, 0), (0.9, 0.999, 20), (0.5, 0.99, 300),
                                                  (0.0, 0.9, 7), (0.95, 0.9999, 2999)])
def test_spike_measure_equals_the_closed_form(beta1, beta2, quiet):
    assert measured_spike_step(beta1, beta2, quiet) == pytest.approx(
        spike_step_ratio(beta1, beta2, quiet), rel=1e-6)


def test_spike_measure_agrees_with_torch_adam():
    weight = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([weight], lr=1.0, betas=(0.8, 0.995), eps=1e-12, foreach=False)
    for _ in range(50):
        weight.grad = torch.zeros(1, dtype=torch.float64)
        optimizer.step()
    weight.grad = torch.ones(1, dtype=torch.float64)
    optimizer.step()
    assert abs(weight.item()) == pytest.approx(measured_spike_step(0.8, 0.995, 50), rel=1e-9)


@pytest.mark.parametrize("beta1, beta2", [(0.9, 0.999), (0.8, 0.999), (0.95, 0.9999), (0.6, 0.995)])
def test_silence_measure_equals_the_closed_form_and_one_run_per_silence(beta1, beta2):
    measured = measured_first_long_silence(beta1, beta2)
    assert measured == derived_first_long_silence(beta1, beta2)
    # the vector trick equals separate runs, one per silence, on either side of the answer
    assert measured_spike_step(beta1, beta2, measured) > 1.0
    assert measured_spike_step(beta1, beta2, measured - 1) <= 1.0


@pytest.mark.parametrize("beta1, beta2", [(0.99, 0.99999), (0.995, 0.999998), (0.999, 0.9999999)])
def test_long_dips_are_measured_exactly(beta1, beta2):
    # answers of about 1/(1 − β₁)² silent steps, 10⁴ to 10⁶: the bisection on torch's state
    measured = measured_first_long_silence(beta1, beta2)
    assert measured == derived_first_long_silence(beta1, beta2)
    assert measured > 0.9 / (1 - beta1) ** 2
    assert measured != round(1 / (1 - beta1) ** 2)  # the approximation is not the answer


def test_the_cases_include_a_million_step_silence():
    from course_lib.exercises.checks import REGISTRY

    assert max(measured_first_long_silence(**case.inputs)
               for case in REGISTRY["7.2"].make_cases()) > 10**6


def test_silence_measure_refuses_betas_whose_step_never_passes_lr():
    with pytest.raises(ValueError, match="no silence"):
        measured_first_long_silence(0.9, 0.99)  # (1 − β₁)/√(1 − β₂) = 1: never longer than η


@pytest.mark.parametrize("seed", [None, 3, "learner-9"])
def test_the_derived_silence_passes(seed):
    assert run_check("7.2", derived_first_long_silence, seed=seed).passed


def _first(ratio):
    s = 1
    while ratio(s) <= 1:
        s += 1
    return s


@pytest.mark.parametrize("prediction, hint_id", [
    (lambda beta1, beta2: 1, "one_step"),
    # v's correction left out: the step is long from the first silent step on
    (lambda beta1, beta2: _first(lambda s: (1 - beta1) / (1 - beta1 ** (s + 1)) / math.sqrt(1 - beta2)),
     "one_step"),
    (lambda beta1, beta2: int(1 / (1 - beta2) + 0.5), "v_memory"),
    (lambda beta1, beta2: 105, "default_betas_only"),
    (lambda beta1, beta2: _first(lambda s: (1 - beta1) / (1 - beta1**s)
                                 * math.sqrt((1 - beta2**s) / (1 - beta2))), "off_by_one"),
    (lambda beta1, beta2: 50, "prediction_off"),
])
def test_wrong_silences_get_their_hint(prediction, hint_id):
    result = run_check("7.2", prediction)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_a_single_number_is_not_enough():
    assert not run_check("7.2", 105).passed


def test_written_answer_is_registered():
    result = run_check("7.3", None)
    assert "written answer" in result.report()


# -- 7.4: the end Adam settles at on Reddi et al.'s problem -----------------------------------------


def derived_drift(C, beta2):
    # the periodic steady state of v (β₁ = 0), written independently of the checker's helper
    v = 0.0
    for t in range(1, 30_000):  # iterate v to its periodic orbit
        v = beta2 * v + (1 - beta2) * (C if t % 3 == 1 else -1.0) ** 2
        if t % 3 == 1 and t > 20_000:
            a = v
            b = beta2 * a + 1 - beta2
            c = beta2 * b + 1 - beta2
            return -C / math.sqrt(a) + 1 / math.sqrt(b) + 1 / math.sqrt(c)


@pytest.mark.parametrize("seed", [None, 1, "learner-2"])
def test_the_derived_drift_passes(seed):
    assert run_check("7.4", derived_drift, seed=seed).passed


def test_the_drifts_sign_is_the_end_adam_settles_at():
    from course_lib.exercises.checks import REGISTRY
    from course_lib.exercises.checks.adam import measured_reddi_drift

    for case in REGISTRY["7.4"].make_cases():
        drift = measured_reddi_drift(**case.inputs)
        assert drift == pytest.approx(reddi_period_drift(**case.inputs), rel=1e-9)
        assert math.copysign(1.0, drift) == measured_reddi_end(**case.inputs)


def test_the_lectures_simulation_copied_fails():
    """Notebook 07's ``reddi_paper`` (the paper's projected Adam) copied as the answer gives
    positions in [-1, 1], not the movement per period."""
    def predicted_drift(C, beta2):
        x, v = 0.0, 0.0
        for t in range(1, 1001):
            g = C if t % 3 == 1 else -1.0
            v = beta2 * v + (1 - beta2) * g * g
            x = min(1.0, max(-1.0, x - 0.5 / math.sqrt(t) * g / math.sqrt(v)))
        return x
    assert not run_check("7.4", predicted_drift).passed


def test_cases_include_both_ends():
    from course_lib.exercises.checks import REGISTRY

    ends = {measured_reddi_end(**case.inputs) for case in REGISTRY["7.4"].make_cases()}
    assert ends == {1.0, -1.0}


def test_reddis_setting_fails_and_amsgrad_does_not():
    from course_lib import optim
    from course_lib.problems.landscapes import reddi_problem

    assert measured_reddi_end(3.0, 0.1) == 1.0
    assert reddi_period_drift(3.0, 0.1) > 0
    path = reddi_problem(3.0).run(optim.Adam, start=0.0, steps=3000, lr=0.02, betas=(0.0, 0.1),
                                  amsgrad=True)
    assert path[-300:].mean() < -0.9


@pytest.mark.parametrize("prediction, hint_id", [
    (lambda C, beta2: -1.0 if reddi_period_drift(C, beta2) < 0 else 1.0, "sign_only"),
    (lambda C, beta2: (-C + 2) / math.sqrt((C * C + 2) / 3), "equal_denominators"),
    (lambda C, beta2: 2 * reddi_period_drift(C, beta2), "prediction_off"),
])
def test_wrong_drifts_get_their_hint(prediction, hint_id):
    result = run_check("7.4", prediction, seed=7)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


@pytest.mark.parametrize("threshold", [0.05, 0.1, 0.2, 0.3, 0.47, 0.5, 0.63])
def test_any_end_or_threshold_on_beta2_alone_fails(threshold):
    guess = lambda C, beta2: 1.0 if beta2 < threshold else -1.0  # noqa: E731
    assert not run_check("7.4", guess).passed


def test_7_4_cases_pair_up_around_each_boundary():
    from course_lib.exercises.checks import REGISTRY
    from course_lib.exercises.checks.adam import reddi_boundary

    cases = REGISTRY["7.4"].make_cases()[3:]
    assert len(cases) == 8
    for below, above in zip(cases[::2], cases[1::2]):
        C = below.inputs["C"]
        assert above.inputs["C"] == C
        assert below.inputs["beta2"] < reddi_boundary(C) < above.inputs["beta2"]
        assert above.inputs["beta2"] < 2 * below.inputs["beta2"]  # both near the boundary


def test_the_5_1_habit_of_reading_step_with_item_works_in_7_1():
    """One state contract for every write-an-update exercise (issue 16): state['step'] is
    torch's 0-dim tensor in 7.1 as in 5.1 and 6.1, so `state["step"].item()` is right here too."""
    def adam_step(param, grad, state, *, lr, beta1, beta2, eps, amsgrad=False):
        state["step"] += 1
        t = state["step"].item()
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(beta1).add_(grad, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if amsgrad:
            torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        param.sub_(lr / (1 - beta1**t) * m / ((v / (1 - beta2**t)).sqrt() + eps))

    assert run_check("7.1", adam_step).passed
