"""Checkers 1.1-1.4: the references equal torch / a simulation, the 1.2 measurement finds the
theory's limit by running torch.optim.SGD, and each hint is reachable from a wrong
implementation written the way a learner would write it."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.exercises.checks import REGISTRY, discover, run_check
from course_lib.exercises.checks.gradient_descent import (
    measure_largest_stable_lr,
    measure_steps_from_zero,
    predicted_largest_stable_lr,
    predicted_steps_from_zero,
    reference_gd_step,
)

discover()

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


# ---------------------------------------------------------------- 1.2 largest stable lr (predict)


def _gd_final_loss(x, y, lr, steps=3000):
    """Full-batch torch.optim.SGD on mse_loss(x @ w, y) from w = 1: the final loss / the first."""
    w = torch.ones(x.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr)
    first = None
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(x @ w, y)
        first = loss.item() if first is None else first
        loss.backward()
        optimizer.step()
    return torch.nn.functional.mse_loss(x @ w, y).item() / first


@pytest.mark.parametrize("seed", range(3))
def test_1_2_theory_is_the_edge_of_divergence_of_torch_sgd(seed):
    """The closed form n/λ_max(XᵀX) is where a plain torch.optim.SGD loop starts to diverge."""
    rng = torch.Generator().manual_seed(seed)
    x = torch.randn(30, 3, generator=rng, dtype=torch.float64) + 0.3
    y = torch.randn(30, generator=rng, dtype=torch.float64)
    limit = predicted_largest_stable_lr(x, y)
    assert _gd_final_loss(x, y, 0.97 * limit) < 1.0
    assert not _gd_final_loss(x, y, 1.03 * limit) < 1e3


@pytest.mark.parametrize("seed", [None, 0, 1, 2, "grader"])
def test_1_2_measurement_agrees_with_the_theory_and_the_theory_passes(seed):
    for case in REGISTRY["1.2"].make_cases(seed):
        measured = measure_largest_stable_lr(**case.inputs)
        assert measured == pytest.approx(predicted_largest_stable_lr(**case.inputs), rel=0.03)
    assert run_check("1.2", predicted_largest_stable_lr, seed=seed).passed


def test_1_2_passes_with_a_learner_solution():
    def largest_stable_lr(x, y):
        hessian = 2 * x.T @ x / len(x)           # mse_loss = mean of squares, no ½
        return 2 / torch.linalg.eigvalsh(hessian)[-1]   # a 0-dim tensor is accepted

    assert run_check("1.2", largest_stable_lr).passed


def _gram_max(x):
    return torch.linalg.eigvalsh(x.T @ x)[-1].item()


@pytest.mark.parametrize("hint_id, wrong", [
    ("forgot_the_two", lambda x, y: 2 / torch.linalg.eigvalsh(x.T @ x / len(x))[-1].item()),
    ("sum_not_mean", lambda x, y: 2 / torch.linalg.eigvalsh(2 * x.T @ x)[-1].item()),
    ("one_over_L", lambda x, y: 1 / torch.linalg.eigvalsh(2 * x.T @ x / len(x))[-1].item()),
    ("lambda_min", lambda x, y: 2 / torch.linalg.eigvalsh(2 * x.T @ x / len(x))[0].item()),
    ("diagonal", lambda x, y: 2 / (2 * x.T @ x / len(x)).diagonal().max().item()),
    ("returned_none", lambda x, y: None),
    ("prediction_off", lambda x, y: 1.0),
])
def test_1_2_wrong_prediction_gets_its_hint(hint_id, wrong):
    result = run_check("1.2", wrong)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()
    assert "measured by running the optimizer" in result.expected


def test_1_2_prediction_that_changes_x_fails():
    def scales_x(x, y):
        x.mul_(0.5)  # "normalise" the data in place: the caller's tensor changes
        return 2 / torch.linalg.eigvalsh(8 * x.T @ x / len(x))[-1].item()

    result = run_check("1.2", scales_x)
    assert not result.passed and result.hint_id == "changed_input", result.report()


def test_1_2_y_plays_no_part():
    x = torch.randn(20, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    first = measure_largest_stable_lr(x, torch.zeros(20, dtype=torch.float64))
    second = measure_largest_stable_lr(x, 100 * torch.randn(20, dtype=torch.float64))
    assert first == pytest.approx(second, rel=0.03)


# ---------------------------------------------------------------- 1.3 steps from w = 0 (predict)


def _simulated_steps_from_zero(x, y, lr, tol, max_steps=100_000):
    """Plain GD written out in float64 (w ← w − lr·(2/n)Xᵀ(Xw − y)), w* by numpy's lstsq."""
    import numpy as np

    xn, yn = x.numpy(), y.numpy()
    w_star = np.linalg.lstsq(xn, yn, rcond=None)[0]
    w = np.zeros(xn.shape[1])
    for step in range(1, max_steps + 1):
        w = w - lr * 2 / len(xn) * xn.T @ (xn @ w - yn)
        if np.linalg.norm(w - w_star) <= tol * np.linalg.norm(w_star):
            return step
    return math.inf


