r"""Heavy-ball momentum on a quadratic: the 2x2 matrix per direction, its rate, regimes, optimum
and stability limit.

torch's form with ``dampening = 0`` (Polyak's heavy ball, started at rest):

.. math::

    b_t = \beta\, b_{t-1} + g_t \quad (b_0 = g_0), \qquad
    \theta_{t+1} = \theta_t - \eta\, b_t, \qquad g_t = \nabla f(\theta_t)

(counting from the start :math:`\theta_0`; torch's docs count from 1, write :math:`b_1 = g_1`, and
call the momentum coefficient :math:`\mu` and the learning rate :math:`\gamma`).

On a quadratic each Hessian eigendirection with curvature :math:`h` evolves on its own. Writing
:math:`\eta b_{t-1} = \theta_{t-1} - \theta_t` turns the two lines into one recurrence,

.. math::

    \theta_{t+1} = (1 + \beta - \eta h)\, \theta_t - \beta\, \theta_{t-1},
    \qquad
    M(h) = \begin{pmatrix}1 + \beta - \eta h & -\beta\\ 1 & 0\end{pmatrix},

with :math:`\theta_{-1} = \theta_0` (the ball starts at rest). The error shrinks per step by
the spectral radius :math:`\rho(M(h))`, the largest :math:`|r|` over the roots of
:math:`r^2 - (1 + \beta - \eta h) r + \beta = 0`. The roots are real and positive for
:math:`\eta h < (1-\sqrt\beta)^2` (monotone, overdamped), complex with :math:`|r| = \sqrt\beta`
for :math:`(1-\sqrt\beta)^2 < \eta h < (1+\sqrt\beta)^2` (ringing), real and negative above
(sign flips every step), and one reaches :math:`-1` at :math:`\eta h = 2(1+\beta)` (divergence).
The boundaries :math:`\eta h = (1\pm\sqrt\beta)^2` are critically damped (a double root).

The effective learning rate: for a constant gradient the buffer grows to :math:`g/(1-\beta)`, so
heavy ball moves like GD with :math:`\eta/(1-\beta)` in a flat direction, while its stability
limit grows only from :math:`2/L` to :math:`2(1+\beta)/L`.

The buffer as a filter: a gradient that oscillates as :math:`g_t = e^{i\omega t}` is scaled by
:math:`1/|1 - \beta e^{-i\omega}|` (:func:`momentum_filter_gain`): :math:`1/(1-\beta)` for a
steady gradient (:math:`\omega = 0`), :math:`1/(1+\beta)` for one that flips sign every step
(:math:`\omega = \pi`). The second is why the limit is :math:`2(1+\beta)/L` and why a small
:math:`\beta` damps a flipping steep direction: along curvature :math:`h` heavy ball is slower
than GD at the same :math:`\eta` exactly when :math:`\sqrt\beta > |1 - \eta h|` (its rate is
never below :math:`\sqrt\beta`, the product of the two roots being :math:`\beta`).

Symbols: docs/notation.md (:math:`\eta` = ``lr``, :math:`\beta` = ``momentum``,
:math:`\mu, L` the extreme curvatures, :math:`\kappa = L/\mu`).
"""

from __future__ import annotations

import cmath
import math

import numpy as np

__all__ = [
    "largest_root_modulus",
    "heavy_ball_matrix",
    "heavy_ball_rate",
    "heavy_ball_regime",
    "quadratic_rate",
    "heavy_ball_optimum",
    "heavy_ball_optimal_rate",
    "heavy_ball_stable_lr",
    "critical_damping_lrs",
    "effective_lr",
    "heavy_ball_errors",
    "momentum_filter_gain",
]


def _check_curvatures(mu: float, L: float) -> None:
    if not (math.isfinite(mu) and mu > 0):
        raise ValueError(f"Invalid smallest curvature mu: {mu} (must be > 0)")
    if not (math.isfinite(L) and L >= mu):
        raise ValueError(f"Invalid largest curvature L: {L} (must be >= mu = {mu})")


def _check_lr_momentum(lr: float, momentum: float) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"Invalid momentum value: {momentum} (must be in [0, 1))")


def largest_root_modulus(c: float, d: float) -> float:
    r"""The larger modulus of the two (possibly complex) roots of :math:`r^2 - c\,r + d = 0`:
    the spectral radius of a 2x2 iteration matrix with trace :math:`c` and determinant :math:`d`."""
    root = cmath.sqrt(c * c - 4.0 * d)
    return max(abs((c + root) / 2.0), abs((c - root) / 2.0))


