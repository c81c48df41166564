"""Checkers 1.1-1.3: the references equal torch / a simulation, and each hint is reachable from
a wrong implementation written the way a learner would write it."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.checks import run_check
from course_lib.checks.gradient_descent import (
    _random_spd,
    contraction_factor,
    reference_gd_step,
    reference_largest_stable_lr,
    reference_steps_to_tolerance,
)

# ---------------------------------------------------------------- 1.1 gd_step


def test_reference_gd_step_equals_torch_sgd():
    for dtype in (torch.float32, torch.float64):
        param = torch.randn(3, 4, dtype=dtype, generator=torch.Generator().manual_seed(0))
        grad = torch.randn(3, 4, dtype=dtype, generator=torch.Generator().manual_seed(1))
        ours = param.clone()
        reference_gd_step(ours, grad, 0.05)
        theirs = param.clone().requires_grad_()
        theirs.grad = grad.clone()
        torch.optim.SGD([theirs], lr=0.05, foreach=False).step()
        torch.testing.assert_close(ours, theirs.detach(), rtol=0, atol=0)


def test_gd_step_passes_with_a_learner_solution():
    def gd_step(param, grad, lr):
        param -= lr * grad

    result = run_check("1.1", gd_step)
    assert result.passed and result.n_cases >= 15


@pytest.mark.parametrize("hint_id, wrong", [
    ("ascent", lambda param, grad, lr: param.add_(lr * grad)),
    ("no_lr", lambda param, grad, lr: param.sub_(grad)),
    ("lr_times_param", lambda param, grad, lr: param.sub_(param * lr * grad)),
    ("updated_a_copy", lambda param, grad, lr: param - lr * grad),
    ("changed_input", lambda param, grad, lr: param.sub_(grad.mul_(lr))),
])
def test_gd_step_hints(hint_id, wrong):
    result = run_check("1.1", wrong)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_gd_step_wrong_dtype_is_named():
    def in_float64(param, grad, lr):
        param.copy_(param.double() - lr * grad.double())  # in place, but computed in float64
        return None

    assert run_check("1.1", in_float64).passed  # copy_ casts back: the stored dtype is right

    def returns_float64(param, grad, lr):
        return param.double() - lr * grad

    assert run_check("1.1", returns_float64).hint_id == "updated_a_copy"


def test_gd_step_stub_is_not_attempted():
    def gd_step(param, grad, lr):
        raise NotImplementedError("Exercise 1.1: replace this line with your code")

    assert run_check("1.1", gd_step).status == "not_attempted"


# ---------------------------------------------------------------- 1.2 largest stable lr


def _gd_distance(hessian, lr, steps=400):
    """|θ_steps| for GD on ½θᵀHθ from θ₀ = (1, ..., 1)."""
    theta = torch.ones(hessian.shape[0], dtype=torch.float64)
    for _ in range(steps):
        theta = theta - lr * hessian @ theta
    return theta.norm().item()


@pytest.mark.parametrize("size, condition_number", [(1, 1.0), (2, 10.0), (4, 100.0)])
def test_largest_stable_lr_is_the_edge_of_divergence_in_simulation(size, condition_number):
    hessian = _random_spd(size, condition_number, torch.Generator().manual_seed(size),
                          torch.float64)
    limit = reference_largest_stable_lr(hessian)
    assert _gd_distance(hessian, 0.98 * limit) < 1.0   # shrinks from |θ₀| = √n ≥ 1
    assert _gd_distance(hessian, 1.02 * limit) > 1e3   # blows up


def test_largest_stable_lr_passes_with_a_learner_solution():
    def largest_stable_lr(hessian):
        return 2 / torch.linalg.eigvalsh(hessian)[-1]  # a 0-dim tensor is accepted

    assert run_check("1.2", largest_stable_lr).passed


@pytest.mark.parametrize("hint_id, wrong", [
    ("lambda_min", lambda hessian: 2 / torch.linalg.eigvalsh(hessian)[0].item()),
    ("one_over_L", lambda hessian: 1 / torch.linalg.eigvalsh(hessian).max().item()),
    ("diagonal", lambda hessian: 2 / torch.diagonal(hessian).max().item()),
    ("inverted", lambda hessian: torch.linalg.eigvalsh(hessian).max().item() / 2),
    ("returned_none", lambda hessian: None),
])
def test_largest_stable_lr_hints(hint_id, wrong):
    result = run_check("1.2", wrong)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_largest_stable_lr_with_a_plain_wrong_answer_has_no_hint():
    result = run_check("1.2", lambda hessian: 1.0)
    assert not result.passed and result.hint_id is None


# ---------------------------------------------------------------- 1.3 steps to tolerance


def _simulated_steps(hessian, lr, tol, max_steps=100_000):
    """Steps GD needs from the worst start (the slowest eigenvector) until |θ_k| ≤ tol·|θ₀|."""
    eigenvalues, eigenvectors = torch.linalg.eigh(hessian)
    theta = eigenvectors[:, (1 - lr * eigenvalues).abs().argmax()].clone()
    for k in range(max_steps + 1):
        if theta.norm().item() <= tol * (1 + 1e-12):
            return k
        theta = theta - lr * hessian @ theta
    return math.inf


@pytest.mark.parametrize("seed", range(6))
def test_steps_formula_equals_simulation_from_the_worst_start(seed):
    rng = torch.Generator().manual_seed(seed)
    hessian = _random_spd(2 + seed % 3, 5.0 + 10 * seed, rng, torch.float64)
    lam_max = torch.linalg.eigvalsh(hessian).max().item()
    for fraction in (0.1, 0.7, 1.0, 1.9):
        lr = fraction / lam_max
        tol = 10.0 ** -(2 + seed)
        assert reference_steps_to_tolerance(hessian, lr, tol) == _simulated_steps(hessian, lr, tol)


def test_steps_edge_cases():
    hessian = torch.diag(torch.tensor([1.0, 10.0], dtype=torch.float64))
    assert reference_steps_to_tolerance(hessian, 0.1, 1.0) == 0
    assert reference_steps_to_tolerance(hessian, 0.2, 1e-3) == math.inf  # ρ = 1 exactly
    assert contraction_factor(hessian, 2 / 11) == pytest.approx(9 / 11)
    one_step = torch.tensor([[2.0]], dtype=torch.float64)
    assert reference_steps_to_tolerance(one_step, 0.5, 1e-9) == 1 == _simulated_steps(
        one_step, 0.5, 1e-9)


def _learner_steps(hessian, lr, tol):
    if tol >= 1:
        return 0
    lam = torch.linalg.eigvalsh(hessian)
    rho = max(abs(1 - lr * lam[0].item()), abs(1 - lr * lam[-1].item()))
    if rho >= 1:
        return math.inf
    if rho == 0:
        return 1
    return math.ceil(math.log(tol) / math.log(rho))


def test_steps_passes_with_a_learner_solution():
    assert run_check("1.3", _learner_steps).passed


def _steps_with_rho(rho_of):
    def steps(hessian, lr, tol):
        rho = rho_of(torch.linalg.eigvalsh(hessian), lr)
        if tol >= 1:
            return 0
        return math.inf if rho >= 1 else math.ceil(math.log(tol) / math.log(rho))
    return steps


@pytest.mark.parametrize("hint_id, wrong", [
    ("plus_one", lambda hessian, lr, tol: _learner_steps(hessian, lr, tol) + 1),
    ("floor", lambda hessian, lr, tol: int(math.log(tol) / math.log(
        contraction_factor(hessian, lr)))),
    ("lambda_max_only", _steps_with_rho(lambda lam, lr: abs(1 - lr * lam[-1].item()))),
    ("lambda_min_only", _steps_with_rho(lambda lam, lr: abs(1 - lr * lam[0].item()))),
])
def test_steps_hints(hint_id, wrong):
    result = run_check("1.3", wrong)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_steps_returning_a_fraction_is_told_to_round():
    def unrounded(hessian, lr, tol):
        if tol >= 1:
            return 0
        return math.log(tol) / math.log(contraction_factor(hessian, lr))

    result = run_check("1.3", unrounded)
    assert "expected a whole number" in result.reason
