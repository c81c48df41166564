r"""Checkers for notebook 03, momentum: exercises 3.1 to 3.6.

3.1 ``momentum_step(param, grad, state, *, lr, momentum, dampening=0.0)``: one step of
    ``torch.optim.SGD`` with momentum, in place (``course_lib.optim.sgd_update``):

    .. math::

        b_t = \begin{cases} g_t & t = 1 \\ \beta\, b_{t-1} + (1-\tau)\, g_t & t > 1 \end{cases},
        \qquad \theta_t = \theta_{t-1} - \eta\, b_t

    with :math:`\eta` = ``lr``, :math:`\beta` = ``momentum``, :math:`\tau` = ``dampening``,
    :math:`b` = ``state["momentum_buffer"]``; at ``momentum = 0`` torch keeps no buffer. The one
    "write the update" exercise of the notebook.
3.2 ``bias_corrected_ema_lrs(lr, beta, steps) -> list[float]``: the torch learning rates, one per
    step, with which ``SGD(momentum=β, dampening=0)`` follows the *bias-corrected* EMA form
    (Adam's first moment). The lecture teaches the uncorrected case; this asks for the synthesis.
3.3 ``optimal_momentum(lr, mu, L) -> momentum``: at a *given* learning rate, the momentum that
    makes heavy ball fastest on a quadratic with curvatures in :math:`[\mu, L]` (the lecture
    gives Polyak's pair; the exercise asks for the general case).
3.4 ``dampened_gap(grads, *, lr, beta)``: where the tempting conversion
    ``SGD(lr=α, momentum=β, dampening=β)`` leaves the EMA form, after the t gradients ``grads``
    (the same sequence fed to both). Cases whose later gradients are NaN test which gradients the
    learner's gap depends on: simulating both optimizers does not pass them.
3.5 *predict, then measure* ``steps_until_forms_agree(lr_before, lr_after, momentum, tol)``:
    Keras' / Sutskever's velocity form and torch's form take the same steps at a constant lr,
    but not after a step schedule drops the lr; how many steps until they agree within ``tol``.
    The check runs ``torch.optim.SGD`` and the velocity form and counts; the closed form lives
    in the tests, not here.
3.6 written answer: the two effects of momentum in a steep direction, and how Polyak's β trades
    the steep direction against the flat one.
"""

from __future__ import annotations

import math

import torch

from ._framework import (Case, KnownMistake, in_place, register, register_prediction,
                         register_written)

# --------------------------------------------------------------------------------------------
# 3.1 momentum_step, torch's convention
# --------------------------------------------------------------------------------------------


def reference_momentum_step(param, grad, state, *, lr, momentum, dampening=0.0):
    """One torch SGD-with-momentum step: ``course_lib.optim.sgd_update`` with these arguments."""
    from course_lib.optim.sgd import sgd_update  # imported on use: checks load without optim

    sgd_update(param, grad, state, lr=lr, momentum=momentum, dampening=dampening)


def _ema_form_from_zeros(param, grad, state, *, lr, momentum, dampening=0.0):
    # the EMA ("moving average") form: m ← βm + (1−β)g, m₀ = 0
    buffer = state.setdefault("momentum_buffer", torch.zeros_like(param))
    buffer.mul_(momentum).add_(grad, alpha=1 - momentum)
    param.sub_(lr * buffer)


def _ema_form_after_first_step(param, grad, state, *, lr, momentum, dampening=0.0):
    # b₁ = g₁ as torch does, but then the EMA's (1−β) instead of (1−τ)
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"].mul_(momentum).add_(grad, alpha=1 - momentum)
    param.sub_(lr * state["momentum_buffer"])


def _dampening_on_first_step(param, grad, state, *, lr, momentum, dampening=0.0):
    # b₁ = (1−τ)g₁: dampening applied on step 1 too
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = (1 - dampening) * grad
    else:
        state["momentum_buffer"].mul_(momentum).add_(grad, alpha=1 - dampening)
    param.sub_(lr * state["momentum_buffer"])


