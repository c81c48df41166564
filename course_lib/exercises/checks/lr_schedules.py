r"""Checkers for notebook 09, learning-rate schedules: exercises 9.1–9.4.

9.1 predict, then measure: how much larger Adam's momentum average m̂_t is at step t than once
    settled, for zero-mean gradient noise (an RMS ratio); the check runs ``torch.optim.Adam``
    on many coordinates and reads ``m̂_t`` from its state.
9.2 predict, then measure: Adam's *second* update under a ``LinearLR`` warmup, from two given
    gradients; the check runs ``torch.optim.Adam`` with ``LinearLR`` for two steps.
9.3 predict, then measure: how far the velocity form of momentum ends up from torch's after an
    lr change, under a constant gradient; the check runs ``torch.optim.SGD`` with
    ``MultiStepLR`` and the velocity recurrence side by side.
9.4 written answer: why the linear scaling rule keeps the late noise but needs warmup, and
    where it must break down.
"""

from __future__ import annotations

import math

import torch

from course_lib.problems.toy_regression import single_threaded

from ._framework import REGISTRY, Case, KnownMistake, register_prediction, register_written

# course_lib.exercises.answer_scan.DEFAULT_FORBIDDEN (without torch.optim), kept here so that the
# checkers do not import the grader (choosing_an_optimizer imports it from here);
# tests/test_checks_lr_schedules.py keeps the two equal.
_GRADER_DEFAULT_FORBIDDEN = ("course_lib.optim", "course_lib.theory", "course_lib.exercises.checks",
                             "course_lib.grade", "course_lib.exercises.generate", "course_lib.exercises.notebook_runner")

# --------------------------------------------------------------------------------------------
# 9.1 predict, then measure: the size of Adam's early momentum average
# --------------------------------------------------------------------------------------------

_COORDINATES = 20_000


def measured_noise_ratio(t, *, beta1):
    """RMS of Adam's m̂_t over many coordinates with N(0, 1) gradients, over its settled RMS.

    Runs ``torch.optim.Adam`` on 20 000 independent coordinates, reads ``exp_avg`` (m_t) from its
    state, bias-corrects it as Adam does, and compares step t with the steps long after (where
    β₁ raised to the distance is below 1e-4), averaged over 10 of them.
    """
    with single_threaded():     # small tensors: threads only add hand-offs on a busy machine
        return _measured_noise_ratio(t, beta1)


def _measured_noise_ratio(t, beta1):
    generator = torch.Generator().manual_seed(1000 + t)
    theta = torch.zeros(_COORDINATES, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=1e-3, betas=(beta1, 0.999))
    settle = t + math.ceil(math.log(1e-4) / math.log(beta1))
    rms_at_t, settled = None, []
    for step in range(1, settle + 11):
        theta.grad = torch.randn(_COORDINATES, generator=generator, dtype=torch.float64)
        optimizer.step()
        if step == t or step > settle:
            m_hat = optimizer.state[theta]["exp_avg"] / (1 - beta1**step)
            rms = float(m_hat.pow(2).mean().sqrt())
            if step == t:
                rms_at_t = rms
            else:
                settled.append(rms)
    return rms_at_t / (sum(settled) / len(settled))


def _bias_factor(t, *, beta1):
    return 1 / (1 - beta1**t)


def _sqrt_bias_factor(t, *, beta1):
    return 1 / math.sqrt(1 - beta1**t)


def _no_square_root(t, *, beta1):
    return (1 + beta1**t) / (1 - beta1**t)


def _upside_down(t, *, beta1):
    return math.sqrt((1 - beta1**t) / (1 + beta1**t))


def _in_units_of_one_gradient(t, *, beta1):
    return math.sqrt((1 - beta1) / (1 + beta1) * (1 + beta1**t) / (1 - beta1**t))


def _uncorrected_average(t, *, beta1):
    return math.sqrt(1 - beta1 ** (2 * t))


def _noise_explain(inputs, measured, predicted):
    return ("m̂_t is a weighted sum of the t gradients seen so far. Write out its weights, bias "
            "correction included; the variance of a weighted sum of independent noises is the "
            "noise variance times the sum of the squared weights. Do the same long after, when "
            "the sum has settled, and compare the two (lecture 09, section 9, shows the "
            "measured curve).")


