"""course_lib.theory.schedules against torch.optim.lr_scheduler, step by step, on drawn settings."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from course_lib.experiments import schedule_training as ls
from course_lib.theory import schedules as S


def _settings(name, rng: random.Random, steps: int):
    if name == "step":
        return dict(step_size=rng.randint(1, 20), gamma=rng.uniform(0.1, 0.9))
    if name == "multistep":
        return dict(milestones=sorted(rng.sample(range(1, steps), 3)), gamma=rng.uniform(0.1, 0.9))
    if name == "exponential":
        return dict(gamma=rng.uniform(0.9, 0.999))
    if name == "cosine":
        return dict(T_max=steps - 1, eta_min=rng.uniform(0, 1e-3))
    if name == "warmup_cosine":
        return dict(warmup_steps=rng.randint(1, steps // 2), total_steps=steps - 1,
                    start_factor=rng.uniform(0.01, 0.5), eta_min=rng.uniform(0, 1e-3))
    if name == "one_cycle":
        return dict(max_lr=rng.uniform(0.1, 1.0), total_steps=steps, pct_start=rng.uniform(0.1, 0.5),
                    div_factor=rng.uniform(5, 30), final_div_factor=rng.uniform(10, 1e4))
    if name == "cyclic":
        return dict(max_lr=rng.uniform(0.2, 1.0), step_size_up=rng.randint(2, 20),
                    step_size_down=rng.randint(2, 20))
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(S.SCHEDULES))
@pytest.mark.parametrize("seed", range(4))
def test_closed_form_equals_torch_scheduler(name, seed):
    rng = random.Random(f"{name}{seed}")
    steps = rng.randint(30, 120)
    settings = _settings(name, rng, steps)
    base_lr = rng.uniform(0.01, 0.2)
    ours = ls.closed_form_lrs(name, steps, base_lr=base_lr, **settings)
    theirs = ls.torch_lrs(name, steps, base_lr=base_lr, **settings)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_warmup_then_cosine_as_lambda_lr_equals_sequential_lr():
    base_lr, warmup, total, start, eta_min = 0.3, 7, 50, 0.05, 0.003
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: S.warmup_cosine_factor(
        t, warmup_steps=warmup, total_steps=total, start_factor=start, min_factor=eta_min / base_lr))
    by_lambda = [optimizer.param_groups[0]["lr"]]
    for _ in range(total):
        optimizer.step()
        scheduler.step()
        by_lambda.append(optimizer.param_groups[0]["lr"])
    sequential = ls.torch_lrs("warmup_cosine", total + 1, base_lr=base_lr, warmup_steps=warmup,
                              total_steps=total, start_factor=start, eta_min=eta_min)
    np.testing.assert_allclose(by_lambda, sequential, rtol=1e-12)
    assert by_lambda[warmup] == pytest.approx(base_lr) and by_lambda[-1] == pytest.approx(eta_min)


@pytest.mark.parametrize("seed", range(6))
def test_plateau_replays_reduce_lr_on_plateau(seed):
    rng = random.Random(seed)
    metrics = [1.0]
    for _ in range(80):  # falls, then stalls and wobbles: several reductions
        metrics.append(metrics[-1] * rng.choice([0.9, 1.0, 1.0, 1.01, 0.99999]))
    kw = dict(factor=rng.choice([0.1, 0.5]), patience=rng.randint(0, 5), threshold=rng.choice([1e-4, 1e-2]),
              cooldown=rng.randint(0, 3), min_lr=rng.choice([0.0, 1e-3]))
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kw)
    theirs = []
    for metric in metrics:
        scheduler.step(metric)
        theirs.append(optimizer.param_groups[0]["lr"])
    ours = S.plateau_lrs(metrics, base_lr=0.1, **kw)
    assert ours == pytest.approx(theirs, rel=1e-12)
    assert len(set(theirs)) > 1, "the drawn metrics should trigger at least one reduction"


@pytest.mark.parametrize("call, message", [
    (lambda: S.step_lr(-1, base_lr=0.1, step_size=3), "t must be an integer"),
    (lambda: S.step_lr(2, base_lr=0.1, step_size=0), "step_size"),
    (lambda: S.cosine_lr(11, base_lr=0.1, T_max=10), "0 <= t <= T_max"),
    (lambda: S.warmup_cosine_factor(1, warmup_steps=10, total_steps=10, start_factor=0.1), "warmup_steps < total_steps"),
    (lambda: S.one_cycle_lr(10, max_lr=1.0, total_steps=10), "t < total_steps"),
    (lambda: S.plateau_lrs([1.0], base_lr=0.1, factor=1.5), "factor"),
    (lambda: ls.torch_scheduler("triangle", torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)), "unknown schedule"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def textbook_range_test(model, batches, lr_min, lr_max):
    """The loop a learner writes from the description, with no early stop."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr_min)
    lrs = np.geomspace(lr_min, lr_max, len(batches))
    losses = []
    for lr, (x, y) in zip(lrs, batches):
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return list(lrs), losses


def test_range_test_equals_the_textbook_loop_until_it_stops():
    from course_lib.problems import toy_regression as tr
    batches = ls.toy_batches(steps=80, batch_size=32, seed=3)
    lrs, losses = ls.lr_range_test(tr.make_mlp(seed=3), batches, lr_min=1e-3, lr_max=30.0)
    ref_lrs, ref_losses = textbook_range_test(tr.make_mlp(seed=3), batches, 1e-3, 30.0)
    k = len(lrs)
    assert 10 < k < 80, "lr_max = 30 must end the test early"
    np.testing.assert_allclose(lrs, ref_lrs[:k], rtol=1e-12)
    np.testing.assert_allclose(losses, ref_losses[:k], rtol=1e-5)
    assert losses[-1] > 4 * min(losses) or not math.isfinite(losses[-1])
    assert all(loss <= 4 * min(losses[:i + 1]) for i, loss in enumerate(losses[:-1]))


def test_suggest_lr_smooths_and_takes_a_tenth_of_the_minimum():
    lrs = np.geomspace(1e-4, 1, 50)
    losses = (np.log10(lrs) + 1.5) ** 2 + 1.0  # minimum at lr = 10**-1.5
    picked = ls.suggest_lr(lrs, losses, smoothing=0.0)
    assert picked.lr_at_min == pytest.approx(lrs[np.argmin(losses)])
    assert picked.suggested == pytest.approx(picked.lr_at_min / 10)
    smoothed = ls.suggest_lr(lrs, losses, smoothing=0.8).smoothed
    ema, expected = 0.0, []
    for k, loss in enumerate(losses, start=1):
        ema = 0.8 * ema + 0.2 * loss
        expected.append(ema / (1 - 0.8**k))
    np.testing.assert_allclose(smoothed, expected)


def test_training_with_a_list_of_lrs_equals_a_torch_scheduler_loop():
    from torch import nn
    from course_lib.problems import toy_regression as tr
    steps, base_lr = 60, 0.1
    lrs = ls.closed_form_lrs("cosine", steps, base_lr=base_lr, T_max=steps)
    run = ls.train_with_schedule(lrs, momentum=0.9, batch_size=32, seed=1, eval_every=steps)
    x, y = tr.make_data(seed=1)
    model = tr.make_mlp(seed=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=base_lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    for _, batch in zip(range(steps), tr.minibatch_indices(1000, 32, epochs=3, seed=1, drop_last=True)):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x[batch]), y[batch]).backward()
        optimizer.step()
        scheduler.step()
    assert run.losses[-1] == pytest.approx(tr.full_data_loss(model, x, y), rel=1e-5)
