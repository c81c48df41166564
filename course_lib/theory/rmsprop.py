r"""RMSprop's and Adadelta's moving averages and effective learning rates (notebook 06).

Symbols (``docs/notation.md``; for the decay rates we keep torch's names): :math:`\eta` = ``lr``,
:math:`\alpha` = ``alpha`` (RMSprop), :math:`\rho` = ``rho`` (Adadelta), :math:`\epsilon` = ``eps``,
:math:`\beta` = ``momentum`` (torch's docs call it :math:`\mu`), :math:`v` = ``state["square_avg"]``,
:math:`\bar g` = ``state["grad_avg"]``, :math:`b` = ``state["momentum_buffer"]``,
:math:`u` = ``state["acc_delta"]``.

**RMSprop**, as ``torch.optim.RMSprop`` computes it (no bias correction; :math:`\epsilon` outside
the root; :math:`v_0 = \bar g_0 = b_0 = 0`):

.. math::

    v_t = \alpha v_{t-1} + (1-\alpha) g_t^2, \qquad
    \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t \ (\textit{centered}), \qquad
    D_t = \sqrt{v_t - \bar g_t^2} + \epsilon \ \ (\textit{centered};\ \text{else}\ \sqrt{v_t} + \epsilon),

    b_t = \beta b_{t-1} + g_t / D_t, \quad \theta_t = \theta_{t-1} - \eta\, b_t
    \quad (\beta > 0;\ \text{else}\ \theta_t = \theta_{t-1} - \eta\, g_t / D_t).

Without momentum the effective learning rate is :math:`\eta / D_t`. Unrolled,
:math:`v_t = (1-\alpha)\sum_{k \le t} \alpha^{t-k} g_k^2`: a weighted average whose weights sum to
:math:`1 - \alpha^t` (not 1: the missing mass is the zero it started from), and which forgets a
gradient after about :math:`1/(1-\alpha)` steps.

**Adadelta**, as ``torch.optim.Adadelta`` computes it (:math:`\epsilon` inside *both* roots; the
learning rate multiplies the update; :math:`v_0 = u_0 = 0`):

.. math::

    v_t = \rho v_{t-1} + (1-\rho) g_t^2, \qquad
    \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t, \qquad
    u_t = \rho u_{t-1} + (1-\rho) \Delta_t^2, \qquad
    \theta_t = \theta_{t-1} - \eta\, \Delta_t .
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ema_weights_total",
    "ema_memory",
    "rmsprop_square_avg_curve",
    "rmsprop_effective_lr_curve",
    "rmsprop_constant_gradient_effective_lr",
    "centered_variance_constant_gradient",
    "centered_first_step_above",
    "adadelta_update_curve",
    "adadelta_first_step",
]


def _check_decay(value: float, name: str) -> None:
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(f"Invalid {name} value: {value} (must be in [0, 1))")


def _check_non_negative(value: float, name: str) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"Invalid {name}: {value}")


def _as_stream(gradients) -> np.ndarray:
    gradients = np.asarray(gradients, dtype=np.float64)
    if gradients.ndim == 0 or len(gradients) == 0:
        raise ValueError("gradients must be a non-empty sequence (one entry per step)")
    return gradients


def ema_weights_total(alpha: float, t: int) -> float:
    r""":math:`(1-\alpha)\sum_{k=1}^{t} \alpha^{t-k} = 1 - \alpha^t`: how much weight torch's
    zero-started moving average has put on real gradients after :math:`t` steps."""
    _check_decay(alpha, "alpha")
    return 1.0 - alpha**t


def ema_memory(alpha: float) -> float:
    r""":math:`1/(1-\alpha)`: the number of recent steps a moving average with decay :math:`\alpha`
    effectively averages over (the weights :math:`(1-\alpha)\alpha^{j}` have mean age
    :math:`\alpha/(1-\alpha)`, and :math:`1 + \alpha/(1-\alpha) = 1/(1-\alpha)`)."""
    _check_decay(alpha, "alpha")
    return 1.0 / (1.0 - alpha)


def _ema(stream: np.ndarray, decay: float) -> np.ndarray:
    out = np.empty_like(stream)
    avg = np.zeros_like(stream[0])
    for t, value in enumerate(stream):
        avg = decay * avg + (1 - decay) * value
        out[t] = avg
    return out


def rmsprop_square_avg_curve(gradients, alpha: float = 0.99) -> np.ndarray:
    r""":math:`v_t = \alpha v_{t-1} + (1-\alpha) g_t^2` (:math:`v_0 = 0`) for :math:`t = 1 \dots T`,
    for a gradient stream of shape ``(T,)`` or ``(T, n)``."""
    _check_decay(alpha, "alpha")
    return _ema(_as_stream(gradients) ** 2, alpha)


def rmsprop_effective_lr_curve(gradients, *, lr: float = 1e-2, alpha: float = 0.99,
                               eps: float = 1e-8, centered: bool = False) -> np.ndarray:
    r"""The effective learning rate :math:`\eta / D_t` at each step (momentum 0):
    ``-lr_eff * g`` is exactly the change ``torch.optim.RMSprop`` makes at that step.
    :math:`D_t = \sqrt{v_t} + \epsilon`, or :math:`\sqrt{v_t - \bar g_t^2} + \epsilon` when centered."""
    _check_non_negative(lr, "learning rate")
    _check_non_negative(eps, "epsilon value")
    stream = _as_stream(gradients)
    square_avg = rmsprop_square_avg_curve(stream, alpha)
    if centered:
        grad_avg = _ema(stream, alpha)
        # clip the rounding-level negatives torch would turn into NaN; they only occur at v ≈ ḡ²
        denominator = np.sqrt(np.maximum(square_avg - grad_avg**2, 0.0)) + eps
    else:
        denominator = np.sqrt(square_avg) + eps
    return lr / denominator


def rmsprop_constant_gradient_effective_lr(lr: float, alpha: float, eps: float, g: float,
                                           t: int) -> float:
    r"""RMSprop's effective learning rate after :math:`t` steps of the same gradient :math:`g`:
    :math:`v_t = (1-\alpha^t) g^2`, so :math:`\eta / (|g|\sqrt{1-\alpha^t} + \epsilon)`.
    It starts at :math:`\eta/(|g|\sqrt{1-\alpha})` (10 times :math:`\eta/|g|` for
    :math:`\alpha = 0.99`: no bias correction, so early steps divide by too small a :math:`\sqrt{v}`)
    and settles at :math:`\eta/|g|`, where Adagrad's :math:`\eta/(|g|\sqrt t)` falls forever."""
    _check_decay(alpha, "alpha")
    return lr / (abs(g) * math.sqrt(1.0 - alpha**t) + eps)


