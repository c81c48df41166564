r"""Checkers for notebook 01, gradient descent: exercises 1.1 to 1.4.

1.1 ``gd_step(param, grad, lr)``: one gradient-descent step in place,
    :math:`\theta \leftarrow \theta - \eta\, g` (``course_lib.optim.sgd_update`` with
    ``momentum=0``). The one "write the update" exercise of the notebook.
1.2 *predict, then measure* ``largest_stable_lr(x, y)``: the largest learning rate at which
    full-batch gradient descent on ``mse_loss(x @ w, y)`` converges. The learner derives it (the
    Hessian is :math:`\frac2n X^\top X`, so :math:`\eta < n/\lambda_{\max}(X^\top X)`); the check
    runs ``torch.optim.SGD`` over a grid of learning rates and finds the limit (``_measure``).
1.3 ``steps_to_tolerance(hessian, lr, tol)``: the error contracts by at most
    :math:`\rho = \max_i |1 - \eta \lambda_i|` per step (and by exactly :math:`\rho` from the
    worst start), so the number of steps until :math:`\lVert\theta_k\rVert \le
    \text{tol}\,\lVert\theta_0\rVert` is :math:`k = \lceil \ln(\text{tol}) / \ln\rho \rceil`.
1.4 written answer: why the steepest direction sets the largest stable learning rate while the
    flattest one sets the number of steps, and what that means as κ grows.

Notation (docs/notation.md): η learning rate (``lr``), μ and L the smallest and largest
curvature, κ = L/μ.
"""

from __future__ import annotations

import math

import torch

from ._framework import Case, KnownMistake, in_place, register, register_prediction, register_written
from ._measure import measured_largest_stable_lr_sgd

# --------------------------------------------------------------------------------------------
# 1.1 gd_step
# --------------------------------------------------------------------------------------------


