"""The toy regression task of notebook 02, checked against plain torch code and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import BatchSampler, SubsetRandomSampler

from course_lib.problems import toy_regression as tr


def test_make_data_is_the_noisy_parabola_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    x, y = tr.make_data(n=1000, noise=0.1, seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert x.shape == y.shape == (1000, 1) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    residual = y - x**2
    assert residual.std().item() == pytest.approx(0.1, rel=0.1)  # 1000 draws: ~2% spread
    assert abs(residual.mean().item()) < 4 * 0.1 / math.sqrt(1000)
    x2, y2 = tr.make_data(seed=0)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, tr.make_data(seed=1)[0])
    assert torch.equal(tr.make_data(noise=0.0)[1], x**2)


def test_make_mlp_is_1_hidden_1_tanh_seeded():
    state = torch.random.get_rng_state()
    model = tr.make_mlp(hidden=20, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert [type(m) for m in model] == [nn.Linear, nn.Tanh, nn.Linear]
    assert model[0].weight.shape == (20, 1) and model[2].weight.shape == (1, 20)
    assert sum(p.numel() for p in model.parameters()) == 61
    again = tr.make_mlp(hidden=20, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    assert not torch.equal(model[0].weight, tr.make_mlp(seed=4)[0].weight)


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (8, 8, False),
                                                      (5, 1, False), (12, 4, True)])
def test_minibatch_indices_visits_every_sample_once_per_epoch(n, batch_size, drop_last):
    batches = list(tr.minibatch_indices(n, batch_size, epochs=3, seed=0, drop_last=drop_last))
    per_epoch = tr.updates_per_epoch(n, batch_size, drop_last=drop_last)
    assert len(batches) == 3 * per_epoch
    for epoch in range(3):
        chunk = batches[epoch * per_epoch:(epoch + 1) * per_epoch]
        flat = torch.cat(chunk).tolist()
        if drop_last:
            assert all(len(b) == batch_size for b in chunk)
            assert len(set(flat)) == len(flat) == (n // batch_size) * batch_size
        else:
            assert sorted(flat) == list(range(n))


def test_minibatch_indices_new_order_each_epoch_and_seeded():
    first = [b.tolist() for b in tr.minibatch_indices(20, 20, epochs=2, seed=1)]
    assert first[0] != first[1]
    assert first == [b.tolist() for b in tr.minibatch_indices(20, 20, epochs=2, seed=1)]
    assert first != [b.tolist() for b in tr.minibatch_indices(20, 20, epochs=2, seed=2)]


def test_updates_per_epoch():
    assert tr.updates_per_epoch(1000, 32) == 32 and tr.updates_per_epoch(1000, 32, drop_last=True) == 31
    assert tr.updates_per_epoch(1000, 1) == 1000 and tr.updates_per_epoch(1000, 1000) == 1


def plain_torch_training(batch_size, lr, updates, seed, eval_every):
    """The textbook loop: torch's samplers, torch.optim.SGD, autograd; losses at the same updates."""
    x, y = tr.make_data()
    model = tr.make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, foreach=False)
    sampler = BatchSampler(SubsetRandomSampler(range(len(x)), generator=torch.Generator().manual_seed(seed)),
                           batch_size, drop_last=False)
    losses, seen, done = [nn.functional.mse_loss(model(x), y).item()], [0], 0
    samples = 0
    while done < updates:
        for batch in sampler:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x[batch]), y[batch]).backward()
            optimizer.step()
            done += 1
            samples += len(batch)
            if done % eval_every == 0 or done == updates:
                with torch.no_grad():
                    losses.append(nn.functional.mse_loss(model(x), y).item())
                seen.append(samples)
            if done == updates:
                break
    return np.array(losses), np.array(seen)


@pytest.mark.parametrize("batch_size", [1, 7, 32, 1000])
def test_train_equals_a_plain_torch_loop(batch_size):
    x, y = tr.make_data()
    run = tr.train(tr.make_mlp(), x, y, batch_size=batch_size, lr=0.1, updates=90, eval_every=20,
                   seed=5, optimizer_cls=torch.optim.SGD)
    expected_losses, expected_samples = plain_torch_training(batch_size, 0.1, 90, 5, 20)
    np.testing.assert_allclose(run.losses, expected_losses, rtol=1e-6)
    np.testing.assert_array_equal(run.samples_seen, expected_samples)
    np.testing.assert_array_equal(run.updates, [0, 20, 40, 60, 80, 90])
    np.testing.assert_allclose(run.epochs, expected_samples / 1000)
    assert run.label == f"B = {batch_size}" and run.diverged_at is None


