"""The schedule explorer of notebook 09, through panel.update: lr curves equal torch's schedulers
built independently here, the loss curve equals a plain torch loop, and each "Things to try"
promise holds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.problems import toy_regression as tr
from course_lib.ui.panels import lr_schedules as panel_module
from course_lib.ui.panels.lr_schedules import STEPS, schedule_panel, schedule_settings


@pytest.fixture(scope="module")
def panel():
    return schedule_panel()


def torch_schedule(name, s, optimizer):
    sched = torch.optim.lr_scheduler
    if name == "constant":
        return sched.LambdaLR(optimizer, lambda t: 1.0)
    if name == "step":
        return sched.StepLR(optimizer, s["step_size"], s["gamma"])
    if name == "exponential":
        return sched.ExponentialLR(optimizer, s["gamma"])
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, s["T_max"], s["eta_min"])
    if name == "warmup_cosine":
        return sched.SequentialLR(optimizer, [sched.LinearLR(optimizer, s["start_factor"], total_iters=s["warmup_steps"]),
                                              sched.CosineAnnealingLR(optimizer, s["total_steps"] - s["warmup_steps"], s["eta_min"])],
                                  milestones=[s["warmup_steps"]])
    if name == "one_cycle":
        return sched.OneCycleLR(optimizer, s["max_lr"], total_steps=s["total_steps"], pct_start=s["pct_start"],
                               cycle_momentum=False)  # the panel keeps β = 0.9 fixed
    if name == "cyclic":
        return sched.CyclicLR(optimizer, s["base_lr"], s["max_lr"], s["step_size_up"], s["step_size_down"],
                              cycle_momentum=False)
    raise AssertionError(name)


def textbook_run(name, settings, steps=STEPS, seed=0):
    """Train with torch's own scheduler the way a tutorial does; return the lrs and final loss."""
    x, y = tr.make_data(seed=seed)
    model = tr.make_mlp(seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings["base_lr"], momentum=0.9)
    scheduler = torch_schedule(name, settings, optimizer)
    lrs = []
    batches = tr.minibatch_indices(1000, 32, epochs=20, seed=seed, drop_last=True)
    for _, batch in zip(range(steps), batches):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x[batch]), y[batch]).backward()
        optimizer.step()
        scheduler.step()
    return np.array(lrs), tr.full_data_loss(model, x, y)


@pytest.mark.parametrize("name", panel_module.SCHEDULE_CHOICES)
def test_lr_curve_and_torch_dots_equal_an_independent_torch_scheduler(panel, name):
    panel.update(schedule=name, lr=0.1, final_fraction=0.05, warmup_fraction=0.2)
    settings = schedule_settings(name, lr=0.1, final_fraction=0.05, warmup_fraction=0.2)
    expected, final_loss = textbook_run(name, settings)
    steps, ours = panel.figure.ours_line.get_data()
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)
    dot_steps, dots = panel.figure.torch_dots.get_data()
    np.testing.assert_allclose(dots, expected[np.asarray(dot_steps, dtype=int)], rtol=1e-12, atol=1e-15)
    assert panel.figure.scheduled_line.get_data()[1][-1] == pytest.approx(final_loss, rel=1e-4)
    assert "largest |course_lib − torch| = " in panel.caption_artist.get_text()


def _final(panel, **values):
    ours, theirs, scheduled, constant = panel.update(**values)
    return scheduled, constant


# The "Things to try" claims are counted over seeds 0-9 in tests/test_claims_09_lr_schedules.py,
# with the seed-stacked trainer that the test below proves equal to the panel's.


def test_panel_shows_divergence_on_seed_0_at_peak_lr_0_4(panel):
    scheduled, constant = _final(panel, schedule="cosine", lr=0.4, final_fraction=0.01, warmup_fraction=0.1)
    assert panel_module.diverged(scheduled) and panel_module.diverged(constant)
    assert "diverged" in panel.figure.diverged_text.get_text()


def test_the_seed_stacked_trainer_equals_one_seed_at_a_time():
    from course_lib.experiments import schedule_training as ls
    rows = [_lrs(*setting) for setting in FAST_PATH_SETTINGS[:3]] + [np.full(STEPS, 0.4)]
    stacked = ls.train_schedules_over_seeds(rows, [0, 4, 7], eval_every=10)
    for seed, runs in zip([0, 4, 7], stacked):
        for run, alone in zip(runs, ls.train_many_schedules_sgd(rows, momentum=0.9, seed=seed, eval_every=10)):
            np.testing.assert_array_equal(run.updates, alone.updates)
            np.testing.assert_allclose(run.losses, alone.losses, rtol=1e-9)
    with pytest.raises(ValueError, match="seed"):
        ls.train_schedules_over_seeds(rows, [])


def test_bad_values_are_reported_not_raised(panel):
    assert panel.update(final_fraction=0.0) == []
    assert "final_fraction" in panel.error
    panel.update(final_fraction=0.01)
    assert panel.error == ""
    with pytest.raises(ValueError, match="unknown schedule"):
        schedule_settings("triangle", lr=0.1, final_fraction=0.1, warmup_fraction=0.1)