def heavy_ball_matrix(lr: float, momentum: float, curvature: float) -> np.ndarray:
    r"""The 2x2 matrix :math:`M(h) = [[1 + \beta - \eta h, -\beta], [1, 0]]` that maps
    :math:`(\theta_t, \theta_{t-1})` to :math:`(\theta_{t+1}, \theta_t)` along an eigendirection
    of curvature :math:`h` (= ``curvature``), with :math:`\eta` = ``lr``, :math:`\beta` = ``momentum``."""
    _check_lr_momentum(lr, momentum)
    return np.array([[1.0 + momentum - lr * curvature, -momentum], [1.0, 0.0]])


def heavy_ball_rate(lr: float, momentum: float, curvature: float) -> float:
    r"""Spectral radius :math:`\rho(M(h))`: the factor by which heavy ball shrinks the error per
    step along a direction of curvature :math:`h`.

    The roots of :math:`r^2 - c\,r + \beta = 0`, :math:`c = 1 + \beta - \eta h`, are
    :math:`r = \tfrac12\big(c \pm \sqrt{c^2 - 4\beta}\big)`. When :math:`c^2 < 4\beta` they are
    complex conjugates with :math:`|r| = \sqrt\beta`, whatever :math:`\eta` and :math:`h`.
    A rate >= 1 means that direction does not converge (> 1: it diverges).
    """
    _check_lr_momentum(lr, momentum)
    return largest_root_modulus(1.0 + momentum - lr * curvature, momentum)


def heavy_ball_regime(lr: float, momentum: float, curvature: float) -> str:
    r"""How heavy ball moves along a direction of curvature :math:`h`, from :math:`\eta h`:

    - ``"monotone"``: :math:`\eta h < (1-\sqrt\beta)^2`, two real positive roots, no overshoot;
    - ``"critically damped"``: :math:`\eta h = (1\pm\sqrt\beta)^2`, a double root;
    - ``"ringing"``: :math:`(1-\sqrt\beta)^2 < \eta h < (1+\sqrt\beta)^2`, complex roots,
      the error spirals in at :math:`\sqrt\beta`;
    - ``"flipping"``: :math:`(1+\sqrt\beta)^2 < \eta h < 2(1+\beta)`, a real negative root
      dominates, the sign flips every step;
    - ``"divergent"``: :math:`\eta h \ge 2(1+\beta)`.

    At :math:`\beta = 0` the ringing band is the single point :math:`\eta h = 1`.
    """
    _check_lr_momentum(lr, momentum)
    step = lr * curvature
    low, high = critical_damping_lrs(momentum, 1.0)
    if step >= 2.0 * (1.0 + momentum) * (1 - 1e-12):
        return "divergent"
    if math.isclose(step, low, rel_tol=1e-9) or math.isclose(step, high, rel_tol=1e-9):
        return "critically damped"
    if step < low:
        return "monotone"
    if step < high:
        return "ringing"
    return "flipping"


def critical_damping_lrs(momentum: float, curvature: float) -> tuple[float, float]:
    r"""The two learning rates at which heavy ball is critically damped along curvature :math:`h`:
    :math:`\eta = (1-\sqrt\beta)^2/h` and :math:`(1+\sqrt\beta)^2/h`, where
    :math:`(1 + \beta - \eta h)^2 = 4\beta` (the roots meet)."""
    _check_lr_momentum(1.0, momentum)
    if not curvature > 0:
        raise ValueError(f"Invalid curvature: {curvature} (must be > 0)")
    root = math.sqrt(momentum)
    return (1.0 - root) ** 2 / curvature, (1.0 + root) ** 2 / curvature


def quadratic_rate(lr: float, momentum: float, mu: float, L: float) -> float:
    r"""Worst rate over all curvatures in :math:`[\mu, L]`: :math:`\max(\rho(M(\mu)), \rho(M(L)))`.

    The worst direction is always one of the two extremes: :math:`\rho` equals
    :math:`\sqrt\beta` in the middle band where the roots are complex and grows towards the ends.
    ``momentum=0`` gives plain gradient descent, :math:`\max(|1 - \eta\mu|, |1 - \eta L|)`.
    """
    _check_curvatures(mu, L)
    return max(heavy_ball_rate(lr, momentum, mu), heavy_ball_rate(lr, momentum, L))


