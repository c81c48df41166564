r"""Checkers for notebook 01, gradient descent: exercises 1.1 to 1.4.

1.1 ``gd_step(param, grad, lr)``: one gradient-descent step in place,
    :math:`\theta \leftarrow \theta - \eta\, g` (``course_lib.optim.sgd_update`` with
    ``momentum=0``). The one "write the update" exercise of the notebook.
1.2 *predict, then measure* ``largest_stable_lr(x, y)``: the largest learning rate at which
    full-batch gradient descent on ``mse_loss(x @ w, y)`` converges. The learner derives it (the
    Hessian is :math:`\frac2n X^\top X`, so :math:`\eta < n/\lambda_{\max}(X^\top X)`); the check
    runs ``torch.optim.SGD`` over a grid of learning rates and finds the limit (``_measure``).
1.3 *predict, then measure* ``steps_from_zero(x, y, lr, tol)``: the steps full-batch GD on
    ``mse_loss(x @ w, y)`` needs from ``w = 0`` until :math:`\lVert w_k - w^*\rVert \le
    \text{tol}\,\lVert w^*\rVert`. Not the lecture's worst-start count: each eigen-direction
    of :math:`\frac2n X^\top X` carries its own part of the starting error. The check counts
    the steps of ``torch.optim.SGD``. (``reference_steps_to_tolerance`` below is the
    worst-start count, kept for the lecture's comparison.)
1.4 written answer: what centring a feature does to the fitted line, to the Hessian of the
    least-squares loss and to gradient descent's limit and speed.

Notation (docs/notation.md): η learning rate (``lr``), μ and L the smallest and largest
curvature, κ = L/μ.
"""

from __future__ import annotations

import math

import torch

from ._framework import (Case, KnownMistake, in_place, register, register_error_hint,
                         register_prediction, register_written)
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
                     "You moved along +grad, uphill: compare the sign of your step with section "
                     "1's update equation."),
        KnownMistake("no_lr", _gd_without_lr,
                     "Your step is the whole gradient: the learning rate is missing from it "
                     "(section 1 of the lecture names each symbol of the update)."),
        KnownMistake("lr_times_param", _gd_lr_times_param,
                     "Your step is scaled by the parameter itself: in gradient descent the step "
                     "depends on θ only through the gradient."),
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


def _least_squares_pieces(x, y, lr):
    """Curvatures λ_i of mse_loss(x @ w, y) (Hessian 2XᵀX/n), the starting error's components
    c_i along their eigenvectors (start w = 0, so the error is −w*), and the factors 1 − lr·λ_i."""
    x, y = x.double(), y.double()
    eigenvalues, eigenvectors = torch.linalg.eigh(2 * x.T @ x / len(x))
    w_star = torch.linalg.lstsq(x, y.unsqueeze(1)).solution.squeeze(1)
    return eigenvalues, eigenvectors.T @ (-w_star), 1 - lr * eigenvalues


def _first_step_below(components, factors, tol, max_steps=1_000_000):
    """Smallest k with ‖Σ c_i·f_iᵏ‖ ≤ tol·‖c‖, from the closed form, in chunks of steps."""
    target = tol * components.norm().item()
    if bool(((factors.abs() >= 1) & (components.abs() > target)).any()):
        return math.inf  # a direction that holds error and never shrinks
    start = 0
    while start < max_steps:
        k = torch.arange(start, start + 4096, dtype=torch.float64)
        norms = ((components[None, :] * factors[None, :] ** k[:, None]) ** 2).sum(1).sqrt()
        below = torch.nonzero(norms <= target)
        if len(below):
            return int(k[below[0, 0]].item())
        start += 4096
    return math.inf


def predicted_steps_from_zero(x, y, lr, tol) -> int:
    r"""The theory's answer to 1.3: each eigen-direction of :math:`H = \frac2n X^\top X`
    multiplies its part :math:`c_i` of the starting error by :math:`1 - \eta\lambda_i` per step,
    so :math:`\lVert w_k - w^*\rVert^2 = \sum_i c_i^2 (1 - \eta\lambda_i)^{2k}`: the smallest
    :math:`k` at which that is below :math:`\text{tol}^2\lVert w^*\rVert^2`. Not the
    worst-start count :math:`\lceil\ln\text{tol}/\ln\rho\rceil`: a direction that holds little
    of the starting error needs fewer steps."""
    _, components, factors = _least_squares_pieces(x, y, lr)
    return _first_step_below(components, factors, tol)


def measure_steps_from_zero(x, y, lr, tol, max_steps: int = 200_000) -> int:
    """The truth for 1.3: full-batch ``torch.optim.SGD`` on ``mse_loss(x @ w, y)`` from
    ``w = 0``, counting steps until ``‖w − w*‖ ≤ tol·‖w*‖`` (``w*`` by ``torch.linalg.lstsq``)."""
    x, y = x.double(), y.double()
    w_star = torch.linalg.lstsq(x, y.unsqueeze(1)).solution.squeeze(1)
    target = tol * w_star.norm().item()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr)
    for step in range(1, max_steps + 1):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(x @ w, y).backward()
        optimizer.step()
        if (w.detach() - w_star).norm().item() <= target:
            return step
    return math.inf


