"""course_lib.theory.nesterov: rates against torch runs, the guarantee, and the counterexample
on which heavy ball at Polyak's quadratic optimum cycles while Nesterov converges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.theory import momentum as hb
from course_lib.theory import nesterov as nag


def torch_run_1d(gradient, lr, momentum, nesterov, steps, start):
    """torch.optim.SGD on a 1-D function given by its gradient; returns params and buffers."""
    x = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=lr, momentum=momentum, nesterov=nesterov, foreach=False)
    params, buffers = [start], [0.0]
    for _ in range(steps):
        x.grad = gradient(x.detach().clone())
        optimizer.step()
        params.append(x.item())
        buffers.append(optimizer.state[x]["momentum_buffer"].item())
    return np.array(params), np.array(buffers)


def test_panels_still_export_the_moved_names():
    from course_lib.ui.panels import nesterov as panels

    for name in ("nesterov_matrix", "nesterov_rate", "nesterov_stable_lr"):
        assert getattr(panels, name) is getattr(nag, name)


@pytest.mark.parametrize(("lr", "beta"), [(0.05, 0.9), (0.5, 0.9), (1.2, 0.5), (1.3, 0.9)])
def test_rate_is_the_spectral_radius_and_torch_follows_the_matrix(lr, beta):
    matrix = nag.nesterov_matrix(lr, beta, 1.0)
    assert math.isclose(nag.nesterov_rate(lr, beta, 1.0), np.abs(np.linalg.eigvals(matrix)).max(), rel_tol=1e-9)
    params, _ = torch_run_1d(lambda x: x, lr, beta, True, 30, 1.0)
    # torch's first step is (1+β)ηg long; from then on the recurrence N(h) holds
    state = np.array([params[1], params[0]])
    for t in range(1, 30):
        state = matrix @ state
        assert math.isclose(state[0], params[t + 1], rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9, 0.99])
def test_stability_limit_is_where_torch_starts_to_grow(beta):
    limit = nag.nesterov_stable_lr(beta, 1.0)
    assert math.isclose(nag.nesterov_rate(limit, beta, 1.0), 1.0, rel_tol=1e-9)
    assert abs(torch_run_1d(lambda x: x, limit * 0.98, beta, True, 3000, 1.0)[0][-1]) < 1
    assert abs(torch_run_1d(lambda x: x, limit * 1.02, beta, True, 3000, 1.0)[0][-1]) > 1
    assert limit < hb.heavy_ball_stable_lr(beta, 1.0)


def test_best_quadratic_rate_is_the_grid_minimum_and_worse_than_heavy_ball():
    mu, L = 0.01, 1.0
    grid = min(max(nag.nesterov_rate(a, b, L), nag.nesterov_rate(a, b, mu))
               for a in np.linspace(0.5, 1.4, 181) for b in np.linspace(0.5, 0.99, 197))
    best = nag.nesterov_best_quadratic_rate(mu, L)
    assert best <= grid <= best + 2e-3
    assert hb.heavy_ball_optimal_rate(mu, L) < best


def test_lessard_function_is_smooth_strongly_convex_with_kappa_25():
    x = np.linspace(-3.0, 5.0, 80001)
    f, g = nag.lessard_function(x), nag.lessard_gradient(x)
    np.testing.assert_allclose(np.gradient(f, x)[1:-1], g[1:-1], atol=1e-3)  # g is f's derivative
    slopes = np.diff(g) / np.diff(x)                                           # curvature 1 or 25
    assert slopes.min() > nag.LESSARD_MU - 1e-6 and slopes.max() < nag.LESSARD_L + 1e-6
    assert f.min() == 0.0 and x[np.argmin(f)] == 0.0
    # tensors keep autograd
    point = torch.tensor([0.5, 1.5, 2.5], requires_grad=True)
    nag.lessard_function(point).sum().backward()
    torch.testing.assert_close(point.grad, nag.lessard_gradient(point.detach()))


def test_heavy_ball_at_polyaks_optimum_cycles_forever_from_3_3():
    lr, beta = hb.heavy_ball_optimum(nag.LESSARD_MU, nag.LESSARD_L)
    assert math.isclose(lr, 1 / 9) and math.isclose(beta, 4 / 9)
    params, _ = torch_run_1d(nag.lessard_gradient, lr, beta, False, 600, 3.3)
    tail = params[-30:]
    np.testing.assert_allclose(tail[3:], tail[:-3], rtol=1e-9)                  # period 3
    assert not np.allclose(tail[1:], tail[:-1]) and np.abs(tail).min() > 0.5   # not a fixed point


def test_nesterov_standard_parameters_converge_within_the_guarantee():
    mu, L = nag.LESSARD_MU, nag.LESSARD_L
    lr, beta = nag.nesterov_standard_parameters(mu, L)
    assert math.isclose(lr, 1 / 25) and math.isclose(beta, 2 / 3)
    params, buffers = torch_run_1d(nag.lessard_gradient, lr, beta, True, 100, 3.3)
    assert abs(params[-1]) < 1e-12
    # the paper's iterate x_k = param - β v_k = param + β η b_k obeys Nesterov's bound
    x = params + beta * lr * buffers
    gaps = nag.lessard_function(x)
    bound = nag.nesterov_guarantee_bound(np.arange(len(x)), nag.lessard_function(3.3), 3.3, mu, L)
    assert np.all(gaps <= bound + 1e-15)
    assert math.isclose(nag.nesterov_guaranteed_rate(mu, L), 0.8)


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_stable_lr_found_by_bisection_is_the_closed_form(beta):
    # r = −1 is a root of r² − (1+β)s·r + βs exactly when s = 1 − ηh = −1/(1+2β)
    for h in (0.5, 1.0, 7.0):
        closed_form = 2 * (1 + beta) / ((1 + 2 * beta) * h)
        assert nag.nesterov_stable_lr(beta, h) == pytest.approx(closed_form, rel=1e-12)


def test_the_theory_module_does_not_spell_out_exercise_45s_answer():
    import inspect
    source = "".join(inspect.getsource(nag).split())
    for spelling in ("(1+2β)", "(1+2\\beta)", "1.0+2.0*momentum", "1+2*momentum"):
        assert spelling not in source