def _dampening_ignored(param, grad, state, *, lr, momentum, dampening=0.0):
    # b ← βb + g whatever the dampening
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"].mul_(momentum).add_(grad)
    param.sub_(lr * state["momentum_buffer"])


def _buffer_restarted_every_step(param, grad, state, *, lr, momentum, dampening=0.0):
    # a buffer that never remembers: b = g on every call
    state["momentum_buffer"] = grad.clone()
    param.sub_(lr * grad)


def _buffer_kept_at_momentum_zero(param, grad, state, *, lr, momentum, dampening=0.0):
    # torch's update without its `if momentum != 0` guard: a buffer b = 0·b + g at momentum 0
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"].mul_(momentum).add_(grad, alpha=1 - dampening)
    param.sub_(lr * state["momentum_buffer"])


def _momentum_ascent(param, grad, state, *, lr, momentum, dampening=0.0):
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = grad.clone()
    else:
        state["momentum_buffer"].mul_(momentum).add_(grad, alpha=1 - dampening)
    param.add_(lr * state["momentum_buffer"])


MOMENTUM_STEP_MISTAKES = [
    KnownMistake(
        "buffer_at_momentum_0", _buffer_kept_at_momentum_zero,
        "With momentum = 0 torch keeps no momentum_buffer at all: it takes the plain step "
        "θ ← θ − η·g and leaves the state empty (`if momentum != 0:` around the buffer code). "
        "Keeping one costs a tensor per parameter and changes what state_dict() saves."),
    KnownMistake(
        "ema_form", _ema_form_from_zeros,
        "This is the EMA (moving-average) form m ← βm + (1−β)g with m₀ = 0. torch's buffer is a "
        "discounted *sum*: b ← β·b + (1−τ)·g, with b₁ = g₁; the (1−β) factor does not belong "
        "there (only `dampening` scales the new gradient)."),
    KnownMistake(
        "ema_factor", _ema_form_after_first_step,
        "From step 2 on you scaled the gradient by (1 − momentum). torch uses (1 − dampening): "
        "b ← β·b + (1−τ)·g, so with dampening = 0 the gradient is added unscaled."),
    KnownMistake(
        "dampened_first_step", _dampening_on_first_step,
        "Your first buffer is (1 − dampening)·g₁. torch skips dampening on step 1: the buffer "
        "starts as a copy of the first gradient, b₁ = g₁ (`grad.clone()`). Starting the buffer "
        "at zeros and then applying the usual update gives the same wrong (1 − τ)·g₁."),
    KnownMistake(
        "dampening_ignored", _dampening_ignored,
        "You added the gradient unscaled from step 2 on. With dampening τ torch adds (1−τ)·g: "
        "b ← β·b + (1−τ)·g (only step 1 is undamped)."),
    KnownMistake(
        "buffer_restarted", _buffer_restarted_every_step,
        "Your buffer starts over on every call. Create state['momentum_buffer'] only when it is "
        "missing (the first step), and update the existing one afterwards."),
    KnownMistake(
        "ascent", _momentum_ascent,
        "You moved along +buffer. Descent subtracts: θ ← θ − lr·b."),
]