def _worst_start(x, y, lr, tol):
    eigenvalues, _, factors = _least_squares_pieces(x, y, lr)
    return math.ceil(math.log(tol) / math.log(factors.abs().max().item()))


def _steps_with_curvature_scale(scale):
    def steps(x, y, lr, tol):
        _, components, factors = _least_squares_pieces(x, y, lr * scale)
        return _first_step_below(components, factors, tol)
    return steps


_steps_forgot_the_two = _steps_with_curvature_scale(0.5)


def _steps_sum_not_mean_fn(x, y, lr, tol):
    _, components, factors = _least_squares_pieces(x, y, lr * len(x))
    return _first_step_below(components, factors, tol)


@register_prediction(
    "1.3",
    measure=measure_steps_from_zero,
    rtol=0.03,
    atol=1.0,
    explain=("Split the starting error w₀ − w* (here −w*) along the eigenvectors of this loss's "
             "Hessian and follow each part on its own: how much is left of each after k steps, "
             "and when is the whole error below tol·‖w*‖?"),
    mistakes=[
        KnownMistake("worst_start", _worst_start,
                     "That counts from the worst start, where all the error lies along the "
                     "slowest direction. This run starts at w = 0: how much of its starting "
                     "error lies along the slowest direction?"),
        KnownMistake("forgot_the_two", _steps_forgot_the_two,
                     "Your curvatures are half of mse_loss's: it is the mean of (x·w − y)² "
                     "without a ½ (exercise 1.2 meets the same factor)."),
        KnownMistake("sum_not_mean", _steps_sum_not_mean_fn,
                     "Your curvatures are n times too large: mse_loss averages over the samples."),
    ],
)
def steps_from_zero_cases(rng: torch.Generator):
    steep_flat = torch.tensor([[1.5, 0.0], [0.0, 0.5], [1.5, 0.0], [0.0, 0.5]], dtype=torch.float64)
    yield Case("2 orthogonal features; w* lies almost all along the steep one; lr = 0.4",
               x=steep_flat, y=steep_flat @ torch.tensor([1.0, 0.02], dtype=torch.float64),
               lr=0.4, tol=1e-3)
    yield Case("the same data with w* along both; lr = 0.8, close to 2/L: the steep direction "
               "oscillates", x=steep_flat,
               y=steep_flat @ torch.tensor([1.0, 1.0], dtype=torch.float64), lr=0.8, tol=1e-4)
    equal = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    yield Case("2 features of equal curvature 1 and lr = 1", x=equal,
               y=torch.tensor([2.0, -1.0, 2.0, -1.0], dtype=torch.float64), lr=1.0, tol=1e-6)
    for n, d in [(30, 3), (50, 4), (20, 2)]:
        scales = 10 ** (torch.rand(d, generator=rng, dtype=torch.float64) - 0.5)
        x = (torch.randn(n, d, generator=rng, dtype=torch.float64) + 0.3) * scales
        x[:, 0] = 1.0  # an intercept
        w_true = torch.randn(d, generator=rng, dtype=torch.float64)
        y = x @ w_true + 0.1 * torch.randn(n, generator=rng, dtype=torch.float64)
        L = torch.linalg.eigvalsh(2 * x.T @ x / n).max().item()
        fraction = float(torch.empty(()).uniform_(0.3, 1.8, generator=rng))
        tol = 10.0 ** -float(torch.empty(()).uniform_(2, 5, generator=rng))
        yield Case(f"{n} samples, {d} correlated features with an intercept, lr = {fraction:.2f}/L, "
                   f"tol = {tol:.1e}", x=x, y=y, lr=fraction / L, tol=tol)


register_error_hint(
    "1.3", ValueError, "math domain error", "log_of_zero",
    "A logarithm of 0 (or of a negative number): some direction's factor is exactly 0 in this "
    "case, so that direction is finished after one step. Handle such a direction on its own "
    "instead of taking its logarithm.")


# --------------------------------------------------------------------------------------------
# 1.4 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "1.4",
    prompt="In three sentences: if section 6's model ŷ = w·x + b is fitted with the feature "
           "centred, ŷ = w·(x − x̄) + b′, does the fitted line change; what happens to the "
           "Hessian of mse_loss and its eigenvalues, and why; and what does that do to the "
           "largest stable learning rate and the number of steps gradient descent needs?",
    rubric=(
        (1, "The fitted line does not change: b′ = b + w·x̄ reparametrises the same family of "
            "lines, so least squares gives the same slope and the same predictions."),
        (2, "The Hessian of mse_loss, 2XᵀX/n = 2[[mean x², x̄], [x̄, 1]], becomes 2[[Var x, 0],"
            " [0, 1]]: centring removes the slope-intercept coupling x̄, and the eigenvalues "
            "move from about 2.53 and 0.13 (κ ≈ 19) to 2 and 1/6 (κ = 12) for x ~ U[0, 1]. One "
            "mark for the coupling as the reason, one for the eigenvalues (or κ) getting "
            "closer."),
        (1, "The largest stable lr 2/L rises (about 0.79 to 1) and the number of steps, "
            "proportional to κ, falls (by about 40 %)."),
    ),
    max_score=4,
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
