r"""Adagrad's effective learning rate and its behaviour on separable quadratics (notebook 05).

Symbols (``docs/notation.md``): :math:`\eta` = ``lr``, :math:`d` = ``lr_decay``,
:math:`\epsilon` = ``eps``, :math:`s_0` = ``initial_accumulator_value``, :math:`s` = the
accumulator ``state["sum"]``, :math:`t` = ``state["step"]`` (it counts *every* optimizer step of the
parameter, also the steps on which a coordinate's gradient is zero).

``torch.optim.Adagrad`` (and ``course_lib.optim.adagrad_update``) computes, per coordinate,

.. math::

    t \leftarrow t + 1, \qquad
    \tilde\eta_t = \frac{\eta}{1 + (t-1)\,d}, \qquad
    s_t = s_{t-1} + g_t^2, \qquad
    \theta_t = \theta_{t-1} - \tilde\eta_t\,\frac{g_t}{\sqrt{s_t} + \epsilon}.

So every coordinate has its own **effective learning rate**

.. math::  \eta^{\text{eff}}_t = \frac{\tilde\eta_t}{\sqrt{s_t} + \epsilon}
    \qquad (\theta_t = \theta_{t-1} - \eta^{\text{eff}}_t\, g_t),

which never rises: :math:`s_t` never decreases. For a gradient of constant size :math:`|g|`
it is :math:`\eta / (\sqrt{s_0 + t g^2} + \epsilon) \approx \eta / (|g|\sqrt t)`; when the
gradients shrink (a noiseless problem being solved) :math:`s_t` converges, the effective learning
rate settles at a fixed value and convergence is linear (notebook 05, section 3).

In matrix terms Adagrad is gradient descent preconditioned by the *diagonal* matrix
:math:`\operatorname{diag}(\tilde\eta_t / (\sqrt{s_t} + \epsilon))`: it can rescale each axis,
but not rotate.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "adagrad_step_size",
    "adagrad_effective_lr",
    "adagrad_accumulator_curve",
    "adagrad_effective_lr_curve",
    "adagrad_diagonal_quadratic_path",
    "full_matrix_adagrad_path",
    "diagonal_newton_path",
    "preconditioned_rate",
]


def _check(lr: float, lr_decay: float, eps: float, initial_accumulator_value: float = 0.0) -> None:
    for name, value in (("learning rate", lr), ("lr_decay value", lr_decay), ("epsilon value", eps),
                        ("initial_accumulator_value value", initial_accumulator_value)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"Invalid {name}: {value}")


def adagrad_step_size(lr: float, lr_decay: float, step: int) -> float:
    r"""torch's decayed step size :math:`\tilde\eta_t = \eta / (1 + (t-1)\,d)` at step
    :math:`t \ge 1` (``step``): the first step uses the full :math:`\eta`."""
    _check(lr, lr_decay, 0.0)
    if int(step) != step or step < 1:
        raise ValueError(f"Invalid step: {step} (steps count from 1)")
    return lr / (1 + (step - 1) * lr_decay)


def adagrad_effective_lr(lr: float, accumulator, *, step: int = 1, lr_decay: float = 0.0,
                         eps: float = 1e-10):
    r""":math:`\eta^{\text{eff}} = \tilde\eta_t / (\sqrt{s_t} + \epsilon)`: the factor that multiplies
    a coordinate's gradient at step :math:`t` when its accumulator (after adding :math:`g_t^2`) is
    :math:`s_t` (``accumulator``, a number or an array). :math:`\epsilon` sits *outside* the root."""
    _check(lr, lr_decay, eps)
    return adagrad_step_size(lr, lr_decay, step) / (np.sqrt(accumulator) + eps)


def adagrad_accumulator_curve(gradients, initial_accumulator_value: float = 0.0) -> np.ndarray:
    r""":math:`s_t = s_0 + \sum_{k \le t} g_k^2` for :math:`t = 1 \dots T`, for a gradient stream
    ``gradients`` of shape ``(T,)`` or ``(T, n)`` (one column per coordinate)."""
    _check(0.0, 0.0, 0.0, initial_accumulator_value)
    gradients = np.asarray(gradients, dtype=np.float64)
    return initial_accumulator_value + np.cumsum(gradients**2, axis=0)


def adagrad_effective_lr_curve(gradients, *, lr: float = 1e-2, lr_decay: float = 0.0,
                               eps: float = 1e-10,
                               initial_accumulator_value: float = 0.0) -> np.ndarray:
    r"""The effective learning rate :math:`\eta^{\text{eff}}_t` at every step :math:`t = 1 \dots T`
    of a gradient stream (shape ``(T,)`` or ``(T, n)``). ``-lr_eff * g`` is exactly the change
    ``torch.optim.Adagrad`` makes to that coordinate at that step."""
    _check(lr, lr_decay, eps, initial_accumulator_value)
    sums = adagrad_accumulator_curve(gradients, initial_accumulator_value)
    steps = np.arange(1, len(sums) + 1, dtype=np.float64).reshape((-1,) + (1,) * (sums.ndim - 1))
    return lr / (1 + (steps - 1) * lr_decay) / (np.sqrt(sums) + eps)


def adagrad_diagonal_quadratic_path(start, *, lr: float, steps: int) -> np.ndarray:
    r"""Adagrad's path (``eps = 0``, ``lr_decay = 0``, :math:`s_0 = 0`) on *any* axis-aligned quadratic
    :math:`f(\theta) = \tfrac12 \sum_i h_i \theta_i^2` (minimum at 0), from ``start``.

    Coordinate :math:`i` has gradient :math:`h_i \theta_i`, so

    .. math::

        \theta_{t,i} = \theta_{t-1,i} - \eta\,
            \frac{h_i \theta_{t-1,i}}{\sqrt{\sum_{k<t} h_i^2 \theta_{k,i}^2}}
        = \theta_{t-1,i}\Big(1 - \frac{\eta}{\sqrt{\sum_{k=0}^{t-1} \theta_{k,i}^2}}\Big):

    the curvature :math:`h_i` cancels. Every coordinate follows the same recurrence whatever its
    curvature, so the condition number :math:`\kappa` has no effect at all: the path on a
    :math:`\kappa = 1000` valley is the path on a round bowl. (With :math:`\epsilon > 0` this holds
    while :math:`h_i|\theta_i|\sqrt t \gg \epsilon`.) Returns the ``(steps + 1, n)`` points,
    ``start`` first.
    """
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid learning rate: {lr}")
    theta = np.array(start, dtype=np.float64).reshape(-1)
    path = np.empty((steps + 1, theta.size))
    path[0] = theta
    sum_sq = np.zeros_like(theta)
    for t in range(1, steps + 1):
        sum_sq += theta**2
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(sum_sq > 0, 1 - lr / np.sqrt(sum_sq), 1.0)
        theta = theta * factor
        path[t] = theta
    return path


def full_matrix_adagrad_path(hessian, start, *, lr: float, steps: int, eps: float = 1e-10) -> np.ndarray:
    r"""Full-matrix Adagrad (Duchi et al. 2011, section 1) on :math:`f = \tfrac12\theta^\top H\theta`:

    .. math::  G_t = \sum_{k \le t} g_k g_k^\top, \qquad
        \theta_t = \theta_{t-1} - \eta\,(G_t^{1/2} + \epsilon I)^{-1} g_t ,

    the matrix root of the summed gradient *outer products*, not :math:`H^{-1}`. torch has no such
    optimizer; ``torch.optim.Adagrad`` keeps only the diagonal of :math:`G_t` (its ``state["sum"]``).
    The update commutes with rotations: turning the valley turns the path. Returns the
    ``(steps + 1, n)`` points, ``start`` first."""
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"Invalid learning rate: {lr}")
    H = np.asarray(hessian, dtype=np.float64)
    theta = np.array(start, dtype=np.float64).reshape(-1)
    path = np.empty((steps + 1, theta.size))
    path[0] = theta
    G = np.zeros((theta.size, theta.size))
    for t in range(1, steps + 1):
        g = H @ theta
        G += np.outer(g, g)
        w, U = np.linalg.eigh(G)
        theta = theta - lr * (U @ ((U.T @ g) / (np.sqrt(np.clip(w, 0.0, None)) + eps)))
        path[t] = theta
    return path


def diagonal_newton_path(hessian, start, *, lr: float = 1.0, steps: int) -> np.ndarray:
    r"""Diagonal Newton on :math:`f = \tfrac12\theta^\top H\theta`:
    :math:`\theta_t = \theta_{t-1} - \eta\,\operatorname{diag}(H)^{-1} \nabla f(\theta_{t-1})`, the
    true curvature but only its diagonal. On the 45° turned valley :math:`\operatorname{diag}(H)`
    is :math:`\tfrac{L+\mu}{2} I`, so at ``lr = 1`` it is gradient descent at :math:`2/(L+\mu)`."""
    H = np.asarray(hessian, dtype=np.float64)
    theta = np.array(start, dtype=np.float64).reshape(-1)
    path = np.empty((steps + 1, theta.size))
    path[0] = theta
    for t in range(1, steps + 1):
        theta = theta - lr * (H @ theta) / np.diag(H)
        path[t] = theta
    return path


def preconditioned_rate(preconditioner_diagonal, hessian) -> float:
    r"""The late, linear rate :math:`\rho` of :math:`\theta \leftarrow \theta - P H\theta` with a
    *fixed* diagonal :math:`P` (Adagrad once its accumulators have settled): the largest
    :math:`|1 - \lambda|` over the eigenvalues :math:`\lambda` of :math:`PH` (real, since
    :math:`PH` is similar to :math:`P^{1/2} H P^{1/2}`). The distance then shrinks like :math:`\rho^t`."""
    p = np.sqrt(np.asarray(preconditioner_diagonal, dtype=np.float64))
    H = np.asarray(hessian, dtype=np.float64)
    lam = np.linalg.eigvalsh(p[:, None] * H * p[None, :])
    return float(np.abs(1.0 - lam).max())
