r"""Learning-rate schedules as closed forms: the lr :math:`\eta_t` used by optimizer step :math:`t`.

Every function here returns the learning rate that torch's scheduler of the same name puts in
``optimizer.param_groups[i]["lr"]`` after ``t`` calls of ``scheduler.step()``, i.e. the lr the
``t``-th ``optimizer.step()`` uses when counted from 0 (``t = 0`` is the first step, before any
``scheduler.step()``). Tests compare each one with ``torch.optim.lr_scheduler`` step by step.
:math:`\eta_{\text{base}}` is ``base_lr`` (the lr the optimizer was built with).

.. math::

    \text{StepLR:}\quad & \eta_t = \eta_{\text{base}}\,\gamma^{\lfloor t/s\rfloor} \\
    \text{MultiStepLR:}\quad & \eta_t = \eta_{\text{base}}\,\gamma^{\#\{m \in \text{milestones}:\ m \le t\}} \\
    \text{ExponentialLR:}\quad & \eta_t = \eta_{\text{base}}\,\gamma^{t} \\
    \text{CosineAnnealingLR:}\quad & \eta_t = \eta_{\min} + (\eta_{\text{base}}-\eta_{\min})\,
        \tfrac12\bigl(1+\cos(\pi t/T)\bigr),\quad 0 \le t \le T \\
    \text{LinearLR (warmup):}\quad & \eta_t = \eta_{\text{base}}\bigl(a + (1-a)\min(t, W)/W\bigr)

Linear warmup then cosine (``SequentialLR([LinearLR(start_factor=a, total_iters=W),
CosineAnnealingLR(T_max=T-W, eta_min)], milestones=[W])``, or one ``LambdaLR``):

.. math::

    \eta_t = \begin{cases} \eta_{\text{base}}\bigl(a + (1-a)\,t/W\bigr) & t < W \\
        \eta_{\min} + (\eta_{\text{base}}-\eta_{\min})\,\tfrac12\bigl(1+\cos(\pi\,(t-W)/(T-W))\bigr) & W \le t \le T
    \end{cases}

One-cycle (``OneCycleLR``, two phases, cosine annealing): with
:math:`\eta_{\text{start}} = \eta_{\max}/d`, :math:`\eta_{\text{end}} = \eta_{\text{start}}/d_f`,
phase 1 ends at step :math:`p = \text{pct\_start}\cdot T - 1`, phase 2 at :math:`T - 1`, and
:math:`\operatorname{cos\_anneal}(a, b, x) = b + \tfrac{a-b}2(1+\cos\pi x)`:

.. math::

    \eta_t = \begin{cases} \operatorname{cos\_anneal}(\eta_{\text{start}}, \eta_{\max}, t/p) & t \le p \\
        \operatorname{cos\_anneal}(\eta_{\max}, \eta_{\text{end}}, (t-p)/(T-1-p)) & t > p \end{cases}

Note that ``OneCycleLR`` *replaces* the optimizer's lr by ``max_lr / div_factor`` when it is
built: ``base_lr`` plays no part.

Cyclic (``CyclicLR``, mode ``"triangular"``): a triangle wave between ``base_lr`` and
``max_lr`` that rises for ``step_size_up`` steps and falls for ``step_size_down``.

``ReduceLROnPlateau`` is not a function of ``t`` but of the metric's history:
:func:`plateau_lrs` replays torch's rule on a list of metric values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

__all__ = [
    "step_lr",
    "multistep_lr",
    "exponential_lr",
    "cosine_lr",
    "cosine_restarts_lr",
    "linear_warmup_lr",
    "warmup_cosine_lr",
    "warmup_cosine_factor",
    "one_cycle_lr",
    "cyclic_lr",
    "plateau_lrs",
    "schedule_values",
    "SCHEDULES",
]


def _check_step(t) -> int:
    if isinstance(t, bool) or not isinstance(t, int) or t < 0:
        raise ValueError(f"the step t must be an integer >= 0, got {t!r}")
    return t


def _restart_position(t: int, T_0: int, T_mult: int) -> tuple[int, int]:
    """(steps since the last restart, length of the current cycle) at step t."""
    start, length = 0, T_0
    while t >= start + length:
        start, length = start + length, length * T_mult
    return t - start, length


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"Invalid {name}: {value} (must be > 0)")


def step_lr(t: int, *, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    r""":math:`\eta_{\text{base}}\,\gamma^{\lfloor t/s\rfloor}`: multiply by ``gamma`` every ``step_size`` steps (``StepLR``)."""
    _check_step(t)
    if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
        raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
    return base_lr * gamma ** (t // step_size)


def multistep_lr(t: int, *, base_lr: float, milestones: Sequence[int], gamma: float = 0.1) -> float:
    r""":math:`\eta_{\text{base}}\,\gamma^{k}` with :math:`k` the number of milestones :math:`\le t` (``MultiStepLR``)."""
    _check_step(t)
    return base_lr * gamma ** sum(1 for m in milestones if m <= t)


def exponential_lr(t: int, *, base_lr: float, gamma: float) -> float:
    r""":math:`\eta_{\text{base}}\,\gamma^t` (``ExponentialLR``)."""
    _check_step(t)
    return base_lr * gamma**t


def cosine_lr(t: int, *, base_lr: float, T_max: int, eta_min: float = 0.0) -> float:
    r""":math:`\eta_{\min} + (\eta_{\text{base}}-\eta_{\min})\frac12(1+\cos(\pi t/T))` for :math:`0 \le t \le T`.

    ``CosineAnnealingLR(T_max=T, eta_min)``. Beyond ``T_max`` torch keeps going along the cosine
    (the lr rises again); this closed form refuses ``t > T_max``: a schedule is meant to end there.
    """
    _check_step(t)
    _check_positive("T_max", T_max)
    if t > T_max:
        raise ValueError(f"cosine_lr is defined for 0 <= t <= T_max={T_max}, got t={t}")
    return eta_min + (base_lr - eta_min) * 0.5 * (1.0 + math.cos(math.pi * t / T_max))


def cosine_restarts_lr(t: int, *, base_lr: float, T_0: int, T_mult: int = 1,
                       eta_min: float = 0.0) -> float:
    r"""SGDR (Loshchilov & Hutter 2017), torch's ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)``.

    :math:`\eta_{\min} + (\eta_{\text{base}}-\eta_{\min})\tfrac12\bigl(1+\cos(\pi\,T_{\text{cur}}/T_i)\bigr)`,
    where cycle :math:`i` lasts :math:`T_i = T_0\,T_{\text{mult}}^{\,i}` steps and
    :math:`T_{\text{cur}}` counts the steps since the last restart: at each restart the lr jumps
    back to :math:`\eta_{\text{base}}`.
    """
    _check_step(t)
    _check_positive("T_0", T_0)
    if isinstance(T_mult, bool) or not isinstance(T_mult, int) or T_mult < 1:
        raise ValueError(f"T_mult must be an integer >= 1, got {T_mult!r}")
    t_cur, length = _restart_position(t, T_0, T_mult)
    return eta_min + (base_lr - eta_min) * 0.5 * (1.0 + math.cos(math.pi * t_cur / length))


def linear_warmup_lr(t: int, *, base_lr: float, warmup_steps: int, start_factor: float) -> float:
    r""":math:`\eta_{\text{base}}\,(a + (1-a)\min(t, W)/W)` (``LinearLR(start_factor=a, total_iters=W)``)."""
    _check_step(t)
    _check_positive("warmup_steps", warmup_steps)
    return base_lr * (start_factor + (1.0 - start_factor) * min(t, warmup_steps) / warmup_steps)


def warmup_cosine_factor(t: int, *, warmup_steps: int, total_steps: int, start_factor: float,
                         min_factor: float = 0.0) -> float:
    r"""The multiplier :math:`\eta_t/\eta_{\text{base}}` of linear warmup then cosine: what ``LambdaLR`` needs.

    .. math::

        \lambda(t) = \begin{cases} a + (1-a)\,t/W & t < W \\
            f + (1-f)\,\tfrac12\bigl(1+\cos(\pi\,(t-W)/(T-W))\bigr) & W \le t \le T \end{cases}

    with :math:`a` = ``start_factor``, :math:`f` = ``min_factor`` (:math:`\eta_{\min}/\eta_{\text{base}}`),
    :math:`W` = ``warmup_steps``, :math:`T` = ``total_steps``.
    """
    _check_step(t)
    if not 0 < warmup_steps < total_steps:
        raise ValueError(f"need 0 < warmup_steps < total_steps, got {warmup_steps} and {total_steps}")
    if t > total_steps:
        raise ValueError(f"the schedule ends at total_steps={total_steps}, got t={t}")
    if t < warmup_steps:
        return start_factor + (1.0 - start_factor) * t / warmup_steps
    progress = (t - warmup_steps) / (total_steps - warmup_steps)
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine_lr(t: int, *, base_lr: float, warmup_steps: int, total_steps: int,
                     start_factor: float, eta_min: float = 0.0) -> float:
    r"""Linear warmup from :math:`a\eta_{\text{base}}` to :math:`\eta_{\text{base}}` over :math:`W` steps, then cosine to ``eta_min`` at :math:`T`.

    Equal to ``SequentialLR([LinearLR(start_factor=a, total_iters=W), CosineAnnealingLR(
    T_max=T-W, eta_min=eta_min)], milestones=[W])`` and to ``LambdaLR`` with
    :func:`warmup_cosine_factor` (``min_factor = eta_min / base_lr``).
    """
    _check_positive("base_lr", base_lr)
    return base_lr * warmup_cosine_factor(t, warmup_steps=warmup_steps, total_steps=total_steps,
                                          start_factor=start_factor, min_factor=eta_min / base_lr)


def _cos_anneal(start: float, end: float, fraction: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)


def one_cycle_lr(t: int, *, max_lr: float, total_steps: int, pct_start: float = 0.3,
                 div_factor: float = 25.0, final_div_factor: float = 1e4) -> float:
    r"""``OneCycleLR`` (two phases, cosine annealing): up from ``max_lr/div_factor`` to ``max_lr``, then down to ``start/final_div_factor``.

    Phase 1 ends at step :math:`p = \text{pct\_start}\cdot T - 1` (a float, as in torch), phase 2
    at :math:`T-1`; defined for :math:`0 \le t \le T-1` (torch raises after ``total_steps`` steps).
    """
    _check_step(t)
    if t >= total_steps:
        raise ValueError(f"one_cycle_lr is defined for 0 <= t < total_steps={total_steps}, got t={t}")
    start = max_lr / div_factor
    end = start / final_div_factor
    peak_step = float(pct_start * total_steps) - 1
    if t <= peak_step:
        return _cos_anneal(start, max_lr, t / peak_step)
    return _cos_anneal(max_lr, end, (t - peak_step) / (total_steps - 1 - peak_step))


def cyclic_lr(t: int, *, base_lr: float, max_lr: float, step_size_up: int,
              step_size_down: int | None = None) -> float:
    r"""``CyclicLR(mode="triangular")``: a triangle wave, up for ``step_size_up`` steps, down for ``step_size_down``.

    .. math::

        c = \lfloor 1 + t/(u+d)\rfloor,\quad x = 1 + t/(u+d) - c,\quad
        \eta_t = \eta_{\text{base}} + (\eta_{\max}-\eta_{\text{base}})
            \begin{cases} x/r & x \le r\\ (x-1)/(r-1) & x > r\end{cases},\quad r = \frac{u}{u+d}
    """
    _check_step(t)
    down = step_size_up if step_size_down is None else step_size_down
    total = float(step_size_up + down)
    ratio = step_size_up / total
    cycle = math.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    return base_lr + (max_lr - base_lr) * scale


def plateau_lrs(metrics: Sequence[float], *, base_lr: float, factor: float = 0.1,
                patience: int = 10, threshold: float = 1e-4, cooldown: int = 0,
                min_lr: float = 0.0, eps: float = 1e-8) -> list[float]:
    r"""The lr after each ``ReduceLROnPlateau(mode="min", threshold_mode="rel").step(metric)`` call.

    A metric counts as an improvement when it is below ``best·(1 − threshold)``. After more than
    ``patience`` calls in a row without improvement the lr is multiplied by ``factor`` (never
    below ``min_lr``; a change smaller than ``eps`` is skipped), the count restarts, and the
    next ``cooldown`` calls are ignored.

    Returns:
        ``lrs[k]``: the lr after the ``k``-th call, i.e. the lr of the epoch that follows it.
    """
    if not 0 <= factor < 1:
        raise ValueError(f"factor must be in [0, 1), got {factor}")
    lr, best, bad, cooldown_left, lrs = base_lr, math.inf, 0, 0, []
    for metric in metrics:
        metric = float(metric)
        if metric < best * (1.0 - threshold):
            best, bad = metric, 0
        else:
            bad += 1
        if cooldown_left > 0:
            cooldown_left -= 1
            bad = 0  # bad epochs during cooldown do not count
        if bad > patience:
            new_lr = max(lr * factor, min_lr)
            if lr - new_lr > eps:
                lr = new_lr
            cooldown_left, bad = cooldown, 0
        lrs.append(lr)
    return lrs


# name -> (closed form, the keyword arguments it needs besides t). The schedule explorer and
# the tests walk this table.
SCHEDULES: dict[str, Callable[..., float]] = {
    "step": step_lr,
    "multistep": multistep_lr,
    "exponential": exponential_lr,
    "cosine": cosine_lr,
    "warmup_cosine": warmup_cosine_lr,
    "one_cycle": one_cycle_lr,
    "cyclic": cyclic_lr,
}


def schedule_values(schedule: Callable[..., float], steps: int, **kwargs) -> list[float]:
    """``[schedule(t, **kwargs) for t in range(steps)]``: the lr of each of ``steps`` optimizer steps."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    return [schedule(t, **kwargs) for t in range(steps)]
