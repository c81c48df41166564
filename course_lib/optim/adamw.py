r"""AdamW (Loshchilov & Hutter, 2019): Adam plus a separate, decoupled weight-decay step.

AdamW is two steps, and this module writes them as two calls:

.. math::

    \begin{aligned}
    \theta &\leftarrow \theta\,(1 - \gamma\lambda)
        &&\text{decoupled weight decay: } \texttt{decoupled\_weight\_decay(param, lr, weight\_decay)} \\
    \theta &\leftarrow \text{Adam}(\theta, g)
        &&\text{plain Adam, no L2 term: } \texttt{adam\_update(..., weight\_decay=0)}
    \end{aligned}

Symbols to arguments: :math:`\gamma` = ``lr``, :math:`\lambda` = ``weight_decay``; the Adam
step is :func:`course_lib.optim.adam.adam_update` with the same state keys.

Why it differs from Adam's ``weight_decay``: Adam adds :math:`\lambda\theta` to the gradient,
which then gets divided by :math:`\sqrt{\hat v}`, so weights with large gradients are barely
decayed. Here the decay bypasses the moments and shrinks every weight by the same factor.

torch's convention, which differs from the paper: the decay is multiplied by the learning rate,
:math:`\theta(1-\gamma\lambda)`. The paper writes :math:`\theta - \eta_t\lambda\theta` with a
schedule multiplier :math:`\eta_t` separate from Adam's step size, so the paper's
:math:`\lambda` corresponds to torch's ``weight_decay * lr``. A learning-rate schedule on torch's
AdamW therefore also schedules the decay. torch's default ``weight_decay`` is 1e-2.

``AdamW(...)`` equals ``torch.optim.AdamW(..., foreach=False)`` and
``Adam(..., decoupled_weight_decay=True)``.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .adam import Adam, adam_update

__all__ = ["decoupled_weight_decay", "adamw_update", "AdamW"]


def decoupled_weight_decay(param: Tensor, lr: float, weight_decay: float) -> None:
    r"""Shrink ``param`` in place: :math:`\theta \leftarrow \theta\,(1 - \gamma\lambda)`.

    Args:
        param: the parameter :math:`\theta`.
        lr: the learning rate :math:`\gamma` (torch multiplies the decay by it).
        weight_decay: :math:`\lambda`; 0 leaves ``param`` untouched.
    """
    if weight_decay != 0:
        # θ ← θ(1 − γλ)
        param.mul_(1 - lr * weight_decay)


def adamw_update(
    param: Tensor,
    grad: Tensor,
    state: dict[str, Any],
    *,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> None:
    r"""Apply one AdamW step to ``param`` and ``state`` in place: decay, then Adam.

    .. math::

        \theta \leftarrow \theta(1-\gamma\lambda), \qquad
        \theta \leftarrow \theta - \frac{\gamma}{1-\beta_1^t}\,
            \frac{m}{\sqrt{v/(1-\beta_2^t)} + \epsilon}

    Arguments as :func:`course_lib.optim.adam.adam_update` (``state`` from ``adam_init``);
    ``weight_decay`` (:math:`\lambda`, default 1e-2) is applied only by the decay step.
    """
    # θ ← θ(1 − γλ)   (uses θ before this step's gradient, as torch does)
    decoupled_weight_decay(param, lr, weight_decay)
    # θ ← Adam(θ, g)   with no L2 term: the decay never reaches m or v
    adam_update(
        param,
        grad,
        state,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=0.0,
        amsgrad=amsgrad,
        maximize=maximize,
    )


class AdamW(Adam):
    r"""AdamW, equal to ``torch.optim.AdamW(..., foreach=False)``.

    A subclass of :class:`~course_lib.optim.adam.Adam` (as in torch) whose update is
    :func:`adamw_update`: :func:`decoupled_weight_decay` followed by a plain Adam step.

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: decoupled decay :math:`\lambda`, multiplied by ``lr`` (default 1e-2).
        amsgrad: use the AMSGrad variant (default False).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        # The group keeps decoupled_weight_decay=True, so a state_dict matches torch's AdamW.
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        # As torch's AdamW: whatever state is loaded, the decay stays decoupled.
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True

    def update_param(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        beta1, beta2 = group["betas"]
        adamw_update(
            param,
            grad,
            state,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            amsgrad=group["amsgrad"],
            maximize=group["maximize"],
        )