@register(
    "3.1",
    reference=reference_momentum_step,
    call=in_place("param", "state", steps_over="grad"),
    mistakes=MOMENTUM_STEP_MISTAKES,
)
def momentum_step_cases(rng: torch.Generator):
    def randn(*shape, dtype=torch.float64, scale=1.0):
        return scale * torch.randn(shape, generator=rng, dtype=dtype)

    # The first cases are the ones that tell the misconceptions apart, so a learner's first
    # failure is the most informative one.
    yield Case("first step from an empty state (momentum 0.9, dampening 0)",
               param=randn(3), grad=[randn(3)], state={}, lr=0.1, momentum=0.9, dampening=0.0)
    yield Case("three steps, momentum 0.9, dampening 0",
               param=randn(4), grad=[randn(4) for _ in range(3)], state={},
               lr=0.05, momentum=0.9, dampening=0.0)
    yield Case("first step with dampening 0.5 (torch skips dampening on step 1)",
               param=randn(3), grad=[randn(3)], state={}, lr=0.1, momentum=0.9, dampening=0.5)
    yield Case("three steps with dampening 0.5",
               param=randn(3), grad=[randn(3) for _ in range(3)], state={},
               lr=0.1, momentum=0.9, dampening=0.5)
    yield Case("state already holds a buffer from earlier steps",
               param=randn(2, 3), grad=[randn(2, 3) for _ in range(2)],
               state={"momentum_buffer": randn(2, 3)}, lr=0.01, momentum=0.8, dampening=0.1)
    yield Case("zero gradient on step 2: the ball keeps rolling",
               param=randn(3), grad=[randn(3), torch.zeros(3, dtype=torch.float64)], state={},
               lr=0.1, momentum=0.9, dampening=0.0)
    yield Case("momentum 0: plain SGD (torch keeps no buffer)",
               param=randn(5), grad=[randn(5) for _ in range(2)], state={},
               lr=0.3, momentum=0.0, dampening=0.0)
    yield Case("0-dim (scalar) parameter, two steps",
               param=torch.tensor(1.5, dtype=torch.float64),
               grad=[torch.tensor(-0.5, dtype=torch.float64), torch.tensor(0.25, dtype=torch.float64)],
               state={}, lr=0.2, momentum=0.5, dampening=0.0)
    yield Case("large values",
               param=randn(6, scale=1e6), grad=[randn(6, scale=1e4) for _ in range(3)], state={},
               lr=3.0, momentum=0.99, dampening=0.0)
    for dtype in (torch.float32, torch.float64):
        for shape in [(5,), (3, 4), (2, 3, 2)]:
            momentum = round(float(torch.empty(()).uniform_(0.3, 0.99, generator=rng)), 3)
            dampening = round(float(torch.empty(()).uniform_(0.0, 0.6, generator=rng)), 3)
            lr = round(10 ** float(torch.empty(()).uniform_(-3, 0, generator=rng)), 4)
            yield Case(f"four steps, {'x'.join(map(str, shape))} {str(dtype)[6:]} tensor, "
                       f"lr={lr}, momentum={momentum}, dampening={dampening}",
                       param=randn(*shape, dtype=dtype),
                       grad=[randn(*shape, dtype=dtype) for _ in range(4)], state={},
                       lr=lr, momentum=momentum, dampening=dampening)


# --------------------------------------------------------------------------------------------
# 3.2 bias-corrected EMA form -> torch's per-step learning rates
# --------------------------------------------------------------------------------------------


def reference_bias_corrected_ema_lrs(lr: float, beta: float, steps: int) -> list[float]:
    """torch's lr for steps 1..``steps`` that makes ``SGD(momentum=β, dampening=0)`` follow the
    bias-corrected EMA form with step α = ``lr``.

    The EMA :math:`m_t = \\beta m_{t-1} + (1-\\beta) g_t` (:math:`m_0 = 0`) is :math:`(1-\\beta)`
    times torch's buffer :math:`b_t = \\beta b_{t-1} + g_t` (:math:`b_1 = g_1`) at every step, so
    :math:`\\alpha \\hat m_t = \\alpha m_t/(1-\\beta^t) = \\alpha(1-\\beta)/(1-\\beta^t)\\, b_t`:
    torch's lr at step t is :math:`\\alpha(1-\\beta)/(1-\\beta^t)` (α itself at t = 1, and
    α(1−β), the constant conversion of the lecture, for large t).
    """
    return [lr * (1.0 - beta) / (1.0 - beta ** t) for t in range(1, steps + 1)]


def _lrs_no_bias_correction(lr, beta, steps):
    return [lr * (1.0 - beta)] * steps


def _lrs_alpha_unchanged(lr, beta, steps):
    return [lr] * steps


def _lrs_exponent_off_by_one(lr, beta, steps):
    # β^(t−1): at t = 1 the denominator is 0 (a learner using numpy or torch gets inf there).
    return [lr * (1.0 - beta) / (1.0 - beta ** (t - 1)) if beta ** (t - 1) != 1.0 else math.inf
            for t in range(1, steps + 1)]


