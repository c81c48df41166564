r"""L2 regularisation and weight decay: when they coincide, when they do not, and what torch's
convention (decay multiplied by the learning rate) means for the numbers.

Two ways to pull weights towards zero, with η = ``lr`` and λ = ``weight_decay``:

* **L2 regularisation** adds :math:`\tfrac{\lambda}{2}\lVert\theta\rVert^2` to the loss, so the
  optimizer sees the gradient :math:`g + \lambda\theta`. This is what ``weight_decay`` does in
  ``torch.optim.SGD`` and in ``torch.optim.Adam`` (default ``decoupled_weight_decay=False``).
* **Decoupled weight decay** shrinks the weights directly, outside the optimizer's update:
  :math:`\theta \leftarrow \theta\,(1 - \eta\lambda)` before the step. This is ``AdamW`` and
  ``Adam(decoupled_weight_decay=True)``. torch multiplies λ by η; Loshchilov & Hutter's paper
  writes :math:`\theta \leftarrow \theta - \eta_t \lambda_{\text{paper}}\theta` with a schedule
  multiplier :math:`\eta_t` that is separate from Adam's step size α.

For plain SGD (no momentum) the two are the same update, term for term:
:math:`\theta - \eta(g + \lambda\theta) = \theta(1-\eta\lambda) - \eta g`. Under Adam the L2
term goes through the moments and is divided by :math:`\sqrt{\hat v}`, so it is rescaled per
coordinate; that is the whole reason AdamW exists.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = [
    "decay_factor",
    "paper_weight_decay",
    "shrink_under_schedule",
    "half_life",
    "adam_l2_effective_decay",
]


def _check_lr_decay(lr: float, weight_decay: float) -> None:
    if not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"Invalid learning rate: {lr}")
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def decay_factor(lr: float, weight_decay: float) -> float:
    r"""The factor :math:`1 - \eta\lambda` by which AdamW (and plain SGD with L2) shrinks every
    weight per step, before the gradient part of the update."""
    _check_lr_decay(lr, weight_decay)
    return 1.0 - lr * weight_decay


def paper_weight_decay(lr: float, weight_decay: float) -> float:
    r"""The paper's :math:`\lambda_{\text{paper}}` (with schedule multiplier :math:`\eta_t = 1`)
    that gives the same per-step shrink as torch's ``AdamW(lr, weight_decay)``:
    :math:`\lambda_{\text{paper}} = \eta\lambda`.

    The other way round: a paper's :math:`\lambda_{\text{paper}}` becomes torch's
    ``weight_decay = λ_paper / lr``; ``AdamW(lr=1e-3, weight_decay=0.1)`` shrinks by 1e-4 per step.
    """
    _check_lr_decay(lr, weight_decay)
    return lr * weight_decay


def shrink_under_schedule(lrs: Iterable[float], weight_decay: float) -> float:
    r"""Total shrink :math:`\prod_t (1 - \eta_t \lambda)` of a weight over a learning-rate
    schedule :math:`\eta_1, \eta_2, \dots` (the decay part alone, as torch applies it).

    Because torch multiplies the decay by the *current* lr, a schedule schedules the decay too:
    a cosine schedule from η down to 0 decays about as much in total as a constant η/2 would.
    """
    total = 1.0
    for lr in lrs:
        total *= decay_factor(lr, weight_decay)
    return total


def half_life(lr: float, weight_decay: float) -> float:
    r"""Steps until decay alone halves a weight: :math:`\ln 2 / -\ln(1-\eta\lambda) \approx
    0.69/(\eta\lambda)`. ``AdamW(lr=1e-3, weight_decay=1e-2)`` (torch's defaults): about 69 000
    steps. Infinite when ηλ = 0."""
    factor = decay_factor(lr, weight_decay)
    if factor == 1.0:
        return math.inf
    if not 0.0 < factor < 1.0:
        raise ValueError(f"lr * weight_decay = {lr * weight_decay} must be in (0, 1) for a half-life")
    return math.log(2.0) / -math.log(factor)


def adam_l2_effective_decay(lr: float, weight_decay: float, grad_scale: float, eps: float = 1e-8) -> float:
    r"""The average fraction of a weight that L2 (``Adam(weight_decay=λ)``) removes per step, for
    a weight whose loss gradient is zero-mean noise of root-mean-square ``grad_scale`` (σ).

    The L2 term :math:`\lambda\theta` enters :math:`m` and :math:`v` like any gradient. With
    :math:`\lambda|\theta| \ll \sigma`: :math:`\hat m` averages to :math:`\lambda\theta` and
    :math:`\sqrt{\hat v} \approx \sigma`, so the average step is
    :math:`-\eta\lambda\theta/(\sigma + \epsilon)`:

    .. math:: \text{decay per step} \approx \frac{\eta\lambda}{\sigma + \epsilon}

    against exactly :math:`\eta\lambda` for AdamW. A weight with 100× larger gradients is decayed
    100× less; one with tiny gradients is decayed far more than λ suggests.
    """
    _check_lr_decay(lr, weight_decay)
    if not (math.isfinite(grad_scale) and grad_scale >= 0):
        raise ValueError(f"grad_scale must be >= 0, got {grad_scale}")
    return lr * weight_decay / (grad_scale + eps)