@register_prediction(
    "9.1",
    measure=measured_noise_ratio,
    rtol=0.03,
    explain=_noise_explain,
    mistakes=[
        KnownMistake("bias_factor", _bias_factor,
                     "That is the bias correction's factor alone. It rescales m_t, but m_t is "
                     "also a sum over fewer gradients early on: work out the spread of the "
                     "weighted sum, not only its scale."),
        KnownMistake("sqrt_bias_factor", _sqrt_bias_factor,
                     "Close in spirit, but not the spread of m̂_t: sum the squared weights of "
                     "the t gradients (bias correction included) instead of guessing a root of "
                     "the correction."),
        KnownMistake("no_square_root", _no_square_root,
                     "That is the ratio of the variances. The question asks for the ratio of the "
                     "RMS sizes: take the square root."),
        KnownMistake("upside_down", _upside_down,
                     "Your ratio is upside down: early m̂_t is the larger one (at t = 1 it is one "
                     "whole gradient)."),
        KnownMistake("in_units_of_one_gradient", _in_units_of_one_gradient,
                     "That is the RMS of m̂_t measured against one gradient. The question's yardstick "
                     "is m̂ long after, which averages many gradients and is itself much smaller "
                     "than one gradient: your ratio leaves that settled size out."),
        KnownMistake("uncorrected_average", _uncorrected_average,
                     "That describes m_t without the bias correction, which is small at first. "
                     "Adam divides m_t by 1 − β₁ᵗ before using it."),
    ],
)
def noise_ratio_cases(rng):
    yield Case("step t = 1, β₁ = 0.9", t=1, beta1=0.9)
    yield Case("step t = 3, β₁ = 0.9", t=3, beta1=0.9)
    yield Case("step t = 10, β₁ = 0.95", t=10, beta1=0.95)
    yield Case("step t = 2, β₁ = 0.5", t=2, beta1=0.5)
    for _ in range(2):
        beta1 = float(0.6 + 0.35 * torch.rand((), generator=rng))
        t = int(torch.randint(1, max(2, int(1 / (1 - beta1))), (), generator=rng))
        yield Case(f"drawn: step t = {t}, β₁ = {beta1:.3f}", t=t, beta1=beta1)


# The lecture's simulation of |m̂/√v̂| would answer 9.1 by measurement instead of derivation.
REGISTRY["9.1"].refused_calls = {"course_lib.experiments.schedule_training.adam_update_ratios": ()}

# --------------------------------------------------------------------------------------------
# 9.2 predict, then measure: Adam's second update under warmup
# --------------------------------------------------------------------------------------------


def measured_second_adam_update(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
    """Run torch.optim.Adam with LinearLR warmup for two steps (gradients g1, then g2); return θ₂ − θ₁."""
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=lr, betas=(beta1, beta2), eps=eps)
    scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=start_factor,
                                                  total_iters=warmup_steps)
    theta.grad = torch.tensor([g1], dtype=torch.float64)
    optimizer.step()
    scheduler.step()
    after_one = float(theta.detach()[0])
    theta.grad = torch.tensor([g2], dtype=torch.float64)
    optimizer.step()
    return float(theta.detach()[0]) - after_one


def _second_step(g1, g2, *, lr_used, beta1, beta2, eps, corrected=True, correction_step=2,
                 eps_inside=False):
    m = (1 - beta1) * (beta1 * g1 + g2)
    v = (1 - beta2) * (beta2 * g1 * g1 + g2 * g2)
    if corrected:
        m, v = m / (1 - beta1**correction_step), v / (1 - beta2**correction_step)
    denominator = math.sqrt(v + eps) if eps_inside else math.sqrt(v) + eps
    return -lr_used * m / denominator


def _warm_lr(lr, start_factor, warmup_steps, k):
    return lr * (start_factor + (1 - start_factor) * min(k, warmup_steps) / warmup_steps)