def _lrs_correction_multiplied(lr, beta, steps):
    return [lr * (1.0 - beta) * (1.0 - beta ** t) for t in range(1, steps + 1)]


def _lrs_dampening_style(lr, beta, steps):
    return [lr / (1.0 - beta ** t) for t in range(1, steps + 1)]


BIAS_CORRECTED_LRS_MISTAKES = [
    KnownMistake(
        "no_bias_correction", _lrs_no_bias_correction,
        "α(1−β) at every step is the conversion of the *uncorrected* EMA (the lecture's). The "
        "bias correction divides m_t by a factor that depends on t, so torch's lr must change "
        "from step to step: write α·m̂_t in terms of torch's buffer b_t."),
    KnownMistake(
        "alpha_unchanged", _lrs_alpha_unchanged,
        "You kept α at every step. It is right on step 1 only: torch's buffer is a sum of the "
        "gradients, the EMA an average, and the bias correction fades with t. Relate m̂_t to "
        "b_t (compare the two unrolled sums)."),
    KnownMistake(
        "exponent_off_by_one", _lrs_exponent_off_by_one,
        "Your exponent is one behind: after step t (counting from 1) the EMA has seen t "
        "gradients, and m_t's weights sum to 1 − β^t, not 1 − β^(t−1) (which is 0 at t = 1)."),
    KnownMistake(
        "correction_multiplied", _lrs_correction_multiplied,
        "You multiplied by (1 − β^t). The bias correction *divides*: m̂_t = m_t / (1 − β^t), "
        "which makes the early steps larger, not smaller."),
    KnownMistake(
        "dampening_style", _lrs_dampening_style,
        "α/(1 − β^t) would be right if torch's buffer already were the EMA m_t (as "
        "dampening = β suggests). With dampening = 0 it is a plain sum, b_t = m_t/(1 − β): "
        "you are missing a factor."),
]


@register("3.2", reference=reference_bias_corrected_ema_lrs, mistakes=BIAS_CORRECTED_LRS_MISTAKES)
def bias_corrected_ema_lrs_cases(rng: torch.Generator):
    yield Case("EMA lr = 0.1, beta = 0.9, 5 steps", lr=0.1, beta=0.9, steps=5)
    yield Case("one step (steps = 1)", lr=0.05, beta=0.9, steps=1)
    yield Case("beta = 0: no momentum, no correction", lr=0.3, beta=0.0, steps=4)
    yield Case("EMA lr = 0.001, beta = 0.99, 40 steps", lr=0.001, beta=0.99, steps=40)
    for _ in range(6):
        lr = 10 ** float(torch.empty(()).uniform_(-4, 0, generator=rng))
        beta = float(torch.empty(()).uniform_(0.05, 0.999, generator=rng))
        steps = int(torch.randint(2, 31, (), generator=rng))
        yield Case(f"EMA lr = {lr:.4g}, beta = {beta:.4g}, {steps} steps",
                   lr=lr, beta=beta, steps=steps)


# --------------------------------------------------------------------------------------------
# 3.3 the best momentum at a given learning rate, on a quadratic
# --------------------------------------------------------------------------------------------


def reference_optimal_momentum(lr: float, mu: float, L: float) -> float:
    r"""The β that minimises heavy ball's worst rate over curvatures :math:`[\mu, L]` at this lr.

    On curvature :math:`h` the error follows :math:`r^2 - (1+\beta-\eta h)\,r + \beta = 0`; the
    roots are complex, of modulus :math:`\sqrt\beta`, exactly when
    :math:`(1-\sqrt\beta)^2 \le \eta h \le (1+\sqrt\beta)^2`, and outside that band the larger
    root is bigger than the band's :math:`\sqrt\beta` would be. The smallest β whose band holds
    both :math:`\eta\mu` and :math:`\eta L` is the best:
    :math:`\beta^*(\eta) = \max(1 - \sqrt{\eta\mu},\ \sqrt{\eta L} - 1)^2`, rate
    :math:`\sqrt{\beta^*}`. At Polyak's :math:`\eta^* = 4/(\sqrt L+\sqrt\mu)^2` the two
    sides are equal and :math:`\beta^*` is Polyak's :math:`((\sqrt\kappa-1)/(\sqrt\kappa+1))^2`.
    Valid for :math:`\eta\mu \le 1` and :math:`\eta L < 4`.
    """
    return max(1.0 - math.sqrt(lr * mu), math.sqrt(lr * L) - 1.0) ** 2


