"""Checkers 3.1-3.4 (notebook 03, momentum): they pass right answers, fail wrong ones, and each
hint fires on a deliberately wrong implementation written the way a learner would write it.

The references themselves are tested against torch.optim.SGD and closed forms, not numbers."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.checks import run_check
from course_lib.checks import momentum as momentum_checks
from course_lib.panels.momentum import quadratic_rate

# --------------------------------------------------------------------------------------------
# learner-style implementations
# --------------------------------------------------------------------------------------------


def correct_momentum_step(param, grad, state, *, lr, momentum, dampening=0.0):
    if momentum != 0:
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = grad.clone()
        else:
            state["momentum_buffer"].mul_(momentum).add_((1 - dampening) * grad)
        grad = state["momentum_buffer"]
    param -= lr * grad


def ema_momentum_step(param, grad, state, *, lr, momentum, dampening=0.0):
    m = state.get("momentum_buffer", torch.zeros_like(param))
    state["momentum_buffer"] = momentum * m + (1 - momentum) * grad
    param -= lr * state["momentum_buffer"]


def ema_factor_after_first_step(param, grad, state, *, lr, momentum, dampening=0.0):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - momentum) * grad
    param -= lr * state["momentum_buffer"]


def dampening_on_first_step(param, grad, state, *, lr, momentum, dampening=0.0):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = (1 - dampening) * grad.clone()
    else:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - dampening) * grad
    param -= lr * state["momentum_buffer"]


def buffer_from_zeros(param, grad, state, *, lr, momentum, dampening=0.0):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = torch.zeros_like(param)
    buffer = state["momentum_buffer"]
    buffer.mul_(momentum).add_(grad, alpha=1 - dampening)
    param.sub_(lr * buffer)


def dampening_ignored(param, grad, state, *, lr, momentum, dampening=0.0):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + grad
    param -= lr * state["momentum_buffer"]


def buffer_restarted(param, grad, state, *, lr, momentum, dampening=0.0):
    state["momentum_buffer"] = torch.zeros_like(param)
    state["momentum_buffer"] = momentum * state["momentum_buffer"] + grad
    param -= lr * state["momentum_buffer"]


def momentum_ascent(param, grad, state, *, lr, momentum, dampening=0.0):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - dampening) * grad
    param += lr * state["momentum_buffer"]


def param_copy(param, grad, state, *, lr, momentum, dampening=0.0):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - dampening) * grad
    param = param - lr * state["momentum_buffer"]
    return param


def buffer_not_written_back(param, grad, state, *, lr, momentum, dampening=0.0):
    buffer = state.get("momentum_buffer")
    if buffer is None:
        buffer = grad.clone()
        state["momentum_buffer"] = buffer
    else:
        buffer = momentum * buffer + (1 - dampening) * grad  # a new tensor, never stored
    param -= lr * buffer


def writes_into_grad(param, grad, state, *, lr, momentum, dampening=0.0):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        grad.mul_(1 - dampening)
        state["momentum_buffer"].mul_(momentum).add_(grad)
    param -= lr * state["momentum_buffer"]


def not_attempted(*args, **kwargs):
    raise NotImplementedError("Exercise 3.1")


# --------------------------------------------------------------------------------------------
# 3.1 momentum_step
# --------------------------------------------------------------------------------------------


def test_3_1_reference_equals_torch_sgd_over_many_steps():
    generator = torch.Generator().manual_seed(1)
    for momentum, dampening in [(0.9, 0.0), (0.9, 0.5), (0.5, 0.2), (0.0, 0.0)]:
        param = torch.randn(6, generator=generator, dtype=torch.float64)
        gradients = [torch.randn(6, generator=generator, dtype=torch.float64) for _ in range(10)]
        ours, state = param.clone(), {}
        theirs = param.clone().requires_grad_(True)
        optimizer = torch.optim.SGD([theirs], lr=0.07, momentum=momentum, dampening=dampening,
                                    foreach=False)
        for gradient in gradients:
            momentum_checks.reference_momentum_step(ours, gradient, state, lr=0.07,
                                                    momentum=momentum, dampening=dampening)
            theirs.grad = gradient.clone()
            optimizer.step()
            torch.testing.assert_close(ours, theirs.detach(), rtol=1e-12, atol=0)
            if momentum:
                torch.testing.assert_close(state["momentum_buffer"],
                                           optimizer.state[theirs]["momentum_buffer"],
                                           rtol=1e-12, atol=0)


def test_3_1_passes_a_correct_learner_implementation():
    result = run_check("3.1", correct_momentum_step)
    assert result.passed, result.report()
    assert result.n_cases >= 12
    assert result.first_line() == f"✅ Exercise 3.1 passed ({result.n_cases} cases)"


def test_3_1_stub_is_not_attempted():
    result = run_check("3.1", not_attempted)
    assert not result.passed and result.status == "not_attempted"


@pytest.mark.parametrize(
    "wrong, hint_id",
    [
        (ema_momentum_step, "ema_form"),
        (ema_factor_after_first_step, "ema_factor"),
        (dampening_on_first_step, "dampened_first_step"),
        (buffer_from_zeros, "dampened_first_step"),
        (dampening_ignored, "dampening_ignored"),
        (buffer_restarted, "buffer_restarted"),
        (momentum_ascent, "ascent"),
        (param_copy, "updated_a_copy"),
        (buffer_not_written_back, "updated_a_copy"),
        (writes_into_grad, "changed_input"),
    ],
)
def test_3_1_wrong_implementation_gets_its_hint(wrong, hint_id):
    result = run_check("3.1", wrong)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()
    assert result.hint and result.failing_case


def test_3_1_ema_hint_names_the_torch_formula():
    report = run_check("3.1", ema_momentum_step).report()
    assert "❌ Exercise 3.1 not passed yet" in report
    assert "b₁ = g₁" in report and "Expected:" in report and "Received:" in report


def test_3_1_every_known_mistake_is_wrong_on_some_case():
    # a mistake that equals the reference on every case could never be reported
    for mistake in momentum_checks.MOMENTUM_STEP_MISTAKES:
        assert not run_check("3.1", mistake.wrong_function).passed, mistake.hint_id


# --------------------------------------------------------------------------------------------
# 3.2 EMA -> torch
# --------------------------------------------------------------------------------------------


def _ema_path(gradients, lr, beta):
    theta, m, path = torch.zeros_like(gradients[0]), torch.zeros_like(gradients[0]), []
    for g in gradients:
        m = beta * m + (1 - beta) * g
        theta = theta - lr * m
        path.append(theta)
    return torch.stack(path)


def _torch_path(gradients, lr, momentum, dampening):
    theta = torch.zeros_like(gradients[0], requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr, momentum=momentum, dampening=dampening,
                                foreach=False)
    path = []
    for g in gradients:
        theta.grad = g.clone()
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path)


@pytest.mark.parametrize("lr, beta", [(0.1, 0.9), (0.01, 0.99), (1.0, 0.0), (0.3, 0.5)])
def test_3_2_reference_makes_torch_follow_the_ema_path_at_every_step(lr, beta):
    gradients = torch.randn(25, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    torch_lr, momentum, dampening = momentum_checks.reference_ema_to_torch(lr, beta)
    torch.testing.assert_close(_torch_path(gradients, torch_lr, momentum, dampening),
                               _ema_path(gradients, lr, beta), rtol=1e-10, atol=1e-14)


def test_3_2_dampening_mapping_differs_from_the_first_step():
    gradients = torch.randn(5, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    lr, beta = 0.1, 0.9
    dampened = _torch_path(gradients, lr, beta, beta)
    ema = _ema_path(gradients, lr, beta)
    assert not torch.allclose(dampened[0], ema[0])
    torch.testing.assert_close(dampened[0] / ema[0], torch.full((3,), 1 / (1 - beta),
                                                                dtype=torch.float64))


def test_3_2_passes_and_fails():
    assert run_check("3.2", lambda lr, beta: (lr * (1 - beta), beta, 0)).passed
    result = run_check("3.2", lambda lr, beta: None)
    assert not result.passed and result.hint_id == "returned_none"
    assert run_check("3.2", lambda lr, beta: (_ for _ in ()).throw(NotImplementedError)).status \
        == "not_attempted"


@pytest.mark.parametrize(
    "wrong, hint_id",
    [
        (lambda lr, beta: (lr, beta, 0.0), "lr_unchanged"),
        (lambda lr, beta: (lr, beta, beta), "beta_as_dampening"),
        (lambda lr, beta: ((1 - beta) * lr, beta, beta), "beta_as_dampening_scaled_lr"),
        (lambda lr, beta: (lr / (1 - beta), beta, 0.0), "lr_divided"),
        (lambda lr, beta: (lr * (1 - beta), 1 - beta, 0.0), "one_minus_beta_as_momentum"),
    ],
)
def test_3_2_wrong_conversion_gets_its_hint(wrong, hint_id):
    result = run_check("3.2", wrong)
    assert not result.passed and result.hint_id == hint_id, result.report()


def test_3_2_beta_as_dampening_hint_explains_the_first_step():
    hint = run_check("3.2", lambda lr, beta: (lr, beta, beta)).hint
    assert "step 1" in hint and "b₁ = g₁" in hint


# --------------------------------------------------------------------------------------------
# 3.3 optimal heavy ball
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mu, L", [(0.01, 1.0), (1.0, 4.0), (0.5, 50.0), (1e-4, 2.0)])
def test_3_3_reference_attains_the_closed_form_rate_and_is_a_local_optimum(mu, L):
    lr, momentum = momentum_checks.reference_optimal_heavy_ball(mu, L)
    sqrt_kappa = math.sqrt(L / mu)
    best = quadratic_rate(lr, momentum, mu, L)
    assert best == pytest.approx((sqrt_kappa - 1) / (sqrt_kappa + 1), rel=1e-6)
    for d_lr, d_momentum in [(1.01, 1.0), (0.99, 1.0), (1.0, 1.01), (1.0, 0.99)]:
        assert quadratic_rate(lr * d_lr, min(momentum * d_momentum, 0.999999), mu, L) > best


def test_3_3_passes_and_fails():
    def learner(mu, L):
        kappa = L / mu
        return 4 / (math.sqrt(L) + math.sqrt(mu)) ** 2, ((kappa**0.5 - 1) / (kappa**0.5 + 1)) ** 2

    assert run_check("3.3", learner).passed
    result = run_check("3.3", lambda mu, L: (1 / L, 0.9))
    assert not result.passed and result.hint_id is None and "Expected:" in result.report()


def _sqrt_kappa(mu, L):
    return math.sqrt(L / mu)


@pytest.mark.parametrize(
    "wrong, hint_id",
    [
        (lambda mu, L: (2 / (L + mu), ((_sqrt_kappa(mu, L) - 1) / (_sqrt_kappa(mu, L) + 1)) ** 2),
         "gd_lr"),
        (lambda mu, L: (4 / (L**0.5 + mu**0.5) ** 2,
                        (_sqrt_kappa(mu, L) - 1) / (_sqrt_kappa(mu, L) + 1)), "beta_not_squared"),
        (lambda mu, L: (4 / (L**0.5 + mu**0.5),
                        ((_sqrt_kappa(mu, L) - 1) / (_sqrt_kappa(mu, L) + 1)) ** 2),
         "lr_not_squared"),
        (lambda mu, L: (4 / (L**0.5 + mu**0.5) ** 2, ((L / mu - 1) / (L / mu + 1)) ** 2),
         "kappa_without_sqrt"),
        (lambda mu, L: (4 / (L + mu), ((_sqrt_kappa(mu, L) - 1) / (_sqrt_kappa(mu, L) + 1)) ** 2),
         "lr_without_sqrt"),
        (lambda mu, L: (((_sqrt_kappa(mu, L) - 1) / (_sqrt_kappa(mu, L) + 1)) ** 2,
                        4 / (L**0.5 + mu**0.5) ** 2), "outputs_swapped"),
    ],
)
def test_3_3_wrong_formula_gets_its_hint(wrong, hint_id):
    result = run_check("3.3", wrong)
    assert not result.passed and result.hint_id == hint_id, result.report()


# --------------------------------------------------------------------------------------------
# 3.4 the first-step gap of the dampening conversion
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lr, beta", [(0.1, 0.9), (0.5, 0.0), (0.02, 0.99)])
def test_3_4_reference_equals_torch_minus_ema_after_one_step(lr, beta):
    gradient = torch.randn(1, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    gap = _torch_path(gradient, lr, beta, beta)[0] - _ema_path(gradient, lr, beta)[0]
    torch.testing.assert_close(momentum_checks.reference_dampened_first_step_gap(
        gradient[0], lr=lr, beta=beta), gap, rtol=1e-12, atol=1e-15)


def test_3_4_passes_and_fails():
    assert run_check("3.4", lambda grad, *, lr, beta: -lr * beta * grad).passed
    result = run_check("3.4", lambda grad, *, lr, beta: grad * 0.5)
    assert not result.passed and result.hint_id is None


@pytest.mark.parametrize(
    "wrong, hint_id",
    [
        (lambda grad, *, lr, beta: grad - grad, "no_gap"),
        (lambda grad, *, lr, beta: lr * beta * grad, "sign"),
        (lambda grad, *, lr, beta: -beta * grad, "without_lr"),
        (lambda grad, *, lr, beta: -lr * (1 - beta) * grad, "one_minus_beta"),
    ],
)
def test_3_4_wrong_gap_gets_its_hint(wrong, hint_id):
    result = run_check("3.4", wrong)
    assert not result.passed and result.hint_id == hint_id, result.report()
