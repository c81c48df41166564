r"""Checkers for notebook 09, learning-rate schedules: exercises 9.1–9.4.

9.1 ``warmup_cosine(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min)``: the lr
    of optimizer step ``t`` under linear warmup then cosine, equal at *every* step to torch's
    ``SequentialLR([LinearLR, CosineAnnealingLR], milestones=[warmup_steps])``
    (reference: :func:`course_lib.theory.schedules.warmup_cosine_lr`).
9.2 predict, then measure: the change of a parameter in Adam's first step, with linear warmup
    (``LinearLR(start_factor)``); the check runs ``torch.optim.Adam`` for one step.
9.3 ``lr_range_test(model, batches, *, lr_min, lr_max)``: the LR range test of
    :func:`course_lib.experiments.schedule_training.lr_range_test` (plain SGD, stop factor 4).
9.4 written answer: read the range test's curve and say why the lr at its minimum is not the
    lr to train with.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from course_lib.experiments import schedule_training
from course_lib.problems import toy_regression
from course_lib.theory import schedules as closed

from ._framework import (REGISTRY, Case, KnownMistake, Observation, register, register_prediction,
                         register_written)

# course_lib.exercises.answer_scan.DEFAULT_FORBIDDEN (without torch.optim), kept here so that the checkers
# do not import the grader; tests/test_checks_lr_schedules.py keeps the two equal.
_GRADER_DEFAULT_FORBIDDEN = ("course_lib.optim", "course_lib.theory", "course_lib.exercises.checks",
                             "course_lib.grade", "course_lib.exercises.generate", "course_lib.exercises.notebook_runner")

# --------------------------------------------------------------------------------------------
# 9.1 linear warmup, then cosine
# --------------------------------------------------------------------------------------------


class at_every_step:
    """Call ``fn(t, **settings)`` for t = 0 … total_steps and compare the lr of each step."""

    updates = ()

    def __call__(self, fn, inputs) -> Observation:
        values = {}
        for t in range(inputs["total_steps"] + 1):
            values[f"lr of step t = {t}"] = fn(t=t, **inputs)  # keywords only: graders wrap fn
        return Observation(values, returned=values)


def reference_warmup_cosine(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
    return closed.warmup_cosine_lr(t, base_lr=base_lr, warmup_steps=warmup_steps,
                                   total_steps=total_steps, start_factor=start_factor, eta_min=eta_min)


def _cosine_from_zero(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
    if t < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * t / warmup_steps)
    return eta_min + (base_lr - eta_min) * 0.5 * (1 + math.cos(math.pi * t / total_steps))


def _cosine_over_total(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
    if t < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * t / warmup_steps)
    return eta_min + (base_lr - eta_min) * 0.5 * (1 + math.cos(math.pi * (t - warmup_steps) / total_steps))


def _warmup_from_zero(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
    if t < warmup_steps:
        return base_lr * t / warmup_steps
    return reference_warmup_cosine(t, base_lr=base_lr, warmup_steps=warmup_steps,
                                   total_steps=total_steps, start_factor=start_factor, eta_min=eta_min)


def _warmup_one_step_early(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
    if t < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * (t + 1) / warmup_steps)
    return reference_warmup_cosine(t, base_lr=base_lr, warmup_steps=warmup_steps,
                                   total_steps=total_steps, start_factor=start_factor, eta_min=eta_min)


def _warmup_peaks_one_step_early(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
    # the rise spread over warmup_steps − 1 steps: base_lr reached at t = warmup_steps − 1
    if t < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * t / (warmup_steps - 1))
    return reference_warmup_cosine(t, base_lr=base_lr, warmup_steps=warmup_steps,
                                   total_steps=total_steps, start_factor=start_factor, eta_min=eta_min)


def _schedule_one_step_ahead(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
    # scheduler.step() called before optimizer.step(): step t runs at step t + 1's lr
    return reference_warmup_cosine(min(t + 1, total_steps), base_lr=base_lr,
                                   warmup_steps=warmup_steps, total_steps=total_steps,
                                   start_factor=start_factor, eta_min=eta_min)


def _cosine_to_zero(t, *, base_lr, warmup_steps, total_steps, start_factor, eta_min):
    return reference_warmup_cosine(t, base_lr=base_lr, warmup_steps=warmup_steps,
                                   total_steps=total_steps, start_factor=start_factor, eta_min=0.0)


@register(
    "9.1",
    reference=reference_warmup_cosine,
    call=at_every_step(),
    mistakes=[
        KnownMistake("cosine_from_zero", _cosine_from_zero,
                     "Your cosine starts counting at t = 0, so it has already fallen when the "
                     "warmup ends. CosineAnnealingLR inside SequentialLR starts its own count at "
                     "the milestone: its phase is (t − warmup_steps)/(total_steps − warmup_steps)."),
        KnownMistake("cosine_over_total", _cosine_over_total,
                     "The cosine phase is right at the start but ends too late: after the warmup "
                     "only total_steps − warmup_steps steps are left, and the cosine must reach "
                     "eta_min at t = total_steps."),
        KnownMistake("warmup_from_zero", _warmup_from_zero,
                     "Your warmup starts at lr 0. LinearLR starts at start_factor·base_lr (a "
                     "first step at lr 0 would be wasted) and rises linearly to base_lr."),
        KnownMistake("schedule_one_step_ahead", _schedule_one_step_ahead,
                     "Your whole schedule is one step ahead: step t gets the lr torch gives step "
                     "t + 1, which is what calling scheduler.step() before optimizer.step() "
                     "does. Which lr does the first optimizer step use (lecture 09, section 7)?"),
        KnownMistake("warmup_one_step_early", _warmup_one_step_early,
                     "Your warmup is one step ahead: at t = 0 torch's lr is start_factor·base_lr "
                     "(no scheduler.step() has run yet), and it reaches base_lr exactly at "
                     "t = warmup_steps."),
        KnownMistake("warmup_peaks_one_step_early", _warmup_peaks_one_step_early,
                     "Your warmup reaches base_lr one step early, at t = warmup_steps − 1. Count "
                     "LinearLR's scheduler steps (lecture 09, sections 1 and 3): how many of them "
                     "have run before step t, and after how many is the rise complete?"),
        KnownMistake("cosine_to_zero", _cosine_to_zero,
                     "Your cosine ends at 0, not at eta_min: the floor eta_min is where the "
                     "cosine arrives, and the half-cosine spans base_lr − eta_min."),
    ],
)
def warmup_cosine_cases(rng):
    def uniform(low, high):
        return float(low + (high - low) * torch.rand((), generator=rng, dtype=torch.float64))

    yield Case("base_lr 0.1, 5 warmup steps of 20, start_factor 0.1, eta_min 0.001", base_lr=0.1,
               warmup_steps=5, total_steps=20, start_factor=0.1, eta_min=0.001)
    yield Case("one warmup step", base_lr=1.0, warmup_steps=1, total_steps=10, start_factor=0.5,
               eta_min=0.0)
    for _ in range(3):
        total = int(torch.randint(10, 60, (), generator=rng))
        warmup = int(torch.randint(2, total // 2, (), generator=rng))
        base = uniform(1e-3, 1.0)
        yield Case(f"drawn settings: {warmup} warmup steps of {total}", base_lr=base,
                   warmup_steps=warmup, total_steps=total, start_factor=uniform(0.01, 0.5),
                   eta_min=base * uniform(0.0, 0.1))


# --------------------------------------------------------------------------------------------
# 9.2 predict, then measure: Adam's first step under warmup
# --------------------------------------------------------------------------------------------


def measured_first_adam_update(grad, *, lr, start_factor, beta1, beta2, eps):
    """Run torch.optim.Adam with LinearLR warmup for one step; return θ₁ − θ₀ (a float)."""
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=lr, betas=(beta1, beta2), eps=eps)
    torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=start_factor, total_iters=10)
    theta.grad = torch.tensor([grad], dtype=torch.float64)
    optimizer.step()
    return float(theta.detach()[0])


def _ignores_warmup(grad, *, lr, start_factor, beta1, beta2, eps):
    return -lr * grad / (abs(grad) + eps)


def _sgd_step(grad, *, lr, start_factor, beta1, beta2, eps):
    return -start_factor * lr * grad


def _no_bias_correction(grad, *, lr, start_factor, beta1, beta2, eps):
    return -start_factor * lr * (1 - beta1) * grad / (math.sqrt(1 - beta2) * abs(grad) + eps)


def _eps_inside_root(grad, *, lr, start_factor, beta1, beta2, eps):
    return -start_factor * lr * grad / math.sqrt(grad * grad + eps)


def _ascent(grad, *, lr, start_factor, beta1, beta2, eps):
    return start_factor * lr * grad / (abs(grad) + eps)


@register_prediction(
    "9.2",
    measure=measured_first_adam_update,
    rtol=0.01,
    explain="Write Adam's first step out from m₀ = v₀ = 0: what are m and v after one gradient, "
            "and what do the bias corrections at t = 1 make of them? Then which lr does step 1 "
            "use under LinearLR (lecture 09, section 9)?",
    mistakes=[
        KnownMistake("ignores_warmup", _ignores_warmup,
                     "Right shape, wrong size: the first step runs at start_factor·lr, since "
                     "LinearLR has already scaled the lr when it was built."),
        KnownMistake("sgd_step", _sgd_step,
                     "That is SGD's step, −lr·g. Adam divides by √v̂ + ε, so the size of its "
                     "first step hardly depends on |g|."),
        KnownMistake("no_bias_correction", _no_bias_correction,
                     "You left out the bias correction: after one step from zero, m and v hold "
                     "only a small share of g and g². Divide each by its correction at t = 1."),
        KnownMistake("eps_inside_root", _eps_inside_root,
                     "torch puts ε outside the root: √v̂ + ε, not √(v̂ + ε). It matters when |g| is "
                     "as small as ε."),
        KnownMistake("ascent", _ascent, "Adam descends: the parameter moves against the gradient."),
    ],
)
def adam_first_step_cases(rng):
    yield Case("g = 3, lr 0.01, start_factor 0.1", grad=3.0, lr=0.01, start_factor=0.1,
               beta1=0.9, beta2=0.999, eps=1e-8)
    yield Case("a tiny gradient, g = −0.002", grad=-0.002, lr=0.001, start_factor=0.5,
               beta1=0.9, beta2=0.999, eps=1e-8)
    yield Case("a gradient as small as ε: g = 1e-8", grad=1e-8, lr=0.1, start_factor=0.2,
               beta1=0.9, beta2=0.999, eps=1e-8)
    for _ in range(3):
        grad = float(torch.randn((), generator=rng, dtype=torch.float64) * 10.0 ** float(
            torch.randint(-4, 3, (), generator=rng)))
        yield Case(f"a drawn gradient g = {grad:.3g}", grad=grad,
                   lr=float(10 ** (-4 + 3 * torch.rand((), generator=rng))),
                   start_factor=float(0.01 + 0.9 * torch.rand((), generator=rng)),
                   beta1=float(0.5 + 0.49 * torch.rand((), generator=rng)),
                   beta2=float(0.9 + 0.0999 * torch.rand((), generator=rng)), eps=1e-8)


# --------------------------------------------------------------------------------------------
# 9.3 the LR range test
# --------------------------------------------------------------------------------------------


class on_a_fresh_model:
    """Build ``make_mlp(hidden, seed=model_seed)``, call ``fn(model, batches, lr_min=, lr_max=)``,
    and observe the returned lrs and losses and the model's parameters afterwards."""

    # The model is trained in place: the reference is not a pure function of the case's inputs,
    # so a grader must run it every time (it memoizes references whose strategy updates nothing).
    updates = ("model",)

    def __call__(self, fn, inputs) -> Observation:
        model = toy_regression.make_mlp(hidden=inputs["hidden"], seed=inputs["model_seed"])
        returned = fn(model=model, batches=inputs["batches"], lr_min=inputs["lr_min"],
                      lr_max=inputs["lr_max"])  # keywords only: graders wrap fn
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            return Observation({"return value (lrs, losses)": returned}, returned=returned)
        lrs, losses = returned
        # As float64 tensors: a diverged loss (inf, NaN) then compares equal to itself.
        values = {"lrs": _as_tensor(lrs), "losses": _as_tensor(losses),
                  "the model's parameters after the test":
                      torch.cat([p.detach().flatten() for p in model.parameters()])}
        return Observation(values, returned=returned)