def _momentum_polyak(lr, mu, L):
    from course_lib.theory.momentum import heavy_ball_optimum

    return heavy_ball_optimum(mu, L)[1]


def _momentum_flat_side_only(lr, mu, L):
    return (1.0 - math.sqrt(lr * mu)) ** 2


def _momentum_steep_side_only(lr, mu, L):
    return (math.sqrt(lr * L) - 1.0) ** 2


def _momentum_not_squared(lr, mu, L):
    return max(1.0 - math.sqrt(lr * mu), math.sqrt(lr * L) - 1.0)


def _momentum_without_square_roots(lr, mu, L):
    return max(1.0 - lr * mu, lr * L - 1.0) ** 2


OPTIMAL_MOMENTUM_MISTAKES = [
    KnownMistake(
        "polyak_beta", _momentum_polyak,
        "That is Polyak's β*, the best momentum at *his* learning rate 4/(√L + √μ)². At the lr "
        "you are given, ask which β makes the rate the same in the flattest and the steepest "
        "direction: section 5's regimes say where the rate is √β."),
    KnownMistake(
        "flat_side_only", _momentum_flat_side_only,
        "You only looked after the flat direction (critical damping at h = μ). At this lr the "
        "steep direction η·L falls outside your β's complex band, so its larger real root is "
        "slower than √β: find what the steep direction requires of β too, and satisfy both."),
    KnownMistake(
        "steep_side_only", _momentum_steep_side_only,
        "You only looked at the steep direction. At this lr the flat direction η·μ falls below "
        "your β's complex band (monotone, overdamped, slower than √β): find what the flat "
        "direction requires of β too, and satisfy both."),
    KnownMistake(
        "not_squared", _momentum_not_squared,
        "That is the rate √β, not β: square it."),
    KnownMistake(
        "without_square_roots", _momentum_without_square_roots,
        "Your band edges are linear in β. The roots meet where the discriminant "
        "(1 + β − ηh)² − 4β vanishes: solve that for β (it is a perfect square in √β), "
        "not for η·h."),
]


@register("3.3", reference=reference_optimal_momentum, mistakes=OPTIMAL_MOMENTUM_MISTAKES)
def optimal_momentum_cases(rng: torch.Generator):
    yield Case("small lr = 1/L, mu = 0.01, L = 1: the flat direction decides",
               lr=1.0, mu=0.01, L=1.0)
    yield Case("large lr = 3.5/L, mu = 0.01, L = 1: the steep direction decides",
               lr=3.5, mu=0.01, L=1.0)
    yield Case("Polyak's lr 4/(√L + √μ)² for mu = 0.01, L = 1: both sides agree",
               lr=4 / (1 + 0.1) ** 2, mu=0.01, L=1.0)
    yield Case("lr = 0.05, mu = 0.5, L = 50 (L is not 1)", lr=0.05, mu=0.5, L=50.0)
    yield Case("lr·L = 1 on a round bowl, mu = L = 2: no momentum needed", lr=0.5, mu=2.0, L=2.0)
    for _ in range(5):
        mu = float(f"{10 ** (-3 + 3 * torch.rand((), generator=rng).item()):.3g}")
        L = float(f"{mu * 10 ** (0.3 + 2.7 * torch.rand((), generator=rng).item()):.3g}")
        lr = float(f"{(0.05 + 3.9 * torch.rand((), generator=rng).item()) / L:.3g}")
        if lr * mu > 1:
            lr = float(f"{1 / mu:.3g}") * 0.99
        yield Case(f"lr = {lr:g}, mu = {mu:g}, L = {L:g}", lr=lr, mu=mu, L=L)


# --------------------------------------------------------------------------------------------
# 3.4 where the dampening conversion leaves the EMA form: the gap after t steps
# --------------------------------------------------------------------------------------------


