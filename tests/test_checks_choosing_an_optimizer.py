"""Checkers 10.1–10.3: reachable target, default settings fail it, hints for wrong formulas, and
the measured stability limit agrees with the closed form."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.checks import REGISTRY, run_check
from course_lib.checks import choosing_an_optimizer as checks10


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code")


@pytest.mark.parametrize("exercise_id", ["10.1", "10.2"])
def test_a_stub_is_not_attempted(exercise_id):
    assert run_check(exercise_id, stub).status == "not_attempted"


# ---- 10.1 ------------------------------------------------------------------------------------


def learner_warmup_cosine_adamw(params, *, steps_per_epoch, epochs):
    total = steps_per_epoch * epochs
    optimizer = torch.optim.AdamW(params, lr=0.02)
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=10)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - 10)
    return optimizer, torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[10])


def test_10_1_the_reference_and_a_learners_schedule_reach_the_target_on_other_seeds():
    assert run_check("10.1", checks10.reference_make_optimizer).passed
    assert run_check("10.1", checks10.reference_make_optimizer, seed=3).passed
    assert run_check("10.1", learner_warmup_cosine_adamw, seed="grader").passed


def test_10_1_torch_defaults_miss_the_target_with_the_hint():
    def default_adam(params, *, steps_per_epoch, epochs):
        return torch.optim.Adam(params), None
    result = run_check("10.1", default_adam)
    assert not result.passed and result.hint_id == "target_missed"
    assert "default learning rates" in result.hint


def test_10_1_a_wrong_return_value_is_reported():
    result = run_check("10.1", lambda params, *, steps_per_epoch, epochs: torch.optim.Adam(params))
    assert not result.passed and "(optimizer, scheduler or None)" in result.reason


def test_10_1_the_harness_calls_the_scheduler_after_every_step():
    events = []

    class Recording(torch.optim.SGD):
        def step(self, closure=None):
            events.append("optimizer")
            return super().step(closure)

    def recorded(params, *, steps_per_epoch, epochs):
        optimizer = Recording(params, lr=0.1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0)
        original = scheduler.step
        scheduler.step = lambda *a: (events.append("scheduler"), original(*a))
        return optimizer, scheduler
    checks10.train_digits(recorded, seed=0, budget=checks10.BUDGET)
    assert events == ["optimizer", "scheduler"] * (5 * 22)


# ---- 10.2 ------------------------------------------------------------------------------------


def learner_stable_lr(X):
    # Hessian of (1/n)‖Xw − y‖² is 2XᵀX/n; stable while η·λ_max < 2
    hessian = 2 * X.T @ X / X.shape[0]
    return 2 / torch.linalg.eigvalsh(hessian).max().item()


def test_10_2_the_closed_form_passes_on_any_seed_and_agrees_with_the_measurement():
    for seed in (None, 1, "g"):
        assert run_check("10.2", learner_stable_lr, seed=seed).passed
    for case in REGISTRY["10.2"].make_cases(seed=7):
        assert checks10.measured_max_stable_lr(**case.inputs) == pytest.approx(learner_stable_lr(**case.inputs), rel=2e-3)


@pytest.mark.parametrize("wrong, hint", [
    (lambda X: 2 / torch.linalg.eigvalsh(X.T @ X / len(X)).max().item(), "no_factor_two"),
    (lambda X: 1 / torch.linalg.eigvalsh(X.T @ X).max().item(), "no_mean"),
    (lambda X: 1 / torch.linalg.svdvals(X / math.sqrt(len(X))).max().item(), "singular_value"),
    (lambda X: 1 / (X ** 2).sum(dim=1).mean().item(), "trace"),
])
def test_10_2_each_wrong_formula_gets_its_hint(wrong, hint):
    result = run_check("10.2", wrong)
    assert not result.passed and result.hint_id == hint


def test_10_2_an_unrelated_guess_gets_the_explanation():
    result = run_check("10.2", lambda X: 0.01)
    assert result.hint_id == "prediction_off" and "times the measured one" in result.hint


def test_10_3_is_a_written_answer():
    assert REGISTRY["10.3"].kind == "written"