def _as_tensor(values):
    """A list of numbers as a 1-D float64 tensor; anything else unchanged (then reported)."""
    try:
        return torch.tensor([float(v) for v in values], dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return values


def reference_lr_range_test(model, batches, *, lr_min, lr_max):
    return schedule_training.lr_range_test(model, batches, lr_min=lr_min, lr_max=lr_max)


def _linear_spacing(model, batches, *, lr_min, lr_max):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr_min)
    lrs, losses, best = [], [], math.inf
    for k, (x, y) in enumerate(batches):
        lr = lr_min + (lr_max - lr_min) * k / (len(batches) - 1)
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        lrs.append(lr)
        losses.append(loss.item())
        best = min(best, losses[-1])
        if not math.isfinite(losses[-1]) or losses[-1] > 4 * best:
            break
        loss.backward()
        optimizer.step()
    return lrs, losses


def _loss_after_step(model, batches, *, lr_min, lr_max):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr_min)
    lrs, losses, best = [], [], math.inf
    for k, (x, y) in enumerate(batches):
        lr = lr_min * (lr_max / lr_min) ** (k / (len(batches) - 1))
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        with torch.no_grad():
            loss = nn.functional.mse_loss(model(x), y).item()
        lrs.append(lr)
        losses.append(loss)
        best = min(best, loss)
        if not math.isfinite(loss) or loss > 4 * best:
            break
    return lrs, losses


