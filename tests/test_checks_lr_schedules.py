"""Checkers 9.1–9.4: the derived answers pass, stubs, guesses and the lecture's own numbers fail,
each learner-style mistake gets its hint, and every measurement is proven against torch."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.exercises.checks import REGISTRY, run_check
from course_lib.exercises.checks import lr_schedules as checks09


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code")


@pytest.mark.parametrize("exercise_id", ["9.1", "9.2", "9.3"])
def test_a_stub_is_not_attempted(exercise_id):
    assert run_check(exercise_id, stub).status == "not_attempted"


@pytest.mark.parametrize("exercise_id", ["9.1", "9.2", "9.3"])
def test_the_three_are_predictions_measured_by_running_torch(exercise_id):
    assert REGISTRY[exercise_id].kind == "prediction"


# ---- 9.1 the size of Adam's early momentum average --------------------------------------------


def derived_noise_ratio(t, *, beta1):
    weights = [(1 - beta1) * beta1 ** (t - j) / (1 - beta1**t) for j in range(1, t + 1)]
    settled = (1 - beta1) / (1 + beta1)            # Σ w² of the infinite, uncorrected EMA
    return math.sqrt(sum(w * w for w in weights) / settled)


@pytest.mark.parametrize("seed", [None, 1, "learner-7"])
def test_9_1_the_derived_ratio_passes_for_any_seed(seed):
    assert run_check("9.1", derived_noise_ratio, seed=seed).passed


def test_9_1_the_measurement_reads_torch_adams_state_and_matches_the_sum_of_squared_weights():
    for t, beta1 in [(1, 0.9), (4, 0.9), (3, 0.6)]:
        assert checks09.measured_noise_ratio(t, beta1=beta1) == pytest.approx(
            derived_noise_ratio(t, beta1=beta1), rel=0.02)


@pytest.mark.parametrize("wrong, hint", [
    (checks09._bias_factor, "bias_factor"),
    (checks09._sqrt_bias_factor, "sqrt_bias_factor"),
    (checks09._no_square_root, "no_square_root"),
    (checks09._upside_down, "upside_down"),
    (checks09._in_units_of_one_gradient, "in_units_of_one_gradient"),
    (checks09._uncorrected_average, "uncorrected_average"),
])
def test_9_1_each_mistake_gets_its_hint(wrong, hint):
    result = run_check("9.1", wrong)
    assert not result.passed and result.hint_id == hint


@pytest.mark.parametrize("guess", [
    lambda t, *, beta1: 1.0,                                   # "no excess"
    lambda t, *, beta1: 1.0 / 0.17,                            # the lecture's t = 1 over settled median
    lambda t, *, beta1: 2 / (1 - 0.999),                       # Ma & Yarats' number, misread
    lambda t, *, beta1: math.sqrt(t),
])
def test_9_1_guesses_and_the_lectures_numbers_fail(guess):
    assert not run_check("9.1", guess).passed


# ---- 9.2 Adam's second update under warmup ----------------------------------------------------


def derived_second_update(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
    lr_2 = lr * (start_factor + (1 - start_factor) * min(1, warmup_steps) / warmup_steps)
    m_hat = (1 - beta1) * (beta1 * g1 + g2) / (1 - beta1**2)
    v_hat = (1 - beta2) * (beta2 * g1 * g1 + g2 * g2) / (1 - beta2**2)
    return -lr_2 * m_hat / (math.sqrt(v_hat) + eps)


@pytest.mark.parametrize("seed", [None, 2, "learner-3"])
def test_9_2_the_derived_formula_passes_on_any_seed(seed):
    assert run_check("9.2", derived_second_update, seed=seed).passed


def test_9_2_the_measurement_is_torch_adam_with_linear_lr():
    for case in REGISTRY["9.2"].make_cases(seed=5):
        inputs = dict(case.inputs)
        theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.Adam([theta], lr=inputs["lr"], betas=(inputs["beta1"], inputs["beta2"]),
                                     eps=inputs["eps"])
        scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=inputs["start_factor"],
                                                      total_iters=inputs["warmup_steps"])
        steps = []
        for g in (inputs["g1"], inputs["g2"]):
            before = float(theta.detach()[0])
            theta.grad = torch.tensor([g], dtype=torch.float64)
            optimizer.step()
            scheduler.step()
            steps.append(float(theta.detach()[0]) - before)
        assert checks09.measured_second_adam_update(**inputs) == pytest.approx(steps[1], rel=1e-12, abs=1e-300)
        assert derived_second_update(**inputs) == pytest.approx(steps[1], rel=1e-6)


@pytest.mark.parametrize("wrong, hint", [
    (checks09._lr_of_first_step, "lr_of_first_step"),
    (checks09._lr_one_ahead, "lr_one_ahead"),
    (checks09._no_warmup, "no_warmup"),
    (checks09._correction_of_step_one, "correction_of_step_one"),
    (checks09._no_correction, "no_correction"),
    (checks09._sign_step, "sign_step"),
    (checks09._second_eps_inside, "eps_inside_root"),
    (checks09._second_ascent, "ascent"),
])
def test_9_2_each_wrong_formula_gets_its_hint(wrong, hint):
    result = run_check("9.2", wrong)
    assert not result.passed and result.hint_id == hint


def test_9_2_the_lectures_first_step_rule_fails():
    """Section 9 says the first update is exactly the lr: applied to the second step it fails."""
    def first_step_rule(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
        return -lr * start_factor * math.copysign(1.0, g2)
    assert not run_check("9.2", first_step_rule).passed


# ---- 9.3 the momentum forms' offset after an lr change ----------------------------------------


def derived_offset(g, *, lr_before, lr_after, beta, drop_step):
    return -g * (lr_before - lr_after) * beta * (1 - beta**drop_step) / (1 - beta) ** 2


@pytest.mark.parametrize("seed", [None, 4, "learner-9"])
def test_9_3_the_derived_offset_passes_on_any_seed(seed):
    assert run_check("9.3", derived_offset, seed=seed).passed


def test_9_3_the_measurement_uses_torch_sgd_and_has_settled():
    inputs = dict(g=1.0, lr_before=0.1, lr_after=0.01, beta=0.9, drop_step=20)
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[20], gamma=0.1)
    velocity = position = 0.0
    offsets = []
    for t in range(1, 1001):
        lr_now = optimizer.param_groups[0]["lr"]
        theta.grad = torch.ones(1, dtype=torch.float64)
        optimizer.step()
        scheduler.step()
        velocity = 0.9 * velocity - lr_now
        position += velocity
        offsets.append(position - float(theta.detach()[0]))
    assert offsets[-1] == pytest.approx(offsets[-400], rel=1e-9)          # settled
    assert checks09.measured_forms_offset(**inputs) == pytest.approx(offsets[-1], rel=1e-9)


@pytest.mark.parametrize("wrong, hint", [
    (checks09._offset_without_beta, "without_beta"),
    (checks09._offset_steady_state, "steady_state"),
    (checks09._offset_one_power, "one_power"),
    (checks09._offset_sign, "sign"),
    (checks09._offset_old_lr_only, "old_lr_only"),
])
def test_9_3_each_mistake_gets_its_hint(wrong, hint):
    result = run_check("9.3", wrong)
    assert not result.passed and result.hint_id == hint


def test_9_3_the_lectures_transient_story_is_not_an_answer():
    """'A transient of about 1/(1−β) steps': one step's worth at the old lr is far too small."""
    def transient(g, *, lr_before, lr_after, beta, drop_step):
        return -g * (lr_before - lr_after) / (1 - beta)
    assert not run_check("9.3", transient).passed