def reference_dampened_gap(grads, *, lr, beta):
    """θ_t(torch SGD(lr=α, momentum=β, dampening=β)) − θ_t(EMA α, β) after the t = len(grads)
    gradients ``grads`` (the same sequence fed to both, from the same θ₀).

    torch: b₁ = g₁ (no dampening on step 1), then b_k = β b_{k−1} + (1−β) g_k; EMA: m₁ = (1−β) g₁,
    then the same line. The buffers differ by d₁ = β g₁, then d_k = β d_{k−1} = β^k g₁: only g₁
    matters. The parameters differ by −α Σ_{k≤t} β^k g₁ = −α β (1−β^t)/(1−β) g₁.
    """
    steps = len(grads)
    return -lr * beta * (1.0 - beta ** steps) / (1.0 - beta) * grads[0]


def _gap_limit(grads, *, lr, beta):
    return -lr * beta / (1.0 - beta) * grads[0]


def _gap_first_step_only(grads, *, lr, beta):
    return -lr * beta * grads[0]


def _gap_sign(grads, *, lr, beta):
    return -reference_dampened_gap(grads, lr=lr, beta=beta)


def _gap_all_gradients(grads, *, lr, beta):
    return -lr * beta * (1.0 - beta ** len(grads)) / (1.0 - beta) * sum(grads)


def _gap_every_step(grads, *, lr, beta):
    return -lr * beta * sum(grads)


DAMPENED_GAP_MISTAKES = [
    KnownMistake(
        "limit_at_finite_t", _gap_limit,
        "−αβ/(1−β)·g₁ is where the gap ends up after infinitely many steps. After t steps the "
        "buffers' difference β^k·g₁ has been added only for k = 1..t: sum that finite "
        "geometric series."),
    KnownMistake(
        "first_step_only", _gap_first_step_only,
        "−αβ·g₁ is the gap after step 1 only. From step 2 on the update lines agree, but "
        "torch's buffer still carries the extra βg₁ (times β each step), and it keeps moving "
        "the parameters: add those later steps."),
    KnownMistake(
        "sign", _gap_sign,
        "Right size, wrong sign: torch's first step (α·g₁) is the *larger* one, and θ moves "
        "against the gradient, so θ_torch − θ_EMA points along −g₁."),
    KnownMistake(
        "all_gradients", _gap_all_gradients,
        "Your gap reads gradients it does not depend on (a NaN among them comes through). "
        "Follow the difference of the two buffers, d_k = b_k − m_k, step by step from step 1: "
        "which gradients survive in it?"),
    KnownMistake(
        "every_step_gap", _gap_every_step,
        "Only step 1 is treated differently; later steps do not each open a new gap. The later "
        "gradients cancel in b_k − m_k; the first one's share fades like β^k."),
]


@register("3.4", reference=reference_dampened_gap, mistakes=DAMPENED_GAP_MISTAKES)
def dampened_gap_cases(rng: torch.Generator):
    yield Case("lr = 0.1, beta = 0.9, 5 gradients of shape (3,)",
               grads=[torch.randn(3, generator=rng, dtype=torch.float64) for _ in range(5)],
               lr=0.1, beta=0.9)
    yield Case("one step: lr = 0.2, beta = 0.5",
               grads=[torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)], lr=0.2, beta=0.5)
    yield Case("beta = 0: the two forms agree, no gap",
               grads=[torch.randn(4, generator=rng, dtype=torch.float64) for _ in range(3)],
               lr=0.5, beta=0.0)
    yield Case("zero first gradient, nonzero later ones",
               grads=[torch.zeros(2, dtype=torch.float64)]
               + [torch.randn(2, generator=rng, dtype=torch.float64) for _ in range(4)],
               lr=0.1, beta=0.9)
    nan = float("nan")
    yield Case("g₂ … g₆ are NaN (a gap that never reads them stays finite), lr = 0.1, beta = 0.9",
               grads=[torch.tensor([0.5, -1.5], dtype=torch.float64)]
               + [torch.full((2,), nan, dtype=torch.float64) for _ in range(5)], lr=0.1, beta=0.9)
    yield Case("g₂ … g₄₀ are NaN, beta = 0.99, lr = 0.01",
               grads=[torch.randn(3, generator=rng, dtype=torch.float64)]
               + [torch.full((3,), nan, dtype=torch.float64) for _ in range(39)], lr=0.01, beta=0.99)
    yield Case("beta = 0.99, 30 steps: far from the limit",
               grads=[torch.randn(2, generator=rng, dtype=torch.float64) for _ in range(30)],
               lr=0.01, beta=0.99)
    for dtype in (torch.float32, torch.float64):
        for shape in [(5,), (2, 3)]:
            lr = 10 ** float(torch.empty(()).uniform_(-3, -1, generator=rng))
            beta = float(torch.empty(()).uniform_(0.1, 0.99, generator=rng))
            steps = int(torch.randint(2, 16, (), generator=rng))
            yield Case(f"{steps} {'x'.join(map(str, shape))} {str(dtype)[6:]} gradients, "
                       f"lr = {lr:.3g}, beta = {beta:.3g}",
                       grads=[torch.randn(shape, generator=rng, dtype=dtype)
                              for _ in range(steps)], lr=lr, beta=beta)