def _no_zero_grad(model, batches, *, lr_min, lr_max):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr_min)
    lrs, losses, best = [], [], math.inf
    for k, (x, y) in enumerate(batches):
        lr = lr_min * (lr_max / lr_min) ** (k / (len(batches) - 1))
        optimizer.param_groups[0]["lr"] = lr
        loss = nn.functional.mse_loss(model(x), y)
        lrs.append(lr)
        losses.append(loss.item())
        best = min(best, losses[-1])
        if not math.isfinite(losses[-1]) or losses[-1] > 4 * best:
            break
        loss.backward()
        optimizer.step()
    return lrs, losses


def _steps_on_the_blow_up(model, batches, *, lr_min, lr_max):
    # records the loss that shows the edge is passed, then still takes that step
    optimizer = torch.optim.SGD(model.parameters(), lr=lr_min)
    lrs, losses, best = [], [], math.inf
    for k, (x, y) in enumerate(batches):
        lr = lr_min * (lr_max / lr_min) ** (k / (len(batches) - 1))
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        lrs.append(lr)
        losses.append(loss.item())
        best = min(best, losses[-1])
        loss.backward()
        optimizer.step()
        if not math.isfinite(losses[-1]) or losses[-1] > 4 * best:
            break
    return lrs, losses


def _never_stops(model, batches, *, lr_min, lr_max):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr_min)
    lrs, losses = [], []
    for k, (x, y) in enumerate(batches):
        lr = lr_min * (lr_max / lr_min) ** (k / (len(batches) - 1))
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        lrs.append(lr)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return lrs, losses