def heavy_ball_optimum(mu: float, L: float) -> tuple[float, float]:
    r"""Polyak's optimal heavy-ball step for a quadratic with curvatures in :math:`[\mu, L]`:

    .. math::

        \eta^* = \frac{4}{(\sqrt L + \sqrt\mu)^2}, \qquad
        \beta^* = \left(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\right)^2, \qquad \kappa = L/\mu.

    Returned as ``(lr, momentum)``, ready for ``SGD(lr=..., momentum=...)`` (dampening 0). Both
    extreme directions then sit on a critical-damping boundary, so every direction converges at
    :math:`\sqrt{\beta^*}`. This is optimal for quadratics only: on other strongly convex
    functions these settings carry no guarantee (see ``theory.nesterov.lessard_gradient``).
    """
    _check_curvatures(mu, L)
    sqrt_mu, sqrt_L = math.sqrt(mu), math.sqrt(L)
    lr = 4.0 / (sqrt_L + sqrt_mu) ** 2
    momentum = ((sqrt_L - sqrt_mu) / (sqrt_L + sqrt_mu)) ** 2
    return lr, momentum


def heavy_ball_optimal_rate(mu: float, L: float) -> float:
    r""":math:`\rho^* = (\sqrt\kappa - 1)/(\sqrt\kappa + 1)`, the rate at :func:`heavy_ball_optimum`."""
    _check_curvatures(mu, L)
    sqrt_kappa = math.sqrt(L / mu)
    return (sqrt_kappa - 1.0) / (sqrt_kappa + 1.0)


def heavy_ball_stable_lr(momentum: float, L: float) -> float:
    r"""Largest stable heavy-ball learning rate on curvatures up to ``L``: :math:`2(1 + \beta)/L`.

    (At :math:`\eta L = 2(1 + \beta)` a root of :math:`r^2 - (1 + \beta - \eta L) r + \beta` reaches
    -1.) Momentum raises plain gradient descent's limit :math:`2/L` by the factor :math:`1 + \beta`.
    """
    _check_lr_momentum(1.0, momentum)
    if not L > 0:
        raise ValueError(f"Invalid largest curvature L: {L} (must be > 0)")
    return 2.0 * (1.0 + momentum) / L


def effective_lr(lr: float, momentum: float) -> float:
    r"""The effective learning rate :math:`\eta/(1-\beta)`: the step heavy ball settles to under a
    constant gradient (the buffer :math:`b = g + \beta g + \beta^2 g + \dots \to g/(1-\beta)`).

    With a small :math:`\eta` (every direction in the monotone regime) and noisy gradients,
    heavy ball with :math:`(\eta, \beta)` moves on average like plain SGD with
    :math:`\eta/(1-\beta)`: the same mean step, and over the averaging window the same noise.
    """
    _check_lr_momentum(lr, momentum)
    return lr / (1.0 - momentum)


def heavy_ball_errors(lr: float, momentum: float, curvature: float, steps: int,
                      start: float = 1.0) -> np.ndarray:
    r"""The closed-form error along one eigendirection, :math:`\theta_t` for :math:`t = 0 \dots`
    ``steps``, from :math:`(\theta_0, \theta_{-1}) = (x_0, x_0)` (at rest), by powers of
    :math:`M(h)`. ``momentum=0`` gives GD's :math:`(1-\eta h)^t x_0`.

    On :math:`f = \tfrac12\sum_i h_i \theta_i^2` the loss is :math:`\sum_i \tfrac12 h_i \theta_{i,t}^2`:
    one term per eigendirection, each with its own rate (Goh's decomposition).
    """
    if steps < 0:
        raise ValueError(f"Invalid number of steps: {steps} (must be >= 0)")
    matrix = heavy_ball_matrix(lr, momentum, curvature)
    state = np.array([float(start), float(start)])
    errors = [state[0]]
    for _ in range(steps):
        state = matrix @ state
        errors.append(state[0])
    return np.asarray(errors)


def momentum_filter_gain(momentum: float, frequency):
    r"""How much the buffer :math:`b_t = \beta b_{t-1} + g_t` amplifies a gradient that oscillates
    with angular frequency :math:`\omega` (radians per step): :math:`1/|1 - \beta e^{-i\omega}|`.

    In the steady state :math:`g_t = e^{i\omega t}` gives :math:`b_t = g_t/(1 - \beta e^{-i\omega})`.
    :math:`\omega = 0` (a steady gradient) gives :math:`1/(1-\beta)`, the effective learning rate's
    factor; :math:`\omega = \pi` (a gradient that flips sign every step, the steep direction above
    :math:`\eta h = 1`) gives :math:`1/(1+\beta)`: the buffer partly cancels it. ``frequency`` may be
    a float or a numpy array.
    """
    _check_lr_momentum(1.0, momentum)
    return 1.0 / np.abs(1.0 - momentum * np.exp(-1j * np.asarray(frequency, dtype=float)))
