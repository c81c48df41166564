r"""Gradient descent on a quadratic: its factor, regimes, rate, best learning rate and step count.

Gradient descent with learning rate :math:`\eta` (``lr``) is

.. math::  \theta_{k+1} = \theta_k - \eta\, \nabla f(\theta_k),

which is ``torch.optim.SGD(params, lr=lr)`` (momentum 0; torch's docs write the learning rate
:math:`\gamma`).

**1-D.** On :math:`f(x) = \tfrac12 L x^2` (curvature :math:`L`) the gradient is :math:`Lx`, so

.. math::  x_{k+1} = (1 - \eta L)\, x_k, \qquad x_k = (1 - \eta L)^k\, x_0 .

It converges iff :math:`|1 - \eta L| < 1`, i.e. :math:`0 < \eta < 2/L`: monotonically for
:math:`\eta < 1/L`, in one step at :math:`\eta = 1/L`, oscillating (the sign flips every step,
still converging) for :math:`1/L < \eta < 2/L`; it diverges for :math:`\eta > 2/L`.

**Any dimension.** On :math:`f(\theta) = \tfrac12 \theta^\top H \theta` each eigendirection of
:math:`H` (eigenvalue :math:`\lambda_i \in [\mu, L]`) is its own 1-D problem, and

.. math::  \rho(\eta) = \max_i |1 - \eta \lambda_i| = \max(|1 - \eta\mu|,\ |1 - \eta L|).

The best fixed rate is at :math:`\eta^* = 2/(L+\mu)`, :math:`\rho^* = (\kappa-1)/(\kappa+1)`;
the practical choice :math:`\eta = 1/L` needs no :math:`\mu` and gives :math:`1 - 1/\kappa`.
Both need about :math:`\kappa \log(1/\mathrm{tol})` (resp. half that) steps: linear in
:math:`\kappa = L/\mu`. Newton's method, :math:`\theta \leftarrow \theta - H^{-1}\nabla f`, has
factor 0 in every direction on a quadratic: preconditioning removes :math:`\kappa` altogether.

Symbols: docs/notation.md (:math:`\eta` = ``lr``, :math:`\mu, L` the extreme curvatures).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "gd_factor",
    "gd_regime",
    "gd_is_stable",
    "gd_rate",
    "gd_optimal_lr",
    "gd_optimal_rate",
    "gd_practical_rate",
    "steps_to_tolerance",
    "curvatures_at_minimum",
    "newton_step",
]


def _check_lr(lr: float) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid learning rate: {lr} (must be > 0)")


def _check_curvature(curvature: float, name: str = "curvature L") -> None:
    if not (math.isfinite(curvature) and curvature > 0):
        raise ValueError(f"Invalid {name}: {curvature} (must be > 0)")


def _check_mu_L(mu: float, L: float) -> None:
    _check_curvature(mu, "smallest curvature mu")
    _check_curvature(L, "largest curvature L")
    if L < mu:
        raise ValueError(f"Invalid curvatures: L = {L} must be >= mu = {mu}")


def gd_factor(lr: float, curvature: float) -> float:
    r"""The per-step factor :math:`1 - \eta L` of GD on :math:`\tfrac12 L x^2`
    (:math:`\eta` = ``lr``, :math:`L` = ``curvature``): :math:`x_{k+1} = (1 - \eta L) x_k`."""
    _check_lr(lr)
    _check_curvature(curvature)
    return 1.0 - lr * curvature


def gd_regime(lr: float, curvature: float) -> str:
    r"""Name the behaviour of GD on :math:`\tfrac12 L x^2` from :math:`\eta L` (``lr * curvature``).

    Four of the six regimes converge (see :func:`gd_is_stable`):

    - ``"slow"``: :math:`\eta L < 0.1`, monotone but each step removes less than 10 % of the distance;
    - ``"monotone"``: :math:`0.1 \le \eta L < 1`, the distance shrinks without changing sign;
    - ``"one step"``: :math:`\eta L = 1`, lands on the minimum;
    - ``"oscillating"``: :math:`1 < \eta L < 2`, overshoots (the sign flips) but converges;
    - ``"borderline"``: :math:`\eta L = 2`, bounces between :math:`\pm x_0` forever;
    - ``"divergent"``: :math:`\eta L > 2`.
    """
    _check_lr(lr)
    _check_curvature(curvature)
    step = lr * curvature
    if math.isclose(step, 1.0, rel_tol=1e-9):
        return "one step"
    if math.isclose(step, 2.0, rel_tol=1e-9):
        return "borderline"
    if step < 0.1:
        return "slow"
    if step < 1.0:
        return "monotone"
    if step < 2.0:
        return "oscillating"
    return "divergent"


def gd_is_stable(lr: float, curvature: float) -> bool:
    r"""Whether GD on :math:`\tfrac12 L x^2` converges: :math:`|1 - \eta L| < 1`, i.e.
    :math:`\eta < 2/L` (``"slow"``, ``"monotone"``, ``"one step"`` and ``"oscillating"``)."""
    return abs(gd_factor(lr, curvature)) < 1.0 and not math.isclose(lr * curvature, 2.0, rel_tol=1e-9)


def gd_rate(lr: float, curvatures) -> float:
    r"""The convergence factor :math:`\rho = \max_i |1 - \eta\lambda_i|` of GD on a quadratic
    whose Hessian has eigenvalues :math:`\lambda_i` (``curvatures``); :math:`\eta` = ``lr``.

    After :math:`k` steps the distance to the minimum is at most :math:`\rho^k` times the
    start's. Only the extreme eigenvalues matter: :math:`\max(|1-\eta\mu|, |1-\eta L|)`.
    """
    _check_lr(lr)
    values = np.asarray(curvatures, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("curvatures must hold at least one Hessian eigenvalue")
    return float(np.max(np.abs(1.0 - lr * values)))


def gd_optimal_lr(mu: float, L: float) -> float:
    r"""The best fixed learning rate :math:`\eta^* = 2/(L + \mu)`: it makes
    :math:`|1 - \eta\mu| = |1 - \eta L|`, so neither end of the spectrum lags."""
    _check_mu_L(mu, L)
    return 2.0 / (L + mu)


def gd_optimal_rate(mu: float, L: float) -> float:
    r"""The rate at :math:`\eta^*`: :math:`\rho^* = (L - \mu)/(L + \mu) = (\kappa - 1)/(\kappa + 1)`."""
    _check_mu_L(mu, L)
    return (L - mu) / (L + mu)


def gd_practical_rate(mu: float, L: float) -> float:
    r"""The rate at the practical learning rate :math:`\eta = 1/L` (which needs no :math:`\mu`):
    :math:`\max(|1 - \mu/L|, 0) = 1 - 1/\kappa`, about twice as many steps as at :math:`\eta^*`."""
    _check_mu_L(mu, L)
    return 1.0 - mu / L


def steps_to_tolerance(rate: float, tol: float) -> int | float:
    r"""The smallest :math:`k` with :math:`\rho^k \le \mathrm{tol}`:
    :math:`\lceil \log \mathrm{tol} / \log \rho \rceil` (``rate`` = :math:`\rho`).

    ``1`` when ``rate == 0`` (the first step lands on the minimum), ``math.inf`` when
    ``rate >= 1`` (never).
    """
    if not 0.0 < tol < 1.0:
        raise ValueError(f"Invalid tolerance: {tol} (must be in (0, 1))")
    if not rate >= 0.0:
        raise ValueError(f"Invalid rate: {rate} (must be >= 0)")
    if rate >= 1.0:
        return math.inf
    if rate == 0.0:
        return 1
    # the ratio of logs can land a hair above an integer from rounding; nudge before ceil
    return max(1, math.ceil(math.log(tol) / math.log(rate) - 1e-9))


def curvatures_at_minimum(landscape) -> tuple[float, float] | None:
    r""":math:`(\mu, L)`: the smallest and largest Hessian eigenvalue at the landscape's first
    minimum, by autograd; ``None`` when the landscape has no minimum (the saddle).

    Near a minimum every smooth function looks like its quadratic model, so :math:`2/L` there is
    the largest learning rate that can settle into it.
    """
    import torch  # only this function needs autograd

    minima = getattr(landscape, "minima", None)
    if minima is None or len(minima) == 0:
        return None
    point = minima[0].detach().to(torch.float64)
    hessian = torch.autograd.functional.hessian(lambda xy: landscape(xy), point)
    eigenvalues = torch.linalg.eigvalsh(0.5 * (hessian + hessian.T))
    return float(eigenvalues[0]), float(eigenvalues[-1])


def newton_step(theta, grad, hessian) -> np.ndarray:
    r"""One Newton step :math:`\theta - H^{-1}\nabla f(\theta)` (solved, never inverted).

    On a quadratic :math:`\tfrac12(\theta-\theta^*)^\top H(\theta-\theta^*)` the gradient is
    :math:`H(\theta - \theta^*)`, so one step lands on :math:`\theta^*` whatever :math:`\kappa`:
    dividing each direction's gradient by its own curvature is what the adaptive methods
    (notebooks 05-07) approximate with one number per coordinate.
    """
    theta, grad, hessian = (np.asarray(a, dtype=float) for a in (theta, grad, hessian))
    if hessian.shape != (theta.size, theta.size) or grad.shape != theta.shape:
        raise ValueError(f"shapes do not fit: theta {theta.shape}, grad {grad.shape}, hessian {hessian.shape}")
    return theta - np.linalg.solve(hessian, grad)
