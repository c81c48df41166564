"""Checkers 9.1–9.4: the solution passes, stubs fail, each learner-style mistake gets its hint,
and the references are proven against torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.experiments import schedule_training
from course_lib.problems import toy_regression
from course_lib.exercises.checks import REGISTRY, run_check
from course_lib.exercises.checks import lr_schedules as checks09


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code")


@pytest.mark.parametrize("exercise_id", ["9.1", "9.2", "9.3"])
def test_a_stub_is_not_attempted(exercise_id):
    assert run_check(exercise_id, stub).status == "not_attempted"


# ---- 9.1 -------------------------------------------------------------------------------------


def learner_warmup_cosine(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
    if t < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * t / warmup_steps)
    progress = (t - warmup_steps) / (total_steps - warmup_steps)
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * progress)) / 2


@pytest.mark.parametrize("seed", [None, 1, "learner-7"])
def test_9_1_a_correct_schedule_passes_for_any_seed(seed):
    assert run_check("9.1", learner_warmup_cosine, seed=seed).passed


def test_9_1_reference_equals_torch_sequential_lr_at_every_step():
    for case in REGISTRY["9.1"].make_cases(seed=3):
        s = case.inputs
        torch_lrs = schedule_training.torch_lrs(
            "warmup_cosine", s["total_steps"] + 1, base_lr=s["base_lr"], warmup_steps=s["warmup_steps"],
            total_steps=s["total_steps"], start_factor=s["start_factor"], eta_min=s["eta_min"])
        ours = [checks09.reference_warmup_cosine(t, **s) for t in range(s["total_steps"] + 1)]
        np.testing.assert_allclose(ours, torch_lrs, rtol=1e-12, atol=1e-15)


def _learner(**changes):
    def schedule(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
        W, T = warmup_steps, total_steps
        if t < W:
            frac = changes.get("warm", lambda t, W: t / W)(t, W)
            start = 0.0 if changes.get("from_zero") else start_factor
            return base_lr * (start + (1 - start) * frac)
        phase = changes.get("phase", lambda t, W, T: (t - W) / (T - W))(t, W, T)
        floor = 0.0 if changes.get("to_zero") else eta_min
        return floor + (base_lr - floor) * 0.5 * (1 + math.cos(math.pi * phase))
    return schedule


def _scheduler_stepped_first(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
    """The lr a loop sees at step t when it calls scheduler.step() before optimizer.step()."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [
        torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=start_factor,
                                          total_iters=warmup_steps),
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps,
                                                   eta_min=eta_min)], milestones=[warmup_steps])
    for _ in range(min(t + 1, total_steps)):
        scheduler.step()  # the slip: before this step's optimizer.step()
    return optimizer.param_groups[0]["lr"]


@pytest.mark.parametrize("wrong, hint", [
    (_learner(phase=lambda t, W, T: t / T), "cosine_from_zero"),
    (_learner(phase=lambda t, W, T: (t - W) / T), "cosine_over_total"),
    (_learner(from_zero=True), "warmup_from_zero"),
    (_learner(warm=lambda t, W: (t + 1) / W), "warmup_one_step_early"),
    (_learner(to_zero=True), "cosine_to_zero"),
    (_learner(warm=lambda t, W: t / (W - 1)), "warmup_peaks_one_step_early"),
    (_scheduler_stepped_first, "schedule_one_step_ahead"),
])
def test_9_1_each_mistake_gets_its_hint(wrong, hint):
    result = run_check("9.1", wrong)
    assert not result.passed and result.hint_id == hint


def test_9_1_a_schedule_wrong_only_at_the_last_step_fails_there():
    def almost(t, **s):
        return learner_warmup_cosine(t, **s) * (1.5 if t == s["total_steps"] else 1.0)
    result = run_check("9.1", almost)
    assert not result.passed and result.reason == "lr of step t = 20 is wrong"


# ---- 9.2 -------------------------------------------------------------------------------------


def learner_prediction(grad, *, lr, start_factor, beta1, beta2, eps):
    # m̂ = g, v̂ = g², the first step runs at start_factor·lr
    return -start_factor * lr * grad / (math.sqrt(grad**2) + eps)


def test_9_2_the_derived_formula_passes_on_any_seed():
    for seed in (None, 2, "x"):
        assert run_check("9.2", learner_prediction, seed=seed).passed


def test_9_2_measure_runs_adam_and_agrees_with_the_closed_form():
    for case in REGISTRY["9.2"].make_cases(seed=11):
        measured = checks09.measured_first_adam_update(**case.inputs)
        assert measured == pytest.approx(learner_prediction(**case.inputs), rel=1e-9)


