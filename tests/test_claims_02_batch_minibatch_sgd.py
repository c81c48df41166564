"""Notebook 02's claims about behaviour, over the data and network seeds 0-5.

The panel of section 7 trains ``make_mlp(seed=s)`` on ``make_data(seed=s)`` with batches from
``minibatch_indices(..., seed=s)`` (``batch_size_panel(seed=s)``); these tests run the same
training (``tr.train_lr_grid``, the panel's own unit of work) on every seed and assert what
the "Things to try" and section 8b say, with the seed counts the text quotes. The closed forms
(sharpness by autograd, the 1-D fit's limits, the noise cloud's variance) are compared with
measurements, never with numbers copied from a run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.optim import SGD
from course_lib.problems import toy_regression as tr
from course_lib.problems.landscapes import quadratic
from course_lib.ui.panels.batch_minibatch_sgd import lr_grid

SEEDS = range(6)
GRID = lr_grid()


def notch(value: float) -> float:
    """The slider's learning rate nearest to ``value``."""
    return min(GRID, key=lambda lr: abs(math.log(lr / value)))


SINGLE_LRS = [notch(v) for v in (0.05, 0.1, 0.158, 0.178, 0.2, 0.224, 0.251)]
FULL_LRS = [notch(v) for v in (0.1, 0.251, 0.282, 0.316, 0.355, 0.398, 0.447)]


@pytest.fixture(scope="module")
def panel_runs():
    """{seed: {batch_size: {lr: TrainingRun}}}, as the panel trains them (1000 updates)."""
    runs = {}
    for seed in SEEDS:
        x, y = tr.make_data(seed=seed)
        by_batch = {}
        for batch_size, lrs in [(1, SINGLE_LRS), (1000, FULL_LRS), (100, [0.1]), (10, [0.1])]:
            grid = tr.train_lr_grid(x, y, batch_size=batch_size, lrs=lrs, updates=1000, seed=seed)
            by_batch[batch_size] = {run.lr: run for run in grid}
        runs[seed] = by_batch
    return runs


def first_divergence(by_lr) -> float:
    return min(lr for lr, run in by_lr.items() if run.diverged_at is not None)


def test_things_to_try_single_sample_diverges_first_on_every_seed(panel_runs):
    single = [first_divergence(panel_runs[s][1]) for s in SEEDS]
    full = [first_divergence(panel_runs[s][1000]) for s in SEEDS]
    assert all(b1 < bn for b1, bn in zip(single, full))
    # the ranges the text quotes: B = 1 first diverges between 0.16 and 0.22, the full batch
    # between 0.28 and 0.40 (slider notches 0.158 ... 0.224 and 0.282 ... 0.398)
    assert min(single) == pytest.approx(0.158, abs=0.001) and max(single) == pytest.approx(0.224, abs=0.001)
    assert min(full) == pytest.approx(0.282, abs=0.001) and max(full) == pytest.approx(0.398, abs=0.001)
    # seed 0, the panel's default: B = 1 converges at 0.158 and diverges at 0.178; the full
    # batch converges at 0.251 and diverges at 0.282
    assert single[0] == pytest.approx(0.178, abs=0.001) and full[0] == pytest.approx(0.282, abs=0.001)


def test_single_sample_survives_the_initial_full_batch_limit_on_five_of_six_seeds(panel_runs):
    survives = [panel_runs[s][1][notch(0.158)].diverged_at is None for s in SEEDS]
    assert sum(survives) == 5


def test_full_batch_runs_above_its_initial_limit(panel_runs):
    """2/L at the start is 0.16-0.22 over the seeds, yet the full batch converges at 0.251."""
    limits = []
    for seed in SEEDS:
        x, y = tr.make_data(seed=seed)
        limits.append(2 / tr.sharpness(tr.make_mlp(seed=seed), x, y))
        run = panel_runs[seed][1000][notch(0.251)]
        assert run.diverged_at is None and run.losses[-1] < run.losses[0]
    assert 0.15 < min(limits) < 0.16 and 0.21 < max(limits) < 0.22
    assert all(limit < 0.251 for limit in limits)


def test_things_to_try_smaller_step_ends_closer_to_the_noise_floor(panel_runs):
    closer = [panel_runs[s][1][notch(0.05)].losses[-1] < panel_runs[s][1][notch(0.1)].losses[-1]
              for s in SEEDS]
    assert closer[0] and sum(closer) == 5


def test_things_to_try_batch_sizes_per_update_and_per_sample(panel_runs):
    def samples_to(run, loss):
        return run.samples_seen[np.flatnonzero(run.losses <= loss)[0]]

    for seed in SEEDS:
        full = panel_runs[seed][1000][0.1]
        b100, b10, b1 = (panel_runs[seed][b][notch(0.1)] for b in (100, 10, 1))
        assert b100.losses[-1] < 1.1 * full.losses[-1]
        assert b1.losses[-1] > 1.5 * full.losses[-1]
        assert samples_to(full, 0.05) > samples_to(b100, 0.05) > samples_to(b10, 0.05) > samples_to(b1, 0.05)