# The panel trains through the stacked, autograd-free fast path; it must be the same training as
# the straightforward torch loop (train_with_schedule: torch.optim.SGD, autograd, float32).
FAST_PATH_SETTINGS = [
    ("warmup_cosine", 0.2, 0.01, 0.1),
    ("cosine", 0.1, 0.01, 0.3),
    ("step", 0.05, 0.05, 0.2),
    ("one_cycle", 0.4, 0.01, 0.3),
    ("cyclic", 0.3, 0.1, 0.4),
    ("constant", 0.02, 0.5, 0.2),
]


def _lrs(name, lr, f, w):
    return panel_module.schedule_lrs(name, schedule_settings(name, lr=lr, final_fraction=f, warmup_fraction=w))[0]


@pytest.mark.parametrize("seed", [0, 3])
def test_fast_path_equals_the_torch_training_loop_for_several_schedules_at_once(seed):
    from course_lib.experiments import schedule_training as ls
    rows = [_lrs(*setting) for setting in FAST_PATH_SETTINGS]
    rows_before = [row.copy() for row in rows]
    fast = ls.train_many_schedules_sgd(rows, momentum=0.9, batch_size=32, seed=seed, eval_every=10,
                                       labels=[s[0] for s in FAST_PATH_SETTINGS])
    for row, before in zip(rows, rows_before):
        np.testing.assert_array_equal(row, before)          # the caller's lrs are not touched
    for setting, row, run in zip(FAST_PATH_SETTINGS, rows, fast):
        reference = ls.train_with_schedule(row, momentum=0.9, batch_size=32, seed=seed, eval_every=10)
        assert run.label == setting[0]
        np.testing.assert_array_equal(run.updates, reference.updates)
        np.testing.assert_allclose(run.losses, reference.losses, rtol=1e-4)   # float64 vs torch's float32
        assert not panel_module.diverged(run)


def test_fast_path_stops_a_diverging_run_where_the_torch_loop_does_and_leaves_the_others_alone():
    from course_lib.experiments import schedule_training as ls
    diverging, calm = np.full(STEPS, 1.0), _lrs("cosine", 0.1, 0.01, 0.1)
    fast_diverging, fast_calm = ls.train_many_schedules_sgd([diverging, calm], momentum=0.9, eval_every=10)
    reference = ls.train_with_schedule(diverging, momentum=0.9, eval_every=10)
    np.testing.assert_array_equal(fast_diverging.updates, reference.updates)
    assert panel_module.diverged(fast_diverging) and panel_module.diverged(reference)
    alone, = ls.train_many_schedules_sgd([calm], momentum=0.9, eval_every=10)
    np.testing.assert_allclose(fast_calm.losses, alone.losses, rtol=1e-12)


def test_fast_path_momentum_and_eval_every_are_honoured():
    from course_lib.experiments import schedule_training as ls
    row = _lrs("warmup_cosine", 0.1, 0.01, 0.1)[:100]
    for momentum, every in [(0.0, 7), (0.5, 25)]:
        fast, = ls.train_many_schedules_sgd([row], momentum=momentum, eval_every=every)
        reference = ls.train_with_schedule(row, momentum=momentum, eval_every=every)
        np.testing.assert_array_equal(fast.updates, reference.updates)
        np.testing.assert_allclose(fast.losses, reference.losses, rtol=1e-4)


def test_fast_path_rejects_bad_lr_rows():
    from course_lib.experiments import schedule_training as ls
    with pytest.raises(ValueError, match="same length"):
        ls.train_many_schedules_sgd([np.full(10, 0.1), np.full(11, 0.1)])
    with pytest.raises(ValueError, match=">= 0"):
        ls.train_many_schedules_sgd([np.full(10, -0.1)])
    with pytest.raises(ValueError, match="labels"):
        ls.train_many_schedules_sgd([np.full(10, 0.1)], labels=["a", "b"])


def test_panel_moves_equal_the_torch_loop_also_when_runs_come_from_its_cache(panel):
    from course_lib.experiments import schedule_training as ls
    for name, lr, f, w in [("cosine", 0.1, 0.01, 0.1), ("step", 0.1, 0.05, 0.2), ("cosine", 0.1, 0.01, 0.1)]:
        scheduled, constant = _final(panel, schedule=name, lr=lr, final_fraction=f, warmup_fraction=w)
        reference = ls.train_with_schedule(_lrs(name, lr, f, w), momentum=0.9, eval_every=10)
        np.testing.assert_allclose(scheduled.losses, reference.losses, rtol=1e-4)
        assert scheduled.label == name and constant.label == "constant lr"
        reference = ls.train_with_schedule(np.full(STEPS, lr), momentum=0.9, eval_every=10)
        np.testing.assert_allclose(constant.losses, reference.losses, rtol=1e-4)