def _lr_of_first_step(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
    return _second_step(g1, g2, lr_used=lr * start_factor, beta1=beta1, beta2=beta2, eps=eps)


def _lr_one_ahead(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
    return _second_step(g1, g2, lr_used=_warm_lr(lr, start_factor, warmup_steps, 2),
                        beta1=beta1, beta2=beta2, eps=eps)


def _no_warmup(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
    return _second_step(g1, g2, lr_used=lr, beta1=beta1, beta2=beta2, eps=eps)


def _correction_of_step_one(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
    return _second_step(g1, g2, lr_used=_warm_lr(lr, start_factor, warmup_steps, 1),
                        beta1=beta1, beta2=beta2, eps=eps, correction_step=1)


def _no_correction(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
    return _second_step(g1, g2, lr_used=_warm_lr(lr, start_factor, warmup_steps, 1),
                        beta1=beta1, beta2=beta2, eps=eps, corrected=False)


def _sign_step(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
    return -_warm_lr(lr, start_factor, warmup_steps, 1) * g2 / (abs(g2) + eps)


def _second_eps_inside(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
    return _second_step(g1, g2, lr_used=_warm_lr(lr, start_factor, warmup_steps, 1),
                        beta1=beta1, beta2=beta2, eps=eps, eps_inside=True)


def _second_ascent(g1, g2, *, lr, start_factor, warmup_steps, beta1, beta2, eps):
    return -measured_second_adam_update(g1, g2, lr=lr, start_factor=start_factor,
                                        warmup_steps=warmup_steps, beta1=beta1, beta2=beta2, eps=eps)


@register_prediction(
    "9.2",
    measure=measured_second_adam_update,
    rtol=0.01,
    explain="Write Adam's first two steps out from m₀ = v₀ = 0: what are m₂ and v₂, and what do "
            "the bias corrections at t = 2 make of them? Then which lr does the second "
            "optimizer step use: how many scheduler.step() calls have run before it (lecture 09, "
            "sections 1 and 3)?",
    mistakes=[
        KnownMistake("lr_of_first_step", _lr_of_first_step,
                     "Your second step runs at start_factor·lr, the lr of the first step. One "
                     "scheduler.step() has run between the two optimizer steps: where has "
                     "LinearLR moved the lr by then?"),
        KnownMistake("lr_one_ahead", _lr_one_ahead,
                     "Your lr is one scheduler step ahead: count the scheduler.step() calls that "
                     "have run before the second optimizer step (lecture 09, section 1)."),
        KnownMistake("no_warmup", _no_warmup,
                     "Your second step runs at the full lr, but the warmup is still rising: "
                     "LinearLR has only moved one step of its way."),
        KnownMistake("correction_of_step_one", _correction_of_step_one,
                     "The bias corrections depend on the step: at the second step Adam divides by "
                     "1 − β₁ᵗ and 1 − β₂ᵗ with t = 2, not with the first step's values."),
        KnownMistake("no_correction", _no_correction,
                     "You left out the bias correction: after two steps from zero, m and v still "
                     "hold only a small share of the gradients. Divide each by its correction."),
        KnownMistake("sign_step", _sign_step,
                     "A step of the full (warmed) lr against the newest gradient is what Adam "
                     "does at t = 1. At t = 2, m̂ and v̂ mix both gradients: a second gradient "
                     "of the other sign should shrink the step."),
        KnownMistake("eps_inside_root", _second_eps_inside,
                     "torch puts ε outside the root: √v̂ + ε, not √(v̂ + ε). It matters when the "
                     "gradients are as small as ε."),
        KnownMistake("ascent", _second_ascent, "Adam descends: the parameter moves against m̂."),
    ],
)
def adam_second_step_cases(rng):
    common = dict(lr=0.01, start_factor=0.1, warmup_steps=10, beta1=0.9, beta2=0.999, eps=1e-8)
    yield Case("the same gradient twice, g₁ = g₂ = 3", g1=3.0, g2=3.0, **common)
    yield Case("a gradient that flips sign, g₁ = 2, g₂ = −2", g1=2.0, g2=-2.0, **common)
    yield Case("a small then a large gradient, g₁ = 0.01, g₂ = 5", g1=0.01, g2=5.0, **common)
    yield Case("gradients as small as ε: g₁ = 1e-8, g₂ = 3e-8", g1=1e-8, g2=3e-8, lr=0.1,
               start_factor=0.2, warmup_steps=4, beta1=0.9, beta2=0.999, eps=1e-8)
    for _ in range(3):
        g1, g2 = (float(torch.randn((), generator=rng, dtype=torch.float64)) for _ in range(2))
        yield Case(f"drawn gradients g₁ = {g1:.3g}, g₂ = {g2:.3g}", g1=g1, g2=g2,
                   lr=float(10 ** (-4 + 3 * torch.rand((), generator=rng))),
                   start_factor=float(0.01 + 0.9 * torch.rand((), generator=rng)),
                   warmup_steps=int(torch.randint(2, 50, (), generator=rng)),
                   beta1=float(0.5 + 0.49 * torch.rand((), generator=rng)),
                   beta2=float(0.9 + 0.0999 * torch.rand((), generator=rng)), eps=1e-8)


# --------------------------------------------------------------------------------------------
# 9.3 predict, then measure: how far apart the momentum forms end up after an lr change
# --------------------------------------------------------------------------------------------


# Beyond this many steps after the change the check does not wait for the transient to die out:
# it extrapolates it (measured_forms_offset). A loop that waits, as the lecture's cell would,
# needs ~35/(1 − β) steps: 3.5e8 for the cases with β = 1 − 1e-7.
_SETTLE_LIMIT = 2000
_SPACING = 300


def measured_forms_offset(g, *, lr_before, lr_after, beta, drop_step):
    """θ of the velocity form minus θ of torch's SGD, long after the lr changes.

    A constant gradient ``g``; steps 1 … ``drop_step`` at ``lr_before``, every later step at
    ``lr_after`` (``MultiStepLR(milestones=[drop_step])``). torch's side is ``torch.optim.SGD``;
    the velocity form is v ← βv − η_t g, θ ← θ + v. Where β to the number of steps since the
    change falls below 1e-15 within 2000 steps, both run that long, so the transient has died
    out. Otherwise (β very close to 1) they run 900 steps past the change, and the offsets read
    at 300, 600 and 900 steps are extrapolated to the limit by Aitken's Δ²: after the change
    both forms' velocities relax by the same factor β per step, so the offset approaches its
    limit as a single geometric term, which Δ² removes exactly (up to round-off).
    """
    after = math.ceil(math.log(1e-15) / math.log(beta)) if beta > 0 else 1
    if after <= _SETTLE_LIMIT:
        return _run_forms(g, lr_before, lr_after, beta, drop_step, [drop_step + after])[0]
    a, b, c = _run_forms(g, lr_before, lr_after, beta, drop_step,
                         [drop_step + k * _SPACING for k in (1, 2, 3)])
    return c - (c - b) ** 2 / ((c - b) - (b - a))


def _run_forms(g, lr_before, lr_after, beta, drop_step, read_at):
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=lr_before, momentum=beta)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[drop_step],
                                                     gamma=lr_after / lr_before)
    velocity, position, offsets = 0.0, 0.0, []
    for step in range(1, max(read_at) + 1):
        lr_now = optimizer.param_groups[0]["lr"]
        theta.grad = torch.tensor([g], dtype=torch.float64)
        optimizer.step()
        scheduler.step()
        velocity = beta * velocity - lr_now * g
        position += velocity
        if step in read_at:
            offsets.append(position - float(theta.detach()[0]))
    return offsets


def _offset(g, lr_before, lr_after, beta, drop_step, *, with_beta=True, with_start=True, power=2):
    factor = (beta if with_beta else 1.0) * ((1 - beta**drop_step) if with_start else 1.0)
    return -g * (lr_before - lr_after) * factor / (1 - beta) ** power


def _offset_without_beta(g, *, lr_before, lr_after, beta, drop_step):
    return _offset(g, lr_before, lr_after, beta, drop_step, with_beta=False)


def _offset_steady_state(g, *, lr_before, lr_after, beta, drop_step):
    return _offset(g, lr_before, lr_after, beta, drop_step, with_start=False)


def _offset_one_power(g, *, lr_before, lr_after, beta, drop_step):
    return _offset(g, lr_before, lr_after, beta, drop_step, power=1)


def _offset_sign(g, *, lr_before, lr_after, beta, drop_step):
    return -_offset(g, lr_before, lr_after, beta, drop_step)


def _offset_old_lr_only(g, *, lr_before, lr_after, beta, drop_step):
    return -g * lr_before * beta * (1 - beta**drop_step) / (1 - beta) ** 2


@register_prediction(
    "9.3",
    measure=measured_forms_offset,
    rtol=1e-3,
    explain="Write each form's total displacement as a sum over the gradients: how much does one "
            "gradient arriving at step j move θ in all the steps after it, in torch's form "
            "(through b, at each later step's lr) and in the velocity form (through v, at step "
            "j's lr)? Subtract, and sum over the steps before the change.",
    mistakes=[
        KnownMistake("without_beta", _offset_without_beta,
                     "Nearly: count again which steps still carry a gradient's old lr. The "
                     "gradient of the step itself is used at that step's lr by both forms; only "
                     "the later steps differ."),
        KnownMistake("steady_state", _offset_steady_state,
                     "You assumed the momentum had filled up before the change. With few steps "
                     "before it, only those steps' gradients carry the old lr: sum over them."),
        KnownMistake("one_power", _offset_one_power,
                     "Too small, and more so as β nears 1: you counted each old gradient's extra "
                     "push as if it acted once, but it keeps acting through v at every later "
                     "step, and torch's reduced push through b does too."),
        KnownMistake("sign", _offset_sign,
                     "Wrong sign: after a drop, old gradients push the velocity form further "
                     "along −g than torch, which applies the new, smaller lr to them."),
        KnownMistake("old_lr_only", _offset_old_lr_only,
                     "The difference comes from the change in lr: torch's form also moves old "
                     "gradients, at the new lr. What matters is the gap between the two lrs."),
    ],
)
def forms_offset_cases(rng):
    yield Case("lr 0.1 then 0.02 after 20 steps, β = 0.9, g = 1", g=1.0, lr_before=0.1,
               lr_after=0.02, beta=0.9, drop_step=20)
    yield Case("a change after only 2 steps, β = 0.9", g=1.0, lr_before=0.1, lr_after=0.01,
               beta=0.9, drop_step=2)
    yield Case("the lr rises (the end of a warmup): 0.01 then 0.1, g = −0.5", g=-0.5,
               lr_before=0.01, lr_after=0.1, beta=0.9, drop_step=10)
    yield Case("β = 0.5, lr 1 then 0.1 after 5 steps", g=2.0, lr_before=1.0, lr_after=0.1,
               beta=0.5, drop_step=5)
    # β so close to 1 that the offset takes ~3.5e8 steps to settle: waiting for it, as the
    # lecture's loop would, is not an answer.
    yield Case("β = 1 − 1e-7, lr 0.1 then 0.02 after 1000 steps", g=1.0, lr_before=0.1,
               lr_after=0.02, beta=1 - 1e-7, drop_step=1000)
    yield Case("β = 1 − 1e-6, the lr rises from 0.01 to 0.1 after 300 steps, g = −0.5", g=-0.5,
               lr_before=0.01, lr_after=0.1, beta=1 - 1e-6, drop_step=300)
    for _ in range(2):
        beta = float(0.3 + 0.65 * torch.rand((), generator=rng))
        drop = int(torch.randint(1, 40, (), generator=rng))
        g = float(torch.randn((), generator=rng, dtype=torch.float64))
        before = float(10 ** (-3 + 2 * torch.rand((), generator=rng)))
        yield Case(f"drawn: β = {beta:.3f}, change after {drop} steps, g = {g:.3g}", g=g,
                   lr_before=before, lr_after=before * float(torch.rand((), generator=rng)),
                   beta=beta, drop_step=drop)


# --------------------------------------------------------------------------------------------
# 9.4 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "9.4",
    prompt="Goyal et al. multiply the lr by k when the batch grows k-fold, and add a 5-epoch "
           "warmup. Using notebook 09's sections 6 and 11 (the edge 2(1+β)/η and the excess loss "
           "of about ησ²/B), explain in 3-5 sentences what the rule keeps the same, why it needs "
           "the warmup, and why it must stop working for large enough k.",
    rubric=(
        (1, "What the rule keeps: ησ²/B (the noise level, the excess loss late in training) and"
            " the distance moved per epoch are unchanged when η and B both grow k-fold."),
        (2, "Why warmup: the edge 2(1 + β)/λ_max of the full-batch Hessian does not depend on "
            "B, and the k-fold lr is above it while the loss is still sharp at the start "
            "(section 6: λ_max about 12.6 at initialisation against an edge of 9.5 at lr 0.4), "
            "so the lr must start small and rise while the sharpness falls. Goyal et al.'s own "
            "reason also earns the points: one large step replaces k small ones only while the "
            "gradient barely changes, which fails early in training."),
        (1, "Why it must break: once kη is above the edge even of the flattened loss no warmup "
            "helps, and for very large batches gradient noise no longer dominates, so ησ²/B "
            "stops describing training (Goyal et al. saw it beyond about 8k images per batch)."),
    ),
    max_score=4,
)