def test_course_sgd_gives_the_same_run_as_torch_sgd():
    x, y = tr.make_data()
    ours = tr.train(tr.make_mlp(), x, y, batch_size=10, lr=0.1, updates=50, eval_every=10)
    torchs = tr.train(tr.make_mlp(), x, y, batch_size=10, lr=0.1, updates=50, eval_every=10,
                      optimizer_cls=torch.optim.SGD)
    np.testing.assert_allclose(ours.losses, torchs.losses, rtol=1e-6)


def test_train_epoch_budget_counts_partial_batches():
    x, y = tr.make_data(n=100)
    run = tr.train(tr.make_mlp(), x, y, batch_size=30, lr=0.05, epochs=2, eval_every=1)
    assert run.updates[-1] == 2 * 4  # 30 + 30 + 30 + 10 per epoch
    assert run.samples_seen[-1] == 200 and run.epochs[-1] == 2.0
    assert list(run.samples_seen[1:5]) == [30, 60, 90, 100]


def test_train_stops_at_the_target_loss_and_reports_divergence():
    x, y = tr.make_data()
    run = tr.train(tr.make_mlp(), x, y, batch_size=50, lr=0.1, epochs=20, target_loss=0.05)
    assert run.losses[-1] <= 0.05 and (run.losses[:-1] > 0.05).all()
    blown = tr.train(tr.make_mlp(), x, y, batch_size=1, lr=1.0, updates=500, eval_every=5)
    assert blown.diverged_at is not None and blown.message == f"diverged at update {blown.diverged_at}"
    assert blown.updates[-1] == blown.diverged_at < 500
    assert not blown.losses[-1] <= tr.DIVERGENCE_FACTOR * blown.losses[0]


def test_updates_to_reach_is_the_first_update_at_or_below_the_target():
    x, y = tr.make_data(n=200)
    model = tr.make_mlp()
    run = tr.train(tr.make_mlp(), x, y, batch_size=20, lr=0.1, epochs=10, eval_every=1)
    target = float(np.median(run.losses))
    expected = int(run.updates[np.flatnonzero(run.losses <= target)[0]])
    assert tr.updates_to_reach(model, x, y, batch_size=20, lr=0.1, target_loss=target,
                               max_epochs=10) == expected
    assert tr.updates_to_reach(tr.make_mlp(), x, y, batch_size=20, lr=0.1, target_loss=1e3,
                               max_epochs=1) == 0
    assert tr.updates_to_reach(tr.make_mlp(), x, y, batch_size=20, lr=0.1, target_loss=1e-6,
                               max_epochs=1) is None


def test_per_sample_gradients_equal_one_backward_per_sample():
    x, y = tr.make_data(n=12)
    model = tr.make_mlp()
    grads = tr.per_sample_gradients(model, x, y)
    assert grads.shape == (12, 61)
    for i in range(12):
        model.zero_grad()
        ((model(x[i:i + 1]) - y[i:i + 1]) ** 2).mean().backward()
        expected = torch.cat([p.grad.flatten() for p in model.parameters()])
        torch.testing.assert_close(grads[i], expected)
    model.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    torch.testing.assert_close(grads.mean(0), torch.cat([p.grad.flatten() for p in model.parameters()]))


