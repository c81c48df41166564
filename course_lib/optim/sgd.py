r"""Stochastic gradient descent: plain, with momentum, dampening and Nesterov momentum.

One update of one tensor, in torch's convention (the one ``torch.optim.SGD`` computes), written
in the course's notation (docs/notation.md):

.. math::

    \begin{aligned}
    g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1})
        \quad (\text{negated when } \textit{maximize}) \\
    g_t &\leftarrow g_t + \lambda\,\theta_{t-1}
        \quad (\text{L2 weight decay, when } \lambda \neq 0) \\
    b_t &\leftarrow \begin{cases} g_t & t = 1 \\
                                 \beta\, b_{t-1} + (1-\tau)\, g_t & t > 1 \end{cases}
        \quad (\text{when } \beta \neq 0) \\
    d_t &\leftarrow \begin{cases} g_t + \beta\, b_t & \textit{nesterov} \\
                                 b_t & \text{otherwise} \end{cases} \\
    \theta_t &\leftarrow \theta_{t-1} - \eta\, d_t
    \end{aligned}

Symbols to arguments: :math:`\eta` = ``lr``, :math:`\beta` = ``momentum``,
:math:`\tau` = ``dampening``, :math:`\lambda` = ``weight_decay``, :math:`b` =
``state["momentum_buffer"]``. (torch's docs write :math:`\gamma` for the learning rate and
:math:`\mu` for the momentum; the course keeps :math:`\mu` for the smallest curvature.)

Where papers differ from torch:

* Many texts write momentum as an exponential moving average, :math:`m_t = \beta m_{t-1} +
  (1-\beta) g_t`, :math:`\theta_t = \theta_{t-1} - \alpha_t m_t`. torch sums instead,
  :math:`b_t = \beta b_{t-1} + g_t` (``dampening=0``), so the same ``lr`` gives a step about
  :math:`1/(1-\beta)` times larger; ``lr`` :math:`= \alpha_t (1-\beta)` makes the two equal at
  every step, under any learning-rate schedule.
* Polyak's, Sutskever et al.'s and Keras' *velocity* form puts the learning rate inside the
  buffer, :math:`v_t = \beta v_{t-1} - \eta_t g_t`, :math:`\theta_t = \theta_{t-1} + v_t`. It
  equals torch's form (with :math:`v = -\eta b`) only while :math:`\eta` is constant: after a
  schedule changes :math:`\eta`, torch rescales the old gradients in the buffer by the new
  :math:`\eta`, the velocity form keeps them at the old one.
* The buffer starts as the first gradient, :math:`b_1 = g_1`, not :math:`(1-\tau) g_1`:
  dampening is skipped on step 1.
* Nesterov (Sutskever et al., 2013) evaluates the gradient at a look-ahead point
  :math:`\theta + \beta v`. torch's :math:`d_t = g_t + \beta b_t` is the same algorithm with
  the parameters stored *at* the look-ahead point: ``param`` :math:`= \theta + \beta v` and
  ``momentum_buffer`` :math:`= -v/\eta`, so the ordinary gradient of ``param`` is the paper's
  look-ahead gradient (notebook 04, section 4).
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
        b &\leftarrow g \text{ on the first step, else } \beta b + (1-\tau) g \\
        d &\leftarrow g + \beta b \text{ (nesterov) or } b \\
        \theta &\leftarrow \theta - \eta d
        \end{aligned}

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient :math:`\nabla f(\theta)` (not modified).
        state: this parameter's state dict; ``"momentum_buffer"`` (:math:`b`) is added on the
            first step when ``momentum != 0``.
        lr: step size :math:`\eta` (torch's docs: :math:`\gamma`).
        momentum: momentum factor :math:`\beta` (torch's docs: :math:`\mu`; 0 gives plain SGD
            and keeps no state).
        dampening: :math:`\tau`, scales the new gradient by :math:`1-\tau` from step 2 on.
        weight_decay: L2 coefficient :math:`\lambda`, added to the gradient.
        nesterov: use :math:`d = g + \beta b` instead of :math:`d = b`.
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
            # b ← βb + (1 − τ)g
            buffer.mul_(momentum).add_(grad, alpha=1 - dampening)

        if nesterov:
            # d = g + βb
            grad = grad.add(buffer, alpha=momentum)
        else:
            # d = b
            grad = buffer

    # θ ← θ − ηd
    param.add_(grad, alpha=-lr)


class SGD(CourseOptimizer):
    r"""Stochastic gradient descent (optionally with momentum and Nesterov), equal to
    ``torch.optim.SGD(..., foreach=False)``.

    The math is :func:`sgd_update` (see the module docstring for torch's conventions).

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\eta` (default 1e-3).
        momentum: momentum factor :math:`\beta` (default 0).
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
