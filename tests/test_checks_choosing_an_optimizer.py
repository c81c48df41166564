"""Checkers 10.1–10.3: reachable target, default settings fail it, hints for wrong formulas, and
10.2's measurement (SGD+momentum's lr that matches SGD's loss, found by training both) agrees
with the effective learning rate η/(1−β) where the exercise says it does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.exercises.checks import REGISTRY, run_check
from course_lib.exercises.checks import choosing_an_optimizer as checks10
from course_lib.experiments import optimizer_race


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code")


@pytest.mark.parametrize("exercise_id", ["10.1", "10.2"])
def test_a_stub_is_not_attempted(exercise_id):
    assert run_check(exercise_id, stub).status == "not_attempted"


# ---- 10.1 ------------------------------------------------------------------------------------


def learner_warmup_cosine_adamw(params, *, steps_per_epoch, epochs):
    total = steps_per_epoch * epochs
    warmup_steps = total // 10
    optimizer = torch.optim.AdamW(params, lr=0.0316)
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warmup_steps)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup_steps)
    return optimizer, torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, cosine],
                                                            milestones=[warmup_steps])


def test_10_1_the_reference_and_a_learners_schedule_reach_the_target_on_other_seeds():
    assert run_check("10.1", checks10.reference_make_optimizer).passed
    assert run_check("10.1", checks10.reference_make_optimizer, seed=3).passed
    assert run_check("10.1", learner_warmup_cosine_adamw, seed="grader").passed


def test_10_1_torch_defaults_miss_the_target_with_the_hint():
    def default_adam(params, *, steps_per_epoch, epochs):
        return torch.optim.Adam(params), None
    result = run_check("10.1", default_adam)
    assert not result.passed and result.hint_id == "target_missed"
    assert "floor" in result.hint


@pytest.mark.parametrize("name, lr, kwargs", [
    ("Adam", 0.0316, {}),                    # the lecture's tuned constant lr (batch 64)
    ("SGD", 0.316, {"momentum": 0.9}),       # the lecture's tuned SGD+momentum (batch 64)
    ("Adam", 0.01, {}),                      # the best constant lrs at batch 8 (30 seeds)
    ("Adam", 0.0178, {}),
    ("SGD", 0.0316, {"momentum": 0.9}),
])
def test_10_1_no_constant_lr_reaches_the_target(name, lr, kwargs):
    """What the lecture handed over (a tuned constant lr) is not enough: at batch 8 every
    constant lr stops at a noise floor above the target, on every seed window measured."""
    def constant(params, *, steps_per_epoch, epochs):
        return getattr(torch.optim, name)(params, lr=lr, **kwargs), None
    for seed in (0, "grader"):
        result = run_check("10.1", constant, seed=seed)
        assert not result.passed and result.hint_id == "target_missed", result.reason


def test_10_1_the_verdict_is_the_median_of_five_networks_each_from_its_own_seed():
    trained = []

    def counting(params, *, steps_per_epoch, epochs):
        trained.append(steps_per_epoch * epochs)
        return checks10.reference_make_optimizer(params, steps_per_epoch=steps_per_epoch,
                                                 epochs=epochs)
    states = optimizer_race.train_digits_nets(counting, seed=11, budget=checks10.BUDGET)
    assert len(states) == checks10.NETWORKS == 5 and trained == [169 * 3] * 5
    losses = [checks10.validation_loss(state, seed=11 + k) for k, state in enumerate(states)]
    assert checks10.score_digits_nets(states, seed=11, budget=checks10.BUDGET) == \
        pytest.approx(sorted(losses)[2])


def test_10_1_a_wrong_return_value_is_reported():
    result = run_check("10.1", lambda params, *, steps_per_epoch, epochs: torch.optim.Adam(params))
    assert not result.passed and "(optimizer, scheduler or None)" in result.reason


def test_10_1_the_harness_calls_the_scheduler_after_every_step():
    # torch's own classes only (a recording subclass is refused): the schedule's lambda reads how
    # many steps Adam has taken each time the harness steps the scheduler
    seen = []

    def recorded(params, *, steps_per_epoch, epochs):
        params = list(params)
        optimizer = torch.optim.Adam(params, lr=0.01)

        def factor(t):
            state = optimizer.state.get(params[0], {})
            seen.append(int(state["step"]) if "step" in state else 0)
            return 1.0

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    checks10.train_digits(recorded, seed=0, budget=checks10.BUDGET)
    assert seen == list(range(3 * 169 + 1)) * checks10.NETWORKS  # a fresh optimizer per network


def test_10_1_work_outside_the_budget_is_refused():
    """Issue 21's outcome forgeries, as make check runs them (course-grade: test_grade_guard)."""
    from course_lib.problems.digits import load_digits_split

    def fit(params, x, y, epochs):
        opt = torch.optim.Adam(params, lr=0.01)
        w1, b1, w2, b2 = params
        for _ in range(epochs):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(torch.relu(x @ w1.T + b1) @ w2.T + b2, y).backward()
            opt.step()

    def trains_inside(params, *, steps_per_epoch, epochs):
        params = list(params)
        data = load_digits_split()
        fit(params, data.x_val, data.y_val, 50)
        return torch.optim.SGD(params, lr=0.0), None

    class Copier(torch.optim.SGD):
        def step(self, closure=None):
            pass

    def grad_hook(params, *, steps_per_epoch, epochs):
        params = list(params)
        params[0].register_hook(lambda g: 2 * g)
        return torch.optim.SGD(params, lr=0.1), None

    def instance_step(params, *, steps_per_epoch, epochs):
        optimizer = torch.optim.SGD(params, lr=0.1)
        optimizer.step = lambda closure=None: None
        return optimizer, None

    def prefilled_state(params, *, steps_per_epoch, epochs):
        params = list(params)
        optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
        optimizer.state[params[0]]["momentum_buffer"] = torch.zeros_like(params[0])
        return optimizer, None

    def copies_in_schedule(params, *, steps_per_epoch, epochs):
        params = list(params)
        optimizer = torch.optim.SGD(params, lr=0.0)

        def factor(t):
            if t > 0:
                with torch.no_grad():
                    params[0].mul_(1.0)
            return 1.0
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    for forged, why in [(trains_inside, "changed the network's parameters"),
                        (lambda p, **k: (Copier(p, lr=0.1), None), "torch.optim's own"),
                        (grad_hook, "hooks"), (instance_step, "torch's step"),
                        (prefilled_state, "already stepped"),
                        (copies_in_schedule, "changed the network's parameters")]:
        with pytest.raises((TypeError, ValueError), match=why):
            checks10.train_digits(forged, seed=0, budget=checks10.BUDGET)