def reference_gd_step(param: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
    """θ ← θ − lr·g, by the course's SGD with no momentum (what torch.optim.SGD computes)."""
    from course_lib.optim.sgd import sgd_update  # imported on use: checks load without optim

    sgd_update(param, grad, {}, lr=lr)


def _gd_ascent(param, grad, lr):
    param.add_(lr * grad)


def _gd_without_lr(param, grad, lr):
    param.sub_(grad)


def _gd_lr_times_param(param, grad, lr):
    param.sub_(lr * param * grad)


@register(
    "1.1",
    reference=reference_gd_step,
    call=in_place("param"),
    mistakes=[
        KnownMistake("ascent", _gd_ascent,
                     "You moved along +grad. The gradient points uphill; descent subtracts it: "
                     "θ ← θ − lr·g."),
        KnownMistake("no_lr", _gd_without_lr,
                     "The step is the whole gradient: multiply it by the learning rate first, "
                     "θ ← θ − lr·g."),
        KnownMistake("lr_times_param", _gd_lr_times_param,
                     "The step lr·g does not depend on θ itself: subtract lr * grad, "
                     "not lr * param * grad."),
    ],
)
def gd_step_cases(rng: torch.Generator):
    for dtype in (torch.float32, torch.float64):
        for shape in [(5,), (3, 4), (2, 3, 2)]:
            for lr in (0.1, 0.013):
                yield Case(f"random {_shape_name(shape)} {_dtype_name(dtype)} tensor, lr={lr}",
                           param=torch.randn(shape, generator=rng, dtype=dtype),
                           grad=torch.randn(shape, generator=rng, dtype=dtype), lr=lr)
        yield Case(f"0-dim (scalar) {_dtype_name(dtype)} parameter",
                   param=torch.tensor(1.5, dtype=dtype), grad=torch.tensor(-0.5, dtype=dtype),
                   lr=0.2)
        yield Case(f"zero gradient ({_dtype_name(dtype)}): the parameter must not move",
                   param=torch.randn(4, generator=rng, dtype=dtype),
                   grad=torch.zeros(4, dtype=dtype), lr=0.5)
        yield Case(f"large values ({_dtype_name(dtype)})",
                   param=1e6 * torch.randn(6, generator=rng, dtype=dtype),
                   grad=1e4 * torch.randn(6, generator=rng, dtype=dtype), lr=3.0)
    yield Case("lr = 0: nothing moves", param=torch.randn(3, generator=rng),
               grad=torch.randn(3, generator=rng), lr=0.0)


# --------------------------------------------------------------------------------------------
# 1.2 largest stable learning rate of least squares: predict, then measure
# --------------------------------------------------------------------------------------------


def measure_largest_stable_lr(x: torch.Tensor, y: torch.Tensor) -> float:
    """The truth for 1.2: full-batch ``torch.optim.SGD`` on ``mse_loss(x @ w, y)`` run over a
    grid of learning rates (``_measure``); the largest one that does not diverge."""
    return measured_largest_stable_lr_sgd(x, y, batch_size=len(x))


def predicted_largest_stable_lr(x: torch.Tensor, y: torch.Tensor) -> float:
    r"""The theory's answer: the loss :math:`\frac1n\lVert Xw - y\rVert^2` has Hessian
    :math:`H = \frac2n X^\top X`, so GD is stable exactly for
    :math:`\eta < 2/\lambda_{\max}(H) = n/\lambda_{\max}(X^\top X)` (``y`` plays no part)."""
    x = x.double()
    return len(x) / torch.linalg.eigvalsh(x.T @ x).max().item()


def _gram_eigenvalues(x):
    x = x.double()
    return torch.linalg.eigvalsh(x.T @ x)


def _lr_forgot_the_two(x, y):
    return 2 * len(x) / _gram_eigenvalues(x).max().item()


def _lr_sum_not_mean(x, y):
    return 1.0 / _gram_eigenvalues(x).max().item()


def _lr_one_over_L(x, y):
    return len(x) / (2 * _gram_eigenvalues(x).max().item())


def _lr_lambda_min(x, y):
    return len(x) / _gram_eigenvalues(x).min().item()


def _lr_from_diagonal(x, y):
    x = x.double()
    return len(x) / (x * x).sum(0).max().item()


LARGEST_STABLE_LR_MISTAKES = [
    KnownMistake("forgot_the_two", _lr_forgot_the_two,
                 "Your limit is twice too large: mse_loss is the mean of (x·w − y)² without a ½. "
                 "Differentiate it twice yourself and compare the factor in front of XᵀX with "
                 "the one you used."),
    KnownMistake("sum_not_mean", _lr_sum_not_mean,
                 "Your limit is n times too small: mse_loss averages over the n samples (the "
                 "mean, not the sum), and that 1/n stays in front of XᵀX in its Hessian."),
    KnownMistake("one_over_L", _lr_one_over_L,
                 "1/L is the classic *safe* step (it never overshoots along the steepest "
                 "direction), but gradient descent stays stable up to twice that: it diverges "
                 "only when |1 − η·L| > 1."),
    KnownMistake("lambda_min", _lr_lambda_min,
                 "You used the smallest eigenvalue. The steepest direction (the largest "
                 "eigenvalue L of the Hessian) is the first to oscillate out of control."),
    KnownMistake("diagonal", _lr_from_diagonal,
                 "You used the largest diagonal entry of XᵀX. It equals the largest eigenvalue "
                 "only when the features are uncorrelated; use the eigenvalues "
                 "(torch.linalg.eigvalsh)."),
]


@register_prediction(
    "1.2",
    measure=measure_largest_stable_lr,
    rtol=0.05,
    explain=("Find the Hessian of this loss first: mse_loss(x @ w, y) = (1/n)·‖Xw − y‖² is a "
             "quadratic in w, so gradient descent multiplies each eigen-direction of its Hessian "
             "by (1 − η·λ) per step. Which direction breaks first, and at what η?"),
    mistakes=LARGEST_STABLE_LR_MISTAKES,
)
def largest_stable_lr_cases(rng: torch.Generator):
    x = torch.tensor([[1.0, 0.0], [0.0, 3.0], [1.0, 1.0]], dtype=torch.float64)
    yield Case("3 samples, 2 features, no intercept", x=x,
               y=torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64))
    yield Case("1 feature: the model y ≈ w·x", x=torch.tensor([[1.0], [2.0], [-0.5], [1.5]],
                                                             dtype=torch.float64),
               y=torch.tensor([2.0, 4.1, -1.0, 2.9], dtype=torch.float64))
    for n, d, intercept in [(40, 3, True), (200, 5, True), (25, 2, False)]:
        scales = 10 ** (2 * torch.rand(d, generator=rng, dtype=torch.float64) - 1)
        x = (torch.randn(n, d, generator=rng, dtype=torch.float64) + 0.5) * scales
        if intercept:
            x[:, 0] = 1.0
        y = x @ torch.randn(d, generator=rng, dtype=torch.float64) \
            + 0.1 * torch.randn(n, generator=rng, dtype=torch.float64)
        yield Case(f"{n} samples, {d} correlated features" + (" (the first is a column of "
                   "ones: an intercept)" if intercept else ""), x=x, y=y)


# --------------------------------------------------------------------------------------------
# 1.3 steps to reach a tolerance
# --------------------------------------------------------------------------------------------


def contraction_factor(hessian: torch.Tensor, lr: float) -> float:
    """ρ = max_i |1 − lr·λ_i|: the worst per-step shrink factor of GD on ½θᵀHθ."""
    eigenvalues = torch.linalg.eigvalsh(hessian.double())
    return (1.0 - lr * eigenvalues).abs().max().item()


def reference_steps_to_tolerance(hessian: torch.Tensor, lr: float, tol: float) -> float | int:
    """Smallest k with ρᵏ ≤ tol: ⌈ln tol / ln ρ⌉; 0 when tol ≥ 1; math.inf when ρ ≥ 1."""
    if tol >= 1.0:
        return 0
    rho = contraction_factor(hessian, lr)
    if rho >= 1.0:
        return math.inf
    if rho == 0.0:
        return 1  # lr = 1/λ in every direction: one step lands exactly on the minimum
    return math.ceil(math.log(tol) / math.log(rho))


def _steps_plus_one(hessian, lr, tol):
    return reference_steps_to_tolerance(hessian, lr, tol) + 1


