"""Notebook 04's claims about behaviour: its panel's "Things to try", section 6's damped (not
stopped) ringing, section 7b's guarantee in distance units and the starts that end in heavy
ball's 3-cycle, over several starts or seeds.

Each claim is checked against torch.optim.SGD or a closed form of ``course_lib.theory``.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from course_lib.theory import momentum as hb_theory
from course_lib.theory import nesterov as nag_theory


def visible_texts(fig):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]


def torch_errors(lr, beta, h, steps, nesterov=True, start=1.0):
    x = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr, momentum=beta, nesterov=nesterov, foreach=False)
    errors = []
    for _ in range(steps):
        x.grad = h * x.detach().clone()
        optimizer.step()
        errors.append(x.item())
    return np.array(errors)


# --------------------------------------------------------------------------------------------
# Section 6: the look-ahead damps the ringing; only ηh = 1 stops it
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.3, 0.5, 0.9, 0.95, 0.99])
def test_eta_h_one_is_nilpotent_for_every_beta(beta):
    matrix = nag_theory.nesterov_matrix(1.0, beta, 1.0)
    assert np.array_equal(matrix @ matrix, np.zeros((2, 2)))
    assert np.all(np.abs(torch_errors(1.0, beta, 1.0, 4)[1:]) < 1e-15)  # torch: done after two steps


@pytest.mark.parametrize("step, rho", [(0.5, math.sqrt(0.9 * 0.5)), (1.3, None)])
def test_elsewhere_nesterov_still_oscillates(step, rho):
    errors = torch_errors(step, 0.9, 1.0, 400)
    measured = (np.abs(errors[350:]).max() / np.abs(errors[150:200]).max()) ** (1 / 200)
    expected = nag_theory.nesterov_rate(step, 0.9, 1.0)
    if rho is not None:
        assert expected == pytest.approx(rho)
    assert measured == pytest.approx(expected, abs=0.01)
    assert np.any(np.sign(errors[300:-1]) != np.sign(errors[301:]))  # it changes sign: it oscillates
    assert expected > abs(1 - step) or step < 1                      # at 1.3 slower than GD's 0.3
    if step > 1:
        signs = np.sign(errors[300:])
        assert np.all(signs[1:] == -signs[:-1])                      # flips every step


# --------------------------------------------------------------------------------------------
# Section 7b: the guarantee in distance units, and the 3-cycle's starts
# --------------------------------------------------------------------------------------------


def test_guarantee_in_distance_units_at_kappa_25():
    mu, L = nag_theory.LESSARD_MU, nag_theory.LESSARD_L
    assert nag_theory.nesterov_guaranteed_distance_rate(mu, L) == pytest.approx(math.sqrt(0.8))
    assert hb_theory.heavy_ball_optimal_rate(mu, L) == pytest.approx(2 / 3)


@pytest.mark.parametrize("seed", range(5))
def test_nesterovs_distance_stays_inside_the_square_root_bound(seed):
    # torch's Nesterov at the standard parameters on the Lessard function, from a random start:
    # the paper's iterate x_k = param - βv obeys |x_k| <= sqrt(2/μ · bound_k)
    mu, L = nag_theory.LESSARD_MU, nag_theory.LESSARD_L
    lr, beta = nag_theory.nesterov_standard_parameters(mu, L)
    x0 = float(np.random.default_rng(seed).uniform(-5, 5))
    x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr, momentum=beta, nesterov=True, foreach=False)
    bound = nag_theory.nesterov_guarantee_bound(np.arange(61), nag_theory.lessard_function(x0), abs(x0), mu, L)
    for k in range(1, 61):
        x.grad = torch.tensor([nag_theory.lessard_gradient(x.item())], dtype=torch.float64)
        optimizer.step()
        paper = x.item() + beta * lr * optimizer.state[x]["momentum_buffer"].item()
        assert abs(paper) <= math.sqrt(2 / mu * bound[k]) + 1e-12


def heavy_ball_end(x0, steps=600):
    mu, L = nag_theory.LESSARD_MU, nag_theory.LESSARD_L
    lr, beta = hb_theory.heavy_ball_optimum(mu, L)
    x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr, momentum=beta, foreach=False)
    for _ in range(steps):
        x.grad = torch.tensor([nag_theory.lessard_gradient(x.item())], dtype=torch.float64)
        optimizer.step()
    return x.item()


@pytest.mark.parametrize("seed", range(5))
def test_starts_in_the_widest_window_end_in_the_cycle(seed):
    x0 = float(np.random.default_rng(seed).uniform(3.08, 3.45))
    end = heavy_ball_end(x0)
    assert min(abs(end - c) for c in (-1.8024, 2.1159, 0.6465)) < 1e-3


@pytest.mark.parametrize("seed", range(5))
def test_starts_just_outside_the_window_converge(seed):
    generator = np.random.default_rng(seed)
    for x0 in (float(generator.uniform(3.0, 3.05)), float(generator.uniform(3.48, 3.9)), float(generator.uniform(-0.9, 0.9))):
        assert abs(heavy_ball_end(x0)) < 1e-6, x0


# --------------------------------------------------------------------------------------------
# The panel's "Things to try" (moved from tests/test_things_to_try.py)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nesterov():
    from course_lib.ui.panels.nesterov import momentum_vs_nesterov_panel

    panel = momentum_vs_nesterov_panel(landscape="quadratic", lr=0.5, momentum=0.9)
    yield panel
    matplotlib.pyplot.close(panel.fig)


@pytest.mark.parametrize("lr", [0.5, 1.3])
def test_04_high_momentum_nesterov_stays_calm(nesterov, lr):
    heavy, nag = nesterov.update(landscape="quadratic", lr=lr, momentum=0.5)
    assert 0.5 < nag.final_loss / heavy.final_loss < 2             # together at β = 0.5
    heavy, nag = nesterov.update(landscape="quadratic", lr=lr, momentum=0.95)
    assert nag.final_loss < 1e-2 * heavy.final_loss                # far lower at β = 0.95


def test_04_lr_slider_reaches_heavy_balls_limit(nesterov):
    assert nesterov.sliders["lr"].max >= math.log10(3.8)
    limit_nag = nag_theory.nesterov_stable_lr(0.9, 1.0)
    limit_hb = hb_theory.heavy_ball_stable_lr(0.9, 1.0)
    assert math.isclose(limit_hb, 3.8)
    heavy, nag = nesterov.update(landscape="quadratic", lr=1.1 * limit_nag, momentum=0.9)
    assert nag.diverged and not heavy.diverged
    assert any("Nesterov" in text and "diverged" in text for text in visible_texts(nesterov.fig))
    heavy, nag = nesterov.update(landscape="quadratic", lr=0.97 * limit_hb, momentum=0.9)
    assert not heavy.diverged and heavy.final_loss < heavy.losses[0]
    assert nesterov.sliders["lr"].value == pytest.approx(0.97 * limit_hb, rel=0.06)  # the slider shows it
    heavy, _ = nesterov.update(landscape="quadratic", lr=1.03 * limit_hb, momentum=0.9)
    assert heavy.diverged


@pytest.mark.parametrize("beta", [0.97, 0.99])
def test_04_rosenbrock_high_momentum_nesterov_ends_far_lower(nesterov, beta):
    heavy, nag = nesterov.update(landscape="rosenbrock", lr=5e-4, momentum=beta)
    assert not nag.diverged and nag.final_loss < 0.2 * heavy.final_loss


def test_04_rosenbrock_longer_step_nesterov_diverges(nesterov):
    heavy, nag = nesterov.update(landscape="rosenbrock", lr=1e-3, momentum=0.99)
    assert nag.diverged and not heavy.diverged


# --------------------------------------------------------------------------------------------
# Rosenbrock from several starts: the panel's start and 5 more within ±0.2 of it
# --------------------------------------------------------------------------------------------


def rosenbrock_starts():
    from course_lib.ui.panels.nesterov import _landscape

    surface = _landscape("rosenbrock")
    generator = np.random.default_rng(0)
    start = [float(v) for v in surface.start]
    return surface, [start] + [[start[0] + generator.uniform(-0.2, 0.2), start[1] + generator.uniform(-0.2, 0.2)]
                               for _ in range(5)]


def rosenbrock_pairs(lr, beta):
    from course_lib.optim import SGD
    from course_lib.experiments.trajectories import run

    surface, points = rosenbrock_starts()
    return [(run(surface, SGD, start=p, steps=150, lr=lr, momentum=beta),
             run(surface, SGD, start=p, steps=150, lr=lr, momentum=beta, nesterov=True)) for p in points]


# (lr, β) -> starts of 6 where Nesterov ends below 0.2× heavy ball, as the panel text says
FAR_LOWER = {(5e-4, 0.97): 4, (5e-4, 0.99): 3, (3e-4, 0.99): 6}


@pytest.mark.parametrize("lr, beta", list(FAR_LOWER))
def test_04_rosenbrock_far_lower_on_k_of_6_starts(lr, beta):
    pairs = rosenbrock_pairs(lr, beta)
    assert not pairs[0][1].diverged and pairs[0][1].final_loss < 0.2 * pairs[0][0].final_loss  # the panel's start
    k = sum((not nag.diverged) and nag.final_loss < 0.2 * heavy.final_loss for heavy, nag in pairs)
    assert k == FAR_LOWER[(lr, beta)]


def test_04_rosenbrock_longer_step_diverges_on_k_of_6_starts():
    pairs = rosenbrock_pairs(1e-3, 0.99)
    assert pairs[0][1].diverged and not pairs[0][0].diverged       # the panel's start
    assert sum(nag.diverged for _, nag in pairs) == 3
    assert sum(heavy.diverged for heavy, _ in pairs) == 2
