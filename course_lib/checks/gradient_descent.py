r"""Checkers for notebook 01, gradient descent: exercises 1.1, 1.2 and 1.3.

1.1 ``gd_step(param, grad, lr)``: one gradient-descent step in place,
    :math:`\theta \leftarrow \theta - \gamma\, g` (``course_lib.optim.sgd_update`` with
    ``momentum=0``).
1.2 ``largest_stable_lr(hessian)``: on :math:`f(\theta) = \tfrac12 \theta^\top H \theta` gradient
    descent converges from every start exactly when :math:`0 < \gamma < 2/\lambda_{\max}(H)`.
1.3 ``steps_to_tolerance(hessian, lr, tol)``: the error contracts by at most
    :math:`\rho = \max_i |1 - \gamma \lambda_i|` per step (and by exactly :math:`\rho` from the
    worst start), so the number of steps until :math:`\lVert\theta_k\rVert \le
    \text{tol}\,\lVert\theta_0\rVert` is :math:`k = \lceil \ln(\text{tol}) / \ln\rho \rceil`.
"""

from __future__ import annotations

import math

import torch

from ._framework import Case, KnownMistake, in_place, register

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
# 1.2 largest stable learning rate
# --------------------------------------------------------------------------------------------


def reference_largest_stable_lr(hessian: torch.Tensor) -> float:
    """2 / λ_max(H): GD on ½θᵀHθ multiplies each eigen-coordinate by (1 − lr·λᵢ) per step."""
    eigenvalues = torch.linalg.eigvalsh(hessian.double())
    return 2.0 / eigenvalues.max().item()


def _lr_from_lambda_min(hessian):
    return 2.0 / torch.linalg.eigvalsh(hessian.double()).min().item()


def _lr_one_over_L(hessian):
    return 1.0 / torch.linalg.eigvalsh(hessian.double()).max().item()


def _lr_from_diagonal(hessian):
    return 2.0 / hessian.double().diagonal().max().item()


def _lr_upside_down(hessian):
    return torch.linalg.eigvalsh(hessian.double()).max().item() / 2.0


@register(
    "1.2",
    reference=reference_largest_stable_lr,
    mistakes=[
        KnownMistake("lambda_min", _lr_from_lambda_min,
                     "You used the smallest eigenvalue. The steepest direction (largest "
                     "eigenvalue L) is the first to oscillate out of control: lr < 2/λ_max."),
        KnownMistake("one_over_L", _lr_one_over_L,
                     "1/L is the classic *safe* step (it never overshoots the minimum), but GD "
                     "stays stable up to twice that: |1 − lr·L| < 1 gives lr < 2/L."),
        KnownMistake("diagonal", _lr_from_diagonal,
                     "You used the largest diagonal entry of H. That equals λ_max only when H is "
                     "diagonal; use the eigenvalues (torch.linalg.eigvalsh)."),
        KnownMistake("inverted", _lr_upside_down,
                     "The limit is 2 divided by λ_max, not λ_max divided by 2."),
    ],
)
def largest_stable_lr_cases(rng: torch.Generator):
    yield Case("1x1 Hessian [[4.]]", hessian=torch.tensor([[4.0]], dtype=torch.float64))
    yield Case("diagonal 2x2, condition number 10",
               hessian=torch.diag(torch.tensor([1.0, 10.0], dtype=torch.float64)))
    for size, condition_number in [(2, 3.0), (2, 50.0), (3, 10.0), (5, 1000.0)]:
        yield Case(f"rotated {size}x{size} Hessian, condition number {condition_number:g}",
                   hessian=_random_spd(size, condition_number, rng, torch.float64))
    yield Case("rotated 3x3 float32 Hessian", rtol=1e-5,
               hessian=_random_spd(3, 20.0, rng, torch.float32))
    yield Case("large curvature (λ_max = 1e4)",
               hessian=1e4 * _random_spd(2, 4.0, rng, torch.float64))


# --------------------------------------------------------------------------------------------
# 1.3 steps to reach a tolerance
# --------------------------------------------------------------------------------------------


def contraction_factor(hessian: torch.Tensor, lr: float) -> float:
    """ρ = max_i |1 − lr·λ_i|: the worst per-step shrink factor of GD on ½θᵀHθ."""
    eigenvalues = torch.linalg.eigvalsh(hessian.double())
    return (1.0 - lr * eigenvalues).abs().max().item()


def reference_steps_to_tolerance(hessian: torch.Tensor, lr: float, tol: float) -> float:
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