@pytest.mark.parametrize("beta, drop_step", [(0.999, 50), (1 - 1e-6, 300), (1 - 1e-7, 1000)])
def test_9_3_the_extrapolated_measurement_matches_a_long_torch_run_and_the_closed_form(beta, drop_step):
    inputs = dict(g=1.0, lr_before=0.1, lr_after=0.02, beta=beta, drop_step=drop_step)
    if beta == 0.999:        # settles within 2000 steps: compare Aitken's extrapolation with the wait
        assert checks09._run_forms(1.0, 0.1, 0.02, beta, drop_step, [drop_step + 2 * 34_500])[0] == \
            pytest.approx(derived_offset(**inputs), rel=1e-9)
        a, b, c = checks09._run_forms(1.0, 0.1, 0.02, beta, drop_step, [drop_step + 300, drop_step + 600, drop_step + 900])
        assert c - (c - b) ** 2 / ((c - b) - (b - a)) == pytest.approx(derived_offset(**inputs), rel=1e-9)
    else:
        assert checks09.measured_forms_offset(**inputs) == pytest.approx(derived_offset(**inputs), rel=1e-6)


def test_9_3_waiting_for_the_offset_to_settle_is_not_an_answer():
    """The lecture's loop, run until the offset stops changing or for a million steps, fails."""
    def loop(g, *, lr_before, lr_after, beta, drop_step):
        b = v = theta_torch = theta_velocity = 0.0
        previous = None
        for step in range(1, drop_step + 1_000_001):
            lr = lr_before if step <= drop_step else lr_after
            b = beta * b + g if step > 1 else g
            theta_torch -= lr * b
            v = beta * v - lr * g
            theta_velocity += v
            gap = theta_velocity - theta_torch
            if step > drop_step and previous is not None and abs(gap - previous) <= 1e-12 * abs(gap):
                break
            previous = gap
        return gap
    result = run_check("9.3", loop)
    assert not result.passed


# ---- 9.4 and the grader's scan ----------------------------------------------------------------


def test_9_4_is_a_written_answer_about_the_linear_scaling_rule():
    assert REGISTRY["9.4"].kind == "written"
    assert run_check("9.4", None).status == "written"
    assert "linear" not in REGISTRY["9.4"].prompt.lower() or "k-fold" in REGISTRY["9.4"].prompt


def test_the_grader_scan_forbids_torch_optim_in_all_three_predictions():
    from course_lib.exercises import answer_scan as scan
    from course_lib.exercises.checks import discover

    discover()
    assert checks09._GRADER_DEFAULT_FORBIDDEN == scan.DEFAULT_FORBIDDEN
    for exercise_id in ("9.1", "9.2", "9.3"):
        assert "torch.optim" in scan.forbidden_for(REGISTRY[exercise_id])
    assert "torch.optim" not in scan.forbidden_for(REGISTRY["10.1"])
    assert "torch.nn.utils.clip_grad" in scan.forbidden_for(REGISTRY["11.2"])


def test_9_1_refuses_the_lectures_simulation_helper():
    from course_lib.exercises import answer_scan as scan

    assert "course_lib.experiments.schedule_training.adam_update_ratios" in scan.refused_for(REGISTRY["9.1"])
