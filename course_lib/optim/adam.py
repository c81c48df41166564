r"""Adam (Kingma & Ba, 2015), with the AMSGrad variant and optional decoupled weight decay.

One update of one tensor, exactly as ``torch.optim.Adam`` computes it:

.. math::

    \begin{aligned}
    t &\leftarrow t + 1 \\
    g_t &\leftarrow \nabla_\theta f_t(\theta_{t-1})
        \quad (\text{negated when } \textit{maximize}) \\
    &\text{if } \lambda \neq 0: \quad
        \begin{cases} \theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda)
                        & \textit{decoupled\_weight\_decay} \text{ (AdamW)} \\
                      g_t \leftarrow g_t + \lambda\theta_{t-1} & \text{otherwise (L2)}
        \end{cases} \\
    m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
    v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
    v_t^{\max} &\leftarrow \max(v_{t-1}^{\max}, v_t) \quad (\textit{amsgrad};
        \text{ then } v_t^{\max} \text{ replaces } v_t \text{ below}) \\
    \hat v_t &\leftarrow v_t / (1-\beta_2^t) \\
    \theta_t &\leftarrow \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
        \frac{m_t}{\sqrt{\hat v_t} + \epsilon}
    \end{aligned}

Symbols to arguments: :math:`\gamma` = ``lr``, :math:`\beta_1, \beta_2` = ``beta1, beta2``
(the class takes ``betas=(beta1, beta2)``), :math:`\epsilon` = ``eps``, :math:`\lambda` =
``weight_decay``, :math:`t` = ``state["step"]``, :math:`m` = ``state["exp_avg"]``,
:math:`v` = ``state["exp_avg_sq"]``, :math:`v^{\max}` = ``state["max_exp_avg_sq"]``.

Where papers differ from torch:

* :math:`\epsilon` sits outside the square root and is added to the *bias-corrected*
  :math:`\sqrt{\hat v_t}`; the first-moment correction is folded into the step size
  :math:`\gamma / (1-\beta_1^t)`. (Algorithm 1 of the paper; its "efficient version" in
  section 2 puts a differently scaled :math:`\hat\epsilon` on the raw :math:`\sqrt{v_t}`.)
* AMSGrad (Reddi et al., 2018) as torch does it: the running max is taken of the *raw*
  :math:`v_t`, and the bias correction is applied afterwards. The paper's algorithm has no bias
  correction at all.
* With ``weight_decay`` and the default ``decoupled_weight_decay=False``, Adam adds
  :math:`\lambda\theta` to the gradient (L2), so the decay passes through :math:`m` and
  :math:`v`. AdamW's decay is multiplied by the learning rate, :math:`\theta(1-\gamma\lambda)`,
  not by :math:`\lambda` alone as in Loshchilov & Hutter's paper (where a schedule multiplier
  :math:`\eta_t` scales it separately).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._base import (
    CourseOptimizer,
    check_beta,
    check_betas_are_floats,
    check_float_hyperparameter,
    check_non_negative,
    new_step_counter,
)

__all__ = ["adam_init", "adam_update", "Adam"]


def adam_init(param: Tensor, amsgrad: bool = False) -> dict[str, Any]:
    r"""Adam's fresh state for ``param``: :math:`t = 0,\ m_0 = 0,\ v_0 = 0` (and
    :math:`v^{\max}_0 = 0` with ``amsgrad``), with torch's keys and types.

    ``step`` is a 0-dim float tensor on the CPU (as torch keeps it when neither ``fused`` nor
    ``capturable`` is set); the moments have ``param``'s shape, dtype and device.
    """
    state = {
        "step": new_step_counter(device="cpu"),
        "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
        "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format),
    }
    if amsgrad:
        state["max_exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
    return state


def adam_update(
    param: Tensor,
    grad: Tensor,
    state: dict[str, Any],
    *,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> None:
    r"""Apply one Adam step to ``param`` and ``state`` in place.

    .. math::

        \begin{aligned}
        t &\leftarrow t + 1 \\
        m &\leftarrow \beta_1 m + (1-\beta_1) g \\
        v &\leftarrow \beta_2 v + (1-\beta_2) g^2 \\
        \theta &\leftarrow \theta - \frac{\gamma}{1-\beta_1^t}\,
            \frac{m}{\sqrt{v / (1-\beta_2^t)} + \epsilon}
        \end{aligned}

    with :math:`v` replaced by :math:`v^{\max} = \max(v^{\max}, v)` in the last line when
    ``amsgrad``, and weight decay as L2 (:math:`g \leftarrow g + \lambda\theta`) or, with
    ``decoupled_weight_decay``, as :math:`\theta \leftarrow \theta(1-\gamma\lambda)` before the
    moments are updated (see :func:`course_lib.optim.adamw.decoupled_weight_decay`).

    Args:
        param: the parameter :math:`\theta`, updated in place.
        grad: its gradient :math:`g` (not modified).
        state: from :func:`adam_init`: ``step`` (:math:`t`), ``exp_avg`` (:math:`m`),
            ``exp_avg_sq`` (:math:`v`), and ``max_exp_avg_sq`` (:math:`v^{\max}`) with amsgrad.
        lr: step size :math:`\gamma`.
        beta1: decay rate :math:`\beta_1` of the first moment.
        beta2: decay rate :math:`\beta_2` of the second moment.
        eps: :math:`\epsilon`, added to :math:`\sqrt{\hat v}` (outside the root).
        weight_decay: :math:`\lambda`.
        amsgrad: normalise by the running max of :math:`v`.
        maximize: ascend instead of descend (use :math:`-g`).
        decoupled_weight_decay: decay the weights directly (AdamW) instead of adding L2.
    """
    exp_avg = state["exp_avg"]
    exp_avg_sq = state["exp_avg_sq"]
    step_t = state["step"]

    # g = -∇f when maximizing
    if maximize:
        grad = -grad

    # t ← t + 1
    step_t += 1

    if weight_decay != 0:
        if decoupled_weight_decay:
            # θ ← θ(1 − γλ)   (AdamW: the decay never enters m or v)
            param.mul_(1 - lr * weight_decay)
        else:
            # g ← g + λθ   (L2: the decay goes through m and v)
            grad = grad.add(param, alpha=weight_decay)

    # m ← β₁m + (1 − β₁)g   (lerp_ is torch's form: m + (1 − β₁)(g − m))
    exp_avg.lerp_(grad, 1 - beta1)
    # v ← β₂v + (1 − β₂)g²
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

    # Bias corrections are plain Python floats: t is read once per step.
    step = step_t.item()
    # 1 − β₁ᵗ
    bias_correction1 = 1 - beta1**step
    # 1 − β₂ᵗ
    bias_correction2 = 1 - beta2**step
    # α_t = γ / (1 − β₁ᵗ)
    step_size = lr / bias_correction1
    # √(1 − β₂ᵗ)
    bias_correction2_sqrt = bias_correction2**0.5

    # denom is built in place on the one fresh tensor sqrt() returns. torch divides out of
    # place; the numbers are identical, and one temporary instead of two is faster.
    if amsgrad:
        max_exp_avg_sq = state["max_exp_avg_sq"]
        # vᵐᵃˣ ← max(vᵐᵃˣ, v)   (max of the raw v; corrected below, as torch does)
        torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        # denom = √vᵐᵃˣ / √(1 − β₂ᵗ) + ε
        denom = max_exp_avg_sq.sqrt().div_(bias_correction2_sqrt).add_(eps)
    else:
        # denom = √v / √(1 − β₂ᵗ) + ε = √v̂ + ε
        denom = exp_avg_sq.sqrt().div_(bias_correction2_sqrt).add_(eps)

    # θ ← θ − α_t · m / denom
    param.addcdiv_(exp_avg, denom, value=-step_size)


class Adam(CourseOptimizer):
    r"""Adam, equal to ``torch.optim.Adam(..., foreach=False)``.

    The math is :func:`adam_update` (see the module docstring for torch's conventions).

    Args:
        params: iterable of parameters or of param-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)`, decay rates of the two moment averages
            (default (0.9, 0.999)).
        eps: :math:`\epsilon`, added to :math:`\sqrt{\hat v}` (default 1e-8).
        weight_decay: :math:`\lambda` (default 0): L2, or decoupled with the flag below.
        amsgrad: use the AMSGrad variant (default False).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: apply :math:`\theta \leftarrow \theta(1-\gamma\lambda)` instead
            of L2; ``Adam(..., decoupled_weight_decay=True)`` is AdamW.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_float_hyperparameter(lr, "lr")
        check_non_negative(lr, "learning rate")
        check_non_negative(eps, "epsilon value")
        check_beta(betas)
        check_non_negative(weight_decay, "weight_decay value")
        check_betas_are_floats(betas)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return adam_init(param, amsgrad=group["amsgrad"])

    def update_param(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        beta1, beta2 = group["betas"]
        adam_update(
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
            decoupled_weight_decay=group["decoupled_weight_decay"],
        )