def test_sharpness_matches_autograd():
    for seed in SEEDS:
        x, y = tr.make_data(seed=seed)
        model = tr.make_mlp(seed=seed)
        params = [p.detach().double() for p in model.parameters()]
        sizes = [p.numel() for p in params]
        xd, yd = x.double(), y.double()

        def loss(theta):
            w1, b1, w2, b2 = torch.split(theta, sizes)
            hidden = torch.tanh(xd @ w1.view(-1, 1).T + b1)
            return ((hidden @ w2.view(1, -1).T + b2 - yd) ** 2).mean()

        exact = torch.autograd.functional.hessian(loss, torch.cat([p.reshape(-1) for p in params]))
        torch.testing.assert_close(tr.full_data_hessian(model, x, y), exact, rtol=1e-10, atol=1e-12)


def _full_batch_catapult(lr, seed, updates=100):
    x, y = tr.make_data(seed=seed)
    model = tr.make_mlp(seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses, sharpness = [tr.full_data_loss(model, x, y)], [tr.sharpness(model, x, y)]
    for _ in range(updates):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        losses.append(tr.full_data_loss(model, x, y))
        sharpness.append(tr.sharpness(model, x, y))
    return np.array(losses), np.array(sharpness)


@pytest.fixture(scope="module")
def catapults():
    """Full-batch GD at η = 0.25 on every seed: (losses, sharpness) over 100 updates."""
    return {seed: _full_batch_catapult(0.25, seed) for seed in SEEDS}


@pytest.mark.parametrize("seed", SEEDS)
def test_catapult_sharpness_falls_below_two_over_lr(catapults, seed):
    losses, sharpness = catapults[seed]
    assert 2 / sharpness[0] < 0.25                       # starts above its own limit
    spike = int(np.argmax(losses))
    assert sharpness[spike:].min() < 2 / 0.25            # the sharpness falls under 2/η
    assert losses[-1] < losses[0]                        # and then it converges


def test_catapult_loss_spikes_on_five_of_six_seeds(catapults):
    """Section 8b: "the loss spike ... more than 5 times the starting loss on 5 of 6 seeds"."""
    spikes = sum(losses.max() > 5 * losses[0] for losses, _ in catapults.values())
    assert spikes == 5


def test_sharpness_back_near_two_over_lr_after_100_updates(catapults):
    """Section 8b: within 10 % of 2/η after 100 updates on seed 0, and on 3 of the 6 seeds."""
    near = {seed: abs(sharpness[100] - 2 / 0.25) < 0.1 * 2 / 0.25
            for seed, (_, sharpness) in catapults.items()}
    assert near[0] and sum(near.values()) == 3


def test_gd_with_a_small_lr_does_not_catapult():
    losses, sharpness = _full_batch_catapult(0.1, 0, updates=30)
    assert losses.max() == losses[0] and sharpness.min() > 0.95 * sharpness[0]


def test_per_sample_curvature_is_only_a_little_above_L():
    """Seed 0: each sample's Gauss-Newton curvature 2‖∇θ ŷ(x_i)‖² is 7% to 33% above L
    (the notebook rounds the ratios to whole percents)."""
    x, y = tr.make_data(seed=0)
    model = tr.make_mlp(seed=0)
    with torch.no_grad():
        outputs = model(x)
    output_grads = tr.per_sample_gradients(model, x, outputs - 0.5).double()
    per_sample = 2 * output_grads.square().sum(1)
    full_L = torch.linalg.eigvalsh(2 * output_grads.T @ output_grads / len(x))[-1]
    ratios = per_sample / full_L
    assert 1.05 < ratios.min() < 1.1 and 1.3 < ratios.max() < 1.35


# ------------------------------------------------------------------------------------------
# The 1-D fit w·x² of section 8b
# ------------------------------------------------------------------------------------------


def _fit_single_sample(xs, ys, lrs, epochs=3, seed=0, cap=True):
    """B = 1 SGD on the fit w·x², one w per lr; with `cap`, a w that passes 1e6 stays at inf."""
    w = np.zeros(len(lrs))
    for batch in tr.minibatch_indices(len(xs), 1, epochs=epochs, seed=seed):
        i = int(batch)
        with np.errstate(invalid="ignore", over="ignore"):
            w = w - lrs * 2 * (w * xs[i] ** 2 - ys[i]) * xs[i] ** 2
        if cap:
            w[~(np.abs(w) < 1e6)] = np.inf
    return w


def _curvatures(seed):
    x, y = tr.make_data(seed=seed)
    xs, ys = x.squeeze().double().numpy(), y.squeeze().double().numpy()
    return xs, ys, 2 * xs ** 4


def test_1d_fit_single_sample_bounded_far_above_two_over_c_max():
    lrs = np.array([2.0, 2.5, 3.0, 4.0])
    bounded_at_3 = 0
    for seed in SEEDS:
        xs, ys, c = _curvatures(seed)
        assert 2 / c.max() < 1.01
        w = _fit_single_sample(xs, ys, lrs, seed=seed)
        assert np.all(np.isfinite(w[:2])) and not np.isfinite(w[3])
        bounded_at_3 += bool(np.isfinite(w[2]))
        # η = 3 is below this seed's almost-sure limit: a whole epoch still shrinks the error
        assert np.mean(np.log(np.abs(1 - 3.0 * c))) < 0
    assert bounded_at_3 <= 2                  # "most runs blow past 1e6" at η = 3


def _fit_uncapped(xs, ys, lrs, epochs=3, seed=0):
    return _fit_single_sample(xs, ys, lrs, epochs=epochs, seed=seed, cap=False)


def test_1d_fit_excursions_at_lr_3_come_back_by_the_end():
    """Section 8b: at η = 3, |w| passes 1e6 on most seeds yet is back below 1e6 after three
    epochs on all 6; at η = 4 it is not (at most 1 of 6)."""
    back_at_3 = back_at_4 = 0
    for seed in SEEDS:
        xs, ys, _ = _curvatures(seed)
        w = np.abs(_fit_uncapped(xs, ys, np.array([3.0, 4.0]), seed=seed))
        back_at_3 += bool(w[0] < 1e6)
        back_at_4 += bool(w[1] < 1e6)
    assert back_at_3 == 6 and back_at_4 <= 1


def test_1d_fit_limits_order_and_the_torch_step():
    for seed in SEEDS:
        xs, ys, c = _curvatures(seed)
        mean_square = 2 * c.mean() / np.mean(c ** 2)
        lrs = np.linspace(0.01, 2 / c.mean(), 2000)
        typical = np.array([np.mean(np.log(np.abs(1 - lr * c))) for lr in lrs])
        almost_sure = lrs[np.argmax(typical >= 0)]
        assert 2 / c.max() < mean_square < almost_sure < 2 / c.mean()
        # the mean square of the per-step factor crosses 1 exactly at 2c̄/E[c²]
        assert np.mean((1 - mean_square * c) ** 2) == pytest.approx(1.0)
    # the numpy step is torch.optim.SGD's on mse_loss of one sample
    xs, ys, c = _curvatures(0)
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=2.5)
    ours = np.zeros(1)
    for batch in list(tr.minibatch_indices(1000, 1, epochs=1, seed=0))[:50]:
        i = int(batch)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(w * float(xs[i]) ** 2, torch.tensor([ys[i]])).backward()
        optimizer.step()
        ours = ours - 2.5 * 2 * (ours * xs[i] ** 2 - ys[i]) * xs[i] ** 2
    np.testing.assert_allclose(w.detach().numpy(), ours, rtol=1e-12)


