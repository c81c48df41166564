r"""Stochastic gradient descent: plain, with momentum, dampening and Nesterov momentum.

One update of one tensor, in torch's convention (the one ``torch.optim.SGD`` computes):

.. math::

    \begin{aligned}
    g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1})
        \quad (\text{negated when } \textit{maximize}) \\
    g_t &\leftarrow g_t + \lambda\,\theta_{t-1}
        \quad (\text{L2 weight decay, when } \lambda \neq 0) \\
    b_t &\leftarrow \begin{cases} g_t & t = 1 \\
                                 \mu\, b_{t-1} + (1-\tau)\, g_t & t > 1 \end{cases}
        \quad (\text{when } \mu \neq 0) \\
    d_t &\leftarrow \begin{cases} g_t + \mu\, b_t & \textit{nesterov} \\
                                 b_t & \text{otherwise} \end{cases} \\
    \theta_t &\leftarrow \theta_{t-1} - \gamma\, d_t
    \end{aligned}

Symbols to arguments: :math:`\gamma` = ``lr``, :math:`\mu` = ``momentum``,
:math:`\tau` = ``dampening``, :math:`\lambda` = ``weight_decay``, :math:`b` =
``state["momentum_buffer"]``.

Where papers differ from torch:

* Many texts write momentum as an exponential moving average, :math:`m_t = \beta m_{t-1} +
  (1-\beta) g_t`. torch sums instead, :math:`b_t = \mu b_{t-1} + g_t` (``dampening=0``), so the
  same ``lr`` gives a step about :math:`1/(1-\mu)` times larger than the EMA form.
* The buffer starts as the first gradient, :math:`b_1 = g_1`, not :math:`(1-\tau) g_1`:
  dampening is skipped on step 1.
* Nesterov (Sutskever et al., 2013) evaluates the gradient at a look-ahead point; torch uses the
  equivalent reformulation :math:`d_t = g_t + \mu b_t` on the un-shifted parameters.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from ._base import CourseOptimizer, check_float_hyperparameter, check_non_negative

__all__ = ["sgd_init", "sgd_update", "SGD"]


def sgd_init(param: Tensor) -> dict[str, Any]:
    """SGD's fresh state: empty. The momentum buffer is created on the first step, as in torch."""
    return {}


def sgd_update(
    param: Tensor,
    grad: Tensor,
    state: dict[str, Any],
    *,
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> None:
    r"""Apply one SGD step to ``param`` in place (and create/update ``state["momentum_buffer"]``).

    .. math::

        \begin{aligned}
        g &\leftarrow \nabla f(\theta) + \lambda\theta \\
        b &\leftarrow g \text{ on the first step, else } \mu b + (1-\tau) g \\
        d &\leftarrow g + \mu b \text{ (nesterov) or } b \\
        \theta &\leftarrow \theta - \gamma d
        \end{aligned}

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient :math:`\nabla f(\theta)` (not modified).
        state: this parameter's state dict; ``"momentum_buffer"`` (:math:`b`) is added on the
            first step when ``momentum != 0``.
        lr: step size :math:`\gamma`.
        momentum: momentum factor :math:`\mu` (0 gives plain SGD and keeps no state).
        dampening: :math:`\tau`, scales the new gradient by :math:`1-\tau` from step 2 on.
        weight_decay: L2 coefficient :math:`\lambda`, added to the gradient.
        nesterov: use :math:`d = g + \mu b` instead of :math:`d = b`.
        maximize: ascend instead of descend (use :math:`-\nabla f`).
    """
    # g = -∇f when maximizing (a new tensor: the caller's .grad is never changed)
    if maximize:
        grad = -grad

    if weight_decay != 0:
        # g ← g + λθ
        grad = grad.add(param, alpha=weight_decay)

    if momentum != 0:
        buffer = state.get("momentum_buffer")
        if buffer is None:
            # b₁ = g₁   (torch: no dampening on the first step)
            buffer = grad.detach().clone()
            state["momentum_buffer"] = buffer
        else:
            # b ← μb + (1 − τ)g
            buffer.mul_(momentum).add_(grad, alpha=1 - dampening)

        if nesterov:
            # d = g + μb
            grad = grad.add(buffer, alpha=momentum)
        else:
            # d = b
            grad = buffer

    # θ ← θ − γd
    param.add_(grad, alpha=-lr)


class SGD(CourseOptimizer):
    r"""Stochastic gradient descent (optionally with momentum and Nesterov), equal to
    ``torch.optim.SGD(..., foreach=False)``.

    The math is :func:`sgd_update` (see the module docstring for torch's conventions).

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-3).
        momentum: momentum factor :math:`\mu` (default 0).
        dampening: dampening :math:`\tau` for momentum (default 0).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        nesterov: enable Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_float_hyperparameter(lr, "lr")
        # torch's SGD tests `lr < 0.0` (so NaN slips through there); the message is the same.
        check_non_negative(lr, "learning rate")
        check_non_negative(momentum, "momentum value")
        check_non_negative(weight_decay, "weight_decay value")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return sgd_init(param)

    def update_param(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        sgd_update(
            param,
            grad,
            state,
            lr=group["lr"],
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
