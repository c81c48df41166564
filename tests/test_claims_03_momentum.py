"""Notebook 03's claims about behaviour: its panel's "Things to try", section 2b's steep
direction, section 9's noisy comparison and the myth corrections, over several seeds or starts.

Each claim is checked against torch.optim.SGD or a closed form of ``course_lib.theory.momentum``,
never against numbers copied from a run. Random claims run over 6 seeds; where a claim does not
hold on every seed the notebook says "on k of n seeds", and the count is asserted as computed.
"""

from __future__ import annotations

import functools
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from course_lib import optim
from course_lib.experiments.trajectories import run
from course_lib.problems import landscapes
from course_lib.problems import toy_regression as tr
from course_lib.theory import momentum as hb_theory

SEEDS = range(6)


def visible_texts(fig):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]


def starts(seed, count=5):
    """``count`` random starting points on the κ = 50 valley, from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return (4 * torch.rand(count, 2, generator=generator, dtype=torch.float64) - 2).tolist()


def torch_rate(lr, beta, h, steps=400):
    """Per-step factor of |x| on f = h·x²/2 under torch.optim.SGD (envelopes 200 steps apart)."""
    x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr, momentum=beta, foreach=False)
    sizes = []
    for _ in range(steps):
        x.grad = h * x.detach().clone()
        optimizer.step()
        sizes.append(abs(x.item()))
    return (max(sizes[350:400]) / max(sizes[150:200])) ** (1 / 200)


# --------------------------------------------------------------------------------------------
# Section 2b: the steep direction
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("step, beta", [(0.5, 0.1), (1.5, 0.05), (1.9, 0.2)])
def test_small_beta_settles_the_steep_direction_faster_than_gd(step, beta):
    rho = hb_theory.heavy_ball_rate(step, beta, 1.0)
    assert rho < abs(1 - step)                                     # the closed form
    assert torch_rate(step, beta, 1.0) < abs(1 - step)             # torch, measured
    assert torch_rate(step, beta, 1.0) == pytest.approx(rho, abs=0.01)


def test_large_beta_rings_slower_than_gd():
    assert hb_theory.heavy_ball_rate(0.5, 0.8, 1.0) == pytest.approx(math.sqrt(0.8))
    assert torch_rate(0.5, 0.8, 1.0) > 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_slower_than_gd_exactly_when_sqrt_beta_exceeds_one_minus_eta_h(seed):
    # random (ηh, β) away from the boundary, measured with torch: heavy ball loses to GD iff √β > |1 − ηh|
    generator = np.random.default_rng(seed)
    checked = 0
    while checked < 5:
        step, beta = generator.uniform(0.05, 1.95), generator.uniform(0.01, 0.95)
        if abs(math.sqrt(beta) - abs(1 - step)) < 0.05 or abs(1 - step) < 0.1:
            continue
        assert (torch_rate(step, beta, 1.0) > abs(1 - step)) == (math.sqrt(beta) > abs(1 - step)), (step, beta)
        checked += 1


def test_the_rate_is_never_below_sqrt_beta():
    for step in np.linspace(0.01, 2.0, 60):
        for beta in np.linspace(0.0, 0.99, 60):
            assert hb_theory.heavy_ball_rate(step, beta, 1.0) >= math.sqrt(beta) - 1e-12


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
def test_filter_gain_is_the_buffers_response_to_an_oscillating_gradient(beta):
    # feed torch's SGD buffer g_t = cos(ωt) and compare its steady-state amplitude with the gain
    for omega in (0.0, 0.7, 2.0, math.pi):
        x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.SGD([x], lr=1e-3, momentum=beta, foreach=False)
        buffer = []
        for t in range(400):
            x.grad = torch.tensor([math.cos(omega * t)], dtype=torch.float64)
            optimizer.step()
            buffer.append(optimizer.state[x]["momentum_buffer"].item())
        amplitude = np.abs(buffer[300:]).max()
        if omega not in (0.0, math.pi):  # sampled cosine: the peak lies between samples
            amplitude = math.hypot(*np.linalg.lstsq(
                np.column_stack([np.cos(omega * np.arange(300, 400)), np.sin(omega * np.arange(300, 400))]),
                np.array(buffer[300:]), rcond=None)[0])
        assert amplitude == pytest.approx(float(hb_theory.momentum_filter_gain(beta, omega)), rel=1e-6)
    assert float(hb_theory.momentum_filter_gain(beta, 0.0)) == pytest.approx(1 / (1 - beta))
    assert float(hb_theory.momentum_filter_gain(beta, math.pi)) == pytest.approx(1 / (1 + beta))


@pytest.mark.parametrize("seed", range(5))
def test_at_polyaks_optimum_gd_diverges_and_heavy_ball_settles(seed):
    valley = landscapes.quadratic(condition_number=50.0)
    lr, beta = hb_theory.heavy_ball_optimum(valley.mu, valley.L)
    assert lr * valley.L == pytest.approx(3.07, abs=0.01)
    for start in starts(seed, 1):
        assert run(valley, optim.SGD, start=start, steps=150, lr=lr).diverged
        heavy = run(valley, optim.SGD, start=start, steps=150, lr=lr, momentum=beta)
        assert not heavy.diverged and abs(heavy.path[-1, 0]) < 1e-12


# --------------------------------------------------------------------------------------------
# Section 9: noisy gradients, equal effective learning rates (B = 10, 300 updates, 6 seeds)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy_finals():
    x, y = tr.make_data(n=1000, noise=0.1, seed=0)
    heavy = functools.partial(optim.SGD, momentum=0.9)
    nesterov = functools.partial(optim.SGD, momentum=0.9, nesterov=True)
    settings = {"sgd 0.05": (optim.SGD, 0.05), "hb 0.005": (heavy, 0.005),
                "sgd 0.5": (optim.SGD, 0.5), "hb 0.05": (heavy, 0.05), "nag 0.05": (nesterov, 0.05)}
    settings.update({f"sgd {lr}": (optim.SGD, lr) for lr in (0.1, 0.15, 0.2, 0.25, 0.3)})
    finals = {}
    for name, (cls, lr) in settings.items():
        runs = [tr.train(tr.make_mlp(seed=s), x, y, batch_size=10, lr=lr, updates=300, eval_every=20,
                         seed=s, optimizer_cls=cls) for s in SEEDS]
        finals[name] = np.array([np.inf if r.diverged_at else r.losses[-1] for r in runs])
    return finals


def test_sgd_at_heavy_balls_effective_lr_diverges_on_every_seed(noisy_finals):
    assert hb_theory.effective_lr(0.05, 0.9) == pytest.approx(0.5)
    assert np.isinf(noisy_finals["sgd 0.5"]).all()
    assert np.isfinite(noisy_finals["hb 0.05"]).all() and np.isfinite(noisy_finals["nag 0.05"]).all()


def test_sgd_lr_01_is_the_best_on_the_grid(noisy_finals):
    means = {lr: noisy_finals[f"sgd {lr}"].mean() for lr in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)}
    assert min(means, key=means.get) == 0.1


def test_momentum_at_a_large_effective_lr_ends_near_the_best_sgd(noisy_finals):
    best = noisy_finals["sgd 0.1"].mean()
    for name in ("hb 0.05", "nag 0.05"):
        assert 0.5 * best < noisy_finals[name].mean() < 2 * best


def test_heavy_ball_lags_sgd_at_a_small_equal_effective_lr(noisy_finals):
    behind = noisy_finals["hb 0.005"] > noisy_finals["sgd 0.05"]
    assert behind.sum() >= 5                                   # systematic: 6 of 6 when written
    ratio = noisy_finals["hb 0.005"] / noisy_finals["sgd 0.05"]
    assert np.all(ratio < 1.25)                                 # a lag of a few percent, not a different method


# --------------------------------------------------------------------------------------------
# The panel's "Things to try" (moved from tests/test_things_to_try.py), plus other starts
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def momentum():
    from course_lib.ui.panels.momentum import momentum_panel

    panel = momentum_panel()
    yield panel
    matplotlib.pyplot.close(panel.fig)


def test_03_beta_zero_is_gd(momentum):
    heavy, plain = momentum.update(landscape="quadratic", lr=1.0, momentum=0.0)
    np.testing.assert_array_equal(heavy.path, plain.path)


def test_03_momentum_beats_gd_at_lr_one(momentum):
    for beta in (0.5, 0.9):
        heavy, plain = momentum.update(landscape="quadratic", lr=1.0, momentum=beta)
        assert heavy.final_loss < 1e-2 * plain.final_loss


def test_03_high_beta_small_lr_spirals_at_sqrt_beta(momentum):
    momentum.update(landscape="quadratic", lr=0.05, momentum=0.99)
    surface = momentum.landscape
    for h in (surface.mu, surface.L):
        assert hb_theory.heavy_ball_regime(0.05, 0.99, h) == "ringing"
    assert f"your lr, β: rate {math.sqrt(0.99):.3f}" in momentum.caption_artist.get_text()


def test_03_past_the_heavy_ball_limit_it_diverges_on_the_plot(momentum):
    assert math.isclose(hb_theory.heavy_ball_stable_lr(0.5, 1.0), 3.0)
    heavy, _ = momentum.update(landscape="quadratic", lr=3.1, momentum=0.5)
    assert heavy.diverged
    assert any("heavy ball" in text and "diverge" in text for text in visible_texts(momentum.fig))
    heavy, _ = momentum.update(landscape="quadratic", lr=2.9, momentum=0.5)
    assert not heavy.diverged


def test_03_button_heavy_ball_converges_where_gd_diverges(momentum):
    heavy, plain = momentum.jump_to_optimum()
    assert heavy.final_loss < 1e-20 and not heavy.diverged
    assert plain.diverged and len(plain.path) < 10                 # stopped at the plot's edge
    assert "diverges" in momentum.caption_artist.get_text()
    assert any("plain GD" in text and "diverges" in text for text in visible_texts(momentum.fig))


def test_03_button_within_3_percent_and_one_notch_from_the_edge(momentum):
    """The button's notches converge within 3 % of Polyak's rate; one lr notch up heavy ball still
    converges but far slower; with β one notch down as well it diverges (the nearest notches of
    η*, β* diverge too)."""
    from course_lib.ui.panels.momentum import heavy_ball_optimal_rate, panel_landscape, quadratic_rate
    from course_lib.ui.slider_panel import slider_notches

    surface = panel_landscape("quadratic")
    mu, L = surface.mu, surface.L
    preset = momentum.presets[0][1]
    lr, beta = preset["lr"], preset["momentum"]
    assert quadratic_rate(lr, beta, mu, L) <= 1.03 * heavy_ball_optimal_rate(mu, L)
    lrs, betas = slider_notches(momentum.sliders["lr"]), slider_notches(momentum.sliders["momentum"])
    lr_up = lrs[lrs.index(lr) + 1]
    beta_down = min(betas, key=lambda b: abs(b - (beta - 0.01)))
    best, _ = momentum.jump_to_optimum()
    slower, _ = momentum.update(lr=lr_up)
    assert not slower.diverged and quadratic_rate(lr_up, beta, mu, L) > quadratic_rate(lr, beta, mu, L) + 0.1
    assert slower.final_loss > 1e10 * best.final_loss
    diverged, _ = momentum.update(lr=lr_up, momentum=beta_down)
    assert diverged.diverged and quadratic_rate(lr_up, beta_down, mu, L) >= 1.0
    momentum.update(landscape="quadratic", lr=1.0, momentum=0.5)


def test_03_rosenbrock_beta_09_beats_099_and_gd(momentum):
    heavy_09, plain = momentum.update(landscape="rosenbrock", lr=1e-3, momentum=0.9)
    heavy_099, _ = momentum.update(landscape="rosenbrock", lr=1e-3, momentum=0.99)
    assert heavy_09.final_loss < 0.1 * plain.final_loss
    assert heavy_099.final_loss > heavy_09.final_loss
    momentum.update(landscape="quadratic", lr=1.0, momentum=0.5)



@pytest.mark.parametrize("seed", range(5))
def test_03_momentum_beats_gd_at_lr_one_from_other_starts(seed):
    valley = landscapes.quadratic(condition_number=50.0)
    for start in starts(seed, 1):
        plain = run(valley, optim.SGD, start=start, steps=150, lr=1.0)
        for beta in (0.5, 0.9):
            heavy = run(valley, optim.SGD, start=start, steps=150, lr=1.0, momentum=beta)
            assert heavy.final_loss < 1e-2 * plain.final_loss


@pytest.mark.parametrize("seed", range(5))
def test_solution_36_beta_half_stabilises_eta_l_two_and_a_half_and_beta_tenth_does_not(seed):
    # solution 3.6: the buffer's 1/(1+β) on a flipping gradient moves the limit to 2(1+β)/L
    x0 = float(np.random.default_rng(seed).uniform(0.5, 2.0))
    assert hb_theory.heavy_ball_stable_lr(0.5, 1.0) > 2.5 > hb_theory.heavy_ball_stable_lr(0.1, 1.0)
    for beta, converges in [(0.5, True), (0.1, False), (0.0, False)]:
        x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.SGD([x], lr=2.5, momentum=beta, foreach=False)
        for _ in range(200):
            x.grad = x.detach().clone()
            optimizer.step()
        assert (abs(x.item()) < 1e-6) == converges, beta


@pytest.mark.parametrize("seed", range(5))
def test_myth_box_flat_direction_gains_only_while_sqrt_beta_below_one_minus_eta_mu(seed):
    # the κ = 50 valley at lr = 1/L: β = 0.9 (√β = 0.949 < 0.98) beats GD in the flat direction,
    # β = 0.99 (√β = 0.995 > 0.98) rings there and is slower than GD
    valley = landscapes.quadratic(condition_number=50.0)
    mu, L = valley.mu, valley.L
    lr = 1.0 / L
    for beta, faster in [(0.9, True), (0.99, False)]:
        assert (math.sqrt(beta) < 1 - lr * mu) == faster
        assert (torch_rate(lr, beta, mu) < 1 - lr * mu) == faster
        # from random starts, the flat coordinate's error after 300 steps, heavy ball vs GD
        x0 = float(np.random.default_rng(seed).uniform(0.5, 2.0))
        ends = []
        for momentum in (beta, 0.0):
            x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
            optimizer = torch.optim.SGD([x], lr=lr, momentum=momentum, foreach=False)
            peak = 0.0
            for step in range(300):
                x.grad = mu * x.detach().clone()
                optimizer.step()
                if step >= 250:
                    peak = max(peak, abs(x.item()))
            ends.append(peak)
        assert (ends[0] < ends[1]) == faster, (beta, ends)


def test_03_rosenbrock_beta_09_beats_099_and_gd_on_k_of_6_starts():
    # the panel's start and 5 more within ±0.2 of it; the panel text quotes this count
    from course_lib.ui.panels.momentum import panel_landscape

    surface = panel_landscape("rosenbrock")
    generator = np.random.default_rng(0)
    start = [float(v) for v in surface.start]
    points = [start] + [[start[0] + generator.uniform(-0.2, 0.2), start[1] + generator.uniform(-0.2, 0.2)]
                        for _ in range(5)]
    holds = []
    for point in points:
        plain = run(surface, optim.SGD, start=point, steps=150, lr=1e-3)
        heavy_09 = run(surface, optim.SGD, start=point, steps=150, lr=1e-3, momentum=0.9)
        heavy_099 = run(surface, optim.SGD, start=point, steps=150, lr=1e-3, momentum=0.99)
        holds.append(not heavy_09.diverged and heavy_09.final_loss < 0.1 * plain.final_loss
                     and (heavy_099.diverged or heavy_099.final_loss > heavy_09.final_loss))
    assert holds[0]                                                # the panel's start
    assert sum(holds) == 5
