"""course_lib.theory.gradient_descent against torch.optim.SGD runs and closed forms."""

from __future__ import annotations

import importlib
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from course_lib.theory import gradient_descent as gd


def torch_gd(curvatures, lr, steps, start):
    """Plain torch.optim.SGD on ½ Σ h_i θ_i², gradients by autograd."""
    h = torch.tensor(curvatures, dtype=torch.float64)
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr)
    path = [theta.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * h * theta**2).sum().backward()
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path).numpy()


def test_theory_package_imports_no_submodule():
    code = ("import sys, course_lib.theory as t; "
            "assert not [m for m in sys.modules if m.startswith('course_lib.theory.')], sys.modules.keys(); "
            "assert t.__doc__.startswith('Closed-form results')")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_panels_still_export_the_moved_names():
    panels = importlib.import_module("course_lib.ui.panels.gradient_descent")
    for name in ("gd_factor", "gd_regime", "gd_rate", "gd_optimal_lr", "gd_optimal_rate",
                 "steps_to_tolerance", "curvatures_at_minimum"):
        assert getattr(panels, name) is getattr(gd, name)


@pytest.mark.parametrize("lr", [0.05, 0.5, 1.0, 1.5, 1.9, 2.1])
def test_factor_is_what_torch_multiplies_by(lr):
    path = torch_gd([3.0], lr / 3.0, 12, [0.7])
    np.testing.assert_allclose(path[:, 0], 0.7 * gd.gd_factor(lr / 3.0, 3.0) ** np.arange(13), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("step", "regime", "stable"), [
    (0.01, "slow", True), (0.099, "slow", True), (0.1, "monotone", True), (0.9, "monotone", True),
    (1.0, "one step", True), (1.5, "oscillating", True), (1.999, "oscillating", True),
    (2.0, "borderline", False), (2.001, "divergent", False), (10.0, "divergent", False)])
def test_regimes_and_stability(step, regime, stable):
    for L in (0.25, 1.0, 8.0):
        assert gd.gd_regime(step / L, L) == regime
        assert gd.gd_is_stable(step / L, L) is stable
        # stability is what a torch run does: |x| shrinks over 200 steps iff stable
        x = torch_gd([L], step / L, 200, [1.0])[-1, 0]
        assert bool(abs(x) < 0.999) is stable


@pytest.mark.parametrize("kappa", [1.0, 3.0, 10.0, 50.0])
def test_optimal_lr_gives_the_optimal_rate_and_nothing_beats_it(kappa):
    mu, L = 1.0 / kappa, 1.0
    best = gd.gd_optimal_lr(mu, L)
    assert math.isclose(gd.gd_rate(best, [mu, L]), gd.gd_optimal_rate(mu, L), rel_tol=1e-12, abs_tol=1e-15)
    grid = np.linspace(1e-3, 2.5, 4001)
    assert min(gd.gd_rate(lr, [mu, L]) for lr in grid) >= gd.gd_optimal_rate(mu, L) - 1e-12
    assert math.isclose(gd.gd_rate(1.0 / L, [mu, L]), gd.gd_practical_rate(mu, L), rel_tol=1e-12, abs_tol=1e-15)


def test_steps_to_tolerance_matches_a_torch_run():
    mu, L, tol = 0.1, 1.0, 1e-6
    rate = gd.gd_optimal_rate(mu, L)
    k = gd.steps_to_tolerance(rate, tol)
    # start on the slow eigenvector: |y_k| = rate^k exactly
    path = torch_gd([L, mu], gd.gd_optimal_lr(mu, L), k + 2, [0.0, 1.0])
    first = int(np.argmax(np.abs(path[:, 1]) <= tol * (1 + 1e-9)))
    assert first == k
    assert gd.steps_to_tolerance(0.0, tol) == 1 and gd.steps_to_tolerance(1.0, tol) == math.inf


def test_curvatures_at_minimum_of_rosenbrock():
    from course_lib.problems.landscapes import rosenbrock

    mu, L = gd.curvatures_at_minimum(rosenbrock())
    # Hessian at (1, 1): [[802, -400], [-400, 200]]
    expected = np.linalg.eigvalsh(np.array([[802.0, -400.0], [-400.0, 200.0]]))
    np.testing.assert_allclose([mu, L], expected, rtol=1e-10)


def test_newton_lands_on_the_minimum_of_any_quadratic():
    rng = np.random.default_rng(0)
    q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    hessian = q @ np.diag([100.0, 1.0, 0.01]) @ q.T
    minimum = rng.normal(size=3)
    theta = rng.normal(size=3)
    np.testing.assert_allclose(gd.newton_step(theta, hessian @ (theta - minimum), hessian), minimum, rtol=1e-8)
    with pytest.raises(ValueError, match="shapes"):
        gd.newton_step(theta, theta[:2], hessian)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_bad_input_is_named(bad):
    with pytest.raises(ValueError, match="learning rate"):
        gd.gd_factor(bad, 1.0)
    with pytest.raises(ValueError, match="curvature"):
        gd.gd_regime(0.1, bad)
    with pytest.raises(ValueError, match="mu"):
        gd.gd_optimal_lr(bad, 1.0)
    with pytest.raises(ValueError, match="L = 1"):
        gd.gd_optimal_rate(2.0, 1.0)