# --------------------------------------------------------------------------------------------
# 3.5 velocity form vs torch's form under a step schedule: predict, then measure
# --------------------------------------------------------------------------------------------


def measure_steps_until_forms_agree(lr_before, lr_after, momentum, tol) -> int:
    """The truth for 3.5, by running both optimizers on the loss f(θ) = θ (gradient 1).

    torch: ``torch.optim.SGD(lr=lr_before, momentum=β)`` with ``StepLR`` dropping the lr to
    ``lr_after`` after a warm-up long enough for the buffer's steady state (β^warm < e^-40).
    Velocity form (Keras' ``SGD(momentum=β)``, Sutskever et al.): ``v ← β·v − lr_t·g``,
    ``θ ← θ + v`` with the same ``lr_t`` each step. Returns k: the first step after the drop at
    which the two steps agree within a relative ``tol``.
    """
    warm = math.ceil(40 / (1 - momentum))
    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=lr_before, momentum=momentum)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=warm,
                                               gamma=lr_after / lr_before)
    velocity = 0.0
    max_steps = warm + 100_000
    for step in range(1, max_steps + 1):
        lr = optimizer.param_groups[0]["lr"]
        before = param.item()
        optimizer.zero_grad()
        param.sum().backward()           # ∇f = 1
        optimizer.step()
        schedule.step()
        torch_step = param.item() - before
        velocity = momentum * velocity - lr * 1.0
        if step > warm and abs(velocity / torch_step - 1) <= tol:
            return step - warm
    raise RuntimeError(f"the two forms did not agree within {tol} in {max_steps - warm} steps")


# The wrong formulas return floats: a learner may round or not, and the match has a tolerance.
def _agree_at_once(lr_before, lr_after, momentum, tol):
    return 0.0


def _agree_without_lr_ratio(lr_before, lr_after, momentum, tol):
    return math.log(tol) / math.log(momentum)


def _agree_memory_length(lr_before, lr_after, momentum, tol):
    return 1 / (1 - momentum)


def _agree_ratio_not_excess(lr_before, lr_after, momentum, tol):
    # the gap's size taken as the lr ratio η₁/η₂ instead of the excess η₁/η₂ − 1
    return math.log(tol * lr_after / lr_before) / math.log(momentum)