@pytest.mark.parametrize("wrong, hint", [
    (lambda grad, *, lr, start_factor, beta1, beta2, eps: -lr * grad / (abs(grad) + eps), "ignores_warmup"),
    (lambda grad, *, lr, start_factor, beta1, beta2, eps: -lr * start_factor * grad, "sgd_step"),
    (lambda grad, *, lr, start_factor, beta1, beta2, eps:
        -start_factor * lr * ((1 - beta1) * grad) / (math.sqrt((1 - beta2) * grad**2) + eps), "no_bias_correction"),
    (lambda grad, *, lr, start_factor, beta1, beta2, eps: -start_factor * lr * grad / math.sqrt(grad**2 + eps), "eps_inside_root"),
    (lambda grad, *, lr, start_factor, beta1, beta2, eps: start_factor * lr * math.copysign(1, grad), "ascent"),
])
def test_9_2_each_wrong_formula_gets_its_hint(wrong, hint):
    result = run_check("9.2", wrong)
    assert not result.passed and result.hint_id == hint


def test_9_2_a_sign_only_answer_misses_on_the_tiny_gradient_case():
    result = run_check("9.2", lambda grad, *, lr, start_factor, **_: -start_factor * lr * math.copysign(1, grad))
    assert not result.passed and "ε" in result.failing_case


# ---- 9.3 -------------------------------------------------------------------------------------


def learner_range_test(model, batches, *, lr_min, lr_max):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr_min)
    lrs = np.geomspace(lr_min, lr_max, len(batches)).tolist()
    losses = []
    for lr, (x, y) in zip(lrs, batches):
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        losses.append(loss.item())
        if not math.isfinite(losses[-1]) or losses[-1] > 4 * min(losses):
            break
        loss.backward()
        optimizer.step()
    return lrs[:len(losses)], losses


def test_9_3_a_learner_loop_passes_and_stubs_fail():
    assert run_check("9.3", learner_range_test).passed
    assert run_check("9.3", learner_range_test, seed=9).passed


def _variant(*, spacing="geom", record="before", zero_grad=True, stop=True, exponent_den=-1,
             step_before_stop=False):
    def test(model, batches, *, lr_min, lr_max):
        optimizer = torch.optim.SGD(model.parameters(), lr=lr_min)
        K = len(batches)
        lrs, losses = [], []
        for k, (x, y) in enumerate(batches):
            if spacing == "geom":
                lr = lr_min * (lr_max / lr_min) ** (k / (K + exponent_den))
            else:
                lr = float(np.linspace(lr_min, lr_max, K)[k])
            optimizer.param_groups[0]["lr"] = lr
            if zero_grad:
                optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            if record == "before":
                losses.append(loss.item())
            loss.backward()
            if step_before_stop:
                optimizer.step()
            if record == "before" and stop and (not math.isfinite(losses[-1]) or losses[-1] > 4 * min(losses)):
                lrs.append(lr)
                break
            if not step_before_stop:
                optimizer.step()
            if record == "after":
                losses.append(nn.functional.mse_loss(model(x), y).item())
            lrs.append(lr)
            if record == "after" and stop and (not math.isfinite(losses[-1]) or losses[-1] > 4 * min(losses)):
                break
        return lrs, losses
    return test


@pytest.mark.parametrize("wrong, hint", [
    (_variant(spacing="linear"), "linear_spacing"),
    (_variant(exponent_den=0), "never_reaches_lr_max"),
    (_variant(record="after"), "loss_after_step"),
    (_variant(zero_grad=False), "no_zero_grad"),
    (_variant(stop=False), "never_stops"),
    (_variant(step_before_stop=True), "steps_on_the_blow_up"),
])
def test_9_3_each_mistake_gets_its_hint(wrong, hint):
    result = run_check("9.3", wrong)
    assert not result.passed and result.hint_id == hint


def test_9_3_a_copy_of_the_model_is_caught():
    import copy

    def trains_a_copy(model, batches, *, lr_min, lr_max):
        return learner_range_test(copy.deepcopy(model), batches, lr_min=lr_min, lr_max=lr_max)
    result = run_check("9.3", trains_a_copy)
    assert not result.passed and "parameters" in (result.reason + result.failing_case + str(result.expected) + " ".join(result.details))


def test_9_3_changing_the_batches_is_caught():
    def scales_data(model, batches, *, lr_min, lr_max):
        for x, _ in batches:
            x.mul_(1.0)
            x.add_(0.0)
        batches[0][0].add_(1.0)
        return learner_range_test(model, batches, lr_min=lr_min, lr_max=lr_max)
    result = run_check("9.3", scales_data)
    assert not result.passed and result.hint_id in (None, "changed_input") and "batches" in result.reason


def test_9_4_is_a_written_answer():
    assert REGISTRY["9.4"].kind == "written"
    assert run_check("9.4", None).status == "written"


def test_the_grader_scan_allows_torch_optim_where_the_contract_needs_it():
    from course_lib.exercises import answer_scan as scan

    assert checks09._GRADER_DEFAULT_FORBIDDEN == scan.DEFAULT_FORBIDDEN
    assert "torch.optim" not in scan.forbidden_for(REGISTRY["9.3"])
    assert "torch.optim" not in scan.forbidden_for(REGISTRY["10.1"])
    assert "torch.nn.utils.clip_grad" in scan.forbidden_for(REGISTRY["11.2"])
