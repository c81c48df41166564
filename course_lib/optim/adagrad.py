r"""Adagrad (Duchi, Hazan & Singer, 2011): per-coordinate steps from the sum of squared gradients.

One update of one tensor, exactly as ``torch.optim.Adagrad`` computes it:

.. math::

    \begin{aligned}
    t &\leftarrow t + 1 \\
    g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1})
        \quad (\text{negated when } \textit{maximize}) \\
    g_t &\leftarrow g_t + \lambda\,\theta_{t-1}
        \quad (\text{L2 weight decay, when } \lambda \neq 0) \\
    \tilde\gamma_t &\leftarrow \frac{\gamma}{1 + (t-1)\,\eta} \\
    s_t &\leftarrow s_{t-1} + g_t^2 \\
    \theta_t &\leftarrow \theta_{t-1} - \tilde\gamma_t\, \frac{g_t}{\sqrt{s_t} + \epsilon}
    \end{aligned}

Symbols to arguments: :math:`\gamma` = ``lr``, :math:`\eta` = ``lr_decay``, :math:`\lambda` =
``weight_decay``, :math:`\epsilon` = ``eps``, :math:`s_0` = ``initial_accumulator_value``,
:math:`t` = ``state["step"]``, :math:`s` = ``state["sum"]``.

Where papers differ from torch: the paper's diagonal update
:math:`\theta - \gamma\, g / (\delta + \sqrt{s})` matches torch's placement of
:math:`\epsilon` (the paper's :math:`\delta`, outside the root), but it has no ``lr_decay`` (torch's
:math:`\tilde\gamma_t` decays the step as :math:`1/(1+(t-1)\eta)`, so step 1 uses the full
:math:`\gamma`) and starts the accumulator at 0 (torch: ``initial_accumulator_value``). Some
textbooks write :math:`\sqrt{s + \epsilon}` instead; that is not what torch computes.

Unlike the other optimizers, torch's Adagrad creates every parameter's state when it is
constructed, not on the first step; ``Adagrad`` here does the same, so even a parameter that
never gets a gradient has ``step`` and ``sum`` in ``optimizer.state``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._base import (
    CourseOptimizer,
    check_float_hyperparameter,
    check_non_negative,
    new_step_counter,
)

__all__ = ["adagrad_init", "adagrad_update", "Adagrad"]


def adagrad_init(param: Tensor, initial_accumulator_value: float = 0.0) -> dict[str, Any]:
    r"""Adagrad's fresh state for ``param``: :math:`t = 0`, :math:`s_0 = ` ``initial_accumulator_value``."""
    return {
        "step": new_step_counter(),
        "sum": torch.full_like(
            param, initial_accumulator_value, memory_format=torch.preserve_format
        ),
    }


def adagrad_update(
    param: Tensor,
    grad: Tensor,
    state: dict[str, Any],
    *,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> None:
    r"""Apply one Adagrad step to ``param`` and ``state`` in place.

    .. math::

        \begin{aligned}
        t &\leftarrow t + 1, \quad
        \tilde\gamma \leftarrow \gamma / (1 + (t-1)\eta) \\
        s &\leftarrow s + g^2 \\
        \theta &\leftarrow \theta - \tilde\gamma\, g / (\sqrt{s} + \epsilon)
        \end{aligned}

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient :math:`g` (not modified).
        state: from :func:`adagrad_init`: ``step`` (:math:`t`) and ``sum`` (:math:`s`).
        lr: base step size :math:`\gamma`.
        lr_decay: :math:`\eta` in the step-size decay :math:`\gamma / (1 + (t-1)\eta)`.
        weight_decay: L2 coefficient :math:`\lambda`, added to the gradient.
        eps: :math:`\epsilon`, added to :math:`\sqrt{s}`.
        maximize: ascend instead of descend (use :math:`-g`).
    """
    state_sum = state["sum"]
    step_t = state["step"]

    # t ← t + 1
    step_t += 1
    step = step_t.item()

    # g = -∇f when maximizing
    if maximize:
        grad = -grad

    if weight_decay != 0:
        # g ← g + λθ
        grad = grad.add(param, alpha=weight_decay)

    # γ̃ = γ / (1 + (t − 1)η)
    clr = lr / (1 + (step - 1) * lr_decay)

    # s ← s + g²
    state_sum.addcmul_(grad, grad, value=1)
    # std = √s + ε
    std = state_sum.sqrt().add_(eps)
    # θ ← θ − γ̃ · g / std
    param.addcdiv_(grad, std, value=-clr)


class Adagrad(CourseOptimizer):
    r"""Adagrad, equal to ``torch.optim.Adagrad(..., foreach=False)``.

    The math is :func:`adagrad_update` (see the module docstring for torch's conventions).
    State is created for every parameter in ``__init__``, as torch does.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-2).
        lr_decay: step-size decay :math:`\eta` (default 0).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        initial_accumulator_value: :math:`s_0`, the starting value of the sum (default 0).
        eps: :math:`\epsilon`, added to :math:`\sqrt{s}` (default 1e-10).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        check_float_hyperparameter(lr, "lr")
        check_non_negative(lr, "learning rate")
        check_non_negative(lr_decay, "lr_decay value")
        check_non_negative(weight_decay, "weight_decay value")
        check_non_negative(initial_accumulator_value, "initial_accumulator_value value")
        check_non_negative(eps, "epsilon value")
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

        # torch's Adagrad fills the state eagerly, so state_dict() has it before any step.
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param] = self.init_state(param, group)

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return adagrad_init(param, group["initial_accumulator_value"])

    def update_param(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        adagrad_update(
            param,
            grad,
            state,
            lr=group["lr"],
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
        )