@register_prediction(
    "3.5",
    measure=measure_steps_until_forms_agree,
    rtol=0.05,
    atol=1.0,
    explain=("Write both steps k updates after the drop, with a constant gradient and both "
             "buffers in their steady state before it: what does torch's step become at once, "
             "and what does the velocity still remember from η₁? Write the ratio of the two "
             "steps: which part of it fades with k, and how large is that part right after the "
             "drop?"),
    mistakes=[
        KnownMistake("ratio_not_excess", _agree_ratio_not_excess,
                     "Your gap starts at the ratio of the two learning rates. The ratio of the two "
                     "*steps* is 1 plus a part that fades: how large is that part right after the "
                     "drop? (A small drop, ÷1.25, shows the difference.)"),
        KnownMistake("agree_at_once", _agree_at_once,
                     "They agree at a constant learning rate (v = −η·b), but not after the drop: "
                     "torch multiplies its whole buffer by the new lr at once, while the velocity "
                     "form's v still holds the steps it took at the old lr, fading like β^k."),
        KnownMistake("without_lr_ratio", _agree_without_lr_ratio,
                     "β^k ≤ tol is how long the old gradients take to fade, but the gap starts "
                     "larger the larger the drop: the velocity's old steps were taken at η₁, not "
                     "η₂. Find how big the gap is right after the drop, then let it fade."),
        KnownMistake("memory_length", _agree_memory_length,
                     "1/(1 − β) is the buffer's memory length, a rule of thumb that ignores both "
                     "tol and the size of the drop. Write the relative gap after k steps and solve "
                     "for the k where it reaches tol."),
    ],
)
def steps_until_forms_agree_cases(rng: torch.Generator):
    yield Case("lr 0.1 → 0.01 (a 10× step decay), momentum 0.9, tol 1 %",
               lr_before=0.1, lr_after=0.01, momentum=0.9, tol=0.01)
    yield Case("lr 0.5 → 0.25 (halved), momentum 0.5, tol 0.1 %",
               lr_before=0.5, lr_after=0.25, momentum=0.5, tol=0.001)
    yield Case("lr 0.01 → 0.001, momentum 0.99, tol 1 %",
               lr_before=0.01, lr_after=0.001, momentum=0.99, tol=0.01)
    yield Case("a small drop: lr 0.1 → 0.08 (÷1.25), momentum 0.95, tol 1 %",
               lr_before=0.1, lr_after=0.08, momentum=0.95, tol=0.01)
    yield Case("lr 0.2 → 0.1 (halved), momentum 0.9, tol 0.1 %",
               lr_before=0.2, lr_after=0.1, momentum=0.9, tol=0.001)
    for _ in range(3):
        lr_before = float(f"{10 ** (-3 + 2.5 * torch.rand((), generator=rng).item()):.3g}")
        drop = float(f"{10 ** (0.3 + 1.7 * torch.rand((), generator=rng).item()):.3g}")
        momentum = round(0.5 + 0.49 * torch.rand((), generator=rng).item(), 3)
        tol = float(f"{10 ** (-4 + 2.5 * torch.rand((), generator=rng).item()):.2g}")
        yield Case(f"lr {lr_before:g} → {lr_before / drop:.4g} (÷{drop:g}), momentum "
                   f"{momentum:g}, tol {tol:g}", lr_before=lr_before, lr_after=lr_before / drop,
                   momentum=momentum, tol=tol)


# --------------------------------------------------------------------------------------------
# 3.6 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "3.6",
    prompt="In three sentences: on a steep direction with ηL = 2.5, plain gradient descent "
           "diverges. Using the buffer's gain for a gradient that flips sign every step (not the "
           "roots of section 5), explain why heavy ball with β = 0.5 converges there while "
           "β = 0.1 does not, and say what the same β = 0.5 does to a flat direction at this lr.",
    rubric=(
        (2, "For a gradient that flips sign every step the buffer's gain is 1/(1 + β) (1/|1 − "
            "βe^{iπ}|), so heavy ball's steep step acts like gradient descent with lr η/(1 + "
            "β), stable while ηL < 2(1 + β). One mark for the gain, one for turning it into the"
            " limit."),
        (1, "The numbers: β = 0.5 gives 2.5/1.5 ≈ 1.7 < 2 (limit 3), it converges; β = 0.1 "
            "gives 2.5/1.1 ≈ 2.3 > 2 (limit 2.2), it diverges."),
        (1, "In a flat direction the gradient is steady and the same buffer multiplies it by "
            "1/(1 − β) = 2: that direction moves like gradient descent at twice the lr, so one "
            "β damps the steep direction and speeds up the flat one (not the same as a larger "
            "lr)."),
    ),
    max_score=4,
)
