"""Every RMSprop and Adadelta equation notebook 06 shows equals course_lib.optim and torch.optim:
RMSprop without bias correction, ε outside the root, centered subtracting ḡ² inside the root,
the momentum buffer b ← βb + g/D; Adadelta with ε inside both roots and lr multiplying the step.
Books have printed Adadelta with ε outside the roots: the test below shows that is not torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib import optim
from course_lib.theory import rmsprop as theory
from optimizer_streams import parameter_changes


def _stream(seed=0, steps=30, n=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(steps, n)) * rng.choice([0.1, 1.0, 5.0], size=(1, n))


BOTH = [(optim.RMSprop, {}), (torch.optim.RMSprop, {"foreach": False})]


@pytest.mark.parametrize("hyper", [
    dict(lr=0.01, alpha=0.99, eps=1e-8),
    dict(lr=0.05, alpha=0.7, eps=0.1),
    dict(lr=0.02, alpha=0.9, eps=1e-3, centered=True),
])
def test_effective_lr_curve_equals_course_lib_and_torch(hyper):
    stream = _stream()
    expected = -theory.rmsprop_effective_lr_curve(stream, **hyper) * stream
    for cls, extra in BOTH:
        np.testing.assert_allclose(parameter_changes(cls, stream, **hyper, **extra), expected,
                                   rtol=1e-10, atol=1e-14)


def test_no_bias_correction_and_eps_outside_the_root():
    # one step of g: v = (1 − α)g², so the step is lr·g/(√(1−α)|g| + ε), not lr·sign(g)
    g, lr, alpha, eps = 0.5, 0.01, 0.99, 0.01
    step = parameter_changes(torch.optim.RMSprop, [[g]], lr=lr, alpha=alpha, eps=eps, foreach=False)[0, 0]
    assert math.isclose(step, -lr * g / (math.sqrt(1 - alpha) * g + eps), rel_tol=1e-12)
    assert not math.isclose(step, -lr * g / math.sqrt((1 - alpha) * g * g + eps), rel_tol=1e-3)
    assert abs(step) > 5 * lr  # ten times the bias-corrected step lr·g/|g| would be lr


def test_momentum_buffer_sums_normalised_gradients():
    stream = _stream(1)
    lr, alpha, eps, beta = 0.01, 0.9, 1e-8, 0.8
    normalised = theory.rmsprop_effective_lr_curve(stream, lr=1.0, alpha=alpha, eps=eps) * stream
    buffer = np.zeros(stream.shape[1])
    expected = []
    for row in normalised:
        buffer = beta * buffer + row          # b ← βb + g/D
        expected.append(-lr * buffer)         # θ ← θ − ηb
    for cls, extra in BOTH:
        got = parameter_changes(cls, stream, lr=lr, alpha=alpha, eps=eps, momentum=beta, **extra)
        np.testing.assert_allclose(got, np.array(expected), rtol=1e-10, atol=1e-14)


def test_constant_gradient_formulas():
    g, alpha, lr, eps = -1.7, 0.9, 0.01, 1e-8
    curve = theory.rmsprop_effective_lr_curve(np.full(50, g), lr=lr, alpha=alpha, eps=eps)
    for t in (1, 5, 50):
        assert math.isclose(curve[t - 1], theory.rmsprop_constant_gradient_effective_lr(
            lr, alpha, eps, g, t), rel_tol=1e-12)
    square_avg = theory.rmsprop_square_avg_curve(np.full(50, g), alpha)
    grad_avg_sq = (g * (1 - alpha ** np.arange(1, 51))) ** 2
    np.testing.assert_allclose(square_avg - grad_avg_sq,
                               [theory.centered_variance_constant_gradient(alpha, g, t)
                                for t in range(1, 51)], rtol=1e-9, atol=1e-15)


def test_centered_steps_grow_on_a_steady_slope():
    steps = parameter_changes(torch.optim.RMSprop, np.full((200, 1), 1.0), lr=1e-3, alpha=0.9, eps=1e-8,
                     centered=True, foreach=False)
    assert abs(steps[-1, 0]) > 100 * abs(steps[0, 0])


def test_ema_helpers():
    assert math.isclose(theory.ema_memory(0.99), 100.0)
    assert math.isclose(theory.ema_weights_total(0.9, 10), 1 - 0.9**10)
    with pytest.raises(ValueError, match="alpha"):
        theory.ema_memory(1.0)


# --------------------------------------------------------------------------------------------
# Adadelta
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hyper", [dict(), dict(lr=0.5, rho=0.95, eps=1e-4), dict(rho=0.5, eps=1e-2)])
def test_adadelta_update_curve_equals_course_lib_and_torch(hyper):
    stream = _stream(2)
    expected = theory.adadelta_update_curve(stream, **hyper)
    for cls, extra in ((optim.Adadelta, {}), (torch.optim.Adadelta, {"foreach": False})):
        np.testing.assert_allclose(parameter_changes(cls, stream, **hyper, **extra), expected,
                                   rtol=1e-10, atol=1e-15)


def _adadelta_eps_outside(stream, *, lr=1.0, rho=0.9, eps=1e-6):
    # the erratum form: (√u + ε) / (√v + ε)
    v = u = np.zeros(stream.shape[1])
    out = []
    for g in stream:
        v = rho * v + (1 - rho) * g * g
        delta = (np.sqrt(u) + eps) / (np.sqrt(v) + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        out.append(-lr * delta)
    return np.array(out)


def test_adadelta_erratum_with_eps_outside_the_roots_is_not_torch():
    stream = _stream(3)
    torch_changes = parameter_changes(torch.optim.Adadelta, stream, foreach=False)
    erratum = _adadelta_eps_outside(stream)
    # outside the roots the first step is ε/√v·g ≈ 1e-6·sign(g)/√(1−ρ): about 300× smaller
    assert np.all(np.abs(torch_changes[0]) > 100 * np.abs(erratum[0]))
    assert not np.allclose(torch_changes, erratum, rtol=1e-2)


def test_adadelta_first_step_and_lr_default():
    g = 0.8
    step = parameter_changes(torch.optim.Adadelta, [[g]], foreach=False)[0, 0]  # torch's defaults
    assert math.isclose(step, theory.adadelta_first_step(g), rel_tol=1e-12)
    assert torch.optim.Adadelta([torch.zeros(1, requires_grad=True)]).defaults["lr"] == 1.0
    assert optim.Adadelta([torch.zeros(1, requires_grad=True)]).defaults["lr"] == 1.0
    halved = parameter_changes(torch.optim.Adadelta, [[g]] * 5, lr=0.5, foreach=False)
    np.testing.assert_allclose(halved, 0.5 * theory.adadelta_update_curve([[g]] * 5), rtol=1e-12)


@pytest.mark.parametrize("alpha, eps, g, factor", [
    (0.99, 1e-8, 1.0, 100.0), (0.99, 1e-8, -0.5, 8.0), (0.9, 0.01, 0.1, 5.0), (0.5, 1e-8, 2.0, 3.0),
    (0.8, 1e-8, -3.0, 1000.0), (0.95, 1e-3, 0.3, 40.0),
])
def test_centered_first_step_above_matches_torch(alpha, eps, g, factor):
    # torch's centered RMSprop on a steady gradient: the first step longer than factor·lr
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.RMSprop([theta], lr=0.01, alpha=alpha, eps=eps, centered=True,
                                    foreach=False)
    for t in range(1, 5001):
        before = theta.item()
        theta.grad = torch.full((1,), g, dtype=torch.float64)
        optimizer.step()
        if abs(theta.item() - before) > factor * 0.01:
            break
    assert t == theory.centered_first_step_above(alpha, eps, g, factor)
    # and the variance estimate it rests on is torch's
    state = optimizer.state[theta]
    assert math.isclose((state["square_avg"] - state["grad_avg"] ** 2).item(),
                        theory.centered_variance_constant_gradient(alpha, g, t), rel_tol=1e-6)


def test_centered_first_step_above_is_infinite_when_eps_alone_keeps_steps_short():
    assert theory.centered_first_step_above(0.9, 0.1, 0.5, 10.0) == math.inf
