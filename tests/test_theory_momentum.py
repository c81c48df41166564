"""course_lib.theory.momentum against torch.optim.SGD runs, numpy eigenvalues and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.theory import momentum as hb


def torch_heavy_ball_1d(lr, momentum, curvature, steps, start=1.0):
    x = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr, momentum=momentum, foreach=False)
    path = [start]
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * curvature * x**2).sum().backward()
        optimizer.step()
        path.append(x.item())
    return np.array(path)


def test_panels_still_export_the_moved_names():
    from course_lib.ui.panels import momentum as panels

    for name in ("heavy_ball_matrix", "heavy_ball_rate", "quadratic_rate", "heavy_ball_optimum",
                 "heavy_ball_optimal_rate", "heavy_ball_stable_lr", "largest_root_modulus"):
        assert getattr(panels, name) is getattr(hb, name)


@pytest.mark.parametrize(("lr", "beta", "h"), [(0.5, 0.0, 1.0), (1.0, 0.5, 1.0), (2.0, 0.8, 0.02),
                                               (3.5, 0.5, 1.0), (0.01, 0.99, 1.0), (3.9, 0.9, 1.0)])
def test_closed_form_errors_are_torch_and_rate_is_the_spectral_radius(lr, beta, h):
    np.testing.assert_allclose(hb.heavy_ball_errors(lr, beta, h, 40), torch_heavy_ball_1d(lr, beta, h, 40),
                               rtol=1e-9, atol=1e-12)
    eigenvalues = np.linalg.eigvals(hb.heavy_ball_matrix(lr, beta, h))
    assert math.isclose(hb.heavy_ball_rate(lr, beta, h), np.abs(eigenvalues).max(), rel_tol=1e-9)


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.8, 0.95])
def test_regimes_follow_the_roots(beta):
    low, high = hb.critical_damping_lrs(beta, 1.0)
    assert math.isclose(low, (1 - math.sqrt(beta)) ** 2) and math.isclose(high, (1 + math.sqrt(beta)) ** 2)
    for step in np.linspace(0.01, 2 * (1 + beta) * 1.2, 200):
        regime = hb.heavy_ball_regime(step, beta, 1.0)
        roots = np.roots([1.0, -(1 + beta - step), beta])
        if regime == "critically damped":
            continue
        real = np.all(np.abs(roots.imag) < 1e-12)
        if regime == "monotone":
            assert real and np.all(roots.real >= 0)
        elif regime == "ringing":
            assert not real and math.isclose(np.abs(roots).max(), math.sqrt(beta), rel_tol=1e-9)
        elif regime == "flipping":
            assert real and roots.real.min() < 0 and np.abs(roots).max() < 1
        else:
            assert regime == "divergent" and np.abs(roots).max() >= 1 - 1e-9
    assert hb.heavy_ball_regime(low, beta, 1.0) == "critically damped"
    # just below the stability limit torch's run shrinks, just above it grows
    limit = hb.heavy_ball_stable_lr(beta, 1.0)
    assert abs(torch_heavy_ball_1d(limit * 0.98, beta, 1.0, 2000)[-1]) < 1
    assert abs(torch_heavy_ball_1d(limit * 1.02, beta, 1.0, 2000)[-1]) > 1


@pytest.mark.parametrize("kappa", [4.0, 50.0, 1000.0])
def test_polyak_optimum_beats_every_grid_point_and_gd(kappa):
    mu, L = 1.0 / kappa, 1.0
    lr, beta = hb.heavy_ball_optimum(mu, L)
    best = hb.heavy_ball_optimal_rate(mu, L)
    assert math.isclose(hb.quadratic_rate(lr, beta, mu, L), best, rel_tol=1e-6)
    grid = min(hb.quadratic_rate(a, b, mu, L) for a in np.linspace(0.05, 4.0, 80) for b in np.linspace(0, 0.99, 80))
    assert grid >= best - 1e-9
    assert best < (kappa - 1) / (kappa + 1)


def test_effective_lr_is_the_step_under_a_constant_gradient():
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.01, momentum=0.9)
    for _ in range(400):
        x.grad = torch.ones(1, dtype=torch.float64)
        before = x.item()
        optimizer.step()
    assert math.isclose(before - x.item(), hb.effective_lr(0.01, 0.9), rel_tol=1e-9)


@pytest.mark.parametrize(("lr", "beta"), [(0.0, 0.5), (-1.0, 0.5), (math.nan, 0.5), (0.1, 1.0), (0.1, -0.1)])
def test_bad_hyperparameters_are_named(lr, beta):
    with pytest.raises(ValueError, match="learning rate" if not lr > 0 else "momentum"):
        hb.heavy_ball_rate(lr, beta, 1.0)