def centered_variance_constant_gradient(alpha: float, g: float, t: int) -> float:
    r"""Centered RMSprop's variance estimate :math:`v_t - \bar g_t^2` after :math:`t` steps of the
    same gradient :math:`g`: :math:`(1-\alpha^t) g^2 - (1-\alpha^t)^2 g^2 = \alpha^t (1-\alpha^t) g^2`.
    It goes to 0, so the step grows geometrically on a perfectly steady slope, until what is
    left of :math:`\sqrt{v_t - \bar g_t^2}` in floating point (the rounding of the cancellation,
    about :math:`\sqrt{\text{ulp}}\,|g|`) or :math:`\epsilon` stops it: about
    :math:`10^{8}\,\eta|g|` when :math:`\epsilon = 10^{-8}` dominates, less when rounding does
    (notebook 06, section 4). A leftover that rounds below 0 makes torch's step NaN."""
    _check_decay(alpha, "alpha")
    decayed = alpha**t
    return decayed * (1.0 - decayed) * g * g


def centered_first_step_above(alpha: float, eps: float, g: float, factor: float) -> float:
    r"""The first step :math:`t` at which centered RMSprop (momentum 0), fed the same gradient
    :math:`g` on every step from its fresh state, takes a step longer than ``factor`` times
    :math:`\eta` (exact arithmetic; ``math.inf`` if it never does).

    With :math:`x = \alpha^t`, the step is :math:`\eta|g| / (|g|\sqrt{x(1-x)} + \epsilon)`, longer
    than :math:`k\eta` when :math:`\sqrt{x(1-x)} < c = 1/k - \epsilon/|g|`. :math:`x(1-x)` first
    *rises* (while :math:`x > 1/2`) and then falls, so the step is long at :math:`t = 1`
    (:math:`\eta/\sqrt{\alpha(1-\alpha)}` for small :math:`\epsilon`), shrinks to about
    :math:`2\eta` where :math:`\alpha^t = 1/2`, then grows without bound but for :math:`\epsilon`:
    the answer is 1 when :math:`\alpha` lies outside the roots :math:`x_\pm` of :math:`x(1-x) = c^2`,
    else the first :math:`t` with :math:`\alpha^t < x_-`. Exercise 6.3 asks for it."""
    _check_decay(alpha, "alpha")
    _check_non_negative(eps, "epsilon value")
    if not (math.isfinite(factor) and factor > 0) or g == 0:
        raise ValueError("factor must be a positive number and g non-zero")
    c = 1.0 / factor - eps / abs(g)
    if c <= 0:
        return math.inf
    if c >= 0.5 or alpha == 0.0:
        return 1
    root = math.sqrt(1.0 - 4.0 * c * c)
    low, high = (1.0 - root) / 2.0, (1.0 + root) / 2.0
    if alpha < low or alpha > high:
        return 1
    return math.floor(math.log(low) / math.log(alpha)) + 1


def adadelta_update_curve(gradients, *, lr: float = 1.0, rho: float = 0.9,
                          eps: float = 1e-6) -> np.ndarray:
    r"""Adadelta's parameter change :math:`-\eta\,\Delta_t` at every step of a gradient stream
    (shape ``(T,)`` or ``(T, n)``), :math:`\epsilon` inside both roots, :math:`u` updated with the new
    :math:`\Delta_t` before the parameter moves (torch's order)."""
    _check_decay(rho, "rho")
    _check_non_negative(lr, "learning rate")
    _check_non_negative(eps, "epsilon value")
    stream = _as_stream(gradients)
    square_avg = np.zeros_like(stream[0])
    acc_delta = np.zeros_like(stream[0])
    changes = np.empty_like(stream)
    for t, g in enumerate(stream):
        square_avg = rho * square_avg + (1 - rho) * g * g
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta * delta
        changes[t] = -lr * delta
    return changes


def adadelta_first_step(g: float, *, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6) -> float:
    r"""Adadelta's first parameter change for gradient :math:`g`:
    :math:`-\eta\, \sqrt{\epsilon}\, g / \sqrt{(1-\rho) g^2 + \epsilon}`, about
    :math:`-\eta\,\operatorname{sign}(g)\sqrt{\epsilon/(1-\rho)}` when :math:`g^2 \gg \epsilon`:
    ``eps`` alone sets how big the first steps are (0.0032 with torch's defaults)."""
    _check_decay(rho, "rho")
    return -lr * math.sqrt(eps) * g / math.sqrt((1 - rho) * g * g + eps)
