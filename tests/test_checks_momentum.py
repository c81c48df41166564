"""Checkers 3.1-3.4 (notebook 03, momentum): they pass right answers, fail wrong ones, and each
hint fires on a deliberately wrong implementation written the way a learner would write it.

The references themselves are tested against torch.optim.SGD and closed forms, not numbers."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.exercises.checks import run_check
from course_lib.exercises.checks import momentum as momentum_checks
from course_lib.theory.momentum import heavy_ball_optimum, quadratic_rate

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
# 3.2 bias-corrected EMA -> torch's per-step learning rates
# --------------------------------------------------------------------------------------------


def _ema_path(gradients, lr, beta, *, bias_corrected=False):
    """The EMA form written out by hand: m_t = β m_{t−1} + (1−β) g_t, m_0 = 0, θ ← θ − α m_t
    (or − α m_t/(1 − β^t) with the bias correction)."""
    theta, m, path = torch.zeros_like(gradients[0]), torch.zeros_like(gradients[0]), []
    for t, g in enumerate(gradients, start=1):
        m = beta * m + (1 - beta) * g
        step = m / (1 - beta ** t) if bias_corrected else m
        theta = theta - lr * step
        path.append(theta)
    return torch.stack(path)


def _torch_path(gradients, lr, momentum, dampening, *, lrs=None):
    """torch.optim.SGD fed the gradients ``gradients``; with ``lrs``, the group's lr is set to
    lrs[t−1] before step t (torch reads it at every step)."""
    theta = torch.zeros_like(gradients[0], requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr, momentum=momentum, dampening=dampening,
                                foreach=False)
    path = []
    for t, g in enumerate(gradients, start=1):
        if lrs is not None:
            optimizer.param_groups[0]["lr"] = lrs[t - 1]
        theta.grad = g.clone()
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path)


def correct_bias_corrected_ema_lrs(lr, beta, steps):
    # a learner's answer, written independently of the reference
    lrs = []
    for t in range(steps):
        lrs.append(lr * (1 - beta) / (1 - beta ** (t + 1)))
    return lrs


@pytest.mark.parametrize("lr, beta, steps", [(0.1, 0.9, 25), (0.01, 0.99, 40), (1.0, 0.0, 5),
                                             (0.3, 0.5, 12), (0.2, 0.9, 1)])
def test_3_2_reference_makes_torch_follow_the_bias_corrected_ema_path(lr, beta, steps):
    gradients = torch.randn(steps, 3, generator=torch.Generator().manual_seed(2),
                            dtype=torch.float64)
    lrs = momentum_checks.reference_bias_corrected_ema_lrs(lr, beta, steps)
    assert len(lrs) == steps
    torch.testing.assert_close(_torch_path(gradients, lrs[0], beta, 0.0, lrs=lrs),
                               _ema_path(gradients, lr, beta, bias_corrected=True),
                               rtol=1e-12, atol=1e-15)


def test_3_2_reference_works_as_a_lambda_lr_schedule():
    # the way a learner would use it: LambdaLR multiplies the base lr (lrs[0]) by a factor
    lr, beta, steps = 0.05, 0.9, 30
    gradients = torch.randn(steps, 4, generator=torch.Generator().manual_seed(5),
                            dtype=torch.float64)
    lrs = momentum_checks.reference_bias_corrected_ema_lrs(lr, beta, steps)
    theta = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lrs[0], momentum=beta)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: lrs[min(k, steps - 1)] / lrs[0])
    path = []
    for g in gradients:
        theta.grad = g.clone()
        optimizer.step()
        schedule.step()
        path.append(theta.detach().clone())
    torch.testing.assert_close(torch.stack(path),
                               _ema_path(gradients, lr, beta, bias_corrected=True),
                               rtol=1e-12, atol=1e-15)


def test_3_2_constant_conversion_misses_the_bias_correction():
    # the lecture's lr = α(1−β) follows the *uncorrected* EMA, not the corrected one
    gradients = torch.randn(10, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    lr, beta = 0.1, 0.9
    plain = _torch_path(gradients, lr * (1 - beta), beta, 0.0)
    torch.testing.assert_close(plain, _ema_path(gradients, lr, beta), rtol=1e-12, atol=1e-15)
    assert not torch.allclose(plain, _ema_path(gradients, lr, beta, bias_corrected=True))


def test_3_2_passes_and_fails():
    assert run_check("3.2", correct_bias_corrected_ema_lrs).passed
    assert run_check("3.2", lambda lr, beta, steps: tuple(correct_bias_corrected_ema_lrs(
        lr, beta, steps))).passed
    result = run_check("3.2", lambda lr, beta, steps: None)
    assert not result.passed and result.hint_id == "returned_none"
    assert run_check("3.2", lambda lr, beta, steps: (_ for _ in ()).throw(
        NotImplementedError)).status == "not_attempted"
    # one lr too few (range(1, steps))
    assert not run_check("3.2", lambda lr, beta, steps: [
        lr * (1 - beta) / (1 - beta ** t) for t in range(1, steps)]).passed


def _off_by_one_numpy(lr, beta, steps):
    import numpy as np
    t = np.arange(1, steps + 1, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return list(lr * (1 - beta) / (1 - beta ** (t - 1)))


@pytest.mark.parametrize(
    "wrong, hint_id",
    [
        (lambda lr, beta, steps: [lr * (1 - beta)] * steps, "no_bias_correction"),
        (lambda lr, beta, steps: [lr for _ in range(steps)], "alpha_unchanged"),
        (_off_by_one_numpy, "exponent_off_by_one"),
        (lambda lr, beta, steps: [lr * (1 - beta) * (1 - beta ** t) for t in range(1, steps + 1)],
         "correction_multiplied"),
        (lambda lr, beta, steps: [lr / (1 - beta ** t) for t in range(1, steps + 1)],
         "dampening_style"),
    ],
)
def test_3_2_wrong_lrs_get_their_hint(wrong, hint_id):
    result = run_check("3.2", wrong)
    assert not result.passed and result.hint_id == hint_id, result.report()


def test_3_2_every_known_mistake_is_wrong_on_some_case():
    for mistake in momentum_checks.BIAS_CORRECTED_LRS_MISTAKES:
        assert not run_check("3.2", mistake.wrong_function).passed, mistake.hint_id


# --------------------------------------------------------------------------------------------
# 3.3 the best momentum at a given learning rate
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_3_3_reference_beats_every_momentum_on_a_grid(seed):
    rng = torch.Generator().manual_seed(seed)
    for _ in range(25):
        mu = 10 ** (-3 + 3 * torch.rand((), generator=rng).item())
        L = mu * 10 ** (0.3 + 2.7 * torch.rand((), generator=rng).item())
        lr = (0.05 + 3.9 * torch.rand((), generator=rng).item()) / L
        if lr * mu > 1:
            continue
        best = momentum_checks.reference_optimal_momentum(lr, mu, L)
        rate = quadratic_rate(lr, best, mu, L)
        assert rate == pytest.approx(math.sqrt(best), abs=1e-6)
        grid = [k / 2000 for k in range(2000)]
        assert rate <= min(quadratic_rate(lr, b, mu, L) for b in grid) + 1e-9


def test_3_3_at_polyaks_lr_it_is_polyaks_momentum():
    for mu, L in [(0.01, 1.0), (1.0, 4.0), (0.5, 50.0)]:
        lr, momentum = heavy_ball_optimum(mu, L)
        assert momentum_checks.reference_optimal_momentum(lr, mu, L) == pytest.approx(momentum)


def _torch_heavy_ball_error(lr, momentum, mu, L, steps=300):
    """‖θ‖ after ``steps`` of torch.optim.SGD(momentum) on ½(μθ₁² + Lθ₂²) from (1, 1)."""
    theta = torch.ones(2, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr, momentum=momentum)
    h = torch.tensor([mu, L], dtype=torch.float64)
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * h * theta ** 2).sum().backward()
        optimizer.step()
    return theta.detach().norm().item()


@pytest.mark.parametrize("lr", [1.0, 3.5])
def test_3_3_reference_is_fastest_in_a_torch_run(lr):
    best = momentum_checks.reference_optimal_momentum(lr, 0.01, 1.0)
    error = _torch_heavy_ball_error(lr, best, 0.01, 1.0)
    for other in (0.8 * best, 0.9 * best, min(0.999, 1.1 * best), min(0.999, 1.2 * best)):
        assert error < _torch_heavy_ball_error(lr, other, 0.01, 1.0)


def test_3_3_passes_and_fails():
    def learner(lr, mu, L):
        # both extreme curvatures inside the complex band (1 − √β)² ≤ ηh ≤ (1 + √β)²
        return max(1 - math.sqrt(lr * mu), math.sqrt(lr * L) - 1) ** 2

    assert run_check("3.3", learner).passed
    result = run_check("3.3", lambda lr, mu, L: 0.5)
    assert not result.passed and result.hint_id is None and "Expected:" in result.report()


@pytest.mark.parametrize(
    "wrong, hint_id",
    [
        (lambda lr, mu, L: ((math.sqrt(L / mu) - 1) / (math.sqrt(L / mu) + 1)) ** 2,
         "polyak_beta"),
        (lambda lr, mu, L: (1 - math.sqrt(lr * mu)) ** 2, "flat_side_only"),
        (lambda lr, mu, L: (1 - math.sqrt(lr * L)) ** 2, "steep_side_only"),
        (lambda lr, mu, L: max(1 - math.sqrt(lr * mu), math.sqrt(lr * L) - 1), "not_squared"),
        (lambda lr, mu, L: max(1 - lr * mu, lr * L - 1) ** 2, "without_square_roots"),
    ],
)
def test_3_3_wrong_formula_gets_its_hint(wrong, hint_id):
    result = run_check("3.3", wrong)
    assert not result.passed and result.hint_id == hint_id, result.report()


# --------------------------------------------------------------------------------------------
# 3.4 the gap the dampening conversion leaves after t steps
# --------------------------------------------------------------------------------------------


def simulated_dampened_gap(grads, *, lr, beta):
    # a learner's answer that runs both forms by hand
    b = m = theta_torch = theta_ema = None
    for t, g in enumerate(grads, start=1):
        if t == 1:
            b, m = g.clone(), (1 - beta) * g
            theta_torch, theta_ema = -lr * b, -lr * m
        else:
            b = beta * b + (1 - beta) * g
            m = beta * m + (1 - beta) * g
            theta_torch, theta_ema = theta_torch - lr * b, theta_ema - lr * m
    return theta_torch - theta_ema


@pytest.mark.parametrize("lr, beta, steps", [(0.1, 0.9, 1), (0.1, 0.9, 7), (0.5, 0.0, 4),
                                             (0.02, 0.99, 60)])
def test_3_4_reference_equals_torch_minus_ema_after_t_steps(lr, beta, steps):
    gradients = torch.randn(steps, 4, generator=torch.Generator().manual_seed(4),
                            dtype=torch.float64)
    gap = _torch_path(gradients, lr, beta, beta)[-1] - _ema_path(gradients, lr, beta)[-1]
    torch.testing.assert_close(momentum_checks.reference_dampened_gap(
        list(gradients), lr=lr, beta=beta), gap, rtol=1e-12, atol=1e-15)


def test_3_4_passes_and_fails():
    # simulating both optimizers gives the right value on ordinary cases but reads g₂, g₃, ...:
    # the cases with NaN later gradients fail it (issue 22: the dependence on g₁ alone is tested)
    assert not run_check("3.4", simulated_dampened_gap).passed
    assert run_check("3.4", lambda grads, *, lr, beta:
                     -lr * sum(beta ** k for k in range(1, len(grads) + 1)) * grads[0]).passed
    result = run_check("3.4", lambda grads, *, lr, beta: grads[0] * 0.5)
    assert not result.passed and result.hint_id is None


@pytest.mark.parametrize(
    "wrong, hint_id",
    [
        (lambda grads, *, lr, beta: -lr * beta / (1 - beta) * grads[0], "limit_at_finite_t"),
        (lambda grads, *, lr, beta: -lr * beta * grads[0], "first_step_only"),
        (lambda grads, *, lr, beta: -simulated_dampened_gap(grads, lr=lr, beta=beta), "sign"),
        (lambda grads, *, lr, beta: -lr * beta * (1 - beta ** len(grads)) / (1 - beta)
         * torch.stack(grads).sum(0), "all_gradients"),
        (lambda grads, *, lr, beta: -lr * beta * torch.stack(grads).sum(0), "every_step_gap"),
    ],
)
def test_3_4_wrong_gap_gets_its_hint(wrong, hint_id):
    result = run_check("3.4", wrong)
    assert not result.passed and result.hint_id == hint_id, result.report()


def test_3_4_every_known_mistake_is_wrong_on_some_case():
    for mistake in momentum_checks.DAMPENED_GAP_MISTAKES:
        assert not run_check("3.4", mistake.wrong_function).passed, mistake.hint_id


# --------------------------------------------------------------------------------------------
# the holes of issue 7 §3: aliasing, mutated inputs, a buffer at momentum 0
# --------------------------------------------------------------------------------------------


def aliasing_momentum_step(param, grad, state, *, lr, momentum, dampening=0.0):
    # the lecture's own warning: the buffer *is* the caller's gradient tensor
    if momentum != 0:
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = grad
        else:
            state["momentum_buffer"].mul_(momentum).add_(grad, alpha=1 - dampening)
        grad = state["momentum_buffer"]
    param.sub_(lr * grad)


def aliasing_a_view(param, grad, state, *, lr, momentum, dampening=0.0):
    if momentum != 0:
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = grad.view_as(grad)  # a view shares grad's memory
        else:
            state["momentum_buffer"].mul_(momentum).add_(grad, alpha=1 - dampening)
        grad = state["momentum_buffer"]
    param.sub_(lr * grad)


def buffer_at_momentum_zero(param, grad, state, *, lr, momentum, dampening=0.0):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"].mul_(momentum).add_(grad, alpha=1 - dampening)
    param.sub_(lr * state["momentum_buffer"])


def _zero_grad_reuse_run(step_fn, gradients, lr=0.1, momentum=0.9):
    """The training loop the aliasing breaks: one .grad tensor that zero_grad(set_to_none=False)
    zeroes and backward() refills, as torch does; returns the buffer after the last step."""
    param, state = torch.zeros(3, dtype=torch.float64), {}
    grad = torch.zeros(3, dtype=torch.float64)
    for g in gradients:
        grad.zero_()          # optimizer.zero_grad(set_to_none=False)
        grad.add_(g)          # loss.backward() accumulates into the zeroed .grad
        step_fn(param, grad, state, lr=lr, momentum=momentum)
    return state["momentum_buffer"]


def test_aliasing_really_corrupts_a_training_loop():
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    good = _zero_grad_reuse_run(correct_momentum_step, [g] * 3)
    bad = _zero_grad_reuse_run(aliasing_momentum_step, [g] * 3)
    torch.testing.assert_close(good, 2.71 * g)   # 1 + 0.9 + 0.81
    torch.testing.assert_close(bad, 1.8 * g)     # the numbers


@pytest.mark.parametrize("wrong", [aliasing_momentum_step, aliasing_a_view])
def test_3_1_buffer_that_aliases_grad_fails_with_the_clone_hint(wrong):
    result = run_check("3.1", wrong)
    assert not result.passed
    assert result.hint_id == "aliased_input", result.report()
    assert "clone" in result.hint and "grad" in result.reason


def test_3_1_buffer_kept_at_momentum_zero_fails_with_its_hint():
    result = run_check("3.1", buffer_at_momentum_zero)
    assert not result.passed
    assert result.hint_id == "buffer_at_momentum_0", result.report()
    assert "momentum 0" in result.failing_case


def test_3_4_gap_written_into_grad_fails():
    def in_first_gradient(grads, *, lr, beta):
        return grads[0].mul_(-lr * beta * (1 - beta ** len(grads)) / (1 - beta))
    result = run_check("3.4", in_first_gradient)
    assert not result.passed and result.hint_id == "changed_input", result.report()


def test_3_4_returning_a_view_of_the_first_gradient_is_not_an_answer():
    # gap == g₁ itself never holds for lr > 0, and the returned tensor must not be a view
    # of the caller's gradient
    assert not run_check("3.4", lambda grads, *, lr, beta: grads[0]).passed


@pytest.mark.parametrize("exercise_id, wrong", [
    ("3.2", lambda lr, beta, steps: (lr * (1 - beta), beta, 0.0, "extra")),
    ("3.2", lambda lr, beta, steps: lr * (1 - beta)),
    ("3.3", lambda lr, mu, L: None),
])
def test_3_2_3_3_odd_returns_fail(exercise_id, wrong):
    assert not run_check(exercise_id, wrong).passed


# --------------------------------------------------------------------------------------------
# 3.5 velocity form vs torch's after a step drop (predict, then measure)
# --------------------------------------------------------------------------------------------


def _keras_and_torch_steps(lr_before, lr_after, momentum, switch, total, grads):
    """A learner-independent replay: Keras' SGD formula by hand and torch.optim.SGD with a
    MultiStepLR, on the gradients ``grads``; returns the two lists of steps."""
    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=lr_before, momentum=momentum)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, [switch],
                                                    gamma=lr_after / lr_before)
    velocity, keras, ours = 0.0, [], []
    for t in range(total):
        lr = optimizer.param_groups[0]["lr"]
        before = param.item()
        param.grad = torch.tensor([grads[t]], dtype=torch.float64)
        optimizer.step()
        schedule.step()
        ours.append(param.item() - before)
        velocity = momentum * velocity - lr * grads[t]
        keras.append(velocity)
    return keras, ours


def predicted_steps_until_forms_agree(lr_before, lr_after, momentum, tol) -> int:
    """The closed form of 3.5 (kept here, not in the checker a learner can read): k steps after
    the drop the velocity step is 1 + (η₁/η₂ − 1)·β^k times torch's, so
    k = ⌈ln(tol / (η₁/η₂ − 1)) / ln β⌉."""
    return max(1, math.ceil(math.log(tol / (lr_before / lr_after - 1)) / math.log(momentum)))


def test_3_5_forms_agree_at_constant_lr_and_not_after_a_drop():
    grads = torch.randn(60, generator=torch.Generator().manual_seed(0)).tolist()
    keras, ours = _keras_and_torch_steps(0.1, 0.1, 0.9, 30, 60, grads)
    assert keras == pytest.approx(ours, rel=1e-12, abs=1e-15)
    keras, ours = _keras_and_torch_steps(0.1, 0.01, 0.9, 30, 60, grads)
    assert keras[:30] == pytest.approx(ours[:30], rel=1e-12, abs=1e-15)
    assert keras[30:] != pytest.approx(ours[30:], rel=0.05)


@pytest.mark.parametrize("lr_before, lr_after, momentum, tol", [
    (0.1, 0.01, 0.9, 0.01), (1.0, 0.5, 0.5, 1e-3), (0.02, 0.002, 0.99, 0.05), (0.1, 0.08, 0.95, 0.01)])
def test_3_5_measurement_equals_the_closed_form(lr_before, lr_after, momentum, tol):
    measured = momentum_checks.measure_steps_until_forms_agree(lr_before, lr_after, momentum, tol)
    assert measured == predicted_steps_until_forms_agree(
        lr_before, lr_after, momentum, tol)


@pytest.mark.parametrize("seed", [None, 0, 1, 2, "grader"])
def test_3_5_theory_passes_under_seeds(seed):
    assert run_check("3.5", predicted_steps_until_forms_agree, seed=seed).passed


def test_3_5_learner_solution_passes_unrounded():
    def steps_until_forms_agree(lr_before, lr_after, momentum, tol):
        return math.log(tol / (lr_before / lr_after - 1)) / math.log(momentum)  # not rounded

    assert run_check("3.5", steps_until_forms_agree).passed


@pytest.mark.parametrize("wrong, hint_id", [
    (lambda lr_before, lr_after, momentum, tol: 0, "agree_at_once"),
    (lambda lr_before, lr_after, momentum, tol: math.log(tol) / math.log(momentum),
     "without_lr_ratio"),
    (lambda lr_before, lr_after, momentum, tol: 1 / (1 - momentum), "memory_length"),
    (lambda lr_before, lr_after, momentum, tol: 1000, "prediction_off"),
])
def test_3_5_wrong_prediction_gets_its_hint(wrong, hint_id):
    result = run_check("3.5", wrong)
    assert not result.passed and result.hint_id == hint_id, result.report()


def test_3_6_is_a_written_answer():
    from course_lib.exercises.checks import REGISTRY
    assert run_check("3.6", print).status == "written"
    assert "flat direction" in REGISTRY["3.6"].prompt


# --------------------------------------------------------------------------------------------
# seeds
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", ["3.1", "3.2", "3.3", "3.4", "3.5"])
def test_two_seeds_give_different_cases_and_keep_the_edge_cases(exercise_id):
    from course_lib.exercises.checks import REGISTRY, discover
    discover()
    checker = REGISTRY[exercise_id]
    first, second = checker.make_cases(31), checker.make_cases(32)
    values = [[repr(sorted((k, repr(v)) for k, v in c.inputs.items())) for c in cases]
              for cases in (first, second)]
    assert values[0] != values[1]
    assert {c.description for c in checker.make_cases(None)} & {c.description for c in first}


@pytest.mark.parametrize("seed", range(15))
def test_references_pass_under_many_seeds(seed):
    assert run_check("3.1", correct_momentum_step, seed=seed).passed
    assert run_check("3.2", correct_bias_corrected_ema_lrs, seed=seed).passed
    assert run_check("3.3", momentum_checks.reference_optimal_momentum, seed=seed).passed
    assert run_check("3.4", momentum_checks.reference_dampened_gap, seed=seed).passed


def test_3_5_the_lr_ratio_instead_of_its_excess_fails_with_its_hint():
    def steps_until_forms_agree(lr_before, lr_after, momentum, tol):
        return math.log(tol * lr_after / lr_before) / math.log(momentum)

    result = run_check("3.5", steps_until_forms_agree)
    assert not result.passed and result.hint_id == "ratio_not_excess"


def test_3_4_simulating_both_optimizers_does_not_pass():
    # a learner who runs torch's dampened SGD and the EMA side by side, instead of deriving which
    # gradients the gap depends on: the NaN cases catch it
    def dampened_gap(grads, *, lr, beta):
        theta_torch, theta_ema = torch.zeros_like(grads[0]), torch.zeros_like(grads[0])
        buffer, m = None, torch.zeros_like(grads[0])
        for g in grads:
            buffer = g.clone() if buffer is None else beta * buffer + (1 - beta) * g
            m = beta * m + (1 - beta) * g
            theta_torch = theta_torch - lr * buffer
            theta_ema = theta_ema - lr * m
        return theta_torch - theta_ema

    result = run_check("3.4", dampened_gap)
    assert not result.passed and "NaN" in result.failing_case


def test_3_4_a_gap_of_the_first_gradient_alone_passes_the_nan_cases():
    def dampened_gap(grads, *, lr, beta):
        return -lr * sum(beta ** k for k in range(1, len(grads) + 1)) * grads[0]

    assert run_check("3.4", dampened_gap).passed
