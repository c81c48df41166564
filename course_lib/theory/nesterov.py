r"""Nesterov's accelerated gradient: its 2x2 matrix on a quadratic, rate, stability limit, the
standard parameters with their guarantee, and the counterexample that heavy ball lacks one.

torch's Nesterov step (``SGD(momentum=β, nesterov=True)``, ``dampening = 0``):

.. math::

    b_t = \beta\, b_{t-1} + g_t \quad (b_1 = g_1), \qquad
    \theta_t = \theta_{t-1} - \eta\,(g_t + \beta\, b_t),

where ``param`` is the look-ahead point :math:`\theta + \beta v` of Sutskever et al.'s form
:math:`v_t = \beta v_{t-1} - \eta\nabla f(\theta_{t-1} + \beta v_{t-1})`,
:math:`\theta_t = \theta_{t-1} + v_t`. Eliminating :math:`b` gives heavy ball plus a brake,

.. math::

    \theta_{t+1} = \theta_t + \beta(\theta_t - \theta_{t-1}) - \eta g_t - \beta\eta\,(g_t - g_{t-1}),

and on a quadratic, along curvature :math:`h`,

.. math::

    N(h) = \begin{pmatrix}(1 + \beta)(1 - \eta h) & -\beta(1 - \eta h)\\ 1 & 0\end{pmatrix}.

**Guarantee.** With :math:`\eta = 1/L` and :math:`\beta = (\sqrt\kappa-1)/(\sqrt\kappa+1)`, on
*every* :math:`L`-smooth, :math:`\mu`-strongly convex function (Nesterov 2004, Thm 2.2.3),

.. math::

    f(x_k) - f^* \le \Big(1 - \tfrac{1}{\sqrt\kappa}\Big)^k
    \Big(f(x_0) - f^* + \tfrac{\mu}{2}\lVert x_0 - x^*\rVert^2\Big),

with :math:`x_k` the paper's iterate (torch's ``param`` minus :math:`\beta v`). For merely convex
:math:`f` the variant with :math:`\beta_k = (k-1)/(k+2)` gets :math:`O(L\lVert x_0-x^*\rVert^2/k^2)`.
The factor :math:`1 - 1/\sqrt\kappa` is a rate of the *loss gap*; the distance to
:math:`x^*` shrinks at its square root (:func:`nesterov_guaranteed_distance_rate`).
Heavy ball at Polyak's quadratic optimum has no such guarantee: :func:`lessard_gradient` is a
strongly convex function (:math:`\kappa = 25`) on which it cycles forever from some starts
(Lessard, Recht & Packard, 2016). At smaller parameters heavy ball does converge globally on this
class, without acceleration (Ghadimi, Feyzmahdavian & Johansson, 2015), and no choice of its
parameters accelerates it on the whole class (Goujaud, Taylor & Dieuleveut, 2023).

Symbols: docs/notation.md (:math:`\eta` = ``lr``, :math:`\beta` = ``momentum``; torch's docs
write :math:`\mu` for the momentum, here :math:`\mu` is the smallest curvature).
"""

from __future__ import annotations

import math

import numpy as np

from .momentum import _check_curvatures, _check_lr_momentum, largest_root_modulus

__all__ = [
    "nesterov_matrix",
    "nesterov_rate",
    "nesterov_stable_lr",
    "nesterov_standard_parameters",
    "nesterov_guaranteed_rate",
    "nesterov_guaranteed_distance_rate",
    "nesterov_guarantee_bound",
    "nesterov_best_quadratic_rate",
    "LESSARD_MU",
    "LESSARD_L",
    "lessard_function",
    "lessard_gradient",
]


