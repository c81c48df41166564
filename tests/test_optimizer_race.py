"""Notebook 10's machinery: the bundled digits, the stacked networks and the lr sweep, each
compared with the plain torch loop a learner writes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.experiments import optimizer_race as R
from course_lib.problems import toy_regression as tr
from course_lib.problems.digits import load_digits_split


def test_digits_equal_scikit_learns_loader_and_split_cleanly():
    from sklearn.datasets import load_digits

    d = load_digits_split(seed=3)
    reference = load_digits()
    all_x = torch.cat([d.x_train, d.x_val]) * 16
    assert all_x.shape == (1797, 64) and len(d.x_val) == round(0.25 * 1797)
    rows = {tuple(r) for r in reference.data.astype(np.float32).tolist()}
    assert all(tuple(r) in rows for r in all_x[:50].tolist())
    np.testing.assert_array_equal(np.sort(torch.cat([d.y_train, d.y_val]).numpy()), np.sort(reference.target))
    assert float(d.x_train.max()) == 1.0 and float(d.x_train.min()) == 0.0
    assert not torch.equal(d.x_val, load_digits_split(seed=4).x_val)
    with pytest.raises(ValueError, match="val_fraction"):
        load_digits_split(val_fraction=1.0)


def test_default_lrs_are_torchs():
    assert R.default_lr("SGD") == torch.optim.SGD([torch.zeros(1, requires_grad=True)]).defaults["lr"]
    assert R.default_lr("Adam") == torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults["lr"]
    assert R.default_lr("Adagrad") == 1e-2 and R.default_lr("RMSprop") == 1e-2
    with pytest.raises(ValueError, match="unknown optimizer"):
        R.default_lr("Lion")


def separate_run(name, lr, seed, x, y, *, epochs, batch_size, sizes, task, registry=None):
    """One ordinary nn.Sequential trained by the loop of any tutorial; full-data loss at the end."""
    net = R.make_net(sizes, seed=seed)
    optimizer = R.make_optimizer(name, net.parameters(), lr, registry)
    loss_fn = nn.functional.cross_entropy if task == "classification" else nn.functional.mse_loss
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for first in range(0, len(x), batch_size):
            batch = order[first:first + batch_size]
            optimizer.zero_grad()
            loss_fn(net(x[batch]), y[batch]).backward()
            optimizer.step()
    with torch.no_grad():
        return float(loss_fn(net(x), y))


@pytest.mark.parametrize("name", list(R.OPTIMIZERS))
def test_a_sweep_equals_separate_runs_for_every_optimizer(name):
    d = load_digits_split()
    x, y = d.x_train[:300], d.y_train[:300]
    lrs = [1e-3, 3e-2]
    runs = R.lr_sweep(name, lrs, seeds=(0, 5), x_train=x, y_train=y, epochs=2, batch_size=64)
    for run, lr in zip(runs, lrs):
        for k, seed in enumerate((0, 5)):
            expected = separate_run(name, lr, seed, x, y, epochs=2, batch_size=64, sizes=(64, 32, 10),
                                    task="classification")
            assert run.train_loss[k, -1] == pytest.approx(expected, rel=1e-4)


def test_the_classic_four_regression_equals_separate_runs():
    x, y = tr.make_data()
    for name in R.CLASSIC_FOUR:
        run = R.train_race(name, 0.01, seeds=(2,), x_train=x, y_train=y, epochs=2, batch_size=32,
                           sizes=(1, 20, 1), task="regression", registry=R.CLASSIC_FOUR)
        expected = separate_run(name, 0.01, 2, x, y, epochs=2, batch_size=32, sizes=(1, 20, 1),
                                task="regression", registry=R.CLASSIC_FOUR)
        assert run.train_loss[0, -1] == pytest.approx(expected, rel=1e-4)


def test_records_validation_accuracy_and_when():
    d = load_digits_split()
    run = R.train_race("Adam", None, seeds=(0,), x_train=d.x_train, y_train=d.y_train, x_val=d.x_val,
                       y_val=d.y_val, epochs=2, batch_size=64, eval_every=5)
    assert run.lr == 1e-3 and run.steps == 2 * 22
    assert run.steps_at[0] == 0 and run.steps_at[-1] == 44 and np.all(np.diff(run.steps_at) > 0)
    net = R.make_net(seed=0)  # the initial accuracy is that of the untrained network
    with torch.no_grad():
        accuracy = float((net(d.x_val).argmax(1) == d.y_val).float().mean())
    assert run.val_accuracy[0, 0] == pytest.approx(accuracy)
    assert run.epochs_at[-1] == 2.0


def test_tuned_lr_is_chosen_on_training_loss_and_diverged_runs_count_as_infinite():
    def fake(lr, losses):
        return R.RaceRun("x", lr, (0, 1, 2), np.array(losses)[:, None], None, None, 0.0)
    runs = [fake(0.1, [0.5, 0.6, 0.7]), fake(1.0, [0.1, np.nan, np.nan]), fake(0.01, [0.4, 0.45, 9.0])]
    assert runs[1].final_train_loss.tolist() == [0.1, np.inf, np.inf]
    assert R.tuned_lr(runs) == 0.01


def test_bad_input_is_named():
    d = load_digits_split()
    with pytest.raises(ValueError, match="Invalid learning rate"):
        R.train_race("SGD", -1.0, x_train=d.x_train, y_train=d.y_train)
    with pytest.raises(ValueError, match="task must be"):
        R.lr_sweep("SGD", [0.1], x_train=d.x_train, y_train=d.y_train, task="ranking")


def test_an_init_scheme_is_applied_to_every_seeds_network():
    from course_lib.experiments import signal_propagation as init

    net = R.BatchedMLP.from_seeds((3, 4), sizes=(64, 16, 10), init=("he", 2 ** 0.5))
    for k, seed in enumerate((3, 4)):
        expected = init.initialise(R.make_net((64, 16, 10), seed=seed), "he", 2 ** 0.5, seed=seed)
        assert torch.equal(net.weights[0][k], expected[0].weight.detach().T)
        assert torch.all(net.biases[0][k] == 0)


def test_a_list_of_inits_trains_each_group_as_its_own_sweep():
    d = load_digits_split()
    kw = dict(seeds=(0, 1), x_train=d.x_train[:256], y_train=d.y_train[:256], epochs=1, sizes=(64, 16, 10))
    both = R.lr_sweep("Adam", [0.01, 0.01], init=[None, ("he", 2 ** 0.5)], **kw)
    alone = [R.lr_sweep("Adam", [0.01], **kw)[0], R.lr_sweep("Adam", [0.01], init=("he", 2 ** 0.5), **kw)[0]]
    for joint, single in zip(both, alone):
        np.testing.assert_allclose(joint.train_loss, single.train_loss, rtol=1e-5)
    with pytest.raises(ValueError, match="one scheme per lr"):
        R.lr_sweep("Adam", [0.01], init=[None, None], **kw)