@pytest.mark.parametrize("seed", [None, 0, 1, "grader"])
def test_1_3_measure_equals_closed_form_and_a_numpy_loop(seed):
    for case in REGISTRY["1.3"].make_cases(seed):
        measured = measure_steps_from_zero(**case.inputs)
        assert abs(measured - predicted_steps_from_zero(**case.inputs)) <= 1
        assert abs(measured - _simulated_steps_from_zero(**case.inputs)) <= 1
    assert run_check("1.3", predicted_steps_from_zero, seed=seed).passed


def _learner_steps_from_zero(x, y, lr, tol):
    """A learner's closed form: follow each eigen-direction's part of the starting error."""
    hessian = 2 * x.T @ x / len(x)
    eigenvalues, eigenvectors = torch.linalg.eigh(hessian)
    w_star = torch.linalg.lstsq(x, y.unsqueeze(1)).solution.squeeze(1)
    parts = eigenvectors.T @ w_star
    k = 0
    while ((parts * (1 - lr * eigenvalues) ** k) ** 2).sum().sqrt() > tol * w_star.norm():
        k += 1
    return k


def test_1_3_learner_solution_passes():
    assert run_check("1.3", _learner_steps_from_zero).passed


def _worst_start_count(x, y, lr, tol):
    """The lecture's recipe: ρ = max |1 − lr·λ|, k = ⌈ln tol / ln ρ⌉."""
    eigenvalues = torch.linalg.eigvalsh(2 * x.T @ x / len(x))
    rho = (1 - lr * eigenvalues).abs().max().item()
    return math.ceil(math.log(tol) / math.log(rho))


@pytest.mark.parametrize("hint_id, wrong", [
    ("worst_start", _worst_start_count),
    ("forgot_the_two", lambda x, y, lr, tol: _learner_steps_from_zero(x, y, lr / 2, tol)),
    ("prediction_off", lambda x, y, lr, tol: 30),
])
def test_1_3_hints(hint_id, wrong):
    result = run_check("1.3", wrong)
    assert not result.passed
    assert result.hint_id == hint_id, result.report()


def test_1_3_log_of_zero_gets_a_hint_not_a_bare_error():
    def skips_the_first_cases(x, y, lr, tol):
        if x.shape == (4, 2) and lr == 1.0:
            return _worst_start_count(x, y, lr, tol)     # ρ = 0: math.log(0)
        return _learner_steps_from_zero(x, y, lr, tol)

    result = run_check("1.3", skips_the_first_cases)
    assert result.status == "error" and "math domain error" in result.reason
    assert result.hint_id == "log_of_zero" and "one step" in result.hint


def test_1_3_function_that_changes_x_fails():
    def rescales_x(x, y, lr, tol):
        x.mul_(1.0)
        y.mul_(2.0)                                      # w* doubles: the same count, a changed input
        return _learner_steps_from_zero(x, y, lr, tol)

    result = run_check("1.3", rescales_x)
    assert not result.passed and result.hint_id == "changed_input", result.report()


# ---------------------------------------------------------------- seeds, and 1.4


@pytest.mark.parametrize("exercise_id", ["1.1", "1.2", "1.3"])
def test_two_seeds_give_different_cases_and_the_edge_cases_stay(exercise_id):
    checker = REGISTRY[exercise_id]
    default, first, second = (checker.make_cases(s) for s in (None, 11, 12))
    assert [c.description for c in default] == [c.description for c in checker.make_cases(None)]
    assert _case_values(first) != _case_values(second)
    fixed = {c.description for c in default} & {c.description for c in first}
    assert fixed, "the fixed edge cases must be there whatever the seed"


def _case_values(cases):
    return [repr(sorted((k, repr(v)) for k, v in c.inputs.items())) for c in cases]


@pytest.mark.parametrize("seed", range(15))
def test_references_pass_under_many_seeds(seed):
    assert run_check("1.1", reference_gd_step, seed=seed).passed
    assert run_check("1.3", predicted_steps_from_zero, seed=seed).passed


def test_1_4_is_a_written_answer():
    result = run_check("1.4", lambda: None)
    assert result.status == "written" and not result.passed
    assert "three sentences" in REGISTRY["1.4"].prompt