def nesterov_matrix(lr: float, momentum: float, curvature: float) -> np.ndarray:
    r"""The 2x2 matrix :math:`N(h)` that maps :math:`(\theta_t, \theta_{t-1})` to
    :math:`(\theta_{t+1}, \theta_t)` for torch's Nesterov step along a direction of curvature
    :math:`h` (= ``curvature``), with :math:`\eta` = ``lr``, :math:`\beta` = ``momentum``:

    .. math::

        N(h) = \begin{pmatrix}(1 + \beta)(1 - \eta h) & -\beta(1 - \eta h)\\ 1 & 0\end{pmatrix}.
    """
    _check_lr_momentum(lr, momentum)
    shrink = 1.0 - lr * curvature  # what one plain GD step does to this direction
    return np.array([[(1.0 + momentum) * shrink, -momentum * shrink], [1.0, 0.0]])


def nesterov_rate(lr: float, momentum: float, curvature: float) -> float:
    r"""Spectral radius :math:`\rho(N(h))`: the factor by which Nesterov shrinks the error per
    step along a direction of curvature :math:`h`.

    With :math:`s = 1 - \eta h` the roots of :math:`r^2 - (1+\beta)s\,r + \beta s = 0` are
    :math:`r = \tfrac12\big((1+\beta)s \pm \sqrt{(1+\beta)^2 s^2 - 4\beta s}\big)`. When they are
    complex, :math:`|r| = \sqrt{\beta s}`, smaller than heavy ball's :math:`\sqrt\beta`: the
    look-ahead damps the spiral. A rate >= 1 means that direction does not converge.
    """
    _check_lr_momentum(lr, momentum)
    shrink = 1.0 - lr * curvature
    return largest_root_modulus((1.0 + momentum) * shrink, momentum * shrink)


def nesterov_stable_lr(momentum: float, curvature: float) -> float:
    r"""Largest stable Nesterov lr along curvature :math:`h`: the :math:`\eta` at which
    :func:`nesterov_rate` reaches 1, found by bisection on :math:`\eta h \in (1, 2(1+\beta)]`.

    It lies below heavy ball's :math:`2(1+\beta)/h` for every :math:`\beta > 0` (for
    :math:`\beta = 0.9` about :math:`1.36/h` against :math:`3.8/h`): the brake that damps overshoot
    also amplifies a step that is already too long. The closed form is exercise 4.5's to derive
    (from the roots of :math:`N(h)` as a real one leaves the unit circle); the tests compare it
    with this bisection.
    """
    _check_lr_momentum(1.0, momentum)
    if not curvature > 0:
        raise ValueError(f"Invalid curvature: {curvature} (must be > 0)")
    low, high = 1.0, 2.0 * (1.0 + momentum)   # stable at ηh = 1 (ρ = √0 = 0), not at heavy ball's limit
    for _ in range(200):
        middle = 0.5 * (low + high)
        if nesterov_rate(middle, momentum, 1.0) < 1.0:
            low = middle
        else:
            high = middle
        if high - low <= 1e-15 * high:
            break
    return 0.5 * (low + high) / curvature


def nesterov_standard_parameters(mu: float, L: float) -> tuple[float, float]:
    r"""Nesterov's standard constant parameters for curvatures in :math:`[\mu, L]`:
    ``(lr, momentum)`` :math:`= (1/L,\ (\sqrt\kappa - 1)/(\sqrt\kappa + 1))`, ready for
    ``SGD(lr=..., momentum=..., nesterov=True)``. They come with :func:`nesterov_guarantee_bound`."""
    _check_curvatures(mu, L)
    sqrt_kappa = math.sqrt(L / mu)
    return 1.0 / L, (sqrt_kappa - 1.0) / (sqrt_kappa + 1.0)


def nesterov_guaranteed_rate(mu: float, L: float) -> float:
    r"""The guaranteed per-step factor of the loss gap at the standard parameters:
    :math:`1 - 1/\sqrt\kappa` (on every smooth strongly convex function, not only quadratics)."""
    _check_curvatures(mu, L)
    return 1.0 - math.sqrt(mu / L)