# ---- 10.2 ------------------------------------------------------------------------------------


def learner_summed_lr(name, lr, batch_size):
    # the sum is B times the mean: SGD and torch's momentum step grow by B, adaptive steps do not
    return lr / batch_size if name in ("SGD", "SGD+momentum") else lr


def test_10_2_the_derived_rule_passes_on_any_seed():
    for seed in (None, 1, "g"):
        assert run_check("10.2", learner_summed_lr, seed=seed).passed


def test_10_2_at_the_measured_lr_the_summed_path_is_the_mean_path():
    """Independent of the search: torch's own updates at the measured lr, against the mean path."""
    for name, lr, batch in (("SGD+momentum", 0.05, 16), ("Adam", 0.01, 32)):
        measured = checks10.measured_lr_for_summed_loss(name, lr, batch)
        mean_path = checks10._path(name, lr, batch, "mean")
        travelled = (mean_path - checks10._path(name, 0.0, batch, "mean")).norm()
        assert (checks10._path(name, measured, batch, "sum") - mean_path).norm() < 1e-3 * travelled
        assert (checks10._path(name, measured * 1.3, batch, "sum") - mean_path).norm() > 1e-2 * travelled


@pytest.mark.parametrize("wrong, hint", [
    (lambda name, lr, batch_size: lr * batch_size, "times_batch"),
    (lambda name, lr, batch_size: lr, "unchanged_for_all"),
    (lambda name, lr, batch_size: lr / batch_size, "divided_for_all"),
    (lambda name, lr, batch_size: lr / batch_size**0.5, "sqrt_batch"),
])
def test_10_2_each_wrong_rule_gets_its_hint(wrong, hint):
    result = run_check("10.2", wrong)
    assert not result.passed and result.hint_id == hint


def test_10_2_an_unrelated_guess_gets_the_explanation():
    result = run_check("10.2", lambda name, lr, batch_size: 0.01)
    assert result.hint_id == "prediction_off" and "times the measured one" in result.hint



def test_10_2_one_number_is_not_an_answer_for_five_cases():
    result = run_check("10.2", 0.003)
    assert not result.passed and "needs a function of the inputs" in result.reason


def test_10_2_an_answer_that_lies_about_itself_does_not_pass():
    class AlwaysEqual(float):
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    class Close(torch.Tensor):
        def __eq__(self, other):
            return torch.ones_like(self, dtype=torch.bool)

    def lying_float(name, lr, batch_size):
        return AlwaysEqual(lr)

    def lying_tensor(name, lr, batch_size):
        return torch.tensor(lr).as_subclass(Close)

    for liar in (lying_float, lying_tensor):
        result = run_check("10.2", liar)
        assert not result.passed and result.hint_id == "unchanged_for_all", liar


def test_10_2_an_answer_that_patches_the_comparison_is_not_passed(monkeypatch):
    import course_lib.exercises.checks._framework as framework

    def patching(name, lr, batch_size):
        monkeypatch.setattr(framework, "compare", lambda *args, **kwargs: None)
        return lr
    result = run_check("10.2", patching)
    assert not result.passed and result.hint_id == "patched_helpers"


def test_10_3_is_a_written_answer():
    assert REGISTRY["10.3"].kind == "written"


@pytest.mark.parametrize("target", ["checks10._path", "optimizer_race.make_optimizer",
                                    "optimizer_race.make_net"])
def test_10_2_an_answer_that_replaces_what_the_measurement_stands_on_is_caught(monkeypatch, target):
    """Right on its first call, then the measurement's own helpers replaced (by made-up losses):
    the check fails with the patched-helpers hint instead of comparing against fakes."""
    from course_lib.experiments import optimizer_race

    owner = {"checks10": checks10, "optimizer_race": optimizer_race}[target.split(".")[0]]
    attribute = target.split(".")[1]

    def fake(*args, **kwargs):
        raise AssertionError("the check must not run on a replaced helper")

    def patching(name, lr, batch_size):
        monkeypatch.setattr(owner, attribute, fake)
        return lr / batch_size if name in ("SGD", "SGD+momentum") else lr
    result = run_check("10.2", patching, seed=f"fresh cases for {target}")
    assert not result.passed and result.hint_id == "patched_helpers", (result.reason, result.hint)