def test_1d_fit_epoch_product_is_the_same_for_every_order():
    """With noise-free targets an epoch of B = 1 multiplies the error by prod(1 − η c_i)."""
    xs, _, c = _curvatures(0)
    for lr in (1.0, 2.5):
        for seed in (0, 1):
            w = _fit_single_sample(xs, 3.0 * xs ** 2 + 0.0, np.array([lr]), epochs=1, seed=seed)
            np.testing.assert_allclose(w - 3.0, -3.0 * np.prod(1 - lr * c), rtol=1e-8, atol=1e-12)


# ------------------------------------------------------------------------------------------
# Section 8's noise cloud
# ------------------------------------------------------------------------------------------


def _cloud_rms(sigma, lr, seed, chains=1000, steps=600):
    bowl = quadratic(condition_number=10.0)
    generator = torch.Generator().manual_seed(seed)
    theta = torch.zeros(chains, 2, dtype=torch.float64)
    optimizer = SGD([theta], lr=lr)
    for _ in range(steps):
        theta.grad = theta @ bowl.hessian + sigma * torch.randn(theta.shape, generator=generator,
                                                                 dtype=torch.float64)
        optimizer.step()
    return theta.square().mean(0).sqrt().numpy()


@pytest.mark.parametrize("seed", range(5))
def test_noise_cloud_matches_the_stationary_variance(seed):
    h = np.array([1.0, 0.1])
    for sigma, lr in [(0.6, 0.3), (0.6, 0.1), (0.2, 1.5)]:
        theory = np.sqrt(lr * sigma ** 2 / (h * (2 - lr * h)))
        np.testing.assert_allclose(_cloud_rms(sigma, lr, seed), theory, rtol=0.1)


@pytest.mark.parametrize("seed", range(5))
def test_additive_noise_does_not_move_the_stability_limit(seed):
    """Section 8b: with σ = 0.6 the bowl (L = 1) stays in a cloud at η = 1.9 and diverges at 2.05,
    like the noise-free run."""
    from course_lib.experiments.trajectories import run
    from course_lib.problems.landscapes import noisy

    bowl = quadratic(condition_number=10.0)
    for sigma in (0.0, 0.6):
        below = run(noisy(bowl, sigma=sigma, seed=seed), SGD, lr=1.9, steps=600)
        above = run(noisy(bowl, sigma=sigma, seed=seed), SGD, lr=2.05, steps=600)
        assert not below.diverged and above.diverged