def _steps_floor(hessian, lr, tol):
    rho = contraction_factor(hessian, lr)
    return math.floor(math.log(tol) / math.log(rho))


def _steps_lambda_max_only(hessian, lr, tol):
    rho = abs(1.0 - lr * torch.linalg.eigvalsh(hessian.double()).max().item())
    return math.inf if rho >= 1 else math.ceil(math.log(tol) / math.log(rho))


def _steps_lambda_min_only(hessian, lr, tol):
    rho = abs(1.0 - lr * torch.linalg.eigvalsh(hessian.double()).min().item())
    return math.inf if rho >= 1 else math.ceil(math.log(tol) / math.log(rho))


@register(
    "1.3",
    reference=reference_steps_to_tolerance,
    mistakes=[
        KnownMistake("plus_one", _steps_plus_one,
                     "Off by one: after k steps the error is at most ρᵏ·‖θ₀‖, so you need the "
                     "smallest k with ρᵏ ≤ tol, which is ⌈ln tol / ln ρ⌉ (no extra step)."),
        KnownMistake("floor", _steps_floor,
                     "Off by one: rounding down stops one step early (ρᵏ is still above tol). "
                     "Round up: k = ⌈ln tol / ln ρ⌉."),
        KnownMistake("lambda_max_only", _steps_lambda_max_only,
                     "You used only the largest eigenvalue. With a small lr the slow direction "
                     "is the *smallest* eigenvalue: ρ = max(|1 − lr·λ_min|, |1 − lr·λ_max|)."),
        KnownMistake("lambda_min_only", _steps_lambda_min_only,
                     "You used only the smallest eigenvalue. Near lr = 2/L the largest "
                     "eigenvalue oscillates and is the slowest: ρ = max(|1 − lr·λ_min|, "
                     "|1 − lr·λ_max|)."),
    ],
)
def steps_to_tolerance_cases(rng: torch.Generator):
    diag = torch.diag(torch.tensor([1.0, 10.0], dtype=torch.float64))
    yield Case("diagonal (1, 10), small lr = 0.05: the flat direction is slowest",
               hessian=diag, lr=0.05, tol=1e-3)
    yield Case("diagonal (1, 10), lr = 0.19 close to 2/L: the steep direction is slowest",
               hessian=diag, lr=0.19, tol=1e-3)
    yield Case("diagonal (1, 10), optimal lr = 2/(μ+L)", hessian=diag, lr=2 / 11, tol=1e-6)
    yield Case("tol = 1: already there, 0 steps", hessian=diag, lr=0.1, tol=1.0)
    yield Case("lr above 2/L: never converges (math.inf)", hessian=diag, lr=0.25, tol=1e-3)
    yield Case("1x1 Hessian [[2.]], lr = 0.5: one step lands on the minimum",
               hessian=torch.tensor([[2.0]], dtype=torch.float64), lr=0.5, tol=1e-8)
    produced = 0
    while produced < 6:
        size = 2 + produced % 3
        hessian = _random_spd(size, float(torch.empty(()).uniform_(2, 100, generator=rng)), rng,
                              torch.float64)
        lam_max = torch.linalg.eigvalsh(hessian).max().item()
        lr = float(torch.empty(()).uniform_(0.05, 1.95, generator=rng)) / lam_max
        tol = 10.0 ** -float(torch.empty(()).uniform_(2, 8, generator=rng))
        ratio = math.log(tol) / math.log(contraction_factor(hessian, lr))
        if abs(ratio - round(ratio)) < 1e-6:
            continue  # too close to a whole number: rounding could legitimately go either way
        produced += 1
        yield Case(f"rotated {size}x{size} Hessian, lr = {lr * lam_max:.2f}/L, tol = {tol:.1e}",
                   hessian=hessian, lr=lr, tol=tol)


# --------------------------------------------------------------------------------------------
# 1.4 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "1.4",
    prompt="In three sentences: on a quadratic with curvatures from μ to L, why does the "
           "steepest direction decide the largest stable learning rate while the flattest "
           "decides how many steps gradient descent needs, and what happens to the number of "
           "steps when κ = L/μ grows ten times?",
    rubric="Each eigen-direction is multiplied by (1 − η·λ) per step. The steepest (λ = L) is "
           "the first where |1 − ηL| exceeds 1, so η < 2/L; at any such η the flattest shrinks "
           "only by 1 − ημ ≥ 1 − 2/κ per step, so it needs about (κ/2)·ln(1/tol) steps even at "
           "the best η = 2/(μ + L). Ten times larger κ: about ten times more steps.",
)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _random_spd(size: int, condition_number: float, rng: torch.Generator,
                dtype: torch.dtype) -> torch.Tensor:
    """A random rotation of diag(1 … condition_number): symmetric positive definite."""
    q, _ = torch.linalg.qr(torch.randn(size, size, generator=rng, dtype=torch.float64))
    eigenvalues = torch.logspace(0, math.log10(condition_number), size, dtype=torch.float64)
    hessian = q @ torch.diag(eigenvalues) @ q.T
    return ((hessian + hessian.T) / 2).to(dtype)


def _shape_name(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")
