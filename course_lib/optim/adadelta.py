r"""Adadelta (Zeiler, 2012): RMSprop with the step's units fixed by a second moving average.

One update of one tensor, exactly as ``torch.optim.Adadelta`` computes it:

.. math::

    \begin{aligned}
    t &\leftarrow t + 1 \\
    g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1})
        \quad (\text{negated when } \textit{maximize}) \\
    g_t &\leftarrow g_t + \lambda\,\theta_{t-1}
        \quad (\text{L2 weight decay, when } \lambda \neq 0) \\
    v_t &\leftarrow \rho\, v_{t-1} + (1-\rho)\, g_t^2 \\
    \Delta x_t &\leftarrow \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\; g_t \\
    u_t &\leftarrow \rho\, u_{t-1} + (1-\rho)\, \Delta x_t^2 \\
    \theta_t &\leftarrow \theta_{t-1} - \gamma\, \Delta x_t
    \end{aligned}

Symbols to arguments: :math:`\gamma` = ``lr``, :math:`\rho` = ``rho``, :math:`\epsilon` =
``eps``, :math:`\lambda` = ``weight_decay``, :math:`t` = ``state["step"]``, :math:`v` =
``state["square_avg"]``, :math:`u` = ``state["acc_delta"]``.

Where papers differ from torch: :math:`\epsilon` sits *inside both* square roots (the paper's
RMS[x] = :math:`\sqrt{E[x^2] + \epsilon}`; some textbooks print it outside, an erratum). The
paper has no learning rate; torch multiplies the step by ``lr`` (default 1.0, which recovers the
paper). :math:`u` is updated with the new :math:`\Delta x_t` *before* the parameter moves.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._base import (
    CourseOptimizer,
    check_float_hyperparameter,
    check_in_closed_unit_interval,
    check_non_negative,
    new_step_counter,
)

__all__ = ["adadelta_init", "adadelta_update", "Adadelta"]


def adadelta_init(param: Tensor) -> dict[str, Any]:
    r"""Adadelta's fresh state for ``param``: :math:`t = 0,\ v_0 = 0,\ u_0 = 0`."""
    return {
        "step": new_step_counter(),
        "square_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
        "acc_delta": torch.zeros_like(param, memory_format=torch.preserve_format),
    }


def adadelta_update(
    param: Tensor,
    grad: Tensor,
    state: dict[str, Any],
    *,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r"""Apply one Adadelta step to ``param`` and ``state`` in place.

    .. math::

        \begin{aligned}
        v &\leftarrow \rho v + (1-\rho) g^2 \\
        \Delta x &\leftarrow \sqrt{u + \epsilon} \,/\, \sqrt{v + \epsilon} \cdot g \\
        u &\leftarrow \rho u + (1-\rho) \Delta x^2 \\
        \theta &\leftarrow \theta - \gamma \Delta x
        \end{aligned}

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient :math:`g` (not modified).
        state: from :func:`adadelta_init`: ``step`` (:math:`t`), ``square_avg`` (:math:`v`),
            ``acc_delta`` (:math:`u`).
        lr: multiplier :math:`\gamma` of the step (1.0 is the paper's algorithm).
        rho: decay rate :math:`\rho` of both moving averages.
        eps: :math:`\epsilon`, inside both square roots.
        weight_decay: L2 coefficient :math:`\lambda`, added to the gradient.
        maximize: ascend instead of descend (use :math:`-g`).
    """
    square_avg = state["square_avg"]
    acc_delta = state["acc_delta"]

    # t ← t + 1   (kept for state_dict parity with torch; Adadelta's math does not use t)
    state["step"] += 1

    # g = -∇f when maximizing
    if maximize:
        grad = -grad

    if weight_decay != 0:
        # g ← g + λθ
        grad = grad.add(param, alpha=weight_decay)

    # v ← ρv + (1 − ρ)g²
    square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
    # RMS[g] = √(v + ε)
    std = square_avg.add(eps).sqrt_()
    # RMS[Δx] = √(u + ε)   (u from the previous step)
    delta = acc_delta.add(eps).sqrt_()
    # Δx = RMS[Δx] / RMS[g] · g
    delta.div_(std).mul_(grad)
    # u ← ρu + (1 − ρ)Δx²
    acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
    # θ ← θ − γΔx
    param.add_(delta, alpha=-lr)


class Adadelta(CourseOptimizer):
    r"""Adadelta, equal to ``torch.optim.Adadelta(..., foreach=False)``.

    The math is :func:`adadelta_update` (see the module docstring for torch's conventions).

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: multiplier :math:`\gamma` of the step (default 1.0).
        rho: decay rate :math:`\rho` of the moving averages, in [0, 1] (default 0.9).
        eps: :math:`\epsilon`, inside both square roots (default 1e-6).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        check_float_hyperparameter(lr, "lr")
        check_non_negative(lr, "learning rate")
        check_in_closed_unit_interval(rho, "rho value")
        check_non_negative(eps, "epsilon value")
        check_non_negative(weight_decay, "weight_decay value")
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return adadelta_init(param)

    def update_param(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        adadelta_update(
            param,
            grad,
            state,
            lr=group["lr"],
            rho=group["rho"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
        )