def _never_reaches_lr_max(model, batches, *, lr_min, lr_max):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr_min)
    lrs, losses, best = [], [], math.inf
    for k, (x, y) in enumerate(batches):
        lr = lr_min * (lr_max / lr_min) ** (k / len(batches))
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        lrs.append(lr)
        losses.append(loss.item())
        best = min(best, losses[-1])
        if not math.isfinite(losses[-1]) or losses[-1] > 4 * best:
            break
        loss.backward()
        optimizer.step()
    return lrs, losses


@register(
    "9.3",
    reference=reference_lr_range_test,
    call=on_a_fresh_model(),
    mistakes=[
        KnownMistake("linear_spacing", _linear_spacing,
                     "Your learning rates are evenly spaced. The range test spans several orders "
                     "of magnitude, so it multiplies the lr by the same factor each step: "
                     "lr_k = lr_min·(lr_max/lr_min)^(k/(K−1))."),
        KnownMistake("never_reaches_lr_max", _never_reaches_lr_max,
                     "Your last lr falls short of lr_max: with K batches the exponent is k/(K−1), "
                     "so that step K−1 is at lr_max."),
        KnownMistake("loss_after_step", _loss_after_step,
                     "You record the loss after the step. Record the batch's loss before "
                     "stepping: it is the loss the step with lr_k starts from, and it costs no "
                     "extra forward pass."),
        KnownMistake("no_zero_grad", _no_zero_grad,
                     "The gradients pile up from batch to batch: call optimizer.zero_grad() "
                     "before each backward()."),
        KnownMistake("steps_on_the_blow_up", _steps_on_the_blow_up,
                     "Your lrs and losses are right, but your model took one step more than the "
                     "test does: on the batch whose loss shows the edge is passed, look at what "
                     "your loop does before it stops (lecture 09, section 10), and what a step "
                     "at that lr does to the weights."),
        KnownMistake("never_stops", _never_stops,
                     "Your test runs through every batch. Stop right after recording a loss that "
                     "is not finite or is more than 4 times the smallest loss so far: past that "
                     "point the run has diverged and the curve says nothing more."),
    ],
)
def lr_range_test_cases(rng):
    def batches(seed, steps, batch_size=16):
        return schedule_training.toy_batches(batch_size=batch_size, steps=steps, seed=seed)

    yield Case("30 batches, lr from 1e-3 to 1e-1 (no divergence)", hidden=8, model_seed=0,
               batches=batches(0, 30), lr_min=1e-3, lr_max=1e-1)
    yield Case("60 batches, lr from 1e-3 to 100 (diverges before the end)", hidden=8,
               model_seed=1, batches=batches(1, 60), lr_min=1e-3, lr_max=100.0)
    for _ in range(2):
        seed = int(torch.randint(0, 10_000, (), generator=rng))
        steps = int(torch.randint(20, 60, (), generator=rng))
        yield Case(f"{steps} drawn batches (data seed {seed}), lr from 1e-4 to 30", hidden=8,
                   model_seed=seed, batches=batches(seed, steps), lr_min=1e-4, lr_max=30.0)


# The grader's scan flags imports an answer may not use; 9.3's contract *is* torch.optim.SGD.
REGISTRY["9.3"].forbidden_imports = _GRADER_DEFAULT_FORBIDDEN

# --------------------------------------------------------------------------------------------
# 9.4 written answer
# --------------------------------------------------------------------------------------------

register_written(
    "9.4",
    prompt="In notebook 09's range test the lr at the curve's minimum trained well as a constant lr, "
           "and twice that lr diverged. Why does the minimum sit so close to the edge, and for a "
           "longer run on a bigger model, would you train at a tenth of it, at it, or with "
           "one-cycle peaking at it? Say why in 3-5 sentences.",
    rubric="Each point of the curve is measured after a few steps while the lr keeps growing; "
           "the loss turns up where steps start to overshoot, so the minimum is just below the "
           "largest lr the model tolerates (a factor of about 2 here). That margin can vanish "
           "with another seed, more steps or a sharper model, so a constant lr should stay well "
           "below it (about a tenth, on the steep falling part); one-cycle may peak near the "
           "minimum because it spends only a short time there and then decays, and warmup "
           "protects its start. Confirm any pick with a short training run.",
)