def test_variance_is_zero_at_full_batch_and_falls_as_one_over_b_with_replacement():
    grads = torch.randn(30, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert float(tr.minibatch_gradient_variance(grads, 30)) == 0.0
    sigma2 = float(((grads - grads.mean(0)) ** 2).sum(1).mean())
    for b in (1, 3, 10, 30, 100):
        assert float(tr.minibatch_gradient_variance(grads, b, replacement=True)) == pytest.approx(sigma2 / b)
    # Without replacement: (N-B)/(N-1) times that
    assert float(tr.minibatch_gradient_variance(grads, 10)) == pytest.approx(sigma2 / 10 * 20 / 29)


@pytest.mark.parametrize("call, message", [
    (lambda: tr.make_data(n=0), "n must be a positive integer"),
    (lambda: tr.make_data(noise=-1.0), "noise must be"),
    (lambda: tr.make_mlp(hidden=2.5), "hidden must be a positive integer"),
    (lambda: list(tr.minibatch_indices(10, 0)), "batch_size must be a positive integer"),
    (lambda: tr.train(tr.make_mlp(), *tr.make_data(n=10), batch_size=20, lr=0.1, epochs=1),
     "batch_size must be at most"),
    (lambda: tr.train(tr.make_mlp(), *tr.make_data(n=10), batch_size=2, lr=-0.1, epochs=1),
     "Invalid learning rate: -0.1"),
    (lambda: tr.train(tr.make_mlp(), *tr.make_data(n=10), batch_size=2, lr=0.1),
     "exactly one budget"),
    (lambda: tr.train(tr.make_mlp(), *tr.make_data(n=10), batch_size=2, lr=0.1, epochs=1, updates=3),
     "exactly one budget"),
    (lambda: tr.train(tr.make_mlp(), *tr.make_data(n=10), batch_size=2, lr=0.1, epochs=1, eval_every="lin"),
     'eval_every must be a positive integer or "log"'),
    (lambda: tr.minibatch_gradient_variance(torch.ones(5), 2), "shape (N, P)"),
    (lambda: tr.per_sample_gradients(nn.Linear(1, 1), *tr.make_data(n=3)), "needs an nn.Sequential"),
    (lambda: tr.per_sample_gradients(nn.Sequential(nn.Linear(1, 2), nn.LayerNorm(2)), *tr.make_data(n=3)),
     "LayerNorm with parameters"),
    (lambda: tr.minibatch_gradient_variance(torch.ones(5, 2), 6), "at most N=5"),
])
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


# -- train_learning_rates: every learning rate at once, equal to separate train calls ---------

GRID_LRS = (0.01, 10**-1.5, 0.1, 10**-0.2, 1.0)  # slow, medium, the default, diverging ones


@pytest.mark.parametrize("batch_size", [1, 7, 100, 1000])
def test_train_learning_rates_equals_separate_train_runs(batch_size):
    x, y = tr.make_data()
    model = tr.make_mlp()
    before = [p.detach().clone() for p in model.parameters()]
    stacked = tr.train_learning_rates(model, x, y, batch_size=batch_size, lrs=GRID_LRS,
                                      updates=300, eval_every="log")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # not trained in place
    assert len(stacked) == len(GRID_LRS)
    diverged = 0
    for lr, run in zip(GRID_LRS, stacked):
        alone = tr.train(tr.make_mlp(), x, y, batch_size=batch_size, lr=lr, updates=300,
                         eval_every="log")
        assert run.lr == lr and run.batch_size == batch_size and run.label == alone.label
        assert run.diverged_at == alone.diverged_at, f"lr {lr}"
        np.testing.assert_array_equal(run.updates, alone.updates)
        np.testing.assert_array_equal(run.samples_seen, alone.samples_seen)
        np.testing.assert_array_equal(run.epochs, alone.epochs)
        finite = np.isfinite(alone.losses) & (alone.losses < 1e3)  # a blow-up's last loss: inf or huge
        np.testing.assert_allclose(run.losses[finite], alone.losses[finite], rtol=2e-4,
                                   err_msg=f"lr {lr}")
        diverged += alone.diverged_at is not None
    assert 0 < diverged < len(GRID_LRS)  # both kinds of run are compared


def test_train_learning_rates_gives_each_copy_its_own_step():
    # Swapping the order of the learning rates swaps the runs: no copy uses another's lr.
    x, y = tr.make_data(n=200)
    forward = tr.train_learning_rates(tr.make_mlp(), x, y, batch_size=20, lrs=[0.02, 0.1],
                                      updates=50, eval_every=5)
    backward = tr.train_learning_rates(tr.make_mlp(), x, y, batch_size=20, lrs=[0.1, 0.02],
                                       updates=50, eval_every=5)
    np.testing.assert_allclose(forward[0].losses, backward[1].losses, rtol=1e-6)
    np.testing.assert_allclose(forward[1].losses, backward[0].losses, rtol=1e-6)
    assert not np.allclose(forward[0].losses, forward[1].losses)


@pytest.mark.parametrize("call, message", [
    (lambda x, y: tr.train_learning_rates(tr.make_mlp(), x, y, batch_size=10, lrs=[], updates=5),
     "at least one learning rate"),
    (lambda x, y: tr.train_learning_rates(tr.make_mlp(), x, y, batch_size=10, lrs=[0.1, -1.0],
                                          updates=5), "Invalid learning rate"),
    (lambda x, y: tr.train_learning_rates(nn.Sequential(nn.Linear(1, 5), nn.ReLU(), nn.Linear(5, 1)),
                                          x, y, batch_size=10, lrs=[0.1], updates=5), "tanh MLP"),
    (lambda x, y: tr.train_learning_rates(tr.make_mlp(), x, y, batch_size=10, lrs=[0.1]),
     "exactly one budget"),
    (lambda x, y: tr.train_learning_rates(tr.make_mlp(), x, y, batch_size=500, lrs=[0.1], updates=5),
     "at most the number of samples"),
])
def test_train_learning_rates_bad_input(call, message):
    x, y = tr.make_data(n=100)
    with pytest.raises(ValueError, match=message):
        call(x, y)