def nesterov_guaranteed_distance_rate(mu: float, L: float) -> float:
    r"""The same guarantee for the *distance* to the minimiser, the unit of every other rate
    :math:`\rho` in the course: :math:`\sqrt{1 - 1/\sqrt\kappa}` per step.

    Strong convexity gives :math:`\tfrac{\mu}{2}\lVert x_k - x^*\rVert^2 \le f(x_k) - f^*`, so the
    distance is bounded by a constant times :math:`(1 - 1/\sqrt\kappa)^{k/2}`. At :math:`\kappa = 25`
    that is :math:`\sqrt{0.8} \approx 0.894` per step, against heavy ball's :math:`0.667` at Polyak's
    optimum on a quadratic (:func:`course_lib.theory.momentum.heavy_ball_optimal_rate`)."""
    return math.sqrt(nesterov_guaranteed_rate(mu, L))


def nesterov_guarantee_bound(steps, initial_gap: float, initial_distance: float,
                             mu: float, L: float):
    r"""Nesterov's bound on :math:`f(x_k) - f^*` at the standard parameters:
    :math:`(1 - 1/\sqrt\kappa)^k\,\big(f(x_0) - f^* + \tfrac{\mu}{2}\lVert x_0 - x^*\rVert^2\big)`
    (``initial_gap`` = :math:`f(x_0) - f^*`, ``initial_distance`` = :math:`\lVert x_0 - x^*\rVert`);
    ``steps`` may be an int or an array of step counts."""
    if initial_gap < 0 or initial_distance < 0:
        raise ValueError("initial_gap and initial_distance must be >= 0")
    rate = nesterov_guaranteed_rate(mu, L)
    return rate ** np.asarray(steps) * (initial_gap + 0.5 * mu * initial_distance**2)


def nesterov_best_quadratic_rate(mu: float, L: float) -> float:
    r"""The best worst-case rate Nesterov reaches on quadratics with curvatures in :math:`[\mu, L]`
    over all constant (lr, momentum): :math:`1 - 2/\sqrt{3\kappa + 1}` (Lessard, Recht & Packard,
    2016), worse than heavy ball's :math:`(\sqrt\kappa-1)/(\sqrt\kappa+1)` there."""
    _check_curvatures(mu, L)
    return 1.0 - 2.0 / math.sqrt(3.0 * L / mu + 1.0)


#: The curvatures of :func:`lessard_function`: between 1 and 25, so κ = 25.
LESSARD_MU, LESSARD_L = 1.0, 25.0


def lessard_function(x):
    r"""Lessard, Recht & Packard's (2016, §4.6) one-dimensional strongly convex counterexample:

    .. math::

        f(x) = \begin{cases} \tfrac{25}{2}x^2 & x < 1 \\
                              \tfrac12 x^2 + 24x - 12 & 1 \le x < 2 \\
                              \tfrac{25}{2}x^2 - 24x + 36 & x \ge 2 \end{cases}

    Continuous with a continuous gradient, curvature 25 or 1 piece by piece (:math:`\mu = 1`,
    :math:`L = 25`), minimum :math:`f(0) = 0`. Works on floats, numpy arrays and tensors.
    """
    x2 = x * x
    return _pieces(x, 12.5 * x2, 0.5 * x2 + 24.0 * x - 12.0, 12.5 * x2 - 24.0 * x + 36.0)


def lessard_gradient(x):
    r""":math:`f'(x)` of :func:`lessard_function`: :math:`25x` below 1, :math:`x + 24` on
    :math:`[1, 2)`, :math:`25x - 24` from 2 on (continuous: 25 at 1, 26 at 2)."""
    return _pieces(x, 25.0 * x, x + 24.0, 25.0 * x - 24.0)


def _pieces(x, low, middle, high):
    if isinstance(x, (int, float)):
        return low if x < 1 else (middle if x < 2 else high)
    if type(x).__module__.startswith("torch"):  # a tensor: keep autograd working
        import torch

        return torch.where(x < 1, low, torch.where(x < 2, middle, high))
    x = np.asarray(x)
    return np.where(x < 1, low, np.where(x < 2, middle, high))
