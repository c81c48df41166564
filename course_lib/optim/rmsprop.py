r"""RMSprop (Hinton, 2012 lecture notes), with the centered variant (Graves, 2013) and momentum.

One update of one tensor, exactly as ``torch.optim.RMSprop`` computes it:

.. math::

    \begin{aligned}
    t &\leftarrow t + 1 \\
    g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1})
        \quad (\text{negated when } \textit{maximize}) \\
    g_t &\leftarrow g_t + \lambda\,\theta_{t-1}
        \quad (\text{L2 weight decay, when } \lambda \neq 0) \\
    v_t &\leftarrow \alpha\, v_{t-1} + (1-\alpha)\, g_t^2 \\
    \tilde v_t &\leftarrow \begin{cases} v_t - \bar g_t^{\,2}, \quad
        \bar g_t \leftarrow \alpha\, \bar g_{t-1} + (1-\alpha)\, g_t & \textit{centered} \\
        v_t & \text{otherwise} \end{cases} \\
    &\text{if } \mu > 0: \quad b_t \leftarrow \mu\, b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon),
        \quad \theta_t \leftarrow \theta_{t-1} - \gamma\, b_t \\
    &\text{else}: \quad \theta_t \leftarrow \theta_{t-1} - \gamma\, g_t / (\sqrt{\tilde v_t} + \epsilon)
    \end{aligned}

Symbols to arguments: :math:`\gamma` = ``lr``, :math:`\alpha` = ``alpha``, :math:`\epsilon` =
``eps``, :math:`\lambda` = ``weight_decay``, :math:`\mu` = ``momentum``, :math:`t` =
``state["step"]``, :math:`v` = ``state["square_avg"]``, :math:`\bar g` = ``state["grad_avg"]``,
:math:`b` = ``state["momentum_buffer"]``.

Where others differ from torch: :math:`\alpha` is the *decay* (many texts call it
:math:`\rho` or :math:`\beta`, and Keras' default is 0.9 where torch's is 0.99); there is no bias
correction, so :math:`v` starts small and the first steps are large; :math:`\epsilon` is added
outside the square root (TensorFlow's ``ApplyRMSProp`` kernel adds it inside,
:math:`\sqrt{v+\epsilon}`); momentum accumulates the normalised gradient without the learning
rate, :math:`b = \mu b + g/(\sqrt{v}+\epsilon)`, and :math:`\gamma` multiplies :math:`b` (TensorFlow
folds :math:`\gamma` into :math:`b`, which differs once a schedule changes :math:`\gamma`); the
buffer starts at 0.
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

__all__ = ["rmsprop_init", "rmsprop_update", "RMSprop"]


def rmsprop_init(param: Tensor, momentum: float = 0.0, centered: bool = False) -> dict[str, Any]:
    r"""RMSprop's fresh state for ``param``: :math:`t = 0,\ v_0 = 0`, plus :math:`b_0 = 0`
    when ``momentum > 0`` and :math:`\bar g_0 = 0` when ``centered``."""
    state = {
        "step": new_step_counter(),
        "square_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
    }
    if momentum > 0:
        state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)
    if centered:
        state["grad_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
    return state


def rmsprop_update(
    param: Tensor,
    grad: Tensor,
    state: dict[str, Any],
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> None:
    r"""Apply one RMSprop step to ``param`` and ``state`` in place.

    .. math::

        \begin{aligned}
        v &\leftarrow \alpha v + (1-\alpha) g^2 \\
        \bar g &\leftarrow \alpha \bar g + (1-\alpha) g, \quad
            \text{avg} \leftarrow \sqrt{v - \bar g^2} + \epsilon
            \quad (\textit{centered; else } \text{avg} \leftarrow \sqrt{v} + \epsilon) \\
        b &\leftarrow \mu b + g / \text{avg}, \quad \theta \leftarrow \theta - \gamma b
            \quad (\mu > 0; \text{ else } \theta \leftarrow \theta - \gamma\, g / \text{avg})
        \end{aligned}

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient :math:`g` (not modified).
        state: from :func:`rmsprop_init` with the same ``momentum`` and ``centered``:
            ``step``, ``square_avg`` (:math:`v`), ``momentum_buffer`` (:math:`b`),
            ``grad_avg`` (:math:`\bar g`).
        lr: step size :math:`\gamma`.
        alpha: decay rate :math:`\alpha` of the moving averages.
        eps: :math:`\epsilon`, added outside the square root.
        weight_decay: L2 coefficient :math:`\lambda`, added to the gradient.
        momentum: :math:`\mu`; 0 means no momentum buffer.
        centered: divide by the estimated standard deviation :math:`\sqrt{v - \bar g^2}`
            instead of the root mean square :math:`\sqrt{v}`.
        maximize: ascend instead of descend (use :math:`-g`).
    """
    square_avg = state["square_avg"]

    # g = -∇f when maximizing
    if maximize:
        grad = -grad

    # t ← t + 1   (kept for state_dict parity with torch; RMSprop has no bias correction)
    state["step"] += 1

    if weight_decay != 0:
        # g ← g + λθ
        grad = grad.add(param, alpha=weight_decay)

    # v ← αv + (1 − α)g²
    square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)

    if centered:
        grad_avg = state["grad_avg"]
        # ḡ ← αḡ + (1 − α)g   (lerp_ is torch's form: ḡ + (1 − α)(g − ḡ))
        grad_avg.lerp_(grad, 1 - alpha)
        # √(v − ḡ²)
        avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
    else:
        # √v
        avg = square_avg.sqrt()
    # avg ← avg + ε
    avg = avg.add_(eps)

    if momentum > 0:
        buffer = state["momentum_buffer"]
        # b ← μb + g / avg
        buffer.mul_(momentum).addcdiv_(grad, avg)
        # θ ← θ − γb
        param.add_(buffer, alpha=-lr)
    else:
        # θ ← θ − γ · g / avg
        param.addcdiv_(grad, avg, value=-lr)


class RMSprop(CourseOptimizer):
    r"""RMSprop, equal to ``torch.optim.RMSprop(..., foreach=False)``.

    The math is :func:`rmsprop_update` (see the module docstring for torch's conventions).

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-2).
        alpha: decay rate :math:`\alpha` of the squared-gradient average (default 0.99).
        eps: :math:`\epsilon`, added outside the square root (default 1e-8).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        momentum: momentum factor :math:`\mu` (default 0).
        centered: normalise by the estimated variance instead of the second moment.
        maximize: maximize the objective instead of minimizing it (keyword-only here; torch
            accepts it positionally after ``capturable`` and ``foreach``, which course_lib
            leaves out).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_float_hyperparameter(lr, "lr")
        check_non_negative(lr, "learning rate")
        check_non_negative(eps, "epsilon value")
        check_non_negative(momentum, "momentum value")
        check_non_negative(weight_decay, "weight_decay value")
        check_non_negative(alpha, "alpha value")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return rmsprop_init(param, momentum=group["momentum"], centered=group["centered"])

    def update_param(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        rmsprop_update(
            param,
            grad,
            state,
            lr=group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            centered=group["centered"],
            maximize=group["maximize"],
        )
